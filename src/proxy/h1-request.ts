/*
 * What the HTTP/1.1 client's pool and its connections (native, h1-connection.ts,
 * or undici, h1-undici.ts) share: a request and the handler told of its
 * outcome, the pool's options, one request's state, and the checks made on a
 * request before any byte of it is written or before it is sent again.
 */
import { Http2ServerRequest } from 'node:http2';
import type { Readable } from 'node:stream';
import { BAD_REQUEST, UpstreamError } from './errors.js';
import type { H1ClientKind } from './h1-parser.js';

/** Told what happens to one request, in order: onConnect, onHeaders, onData*, onComplete | onError. */
export interface H1Handler {
  /** the request is about to be written; abort() cancels it (onError follows) */
  onConnect(abort: (err?: Error) => void): void;
  /** false pauses the response until resume() */
  onHeaders(status: number, headers: string[], resume: () => void, statusText: string): boolean;
  /** false pauses the response until resume() */
  onData(chunk: Buffer): boolean;
  onComplete(trailers: string[] | null): void;
  /** the error has a stable `code` (errors.ts) and `requestWritten` (upstreamRequestWritten) */
  onError(err: Error): void;
}

/** The pool, as a connection sees it, native or undici (h1-pool.ts H1Pool; a type, so no import cycle at run time). */
export interface ConnectionOwner {
  readonly options: H1PoolOptions;
  /** the newest TLS session ticket from the origin, shared by its connections */
  tlsSession: Buffer | undefined;
  release(conn: PoolConnection): void;
  forget(conn: PoolConnection): void;
  fail(p: Pending, err: Error, conn?: PoolConnection, resendable?: boolean): void;
}

/** Go's transport gives up after 5 interim (1xx) responses to one request ("too many 1xx informational responses"). */
export const MAX_INTERIM_RESPONSES = 5;

export interface H1Request {
  method: string;
  /** origin-form target: path and query */
  path: string;
  /** flat [name, value, ...]; no hop-by-hop headers, Host included */
  headers: string[];
  /** null, a whole body, or a stream (the client's request) */
  body: Buffer | Readable | null;
}

export interface H1PoolOptions {
  /**
   * Idle keep-alive connections kept for reuse (Traefik's maxIdleConnsPerHost,
   * Go's MaxIdleConnsPerHost): 0 → 2 (Go's default), < 0 → none (every
   * connection closes after its response). Active connections are not capped.
   */
  maxIdleConnections: number;
  dialTimeoutMs: number;
  /** 0: wait as long as it takes */
  headersTimeoutMs: number;
  idleTimeoutMs: number;
  maxHeaderSize: number;
  /** https:// origins: the TLS settings of the serversTransport (HTTP/1.1 is offered by ALPN) */
  tls?: { rejectUnauthorized: boolean; servername?: string | undefined; ca?: string[] | undefined };
  /** which connections; default h1ClientKind() (native unless unavailable or PORTICO_H1_CLIENT=undici) */
  client?: H1ClientKind;
}

/** One request's state, shared by both connection kinds. */
export interface Pending {
  req: H1Request;
  handler: H1Handler;
  /** sent once more after a reused connection closed under it */
  retried: boolean;
  /** a byte of this request reached a socket, on any attempt (see markRequestWritten) */
  written: boolean;
  /** the declared Content-Length (-1: none), from checkRequest */
  declared: number;
}

/** What the pool needs of a connection, native or undici. */
export interface PoolConnection {
  dead: boolean;
  /** responses completed on the current socket: a request failing on a reused one may be resent */
  served: number;
  /** coarse time the connection went idle (pool sweep) */
  idleSince: number;
  start(p: Pending): void;
  destroy(): void;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\0\r\n]/;
// what undici also refuses in a request target: controls, space and DEL
const BAD_PATH = /[^\u0021-\u007e\u0080-\u00ff]/;
const DIGITS = /^\d{1,15}$/;

/**
 * Checks a request before any byte of it is written and returns its declared
 * Content-Length (-1: none). The client frames bodies itself: a
 * Transfer-Encoding from the caller, or two Content-Lengths, could frame the
 * request two ways (RFC 9112 §6.3), so they are refused.
 */
export function checkRequest(req: H1Request): number {
  if (req.path === '' || BAD_PATH.test(req.path)) {
    throw new UpstreamError(`invalid request target ${JSON.stringify(req.path)}`, BAD_REQUEST);
  }
  if (!TOKEN.test(req.method)) {
    throw new UpstreamError(`invalid method ${JSON.stringify(req.method)}`, BAD_REQUEST);
  }
  const h = req.headers;
  let contentLength = -1;
  for (let i = 0; i + 1 < h.length; i += 2) {
    const name = h[i]!;
    const value = h[i + 1]!;
    if (!TOKEN.test(name) || BAD_VALUE.test(value)) {
      throw new UpstreamError(`invalid request header ${JSON.stringify(name)}`, BAD_REQUEST);
    }
    if (name.length === 14 && name.toLowerCase() === 'content-length') {
      if (contentLength !== -1 || !DIGITS.test(value)) {
        throw new UpstreamError('invalid or repeated Content-Length', BAD_REQUEST);
      }
      contentLength = Number(value);
    } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
      throw new UpstreamError(
        'a Transfer-Encoding header: the client frames the body itself',
        BAD_REQUEST,
      );
    }
  }
  const body = req.body;
  if (body !== null && Buffer.isBuffer(body) && contentLength !== -1) {
    if (contentLength !== body.length) {
      throw new UpstreamError('request body length differs from Content-Length', BAD_REQUEST);
    }
  }
  return contentLength;
}

/**
 * Requests that may be sent again when a reused keep-alive connection closed
 * under them before any answer: Go's transport (Request.isReplayable) resends
 * GET, HEAD, OPTIONS and TRACE, and requests that carry an Idempotency-Key;
 * never a streamed body (it cannot be read twice).
 */
export function replayable(req: H1Request): boolean {
  if (req.body !== null && !Buffer.isBuffer(req.body)) return false;
  const m = req.method;
  if (m === 'GET' || m === 'HEAD' || m === 'OPTIONS' || m === 'TRACE') return true;
  const h = req.headers;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i]!.toLowerCase();
    if (name === 'idempotency-key' || name === 'x-idempotency-key') return true;
  }
  return false;
}

/**
 * The client's body broke off before it was all read: destroyed before its
 * end, or an HTTP/2 request whose stream the client reset. Node's HTTP/2
 * compatibility layer ends such a request's body ('close', then 'end') as if
 * it were complete, so a body picked up after the reset (a middleware in
 * between, the dispatch deferral) would otherwise look whole (issue 11, item 1).
 */
export function bodyAborted(body: Readable): boolean {
  if (body.destroyed && !body.readableEnded) return true;
  return body instanceof Http2ServerRequest && body.aborted;
}
