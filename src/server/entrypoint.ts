/*
 * One entrypoint: a Node HTTP server with strict parsing, header limits and
 * slow-client timeouts, turning each request into a RequestContext and
 * handing it to the current routing table. The table is read once per
 * request, so a request finishes on the table it started with.
 *
 * The pieces: the HTTP/1.1 server options and raw client-error answers
 * (http1.ts), the TLS server and its HTTP/2 side (tls-server.ts, http2.ts),
 * the checks a request passes before routing (admission.ts), requests in
 * flight with the graceful shutdown (drain.ts), and the per-request path to
 * the router (request-handler.ts). This file wires them: the servers and their
 * handlers, the TCP listener that dispatches each connection, and shutdown.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type http2 from 'node:http2';
import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { EntryPointConfig } from '../config/static-types.js';
import type { AccessLogger } from '../observability/access-log.js';
import type { RequestMetrics } from '../observability/metrics.js';
import { createTrustCheck } from './admission.js';
import {
  answerClientError,
  applyServerLimits,
  http1Options,
  trackConnections,
  upgradeResponse,
} from './http1.js';
import { createH2Server, type H2Server } from './http2.js';
import { createTlsServer, handshakeTimeout, type TlsEntryPointServer } from './tls-server.js';
import { createConnectionDispatcher } from './connection.js';
import { serveTcp } from './tcp-serve.js';
import {
  acceptH2cUpgrade,
  asksForH2c,
  replayWithoutUpgrade,
  wantsH2cUpgrade,
} from './h2c-upgrade.js';
import { InFlight, shutdown } from './drain.js';
import { createRequestHandler, type Handle, type TableHolder } from './request-handler.js';

// existing importers (api/explain.ts, tests) read these from here
export { clientErrorStatus } from './http1.js';
export { createTrustCheck, dropForwardedHeaders, splitAbsolute, validHost } from './admission.js';
export { H2_MAX_CONCURRENT_STREAMS, h2SessionOptions } from './http2.js';
export { routeByAlpn, withoutH2 } from './tls-server.js';
export type { TableHolder } from './request-handler.js';

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

export interface EntryPointOptions {
  config: EntryPointConfig;
  holder: TableHolder;
  logger: Logger;
  accessLog?: AccessLogger | undefined;
  /** request and connection metrics (undefined when neither metrics nor the API is on) */
  metrics?: RequestMetrics | undefined;
  scheme?: 'http' | 'https';
  /** presented when no certificate matches the SNI name; without it the entrypoint serves no TLS */
  defaultCertificate?: { cert: string; key: string } | undefined;
}

/** The servers the connection layer hands connections to; none of them listens itself. */
interface HttpSide {
  /** HTTP/1.1 in clear */
  plain: http.Server;
  /** cleartext HTTP/2: prior knowledge, or an accepted Upgrade: h2c */
  h2c: H2Server;
  /** the TLS server and its HTTP/2 side, when the entrypoint serves TLS */
  tls: TlsEntryPointServer | undefined;
  /** the HTTP/1 servers (cleartext, and TLS when served) */
  servers: http.Server[];
}

/** What the servers of one entrypoint share. */
interface SideContext {
  ep: EntryPointConfig;
  log: Logger;
  isTrusted: (ip: string) => boolean;
  inFlight: InFlight;
}

/**
 * The HTTP/1.1, TLS and h2c servers of an entrypoint, each with its request
 * handler (cleartext, or TLS-terminating).
 */
function createHttpSide(opts: EntryPointOptions, c: SideContext): HttpSide {
  const { ep, log } = c;
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
  const common = {
    ep,
    holder: opts.holder,
    log,
    accessLog: opts.accessLog,
    metrics: opts.metrics,
    isTrusted: c.isTrusted,
    inFlight: c.inFlight,
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
  for (const [server, handle] of servers) wireHttp1Server(server, handle, { ep, log, plain, h2c });
  return { plain, h2c, tls: tlsSide, servers: servers.map(([server]) => server) };
}

/** One HTTP/1 server's limits and events: requests, upgrades (h2c included), client errors. */
function wireHttp1Server(
  server: http.Server,
  handle: Handle,
  c: { ep: EntryPointConfig; log: Logger; plain: http.Server; h2c: H2Server },
): void {
  const { ep, log, plain, h2c } = c;
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

/**
 * The TCP listener: each connection is counted, kept for the final cut at
 * shutdown, and handed to HTTP, h2c, TLS or a TCP router (connection.ts).
 */
function createListener(
  opts: EntryPointOptions,
  side: HttpSide,
  log: Logger,
): { listener: net.Server; sockets: Set<Socket> } {
  const ep = opts.config;
  const name = ep.name;
  const metrics = opts.metrics;
  const sockets = new Set<Socket>();
  const dispatchConnection = createConnectionDispatcher({
    ep,
    holder: opts.holder,
    peekTimeoutMs: handshakeTimeout(ep.transport.respondingTimeouts),
    targets: {
      http: (socket) => side.plain.emit('connection', socket),
      h2c: (socket) => side.h2c.server.emit('connection', socket),
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
        if (side.tls === undefined) socket.destroy();
        else side.tls.accept(socket, peek);
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
  return { listener, sockets };
}

/** The graceful shutdown (drain.ts) with this entrypoint's servers, sessions and sockets. */
function shutdownEntryPoint(
  ep: EntryPointConfig,
  listener: net.Server,
  side: HttpSide,
  sockets: ReadonlySet<Socket>,
  inFlight: InFlight,
  graceMs: number,
): Promise<void> {
  const sessions = (): http2.ServerHttp2Session[] => [
    ...(side.tls?.h2.sessions ?? []),
    ...side.h2c.sessions,
  ];
  return shutdown({
    server: listener,
    inFlight,
    acceptForMs: ep.transport.lifeCycle.requestAcceptGraceTimeoutMs,
    graceMs,
    closeIdle: () => {
      for (const server of side.servers) server.closeIdleConnections();
      // GOAWAY: HTTP/2 clients finish their streams and open no new ones
      for (const session of sessions()) session.close();
    },
    closeAll: () => {
      for (const server of side.servers) {
        server.closeAllConnections();
        // stops the deadline sweep trackConnections started
        server.close();
      }
      for (const session of sessions()) session.destroy();
      for (const socket of sockets) socket.destroy();
    },
  });
}

export function createEntryPoint(opts: EntryPointOptions): EntryPointServer {
  const ep = opts.config;
  const log = opts.logger.child({ entryPoint: ep.name });
  const isTrusted = createTrustCheck(ep);
  const inFlight = new InFlight();
  const side = createHttpSide(opts, { ep, log, isTrusted, inFlight });
  const { listener, sockets } = createListener(opts, side, log);
  return {
    name: ep.name,
    server: side.plain,
    listener,
    isTrusted,
    inFlight: () => inFlight.count,
    listen: () => listen(listener, ep),
    shutdown: (graceMs = ep.transport.lifeCycle.graceTimeOutMs) =>
      shutdownEntryPoint(ep, listener, side, sockets, inFlight, graceMs),
  };
}
