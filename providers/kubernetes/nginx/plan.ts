/* What one main Ingress's annotations make of its paths, in the order the middlewares apply. */
import { shown } from '../backends.js';
import type { ClusterView } from '../objects.js';
import { catalogueEntry, parseList, parseNginxSize } from './annotations.js';
import { planAuth } from './auth.js';
import { badValue, boolAnn, type IngressCtx, type IngressPlan, outcome } from './context.js';
import { planAliases, planCors, planHeaders } from './cors-headers.js';
import { planRedirects, planScheme, rewriteReplacement } from './rewrite.js';
import type { NginxProviderOptions } from './types.js';
import { planLimits, planSticky, planTransport } from './upstream.js';
import { validCidr } from './values.js';

export function planIngress(
  c: IngressCtx,
  view: ClusterView,
  opts: NginxProviderOptions,
  useRegexHost: boolean,
): IngressPlan {
  const plan: IngressPlan = {
    useRegex: useRegexHost,
    forceSslRedirect: false,
    scheme: 'http',
    nativeLB: false,
    aliases: [],
    middlewares: [],
  };
  boolAnn(c, 'use-regex');
  const rewrite = c.ann.get('rewrite-target');
  if (rewrite !== undefined && rewrite !== '') {
    const r = rewriteReplacement(rewrite.trim());
    if (typeof r === 'object') badValue(c, 'rewrite-target', r.error);
    else plan.rewrite = r;
  }
  plan.sslRedirect = boolAnn(c, 'ssl-redirect');
  plan.forceSslRedirect = boolAnn(c, 'force-ssl-redirect') === true;
  for (const n of ['ssl-redirect', 'force-ssl-redirect'])
    if (c.ann.has(n) && !c.outcomes.has(n)) outcome(c, n, 'approximated', catalogueEntry(n).note);

  planRedirects(c, plan);
  // both names given: both lists apply (a client must be in each), never the looser one alone
  for (const name of ['whitelist-source-range', 'allowlist-source-range']) {
    const range = c.ann.get(name);
    if (range === undefined) continue;
    const list = parseList(range);
    const bad = list.filter((s) => !validCidr(s));
    if (bad.length > 0)
      badValue(c, name, `not IPs or CIDRs: ${bad.map((b) => shown(b)).join(', ')}`);
    else if (list.length === 0) badValue(c, name, 'no IP or CIDR given');
    else {
      const suffix = plan.middlewares.some(([n]) => n === 'allowed-source-range')
        ? 'allowed-source-range-2'
        : 'allowed-source-range';
      plan.middlewares.push([suffix, { ipAllowList: { sourceRange: list } }]);
    }
  }
  planLimits(c, plan);
  planCors(c, plan);
  planAuth(c, view, plan, opts);
  const size = c.ann.get('proxy-body-size');
  if (size !== undefined) {
    const bytes = parseNginxSize(size);
    if (bytes === undefined) badValue(c, 'proxy-body-size', 'expected an nginx size such as 8m');
    else {
      outcome(c, 'proxy-body-size', 'approximated', catalogueEntry('proxy-body-size').note);
      // 0: no limit in nginx, and no middleware here
      if (bytes > 0)
        plan.middlewares.push(['buffering', { buffering: { maxRequestBodyBytes: bytes } }]);
    }
  }
  planScheme(c, plan);
  planTransport(c, plan);
  planHeaders(c, plan);
  plan.aliases = planAliases(c);
  // reached only when the Ingress is not a canary
  if (c.ann.has('canary') && boolAnn(c, 'canary') === false)
    outcome(c, 'canary', 'supported', 'not a canary Ingress');
  for (const n of [...c.ann.keys()].filter((k) => k.startsWith('canary-')))
    outcome(c, n, 'unsupported', 'has no effect without canary: "true"; ignored', 'warning');
  plan.nativeLB = boolAnn(c, 'service-upstream') === true;
  plan.sticky = planSticky(c);
  return plan;
}
