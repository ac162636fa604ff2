/*
 * The HTTP/1.1 client for upstream servers (http:// and https://): keep-alive
 * connections over node:net or node:tls, one request per connection at a
 * time, responses parsed by Node's own llhttp binding (the C++ parser the
 * HTTP server uses, strict mode).
 *
 * Why not undici here: per proxied request undici costs about 110 us of CPU
 * more on the machines we benchmark (its WASM parser calls back into JS for
 * every header, and since 7.x it defers every write on a reused socket to the
 * next check phase); measured in docs/benchmarks.md.
 *
 * The binding comes from `_http_common`, which Node documents as deprecated
 * (DEP0199). It is loaded on first use, checked (API shape and a parse of a
 * known response), and when it is missing or wrong, or PORTICO_H1_CLIENT=undici
 * is set, the same pool runs its connections on undici (h1-undici.ts): a Node
 * release without the binding costs speed, not the service. Both are tested
 * against the same cases (test/integration/h1-pool.test.ts,
 * hostile-upstream.test.ts); docs/architecture.md "Node internals".
 *
 * Framing rules (issue 11): a streamed request body is counted against its
 * Content-Length, and one that ends short or runs past it, or breaks off,
 * destroys the connection (a chunked one gets no terminating chunk). A
 * connection goes back to the pool only when the request was written whole
 * and the response parsed whole. Any byte an upstream sends while no request
 * is outstanding destroys the connection before it could be read as a
 * response (what undici's idle-socket check guards against,
 * GHSA-35p6-xmwp-9g52); idle connections stay in reading mode, so a FIN or
 * reset removes them from the pool as it arrives.
 *
 * Pool semantics are Traefik's (Go's http.Transport): maxIdleConnsPerHost
 * caps the idle connections kept, not the active ones, so no request ever
 * waits for another's connection; the only wait is the dial, bounded by
 * dialTimeout.
 */
import { Http2ServerRequest } from 'node:http2';
import { createRequire } from 'node:module';
import { connect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { Readable } from 'node:stream';
import {
  BAD_REQUEST,
  BAD_RESPONSE,
  BAD_RESPONSE_BODY,
  DIAL_TIMEOUT,
  HEADERS_TIMEOUT,
  markRequestWritten,
  REQUEST_BODY_ABORTED,
  REQUEST_BODY_LENGTH,
  UPSTREAM_CLOSED,
  UpstreamError,
} from './errors.js';
import { createUndiciShared, UndiciConnection, type UndiciShared } from './h1-undici.js';

export {
  BAD_REQUEST,
  BAD_RESPONSE,
  BAD_RESPONSE_BODY,
  DIAL_TIMEOUT,
  HEADERS_TIMEOUT,
  REQUEST_BODY_ABORTED,
  REQUEST_BODY_LENGTH,
  UPSTREAM_CLOSED,
  UpstreamError,
  upstreamRequestWritten,
} from './errors.js';

interface NodeHttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  finish(): number | Error | undefined;
  close(): void;
  [key: number]: unknown;
}
export interface HttpParserClass {
  new (): NodeHttpParser;
  RESPONSE: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
}

/**
 * Checks a candidate HTTPParser: the constants this client indexes by, and a
 * parse of a known response with the callbacks it relies on. Anything else
 * (thrown, missing, another shape) → null, and the undici client is used.
 */
export function probeHttpParser(load: () => unknown): HttpParserClass | null {
  try {
    const P = (load() as { HTTPParser?: unknown } | null)?.HTTPParser as
      HttpParserClass | undefined;
    if (typeof P !== 'function') return null;
    for (const k of [
      'RESPONSE',
      'kOnHeaders',
      'kOnHeadersComplete',
      'kOnBody',
      'kOnMessageComplete',
    ]) {
      if (typeof (P as unknown as Record<string, unknown>)[k] !== 'number') return null;
    }
    const parser = new P();
    let status = 0;
    let headers: string[] = [];
    let body = '';
    let complete = false;
    parser.initialize(P.RESPONSE, {}, 1024, 0);
    parser[P.kOnHeadersComplete] = (
      _major: number,
      _minor: number,
      h: string[],
      _method: unknown,
      _url: unknown,
      s: number,
    ): number => {
      status = s;
      headers = h;
      return 0;
    };
    parser[P.kOnBody] = (chunk: Buffer) => {
      body += chunk.toString('latin1');
    };
    parser[P.kOnMessageComplete] = () => {
      complete = true;
    };
    const ret = parser.execute(
      Buffer.from('HTTP/1.1 200 OK\r\nX-A: b\r\ncontent-length: 2\r\n\r\nok'),
    );
    parser.close();
    const ok =
      !(ret instanceof Error) &&
      status === 200 &&
      headers[0] === 'X-A' &&
      headers[1] === 'b' &&
      body === 'ok' &&
      complete;
    return ok ? P : null;
  } catch {
    return null;
  }
}

