/*
 * User regular expressions: the rule matchers (HostRegexp, PathRegexp, HeaderRegexp,
 * QueryRegexp), the regex middlewares (stripPrefixRegex, replacePathRegex, redirectRegex,
 * headers' accessControlAllowOriginListRegex, forwardAuth's authResponseHeadersRegex) and Docker
 * constraints (LabelRegex). They come from container labels, i.e. from anyone who can start a
 * container, and Traefik runs them on Go's regexp: RE2 syntax, leftmost-first matching, time
 * linear in the input.
 *
 * Portico runs them on re2js, a pure-JavaScript port of RE2/J. It parses Go's syntax itself (inline
 * flags anywhere, \z, POSIX and Unicode classes, Go's error texts) and matches with one-pass,
 * bit-state, NFA and lazy-DFA engines, none of which backtracks exponentially: `^/(a+)+$` against
 * 34 a's and a '!' takes microseconds where V8's RegExp took minutes (issue 11, item 6). V8's
 * experimental linear engine was measured too and refuses `i`, `u` and counted repetitions, and a
 * native RE2 binding is tied to one Node ABI; the numbers are in docs/benchmarks.md ("User regexes:
 * engine and cost").
 *
 * Only this file knows the engine. Callers get a GoRegexp with RegExp-like test()/exec() and Go's
 * ReplaceAllString; replacement templates follow Go's Regexp.Expand.
 */
import { RE2JS } from 're2js';
import { PorticoError } from '../kernel/errors.js';

/** A pattern Go's regexp would refuse; the message is Go's, plus a hint for Perl-only syntax. */
export class RegexSyntaxError extends PorticoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PORTICO_ERR_REGEX_SYNTAX', message, options);
    this.name = 'RegexSyntaxError';
  }
}

/** A parsed Go replacement template: literal text, a group number, or a group name. */
export type TemplatePart = string | number | { name: string };

// Go's messages name the construct but not why RE2 lacks it; people coming from PCRE/JS expect it.
function hint(pattern: string, reason: string): string {
  if (/^invalid escape sequence: `\\[1-9]/.test(reason)) {
    return ' (backreferences are not supported by re2)';
  }
  if (
    /^invalid or unsupported Perl syntax: `\(\?[=!]/.test(reason) ||
    /^invalid named capture: `\(\?<[=!]/.test(reason)
  ) {
    return ' (lookaround assertions are not supported by re2)';
  }
  if (reason === 'invalid or unsupported Perl syntax: `(?P`' && pattern.includes('(?P=')) {
    return ' (named backreferences are not supported by re2)';
  }
  return '';
}

/** A compiled RE2 pattern with Go's regexp semantics; every method runs in linear time. */
export class GoRegexp {
  readonly source: string;
  private readonly re: RE2JS;
  private readonly groupCount: number;
  private readonly names: ReadonlySet<string>;

  constructor(pattern: string) {
    let re: RE2JS;
    try {
      re = RE2JS.compile(pattern);
    } catch (err) {
      const raw = err instanceof Error ? err.message : String(err);
      const reason = raw.replace(/^error parsing regexp: /, '');
      throw new RegexSyntaxError(reason + hint(pattern, reason), { cause: err });
    }
    this.source = pattern;
    this.re = re;
    this.groupCount = re.groupCount();
    this.names = new Set(Object.keys(re.namedGroups()));
  }

  /** Whether the pattern matches anywhere in `input` (Go's MatchString; not anchored). */
  test(input: string): boolean {
    return this.re.test(input);
  }

  /**
   * The leftmost-first match (Go's FindStringSubmatch) shaped like RegExp.exec's result: [0] is
   * the match, [n] group n (undefined when it took no part), `index`, and `groups` by name.
   */
  exec(input: string): RegExpExecArray | null {
    return this.re.exec(input) as RegExpExecArray | null;
  }

  /**
   * Go's ReplaceAllString: every non-overlapping match is replaced by the expanded template; an
   * empty match right after the previous match is skipped. Each search sees the whole input, so
   * `^` and `\b` keep their meaning past the first match.
   */
  replaceAll(input: string, template: readonly TemplatePart[]): string {
    const m = this.re.matcher(input);
    let out = '';
    let lastMatchEnd = 0;
    let searchPos = 0;
    const end = input.length;
    // the loop of Go's (*Regexp).replaceAll, positions in UTF-16 units instead of bytes
    while (searchPos <= end) {
      if (!m.find(searchPos)) break;
      const start = m.start();
      const stop = m.end();
      out += input.slice(lastMatchEnd, start);
      if (stop > lastMatchEnd || start === 0) {
        for (const p of template) {
          if (typeof p === 'string') out += p;
          else if (typeof p === 'number') out += (p <= this.groupCount ? m.group(p) : null) ?? '';
          else out += (this.names.has(p.name) ? m.group(p.name) : null) ?? '';
        }
      }
      lastMatchEnd = stop;
      // always advance by at least one character (a whole code point, as Go advances a rune)
      const width = searchPos < end ? ((input.codePointAt(searchPos) ?? 0) > 0xffff ? 2 : 1) : 0;
      if (searchPos + width > stop) searchPos += width;
      else if (searchPos + 1 > stop) searchPos++;
      else searchPos = stop;
    }
    return out + input.slice(lastMatchEnd);
  }
}

/** Compiles an RE2 pattern as Go's regexp.Compile would; throws RegexSyntaxError. */
export function compileRe2(pattern: string): GoRegexp {
  return new GoRegexp(pattern);
}

// Go's extract(): a name is a run of letters, digits and underscores (Unicode classes).
const NAME_CHAR = /^[\p{L}\p{Nd}_]$/u;

/**
 * Parses a replacement the way Go's Regexp.Expand reads it: `$name` takes the longest run of
 * name characters (`$1x` is the group named "1x"), `${name}` is delimited, `$$` is a dollar, and a
 * malformed `$` is copied as text. A name is a group number only when it is all ASCII digits
 * without a leading zero and below Go's bound; otherwise it is looked up by name.
 */
export function parseGoTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let lit = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i]!;
    if (c !== '$') {
      lit += c;
      i++;
      continue;
    }
    if (template[i + 1] === '$') {
      lit += '$';
      i += 2;
      continue;
    }
    const brace = template[i + 1] === '{';
    let j = brace ? i + 2 : i + 1;
    const start = j;
    while (j < template.length) {
      const ch = String.fromCodePoint(template.codePointAt(j)!);
      if (!NAME_CHAR.test(ch)) break;
      j += ch.length;
    }
    const name = template.slice(start, j);
    if (name === '' || (brace && template[j] !== '}')) {
      lit += '$';
      i++;
      continue;
    }
    if (lit !== '') parts.push(lit);
    lit = '';
    const num = groupNumber(name);
    parts.push(num >= 0 ? num : { name });
    i = brace ? j + 1 : j;
  }
  if (lit !== '') parts.push(lit);
  return parts;
}

function groupNumber(name: string): number {
  if (name.length > 1 && name[0] === '0') return -1;
  let num = 0;
  for (let k = 0; k < name.length; k++) {
    const d = name.charCodeAt(k) - 0x30;
    if (d < 0 || d > 9 || num >= 1e8) return -1;
    num = num * 10 + d;
  }
  return num;
}

/** Go's ReplaceAllString with a template from parseGoTemplate. */
export function replaceAllGo(
  re: GoRegexp,
  input: string,
  template: readonly TemplatePart[],
): string {
  return re.replaceAll(input, template);
}
