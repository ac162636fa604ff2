/*
 * One entrypoint: a Node HTTP server with strict parsing, header limits and
 * slow-client timeouts, turning each request into a RequestContext and
 * handing it to the current routing table. The table is read once per
 * request, so a request finishes on the table it started with.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { BlockList, isIPv6, type Socket } from 'node:net';
import type tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { EntryPointConfig } from '../config/static-types.js';
import { findRoute, type RoutingTable } from '../table/table.js';
import { sendStatus } from '../kernel/status.js';
import type { AccessLogger } from '../observability/access-log.js';
import type { RequestMetrics } from '../observability/metrics.js';
import { canonicalHost, RequestContext } from '../kernel/context.js';
import { BadPathError, normaliseTarget, type PathPolicy } from './path.js';
import { createTlsHandshake } from '../tls/handshake.js';
import { cleanArrivalHeaders } from '../proxy/headers.js';

export interface TableHolder {
  current: RoutingTable;
}

export interface EntryPointServer {
  name: string;
  server: http.Server;
  listen(): Promise<{ host: string; port: number }>;
  /**
   * Keep accepting for requestAcceptGraceTimeout, then stop accepting and let in-flight
   * requests finish for up to graceMs (default: the entrypoint's graceTimeOut), then cut what is left.
   */
  shutdown(graceMs?: number): Promise<void>;
  inFlight(): number;
  /** whether a client address may set X-Forwarded-* */
  isTrusted(ip: string): boolean;
}

export function createTrustCheck(ep: EntryPointConfig): (ip: string) => boolean {
  if (ep.forwardedHeaders.insecure) return () => true;
  if (ep.forwardedHeaders.trustedIPs.length === 0) return () => false;
  const list = new BlockList();
  for (const entry of ep.forwardedHeaders.trustedIPs) {
    const [addr, prefix] = entry.split('/');
    const type = isIPv6(addr!) ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(addr!, type);
    else list.addSubnet(addr!, Number(prefix), type);
  }
  return (ip) => {
    try {
      return list.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4');
    } catch {
      return false;
    }
  };
}

const kTrusted = Symbol('portico.trusted');
type TrustedSocket = Socket & { [kTrusted]?: boolean };
/** set on a connection once a refusal with "connection: close" was sent on it */
const kClosing = Symbol('portico.closing');
type ClosingSocket = Socket & { [kClosing]?: boolean };

const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)(.*)$/i;

/**
 * Splits an absolute-form target (`GET http://host/path`): RFC 9112 §3.2.2 says
 * its authority wins over Host. An empty authority is refused (§3.2.2), and so
 * is userinfo (RFC 9110 §4.2.4), by the Host character check in the caller.
 */
export function splitAbsolute(url: string): { host: string; target: string } | null {
  const m = ABSOLUTE_FORM.exec(url);
  if (m === null || m[1] === undefined || m[1] === '') return null;
  const rest = m[2] ?? '';
  return {
    host: m[1],
    target: rest === '' ? '/' : rest.charCodeAt(0) === 0x3f ? '/' + rest : rest,
  };
}

/**
 * Bytes allowed in a Host header (Go's httpguts.ValidHostHeader, which Traefik
 * relies on): reg-name, IP literals, port, sub-delims. No space, '/', '@', '\\'
 * or controls, so a Host cannot smuggle a path or userinfo past routing.
 */
const HOST_BYTES = (() => {
  const t = new Uint8Array(128);
  const ok = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!$%&'()*+,-.:;=[]_~";
  for (let i = 0; i < ok.length; i++) t[ok.charCodeAt(i)] = 1;
  return t;
})();

export function validHost(host: string): boolean {
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c >= 128 || HOST_BYTES[c] === 0) return false;
  }
  return true;
}

/** RFC 9112 §3.2: more than one Host header is a 400. Node keeps only the first in req.headers. */
function hasDuplicateHost(raw: string[]): boolean {
  let seen = false;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    // case-insensitive "host" without a lower-cased copy (header names are tokens: | 0x20 is safe)
    if (
      n.length === 4 &&
      (n.charCodeAt(0) | 0x20) === 0x68 &&
      (n.charCodeAt(1) | 0x20) === 0x6f &&
      (n.charCodeAt(2) | 0x20) === 0x73 &&
      (n.charCodeAt(3) | 0x20) === 0x74
    ) {
      if (seen) return true;
      seen = true;
    }
  }
  return false;
}

