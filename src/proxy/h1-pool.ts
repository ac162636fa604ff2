/*
 * The HTTP/1.1 client for upstream servers (http:// and https://): keep-alive
 * connections over node:net or node:tls, responses parsed by Node's own llhttp
 * binding (the C++ parser the HTTP server uses, strict mode), one request per
 * connection at a time.
 *
 * Why not undici here: per proxied request undici costs about 110 us of CPU
 * more on the machines we benchmark (its WASM parser calls back into JS for
 * every header, and since 7.x it defers every write on a reused socket to the
 * next check phase); measured in docs/benchmarks.md. undici stays for mirrors
 * and forwardAuth.
 *
 * What undici's idle-socket check guards against (GHSA-35p6-xmwp-9g52) is
 * kept another way: idle connections stay in reading mode, so a FIN or reset
 * removes them from the pool as it arrives, and any byte an upstream sends
 * while no request is outstanding destroys the connection before anything
 * could be read as a response.
 *
 * `_http_common` is undocumented but stable: the same HTTPParser API on Node
 * 20, 22 and 24, which CI runs (.ci/node-lts.sh).
 */
import { createRequire } from 'node:module';
import { connect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { Readable } from 'node:stream';

interface NodeHttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  finish(): number | Error | undefined;
  close(): void;
  [key: number]: unknown;
}
interface HttpParserClass {
  new (): NodeHttpParser;
  RESPONSE: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
}
const { HTTPParser } = createRequire(import.meta.url)('_http_common') as {
  HTTPParser: HttpParserClass;
};
const kOnHeaders = HTTPParser.kOnHeaders;
const kOnHeadersComplete = HTTPParser.kOnHeadersComplete;
const kOnBody = HTTPParser.kOnBody;
const kOnMessageComplete = HTTPParser.kOnMessageComplete;

/** error codes of this client; src/proxy/errors.ts maps the timeouts to 504 */
export const DIAL_TIMEOUT = 'PORTICO_ERR_DIAL_TIMEOUT';
export const HEADERS_TIMEOUT = 'PORTICO_ERR_HEADERS_TIMEOUT';
/** the connection closed or broke before the response was complete */
export const UPSTREAM_CLOSED = 'PORTICO_ERR_UPSTREAM_CLOSED';
/** the upstream's bytes are not a valid HTTP/1.1 response (the parser's reason is in the message) */
export const BAD_RESPONSE = 'PORTICO_ERR_BAD_RESPONSE';
/** a request this client refuses to write (invalid header, body length mismatch) */
export const BAD_REQUEST = 'PORTICO_ERR_BAD_REQUEST';

export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
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
  /** 0: no limit */
  maxConnections: number;
  dialTimeoutMs: number;
  /** 0: wait as long as it takes */
  headersTimeoutMs: number;
  idleTimeoutMs: number;
  maxHeaderSize: number;
  /** https:// origins: the TLS settings of the serversTransport (HTTP/1.1 is offered by ALPN) */
  tls?: { rejectUnauthorized: boolean; servername?: string | undefined; ca?: string[] | undefined };
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\0\r\n]/;
// what undici also refuses in a request target: controls, space and DEL
const BAD_PATH = /[^\u0021-\u007e\u0080-\u00ff]/;

