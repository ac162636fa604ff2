/*
 * Parser for Traefik v3 router rules, e.g. Host(`a.com`) && (PathPrefix(`/api`) || !Method(`GET`)).
 * Traefik parses rules as Go expressions, so this accepts the same token shapes: backtick raw
 * strings, double-quoted strings with Go escapes, a trailing comma in argument lists, and the
 * matcher name in its canonical, lower, upper or title case. Every argument is validated here
 * (by building its matcher) so a rule that parses is guaranteed to compile.
 *
 * HTTP and TCP rules share this grammar (Traefik builds both with pkg/rules.NewParser); a
 * RuleLanguage gives the matcher names and checks their arguments. parseRule is the HTTP one,
 * src/rules/tcp.ts the TCP one.
 */

import { RuleSyntaxError } from '../kernel/errors.js';
import { suggest } from '../kernel/suggest.js';
import { compileMatcherCall, type MatcherSource } from './matchers.js';

export const MATCHER_NAMES = [
  'Host',
  'HostRegexp',
  'Path',
  'PathPrefix',
  'PathRegexp',
  'Method',
  'Header',
  'HeaderRegexp',
  'Query',
  'QueryRegexp',
  'ClientIP',
] as const;

export type MatcherName = (typeof MATCHER_NAMES)[number];

export interface MatcherNodeOf<N extends string> {
  type: 'matcher';
  name: N;
  args: string[];
  /** 0-based offset of the matcher name in the rule text. */
  position: number;
}
export interface BinaryNodeOf<N extends string> {
  type: 'and' | 'or';
  left: NodeOf<N>;
  right: NodeOf<N>;
}
export interface NotNodeOf<N extends string> {
  type: 'not';
  operand: NodeOf<N>;
}
export type NodeOf<N extends string> = BinaryNodeOf<N> | NotNodeOf<N> | MatcherNodeOf<N>;

export type RuleMatcherNode = MatcherNodeOf<MatcherName>;
export type RuleBinaryNode = BinaryNodeOf<MatcherName>;
export type RuleNotNode = NotNodeOf<MatcherName>;
export type RuleNode = NodeOf<MatcherName>;

/** A rule language over the shared grammar: its matcher names and how their calls are checked. */
export interface RuleLanguage<N extends string> {
  /** canonical names; each is also accepted in lower, upper and title case (Traefik's NewParser) */
  names: readonly N[];
  /** the message for a name that is not a matcher of this language */
  unknownMatcher(name: string): string;
  /** validates one call (throws RuleSyntaxError), so that a rule that parses also compiles */
  check(name: N, args: readonly string[], src: MatcherSource): void;
  /** shown in the message for an empty rule, e.g. Host(`example.com`) */
  example: string;
}

// Deep enough for any hand-written rule, shallow enough to stay far from the call-stack limit.
const MAX_DEPTH = 128;

function titleCase(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1).toLowerCase();
}

const aliasCache = new WeakMap<RuleLanguage<string>, Map<string, string>>();

/** Every accepted spelling of the language's matcher names, to the canonical one. */
function aliasesOf<N extends string>(lang: RuleLanguage<N>): Map<string, N> {
  let aliases = aliasCache.get(lang);
  if (aliases === undefined) {
    aliases = new Map();
    for (const name of lang.names) {
      for (const alias of [name, name.toLowerCase(), name.toUpperCase(), titleCase(name)]) {
        aliases.set(alias, name);
      }
    }
    aliasCache.set(lang, aliases);
  }
  return aliases as Map<string, N>;
}

// Names users carry over from Traefik v2 or from TCP routers get a specific hint.
const FOREIGN_NAMES: Record<string, string> = {
  Headers: 'Headers was renamed in traefik v3, use Header',
  HeadersRegexp: 'HeadersRegexp was renamed in traefik v3, use HeaderRegexp',
  HostHeader: 'HostHeader was removed in traefik v3, use Host',
  HostSNI: 'HostSNI is a tcp matcher, expected an http matcher such as Host',
  HostSNIRegexp: 'HostSNIRegexp is a tcp matcher, expected an http matcher such as HostRegexp',
  ALPN: 'ALPN is a tcp matcher, expected an http matcher',
};

function unknownMatcherMessage(name: string): string {
  const foreign = FOREIGN_NAMES[name];
  if (foreign !== undefined) return foreign;
  // a third of the name's length, between 1 and 3 edits: 'Hots' → Host, 'PathPrefx' → PathPrefix
  const best = suggest(name, MATCHER_NAMES, Math.max(1, Math.min(3, Math.floor(name.length / 3))));
  if (best !== undefined) return `unknown matcher ${name}, did you mean ${best}?`;
  return `unknown matcher ${name}, expected one of ${MATCHER_NAMES.join(', ')}`;
}

