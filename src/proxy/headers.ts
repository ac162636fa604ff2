/*
 * Request headers on arrival and on the upstream leg. On arrival (the
 * entrypoint, before routing and middlewares): the headers the client's
 * Connection header names are removed (RFC 9110 §7.6.1), and so are
 * underscore spellings of identity headers. On the upstream leg: hop-by-hop
 * stripping, the X-Forwarded-* family (kept from the client only when it is a
 * trusted source), and W3C traceparent. Nothing is removed on the upstream leg
 * because the client's Connection header named it: by then middlewares may
 * have set a header of that name themselves (Traefik's CVE-2024-45410).
 */
import type { IncomingMessage } from 'node:http';
import { hostname } from 'node:os';
import type { RequestContext } from '../kernel/context.js';
import { HOP_BY_HOP, REQUEST_HOP_BY_HOP } from '../kernel/hop-by-hop.js';

/** Headers Portico computes itself; a trusted client's values are merged, an untrusted one's dropped. */
const FORWARDED = new Set([
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-server',
  'x-real-ip',
]);

const SERVER_NAME = hostname();

/** Tokens listed in a Connection header, lower-cased; null when there are none worth checking. */
export function connectionTokens(value: string | undefined): Set<string> | null {
  if (value === undefined) return null;
  const v = value.toLowerCase();
  if (v === 'keep-alive' || v === 'close') return null;
  const set = new Set<string>();
  for (const t of v.split(',')) {
    const name = t.trim();
    if (name !== '') set.add(name);
  }
  return set;
}

/** Connection options that are not header names to remove (RFC 9112 §9.3, §9.6; RFC 9110 §7.8). */
const CONNECTION_OPTIONS = new Set(['close', 'keep-alive', 'upgrade']);

/**
 * Headers a client's Connection header cannot remove: framing and routing (Host, Content-Length,
 * Transfer-Encoding, TE), the hop-by-hop ones handled at forward time anyway, and the forwarded
 * family, which Traefik refuses to let Connection remove either (forwardedheaders
 * removeConnectionHeaders: "Connection header cannot dictate to remove X- headers managed by
 * Traefik"). An untrusted client's forwarded headers are dropped before this, whatever it says.
 */
function connectionMayRemove(name: string): boolean {
  if (REQUEST_HOP_BY_HOP.has(name) || name === 'host' || name === 'content-length') return false;
  if (name.charCodeAt(0) === 0x3a) return false; // HTTP/2 pseudo-headers
  return !isForwardedFamily(name);
}

function isForwardedFamily(name: string): boolean {
  return (
    name.startsWith('x-forwarded-') ||
    name === 'x-real-ip' ||
    name === 'forwarded' ||
    name === 'x-scheme'
  );
}

/**
 * Identity and forwarding headers: what Portico sets (the X-Forwarded-* family, X-Real-Ip,
 * Forwarded, passTLSClientCert's X-Forwarded-Tls-Client-Cert*) and what upstreams commonly take as
 * the authenticated caller from a gateway in front (Kong's X-Consumer-* and
 * X-Credential-Identifier, oauth2-proxy's X-Auth-Request-*, the Remote-User family, Traefik's
 * basicAuth headerField example X-WebAuth-User). Checked in lower case with '_' read as '-'.
 */
function isIdentityHeader(normalised: string): boolean {
  return (
    isForwardedFamily(normalised) ||
    normalised.startsWith('x-consumer-') ||
    normalised.startsWith('x-auth-request-') ||
    normalised.startsWith('x-authenticated-') ||
    normalised === 'x-credential-identifier' ||
    normalised === 'x-anonymous-consumer' ||
    normalised === 'x-webauth-user' ||
    normalised === 'x-remote-user' ||
    normalised === 'remote-user' ||
    normalised === 'x-user'
  );
}

/**
 * A header name with '_' that reads as an identity header once '_' is taken for '-' (X_Forwarded_For,
 * X-Real_IP): CGI, PHP, Django, Rails and some WSGI servers map both spellings to the same variable,
 * so a client could set a value Portico never checked (nginx drops every such name by default:
 * underscores_in_headers off). Other underscore names pass, as in Traefik.
 */
export function isUnderscoreIdentity(name: string): boolean {
  if (name.indexOf('_') === -1) return false;
  return isIdentityHeader(name.toLowerCase().replaceAll('_', '-'));
}

/**
 * Cleans a request's headers on arrival, before routing and any middleware (issue 11 items 5, 9):
 * removes the headers named by the client's Connection header (keeping close, keep-alive and
 * upgrade as its only options) and underscore spellings of identity headers. req.headers, and
 * when something goes, req.headersDistinct and req.rawHeaders, all lose them.
 */
