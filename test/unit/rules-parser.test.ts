/*
 * Parser tests for the Traefik v3 rule language: AST shape (precedence, negation, grouping),
 * value quoting, matcher-name aliases, and every syntax error with its message and offset.
 */

import { describe, expect, it } from 'vitest';
import { RuleSyntaxError } from '../../src/kernel/errors.js';
import { parseRule, type RuleNode } from '../../src/rules/index.js';

// A compact rendering of the AST makes precedence expectations readable in a table.
function show(node: RuleNode): string {
  switch (node.type) {
    case 'matcher':
      return `${node.name}(${node.args.join(',')})`;
    case 'not':
      return `!${show(node.operand)}`;
    case 'and':
      return `(${show(node.left)} & ${show(node.right)})`;
    case 'or':
      return `(${show(node.left)} | ${show(node.right)})`;
  }
}

function syntaxError(rule: string): RuleSyntaxError {
  try {
    parseRule(rule);
  } catch (err) {
    if (err instanceof RuleSyntaxError) return err;
    throw err;
  }
  throw new Error(`expected ${rule} to be rejected`);
}

describe('parseRule structure', () => {
  it.each([
    ['Host(`a`)', 'Host(a)'],
    ['Host(`a`) && Path(`/p`)', '(Host(a) & Path(/p))'],
    ['Host(`a`) || Path(`/p`)', '(Host(a) | Path(/p))'],
    ['Host(`a`) || Host(`b`) && Path(`/c`)', '(Host(a) | (Host(b) & Path(/c)))'],
    ['Host(`a`) && Host(`b`) || Path(`/c`)', '((Host(a) & Host(b)) | Path(/c))'],
    ['(Host(`a`) || Host(`b`)) && Path(`/c`)', '((Host(a) | Host(b)) & Path(/c))'],
    ['Host(`a`) && Host(`b`) && Host(`c`)', '((Host(a) & Host(b)) & Host(c))'],
    ['Host(`a`) || Host(`b`) || Host(`c`)', '((Host(a) | Host(b)) | Host(c))'],
    ['!Host(`a`)', '!Host(a)'],
    ['!!Host(`a`)', '!!Host(a)'],
    ['!Host(`a`) && Path(`/p`)', '(!Host(a) & Path(/p))'],
    ['!(Host(`a`) && Path(`/p`))', '!(Host(a) & Path(/p))'],
    ['((Host(`a`)))', 'Host(a)'],
    ['Host(`a`)&&Path(`/p`)||Method(`GET`)', '((Host(a) & Path(/p)) | Method(GET))'],
    ['  Host(`a`)\n\t&&\r\n Path(`/p`)  ', '(Host(a) & Path(/p))'],
    ['Header(`X-A`, `1`)', 'Header(X-A,1)'],
    ['Query(`k`)', 'Query(k)'],
    ['Query(`k`, `v`)', 'Query(k,v)'],
    ['QueryRegexp(`k`)', 'QueryRegexp(k)'],
    ['Host(`a`,)', 'Host(a)'],
  ])('%s parses as %s', (rule, expected) => {
    expect(show(parseRule(rule))).toBe(expected);
  });

  it('records the offset of each matcher name', () => {
    expect(parseRule('Host(`a`) && !Path(`/p`)')).toEqual({
      type: 'and',
      left: { type: 'matcher', name: 'Host', args: ['a'], position: 0 },
      right: {
        type: 'not',
        operand: { type: 'matcher', name: 'Path', args: ['/p'], position: 14 },
      },
    });
  });
});

describe('parseRule values and names', () => {
  it.each([
    ['Host(`example.com`)', ['example.com']],
    ['Host("example.com")', ['example.com']],
    ['Header("X-Q", "say \\"hi\\"")', ['X-Q', 'say "hi"']],
    ['PathRegexp("^/\\\\d+$")', ['^/\\d+$']],
    ['PathRegexp(`^/\\d+$`)', ['^/\\d+$']],
    ['Header(`X`, "a\\tb")', ['X', 'a\tb']],
    ['Header(`X`, "\\x41\\u00e9\\101")', ['X', 'Aé' + 'A']],
    ['Header(`X`, `it"s`)', ['X', 'it"s']],
    ['Header(`X`, "back`tick")', ['X', 'back`tick']],
    ['Path(`/a b`)', ['/a b']],
  ])('%s has args %j', (rule, args) => {
    const node = parseRule(rule);
    expect(node.type === 'matcher' && node.args).toEqual(args);
  });

  it.each([
    ['host(`a`)', 'Host'],
    ['HOST(`a`)', 'Host'],
    ['pathprefix(`/a`)', 'PathPrefix'],
    ['PATHPREFIX(`/a`)', 'PathPrefix'],
    ['Pathprefix(`/a`)', 'PathPrefix'],
    ['clientip(`1.2.3.4`)', 'ClientIP'],
    ['Clientip(`1.2.3.4`)', 'ClientIP'],
    ['headerregexp(`a`, `b`)', 'HeaderRegexp'],
  ])('%s is an alias of %s', (rule, name) => {
    const node = parseRule(rule);
    expect(node.type === 'matcher' && node.name).toBe(name);
  });
});