/** Methods that may be sent again when a reused connection turns out to be closed (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

interface Pending {
  req: H1Request;
  handler: H1Handler;
  retried: boolean;
}

class Connection {
  readonly socket: Socket;
  private readonly parser: NodeHttpParser;
  private current: Pending | null = null;
  /** the response head was seen for the current request */
  private gotHeaders = false;
  /** the last response allowed keep-alive */
  private keepAlive = false;
  /** responses completed on this connection: a closed reused connection may be retried */
  served = 0;
  /** 1xx interim response in progress (ignored) */
  private interim = false;
  private bodyDone = true;
  /** the streamed request body goes out chunked (serialise() decides) */
  private chunkedBody = false;
  private headersTimer: NodeJS.Timeout | undefined = undefined;
  private pendingHeaders: string[] = [];
  /** set by onMessageComplete; the pool takes the connection back once the parser returns */
  private releasePending = false;
  /** coarse time the connection went idle (pool sweep) */
  idleSince = 0;
  connected = false;
  dead = false;

  constructor(
    private readonly pool: H1Pool,
    host: string,
    port: number,
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
    const parser = (this.parser = new HTTPParser());
    parser.initialize(HTTPParser.RESPONSE, {}, pool.options.maxHeaderSize, 0);
    parser[kOnHeaders] = (headers: string[]) => {
      for (const h of headers) this.pendingHeaders.push(h);
    };
    parser[kOnHeadersComplete] = (
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
    parser[kOnBody] = (chunk: Buffer) => this.onBody(chunk);
    parser[kOnMessageComplete] = () => this.onMessageComplete();
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
    socket.on('drain', () => this.onDrain());
  }

  /** Writes one request. Called by the pool with the connection reserved for it. */
  start(p: Pending): void {
    this.current = p;
    this.gotHeaders = false;
    this.interim = false;
    this.releasePending = false;
    const { req, handler } = p;
    let aborted = false;
    let written = false;
    handler.onConnect((err?: Error) => {
      if (aborted || this.current !== p) return;
      aborted = true;
      this.current = null;
      // nothing sent yet: the connection is still good for the next request
      if (written || !this.connected) this.destroy();
      else this.pool.release(this);
      handler.onError(err ?? new UpstreamError('request aborted', UPSTREAM_CLOSED));
    });
    if (aborted) return;
    const body = req.body;
    if (body !== null && !Buffer.isBuffer(body) && body.destroyed && !body.readableEnded) {
      // the client's parser rejected the body's framing: not a byte of this request goes upstream
      this.current = null;
      this.pool.release(this);
      handler.onError(new UpstreamError('client request body ended early', UPSTREAM_CLOSED));
      return;
    }
    written = true;
    let head: string;
    try {
      head = this.serialise(req);
    } catch (err) {
      this.current = null;
      this.pool.release(this);
      handler.onError(err as Error);
      return;
    }
    const socket = this.socket;
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
      this.streamBody(p, body, this.chunkedBody);
    }
    if (this.pool.options.headersTimeoutMs > 0) {
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

  private serialise(req: H1Request): string {
    if (BAD_PATH.test(req.path) || req.path === '') {
      throw new UpstreamError(`invalid request target ${JSON.stringify(req.path)}`, BAD_REQUEST);
    }
    let head = req.method + ' ' + req.path + ' HTTP/1.1\r\n';
    const h = req.headers;
    let contentLength = -1;
    for (let i = 0; i + 1 < h.length; i += 2) {
      const name = h[i]!;
      const value = h[i + 1]!;
      if (!TOKEN.test(name) || BAD_VALUE.test(value)) {
        throw new UpstreamError(`invalid request header ${JSON.stringify(name)}`, BAD_REQUEST);
      }
      if (name.length === 14 && name.toLowerCase() === 'content-length') {
        contentLength = Number(value);
      }
      head += name + ': ' + value + '\r\n';
    }
    const body = req.body;
    if (body !== null && Buffer.isBuffer(body)) {
      if (contentLength === -1) head += 'content-length: ' + body.length + '\r\n';
      else if (contentLength !== body.length) {
        throw new UpstreamError('request body length differs from Content-Length', BAD_REQUEST);
      }
    }
    // a streamed body of unknown length (the client sent it chunked): chunked upstream too
    this.chunkedBody = body !== null && !Buffer.isBuffer(body) && contentLength === -1;
    if (this.chunkedBody) head += 'transfer-encoding: chunked\r\n';
    return head + '\r\n';
  }

  private streamBody(p: Pending, body: Readable, chunked: boolean): void {
    const socket = this.socket;
    let finished = false;
    const cleanup = (): void => {
      finished = true;
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onBroken);
      body.off('close', onClose);
      this.resumeBody = undefined;
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
        ok = socket.write(chunk);
      }
      if (!ok) body.pause();
    };
    const onEnd = (): void => {
      cleanup();
      if (this.current !== p) return;
      if (chunked) socket.write('0\r\n\r\n', 'latin1');
      this.bodyDone = true;
    };
    const onBroken = (): void => {
      cleanup();
      if (this.current !== p) return;
      // the client's body broke off: the upstream holds a partial request, the connection is done
      this.fail(new UpstreamError('client request body ended early', UPSTREAM_CLOSED), false);
    };
    const onClose = (): void => {
      if (!finished) onBroken();
    };
    this.resumeBody = () => body.resume();
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onBroken);
    body.on('close', onClose);
    if (body.readableEnded) onEnd();
    else body.resume();
  }

  private resumeBody: (() => void) | undefined = undefined;

  private onDrain(): void {
    this.resumeBody?.();
  }

  private onSocketData(data: Buffer): void {
    if (this.current === null) {
      // bytes nobody asked for: never read them as the next request's response
      this.destroy();
      return;
    }
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
      this.fail(
        new UpstreamError(
          `invalid upstream response: ${e.reason ?? e.code ?? e.message}`,
          BAD_RESPONSE,
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

  /** inside parser.execute(): the parser must not be closed under its own callbacks */
  private executing = false;

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
    if (status < 200) {
      if (status === 101 || upgrade) {
        this.fail(new UpstreamError('unexpected protocol switch', BAD_RESPONSE), false);
        return 1;
      }
      // 100 Continue, 103 Early Hints: interim, not relayed
      this.interim = true;
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
    if (this.interim) {
      this.interim = false;
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
    // taken back by the pool once the parser has returned (or the request body has been sent)
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
    if (resendable && !this.gotHeaders && this.pool.mayRetry(p, this)) return;
    p.handler.onError(err);
  }

  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    this.releasePending = false;
    if (this.headersTimer !== undefined) clearTimeout(this.headersTimer);
    this.socket.destroy();
    if (!this.executing) this.closeParser();
    this.pool.forget(this);
  }

  private parserClosed = false;
  private closeParser(): void {
    if (this.parserClosed) return;
    this.parserClosed = true;
    this.parser.close();
  }
}

/**
 * Keep-alive connections to one origin (http://host:port). Requests beyond
 * maxConnections wait in order for a free connection.
 */
export class H1Pool {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly queue: Pending[] = [];
  private readonly host: string;
  private readonly port: number;
  private sweep: NodeJS.Timeout | undefined = undefined;
  private clock = 0;
  private closed = false;
  /** the newest TLS session ticket from this origin (https:// only) */
  tlsSession: Buffer | undefined = undefined;

  constructor(
    origin: string,
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
  }

  /** open connections (busy and idle) */
  get connections(): number {
    return this.all.size;
  }

  dispatch(req: H1Request, handler: H1Handler): void {
    const p: Pending = { req, handler, retried: false };
    if (this.closed) {
      process.nextTick(() => handler.onError(new UpstreamError('pool closed', UPSTREAM_CLOSED)));
      return;
    }
    if (this.deferred.length > 0 || (req.body !== null && !Buffer.isBuffer(req.body))) {
      // a streamed body is written after the client's whole read has been parsed (check phase): a
      // request whose framing the parser rejects further on (bad chunk size, smuggling) is
      // destroyed by then and start() sends nothing. Requests after it wait too: in order.
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
      p.handler.onError(new UpstreamError('pool closed', UPSTREAM_CLOSED));
      return;
    }
    let conn = this.idle.pop();
    while (conn !== undefined && conn.dead) conn = this.idle.pop();
    if (conn === undefined) {
      const max = this.options.maxConnections;
      if (max > 0 && this.all.size >= max) {
        this.queue.push(p);
        return;
      }
      conn = new Connection(this, this.host, this.port);
      this.all.add(conn);
    }
    conn.start(p);
  }

  /** A connection finished its response and may serve the next request. */
  release(conn: Connection): void {
    if (conn.dead) return;
    if (this.closed) {
      conn.destroy();
      return;
    }
    const next = this.queue.shift();
    if (next !== undefined) {
      conn.start(next);
      return;
    }
    conn.idleSince = this.clock;
    this.idle.push(conn);
    this.startSweep();
  }

  forget(conn: Connection): void {
    if (!this.all.delete(conn)) return;
    const i = this.idle.indexOf(conn);
    if (i !== -1) this.idle.splice(i, 1);
    // a slot freed up: a queued request gets a new connection
    const next = this.queue.shift();
    if (next !== undefined) process.nextTick(() => this.assign(next));
  }

  /**
   * A reused keep-alive connection closed under a request before any answer
   * (the upstream timed it out as we picked it): the request is sent once
   * more on a new connection when it is idempotent and its body can be sent
   * again, as Go's transport does. Other failures go to the handler (the
   * retry middleware decides about those).
   */
  mayRetry(p: Pending, conn: Connection): boolean {
    if (p.retried || this.closed || conn.served === 0) return false;
    if (!IDEMPOTENT.has(p.req.method)) return false;
    if (p.req.body !== null && !Buffer.isBuffer(p.req.body)) return false;
    p.retried = true;
    process.nextTick(() => this.assign(p));
    return true;
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
    for (const p of this.queue.splice(0)) {
      p.handler.onError(new UpstreamError('pool closed', UPSTREAM_CLOSED));
    }
    return Promise.resolve();
  }
}
