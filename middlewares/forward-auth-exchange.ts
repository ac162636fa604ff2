/*
 * One forwardAuth exchange, piece by piece (middlewares/forward-auth.ts runs
 * them in order): the headers of the auth request, with X-Forwarded-*
 * computed here unless trustForwardHeader; a refusing answer relayed to the
 * client as it is (status, headers, body: how login redirects reach the
 * browser); a 2xx answer's headers and cookies carried onto the request.
 */
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { requestHasBody, type RequestContext } from '../src/kernel/context.js';
import { sendStatus } from '../src/kernel/status.js';
import { readWholeBody } from '../src/kernel/body.js';
import { HOP_BY_HOP } from '../src/kernel/hop-by-hop.js';
import { writeUpstreamHead } from '../src/proxy/response-head.js';
import { appendTraceContext, connectionTokens } from '../src/proxy/headers.js';
import type { ForwardAuthSettings } from './forward-auth-settings.js';

/**
 * Never sent to the auth server: hop-by-hop (Traefik's list carries the
 * misspelt "Trailers" too), what undici recomputes for the auth request, and
 * what a request does not carry past this proxy. Proxy-Authorization does go:
 * Traefik forwards it to the auth server (RFC 7235 §4.4).
 */
const REQUEST_SKIP: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  'trailers',
  'host',
  'content-length',
  'expect',
  'http2-settings',
]);

/** computed here (unless trustForwardHeader): the client's values are never passed on */
const FORWARDED = new Set([
  'x-forwarded-for',
  'x-forwarded-method',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-uri',
  'x-forwarded-port',
  'x-forwarded-server',
  'x-real-ip',
  'forwarded',
]);

/** not copied from a refusing auth response to the client (Traefik's list, and the shared one) */
const RESPONSE_SKIP: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'trailers', 'content-length']);

/** Go's http.CanonicalHeaderKey: the form Traefik's authResponseHeadersRegex is matched against. */
const canonicalCache = new Map<string, string>();
export function canonical(lower: string): string {
  let c = canonicalCache.get(lower);
  if (c === undefined) {
    c = lower.replace(/(^|-)([a-z])/g, (_m, sep: string, ch: string) => sep + ch.toUpperCase());
    if (canonicalCache.size < 4096) canonicalCache.set(lower, c);
  }
  return c;
}

function portOf(ctx: RequestContext): string {
  const raw = ctx.rawHost;
  const close = raw.lastIndexOf(']');
  const colon = raw.lastIndexOf(':');
  if (colon > close && colon !== -1) return raw.slice(colon + 1);
  return ctx.scheme === 'https' ? '443' : '80';
}

function headerValue(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.join(', ');
}

function cookieName(setCookie: string): string {
  const eq = setCookie.indexOf('=');
  return (eq === -1 ? setCookie : setCookie.slice(0, eq)).trim();
}

export class BodyTooLarge extends Error {}

/** Reads the request body whole, up to `max` bytes (-1 = no limit); null when there is none to read. */
export function readBody(ctx: RequestContext, max: number): Promise<Buffer | null> {
  if (ctx.body !== undefined) {
    return max >= 0 && ctx.body.length > max
      ? Promise.reject(new BodyTooLarge())
      : Promise.resolve(ctx.body.length > 0 ? ctx.body : null);
  }
  if (!requestHasBody(ctx.req)) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    // an empty body that was read still replaces the (now consumed) stream upstream
    readWholeBody(ctx.req, max, {
      done: resolve,
      tooLarge: () => reject(new BodyTooLarge()),
      gone: reject,
    });
  });
}

