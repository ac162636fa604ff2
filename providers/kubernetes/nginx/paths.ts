/* An Ingress's rule paths and the router rules and priorities Traefik's nginx provider builds of them. */
import { compileRe2 } from '../../../src/rules/regex.js';
import { asArray, asRecord, asString, shown } from '../backends.js';
import { goQuote, hostProblem, hostRule } from '../ingress/rules.js';
import type { IngressCtx } from './context.js';

export interface RulePath {
  host: string;
  path: string;
  pathType: unknown;
  backend: unknown;
  at: string;
  i: number;
  j: number;
}

/** The rules' paths of an Ingress (hostile input skipped with a diagnostic). */
export function rulePaths(c: IngressCtx, spec: Record<string, unknown>): RulePath[] {
  const out: RulePath[] = [];
  const rules = spec.rules;
  if (rules !== undefined && rules !== null && !Array.isArray(rules)) {
    c.report('spec.rules', 'spec.rules must be a list');
    return out;
  }
  asArray(rules).forEach((raw, i) => {
    const at = `spec.rules[${i}]`;
    const rule = asRecord(raw);
    if (rule === undefined) {
      c.report(at, 'a rule must be an object');
      return;
    }
    let host = '';
    if (rule.host !== undefined && rule.host !== null && rule.host !== '') {
      const problem = typeof rule.host === 'string' ? hostProblem(rule.host) : 'host must be text';
      if (problem !== undefined) {
        c.report(`${at}.host`, `${problem}; the rule is skipped`);
        return;
      }
      host = rule.host as string;
    }
    const http = asRecord(rule.http);
    if (http === undefined) return;
    if (!Array.isArray(http.paths)) {
      c.report(`${at}.http.paths`, 'http.paths must be a list');
      return;
    }
    http.paths.forEach((rawPath: unknown, j: number) => {
      const p = asRecord(rawPath);
      const where = `${at}.http.paths[${j}]`;
      if (p === undefined) {
        c.report(where, 'a path must be an object');
        return;
      }
      if (p.path !== undefined && p.path !== null && typeof p.path !== 'string') {
        c.report(`${where}.path`, 'path must be text; the path is skipped');
        return;
      }
      out.push({
        host,
        path: asString(p.path) ?? '',
        pathType: p.pathType,
        backend: p.backend,
        at: where,
        i,
        j,
      });
    });
  });
  return out;
}

/** Traefik's buildRule for the nginx provider. */
export function buildRule(
  rp: RulePath,
  useRegex: boolean,
  aliases: string[] = [],
): string | { error: string } {
  const parts: string[] = [];
  if (rp.host !== '') {
    const hosts = [rp.host, ...aliases.filter((a) => a !== rp.host)];
    parts.push(hosts.length > 1 ? `(${hosts.map(hostRule).join(' || ')})` : hostRule(rp.host));
  }
  if (rp.path !== '') {
    if (rp.pathType === 'Exact') {
      if (!rp.path.startsWith('/')) return { error: `path ${shown(rp.path)} must start with "/"` };
      parts.push(`Path(${goQuote(rp.path)})`);
    } else if (useRegex) {
      // nginx: a case-insensitive regex location, anchored at the start (`location ~* "^path"`)
      const re = `(?i)^${rp.path}`;
      try {
        compileRe2(re);
      } catch (err) {
        return {
          error: `path ${shown(rp.path)} is not an RE2 regular expression (PCRE-only syntax?): ${err instanceof Error ? err.message : String(err)}`,
        };
      }
      parts.push(`PathRegexp(${goQuote(re)})`);
    } else {
      if (!rp.path.startsWith('/')) return { error: `path ${shown(rp.path)} must start with "/"` };
      if (rp.path === '/') parts.push('PathPrefix("/")');
      else {
        const p = rp.path.endsWith('/') ? rp.path.slice(0, -1) : rp.path;
        parts.push(`(Path(${goQuote(p)}) || PathPrefix(${goQuote(`${p}/`)}))`);
      }
    }
  }
  return parts.length > 0 ? parts.join(' && ') : 'PathPrefix("/")';
}

/**
 * nginx picks an exact location (`= /x`) before any prefix or regex one,
 * while Portico's default priority (the rule's length) would let
 * `PathPrefix("/")` outrank `Path("/x")`. An Exact path is given the
 * priority its Prefix form would have, plus one: above every path that can
 * match the same request, still on the rule-length scale the other
 * providers' routers use.
 */
export function exactPriority(
  rp: RulePath,
  useRegex: boolean,
  aliases: string[],
): number | undefined {
  if (rp.pathType !== 'Exact') return undefined;
  const prefix = buildRule({ ...rp, pathType: 'Prefix' }, useRegex, aliases);
  return typeof prefix === 'string' ? Buffer.byteLength(prefix, 'utf8') + 1 : undefined;
}

export function tlsHosts(spec: Record<string, unknown>): { any: boolean; hosts: Set<string> } {
  const hosts = new Set<string>();
  let any = false;
  for (const raw of asArray(spec.tls)) {
    const t = asRecord(raw);
    if (t === undefined) continue;
    any = true;
    for (const h of asArray(t.hosts)) if (typeof h === 'string') hosts.add(h);
  }
  return { any, hosts };
}