let httpParser: HttpParserClass | null | undefined;
/** Node's llhttp binding, loaded and checked once, on first use; null when this Node has none that works. */
export function nativeHttpParser(): HttpParserClass | null {
  if (httpParser === undefined) {
    httpParser = probeHttpParser(() => createRequire(import.meta.url)('_http_common'));
  }
  return httpParser;
}

export type H1ClientKind = 'native' | 'undici';

/** PORTICO_H1_CLIENT=undici forces the undici connections; otherwise the binding when it works. */
export function h1ClientKind(env: NodeJS.ProcessEnv = process.env): H1ClientKind {
  if (env.PORTICO_H1_CLIENT === 'undici') return 'undici';
  return nativeHttpParser() !== null ? 'native' : 'undici';
}

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
function replayable(req: H1Request): boolean {
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

/** Go's transport gives up after 5 interim (1xx) responses to one request ("too many 1xx informational responses"). */
export const MAX_INTERIM_RESPONSES = 5;

/** A connection whose responses Node's llhttp binding parses. */
class NativeConnection implements PoolConnection {
  readonly socket: Socket;
  private readonly parser: NodeHttpParser;
  private current: Pending | null = null;
  /** the response head was seen for the current request */
  private gotHeaders = false;
  /** a byte of a response to the current request arrived */
  private gotBytes = false;
  /** the last response allowed keep-alive */
  private keepAlive = false;
  served = 0;
  /** 1xx interim responses seen for the current request */
  private interim = 0;
  /** an interim response is being parsed (not relayed) */
  private inInterim = false;
  private bodyDone = true;
  private headersTimer: NodeJS.Timeout | undefined = undefined;
  private pendingHeaders: string[] = [];
  /** set by onMessageComplete; the pool takes the connection back once the parser returns */
  private releasePending = false;
  /** removes the streamed body's listeners (the connection died under it) */
  private detachBody: (() => void) | undefined = undefined;
  private resumeBody: (() => void) | undefined = undefined;
  /** inside parser.execute(): the parser must not be closed under its own callbacks */
  private executing = false;
  private parserClosed = false;
  /** the current request's head waits in the socket for the connection to open */
  private headQueued = false;
  idleSince = 0;
  connected = false;
  dead = false;

  constructor(
    private readonly pool: H1Pool,
    host: string,
    port: number,
    P: HttpParserClass,
  ) {
    const tls = pool.options.tls;
    let socket: Socket;
    if (tls === undefined) socket = connect({ host, port, noDelay: true });
    else {
      const servername = tls.servername ?? (isIP(host) === 0 ? host : undefined);
      const opts: ConnectionOptions = {
        host,
        port,
        rejectUnauthorized: tls.rejectUnauthorized,
        ALPNProtocols: ['http/1.1'],
      };
      // RFC 6066: an IP address is not a server name
      if (servername !== undefined) opts.servername = servername;
      if (tls.ca !== undefined) opts.ca = tls.ca;
      // resume the last session: a new connection skips the full handshake
      if (pool.tlsSession !== undefined) opts.session = pool.tlsSession;
      socket = tlsConnect(opts);
      socket.on('session', (session: Buffer) => {
        pool.tlsSession = session;
      });
      socket.setNoDelay(true);
    }
    this.socket = socket;
    const parser = (this.parser = new P());
    parser.initialize(P.RESPONSE, {}, pool.options.maxHeaderSize, 0);
    parser[P.kOnHeaders] = (headers: string[]) => {
      for (const h of headers) this.pendingHeaders.push(h);
    };
    parser[P.kOnHeadersComplete] = (
      _major: number,
      _minor: number,
      headers: string[] | undefined,
      _method: unknown,
      _url: unknown,
      status: number,
      statusText: string,
      upgrade: boolean,
      keepAlive: boolean,
    ): number => this.onHeadersComplete(headers, status, statusText, upgrade, keepAlive);
    parser[P.kOnBody] = (chunk: Buffer) => this.onBody(chunk);
    parser[P.kOnMessageComplete] = () => this.onMessageComplete();
    let timer: NodeJS.Timeout | undefined;
    if (pool.options.dialTimeoutMs > 0) {
      timer = setTimeout(() => {
        this.fail(new UpstreamError(`dial ${host}:${port}: timed out`, DIAL_TIMEOUT), false);
      }, pool.options.dialTimeoutMs);
    }
    // over TLS the request may go once the handshake (and the certificate check) succeeded
    socket.once(tls === undefined ? 'connect' : 'secureConnect', () => {
      if (timer !== undefined) clearTimeout(timer);
      this.connected = true;
      if (this.headQueued && this.current !== null) this.current.written = true;
      this.headQueued = false;
    });
    socket.on('data', (data: Buffer) => this.onSocketData(data));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (timer !== undefined) clearTimeout(timer);
      // a reset on a connection that was open: the upstream may have closed it as we reused it
      this.fail(err, this.connected && (err.code === 'ECONNRESET' || err.code === 'EPIPE'));
    });
    socket.on('close', () => {
      if (timer !== undefined) clearTimeout(timer);
      this.fail(new UpstreamError('upstream closed the connection', UPSTREAM_CLOSED), true);
    });
    socket.on('drain', () => this.resumeBody?.());
  }

  /** Writes one request. Called by the pool with the connection reserved for it. */
  start(p: Pending): void {
    this.current = p;
    this.gotHeaders = false;
    this.gotBytes = false;
    this.interim = 0;
    this.inInterim = false;
    this.releasePending = false;
    const { req, handler } = p;
    let aborted = false;
    /** a byte of this request went on this connection */
    let written = false;
    handler.onConnect((err?: Error) => {
      if (aborted || this.current !== p) return;
      aborted = true;
      this.current = null;
      // nothing sent yet: the connection is still good for the next request
      if (written || !this.connected) this.destroy();
      else this.pool.release(this);
      this.pool.fail(p, err ?? new UpstreamError('request aborted', UPSTREAM_CLOSED), this, false);
    });
    if (aborted) return;
    const declared = p.declared;
    const head = this.serialise(req, declared);
    written = true;
    // bytes written before the connection is up wait in the socket: nothing reached the upstream yet
    if (this.connected) p.written = true;
    else this.headQueued = true;
    const socket = this.socket;
    const body = req.body;
    if (body === null) {
      this.bodyDone = true;
      socket.write(head, 'latin1');
    } else if (Buffer.isBuffer(body)) {
      this.bodyDone = true;
      socket.cork();
      socket.write(head, 'latin1');
      if (body.length > 0) socket.write(body);
      socket.uncork();
    } else {
      this.bodyDone = false;
      socket.write(head, 'latin1');
      this.streamBody(p, body, declared);
    }
    if (this.pool.options.headersTimeoutMs > 0 && this.current === p) {
      this.headersTimer = setTimeout(() => {
        this.headersTimer = undefined;
        if (this.current !== p || this.gotHeaders) return;
        this.fail(
          new UpstreamError(
            `no response headers within ${this.pool.options.headersTimeoutMs} ms`,
            HEADERS_TIMEOUT,
          ),
          false,
        );
      }, this.pool.options.headersTimeoutMs);
    }
  }

  private serialise(req: H1Request, declared: number): string {
    let head = req.method + ' ' + req.path + ' HTTP/1.1\r\n';
    const h = req.headers;
    for (let i = 0; i + 1 < h.length; i += 2) head += h[i]! + ': ' + h[i + 1]! + '\r\n';
    const body = req.body;
    if (body !== null && declared === -1) {
      // a whole body gets its length; a streamed one of unknown length (the client sent it chunked) goes chunked
      head += Buffer.isBuffer(body)
        ? 'content-length: ' + body.length + '\r\n'
        : 'transfer-encoding: chunked\r\n';
    }
    return head + '\r\n';
  }

  /**
   * Copies the client's body to the socket: chunked when its length is not
   * declared, else counted against `declared`. Whatever breaks the body's
   * framing (short, long, aborted) fails the request and destroys the
   * connection: the upstream must never read the next request's bytes as the
   * rest of this body (issue 11, item 1).
   */
  private streamBody(p: Pending, body: Readable, declared: number): void {
    const socket = this.socket;
    const chunked = declared === -1;
    let sent = 0;
    const detach = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
      this.detachBody = undefined;
      this.resumeBody = undefined;
    };
    const broken = (err: UpstreamError): void => {
      detach();
      if (this.current === p) this.fail(err, false);
    };
    const onData = (chunk: Buffer): void => {
      if (this.current !== p) return;
      let ok: boolean;
      if (chunked) {
        if (chunk.length === 0) return;
        socket.cork();
        socket.write(chunk.length.toString(16) + '\r\n', 'latin1');
        socket.write(chunk);
        ok = socket.write('\r\n', 'latin1');
        socket.uncork();
      } else {
        sent += chunk.length;
        if (sent > declared) {
          broken(
            new UpstreamError(
              `request body runs past its Content-Length of ${declared}`,
              REQUEST_BODY_LENGTH,
            ),
          );
          return;
        }
        ok = socket.write(chunk);
      }
      if (!ok) body.pause();
    };
    const onEnd = (): void => {
      if (bodyAborted(body)) {
        onError();
        return;
      }
      if (!chunked && sent !== declared) {
        broken(
          new UpstreamError(
            `request body ended after ${sent} of its ${declared} bytes`,
            REQUEST_BODY_LENGTH,
          ),
        );
        return;
      }
      detach();
      if (this.current !== p) return;
      if (chunked) socket.write('0\r\n\r\n', 'latin1');
      this.bodyDone = true;
    };
    const onError = (): void => {
      broken(new UpstreamError('client request body broke off', REQUEST_BODY_ABORTED));
    };
    // a body that closes before its end was reset (an HTTP/2 RST_STREAM closes before it ends)
    const onClose = (): void => onError();
    this.detachBody = () => {
      detach();
      // the rest of the client's body goes nowhere rather than holding the client's upload
      body.resume();
    };
    this.resumeBody = () => body.resume();
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
    if (body.readableEnded) onEnd();
    else body.resume();
  }

  private onSocketData(data: Buffer): void {
    if (this.current === null) {
      // bytes nobody asked for: never read them as the next request's response
      this.destroy();
      return;
    }
    this.gotBytes = true;
    this.executing = true;
    let ret: number | Error;
    try {
      ret = this.parser.execute(data);
    } catch (err) {
      // a handler threw inside a parser callback: that request is lost, the process is not
      this.executing = false;
      this.fail(err instanceof Error ? err : new Error(String(err)), false);
      return;
    }
    this.executing = false;
    if (this.dead) {
      this.closeParser();
      return;
    }
    if (ret instanceof Error) {
      const e = ret as Error & { code?: string; reason?: string };
      const after = this.gotHeaders;
      this.fail(
        new UpstreamError(
          `invalid upstream response${after ? ' body' : ''}: ${e.reason ?? e.code ?? e.message}`,
          after ? BAD_RESPONSE_BODY : BAD_RESPONSE,
          { cause: ret },
        ),
        false,
      );
      return;
    }
    if (this.releasePending) {
      // an answer that came before the whole request body was sent ends the connection (undici too)
      if (this.bodyDone) this.finishRelease();
      else this.destroy();
    }
  }

  private onHeadersComplete(
    headers: string[] | undefined,
    status: number,
    statusText: string,
    upgrade: boolean,
    keepAlive: boolean,
  ): number {
    const p = this.current;
    let list = headers;
    if (list === undefined) {
      list = this.pendingHeaders;
      this.pendingHeaders = [];
    }
    if (p === null || this.gotHeaders) {
      // a second response to one request: the connection is out of step
      this.destroy();
      return 1;
    }
    if (status < 100 || status > 999) {
      // RFC 9110 §15: three digits, 1xx to 5xx (and up to 999 as Go accepts); 000 or 099 is no status
      this.fail(new UpstreamError(`invalid status code ${status}`, BAD_RESPONSE), false);
      return 1;
    }
    if (status < 200) {
      if (status === 101 || upgrade) {
        this.fail(new UpstreamError('unexpected protocol switch', BAD_RESPONSE), false);
        return 1;
      }
      if (++this.interim > MAX_INTERIM_RESPONSES) {
        this.fail(new UpstreamError('too many interim (1xx) responses', BAD_RESPONSE), false);
        return 1;
      }
      // 100 Continue, 103 Early Hints: interim, not relayed (RFC 9110 §15.2: parsed even if unexpected)
      this.inInterim = true;
      return 0;
    }
    this.gotHeaders = true;
    this.keepAlive = keepAlive;
    if (this.headersTimer !== undefined) {
      clearTimeout(this.headersTimer);
      this.headersTimer = undefined;
    }
    const go = p.handler.onHeaders(status, list, this.resume, statusText);
    if (!go) this.socket.pause();
    // a response to HEAD has no body whatever its headers say
    return p.req.method === 'HEAD' ? 1 : 0;
  }

  private readonly resume = (): void => {
    if (!this.dead) this.socket.resume();
  };

  private onBody(chunk: Buffer): void {
    const p = this.current;
    if (p === null) return;
    if (!p.handler.onData(chunk)) this.socket.pause();
  }

  private onMessageComplete(): void {
    if (this.inInterim) {
      this.inInterim = false;
      this.pendingHeaders = [];
      return;
    }
    const p = this.current;
    if (p === null) return;
    this.current = null;
    this.served++;
    let trailers: string[] | null = null;
    if (this.pendingHeaders.length > 0) {
      trailers = this.pendingHeaders;
      this.pendingHeaders = [];
    }
    // taken back by the pool once the parser has returned (and only if the request body was sent whole)
    this.releasePending = true;
    p.handler.onComplete(trailers);
  }

  private finishRelease(): void {
    this.releasePending = false;
    if (!this.keepAlive || !this.bodyDone) {
      this.destroy();
      return;
    }
    this.socket.resume();
    this.pool.release(this);
  }

  private onEnd(): void {
    // a close-delimited body ends here; anything else still in progress was cut short
    if (this.current !== null && this.gotHeaders) {
      const ret = this.parser.finish();
      if (ret instanceof Error) {
        this.fail(
          new UpstreamError('upstream closed the connection mid-response', UPSTREAM_CLOSED),
          false,
        );
        return;
      }
    }
    this.keepAlive = false;
    if (this.current === null) {
      this.destroy();
      return;
    }
    this.fail(new UpstreamError('upstream closed the connection', UPSTREAM_CLOSED), true);
  }

  /**
   * The connection broke: the request in progress (if any) fails or, when
   * `resendable` (the connection closed under it before any answer), may be
   * sent again on a new one.
   */
  private fail(err: Error, resendable: boolean): void {
    const p = this.current;
    this.current = null;
    this.destroy();
    if (p === null) return;
    this.pool.fail(p, err, this, resendable && !this.gotBytes);
  }

  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    this.releasePending = false;
    if (this.headersTimer !== undefined) clearTimeout(this.headersTimer);
    this.detachBody?.();
    this.socket.destroy();
    if (!this.executing) this.closeParser();
    this.pool.forget(this);
  }

  private closeParser(): void {
    if (this.parserClosed) return;
    this.parserClosed = true;
    this.parser.close();
  }
}

