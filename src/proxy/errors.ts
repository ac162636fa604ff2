/*
 * The one place that maps upstream transport failures to client statuses
 * (as @fastify/reply-from does): refused or reset → 502, too slow → 504.
 * 503 (no healthy server) is decided by the load balancer, not here; the
 * answer itself is written by sendStatus (src/kernel/status.ts).
 *
 * The error codes of Portico's HTTP/1.1 client (h1-pool.ts and its undici
 * fallback h1-undici.ts) live here too, so that both implementations report
 * the same codes and callers branch on one set.
 */

/** connecting (TCP and TLS handshake) took longer than the serversTransport's dialTimeout */
export const DIAL_TIMEOUT = 'PORTICO_ERR_DIAL_TIMEOUT';
/** no response head within responseHeaderTimeout */
export const HEADERS_TIMEOUT = 'PORTICO_ERR_HEADERS_TIMEOUT';
/** the connection closed or broke before the response was complete */
export const UPSTREAM_CLOSED = 'PORTICO_ERR_UPSTREAM_CLOSED';
/** the upstream's bytes are not a valid HTTP/1.1 response head (the parser's reason is in the message) */
export const BAD_RESPONSE = 'PORTICO_ERR_BAD_RESPONSE';
/**
 * The upstream's bytes broke HTTP/1.1 framing after the response head was
 * handed on (bad chunk size, bytes after a close): an upstream fault, not the
 * client's; the client's response can only be cut (issue 11, item 9).
 */
export const BAD_RESPONSE_BODY = 'PORTICO_ERR_BAD_RESPONSE_BODY';
/** a request this client refuses to write (invalid header or target, body length mismatch) */
export const BAD_REQUEST = 'PORTICO_ERR_BAD_REQUEST';
/**
 * A streamed request body ended short of, or ran past, its Content-Length:
 * the upstream connection is destroyed, never reused (issue 11, item 1).
 */
export const REQUEST_BODY_LENGTH = 'PORTICO_ERR_REQUEST_BODY_LENGTH';
/** the client's request body broke off (reset, error, close before its end): the upstream connection is destroyed */
export const REQUEST_BODY_ABORTED = 'PORTICO_ERR_REQUEST_BODY_ABORTED';

export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Every error the HTTP/1.1 client reports carries `requestWritten`: whether
 * any byte of the request went to an upstream (on any attempt). Traefik's
 * retry middleware stops retrying once the request headers were written,
 * whatever the method (httptrace WroteHeaders in pkg/middlewares/retry).
 */
export function markRequestWritten(err: Error, written: boolean): Error {
  (err as Error & { requestWritten?: boolean }).requestWritten = written;
  return err;
}

/** true/false when the HTTP/1.1 client said; undefined for errors of other transports */
export function upstreamRequestWritten(err: unknown): boolean | undefined {
  const v = (err as { requestWritten?: unknown } | null)?.requestWritten;
  return typeof v === 'boolean' ? v : undefined;
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  DIAL_TIMEOUT,
  HEADERS_TIMEOUT,
]);

export function statusForUpstreamError(err: unknown): 502 | 504 {
  const code = (err as { code?: string } | null)?.code;
  if (code !== undefined && TIMEOUT_CODES.has(code)) return 504;
  return 502;
}