/** The auth request's headers, flat: the client's (minus the above), then X-Forwarded-*. */
export function authRequestHeaders(ctx: RequestContext, s: ForwardAuthSettings): string[] {
  const h = ctx.req.headers;
  const tokens = connectionTokens(h.connection);
  const out: string[] = [];
  for (const name in h) {
    // HTTP/2 pseudo-headers (:method, :path, :authority, :scheme) are not headers upstream
    if (name.charCodeAt(0) === 0x3a) continue;
    if (REQUEST_SKIP.has(name) || FORWARDED.has(name)) continue;
    if (tokens !== null && tokens.has(name)) continue;
    if (s.requestAllow !== undefined && !s.requestAllow.has(name)) continue;
    if (name === 'traceparent' || name === 'tracestate') continue;
    const v = h[name];
    if (v === undefined) continue;
    if (typeof v === 'string') out.push(name, v);
    else for (const x of v) out.push(name, x);
  }
  const given = (name: string): string | undefined =>
    s.trustForwardHeader ? headerValue(h[name]) : undefined;
  const prior = given('x-forwarded-for');
  out.push('x-forwarded-for', prior !== undefined ? `${prior}, ${ctx.clientIp}` : ctx.clientIp);
  out.push('x-forwarded-method', given('x-forwarded-method') ?? ctx.method);
  out.push('x-forwarded-proto', given('x-forwarded-proto') ?? ctx.scheme);
  out.push('x-forwarded-host', given('x-forwarded-host') ?? ctx.rawHost);
  out.push('x-forwarded-uri', given('x-forwarded-uri') ?? ctx.target());
  out.push('x-forwarded-port', given('x-forwarded-port') ?? portOf(ctx));
  out.push('x-real-ip', given('x-real-ip') ?? ctx.clientIp);
  // the auth call belongs to the request's trace, whatever authRequestHeaders lets through
  appendTraceContext(ctx, out);
  return out;
}

/** Relays a refusing auth answer to the client. */
export function relayRefusal(
  ctx: RequestContext,
  res: Dispatcher.ResponseData,
  body: Buffer,
  s: ForwardAuthSettings,
  logger: Logger,
): void {
  const out: string[] = [];
  for (const name in res.headers) {
    if (RESPONSE_SKIP.has(name) || name === 'location') continue;
    const v = res.headers[name];
    if (v === undefined) continue;
    if (typeof v === 'string') out.push(name, v);
    else for (const x of v) out.push(name, x);
  }
  const location = headerValue(res.headers.location);
  if (location !== undefined && location !== '') {
    if (s.preserveLocationHeader) out.push('location', location);
    else {
      // as Go's Response.Location(): relative to the auth request's URL
      let resolved: string;
      try {
        resolved = new URL(location, s.address.href).href;
      } catch {
        logger.debug({ location }, 'forwardAuth: unusable Location from the auth server');
        sendStatus(ctx.writer, 500);
        return;
      }
      out.push('location', resolved);
    }
  }
  out.push('content-length', String(body.length));
  // the auth server's answer is upstream input: a head Node refuses is a 502, never a throw
  const refused = writeUpstreamHead(ctx, res.statusCode, out, false);
  if (refused !== null) {
    logger.debug({ reason: refused }, 'forwardAuth: unusable response from the auth server');
    sendStatus(ctx.writer, 502);
    return;
  }
  ctx.writer.end(body);
}

/** addAuthCookiesToResponse: the auth server's cookies of the listed names replace the upstream's */
function addAuthCookies(
  ctx: RequestContext,
  res: Dispatcher.ResponseData,
  authCookies: Set<string>,
): void {
  const set = res.headers['set-cookie'];
  const given = set === undefined ? [] : typeof set === 'string' ? [set] : set;
  if (given.length === 0) return;
  const mine = given.filter((c) => authCookies.has(cookieName(c)));
  (ctx.responseHeaderHooks ??= []).push((_c, _s, headers) => {
    // upstream cookies of the listed names give way to the auth server's
    for (let i = headers.length - 2; i >= 0; i -= 2) {
      if (
        headers[i]!.toLowerCase() === 'set-cookie' &&
        authCookies.has(cookieName(headers[i + 1]!))
      )
        headers.splice(i, 2);
    }
    for (const c of mine) headers.push('set-cookie', c);
  });
}

/** 2xx: copies the auth headers onto the request (and cookies onto the response to come). */
export function admitRequest(
  ctx: RequestContext,
  res: Dispatcher.ResponseData,
  s: ForwardAuthSettings,
): void {
  const h = ctx.req.headers as Record<string, string | string[] | undefined>;
  if (s.userHeader !== undefined) {
    const u = res.headers[s.userHeader];
    if (typeof u === 'string') ctx.user = u;
  }
  for (const name of s.responseHeaders) {
    // the client's value never survives, whether or not the auth server sets one
    delete h[name];
    const v = res.headers[name];
    if (v !== undefined) h[name] = v;
  }
  const regex = s.responseRegex;
  if (regex !== undefined) {
    for (const name of Object.keys(h)) if (regex.test(canonical(name))) delete h[name];
    for (const name in res.headers) {
      const v = res.headers[name];
      if (v !== undefined && regex.test(canonical(name))) h[name] = v;
    }
  }
  if (s.authCookies.size > 0) addAuthCookies(ctx, res, s.authCookies);
}
