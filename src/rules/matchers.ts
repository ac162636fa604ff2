/*
 * Turning a parsed rule into a request predicate. All per-rule work (regex compilation, CIDR
 * parsing, host normalisation) happens here, once, so the returned closures only compare
 * strings and numbers. The same leaf builder is used by the parser to validate arguments, which
 * keeps "parses" and "compiles" from ever disagreeing.
 */

import type { IncomingHttpHeaders } from 'node:http';
import { RuleSyntaxError } from '../kernel/errors.js';
import { compileIpMatcher, type IpMatcher } from '../kernel/ip-match.js';
import { compileRuleTree } from './compile-tree.js';
import type { MatcherName, RuleMatcherNode, RuleNode } from './parser.js';
import { compileRe2, RegexSyntaxError, type GoRegexp } from './regex.js';

export interface MatchContext {
  /** Canonical request host: lower-case, port stripped, trailing dot removed; '' if none. */
  host: string;
  /** Normalised routing path; starts with '/'. */
  path: string;
  /** Upper-case request method. */
  method: string;
  headers: IncomingHttpHeaders;
  /** Socket remote address, IPv4-mapped IPv6 already unwrapped to IPv4. */
  clientIp: string;
  /** Lazily parsed query string. */
  query(): URLSearchParams;
}

export type Matcher = (ctx: MatchContext) => boolean;

/** Where a matcher call sits in the rule text, so errors can point at the offending part. */
export interface MatcherSource {
  position: number;
  argPositions?: readonly number[];
  closePosition?: number;
}

const ARITY: Record<MatcherName, readonly number[]> = {
  Host: [1],
  HostRegexp: [1],
  Path: [1],
  PathPrefix: [1],
  PathRegexp: [1],
  Method: [1],
  Header: [2],
  HeaderRegexp: [2],
  Query: [1, 2],
  QueryRegexp: [1, 2],
  ClientIP: [1],
};

const ARITY_HINT: Record<MatcherName, string> = {
  Host: '1 value',
  HostRegexp: '1 value',
  Path: '1 value',
  PathPrefix: '1 value',
  PathRegexp: '1 value',
  Method: '1 value',
  Header: '2 values (name, value)',
  HeaderRegexp: '2 values (name, regexp)',
  Query: '1 or 2 values (name[, value])',
  QueryRegexp: '1 or 2 values (name[, regexp])',
  ClientIP: '1 value',
};

const matchAll: Matcher = () => true;

function checkArity(name: MatcherName, args: readonly string[], src: MatcherSource): void {
  const allowed = ARITY[name];
  if (allowed.includes(args.length)) return;
  const max = Math.max(...allowed);
  if (args.length > max && max === 1) {
    const [a, b] = args;
    throw new RuleSyntaxError(
      `${name} takes a single value in traefik v3, combine several with ||, e.g. ` +
        `${name}(\`${a}\`) || ${name}(\`${b}\`)`,
      src.argPositions?.[1] ?? src.position,
    );
  }
  const got = args.length === 0 ? 'none' : String(args.length);
  const at =
    args.length > max
      ? (src.argPositions?.[max] ?? src.position)
      : (src.closePosition ?? src.position);
  throw new RuleSyntaxError(`${name} expects ${ARITY_HINT[name]}, got ${got}`, at);
}

// RE2 (linear time): the pattern comes from labels and the input from the client (issue 11).
function regexArg(name: MatcherName, pattern: string, at: number): GoRegexp {
  try {
    return compileRe2(pattern);
  } catch (err) {
    if (err instanceof RegexSyntaxError) {
      throw new RuleSyntaxError(`invalid regular expression for ${name}: ${err.message}`, at);
    }
    throw err;
  }
}

/** Lower-cases and drops a trailing dot, the form hosts are compared and indexed in. */
export function canonicalRuleHost(host: string): string {
  const lower = host.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

function hostMatcher(value: string, at: number): Matcher {
  let ascii = true;
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0x7f) ascii = false;
  if (!ascii) {
    throw new RuleSyntaxError(
      `invalid host ${value} for Host, non-ascii characters are not allowed, expected punycode`,
      at,
    );
  }
  if (value === '*') return matchAll;
  const host = canonicalRuleHost(value);
  if (host === '') throw new RuleSyntaxError('empty host for Host, expected a host name', at);
  if (host.includes('*')) {
    const suffix = host.slice(1);
    if (!host.startsWith('*.') || suffix.includes('*') || suffix.length < 2) {
      throw new RuleSyntaxError(
        `invalid wildcard host ${value}, expected * alone or as the whole first label (*.example.com)`,
        at,
      );
    }
    // Exactly one extra label: the text before the suffix must be non-empty and dot-free.
    return (ctx) => {
      const h = ctx.host;
      const cut = h.length - suffix.length;
      return cut > 0 && h.endsWith(suffix) && h.lastIndexOf('.', cut - 1) === -1;
    };
  }
  return (ctx) => ctx.host === host;
}

