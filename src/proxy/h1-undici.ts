/*
 * The HTTP/1.1 client's fallback connections: the same pool (h1-pool.ts), the
 * same handler interface and error codes, with each connection an undici
 * Client (pipelining 1: one socket, one request at a time). Used when Node's
 * llhttp binding (`_http_common`, DEP0199) is missing or does not behave as
 * expected, or when PORTICO_H1_CLIENT=undici is set; CI runs the proxy suites
 * both ways (.ci/node-lts.sh).
 *
 * undici does the framing itself and to the same rules: with
 * strictContentLength a streamed body that ends short of or runs past its
 * Content-Length fails and its socket is destroyed; a body that breaks off
 * destroys the socket without a terminating chunk; a response that completes
 * while the body is still being written, or any byte on an idle socket,
 * destroys the socket. This file maps undici's errors to Portico's codes
 * (errors.ts) and keeps the pool's rules (idle cap, resend of replayable
 * requests on a reused socket, 1xx limit, status range).
 *
 * Known difference: undici refuses a `100 Continue` the request did not ask
 * for (502 here) where the native client skips it, as RFC 9110 §15.2 wants.
 */
import { isIP } from 'node:net';
import { buildConnector, Client } from 'undici';
import {
  MAX_INTERIM_RESPONSES,
  type ConnectionOwner,
  type H1PoolOptions,
  type Pending,
  type PoolConnection,
} from './h1-request.js';
import {
  BAD_REQUEST,
  BAD_RESPONSE,
  BAD_RESPONSE_BODY,
  DIAL_TIMEOUT,
  HEADERS_TIMEOUT,
  REQUEST_BODY_ABORTED,
  REQUEST_BODY_LENGTH,
  UPSTREAM_CLOSED,
  UpstreamError,
} from './errors.js';

/** What the connections of one pool share: one connector, so TLS sessions are resumed across them. */
export interface UndiciShared {
  connect: buildConnector.connector;
  options: H1PoolOptions;
  /** given to every request: undici would otherwise take the SNI name from each Host header */
  servername: string;
}

export function createUndiciShared(origin: string, options: H1PoolOptions): UndiciShared {
  const tls = options.tls;
  const u = new URL(origin);
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  // as the native connections: serverName, else the URL's host unless an IP address (RFC 6066)
  const sni = tls?.servername ?? (isIP(host) === 0 ? host : undefined);
  const base = buildConnector({
    timeout: options.dialTimeoutMs,
    ...(tls === undefined
      ? {}
      : {
          rejectUnauthorized: tls.rejectUnauthorized,
          ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
        }),
  });
  // the server name is the transport's, whatever undici derived from the request
  const connect: buildConnector.connector = (opts, callback) =>
    base({ ...opts, servername: sni }, callback);
  return { connect, options, servername: sni ?? host };
}

const latin1 = (b: Buffer | string): string => (typeof b === 'string' ? b : b.toString('latin1'));

export class UndiciConnection implements PoolConnection {
  dead = false;
  served = 0;
  idleSince = 0;
  private readonly client: Client;
  private current: Pending | null = null;

  constructor(
    private readonly pool: ConnectionOwner,
    origin: string,
    private readonly shared: UndiciShared,
  ) {
    const o = shared.options;
    this.client = new Client(origin, {
      connect: shared.connect,
      pipelining: 1,
      headersTimeout: o.headersTimeoutMs,
      // streamed bodies (SSE, long downloads) must not be cut by an idle timer here
      bodyTimeout: 0,
      // the pool closes idle connections; an upstream's Keep-Alive hint still shortens it
      keepAliveTimeout: o.idleTimeoutMs,
      keepAliveMaxTimeout: o.idleTimeoutMs,
      maxHeaderSize: o.maxHeaderSize,
      strictContentLength: true,
    });
    // undici reconnects a Client on its own; a socket that went away while idle ends this connection
    this.client.on('disconnect', () => {
      this.served = 0;
      if (this.current === null) this.destroy();
    });
    this.client.on('connectionError', () => undefined);
  }

