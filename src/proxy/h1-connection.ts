/*
 * One keep-alive connection of the HTTP/1.1 client whose responses Node's
 * llhttp binding parses (h1-parser.ts): over node:net or node:tls, one request
 * at a time.
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
 */
import { connect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { Readable } from 'node:stream';
import {
  BAD_RESPONSE,
  BAD_RESPONSE_BODY,
  DIAL_TIMEOUT,
  HEADERS_TIMEOUT,
  REQUEST_BODY_ABORTED,
  REQUEST_BODY_LENGTH,
  UPSTREAM_CLOSED,
  UpstreamError,
} from './errors.js';
import type { HttpParserClass, NodeHttpParser } from './h1-parser.js';
import {
  bodyAborted,
  MAX_INTERIM_RESPONSES,
  type ConnectionOwner,
  type H1Request,
  type Pending,
  type PoolConnection,
} from './h1-request.js';

/** A connection whose responses Node's llhttp binding parses. */
export class NativeConnection implements PoolConnection {
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
    private readonly pool: ConnectionOwner,
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
