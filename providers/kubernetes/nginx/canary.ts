/*
 * Canary Ingresses (canary: "true"): their own annotations, and the rules
 * that route a request to the canary or away from it.
 */
import type { StickyConfig } from '../../../src/config/dynamic.js';
import { compileRe2 } from '../../../src/rules/regex.js';
import { goQuote } from '../ingress/rules.js';
import { catalogueEntry } from './annotations.js';
import { badValue, type IngressCtx, intAnn, outcome } from './context.js';
import { planSticky } from './upstream.js';
import { HEADER_TOKEN, quoteMeta } from './values.js';

export interface Canary {
  ingress: string;
  namespace: string;
  backend: unknown;
  at: string;
  weight: number;
  weightTotal: number;
  header?: string;
  headerValue?: string;
  headerPattern?: string;
  cookie?: string;
  sticky?: StickyConfig;
  ctx: IngressCtx;
  used: boolean;
}

export const pathKey = (ns: string, host: string, path: string): string =>
  JSON.stringify([ns, host, path]);

/** Reads a canary Ingress's own annotations; every other one is the main Ingress's (ingress-nginx). */
export function canaryConfig(c: IngressCtx): Omit<Canary, 'backend' | 'at' | 'used'> | undefined {
  const weightTotal = intAnn(c, 'canary-weight-total', 1, 1_000_000) ?? 100;
  const weight = intAnn(c, 'canary-weight', 0, 1_000_000) ?? 0;
  const cfg: Omit<Canary, 'backend' | 'at' | 'used'> = {
    ingress: c.name,
    namespace: c.namespace,
    weight: Math.min(weight, weightTotal),
    weightTotal,
    ctx: c,
  };
  const header = c.ann.get('canary-by-header')?.trim();
  if (header) {
    if (!HEADER_TOKEN.test(header)) badValue(c, 'canary-by-header', 'not a header name');
    else cfg.header = header;
  }
  const value = c.ann.get('canary-by-header-value');
  const pattern = c.ann.get('canary-by-header-pattern');
  if (value !== undefined && value !== '') cfg.headerValue = value;
  else if (pattern !== undefined && pattern !== '') {
    try {
      compileRe2(pattern);
      cfg.headerPattern = pattern;
      outcome(
        c,
        'canary-by-header-pattern',
        'approximated',
        catalogueEntry('canary-by-header-pattern').note,
      );
    } catch (err) {
      badValue(
        c,
        'canary-by-header-pattern',
        `not an RE2 regular expression: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  const cookie = c.ann.get('canary-by-cookie')?.trim();
  if (cookie) {
    if (!HEADER_TOKEN.test(cookie)) badValue(c, 'canary-by-cookie', 'not a cookie name');
    else cfg.cookie = cookie;
  }
  const sticky = planSticky(c);
  if (sticky !== undefined) cfg.sticky = sticky;
  const CANARY_OWN =
    /^(canary|canary-.*|affinity.*|session-cookie-.*|load-balance|upstream-hash-by)$/;
  for (const n of c.ann.keys()) {
    if (CANARY_OWN.test(n) || c.outcomes.has(n)) continue;
    const entry = catalogueEntry(n);
    if (entry.support === 'refused') outcome(c, n, 'refused', entry.note, 'error');
    else
      outcome(
        c,
        n,
        'unsupported',
        'on a canary Ingress, ingress-nginx takes this from the main Ingress; ignored',
        'warning',
      );
  }
  return c.blocked ? undefined : cfg;
}

export function canaryRule(rule: string, cn: Canary): string {
  const parts: string[] = [];
  if (cn.header !== undefined) {
    if (cn.headerValue !== undefined)
      parts.push(`Header(${goQuote(cn.header)}, ${goQuote(cn.headerValue)})`);
    else if (cn.headerPattern !== undefined)
      parts.push(`HeaderRegexp(${goQuote(cn.header)}, ${goQuote(cn.headerPattern)})`);
    else parts.push(`Header(${goQuote(cn.header)}, "always")`);
  }
  if (cn.cookie !== undefined) {
    let r = `HeaderRegexp("Cookie", ${goQuote(`(^|;\\s*)${quoteMeta(cn.cookie)}=always(;|$)`)})`;
    // header precedes cookie: `never` in the header keeps the request off the canary
    if (cn.header !== undefined && cn.headerValue === undefined && cn.headerPattern === undefined)
      r = `(${r} && !Header(${goQuote(cn.header)}, "never"))`;
    parts.push(r);
  }
  return `(${rule}) && (${parts.join(' || ')})`;
}

export function nonCanaryRule(rule: string, cn: Canary): string | undefined {
  const parts: string[] = [];
  if (cn.header !== undefined && cn.headerValue === undefined && cn.headerPattern === undefined)
    parts.push(`Header(${goQuote(cn.header)}, "never")`);
  if (cn.cookie !== undefined)
    parts.push(`HeaderRegexp("Cookie", ${goQuote(`(^|;\\s*)${quoteMeta(cn.cookie)}=never(;|$)`)})`);
  return parts.length > 0 ? `(${rule}) && (${parts.join(' || ')})` : undefined;
}
