/*
 * The TCP rule language, as Traefik v3's TCP muxer has it (pkg/muxer/tcp/mux.go, matcher.go):
 * HostSNI, HostSNIRegexp, ClientIP and ALPN, each with one value, combined with &&, || and !
 * and parentheses, over the grammar HTTP rules use (parser.ts; Traefik builds both with
 * pkg/rules.NewParser). A connection is matched on what is known before any byte is proxied:
 * the SNI and ALPN list of a TLS ClientHello (none for plain TCP) and the client address.
 *
 * The routing facts derived from a rule live here too, so the dispatcher and the configuration
 * checks agree: the default priority (GetRulePriority), the catch-all HostSNI(`*`), the SNI
 * names a rule pins, and the rule/TLS constraint of Traefik's router manager.
 */

import { Buffer } from 'node:buffer';
import { RuleSyntaxError } from '../kernel/errors.js';
import { compileIpMatcher, type IpMatcher } from '../kernel/ip-match.js';
import { suggest } from '../kernel/suggest.js';
import { compileRuleTree, flattenChain } from './compile-tree.js';
import type { MatcherSource } from './matchers.js';
import { parseRuleWith, type MatcherNodeOf, type NodeOf, type RuleLanguage } from './parser.js';
import { compileRe2, RegexSyntaxError, type GoRegexp } from './regex.js';

export const TCP_MATCHER_NAMES = ['HostSNI', 'HostSNIRegexp', 'ClientIP', 'ALPN'] as const;
export type TcpMatcherName = (typeof TCP_MATCHER_NAMES)[number];
export type TcpRuleNode = NodeOf<TcpMatcherName>;

/** What a TCP rule sees of a connection. */
export interface TcpConnInfo {
  /** the ClientHello's server name, lower case; undefined when no SNI or not TLS */
  sni: string | undefined;
  /** the ClientHello's ALPN protocols, empty when none or not TLS */
  alpn: readonly string[];
  /** the client address (PROXY protocol applied), IPv4-mapped IPv6 unwrapped */
  clientIp: string;
  tls: boolean;
}

export type TcpMatcher = (c: TcpConnInfo) => boolean;

export interface BuiltTcpRule {
  /** the rule as written */
  rule: string;
  matcher(c: TcpConnInfo): boolean;
  /** the HostSNI names the rule pins (lower case), null when it can match any SNI */
  hosts: string[] | null;
  /** Traefik's catch-all: exactly HostSNI(`*`), which TLS HTTP routers may take precedence over */
  catchAll: boolean;
  /** Traefik's default TCP rule priority (rule length; -1 for HostSNI(`*`)), used when the router sets none */
  priority: number;
  /**
   * every HostSNI value in rule order, lower case, as written otherwise (Traefik's ParseHostSNI):
   * what the rule/TLS check looks at, and the names TLS options and certificates apply to
   */
  hostSNIs: string[];
}

/* ------------------------------------------------------------------ matchers */

// Names people carry over from HTTP routers get a specific hint.
const HTTP_COUNTERPART: Record<string, string> = {
  Host: 'HostSNI',
  HostRegexp: 'HostSNIRegexp',
};
const HTTP_ONLY = new Set([
  'Path',
  'PathPrefix',
  'PathRegexp',
  'Method',
  'Header',
  'HeaderRegexp',
  'Query',
  'QueryRegexp',
  'Headers',
  'HeadersRegexp',
  'HostHeader',
]);

function unknownTcpMatcher(name: string): string {
  const counterpart = HTTP_COUNTERPART[name];
  if (counterpart !== undefined) {
    return `${name} is an http matcher, expected ${counterpart} in a tcp rule`;
  }
  if (HTTP_ONLY.has(name)) {
    return `${name} is an http matcher; tcp rules take ${TCP_MATCHER_NAMES.join(', ')}`;
  }
  const best = suggest(
    name,
    TCP_MATCHER_NAMES,
    Math.max(1, Math.min(3, Math.floor(name.length / 3))),
  );
  if (best !== undefined) return `unknown matcher ${name}, did you mean ${best}?`;
  return `unknown matcher ${name}, expected one of ${TCP_MATCHER_NAMES.join(', ')}`;
}

// Traefik's hostOrIP: `^(\*\.)?[[:word:]\.\-\:]+$` ([[:word:]] is ASCII letters, digits, _)
const HOST_OR_IP = /^(\*\.)?[\w.\-:]+$/;