/** The only transfer coding the proxy can re-frame faithfully; anything else is a 501 (RFC 9112 §6.1). */
function unsupportedTransferEncoding(te: string | undefined): boolean {
  return te !== undefined && te !== 'chunked' && te.toLowerCase() !== 'chunked';
}

/** Raw answers on the socket when Node's parser gave up on the request (no ServerResponse exists). */
const CLIENT_ERROR_RESPONSES = new Map<number, string>(
  (
    [
      [400, 'Bad Request'],
      [408, 'Request Timeout'],
      [413, 'Content Too Large'],
      [431, 'Request Header Fields Too Large'],
    ] as const
  ).map(([status, text]) => [
    status,
    `HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-type: text/plain; charset=utf-8\r\n` +
      `content-length: ${text.length + 1}\r\n\r\n${text}\n`,
  ]),
);

/** The status for a clientError: llhttp codes (HPE_*) and Node's own timeout error. */
export function clientErrorStatus(code: string | undefined): number {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 431;
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return 413;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 408;
    default:
      // every other parse error (framing, tokens, line endings, Content-Length, chunk size) is the client's
      return 400;
  }
}

type SocketWithMessage = Duplex & {
  _httpMessage?: (ServerResponse & { req?: IncomingMessage }) | null;
};

/**
 * An untrusted client's X-Forwarded-* (and X-Real-Ip, Forwarded) are removed
 * before anything reads them, so no middleware or upstream can be fooled by a
 * forged value (X-Forwarded-Prefix, X-Forwarded-User...), as Traefik does.
 */
export function dropForwardedHeaders(headers: IncomingMessage['headers']): void {
  for (const name in headers) {
    if (name.charCodeAt(0) !== 0x78 && name.charCodeAt(0) !== 0x66) continue; // 'x' or 'f'
    if (name.startsWith('x-forwarded-') || name === 'x-real-ip' || name === 'forwarded')
      delete headers[name];
  }
}

/** How often Node sweeps connections for the header/request deadlines: a fraction of the shorter one. */
function checkingInterval(headersMs: number, requestMs: number): number {
  const shortest = Math.min(
    headersMs > 0 ? headersMs : Infinity,
    requestMs > 0 ? requestMs : Infinity,
  );
  if (shortest === Infinity) return 30_000;
  return Math.max(25, Math.min(1000, Math.floor(shortest / 4)));
}

/** Go's tlsHandshakeTimeout: the shortest non-zero read/write deadline; Node's 120 s otherwise. */
function handshakeTimeout(t: EntryPointConfig['transport']['respondingTimeouts']): number {
  const set = [t.readHeaderTimeoutMs, t.readTimeoutMs, t.writeTimeoutMs].filter((v) => v > 0);
  return set.length === 0 ? 120_000 : Math.min(...set);
}

/** Traefik's entryPoints.<n>.http2.maxConcurrentStreams default (Go's x/net/http2 value). */
export const H2_MAX_CONCURRENT_STREAMS = 250;

/**
 * HTTP/2 session limits. maxHeaderListSize is the HTTP/1 maxHeaderBytes (RFC 9113 §6.5.2 counts
 * name + value + 32 per field, so it also bounds the number of fields, and the pair limit is set
 * so that the size is the binding one, as on HTTP/1). The flood bounds are written out rather
 * than left to Node's defaults: invalid frames, refused streams (rapid reset, CVE-2023-44487:
 * nghttp2 also rate-limits resets itself), unanswered pings, entries per SETTINGS frame, and the
 * memory a session may hold before new streams are refused.
 */
export function h2SessionOptions(maxHeaderBytes: number): http2.ServerOptions {
  return {
    settings: {
      maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS,
      maxHeaderListSize: maxHeaderBytes,
      enablePush: false,
    },
    maxHeaderListPairs: Math.max(128, Math.ceil(maxHeaderBytes / 32) + 8),
    maxSessionInvalidFrames: 1000,
    maxSessionRejectedStreams: 100,
    maxOutstandingPings: 10,
    maxSettings: 32,
    maxSessionMemory: 32,
  };
}