function headerMatcher(key: string, value: string): Matcher {
  // Node folds repeated headers into one ", "-joined string, so a string is compared whole:
  // splitting it would also split legitimate single values such as Accept lists.
  return (ctx) => {
    const v = ctx.headers[key];
    if (v === undefined) return false;
    if (typeof v === 'string') return v === value;
    for (let i = 0; i < v.length; i++) if (v[i] === value) return true;
    return false;
  };
}

function headerRegexpMatcher(key: string, re: GoRegexp): Matcher {
  return (ctx) => {
    const v = ctx.headers[key];
    if (v === undefined) return false;
    if (typeof v === 'string') return re.test(v);
    for (let i = 0; i < v.length; i++) if (re.test(v[i] as string)) return true;
    return false;
  };
}

/**
 * Validates one matcher call and builds its predicate. Throws RuleSyntaxError pointing at the
 * argument at fault when `src` carries argument positions, otherwise at the matcher itself.
 */
export function compileMatcherCall(
  name: MatcherName,
  args: readonly string[],
  src: MatcherSource,
): Matcher {
  if (!Object.hasOwn(ARITY, name)) {
    throw new RuleSyntaxError(`unknown matcher ${name}`, src.position);
  }
  checkArity(name, args, src);
  const argAt = (i: number): number => src.argPositions?.[i] ?? src.position;
  args.forEach((a, i) => {
    if (a === '') {
      throw new RuleSyntaxError(`empty value for ${name}, expected a non-empty string`, argAt(i));
    }
  });
  const first = args[0] as string;

  switch (name) {
    case 'Host':
      return hostMatcher(first, argAt(0));
    case 'HostRegexp': {
      const re = regexArg(name, first, argAt(0));
      return (ctx) => re.test(ctx.host);
    }
    case 'Path':
    case 'PathPrefix': {
      if (!first.startsWith('/')) {
        throw new RuleSyntaxError(`path ${first} for ${name} must start with '/'`, argAt(0));
      }
      return name === 'Path' ? (ctx) => ctx.path === first : (ctx) => ctx.path.startsWith(first);
    }
    case 'PathRegexp': {
      const re = regexArg(name, first, argAt(0));
      return (ctx) => re.test(ctx.path);
    }
    case 'Method': {
      const method = first.toUpperCase();
      return (ctx) => ctx.method === method;
    }
    case 'Header':
      return headerMatcher(first.toLowerCase(), args[1] as string);
    case 'HeaderRegexp':
      return headerRegexpMatcher(first.toLowerCase(), regexArg(name, args[1] as string, argAt(1)));
    case 'Query':
    case 'QueryRegexp': {
      // The one-argument form of both means "present with an empty value" (?key or ?key=).
      if (args.length === 1 || name === 'Query') {
        const value = args[1] ?? '';
        return (ctx) => ctx.query().has(first, value);
      }
      const re = regexArg(name, args[1] as string, argAt(1));
      return (ctx) => {
        const values = ctx.query().getAll(first);
        for (let i = 0; i < values.length; i++) if (re.test(values[i] as string)) return true;
        return false;
      };
    }
    case 'ClientIP': {
      let net: IpMatcher;
      try {
        net = compileIpMatcher([first]);
      } catch {
        throw new RuleSyntaxError(
          `invalid ClientIP value ${first}, expected an ipv4 or ipv6 address or cidr such as 10.0.0.0/8`,
          argAt(0),
        );
      }
      return (ctx) => net.contains(ctx.clientIp);
    }
  }
}

/** Builds the request predicate for a rule tree; throws RuleSyntaxError for invalid matchers. */
export function compileRule(node: RuleNode): Matcher {
  return compileRuleTree(node, (m) => compileMatcherCall(m.name, m.args, { position: m.position }));
}

function isExactHost(node: RuleMatcherNode): boolean {
  const host = node.args[0];
  return (
    node.name === 'Host' && node.args.length === 1 && host !== undefined && !host.includes('*')
  );
}

// null means "no constraint on the host"; a set means "matches only if host is in the set".
function hostConstraint(node: RuleNode): Set<string> | null {
  switch (node.type) {
    case 'matcher':
      return isExactHost(node) ? new Set([canonicalRuleHost(node.args[0] as string)]) : null;
    case 'not':
      // Sound but not complete: a negation could still constrain the host (e.g. !!Host(a)).
      return null;
    case 'and': {
      const l = hostConstraint(node.left);
      const r = hostConstraint(node.right);
      if (l === null) return r;
      if (r === null) return l;
      return new Set([...l].filter((h) => r.has(h)));
    }
    case 'or': {
      const l = hostConstraint(node.left);
      if (l === null) return null;
      const r = hostConstraint(node.right);
      if (r === null) return null;
      return new Set([...l, ...r]);
    }
  }
}

/**
 * The exact hosts a rule can match, lower-cased without trailing dot, or null when the rule can
 * match some host outside any finite list. An empty array means the rule can never match.
 */
export function ruleHosts(node: RuleNode): string[] | null {
  const set = hostConstraint(node);
  return set === null ? null : [...set];
}

/** Traefik's default router priority: the length of the rule text. */
export function rulePriority(rule: string): number {
  return rule.length;
}
