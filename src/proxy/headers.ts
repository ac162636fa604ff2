/*
 * Header handling for the upstream leg: hop-by-hop stripping (RFC 9110 §7.6.1,
 * including the headers named in Connection), the X-Forwarded-* family,
 * kept from the client only when it is a trusted source, and W3C traceparent.
 */
import { hostname } from 'node:os';
import type { RequestContext } from '../server/context.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // undici refuses it; node's server already answered 100-continue to the client
  'expect',
  'http2-settings',
]);

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
  const tokens = connectionTokens(headers.connection);
  const out: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name)) {
      // gRPC needs `TE: trailers` end to end
      if (name === 'te' && typeof value === 'string' && value.toLowerCase().includes('trailers')) {
        out.push('te', 'trailers');
      }
      continue;
    }
    if (name === 'host') continue;
    // HTTP/2 pseudo-headers (:method, :path, :authority, :scheme) are not headers upstream
    if (name.charCodeAt(0) === 0x3a) continue;
    if (tokens !== null && tokens.has(name)) continue;
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
 * W3C Trace Context for an upstream request (src/observability/trace-context.ts):
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

/** Response headers that belong to one connection and are never relayed. */
export const RESPONSE_HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

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
    if (RESPONSE_HOP_BY_HOP.has(lower)) continue;
    if (tokens !== null && tokens.has(lower)) continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}