/**
 * Keep-alive connections to one origin (http(s)://host:port): a request takes
 * the most recently idle connection or opens a new one, and a connection goes
 * back to the idle list after a complete exchange unless maxIdleConnections
 * are idle already (then it is closed, as Go's tryPutIdleConn does).
 */
export class H1Pool {
  private readonly idle: PoolConnection[] = [];
  private readonly all = new Set<PoolConnection>();
  private readonly host: string;
  private readonly port: number;
  private readonly maxIdle: number;
  private readonly parserClass: HttpParserClass | null;
  private undici: UndiciShared | undefined = undefined;
  private sweep: NodeJS.Timeout | undefined = undefined;
  private clock = 0;
  private closed = false;
  /** the implementation in use: 'native' (llhttp binding) or 'undici' */
  readonly client: H1ClientKind;
  /** the newest TLS session ticket from this origin (https:// only) */
  tlsSession: Buffer | undefined = undefined;

  constructor(
    readonly origin: string,
    readonly options: H1PoolOptions,
  ) {
    const u = new URL(origin);
    const secure = u.protocol === 'https:';
    if (!secure && u.protocol !== 'http:')
      throw new Error(`H1Pool: not an http(s) origin: ${origin}`);
    if (secure !== (options.tls !== undefined)) {
      throw new Error(`H1Pool: ${origin} and the TLS settings do not agree`);
    }
    this.host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    this.port = u.port === '' ? (secure ? 443 : 80) : Number(u.port);
    const m = options.maxIdleConnections;
    this.maxIdle = m === 0 ? 2 : m < 0 ? 0 : m;
    const kind = options.client ?? h1ClientKind();
    this.parserClass = kind === 'native' ? nativeHttpParser() : null;
    this.client = this.parserClass === null ? 'undici' : 'native';
  }