export function cleanArrivalHeaders(req: IncomingMessage): void {
  const headers = req.headers;
  let drop: Set<string> | null = null;
  const connection = headers.connection;
  const tokens = typeof connection === 'string' ? connectionTokens(connection) : null;
  let kept = '';
  if (tokens !== null) {
    for (const token of tokens) {
      if (CONNECTION_OPTIONS.has(token)) kept = kept === '' ? token : `${kept}, ${token}`;
      else if (connectionMayRemove(token)) (drop ??= new Set()).add(token);
    }
    if (kept.length !== connection!.length) (drop ??= new Set()).add('connection');
  }
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (isUnderscoreIdentity(name)) (drop ??= new Set()).add(name.toLowerCase());
  }
  if (drop === null) return;
  // the distinct view is built lazily from rawHeaders: build it while the list is whole
  const distinct = (req as { headersDistinct?: Record<string, string[]> }).headersDistinct;
  for (const name of drop) {
    delete headers[name];
    if (distinct !== undefined) delete distinct[name];
  }
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    if (drop.has(raw[i]!.toLowerCase())) raw.splice(i, 2);
  }
  if (drop.has('connection') && kept !== '') {
    headers.connection = kept;
    if (distinct !== undefined) distinct.connection = [kept];
    raw.push('Connection', kept);
  }
}

export interface UpstreamHeaderOptions {
  passHostHeader: boolean;
  /** host[:port] of the chosen server, used as Host when passHostHeader is false */
  serverHost: string;
  /** keep the client's X-Forwarded-* (trusted source or insecure entrypoint) */
  trusted: boolean;
  /** the entrypoint's own port, for X-Forwarded-Port when the Host header has none */
  entryPointPort: number;
}

/**
 * Builds the upstream request headers as a flat [name, value, ...] list, the
 * form undici takes without another copy.
 */
export function upstreamHeaders(
  ctx: RequestContext,
  opts: UpstreamHeaderOptions,
  upgrade = false,
): string[] {
  const headers = ctx.req.headers;
  const out: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (REQUEST_HOP_BY_HOP.has(name)) {
      // gRPC needs `TE: trailers` end to end
      if (name === 'te' && typeof value === 'string' && value.toLowerCase().includes('trailers')) {
        out.push('te', 'trailers');
      }
      continue;
    }
    if (name === 'host') continue;
    // HTTP/2 pseudo-headers (:method, :path, :authority, :scheme) are not headers upstream
    if (name.charCodeAt(0) === 0x3a) continue;
    // no Connection-token check here: the entrypoint removed what the client named on arrival
    // an untrusted client's forwarded family was already dropped by the entrypoint
    if (FORWARDED.has(name)) continue;
    // trace context is decided once per request (appendTraceContext)
    if (name === 'traceparent' || name === 'tracestate') continue;
    if (typeof value === 'string') out.push(name, value);
    else for (const v of value) out.push(name, v);
  }
  appendTraceContext(ctx, out);
  if (upgrade) out.push('connection', 'upgrade', 'upgrade', String(headers.upgrade ?? 'websocket'));

  out.push('host', opts.passHostHeader ? ctx.rawHost || opts.serverHost : opts.serverHost);

  const trusted = opts.trusted;
  const prevFor = trusted ? headers['x-forwarded-for'] : undefined;
  out.push('x-forwarded-for', prevFor ? `${prevFor}, ${ctx.clientIp}` : ctx.clientIp);
  const proto = trusted ? headers['x-forwarded-proto'] : undefined;
  const scheme = upgrade ? (ctx.scheme === 'https' ? 'wss' : 'ws') : ctx.scheme;
  out.push('x-forwarded-proto', typeof proto === 'string' ? proto : scheme);
  const fwdHost = trusted ? headers['x-forwarded-host'] : undefined;
  out.push('x-forwarded-host', typeof fwdHost === 'string' ? fwdHost : ctx.requestHost);
  const fwdPort = trusted ? headers['x-forwarded-port'] : undefined;
  out.push(
    'x-forwarded-port',
    typeof fwdPort === 'string' ? fwdPort : forwardedPort(ctx, opts.entryPointPort),
  );
  out.push('x-forwarded-server', SERVER_NAME);
  const realIp = trusted ? headers['x-real-ip'] : undefined;
  out.push('x-real-ip', typeof realIp === 'string' ? realIp : ctx.clientIp);
  return out;
}

/**
 * W3C Trace Context for an upstream request (src/kernel/trace-context.ts):
 * the client's valid traceparent and its tracestate unchanged, or a generated
 * traceparent without the tracestate that belonged to the invalid one (spec §4.3).
 */
export function appendTraceContext(ctx: RequestContext, out: string[]): void {
  out.push('traceparent', ctx.traceparent());
  if (!ctx.traceContinued) return;
  const state = ctx.req.headers.tracestate;
  if (typeof state === 'string') out.push('tracestate', state);
  else if (state !== undefined) for (const v of state) out.push('tracestate', v);
}

function forwardedPort(ctx: RequestContext, entryPointPort: number): string {
  const raw = ctx.requestHost;
  const close = raw.lastIndexOf(']');
  const colon = raw.lastIndexOf(':');
  if (colon > close && colon !== -1) return raw.slice(colon + 1);
  if (raw !== '') return ctx.scheme === 'https' ? '443' : '80';
  return String(entryPointPort);
}

/**
 * Converts an upstream response's raw headers ([name, value, ...] as the
 * HTTP/1.1 client hands them over) into the flat list res.writeHead accepts,
 * without the hop-by-hop ones.
 */
export function responseHeaders(raw: string[]): string[] {
  const out: string[] = [];
  let tokens: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 10 && name.toLowerCase() === 'connection') {
      tokens = connectionTokens(raw[i + 1]!);
      break;
    }
  }
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) continue;
    if (tokens !== null && tokens.has(lower)) continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}