/** lego's tlsalpn01.ACMETLS1Protocol: routing it to a user router would hijack ACME challenges */
const ACME_TLS_1 = 'acme-tls/1';

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

const matchAll: TcpMatcher = () => true;

function hostSniMatcher(value: string, at: number): TcpMatcher {
  // a catch-all for plain TCP too: it matches with no SNI at all
  if (value === '*') return matchAll;
  if (!HOST_OR_IP.test(value)) {
    throw new RuleSyntaxError(
      `invalid value for HostSNI, ${JSON.stringify(value)} is not a valid host name ` +
        `(letters, digits, '.', '-', ':'; * alone or as *.example.com` +
        (isAscii(value) ? ')' : '; use punycode for non-ascii names)'),
      at,
    );
  }
  const host = (value.endsWith('.') ? value.slice(0, -1) : value).toLowerCase();
  if (host.startsWith('*')) {
    // Traefik's DomainMatchHostExpression: the SNI's first label replaced by `*`
    const suffix = host.slice(1);
    return (c) => {
      if (c.sni === undefined || c.sni === '') return false;
      const sni = c.sni.toLowerCase();
      const dot = sni.indexOf('.');
      return dot >= 0 && sni.slice(dot) === suffix;
    };
  }
  return (c) => c.sni !== undefined && c.sni !== '' && c.sni.toLowerCase() === host;
}

function regexArg(pattern: string, at: number): GoRegexp {
  if (!isAscii(pattern)) {
    throw new RuleSyntaxError(
      `invalid value for HostSNIRegexp, ${JSON.stringify(pattern)}: non-ascii characters are not allowed, use punycode`,
      at,
    );
  }
  // RE2 (linear time): the pattern comes from labels, the SNI from the client (issue 11)
  try {
    return compileRe2(pattern);
  } catch (err) {
    if (err instanceof RegexSyntaxError) {
      throw new RuleSyntaxError(`invalid regular expression for HostSNIRegexp: ${err.message}`, at);
    }
    throw err;
  }
}

/** Validates one matcher call and builds its predicate; throws RuleSyntaxError at the value at fault. */
export function compileTcpMatcherCall(
  name: TcpMatcherName,
  args: readonly string[],
  src: MatcherSource,
): TcpMatcher {
  const argAt = (i: number): number => src.argPositions?.[i] ?? src.position;
  // every TCP matcher of the v3 syntax takes exactly one value (expect1Parameter)
  if (args.length > 1) {
    throw new RuleSyntaxError(
      `${name} takes a single value in traefik v3, combine several with ||, e.g. ` +
        `${name}(\`${args[0]}\`) || ${name}(\`${args[1]}\`)`,
      argAt(1),
    );
  }
  if (args.length === 0) {
    throw new RuleSyntaxError(
      `${name} expects 1 value, got none`,
      src.closePosition ?? src.position,
    );
  }
  const value = args[0] as string;
  if (value === '') {
    throw new RuleSyntaxError(`empty value for ${name}, expected a non-empty string`, argAt(0));
  }
  switch (name) {
    case 'HostSNI':
      return hostSniMatcher(value, argAt(0));
    case 'HostSNIRegexp': {
      const re = regexArg(value, argAt(0));
      // Traefik matches the canonical (lower-case) server name, "" when there is none
      return (c) => re.test(c.sni === undefined ? '' : c.sni.toLowerCase());
    }
    case 'ClientIP': {
      let net: IpMatcher;
      try {
        net = compileIpMatcher([value]);
      } catch {
        throw new RuleSyntaxError(
          `invalid ClientIP value ${value}, expected an ipv4 or ipv6 address or cidr such as 10.0.0.0/8`,
          argAt(0),
        );
      }
      return (c) => net.contains(c.clientIp);
    }
    case 'ALPN': {
      if (value === ACME_TLS_1) {
        throw new RuleSyntaxError(
          `invalid value for ALPN, "${ACME_TLS_1}" is not allowed: it is reserved for acme tls-alpn-01 challenges`,
          argAt(0),
        );
      }
      return (c) => c.alpn.includes(value);
    }
  }
}

/** The TCP rule language over the shared grammar. */
export const TCP_RULES: RuleLanguage<TcpMatcherName> = {
  names: TCP_MATCHER_NAMES,
  unknownMatcher: unknownTcpMatcher,
  check: (name, args, src) => {
    compileTcpMatcherCall(name, args, src);
  },
  example: 'HostSNI(`*`)',
};