/**
 * Sends connections that negotiated h2 to the HTTP/2 server and the others to the HTTPS server's
 * own HTTP/1 listener, which tls.Server registers as its 'secureConnection' listener (the
 * documented secureConnectionListener; HTTP/2 servers document 'connection' for injecting a
 * socket). False when the layout is not the expected one: the caller then offers no h2.
 */
export function routeByAlpn(server: tls.Server, h2: http2.Http2Server): boolean {
  const listeners = server.listeners('secureConnection');
  if (listeners.length !== 1 || typeof listeners[0] !== 'function') return false;
  const h1 = listeners[0] as (socket: tls.TLSSocket) => void;
  server.removeListener('secureConnection', h1);
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    // the client-certificate check (tls/handshake.ts) runs first and may have refused it
    if (socket.destroyed) return;
    if (socket.alpnProtocol === 'h2') h2.emit('connection', socket);
    else h1.call(server, socket);
  });
  return true;
}

/** The fallback of routeByAlpn: ALPN never picks h2, so every client speaks HTTP/1.1. */
export function withoutH2(server: tls.Server): void {
  type Pick = (arg: { servername: string; protocols: string[] }) => string | undefined;
  const s = server as tls.Server & { ALPNCallback?: Pick };
  const pick = s.ALPNCallback;
  s.ALPNCallback = (arg) => {
    const protocols = arg.protocols.filter((p) => p !== 'h2');
    if (pick !== undefined) return pick({ ...arg, protocols });
    return protocols.includes('http/1.1') ? 'http/1.1' : undefined;
  };
}

/**
 * The HTTP/1 deadlines, for an HTTP/2 session (Node's HTTP/2 server has none of them):
 *  - the first request must arrive within readHeaderTimeout of the connection, as on HTTP/1.1
 *    (a HEADERS block trickled in CONTINUATION frames never becomes a stream, so this is what
 *    ends it);
 *  - a session with no open stream is closed with GOAWAY after idleTimeout (Go's IdleTimeout);
 *  - each stream's request must be read within readTimeout (handle, below).
 * A client that ignores the GOAWAY is cut a little later.
 */
