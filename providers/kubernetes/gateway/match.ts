/*
 * HTTPRoute and GRPCRoute matches as Portico rules, with the priorities
 * Traefik's Gateway provider gives them (pkg/provider/kubernetes/gateway
 * httproute.go buildMatchRule, grpcroute.go buildGRPCMatchRule): the Gateway
 * API precedence (Exact path, then the longest prefix, then method, then the
 * most headers, then the most query parameters; a hostname wins over none)
 * is turned into numbers:
 *
 *   Exact path +100000; PathPrefix / RegularExpression +10000 + 100*len;
 *   Method +1000; each header +100; each query parameter +10; plus the
 *   length of the longest hostname; plus (rules - index) on HTTPRoutes.
 *
 * Values are put into rules with Go's %q quoting (goQuote), so a quote in a
 * header value cannot end it early. A regular expression that RE2 does not
 * take is refused here (UnsupportedValue) rather than left to break the
 * router.
 */
import { compileRe2 } from '../../../src/rules/regex.js';
import { asArray, asRecord, asString } from '../backends.js';
import { goQuote, quoteMeta } from './common.js';

export type RuleResult =
  { ok: true; rule: string; priority: number } | { ok: false; field: string; message: string };

function checkRegex(
  pattern: string,
  field: string,
): { field: string; message: string } | undefined {
  try {
    compileRe2(pattern);
    return undefined;
  } catch (err) {
    return {
      field,
      message: `invalid regular expression ${goQuote(pattern)}: ${(err as Error).message}`,
    };
  }
}

/** Traefik's buildHostRule: Host for names, HostRegexp for `*.` wildcards; priority = longest hostname. */
export function hostRule(hostnames: string[]): { rule: string; priority: number } {
  const rules: string[] = [];
  let priority = 0;
  for (const host of hostnames) {
    priority = Math.max(priority, host.length);
    if (!host.includes('*')) {
      rules.push(`Host(${goQuote(host)})`);
      continue;
    }
    const re = quoteMeta(host).replace('\\*\\.', '[a-z0-9-\\.]+\\.');
    rules.push(`HostRegexp(${goQuote(`^${re}$`)})`);
  }
  if (rules.length === 0) return { rule: '', priority: 0 };
  if (rules.length === 1) return { rule: rules[0]!, priority };
  return { rule: `(${rules.join(' || ')})`, priority };
}

function pathRule(raw: unknown, field: string): RuleResult {
  const p = asRecord(raw);
  const type = asString(p?.type) ?? 'PathPrefix';
  const value = asString(p?.value) ?? '/';
  switch (type) {
    case 'Exact':
      if (!value.startsWith('/'))
        return { ok: false, field: `${field}.value`, message: 'path must start with "/"' };
      return { ok: true, rule: `Path(${goQuote(value)})`, priority: 100000 };
    case 'PathPrefix': {
      if (!value.startsWith('/'))
        return { ok: false, field: `${field}.value`, message: 'path must start with "/"' };
      // PathPrefix("/") is the catch-all: evaluated last
      if (value === '/') return { ok: true, rule: 'PathPrefix("/")', priority: 1 };
      // the spec matches whole path elements: /foo matches /foo and /foo/x, not /foobar
      const pv = value.endsWith('/') ? value.slice(0, -1) : value;
      return {
        ok: true,
        rule: `(Path(${goQuote(pv)}) || PathPrefix(${goQuote(`${pv}/`)}))`,
        priority: 10000 + value.length * 100,
      };
    }
    case 'RegularExpression': {
      const bad = checkRegex(value, `${field}.value`);
      if (bad) return { ok: false, ...bad };
      return {
        ok: true,
        rule: `PathRegexp(${goQuote(value)})`,
        priority: 10000 + value.length * 100,
      };
    }
    default:
      return {
        ok: false,
        field: `${field}.type`,
        message: `path match type ${goQuote(type)} is not Exact, PathPrefix or RegularExpression`,
      };
  }
}

/** Header (HTTPRoute, GRPCRoute) or query parameter (HTTPRoute) matches. */
function pairRules(
  list: unknown,
  field: string,
  exact: 'Header' | 'Query',
): { ok: true; rules: string[] } | { ok: false; field: string; message: string } {
  const rules: string[] = [];
  for (const [i, raw] of asArray(list).entries()) {
    const f = `${field}[${i}]`;
    const h = asRecord(raw);
    const name = asString(h?.name);
    const value = asString(h?.value);
    if (name === undefined || name === '' || value === undefined)
      return { ok: false, field: f, message: 'a match needs a name and a value' };
    const type = asString(h?.type) ?? 'Exact';
    if (type === 'Exact') rules.push(`${exact}(${goQuote(name)},${goQuote(value)})`);
    else if (type === 'RegularExpression') {
      const bad = checkRegex(value, `${f}.value`);
      if (bad) return { ok: false, ...bad };
      rules.push(`${exact}Regexp(${goQuote(name)},${goQuote(value)})`);
    } else
      return {
        ok: false,
        field: `${f}.type`,
        message: `match type ${goQuote(type)} is not Exact or RegularExpression`,
      };
  }
  return { ok: true, rules };
}

const METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);

/** Traefik's buildMatchRule for one HTTPRouteMatch (undefined: the default match, PathPrefix "/"). */
export function httpMatchRule(hostnames: string[], raw: unknown, field: string): RuleResult {
  const m = asRecord(raw) ?? {};
  const parts: string[] = [];
  const path = pathRule(m.path, `${field}.path`);
  if (!path.ok) return path;
  parts.push(path.rule);
  let priority = path.priority;
  if (m.method !== undefined) {
    const method = asString(m.method);
    if (method === undefined || !METHODS.has(method))
      return {
        ok: false,
        field: `${field}.method`,
        message: `unsupported method ${String(method ?? m.method)}`,
      };
    parts.push(`Method(${goQuote(method)})`);
    priority += 1000;
  }
  const headers = pairRules(m.headers, `${field}.headers`, 'Header');
  if (!headers.ok) return headers;
  parts.push(...headers.rules);
  priority += 100 * headers.rules.length;
  const query = pairRules(m.queryParams, `${field}.queryParams`, 'Query');
  if (!query.ok) return query;
  parts.push(...query.rules);
  priority += 10 * query.rules.length;
  const matchRule = parts.join(' && ');
  const host = hostRule(hostnames);
  if (host.rule === '') return { ok: true, rule: matchRule, priority };
  return { ok: true, rule: `${host.rule} && ${matchRule}`, priority: priority + host.priority };
}

/** Traefik's buildGRPCMatchRule: service/method as a PathRegexp on /service/method (anchored), headers as on HTTP. */
export function grpcMatchRule(hostnames: string[], raw: unknown, field: string): RuleResult {
  const m = asRecord(raw) ?? {};
  const parts: string[] = [];
  const method = asRecord(m.method);
  if (method === undefined) parts.push('PathPrefix("/")');
  else {
    const type = asString(method.type) ?? 'Exact';
    if (type !== 'Exact' && type !== 'RegularExpression')
      return {
        ok: false,
        field: `${field}.method.type`,
        message: `method match type ${goQuote(type)} is not Exact or RegularExpression`,
      };
    const exact = type === 'Exact';
    const part = (v: unknown, f: string): string | { field: string; message: string } => {
      const s = asString(v);
      if (s === undefined || s === '') return '[^/]+';
      if (exact) return quoteMeta(s);
      return checkRegex(s, f) ?? s;
    };
    const s = part(method.service, `${field}.method.service`);
    if (typeof s !== 'string') return { ok: false, ...s };
    const me = part(method.method, `${field}.method.method`);
    if (typeof me !== 'string') return { ok: false, ...me };
    // anchored (Traefik's is not): an Exact method "Echo" must not match /svc/EchoThree, and a
    // RegularExpression matches the whole service or method name (gateway-api GRPCMethodMatch)
    const group = (x: string) => (x === '[^/]+' || exact ? x : `(?:${x})`);
    parts.push(`PathRegexp(${goQuote(`^/${group(s)}/${group(me)}$`)})`);
  }
  const headers = pairRules(m.headers, `${field}.headers`, 'Header');
  if (!headers.ok) return headers;
  parts.push(...headers.rules);
  const matchRule = parts.join(' && ');
  const host = hostRule(hostnames);
  if (host.rule === '') return { ok: true, rule: matchRule, priority: matchRule.length };
  return {
    ok: true,
    rule: `${host.rule} && ${matchRule}`,
    priority: host.priority + matchRule.length,
  };
}

/** Traefik's hostSNIRule (TLSRoute): HostSNI per name, HostSNIRegexp for wildcards, HostSNI("*") for none. */
export function hostSNIRule(hostnames: string[]): { rule: string; priority: number } {
  const rules: string[] = [];
  const seen = new Set<string>();
  let priority = 0;
  for (const host of hostnames) {
    if (host === '') continue;
    const wildcards = host.split('*').length - 1;
    priority = Math.max(priority, host.length - wildcards);
    if (seen.has(host)) continue;
    seen.add(host);
    if (wildcards === 0) rules.push(`HostSNI(${goQuote(host)})`);
    else {
      const re = quoteMeta(host).replace('\\*\\.', '[a-z0-9-]+\\.');
      rules.push(`HostSNIRegexp(${goQuote(`^${re}$`)})`);
    }
  }
  if (rules.length === 0) return { rule: 'HostSNI("*")', priority: 0 };
  return { rule: rules.join(' || '), priority };
}
