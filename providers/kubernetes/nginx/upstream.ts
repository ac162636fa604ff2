/* Affinity (sticky cookies), proxy timeouts and TLS to the servers (serversTransport), rate and connection limits. */
import type { ServersTransportConfig, StickyConfig } from '../../../src/config/dynamic.js';
import { catalogueEntry } from './annotations.js';
import {
  badValue,
  boolAnn,
  type IngressCtx,
  type IngressPlan,
  ignoredWithout,
  intAnn,
  outcome,
} from './context.js';
import { HEADER_TOKEN } from './values.js';

export function planSticky(c: IngressCtx): StickyConfig | undefined {
  const affinity = c.ann.get('affinity');
  if (affinity === undefined) {
    for (const n of [...c.ann.keys()].filter((k) => k.startsWith('session-cookie-')))
      outcome(c, n, 'unsupported', 'has no effect without affinity: cookie; ignored', 'warning');
    return undefined;
  }
  if (affinity.trim() !== 'cookie') {
    badValue(c, 'affinity', 'the only affinity type is cookie');
    return undefined;
  }
  const cookie: Record<string, unknown> = {
    name: c.ann.get('session-cookie-name')?.trim() || 'INGRESSCOOKIE',
    httpOnly: true,
    path: c.ann.get('session-cookie-path')?.trim() || '/',
  };
  if (!HEADER_TOKEN.test(cookie.name as string)) {
    badValue(c, 'session-cookie-name', 'not a cookie name');
    return undefined;
  }
  const secure = boolAnn(c, 'session-cookie-secure');
  if (secure !== undefined) cookie.secure = secure;
  const domain = c.ann.get('session-cookie-domain')?.trim();
  if (domain) cookie.domain = domain;
  const sameSite = c.ann.get('session-cookie-samesite');
  if (sameSite !== undefined) {
    const s = sameSite.trim().toLowerCase();
    if (['none', 'lax', 'strict'].includes(s)) cookie.sameSite = s;
    else badValue(c, 'session-cookie-samesite', 'expected None, Lax or Strict');
  }
  const maxAge = intAnn(c, 'session-cookie-max-age', 0, 2 ** 31 - 1);
  const expires = intAnn(c, 'session-cookie-expires', 0, 2 ** 31 - 1);
  if (maxAge !== undefined) cookie.maxAge = maxAge;
  else if (expires !== undefined) cookie.maxAge = expires;
  if (c.ann.has('session-cookie-expires') && expires !== undefined)
    outcome(
      c,
      'session-cookie-expires',
      'approximated',
      catalogueEntry('session-cookie-expires').note,
    );
  return { cookie } as StickyConfig;
}

export function planTransport(c: IngressCtx, plan: IngressPlan): void {
  const t: ServersTransportConfig = {};
  const timeouts: Record<string, string> = {};
  const connect = intAnn(c, 'proxy-connect-timeout', 0, 86400 * 365);
  if (connect !== undefined) timeouts.dialTimeout = `${connect}s`;
  const read = intAnn(c, 'proxy-read-timeout', 0, 86400 * 365);
  if (read !== undefined) {
    timeouts.responseHeaderTimeout = `${read}s`;
    outcome(c, 'proxy-read-timeout', 'approximated', catalogueEntry('proxy-read-timeout').note);
  }
  if (Object.keys(timeouts).length > 0)
    t.forwardingTimeouts = timeouts as ServersTransportConfig['forwardingTimeouts'];
  if (plan.scheme === 'https') {
    // nginx's default (proxy_ssl_verify off), as Traefik's provider does
    const verify = c.ann.get('proxy-ssl-verify');
    const v = verify?.trim().toLowerCase();
    if (verify !== undefined && v !== 'on' && v !== 'off')
      badValue(c, 'proxy-ssl-verify', 'expected on or off');
    t.insecureSkipVerify = v !== 'on';
    const sni = (c.ann.get('proxy-ssl-name') ?? c.ann.get('proxy-ssl-server-name'))?.trim();
    if (sni) t.serverName = sni;
  } else {
    ignoredWithout(
      c,
      ['proxy-ssl-verify', 'proxy-ssl-name', 'proxy-ssl-server-name'],
      'has no effect unless backend-protocol is HTTPS or GRPCS; ignored',
    );
  }
  if (Object.keys(t).length > 0) plan.transport = t;
}

/**
 * limit-rps / limit-rpm → rateLimit per client IP, burst = limit × limit-burst-multiplier (5),
 * as nginx's `limit_req ... burst=N nodelay`; limit-connections → inFlightReq per client IP.
 * Over the limit Portico answers 429 where ingress-nginx answers 503 (limit-req-status-code).
 */
export function planLimits(c: IngressCtx, plan: IngressPlan): void {
  const multiplier = c.ann.has('limit-burst-multiplier')
    ? intAnn(c, 'limit-burst-multiplier', 1, 1000)
    : 5;
  for (const [name, period] of [
    ['limit-rps', '1s'],
    ['limit-rpm', '1m'],
  ] as const) {
    const n = intAnn(c, name, 0, 1_000_000_000);
    if (n === undefined || n === 0 || multiplier === undefined) continue;
    plan.middlewares.push([
      name,
      {
        rateLimit: {
          average: n,
          period,
          burst: n * multiplier,
          sourceCriterion: { ipStrategy: {} },
        },
      },
    ]);
    outcome(
      c,
      name,
      'approximated',
      `rateLimit of ${n} per ${period === '1s' ? 'second' : 'minute'} per client IP, burst ${n * multiplier}; over it Portico answers 429 where ingress-nginx answers 503`,
    );
  }
  if (c.ann.has('limit-burst-multiplier') && !c.outcomes.has('limit-burst-multiplier'))
    outcome(
      c,
      'limit-burst-multiplier',
      'supported',
      'the rateLimit burst is the limit times this',
    );
  const conns = intAnn(c, 'limit-connections', 0, 1_000_000_000);
  if (conns !== undefined && conns > 0) {
    plan.middlewares.push([
      'limit-connections',
      { inFlightReq: { amount: conns, sourceCriterion: { ipStrategy: {} } } },
    ]);
    outcome(
      c,
      'limit-connections',
      'approximated',
      'inFlightReq per client IP: counts requests in flight rather than connections; over it 429 where nginx answers 503',
    );
  }
}
