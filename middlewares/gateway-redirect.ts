/*
 * RequestRedirect: the Gateway API RequestRedirect filter, an internal type
 * the Kubernetes Gateway provider emits (Traefik: pkg/middlewares/gatewayapi/
 * redirect). Unlike redirectRegex it always answers, even with the request's
 * own URL (an HTTPS listener's `scheme: https` redirect is still a redirect),
 * and keeps the configured status: 301, 302, 303, 307 or 308.
 *
 * The Location is the request's URL with what the filter gives replaced:
 * scheme (default: this hop's), hostname (default: the Host's), port
 * (default: the Host's; "" for none), path (full, or with pathPrefix the
 * matched prefix, as URLRewrite). The query is kept. A port that is the
 * scheme's well-known one (80 for http, 443 for https) is left out, as the
 * spec asks (HTTPRequestRedirectFilter.Port).
 */
import { STATUS_CODES } from 'node:http';
import { ConfigElementError } from '../src/kernel/errors.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { checkedPath, modifiedPath } from './gateway-url-rewrite.js';
import { requestRedirect as schema } from '../src/config/schema/middlewares/gateway.js';

const STATUSES = new Set([301, 302, 303, 307, 308]);
const HOSTNAME = /^[A-Za-z0-9.-]+$/;
const NOT_URL_SAFE = /[^\x21-\x7e]/u;
const NOT_URL_SAFE_ALL = /[^\x21-\x7e]/gu;

/** Percent-encodes spaces and non-ASCII of a path and query, as Go's URL.String() does, so Location is valid. */
function escapeUrl(query: string): string {
  if (!NOT_URL_SAFE.test(query)) return query;
  return query.replace(NOT_URL_SAFE_ALL, (ch) => {
    let out = '';
    for (const b of Buffer.from(ch, 'utf8'))
      out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    return out;
  });
}

/** host and port of a Host header value (`[v6]:port` too). */
function splitHost(raw: string): [string, string] {
  const close = raw.lastIndexOf(']');
  const colon = raw.lastIndexOf(':');
  if (colon > close && colon !== -1) return [raw.slice(0, colon), raw.slice(colon + 1)];
  return [raw, ''];
}

export const requestRedirect: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  providers: schema.providers,
  create(raw) {
    const o = decodeOptions(schema.options, raw);
    const status = o.statusCode ?? 302;
    if (!STATUSES.has(status))
      throw new ConfigElementError(`${status} is not 301, 302, 303, 307 or 308`, 'statusCode');
    const scheme = o.scheme?.toLowerCase();
    if (scheme !== undefined && scheme !== 'http' && scheme !== 'https')
      throw new ConfigElementError('must be http or https', 'scheme');
    if (o.hostname !== undefined && !HOSTNAME.test(o.hostname))
      throw new ConfigElementError('is not a DNS name', 'hostname');
    const port = o.port;
    if (port !== undefined && port !== '' && !/^[0-9]{1,5}$/.test(port))
      throw new ConfigElementError('must be a port number or empty', 'port');
    const path = checkedPath(o.path, 'path');
    const prefix = checkedPath(o.pathPrefix, 'pathPrefix');
    if (prefix !== undefined && path === undefined)
      throw new ConfigElementError('needs path (the replacement)', 'pathPrefix');
    const body = STATUS_CODES[status]!;

    return () => (ctx) => {
      const finalScheme = scheme ?? ctx.scheme;
      const [reqHost, reqPort] = splitHost(ctx.rawHost);
      const host = o.hostname ?? reqHost;
      let p = port ?? reqPort;
      if ((finalScheme === 'http' && p === '80') || (finalScheme === 'https' && p === '443'))
        p = '';
      const newPath = path === undefined ? ctx.path : modifiedPath(ctx.path, path, prefix);
      const query = ctx.rawQuery === '' ? '' : '?' + ctx.rawQuery;
      const location = `${finalScheme}://${host}${p === '' ? '' : ':' + p}${escapeUrl(newPath + query)}`;
      ctx.writer.writeHead(status, undefined, [
        'location',
        location,
        'content-type',
        'text/plain; charset=utf-8',
        'content-length',
        String(body.length),
      ]);
      ctx.writer.end(ctx.method === 'HEAD' ? undefined : body);
    };
  },
};