function watchSession(
  session: http2.ServerHttp2Session,
  t: EntryPointConfig['transport']['respondingTimeouts'],
): void {
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const goaway = (): void => {
    timer = undefined;
    if (session.closed || session.destroyed) return;
    session.close();
    setTimeout(() => session.destroy(), 1000).unref();
  };
  const arm = (ms: number): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = ms > 0 ? setTimeout(goaway, ms) : undefined;
    timer?.unref();
  };
  arm(t.readHeaderTimeoutMs > 0 ? t.readHeaderTimeoutMs : t.idleTimeoutMs);
  session.on('stream', (stream: http2.ServerHttp2Stream) => {
    open++;
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    stream.once('close', () => {
      if (--open === 0) arm(t.idleTimeoutMs);
    });
  });
  session.once('close', () => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

/** The stream's request is complete: the client sent END_STREAM (RFC 9113 §5.1 half-closed (remote)). */
function requestReceived(stream: http2.ServerHttp2Stream): boolean {
  if (stream.endAfterHeaders || stream.destroyed) return true;
  const state = stream.state?.state;
  return (
    state === http2.constants.NGHTTP2_STREAM_STATE_HALF_CLOSED_REMOTE ||
    state === http2.constants.NGHTTP2_STREAM_STATE_CLOSED
  );
}

/**
 * readTimeout for one HTTP/2 stream, as Node applies requestTimeout to an HTTP/1.1 request:
 * a request not fully received in time is answered 408 if nothing was sent yet (then the stream is
 * closed with NO_ERROR, RFC 9113 §8.1), else reset; the upstream exchange is abandoned either way.
 */
function readDeadline(ctx: RequestContext, ms: number): void {
  const stream = (ctx.req as unknown as { stream?: http2.ServerHttp2Stream }).stream;
  if (stream === undefined || requestReceived(stream)) return;
  const res = ctx.res;
  const timer = setTimeout(() => {
    if (requestReceived(stream)) return;
    ctx.clientGone = true;
    const abort = ctx.abortUpstream;
    ctx.abortUpstream = undefined;
    abort?.(new Error('request read timeout'));
    if (res.headersSent) {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      return;
    }
    res.once('finish', () => stream.close(http2.constants.NGHTTP2_NO_ERROR));
    sendStatus(res, 408);
  }, ms);
  timer.unref();
  res.once('close', () => clearTimeout(timer));
}

export function createEntryPoint(opts: {
  config: EntryPointConfig;
  holder: TableHolder;
  logger: Logger;
  accessLog?: AccessLogger | undefined;
  /** request and connection metrics (undefined when neither metrics nor the API is on) */
  metrics?: RequestMetrics | undefined;
  scheme?: 'http' | 'https';
  /** presented when the client sends no SNI (TLS entrypoints) */
  defaultCertificate?: { cert: string; key: string } | undefined;
}): EntryPointServer {
  const ep = opts.config;
  const name = ep.name;
  const log = opts.logger.child({ entryPoint: name });
  const scheme = ep.http.tls !== undefined ? 'https' : (opts.scheme ?? 'http');
  const accessLog = opts.accessLog;
  const metrics = opts.metrics;
  const isTrusted = createTrustCheck(ep);
  const policy: PathPolicy = { sanitize: ep.http.sanitizePath, encoded: ep.http.encodedCharacters };
  const t = ep.transport.respondingTimeouts;
  const writeTimeoutMs = t.writeTimeoutMs;
  const readTimeoutMs = t.readTimeoutMs;
  let inFlight = 0;
  let draining = false;
  let drained: (() => void) | null = null;

  // one set of limits for every transport (issue 11 item 4): plain HTTP/1.1 and HTTP/1.1 over TLS
  // are the same Node HTTP/1 server options; HTTP/2 gets the equivalents below (h2SessionOptions,
  // watchSession, the per-stream readTimeout in handle)
  const httpOptions = {
    // never the lenient parser: request smuggling hides in what it accepts
    insecureHTTPParser: false,
    maxHeaderSize: ep.http.maxHeaderBytes,
    requestTimeout: t.readTimeoutMs,
    headersTimeout: t.readHeaderTimeoutMs,
    keepAliveTimeout: t.idleTimeoutMs,
    // Node enforces the two timeouts above only when this timer sweeps (default every 30 s)
    connectionsCheckingInterval: checkingInterval(t.readHeaderTimeoutMs, t.readTimeoutMs),
    requireHostHeader: true,
    joinDuplicateHeaders: false,
    noDelay: true,
  };
  const tlsTerminating = ep.http.tls !== undefined;
  // certificate, TLS options and ALPN follow the SNI name, from the table in force now
  const handshake = tlsTerminating
    ? createTlsHandshake({
        entryPoint: name,
        holder: opts.holder,
        defaultCertificate: opts.defaultCertificate,
        log,
      })
    : undefined;
  /*
   * A TLS entrypoint is Node's HTTPS server (the HTTP/1 server with every option above) whose
   * connections that negotiated h2 by ALPN are handed to an HTTP/2 server that never listens
   * itself. Node's HTTP/2 server in allowHTTP1 mode, used before, served HTTP/1.1 with its own
   * defaults: no Host check, no idle timeout, 16 KiB headers, a 60 s header deadline.
   */
  const server: http.Server = handshake
    ? (https.createServer({
        ...httpOptions,
        SNICallback: handshake.sniCallback,
        // clients that send no SNI get the default certificate
        ...(opts.defaultCertificate ?? {}),
        minVersion: 'TLSv1.2',
        // Go bounds the handshake by the shortest read deadline (net/http tlsHandshakeTimeout)
        handshakeTimeout: handshakeTimeout(t),
      }) as unknown as http.Server)
    : http.createServer(httpOptions);
  // header count is bounded by maxHeaderBytes alone, as in Go: Node's default (2000) drops the rest silently
  server.maxHeadersCount = 0;
  const h2 = tlsTerminating
    ? http2.createServer(h2SessionOptions(ep.http.maxHeaderBytes))
    : undefined;
  // the HTTP/2 sessions, for GOAWAY on shutdown (the HTTPS server tracks its HTTP/1 connections)
  const sessions = new Set<http2.ServerHttp2Session>();
  const h2Offered = h2 !== undefined && routeByAlpn(server as unknown as tls.Server, h2);
  if (h2 !== undefined) {
    if (!h2Offered) {
      log.warn('this Node version lays out its HTTPS server differently: HTTP/2 is not offered');
    }
    h2.on('session', (session: http2.ServerHttp2Session) => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
      watchSession(session, t);
    });
    // a protocol error in one session (flood, bad frame) is that session's end, not the process's
    h2.on('sessionError', (err: Error) => log.debug({ err: err.message }, 'http/2 session error'));
  }
  const closeIdle = (): void => {
    server.closeIdleConnections();
    // GOAWAY: HTTP/2 clients finish their streams and open no new ones
    for (const session of sessions) session.close();
  };
  // TCP connections of a TLS entrypoint, for the final cut: some are in neither list above
  // (mid-handshake, or relayed to the ACME TLS-ALPN responder)
  const sockets = new Set<Socket>();
  if (tlsTerminating) {
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
  }
  const closeAll = (): void => {
    server.closeAllConnections();
    for (const session of sessions) session.destroy();
    for (const socket of sockets) socket.destroy();
  };
  if (handshake) {
    handshake.attach(server as unknown as tls.Server);
    if (!h2Offered) withoutH2(server as unknown as tls.Server);
    // https.Server turns TLS handshake failures into clientError, whose handler writes HTTP: not here
    server.removeAllListeners('tlsClientError');
    server.on('tlsClientError', (err: Error, socket: Duplex) => {
      log.debug({ err: err.message }, 'tls handshake failed');
      socket.destroy();
    });
  }
  server.maxRequestsPerSocket =
    ep.transport.keepAliveMaxRequests > 0 ? ep.transport.keepAliveMaxRequests : 0;
  server.timeout = 0;

  const trustedFor = (socket: TrustedSocket, ip: string): boolean => {
    let v = socket[kTrusted];
    if (v === undefined) socket[kTrusted] = v = isTrusted(ip);
    return v;
  };

  const finish = (ctx: RequestContext): void => {
    inFlight--;
    // Http2ServerResponse has writableEnded but no writableFinished
    if (!(ctx.res.writableFinished ?? ctx.res.writableEnded)) {
      ctx.clientGone = true;
      const abort = ctx.abortUpstream;
      if (abort !== undefined) {
        ctx.abortUpstream = undefined;
        abort(new Error('client closed the connection'));
      }
    }
    // one clock read for both (performance.now() costs ~0.2 us on these VMs)
    if (accessLog !== undefined || metrics !== undefined) ctx.endTime = performance.now();
    if (accessLog !== undefined) accessLog(ctx);
    if (metrics !== undefined) metrics.onRequestEnd(ctx);
    if (draining && inFlight === 0) drained?.();
  };

  /** a refusal before routing: the connection is closed after it, as framing may be in doubt */
  const refuse = (req: IncomingMessage, res: ServerResponse, status: number): void => {
    res.shouldKeepAlive = false;
    // HTTP/2 closes only the stream, and its socket is the whole session's
    if (req.httpVersionMajor === 1) (req.socket as ClosingSocket)[kClosing] = true;
    sendStatus(res, status);
  };

  const handle = (
    req: IncomingMessage,
    res: ServerResponse,
    upgrade?: { socket: Duplex; head: Buffer },
  ): void => {
    // RFC 9112 §9.6: after a response with "close", no further request on that connection is
    // processed. Node has already parsed (and emits) requests pipelined behind a refused one: they
    // are left unanswered, and the connection closes once the refusal is out.
    if ((req.socket as ClosingSocket | null)?.[kClosing] === true) return;
    const table = opts.holder.current;
    // HTTP/0.9 ("GET /" with no version) has no headers and no framing: never forward it
    // (HTTP/2 arrives only on TLS entrypoints, negotiated by ALPN)
    if (req.httpVersionMajor !== 1 && !(req.httpVersionMajor === 2 && tlsTerminating)) {
      refuse(req, res, 400);
      return;
    }
    const te = req.headers['transfer-encoding'];
    if (te !== undefined && req.httpVersionMajor === 1 && req.httpVersionMinor === 0) {
      // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing (chunked is 1.1 only):
      // answer and close, as the body's end cannot be known
      refuse(req, res, 400);
      return;
    }
    if (unsupportedTransferEncoding(te)) {
      // Node accepts "gzip, chunked"; dropping the hop-by-hop header would hand the upstream a body it cannot read
      refuse(req, res, 501);
      return;
    }
    if (hasDuplicateHost(req.rawHeaders)) {
      refuse(req, res, 400);
      return;
    }
    // HTTP/2 carries the host in :authority (browsers send no Host header)
    let rawHost = req.headers.host ?? (req.headers[':authority'] as string | undefined) ?? '';
    let url = req.url ?? '/';
    if (url.charCodeAt(0) !== 0x2f) {
      const abs = splitAbsolute(url);
      if (abs === null) {
        refuse(req, res, 400);
        return;
      }
      rawHost = abs.host;
      url = abs.target;
    }
    // HTTP/1.1 without Host never gets here (requireHostHeader); an HTTP/2 request needs
    // :authority or Host too (RFC 9113 §8.3.1), or routing by Host would see an empty one
    if (!validHost(rawHost) || (rawHost === '' && req.httpVersionMajor === 2)) {
      refuse(req, res, 400);
      return;
    }
    let path: string;
    let query: string;
    try {
      const split = normaliseTarget(url, policy);
      path = split.path;
      query = split.query;
    } catch (err) {
      if (err instanceof BadPathError) log.debug({ url, reason: err.message }, 'bad request path');
      sendStatus(res, 400);
      return;
    }
    const ctx = new RequestContext(
      req,
      res,
      name,
      scheme,
      canonicalHost(rawHost),
      rawHost,
      path,
      query,
      upgrade,
    );
    if (tlsTerminating && table.tls?.hasHostOptions(name) === true) {
      // domain fronting: the Host's TLS options (e.g. client certificates) must be the ones negotiated
      const sni = (req.socket as tls.TLSSocket).servername;
      if (table.tls.misdirected(name, typeof sni === 'string' ? sni : undefined, ctx.host)) {
        sendStatus(res, 421);
        return;
      }
    }
    ctx.trusted = trustedFor(req.socket as TrustedSocket, ctx.clientIp);
    if (!ctx.trusted) dropForwardedHeaders(req.headers);
    // before routing and every middleware: what the client's Connection header names, and
    // underscore spellings of identity headers (issue 11 items 5 and 9), are gone from here on
    cleanArrivalHeaders(req);
    inFlight++;
    res.once('close', () => finish(ctx));
    if (readTimeoutMs > 0 && req.httpVersionMajor === 2) readDeadline(ctx, readTimeoutMs);
    if (draining) res.shouldKeepAlive = false;
    if (writeTimeoutMs > 0 && upgrade === undefined) {
      // Go's WriteTimeout: the whole response must be written within this, or the connection is cut
      const timer = setTimeout(() => {
        if (!(res.writableFinished ?? res.writableEnded)) res.destroy();
      }, writeTimeoutMs);
      timer.unref();
      res.once('close', () => clearTimeout(timer));
    }
    // a throw here would be an uncaught exception in a server listener: the whole process would go
    try {
      const routes = table.entryPoints.get(name);
      const route = routes === undefined ? undefined : findRoute(routes, ctx);
      if (route === undefined) {
        sendStatus(res, 404);
        return;
      }
      ctx.routerName = route.name;
      route.handler(ctx);
    } catch (err) {
      log.error({ err, router: ctx.routerName }, 'request handler failed');
      try {
        sendStatus(res, 500);
      } catch {
        res.destroy();
      }
    }
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => handle(req, res));
  // HTTP/2's compatibility request and response stand in for Node's HTTP/1 ones throughout
  h2?.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) =>
    handle(req as unknown as IncomingMessage, res as unknown as ServerResponse),
  );

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    // a response object on the raw socket lets middlewares answer (401, 403, 404) as for any request
    const res = new http.ServerResponse(req);
    res.assignSocket(socket as Socket);
    res.shouldKeepAlive = false;
    res.once('finish', () => {
      if (res.statusCode !== 101) socket.end();
    });
    handle(req, res, { socket, head });
  });

  /*
   * Node's parser refused the bytes (HPE_*), a timeout fired (ERR_HTTP_REQUEST_TIMEOUT, which carries
   * no bytesParsed), or the socket failed mid-parse (ECONNRESET). Nothing of the request was handed
   * to a router, so nothing reached an upstream. An answer is written only when no response has
   * started on this socket (as Node does), so a pipelined response is never corrupted; then the
   * connection is closed, because after a framing error the next byte's meaning is unknown.
   */
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    log.debug({ err: err.message, code: err.code }, 'client error');
    const msg = (socket as SocketWithMessage)._httpMessage;
    if (
      !socket.writable ||
      socket.destroyed ||
      err.code === 'ECONNRESET' ||
      (msg != null && msg.headersSent)
    ) {
      socket.destroy();
      return;
    }
    if (msg != null && msg.req?.complete === true) {
      // the error is in a pipelined request after one still being answered: an answer now would be
      // read as that one's. Let it finish, then close (nothing after the bad bytes is parsed).
      msg.shouldKeepAlive = false;
      return;
    }
    const response =
      CLIENT_ERROR_RESPONSES.get(clientErrorStatus(err.code)) ?? CLIENT_ERROR_RESPONSES.get(400)!;
    socket.end(response);
    if (msg != null) {
      // the request in flight has a malformed body (bad chunk size, chunk overflow...): its response
      // must not write after this one, and its body must never reach an upstream. Destroying it now,
      // in the same tick as the parse error, makes the forwarder's onConnect abort before undici
      // writes a byte upstream (undici starts a streamed body on a later microtask at the earliest).
      msg.shouldKeepAlive = false;
      const req = msg.req;
      if (req !== undefined && !req.destroyed) req.destroy();
    }
    // destroy once flushed, and in any case soon: a peer that never reads must not hold the socket
    socket.once('finish', () => socket.destroy());
    setTimeout(() => socket.destroy(), 1000).unref();
  });

  server.on('connection', (socket: Socket) => {
    socket.on('error', () => undefined);
    if (metrics !== undefined) {
      // Traefik's open_connections{protocol="TCP"}: TCP connections, whatever runs over them
      metrics.connectionOpened(name, 'TCP');
      socket.once('close', () => metrics.connectionClosed(name, 'TCP'));
    }
  });

  return {
    name,
    server,
    isTrusted,
    inFlight: () => inFlight,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port: ep.port, host: ep.host === '' ? undefined : ep.host }, () => {
          server.off('error', reject);
          const a = server.address();
          resolve(
            typeof a === 'object' && a !== null
              ? { host: a.address, port: a.port }
              : { host: ep.host, port: ep.port },
          );
        });
      }),
    shutdown: (graceMs = ep.transport.lifeCycle.graceTimeOutMs) =>
      new Promise<void>((resolve) => {
        draining = true;
        const acceptFor = ep.transport.lifeCycle.requestAcceptGraceTimeoutMs;
        // requestAcceptGraceTimeout: keep accepting while a load balancer in front notices we are going
        const stopAccepting = (): void => {
          server.close();
          closeIdle();
        };
        if (acceptFor > 0) setTimeout(stopAccepting, acceptFor).unref();
        else stopAccepting();
        const done = (): void => {
          clearTimeout(timer);
          closeAll();
          resolve();
        };
        const timer = setTimeout(done, acceptFor + graceMs);
        timer.unref();
        if (inFlight === 0 && acceptFor === 0) done();
        else
          drained = () => {
            if (acceptFor === 0 || !server.listening) done();
          };
        if (acceptFor > 0) {
          setTimeout(() => {
            if (inFlight === 0) done();
          }, acceptFor).unref();
        }
      }),
  };
}
