/*
 * User regular expressions run with Go's RE2 semantics in linear time (issue 11, item 6): the
 * patterns come from container labels, so anyone who can start a container writes them. Covers
 * the hostile patterns through every pure entry point (rule matchers, Docker constraints), a
 * table of Go-syntax cases with the matches Go's regexp gives, the errors for what RE2 refuses,
 * and Go's ReplaceAllString/Expand rules used by replacePathRegex and redirectRegex. The
 * middlewares' entry points are driven through a real router in
 * test/integration/regex-redos.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { compileRule, parseRule, type MatchContext } from '../../src/rules/index.js';
import { compileRe2, parseGoTemplate, replaceAllGo } from '../../src/rules/regex.js';
import { parseConstraints } from '../../providers/docker/build.js';

/**
 * Patterns that backtrack exponentially on V8's default engine, with an input of 34-36
 * characters that they do not match: a backtracking engine needs minutes for each, RE2
 * microseconds. No timing assertion: vitest's timeout is the bound.
 */
const HOSTILE: readonly [pattern: string, input: string][] = [
  ['^/(a+)+$', '/' + 'a'.repeat(34) + '!'],
  ['(a|a)*b', 'a'.repeat(34)],
  ['(x+x+)+y', 'x'.repeat(34)],
];

interface RequestShape {
  host?: string;
  path?: string;
  headers?: MatchContext['headers'];
  query?: string;
}

function ctx(over: RequestShape = {}): MatchContext {
  const q = new URLSearchParams(over.query ?? '');
  return {
    host: over.host ?? 'example.com',
    path: over.path ?? '/',
    method: 'GET',
    headers: over.headers ?? {},
    clientIp: '192.0.2.1',
    query: () => q,
  };
}

const rule = (r: string): ((c: MatchContext) => boolean) => compileRule(parseRule(r));

describe('hostile patterns return (linear-time engine)', () => {
  it.each(HOSTILE)('PathRegexp(`%s`)', (pattern, input) => {
    expect(rule(`PathRegexp(\`${pattern}\`)`)(ctx({ path: input }))).toBe(false);
  });
  it.each(HOSTILE)('HostRegexp(`%s`)', (pattern, input) => {
    expect(rule(`HostRegexp(\`${pattern}\`)`)(ctx({ host: input }))).toBe(false);
  });
  it.each(HOSTILE)('HeaderRegexp(`X-A`, `%s`)', (pattern, input) => {
    expect(rule(`HeaderRegexp(\`X-A\`, \`${pattern}\`)`)(ctx({ headers: { 'x-a': input } }))).toBe(
      false,
    );
  });
  it.each(HOSTILE)('QueryRegexp(`q`, `%s`)', (pattern, input) => {
    const query = new URLSearchParams({ q: input }).toString();
    expect(rule(`QueryRegexp(\`q\`, \`${pattern}\`)`)(ctx({ query }))).toBe(false);
  });
  it.each(HOSTILE)('Docker constraints LabelRegex(`l`, `%s`)', (pattern, input) => {
    expect(parseConstraints(`LabelRegex(\`l\`, \`${pattern}\`)`)({ l: input })).toBe(false);
  });
});

/**
 * [pattern, input, expected] where expected is what Go's FindStringSubmatch returns (null for
 * no match; an unmatched group is undefined). Each row is a place where JavaScript's RegExp
 * reads the same text differently, or where Portico used to refuse valid RE2.
 */
const GO_CASES: readonly [string, string, (string | undefined)[] | null][] = [
  // inline flags anywhere, scoped flags, and the flag applying only after it
  ['(?i)^/API$', '/api', ['/api']],
  ['^/api(?i)/Users$', '/api/USERS', ['/api/USERS']],
  ['^/API(?i)/x$', '/api/x', null],
  ['(?i:A)b', 'ab', ['ab']],
  ['(?i:A)b', 'aB', null],
  ['^(?i)k$', '\u212a', ['\u212a']], // Kelvin sign folds to k in Go's case folding
  ['(?U)a+', 'aaa', ['a']],
  ['(?U)a+?', 'aaa', ['aaa']],
  ['(?s)a.b', 'a\nb', ['a\nb']],
  ['a.b', 'a\nb', null],
  ['(?m)^b$', 'a\nb\nc', ['b']],
  // text boundaries: without (?m), $ is the end of text only (never before a final newline)
  ['^a$', 'a\n', null],
  ['^a\\z', 'a\n', null],
  ['\\Aab', 'ab', ['ab']],
  ['(?m)\\Ab', 'a\nb', null],
  // named groups, both spellings
  ['^/(?P<id>[0-9]+)$', '/42', ['/42', '42']],
  ['^/(?<id>[0-9]+)$', '/42', ['/42', '42']],
  // classes: POSIX (negated too), Perl classes are ASCII-only in Go, Unicode classes
  ['^[[:alpha:]]+$', 'abc', ['abc']],
  ['^[[:^alpha:]]+$', '123', ['123']],
  ['^[[:word:]]+$', 'a_1', ['a_1']],
  ['^\\s$', '\u00a0', null],
  ['^\\s$', '\v', null],
  ['^\\d+$', '\u0661\u0662', null],
  ['^\\w$', 'é', null],
  ['^\\p{Greek}+$', 'αβγ', ['αβγ']],
  ['^\\pL+$', 'héllo', ['héllo']],
  ['^\\PL$', '1', ['1']],
  ['^\\p{^Greek}$', 'a', ['a']],
  ['^\\pN$', '\u0663', ['\u0663']],
  ['^.$', '😀', ['😀']],
  ['^\\x{1F600}$', '😀', ['😀']],
  ['\\x{41}', 'A', ['A']],
  ['[]a]+', 'x]a]', [']a]']],
  ['[^]a]', ']b', ['b']],
  ['\\Q.*\\E', 'x.*y', ['.*']],
  // leftmost-first, as a backtracking engine would choose, but found without backtracking
  ['(a|ab)(c|bcd)(d*)', 'abcd', ['abcd', 'a', 'bcd', '']],
  ['(a)|b', 'b', ['b', undefined]],
  ['a+?', 'aaa', ['a']],
  ['x*', 'abc', ['']],
  ['^a{1000}$', 'a'.repeat(1000), ['a'.repeat(1000)]],
];