  /** open connections (busy and idle) */
  get connections(): number {
    return this.all.size;
  }

  /** idle connections kept for reuse */
  get idleConnections(): number {
    return this.idle.length;
  }

  dispatch(req: H1Request, handler: H1Handler): void {
    const p: Pending = { req, handler, retried: false, written: false, declared: -1 };
    if (this.closed) {
      process.nextTick(() => this.fail(p, new UpstreamError('pool closed', UPSTREAM_CLOSED)));
      return;
    }
    if (this.deferred.length > 0 || (req.body !== null && !Buffer.isBuffer(req.body))) {
      // a streamed body is written after the client's whole read has been parsed (check phase): a
      // request whose framing the parser rejects further on (bad chunk size, smuggling) is
      // destroyed by then and nothing of it is sent. Requests after it wait too: in order.
      this.deferred.push(p);
      if (this.deferred.length === 1) setImmediate(this.flushDeferred);
      return;
    }
    process.nextTick(() => this.assign(p));
  }

  private readonly deferred: Pending[] = [];
  private readonly flushDeferred = (): void => {
    for (const p of this.deferred.splice(0)) this.assign(p);
  };

  private assign(p: Pending): void {
    if (this.closed) {
      this.fail(p, new UpstreamError('pool closed', UPSTREAM_CLOSED));
      return;
    }
    const body = p.req.body;
    if (body !== null && !Buffer.isBuffer(body) && bodyAborted(body)) {
      // the client's parser rejected the body's framing, or the client left: not a byte goes upstream
      this.fail(p, new UpstreamError('client request body broke off', REQUEST_BODY_ABORTED));
      return;
    }
    if (!p.retried) {
      try {
        p.declared = checkRequest(p.req);
      } catch (err) {
        this.fail(p, err as Error);
        return;
      }
    }
    let conn = this.idle.pop();
    while (conn !== undefined && conn.dead) conn = this.idle.pop();
    if (conn === undefined) {
      if (this.parserClass !== null) {
        conn = new NativeConnection(this, this.host, this.port, this.parserClass);
      } else {
        this.undici ??= createUndiciShared(this.origin, this.options);
        conn = new UndiciConnection(this, this.origin, this.undici);
      }
      this.all.add(conn);
    }
    conn.start(p);
  }

