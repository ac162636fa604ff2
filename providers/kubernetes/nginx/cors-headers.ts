/* enable-cors and cors-*, upstream-vhost and x-forwarded-prefix, server-alias. */
import { shown } from '../backends.js';
import { hostProblem } from '../ingress/rules.js';
import { parseList } from './annotations.js';
import {
  badValue,
  boolAnn,
  type IngressCtx,
  type IngressPlan,
  intAnn,
  outcome,
} from './context.js';
import { HEADER_VALUE, quoteMeta } from './values.js';

const DEFAULT_CORS_METHODS = 'GET, PUT, POST, DELETE, PATCH, OPTIONS';
const DEFAULT_CORS_HEADERS =
  'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization';

export function planCors(c: IngressCtx, plan: IngressPlan): void {
  const enabled = boolAnn(c, 'enable-cors');
  if (enabled !== true) {
    for (const n of [...c.ann.keys()].filter((k) => k.startsWith('cors-')))
      outcome(c, n, 'unsupported', 'has no effect without enable-cors: "true"; ignored', 'warning');
    return;
  }
  const list = (name: string, fallback: string, valid: RegExp): string[] => {
    const given = c.ann.get(name);
    const items = parseList(given ?? fallback);
    const bad = items.filter((i) => !valid.test(i));
    if (bad.length > 0) {
      // ingress-nginx falls back to the default on a value it does not accept
      outcome(
        c,
        name,
        'approximated',
        `invalid entries ${bad.join(', ')}: the default is used, as ingress-nginx does`,
      );
      return parseList(fallback);
    }
    return items;
  };
  const headers: Record<string, unknown> = {
    accessControlAllowMethods: list('cors-allow-methods', DEFAULT_CORS_METHODS, /^[A-Za-z]+$/),
    accessControlAllowHeaders: list('cors-allow-headers', DEFAULT_CORS_HEADERS, /^[A-Za-z0-9_-]+$/),
  };
  const expose = list('cors-expose-headers', '', /^(\*|[A-Za-z0-9_-]+)$/);
  if (expose.length > 0) headers.accessControlExposeHeaders = expose;
  const origins = parseList(c.ann.get('cors-allow-origin') ?? '*');
  const exact: string[] = [];
  const regex: string[] = [];
  for (const o of origins) {
    if (o === '*') exact.push(o);
    else {
      const m = /^([a-z][a-z0-9+.-]*):\/\/(\*\.)?([A-Za-z0-9.-]+)(:\d{1,5})?$/i.exec(o);
      if (!m) {
        badValue(c, 'cors-allow-origin', `${shown(o)} is not scheme://host[:port]`);
        return;
      }
      if (m[2] === undefined) exact.push(o);
      // ingress-nginx: one level of subdomain
      else
        regex.push(
          `^${quoteMeta(m[1]!)}://[A-Za-z0-9-]+\\.${quoteMeta(m[3]!)}${quoteMeta(m[4] ?? '')}$`,
        );
    }
  }
  if (exact.length > 0) headers.accessControlAllowOriginList = exact;
  if (regex.length > 0) headers.accessControlAllowOriginListRegex = regex;
  const cred = c.ann.has('cors-allow-credentials') ? boolAnn(c, 'cors-allow-credentials') : true;
  if (cred === true) headers.accessControlAllowCredentials = true;
  const maxAge = c.ann.has('cors-max-age') ? intAnn(c, 'cors-max-age', 0, 2 ** 31 - 1) : 1728000;
  if (maxAge !== undefined) headers.accessControlMaxAge = maxAge;
  headers.addVaryHeader = true;
  plan.middlewares.push(['cors', { headers }]);
}

/** upstream-vhost (the Host sent to the servers) and x-forwarded-prefix → a headers middleware each. */
export function planHeaders(c: IngressCtx, plan: IngressPlan): void {
  const vhost = c.ann.get('upstream-vhost')?.trim();
  if (vhost !== undefined) {
    if (vhost.includes('$'))
      badValue(c, 'upstream-vhost', 'nginx variables cannot be expanded by Portico');
    else if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(vhost))
      badValue(c, 'upstream-vhost', 'expected a host name, optionally with :port');
    else plan.middlewares.push(['vhost', { headers: { customRequestHeaders: { Host: vhost } } }]);
  }
  const prefix = c.ann.get('x-forwarded-prefix');
  if (prefix !== undefined) {
    if (prefix === '' || !HEADER_VALUE.test(prefix))
      badValue(c, 'x-forwarded-prefix', 'not a header value');
    else
      plan.middlewares.push([
        'x-forwarded-prefix',
        { headers: { customRequestHeaders: { 'X-Forwarded-Prefix': prefix } } },
      ]);
  }
}

/** server-alias: more hosts for the rules of the Ingress (Traefik: Host(a) || Host(b)). */
export function planAliases(c: IngressCtx): string[] {
  const raw = c.ann.get('server-alias');
  if (raw === undefined) return [];
  const list = parseList(raw);
  const bad = list.filter((h) => hostProblem(h) !== undefined);
  if (bad.length > 0) {
    badValue(c, 'server-alias', `not host names: ${bad.map((b) => shown(b)).join(', ')}`);
    return [];
  }
  return list;
}