/* ---------------------------------------------------------------- compiling */

/** Parses a TCP rule into an AST; throws RuleSyntaxError with the offending offset. */
export function parseTcpRule(rule: string): TcpRuleNode {
  return parseRuleWith(rule, TCP_RULES);
}

/** The connection predicate of a parsed TCP rule. */
export function compileTcpRule(node: TcpRuleNode): TcpMatcher {
  return compileRuleTree(node, (m) =>
    compileTcpMatcherCall(m.name, m.args, { position: m.position }),
  );
}

function isBareHostSni(node: TcpRuleNode): node is MatcherNodeOf<TcpMatcherName> {
  return node.type === 'matcher' && node.name === 'HostSNI';
}

// null: no constraint on the SNI; a set: only these SNIs can match. Chains of one operator are
// flattened (flattenChain), so a rule of thousands of `||` does not recurse thousands deep.
function sniConstraint(node: TcpRuleNode): Set<string> | null {
  switch (node.type) {
    case 'matcher': {
      const v = node.args[0] as string;
      if (node.name !== 'HostSNI' || v.startsWith('*')) return null;
      return new Set([(v.endsWith('.') ? v.slice(0, -1) : v).toLowerCase()]);
    }
    case 'not':
      return null;
    case 'and': {
      const operands = flattenChain(node, 'and');
      let out: Set<string> | null = null as Set<string> | null;
      for (const o of operands) {
        const c = sniConstraint(o);
        if (c === null) continue;
        out = out === null ? c : new Set([...out].filter((h) => c.has(h)));
      }
      return out;
    }
    case 'or': {
      const operands = flattenChain(node, 'or');
      const out = new Set<string>();
      for (const o of operands) {
        const c = sniConstraint(o);
        if (c === null) return null;
        for (const h of c) out.add(h);
      }
      return out;
    }
  }
}

/** Every HostSNI value in rule order (left to right), with an explicit stack. */
function hostSniValues(root: TcpRuleNode): string[] {
  const out: string[] = [];
  const pending: TcpRuleNode[] = [root];
  while (pending.length > 0) {
    const node = pending.pop() as TcpRuleNode;
    if (node.type === 'matcher') {
      if (node.name === 'HostSNI') out.push(...node.args.map((a) => a.toLowerCase()));
    } else if (node.type === 'not') pending.push(node.operand);
    else pending.push(node.right, node.left);
  }
  return out;
}

/** Parses and compiles a TCP rule; throws RuleSyntaxError (with Traefik-like messages). */
export function buildTcpRule(rule: string): BuiltTcpRule {
  const node = parseTcpRule(rule);
  // Traefik: the route is the catch-all when its whole rule is the one matcher HostSNI(`*`)
  const catchAll = isBareHostSni(node) && node.args[0] === '*';
  const hosts = sniConstraint(node);
  return {
    rule,
    matcher: compileTcpRule(node),
    hosts: hosts === null ? null : [...hosts],
    catchAll,
    // Traefik's GetRulePriority: len(rule) in bytes, -1 for the catch-all so it sorts last
    priority: catchAll ? -1 : Buffer.byteLength(rule, 'utf8'),
    hostSNIs: hostSniValues(node),
  };
}

/**
 * Traefik's constraint between a TCP router's rule and TLS (pkg/server/router/tcp/manager.go):
 * a router without TLS never sees an SNI, so only HostSNI(`*`) may come first among its HostSNI
 * matchers (ClientIP alone is fine). Returns the error text, or undefined when the rule is fine;
 * a rule given as text is parsed first and its syntax error returned.
 */
export function tcpRuleProblem(rule: BuiltTcpRule | string, tls: boolean): string | undefined {
  let built: BuiltTcpRule;
  if (typeof rule === 'string') {
    try {
      built = buildTcpRule(rule);
    } catch (err) {
      if (err instanceof RuleSyntaxError) return err.message;
      throw err;
    }
  } else built = rule;
  if (!tls && built.hostSNIs.length > 0 && built.hostSNIs[0] !== '*') {
    return (
      `rule ${JSON.stringify(built.rule)} has a HostSNI matcher but the router has no tls: ` +
      'a client sends its server name only in a tls handshake; use HostSNI(`*`) for plain tcp, ' +
      'or set tls (passthrough=true to forward the tls connection as it is)'
    );
  }
  return undefined;
}