  start(p: Pending): void {
    this.current = p;
    const { req, handler } = p;
    const streamed = req.body !== null && !Buffer.isBuffer(req.body) ? req.body : null;
    let undiciAbort: ((err: Error) => void) | undefined;
    let gotBytes = false;
    let gotHeaders = false;
    let interim = 0;
    const refuse = (err: UpstreamError): false => {
      undiciAbort?.(err);
      return false;
    };
    const failed = (err: Error): void => {
      if (this.current !== p) return;
      this.current = null;
      this.destroy();
      const mapped = mapError(err, gotHeaders, streamed);
      this.pool.fail(p, mapped, this, !gotBytes && closedUnderUs(err));
    };
    try {
      this.client.dispatch(
        {
          path: req.path,
          method: req.method,
          headers: req.headers,
          body: req.body,
          // Request option undici's types leave out (lib/core/request.js)
          servername: this.shared.servername,
        } as Parameters<Client['dispatch']>[0],
        {
          onConnect: (abort: (err?: Error) => void) => {
            undiciAbort = abort;
            if (this.current !== p) {
              abort(new UpstreamError('request aborted', UPSTREAM_CLOSED));
              return;
            }
            // undici writes the request head right after this (a streamed body's with its first chunk)
            p.written = true;
            handler.onConnect((err?: Error) =>
              abort(err ?? new UpstreamError('request aborted', UPSTREAM_CLOSED)),
            );
          },
          onResponseStarted: () => {
            gotBytes = true;
          },
          onHeaders: (
            status: number,
            raw: (Buffer | string)[] | null,
            resume: () => void,
            statusText: string,
          ): boolean => {
            gotBytes = true;
            if (this.current !== p) return false;
            if (status < 100 || status > 999) {
              return refuse(new UpstreamError(`invalid status code ${status}`, BAD_RESPONSE));
            }
            if (status < 200) {
              if (status === 101) {
                return refuse(new UpstreamError('unexpected protocol switch', BAD_RESPONSE));
              }
              if (++interim > MAX_INTERIM_RESPONSES) {
                return refuse(new UpstreamError('too many interim (1xx) responses', BAD_RESPONSE));
              }
              return true;
            }
            const headers: string[] = raw === null ? [] : raw.map(latin1);
            const framing = ambiguousFraming(headers);
            if (framing !== null) return refuse(new UpstreamError(framing, BAD_RESPONSE));
            gotHeaders = true;
            return handler.onHeaders(status, headers, resume, statusText);
          },
          onData: (chunk: Buffer): boolean => {
            if (this.current !== p) return true;
            return handler.onData(chunk);
          },
          onComplete: (raw: (Buffer | string)[] | null): void => {
            if (this.current !== p) return;
            this.current = null;
            this.served++;
            const trailers = raw !== null && raw.length > 0 ? raw.map(latin1) : null;
            handler.onComplete(trailers);
            // undici itself writes the next request a loop turn later, on this socket if the exchange
            // was clean (body written whole, keep-alive), else on a new one (client-h1 onMessageComplete)
            this.pool.release(this);
          },
          onError: failed,
        } as unknown as Parameters<Client['dispatch']>[1],
      );
    } catch (err) {
      failed(err as Error);
    }
  }

  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    this.client.destroy().catch(() => undefined);
    this.pool.forget(this);
  }
}

/**
 * undici's parser accepts a response head llhttp in strict mode refuses: two
 * Content-Lengths, or Content-Length with Transfer-Encoding (RFC 9112 §6.3:
 * a message framed two ways is an error; a proxy must not guess).
 */
function ambiguousFraming(headers: string[]): string | null {
  let lengths = 0;
  let te = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length === 14 && name.toLowerCase() === 'content-length') lengths++;
    else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') te = true;
  }
  if (lengths > 1) return 'invalid upstream response: more than one content-length';
  if (lengths === 1 && te)
    return 'invalid upstream response: content-length with transfer-encoding';
  return null;
}

/** A reused socket that closed under the request (the pool may resend a replayable request). */
function closedUnderUs(err: Error): boolean {
  const code = (err as { code?: string }).code;
  return (
    (code === 'UND_ERR_SOCKET' && !/^bad /.test(err.message)) ||
    code === 'ECONNRESET' ||
    code === 'EPIPE'
  );
}

/** undici's errors → Portico's codes (errors.ts); errno and TLS errors keep theirs. */
function mapError(err: Error, gotHeaders: boolean, streamed: { errored?: unknown } | null): Error {
  if (err instanceof UpstreamError) return err;
  const code = (err as { code?: string }).code ?? '';
  const wrap = (message: string, c: string): UpstreamError =>
    new UpstreamError(message, c, { cause: err });
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return wrap(`dial: ${err.message}`, DIAL_TIMEOUT);
    case 'UND_ERR_HEADERS_TIMEOUT':
      return wrap('no response headers in time', HEADERS_TIMEOUT);
    case 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH':
      return streamed !== null
        ? wrap('request body length differs from its Content-Length', REQUEST_BODY_LENGTH)
        : wrap('request body length differs from Content-Length', BAD_REQUEST);
    case 'UND_ERR_ABORTED':
      return wrap('client request body broke off', REQUEST_BODY_ABORTED);
    case 'UND_ERR_INVALID_ARG':
    case 'UND_ERR_NOT_SUPPORTED':
      return wrap(`request refused: ${err.message}`, BAD_REQUEST);
    case 'UND_ERR_HEADERS_OVERFLOW':
      return wrap('invalid upstream response: header overflow', BAD_RESPONSE);
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      // undici adds up repeated Content-Length values and fails when the body does not match the sum
      return gotHeaders
        ? wrap('invalid upstream response body: content-length mismatch', BAD_RESPONSE_BODY)
        : wrap('invalid upstream response: content-length mismatch', BAD_RESPONSE);
    case 'UND_ERR_SOCKET':
      if (/^bad /.test(err.message)) {
        return wrap(
          `invalid upstream response: ${err.message}`,
          gotHeaders ? BAD_RESPONSE_BODY : BAD_RESPONSE,
        );
      }
      return wrap(
        gotHeaders
          ? 'upstream closed the connection mid-response'
          : 'upstream closed the connection',
        UPSTREAM_CLOSED,
      );
    case 'UND_ERR_INFO':
    case 'UND_ERR_DESTROYED':
    case 'UND_ERR_CLOSED':
      return wrap('upstream closed the connection', UPSTREAM_CLOSED);
  }
  if (streamed !== null && streamed.errored === err) {
    return wrap('client request body broke off', REQUEST_BODY_ABORTED);
  }
  if (code.startsWith('HPE_') || err.name === 'HTTPParserError') {
    const reason = (err as { reason?: string }).reason ?? err.message;
    return gotHeaders
      ? wrap(`invalid upstream response body: ${reason}`, BAD_RESPONSE_BODY)
      : wrap(`invalid upstream response: ${reason}`, BAD_RESPONSE);
  }
  return err;
}