const short = (s: string): string => JSON.stringify(s.length > 24 ? s.slice(0, 12) + '…' : s);

describe('Go RE2 semantics', () => {
  it.each(GO_CASES.map(([p, i, e]) => ({ name: `${short(p)} on ${short(i)}`, p, i, e })))(
    '$name',
    ({ p: pattern, i: input, e: expected }) => {
      const m = compileRe2(pattern).exec(input);
      expect(m === null ? null : [...m]).toEqual(expected);
    },
  );

  it('exposes named groups', () => {
    expect(compileRe2('^/(?P<id>[0-9]+)/(?<name>[a-z]+)$').exec('/7/x')?.groups).toEqual({
      id: '7',
      name: 'x',
    });
  });

  it.each<[string, RegExp]>([
    ['(a)\\1', /invalid escape sequence: `\\1` \(backreferences are not supported by re2\)/],
    ['(?P<n>a)(?P=n)', /named backreferences are not supported by re2/],
    ['^/a(?=b)', /invalid or unsupported Perl syntax: `\(\?=` \(lookaround assertions/],
    ['^/a(?!b)', /lookaround assertions are not supported by re2/],
    ['(?<=a)b', /lookaround assertions are not supported by re2/],
    ['(?<!a)b', /lookaround assertions are not supported by re2/],
    ['^/(a', /^missing closing \): `\^\/\(a`$/],
    ['[a-z', /^missing closing \]: `\[a-z`$/],
    ['a{2,1}', /^invalid repeat count: `\{2,1\}`$/],
    ['a{1001}', /^invalid repeat count: `\{1001\}`$/],
    ['(a{100}){100}', /^invalid repeat count/],
    ['a**', /^invalid nested repetition operator: `\*\*`$/],
    ['(?x)a', /^invalid or unsupported Perl syntax: `\(\?x`$/],
    ['\\C', /^invalid escape sequence: `\\C`$/],
    ['\\8', /^invalid escape sequence: `\\8`/],
    ['(?P<n>a)(?P<n>b)', /^duplicate capture group name: `n`$/],
  ])('refuses %j as Go does', (pattern, message) => {
    expect(() => compileRe2(pattern)).toThrow(message);
  });

  it('gives refusals a stable code', () => {
    expect(() => compileRe2('(')).toThrow(
      expect.objectContaining({ code: 'PORTICO_ERR_REGEX_SYNTAX' }),
    );
  });
});

describe("Go's ReplaceAllString and Expand", () => {
  const replace = (pattern: string, input: string, template: string): string =>
    replaceAllGo(compileRe2(pattern), input, parseGoTemplate(template));

  it.each<[string, string, string, string, string]>([
    ['$1x is the group named "1x": empty', '(a)(b)', 'abc', '$1x', 'c'],
    ['${1}x', '(a)(b)', 'abc', '${1}x', 'axc'],
    ['$2 after $1', '(a)(b)', 'abc', '$2$1', 'bac'],
    ['a named group', '(?P<first>a)', 'abc', '[${first}]', '[a]bc'],
    ['$name reads letters, digits and _', '(?P<n_1>a)', 'abc', '$n_1-', 'a-bc'],
    ['an unknown group is empty', '(a)', 'abc', '[$9]', '[]bc'],
    ['an unknown name is empty', '(a)', 'abc', '[$nope]', '[]bc'],
    ['a leading zero makes a name, not a number', '(a)', 'abc', '[$01]', '[]bc'],
    ['a group that did not take part is empty', '(x)?a', 'abc', '[$1]', '[]bc'],
    ['$$ is a dollar', '(a)', 'abc', '$$1', '$1bc'],
    ['a lone $ is kept', '(a)', 'abc', '$-', '$-bc'],
    ['an unclosed brace is kept', '(a)', 'abc', '${1', '${1bc'],
    ['every match is replaced', 'b', 'abcb', 'X', 'aXcX'],
    ['an empty match right after a match is skipped', 'a*', 'baaac', '-', '-b-c-'],
    ['empty matches between every character', 'x*', 'abc', '-', '-a-b-c-'],
    ['^ only matches at the start of the text', '^a', 'aaa', 'X', 'Xaa'],
    ['\\b sees the character before the search position', '\\bb', 'ab b', 'X', 'ab X'],
    ['astral characters are stepped over whole', 'x*', '😀', '-', '-😀-'],
  ])('%s', (_name, pattern, input, template, expected) => {
    expect(replace(pattern, input, template)).toBe(expected);
  });
});
