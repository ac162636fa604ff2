/*
 * One entrypoint: a Node HTTP server with strict parsing, header limits and
 * slow-client timeouts, turning each request into a RequestContext and
 * handing it to the current routing table. The table is read once per
 * request, so a request finishes on the table it started with.
 *
 * The pieces: the HTTP/1.1 server options and raw client-error answers
 * (http1.ts), the TLS server and its HTTP/2 side (tls-server.ts, http2.ts),
 * the checks a request passes before routing (admission.ts), and requests in
 * flight with the graceful shutdown (drain.ts). This file wires them and
 * dispatches each admitted request to its router.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type http2 from 'node:http2';
import net, { type Socket } from 'node:net';
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
import { cleanArrivalHeaders } from '../proxy/headers.js';
import {
  acceptableHost,
  createTrustCheck,
  dropForwardedHeaders,
  framingProblem,
  splitAbsolute,
} from './admission.js';
import {
  answerClientError,
  applyServerLimits,
  http1Options,
  trackConnections,
  upgradeResponse,
} from './http1.js';
import { createH2Server, readDeadline } from './http2.js';
import { createTlsServer, handshakeTimeout } from './tls-server.js';
import { createConnectionDispatcher } from './connection.js';
import { serveTcp } from './tcp-serve.js';
import {
  acceptH2cUpgrade,
  asksForH2c,
  replayWithoutUpgrade,
  wantsH2cUpgrade,
} from './h2c-upgrade.js';
import { InFlight, shutdown } from './drain.js';

// existing importers (api/explain.ts, tests) read these from here
export { clientErrorStatus } from './http1.js';
export { createTrustCheck, dropForwardedHeaders, splitAbsolute, validHost } from './admission.js';
export { H2_MAX_CONCURRENT_STREAMS, h2SessionOptions } from './http2.js';
export { routeByAlpn, withoutH2 } from './tls-server.js';

export interface TableHolder {
  current: RoutingTable;
}

export interface EntryPointServer {
  name: string;
  /** the HTTP server of the routers without TLS (it never listens itself) */
  server: http.Server;
  /** the TCP listener: it hands each connection to HTTP, TLS or TCP (connection.ts) */
  listener: net.Server;
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

const kTrusted = Symbol('portico.trusted');
type TrustedSocket = Socket & { [kTrusted]?: boolean };
/** set on a connection once a refusal with "connection: close" was sent on it */
const kClosing = Symbol('portico.closing');
type ClosingSocket = Socket & { [kClosing]?: boolean };

type Handle = (
  req: IncomingMessage,
  res: ServerResponse,
  upgrade?: { socket: Duplex; head: Buffer },
) => void;

interface HandlerDeps {
  ep: EntryPointConfig;
  holder: TableHolder;
  log: Logger;
  scheme: 'http' | 'https';
  tlsTerminating: boolean;
  accessLog: AccessLogger | undefined;
  metrics: RequestMetrics | undefined;
  isTrusted: (ip: string) => boolean;
  inFlight: InFlight;
}

/**
 * The per-request path: admission checks, the RequestContext, trust, deadlines,
 * then the router the table in force finds. Every refusal before routing closes
 * the connection, as framing may be in doubt.
 */