type Token =
  | { kind: 'ident'; text: string; pos: number }
  | { kind: 'string'; value: string; pos: number }
  | { kind: '(' | ')' | ',' | '&&' | '||' | '!' | 'end'; pos: number }
  | { kind: 'error'; error: RuleSyntaxError; pos: number };

function describe(tok: Token): string {
  switch (tok.kind) {
    case 'ident':
      return `identifier ${tok.text}`;
    case 'string':
      return 'quoted value';
    case 'end':
      return 'end of rule';
    case 'error':
      return 'invalid input';
    default:
      return `'${tok.kind}'`;
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
};

// Go interpreted-string escapes, since Traefik hands double-quoted values to Go's parser.
function readDoubleQuoted(rule: string, start: number): { value: string; end: number } {
  let value = '';
  let i = start + 1;
  while (i < rule.length) {
    const c = rule[i] as string;
    if (c === '"') return { value, end: i + 1 };
    if (c === '\n') {
      throw new RuleSyntaxError('newline in double-quoted value, expected closing "', i);
    }
    if (c !== '\\') {
      value += c;
      i++;
      continue;
    }
    const e = rule[i + 1];
    if (e === undefined) break;
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      value += simple;
      i += 2;
      continue;
    }
    const hexLen = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    const octal = /[0-7]/.test(e);
    const digits = hexLen > 0 ? rule.slice(i + 2, i + 2 + hexLen) : rule.slice(i + 1, i + 4);
    const valid = hexLen > 0 ? new RegExp(`^[0-9A-Fa-f]{${hexLen}}$`) : /^[0-7]{3}$/;
    if ((hexLen === 0 && !octal) || !valid.test(digits)) {
      throw new RuleSyntaxError(
        `invalid escape sequence \\${e} in double-quoted value, expected \\" or \\\\ ` +
          '(or use backticks for regular expressions)',
        i,
      );
    }
    const code = parseInt(digits, hexLen > 0 ? 16 : 8);
    if (code > 0x10ffff || (hexLen === 0 && code > 255)) {
      throw new RuleSyntaxError(`escape sequence \\${e}${digits} is out of range`, i);
    }
    value += String.fromCodePoint(code);
    i += hexLen > 0 ? 2 + hexLen : 4;
  }
  throw new RuleSyntaxError('unterminated value, expected closing "', start);
}

// A lexical error becomes the last token, so errors surface in the order the parser meets them.
function tokenize(rule: string): Token[] {
  const tokens: Token[] = [];
  try {
    lex(rule, tokens);
  } catch (err) {
    if (!(err instanceof RuleSyntaxError)) throw err;
    tokens.push({ kind: 'error', error: err, pos: err.position });
    return tokens;
  }
  tokens.push({ kind: 'end', pos: rule.length });
  return tokens;
}

function lex(rule: string, tokens: Token[]): void {
  let i = 0;
  while (i < rule.length) {
    const c = rule[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '(' || c === ')' || c === ',' || c === '!') {
      tokens.push({ kind: c, pos: i });
      i++;
    } else if (c === '&' || c === '|') {
      if (rule[i + 1] !== c) {
        throw new RuleSyntaxError(`unexpected character '${c}', expected '${c}${c}'`, i);
      }
      tokens.push({ kind: c === '&' ? '&&' : '||', pos: i });
      i += 2;
    } else if (c === '`') {
      const end = rule.indexOf('`', i + 1);
      if (end < 0) throw new RuleSyntaxError('unterminated value, expected closing `', i);
      // Go drops carriage returns from raw strings.
      tokens.push({ kind: 'string', value: rule.slice(i + 1, end).replace(/\r/g, ''), pos: i });
      i = end + 1;
    } else if (c === '"') {
      const { value, end } = readDoubleQuoted(rule, i);
      tokens.push({ kind: 'string', value, pos: i });
      i = end;
    } else if (c === "'") {
      throw new RuleSyntaxError(
        'single quotes are not supported, expected a value in backticks or double quotes',
        i,
      );
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rule.slice(i)) as RegExpExecArray;
      tokens.push({ kind: 'ident', text: m[0], pos: i });
      i += m[0].length;
    } else {
      throw new RuleSyntaxError(
        `unexpected character '${c}', expected a matcher, an operator or a parenthesis`,
        i,
      );
    }
  }
}

class Parser<N extends string> {
  private index = 0;
  private readonly aliases: Map<string, N>;
  constructor(
    private readonly rule: string,
    private readonly tokens: Token[],
    private readonly lang: RuleLanguage<N>,
  ) {
    this.aliases = aliasesOf(lang);
  }

  private peek(): Token {
    const tok = this.tokens[this.index] as Token;
    if (tok.kind === 'error') throw tok.error;
    return tok;
  }

  private next(): Token {
    const tok = this.peek();
    this.index++;
    return tok;
  }

