/*
 * Writing a response head that came from an upstream (issue 11, item 2).
 * Everything in it is hostile input: nothing it holds may throw out of the
 * request path, where a throw is an uncaught exception that ends the worker
 * and every request on it.
 *
 * - The upstream's reason phrase is never relayed: Traefik (Go's server)
 *   writes the status code's own text, and a phrase with a control byte makes
 *   Node's writeHead throw (and stick to the response for the next attempt).
 * - A status outside 100-999 cannot be written: 502 (Go's transport refuses
 *   anything but three digits as well).
 * - A transfer coding other than `chunked` (`gzip, chunked`, `gzip`) cannot be
 *   re-framed without decoding: the body would reach the client stripped of
 *   its coding. Go's transport answers "unsupported transfer encoding"; 502.
 * - 204 and 304 carry no content: their Content-Length is dropped (RFC 9110
 *   §8.6 forbids it on 204; on 304 it can only describe a body we never send).
 * - What Node's writers still refuse (HTTP/2 forbids connection-specific
 *   fields and repeats of single-value ones) is retried once without those
 *   fields on HTTP/2, and is otherwise a 502 for this request only.
 */
import type { RequestContext } from '../kernel/context.js';
import { H2_FORBIDDEN } from '../kernel/hop-by-hop.js';

/** Why an upstream response head cannot be relayed; null when it can. */
export function unrelayableHead(status: number, raw: string[]): string | null {
  if (!(status >= 100 && status <= 999)) return `invalid status code ${status}`;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 17 || name.toLowerCase() !== 'transfer-encoding') continue;
    const value = raw[i + 1]!.trim().toLowerCase();
    if (value !== 'chunked') return `unsupported transfer encoding ${JSON.stringify(value)}`;
  }
  return null;
}

/** Removes Content-Length from a flat header list (204, 304). */
function withoutContentLength(headers: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length === 14 && name.toLowerCase() === 'content-length') continue;
    out.push(name, headers[i + 1]!);
  }
  return out;
}

/**
 * Fields Node's HTTP/2 writer accepts only once (node:internal/http2/util
 * kSingleValueHeaders, the singleton fields of RFC 9110): the first wins, as
 * Go's client keeps the first value of a repeated singleton.
 */
const H2_SINGLE_VALUE = new Set([
  'access-control-allow-credentials',
  'access-control-max-age',
  'access-control-request-method',
  'age',
  'authorization',
  'content-encoding',
  'content-language',
  'content-length',
  'content-location',
  'content-md5',
  'content-range',
  'content-type',
  'date',
  'dnt',
  'etag',
  'expires',
  'from',
  'host',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'range',
  'referer',
  'retry-after',
  'tk',
  'upgrade-insecure-requests',
  'user-agent',
  'x-content-type-options',
]);

/** The fields an HTTP/2 response can carry: no connection-specific ones, singletons once. */
export function h2SafeHeaders(headers: string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    // RFC 9113 §8.2.2: TE is allowed on requests only
    if (H2_FORBIDDEN.has(name) || name === 'te') continue;
    if (H2_SINGLE_VALUE.has(name)) {
      if (seen.has(name)) continue;
      seen.add(name);
    }
    out.push(name, headers[i + 1]!);
  }
  return out;
}

/**
 * Writes an upstream's status and headers to ctx.writer (middleware hooks
 * included). Returns null when written, or the reason it could not be: the
 * caller then ends the upstream exchange and answers 502. Never throws.
 */
export function writeUpstreamHead(
  ctx: RequestContext,
  status: number,
  headers: string[],
  runHooks = true,
): string | null {
  let list = status === 204 || status === 304 ? withoutContentLength(headers) : headers;
  const h2 = ctx.req.httpVersionMajor === 2;
  // a middleware's wrapper (compress, buffering) writes the head later, out of reach of the
  // retry below: HTTP/2's rules are applied up front then
  if (h2 && ctx.writer !== (ctx.res as unknown)) list = h2SafeHeaders(list);
  try {
    const hooks = runHooks ? ctx.responseHeaderHooks : undefined;
    if (hooks !== undefined) for (const hook of hooks) hook(ctx, status, list);
    ctx.writer.writeHead(status, undefined, list);
    return null;
  } catch (err) {
    if (ctx.writer.headersSent) return null;
    const reason = err instanceof Error ? err.message : String(err);
    if (h2) {
      try {
        clearHeaders(ctx);
        ctx.writer.writeHead(status, undefined, h2SafeHeaders(list));
        return null;
      } catch {
        // fall through: the head cannot be written at all
      }
    }
    clearHeaders(ctx);
    return `response head refused: ${reason}`;
  }
}

/**
 * A writeHead that threw may leave its headers (and on HTTP/1.1 its status
 * message) on the client's response; the 502 that follows must not carry them.
 */
function clearHeaders(ctx: RequestContext): void {
  const res = ctx.res;
  if (res.headersSent) return;
  try {
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    if (ctx.req.httpVersionMajor !== 2) res.statusMessage = '';
  } catch {
    // nothing more to clean
  }
}