function createRequestHandler(d: HandlerDeps): Handle {
  const { ep, holder, log, scheme, tlsTerminating, accessLog, metrics, isTrusted, inFlight } = d;
  const name = ep.name;
  const policy: PathPolicy = { sanitize: ep.http.sanitizePath, encoded: ep.http.encodedCharacters };
  const writeTimeoutMs = ep.transport.respondingTimeouts.writeTimeoutMs;
  const readTimeoutMs = ep.transport.respondingTimeouts.readTimeoutMs;

  const trustedFor = (socket: TrustedSocket, ip: string): boolean => {
    let v = socket[kTrusted];
    if (v === undefined) socket[kTrusted] = v = isTrusted(ip);
    return v;
  };

  const finish = (ctx: RequestContext): void => {
    inFlight.count--;
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
    inFlight.settle();
  };

  /** a refusal before routing: the connection is closed after it, as framing may be in doubt */
  const refuse = (req: IncomingMessage, res: ServerResponse, status: number): void => {
    res.shouldKeepAlive = false;
    // HTTP/2 closes only the stream, and its socket is the whole session's
    if (req.httpVersionMajor === 1) (req.socket as ClosingSocket)[kClosing] = true;
    sendStatus(res, status);
  };

  /** The router the table finds, or 404; a throw is logged and answered 500. */
  const dispatch = (table: RoutingTable, ctx: RequestContext, res: ServerResponse): void => {
    // a throw here would be an uncaught exception in a server listener: the whole process would go
    try {
      const routes = (tlsTerminating ? table.tlsEntryPoints : table.entryPoints).get(name);
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

  return (req, res, upgrade) => {
    // RFC 9112 §9.6: after a response with "close", no further request on that connection is
    // processed. Node has already parsed (and emits) requests pipelined behind a refused one: they
    // are left unanswered, and the connection closes once the refusal is out.
    if ((req.socket as ClosingSocket | null)?.[kClosing] === true) return;
    const table = holder.current;
    // HTTP/2 reaches this handler only from its own servers (ALPN on TLS, the h2c preface in clear)
    const problem = framingProblem(req, true);
    if (problem !== 0) {
      refuse(req, res, problem);
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
    if (!acceptableHost(rawHost, req.httpVersionMajor)) {
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
    inFlight.count++;
    res.once('close', () => finish(ctx));
    if (readTimeoutMs > 0 && req.httpVersionMajor === 2) readDeadline(ctx, readTimeoutMs);
    if (inFlight.draining) res.shouldKeepAlive = false;
    if (writeTimeoutMs > 0 && upgrade === undefined) {
      // Go's WriteTimeout: the whole response must be written within this, or the connection is cut
      const timer = setTimeout(() => {
        if (!(res.writableFinished ?? res.writableEnded)) res.destroy();
      }, writeTimeoutMs);
      timer.unref();
      res.once('close', () => clearTimeout(timer));
    }
    dispatch(table, ctx, res);
  };
}

function listen(server: net.Server, ep: EntryPointConfig): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
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
  });
}

export function createEntryPoint(opts: {
  config: EntryPointConfig;
  holder: TableHolder;
  logger: Logger;
  accessLog?: AccessLogger | undefined;
  /** request and connection metrics (undefined when neither metrics nor the API is on) */
  metrics?: RequestMetrics | undefined;
  scheme?: 'http' | 'https';
  /** presented when no certificate matches the SNI name; without it the entrypoint serves no TLS */
  defaultCertificate?: { cert: string; key: string } | undefined;
}): EntryPointServer {
  const ep = opts.config;
  const name = ep.name;
  const log = opts.logger.child({ entryPoint: name });
  const metrics = opts.metrics;
  const isTrusted = createTrustCheck(ep);
  const inFlight = new InFlight();

  const options = http1Options(ep);
  // neither server listens: the connection layer (connection.ts) hands each one its connections
  const plain = http.createServer(options);
  const tlsSide =
    opts.defaultCertificate === undefined && ep.http.tls === undefined
      ? undefined
      : createTlsServer({
          config: ep,
          http1Options: options,
          holder: opts.holder,
          defaultCertificate: opts.defaultCertificate,
          log,
        });
  const h2 = tlsSide?.h2;
  const common = {
    ep,
    holder: opts.holder,
    log,
    accessLog: opts.accessLog,
    metrics,
    isTrusted,
    inFlight,
  };
  const handlePlain = createRequestHandler({
    ...common,
    scheme: opts.scheme ?? 'http',
    tlsTerminating: false,
  });
  const servers: [http.Server, Handle][] = [[plain, handlePlain]];
  // cleartext HTTP/2 with prior knowledge (h2c, e.g. gRPC without TLS), as Traefik accepts it
  const h2c = createH2Server(ep, log);
  h2c.server.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) =>
    handlePlain(req as unknown as IncomingMessage, res as unknown as ServerResponse),
  );
  if (tlsSide !== undefined) {
    const handleTls = createRequestHandler({ ...common, scheme: 'https', tlsTerminating: true });
    servers.push([tlsSide.server, handleTls]);
    // HTTP/2's compatibility request and response stand in for Node's HTTP/1 ones throughout
    tlsSide.h2.server.on(
      'request',
      (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) =>
        handleTls(req as unknown as IncomingMessage, res as unknown as ServerResponse),
    );
  }
  for (const [server, handle] of servers) {
    applyServerLimits(server, ep);
    if (!trackConnections(server))
      log.warn(
        'this Node version does not start its HTTP deadline sweep for servers that do not listen: readHeaderTimeout and readTimeout are not enforced',
      );
    server.on('request', (req: IncomingMessage, res: ServerResponse) => handle(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // Upgrade: h2c (cleartext only): the request goes on as stream 1 of an HTTP/2 session
      if (server === plain && asksForH2c(req)) {
        const taken =
          wantsH2cUpgrade(req) &&
          acceptH2cUpgrade({
            req,
            socket,
            head,
            timeoutMs: handshakeTimeout(ep.transport.respondingTimeouts),
            handOver: (s) => h2c.server.emit('connection', s),
          });
        // one Portico does not take goes on as the HTTP/1.1 request it also is
        if (!taken) replayWithoutUpgrade(req, socket, head, plain);
        return;
      }
      handle(req, upgradeResponse(req, socket), { socket, head });
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) =>
      answerClientError(err, socket, log),
    );
  }

  const sockets = new Set<Socket>();
  const dispatchConnection = createConnectionDispatcher({
    ep,
    holder: opts.holder,
    peekTimeoutMs: handshakeTimeout(ep.transport.respondingTimeouts),
    targets: {
      http: (socket) => plain.emit('connection', socket),
      h2c: (socket) => h2c.server.emit('connection', socket),
      // what Node's HTTP server answers a client silent past readHeaderTimeout
      silent: (socket) =>
        answerClientError(
          Object.assign(new Error('nothing received before the read deadline'), {
            code: 'ERR_HTTP_REQUEST_TIMEOUT',
          }),
          socket,
          log,
        ),
      https: (socket, peek) => {
        if (tlsSide === undefined) socket.destroy();
        else tlsSide.accept(socket, peek);
      },
      tcp: (route, socket, info, peek) =>
        serveTcp({
          entryPoint: name,
          table: opts.holder.current,
          route,
          socket,
          info,
          peek,
          handshakeTimeoutMs: handshakeTimeout(ep.transport.respondingTimeouts),
          log,
        }),
    },
  });
  const listener = net.createServer(
    // half-closed connections stay open for TCP routers, as Node's own HTTP server keeps them
    { noDelay: true, allowHalfOpen: true },
    (socket: Socket) => {
      socket.on('error', () => undefined);
      // every TCP connection, for the final cut at shutdown: some are neither an HTTP/1 connection
      // nor an HTTP/2 session (mid-peek, mid-handshake, relayed to the ACME TLS-ALPN responder)
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      if (metrics !== undefined) {
        // Traefik's open_connections{protocol="TCP"}: TCP connections, whatever runs over them
        metrics.connectionOpened(name, 'TCP');
        socket.once('close', () => metrics.connectionClosed(name, 'TCP'));
      }
      dispatchConnection(socket);
    },
  );

  return {
    name,
    server: plain,
    listener,
    isTrusted,
    inFlight: () => inFlight.count,
    listen: () => listen(listener, ep),
    shutdown: (graceMs = ep.transport.lifeCycle.graceTimeOutMs) =>
      shutdown({
        server: listener,
        inFlight,
        acceptForMs: ep.transport.lifeCycle.requestAcceptGraceTimeoutMs,
        graceMs,
        closeIdle: () => {
          for (const [server] of servers) server.closeIdleConnections();
          // GOAWAY: HTTP/2 clients finish their streams and open no new ones
          for (const session of [...(h2?.sessions ?? []), ...h2c.sessions]) session.close();
        },
        closeAll: () => {
          for (const [server] of servers) {
            server.closeAllConnections();
            // stops the deadline sweep trackConnections started
            server.close();
          }
          for (const session of [...(h2?.sessions ?? []), ...h2c.sessions]) session.destroy();
          for (const socket of sockets) socket.destroy();
        },
      }),
  };
}