  parseRule(): NodeOf<N> {
    const node = this.parseOr(0);
    const tok = this.peek();
    if (tok.kind === ')') {
      throw new RuleSyntaxError(
        "unbalanced parentheses, unexpected ')' without matching '('",
        tok.pos,
      );
    }
    if (tok.kind !== 'end') {
      throw new RuleSyntaxError(
        `unexpected ${describe(tok)} after a complete expression, expected '&&', '||' or end of rule`,
        tok.pos,
      );
    }
    return node;
  }

  private parseOr(depth: number): NodeOf<N> {
    let left = this.parseAnd(depth);
    while (this.peek().kind === '||') {
      this.next();
      left = { type: 'or', left, right: this.parseAnd(depth) };
    }
    return left;
  }

  private parseAnd(depth: number): NodeOf<N> {
    let left = this.parseUnary(depth);
    while (this.peek().kind === '&&') {
      this.next();
      left = { type: 'and', left, right: this.parseUnary(depth) };
    }
    return left;
  }

  private parseUnary(depth: number): NodeOf<N> {
    const tok = this.next();
    if (depth > MAX_DEPTH) {
      throw new RuleSyntaxError(
        `rule is nested too deeply, expected at most ${MAX_DEPTH} levels`,
        tok.pos,
      );
    }
    if (tok.kind === '!') return { type: 'not', operand: this.parseUnary(depth + 1) };
    if (tok.kind === '(') {
      const inner = this.parseOr(depth + 1);
      const close = this.next();
      if (close.kind !== ')') {
        if (close.kind === 'end') {
          throw new RuleSyntaxError(
            "unbalanced parentheses, '(' is never closed, expected ')'",
            tok.pos,
          );
        }
        throw new RuleSyntaxError(
          `unexpected ${describe(close)}, expected '&&', '||' or ')'`,
          close.pos,
        );
      }
      return inner;
    }
    if (tok.kind === 'ident') return this.parseMatcher(tok.text, tok.pos);
    throw new RuleSyntaxError(
      tok.kind === 'end'
        ? "unexpected end of rule, expected a matcher, '!' or '('"
        : `unexpected ${describe(tok)}, expected a matcher, '!' or '('`,
      tok.pos,
    );
  }

  private parseMatcher(text: string, position: number): MatcherNodeOf<N> {
    const name = this.aliases.get(text);
    if (name === undefined) throw new RuleSyntaxError(this.lang.unknownMatcher(text), position);
    const open = this.next();
    if (open.kind !== '(') {
      throw new RuleSyntaxError(`expected '(' after ${name} but found ${describe(open)}`, open.pos);
    }
    const args: string[] = [];
    const argPositions: number[] = [];
    for (;;) {
      const tok = this.next();
      if (tok.kind === ')') {
        this.lang.check(name, args, { position, argPositions, closePosition: tok.pos });
        return { type: 'matcher', name, args, position };
      }
      if (tok.kind !== 'string') {
        throw new RuleSyntaxError(
          tok.kind === 'ident'
            ? `unquoted value ${/^[^\s,()]+/.exec(this.rule.slice(tok.pos))?.[0] ?? tok.text} for ${name}, expected a value in backticks or double quotes`
            : `unexpected ${describe(tok)} in ${name}(...), expected a value in backticks or double quotes`,
          tok.pos,
        );
      }
      args.push(tok.value);
      argPositions.push(tok.pos);
      const sep = this.next();
      if (sep.kind === ')') {
        this.index--;
      } else if (sep.kind === 'end') {
        throw new RuleSyntaxError(
          `unbalanced parentheses, ${name}( is never closed, expected ',' or ')'`,
          sep.pos,
        );
      } else if (sep.kind !== ',') {
        throw new RuleSyntaxError(
          `unexpected ${describe(sep)} in ${name}(...), expected ',' or ')'`,
          sep.pos,
        );
      }
    }
  }
}

/** Parses a rule of `lang` into an AST; throws RuleSyntaxError with the offending offset. */
export function parseRuleWith<N extends string>(rule: string, lang: RuleLanguage<N>): NodeOf<N> {
  if (rule.trim() === '') {
    throw new RuleSyntaxError(`empty rule, expected a matcher such as ${lang.example}`, 0);
  }
  return new Parser(rule, tokenize(rule), lang).parseRule();
}

/** Traefik v3's HTTP rule language. */
export const HTTP_RULES: RuleLanguage<MatcherName> = {
  names: MATCHER_NAMES,
  unknownMatcher: unknownMatcherMessage,
  check: (name, args, src) => {
    compileMatcherCall(name, args, src);
  },
  example: 'Host(`example.com`)',
};

/** Parses a Traefik v3 HTTP rule into an AST; throws RuleSyntaxError with the offending offset. */
export function parseRule(rule: string): RuleNode {
  return parseRuleWith(rule, HTTP_RULES);
}