  /** A connection finished a complete exchange and may serve the next request. */
  release(conn: PoolConnection): void {
    if (conn.dead) return;
    if (this.closed || this.idle.length >= this.maxIdle) {
      conn.destroy();
      return;
    }
    conn.idleSince = this.clock;
    this.idle.push(conn);
    this.startSweep();
  }

  forget(conn: PoolConnection): void {
    if (!this.all.delete(conn)) return;
    const i = this.idle.indexOf(conn);
    if (i !== -1) this.idle.splice(i, 1);
  }

  /**
   * A request failed on `conn`. When `resendable` (a reused keep-alive
   * connection closed under it before any answer: the upstream timed it out
   * as we picked it) and the request is replayable, it is sent once more on
   * a new connection, as Go's transport does. Otherwise the handler hears of
   * it, with whether anything was written (the retry middleware decides).
   */
  fail(p: Pending, err: Error, conn?: PoolConnection, resendable = false): void {
    if (
      resendable &&
      conn !== undefined &&
      !p.retried &&
      !this.closed &&
      conn.served > 0 &&
      replayable(p.req)
    ) {
      p.retried = true;
      process.nextTick(() => this.assign(p));
      return;
    }
    p.handler.onError(markRequestWritten(err, p.written));
  }

  private startSweep(): void {
    if (this.sweep !== undefined) return;
    const every = Math.max(100, Math.min(1000, Math.floor(this.options.idleTimeoutMs / 2)));
    this.sweep = setInterval(() => {
      this.clock += every;
      for (const c of [...this.idle]) {
        if (this.clock - c.idleSince > this.options.idleTimeoutMs) c.destroy();
      }
      if (this.idle.length === 0) {
        clearInterval(this.sweep);
        this.sweep = undefined;
      }
    }, every);
    this.sweep.unref();
  }

  /** Closes idle connections now and the others once their response is done; new requests fail. */
  close(): Promise<void> {
    this.closed = true;
    if (this.sweep !== undefined) clearInterval(this.sweep);
    this.sweep = undefined;
    for (const c of [...this.idle]) c.destroy();
    return Promise.resolve();
  }
}
