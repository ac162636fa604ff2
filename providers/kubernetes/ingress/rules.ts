/*
 * The rules and names the Ingress translator writes, exactly as Traefik's
 * Ingress provider writes them (pkg/provider/kubernetes/ingress/kubernetes.go
 * loadRouter, buildRule, makeRouterKeyWithHash), so the routers and services
 * users refer to (`testing-bar@kubernetes`, `testing-service1-80@kubernetes`)
 * keep their names, and the rules read the same in the API and the dashboard.
 */
import { createHash } from 'node:crypto';

/** Traefik's provider.Normalize: runs of anything but letters and digits become one `-`. */
export function normalizeName(name: string): string {
  return name
    .split(/[^\p{L}\p{N}]+/u)
    .filter((p) => p !== '')
    .join('-');
}

const GO_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
};

// Go's strconv.IsPrint is false for control, format, unassigned, private-use and separator characters except the space
const NOT_PRINTABLE = /^[\p{C}\p{Z}]$/u;

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

/**
 * Go's `%q` (strconv.Quote), which Traefik uses to put hosts and paths into
 * rules: double quotes with Go escapes, which Portico's rule parser reads
 * back (src/rules/parser.ts). A backtick or a quote in a value therefore
 * cannot end the value early.
 */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    const escape = GO_ESCAPES[ch];
    if (escape !== undefined) out += escape;
    else if (code < 0x20 || code === 0x7f) out += `\\x${hex(code, 2)}`;
    // a lone surrogate cannot come from the API server (Go decodes it to U+FFFD); do the same
    else if (code >= 0xd800 && code <= 0xdfff) out += '\ufffd';
    else if (ch !== ' ' && NOT_PRINTABLE.test(ch))
      out += code > 0xffff ? `\\U${hex(code, 8)}` : `\\u${hex(code, 4)}`;
    else out += ch;
  }
  return out + '"';
}

export type PathMatcher = 'Path' | 'PathPrefix' | 'PathRegexp';
export const PATH_MATCHERS: readonly PathMatcher[] = ['Path', 'PathPrefix', 'PathRegexp'];

/**
 * Traefik's buildRule. With strictPrefixMatching, PathPrefix matches whole
 * path elements as the Ingress spec says (`/v1` matches `/v1` and `/v1/x`,
 * not `/v12`), written as Path(p) || PathPrefix(p + "/").
 */
export function pathRule(matcher: PathMatcher, path: string, strictPrefix: boolean): string {
  if (strictPrefix && matcher === 'PathPrefix') {
    if (path === '/') return 'PathPrefix("/")';
    const p = path.endsWith('/') ? path.slice(0, -1) : path;
    return `(Path(${goQuote(p)}) || PathPrefix(${goQuote(`${p}/`)}))`;
  }
  return `${matcher}(${goQuote(path)})`;
}

/**
 * Traefik v3 writes every host as Host("…"), wildcards included: v3's Host
 * matches `*.example.com` itself (one label, as the Ingress spec says), so
 * no HostRegexp is needed (that was the v2 form).
 */
export function hostRule(host: string): string {
  return `Host(${goQuote(host)})`;
}

// Kubernetes validates Ingress hosts as DNS-1123 subdomains, optionally behind "*." (networking/validation.go)
const LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const HOST = new RegExp(`^(\\*\\.)?${LABEL}(\\.${LABEL})*$`, 'i');

/** Why a host cannot be used, or undefined: what the API server would have refused. */
export function hostProblem(host: string): string | undefined {
  if (host.length > 253) return `host is ${host.length} characters long, at most 253 are allowed`;
  if (!HOST.test(host))
    return `host ${JSON.stringify(host.length > 80 ? `${host.slice(0, 77)}...` : host)} is not a DNS name (a wildcard is allowed as the whole first label: *.example.com)`;
  return undefined;
}

/** Traefik's makeRouterKeyWithHash: the key, a dash, the first 10 bytes of SHA-256(rule) in hex. */
export function routerKeyWithHash(key: string, rule: string): string {
  return `${key}-${createHash('sha256').update(rule).digest('hex').slice(0, 20)}`;
}

/** Traefik's router key: namespace, Ingress name, host and path, normalised. */
export function routerKey(namespace: string, name: string, host: string, path: string): string {
  return normalizeName(`${namespace}-${name}-${host}${path}`);
}

/** Traefik's service key: namespace, Service name and port (its name, else its number). */
export function serviceKey(namespace: string, service: string, port: string): string {
  return normalizeName(`${namespace}-${service}-${port}`);
}

/** The router and service of a global default backend (Traefik's names and lowest priority). */
export const DEFAULT_ROUTER = 'default-router';
export const DEFAULT_BACKEND = 'default-backend';
/** Go's math.MinInt32: the default backend only takes what no other router matches */
export const DEFAULT_BACKEND_PRIORITY = -2147483648;
