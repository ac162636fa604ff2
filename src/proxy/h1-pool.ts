/*
 * The HTTP/1.1 client for upstream servers (http:// and https://): a pool of
 * keep-alive connections per origin, one request per connection at a time.
 * Connections are native (h1-connection.ts: node:net or node:tls, responses
 * parsed by Node's own llhttp binding, the C++ parser the HTTP server uses,
 * strict mode), or undici's when the binding is unavailable (h1-parser.ts,
 * h1-undici.ts). The request checks and shared shapes are in h1-request.ts.
 *
 * Why not undici here: per proxied request undici costs about 110 us of CPU
 * more on the machines we benchmark (its WASM parser calls back into JS for
 * every header, and since 7.x it defers every write on a reused socket to the
 * next check phase); measured in docs/benchmarks.md. Both are tested against
 * the same cases (test/integration/h1-pool.test.ts, hostile-upstream.test.ts).
 *
 * Pool semantics are Traefik's (Go's http.Transport): maxIdleConnsPerHost
 * caps the idle connections kept, not the active ones, so no request ever
 * waits for another's connection; the only wait is the dial, bounded by
 * dialTimeout.
 */
import {
  markRequestWritten,
  REQUEST_BODY_ABORTED,
  UPSTREAM_CLOSED,
  UpstreamError,
} from './errors.js';
import { NativeConnection } from './h1-connection.js';
import {
  h1ClientKind,
  nativeHttpParser,
  type H1ClientKind,
  type HttpParserClass,
} from './h1-parser.js';
import {
  bodyAborted,
  checkRequest,
  replayable,
  type H1Handler,
  type H1PoolOptions,
  type H1Request,
  type Pending,
  type PoolConnection,
} from './h1-request.js';
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
export { MAX_INTERIM_RESPONSES } from './h1-request.js';
export {
  h1ClientKind,
  nativeHttpParser,
  probeHttpParser,
  type H1ClientKind,
  type HttpParserClass,
} from './h1-parser.js';
export {
  bodyAborted,
  checkRequest,
  type H1Handler,
  type H1PoolOptions,
  type H1Request,
  type Pending,
  type PoolConnection,
} from './h1-request.js';

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