describe('parseRule errors', () => {
  it.each([
    ['', 'empty rule, expected a matcher such as Host(`example.com`)', 0],
    ['   ', 'empty rule, expected a matcher such as Host(`example.com`)', 0],
    ['Hots(`a`)', 'unknown matcher Hots, did you mean Host?', 0],
    ['Host(`a`) && PathPrefx(`/`)', 'unknown matcher PathPrefx, did you mean PathPrefix?', 13],
    ['Methods(`GET`)', 'unknown matcher Methods, did you mean Method?', 0],
    ['ClientIp(`1.2.3.4`)', 'unknown matcher ClientIp, did you mean ClientIP?', 0],
    [
      'Foo(`a`)',
      'unknown matcher Foo, expected one of Host, HostRegexp, Path, PathPrefix, PathRegexp, ' +
        'Method, Header, HeaderRegexp, Query, QueryRegexp, ClientIP',
      0,
    ],
    ['Headers(`a`, `b`)', 'Headers was renamed in traefik v3, use Header', 0],
    ['HeadersRegexp(`a`, `b`)', 'HeadersRegexp was renamed in traefik v3, use HeaderRegexp', 0],
    ['HostHeader(`a`)', 'HostHeader was removed in traefik v3, use Host', 0],
    ['HostSNI(`a`)', 'HostSNI is a tcp matcher, expected an http matcher such as Host', 0],
    [
      'Host(`a`, `b`)',
      'Host takes a single value in traefik v3, combine several with ||, e.g. Host(`a`) || Host(`b`)',
      10,
    ],
    [
      'Method(`GET`,`POST`)',
      'Method takes a single value in traefik v3, combine several with ||, e.g. ' +
        'Method(`GET`) || Method(`POST`)',
      13,
    ],
    [
      'PathPrefix(`/a`, `/b`, `/c`)',
      'PathPrefix takes a single value in traefik v3, combine several with ||, e.g. ' +
        'PathPrefix(`/a`) || PathPrefix(`/b`)',
      17,
    ],
    ['Host()', 'Host expects 1 value, got none', 5],
    ['Header(`X`)', 'Header expects 2 values (name, value), got 1', 10],
    ['Header(`X`, `a`, `b`)', 'Header expects 2 values (name, value), got 3', 17],
    ['HeaderRegexp(`X`)', 'HeaderRegexp expects 2 values (name, regexp), got 1', 16],
    ['Query()', 'Query expects 1 or 2 values (name[, value]), got none', 6],
    ['Query(`a`, `b`, `c`)', 'Query expects 1 or 2 values (name[, value]), got 3', 16],
    ['QueryRegexp(`a`, `b`, `c`)', 'QueryRegexp expects 1 or 2 values (name[, regexp]), got 3', 22],
    ['Host(``)', 'empty value for Host, expected a non-empty string', 5],
    ['Header(`X`, ``)', 'empty value for Header, expected a non-empty string', 12],
    ['Path(`api`)', "path api for Path must start with '/'", 5],
    ['PathPrefix(`api/v1`)', "path api/v1 for PathPrefix must start with '/'", 11],
    [
      'PathRegexp(`^/(a`)',
      'invalid regular expression for PathRegexp: missing closing ): `^/(a`',
      11,
    ],
    [
      'HostRegexp(`[a-z`)',
      'invalid regular expression for HostRegexp: missing closing ]: `[a-z`',
      11,
    ],
    [
      'HeaderRegexp(`X`, `a{2,1}`)',
      'invalid regular expression for HeaderRegexp: invalid repeat count: `{2,1}`',
      18,
    ],
    [
      'QueryRegexp(`k`, `(a)\\1`)',
      'invalid regular expression for QueryRegexp: invalid escape sequence: `\\1` ' +
        '(backreferences are not supported by re2)',
      17,
    ],
    [
      'PathRegexp(`^/a(?=b)`)',
      'invalid regular expression for PathRegexp: invalid or unsupported Perl syntax: `(?=` ' +
        '(lookaround assertions are not supported by re2)',
      11,
    ],
    [
      'PathRegexp(`^/a(?x)b`)',
      'invalid regular expression for PathRegexp: invalid or unsupported Perl syntax: `(?x`',
      11,
    ],
    [
      'HostRegexp(`a**`)',
      'invalid regular expression for HostRegexp: invalid nested repetition operator: `**`',
      11,
    ],
    [
      'ClientIP(`10.0.0.0/33`)',
      'invalid ClientIP value 10.0.0.0/33, expected an ipv4 or ipv6 address or cidr such as 10.0.0.0/8',
      9,
    ],
    [
      'ClientIP(`300.1.1.1`)',
      'invalid ClientIP value 300.1.1.1, expected an ipv4 or ipv6 address or cidr such as 10.0.0.0/8',
      9,
    ],
    [
      'ClientIP(`::1/129`)',
      'invalid ClientIP value ::1/129, expected an ipv4 or ipv6 address or cidr such as 10.0.0.0/8',
      9,
    ],
    [
      'ClientIP(`1::2::3`)',
      'invalid ClientIP value 1::2::3, expected an ipv4 or ipv6 address or cidr such as 10.0.0.0/8',
      9,
    ],
    [
      'ClientIP(`localhost`)',
      'invalid ClientIP value localhost, expected an ipv4 or ipv6 address or cidr such as 10.0.0.0/8',
      9,
    ],
    [
      'Host(`a.*.com`)',
      'invalid wildcard host a.*.com, expected * alone or as the whole first label (*.example.com)',
      5,
    ],
    [
      'Host(`*example.com`)',
      'invalid wildcard host *example.com, expected * alone or as the whole first label (*.example.com)',
      5,
    ],
    [
      'Host(`bücher.de`)',
      'invalid host bücher.de for Host, non-ascii characters are not allowed, expected punycode',
      5,
    ],
    [
      'Host(`a`) foo',
      "unexpected identifier foo after a complete expression, expected '&&', '||' or end of rule",
      10,
    ],
    [
      'Host(`a`) Path(`/`)',
      "unexpected identifier Path after a complete expression, expected '&&', '||' or end of rule",
      10,
    ],
    [
      'Host(`a`) `b`',
      "unexpected quoted value after a complete expression, expected '&&', '||' or end of rule",
      10,
    ],
    ['(Host(`a`)', "unbalanced parentheses, '(' is never closed, expected ')'", 0],
    ['Host(`a`) && ((Path(`/`))', "unbalanced parentheses, '(' is never closed, expected ')'", 13],
    ['Host(`a`))', "unbalanced parentheses, unexpected ')' without matching '('", 9],
    ['Host(`a`', "unbalanced parentheses, Host( is never closed, expected ',' or ')'", 8],
    ['(Host(`a`) Path(`/`))', "unexpected identifier Path, expected '&&', '||' or ')'", 11],
    ['Host(`a`) &&', "unexpected end of rule, expected a matcher, '!' or '('", 12],
    ['|| Host(`a`)', "unexpected '||', expected a matcher, '!' or '('", 0],
    ['Host(`a`) && && Path(`/`)', "unexpected '&&', expected a matcher, '!' or '('", 13],
    ['()', "unexpected ')', expected a matcher, '!' or '('", 1],
    ['!', "unexpected end of rule, expected a matcher, '!' or '('", 1],
    ['Host(`a`) & Path(`/`)', "unexpected character '&', expected '&&'", 10],
    ['Host(`a`) | Path(`/`)', "unexpected character '|', expected '||'", 10],
    [
      'Host(`a`) and Path(`/`)',
      "unexpected identifier and after a complete expression, expected '&&', '||' or end of rule",
      10,
    ],
    [
      'Host(`a`) # note',
      "unexpected character '#', expected a matcher, an operator or a parenthesis",
      10,
    ],
    [
      "Host('a')",
      'single quotes are not supported, expected a value in backticks or double quotes',
      5,
    ],
    [
      'Host(a.com)',
      'unquoted value a.com for Host, expected a value in backticks or double quotes',
      5,
    ],
    ['Host(`a` `b`)', "unexpected quoted value in Host(...), expected ',' or ')'", 9],
    ['Host(,)', "unexpected ',' in Host(...), expected a value in backticks or double quotes", 5],
    ['Host `a`', "expected '(' after Host but found quoted value", 5],
    ['Host', "expected '(' after Host but found end of rule", 4],
    ['Host(`a)', 'unterminated value, expected closing `', 5],
    ['Host("a)', 'unterminated value, expected closing "', 5],
    [
      'Host("a\\q")',
      'invalid escape sequence \\q in double-quoted value, expected \\" or \\\\ (or use backticks for regular expressions)',
      7,
    ],
    ['`Host`', "unexpected quoted value, expected a matcher, '!' or '('", 0],
    ['!'.repeat(200) + 'Host(`a`)', 'rule is nested too deeply, expected at most 128 levels', 129],
  ])('%s → %s at %d', (rule, message, position) => {
    const err = syntaxError(rule);
    expect(err.message).toBe(`${message} at position ${position}`);
    expect(err.position).toBe(position);
    expect(err.code).toBe('PORTICO_ERR_RULE_SYNTAX');
  });
});
