/*
 * The connection layer of an entrypoint (Traefik's TCP router,
 * pkg/server/router/tcp/router.go): every entrypoint listens once and looks
 * at how each connection starts. A TLS ClientHello goes to TLS termination
 * for the TLS routers (routers with `tls`, or every router of an entrypoint
 * with `http.tls`); anything else goes to the HTTP server for the routers
 * without TLS. So HTTP and HTTPS routers share an entrypoint as in Traefik,
 * and a router with `tls.certResolver` needs no TLS on its entrypoint.
 *
 * The first bytes are read (bounded: 64 KiB for a ClientHello, and the
 * shortest of the entrypoint's read deadlines, as Traefik bounds its peek by
 * readTimeout) and given back to the server that takes the connection: TLS,
 * HTTP/1.1, cleartext HTTP/2 (the h2c preface) or a TCP router. Two cases
 * read nothing first: an entrypoint with `http.tls` and no TCP router goes
 * straight to TLS, and one with only plain TCP routers (and no TLS router)
 * hands a matching connection to its TCP router at once, so protocols where
 * the server speaks first work (Traefik's early path).
 */
import type { Socket } from 'node:net';
import type { EntryPointConfig } from '../config/static-types.js';
import type { EntryPointRoutes, RoutingTable } from '../table/table.js';
import { peekClientHello, type PeekResult } from '../tls/client-hello.js';
import { ACME_TLS_ALPN } from '../tls/acme/challenges.js';
import type { TcpConnInfo } from '../rules/tcp.js';
import { clientAddressOf, setClientAddress } from '../kernel/client-address.js';
import { createProxyTrustCheck, readProxyHeader } from '../kernel/proxy-protocol.js';
import { matchTcp, type TcpRoute } from '../tcp/types.js';
import { acceptPostgresStartTls, startsPostgresSslRequest } from '../tcp/postgres.js';

/** TLS record type handshake (RFC 8446 5.1); 0x80 is an SSLv2-style hello, refused by the TLS server */
const RECORD_HANDSHAKE = 0x16;
const SSLV2_HELLO = 0x80;
/** a ClientHello fits in a few records */
const MAX_HELLO_BYTES = 64 * 1024;

export interface ConnectionTargets {
  /** connections without TLS: the HTTP server of the routers without `tls` */
  http(socket: Socket): void;
  /** TLS connections for the HTTP routers; `peek` carries the bytes read and the ClientHello */
  https(socket: Socket, peek?: PeekResult): void;
  /** a connection that sent nothing before the deadline (answered as HTTP's header timeout is) */
  silent(socket: Socket): void;
  /** cleartext HTTP/2 with prior knowledge (h2c): the HTTP/2 server of the routers without tls */
  h2c(socket: Socket): void;
  /** a connection a TCP router takes; `peek` holds what was read of it (to give back) */
  tcp(route: TcpRoute, socket: Socket, info: TcpConnInfo, peek: PeekResult | undefined): void;
}

/** Whether an entrypoint's table has any router. */
export function hasRoutes(routes: EntryPointRoutes | undefined): boolean {
  return routes !== undefined && (routes.any.length > 0 || routes.byHost.size > 0);
}

/**
 * How a new connection on `ep` is told apart, from the table in force when it arrives:
 * straight to HTTP or TLS when nothing else can take it, `tcp` when only plain TCP routers can
 * (Traefik serves those without reading first, so protocols where the server speaks first
 * work), else `peek`.
 */
export type ConnectionMode = 'tls' | 'tcp' | 'peek';

export function connectionMode(table: RoutingTable, ep: EntryPointConfig): ConnectionMode {
  const tcp = table.tcp?.entryPoints.get(ep.name);
  const tcpPlain = tcp !== undefined && tcp.plain.length > 0;
  const tcpTls = tcp !== undefined && tcp.tls.length > 0;
  const httpsRoutes = ep.http.tls !== undefined || hasRoutes(table.tlsEntryPoints.get(ep.name));
  if (!tcpPlain && !tcpTls) {
    if (ep.http.tls !== undefined) return 'tls';
    // the plain side peeks too: for TLS ClientHellos, and for the h2c preface (Traefik reads the
    // first bytes of every connection the same way)
    return 'peek';
  }
  // Traefik's early path: non-TLS TCP routers only, and neither TLS TCP nor HTTPS routers
  if (tcpPlain && !tcpTls && !httpsRoutes) return 'tcp';
  return 'peek';
}

/** The client address as rules see it: IPv4-mapped IPv6 unwrapped. */
export function plainIp(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * Where a TLS connection goes, in Traefik's order (router.go ServeTCP): ACME TLS-ALPN-01
 * validations to the challenge responder (the TLS side); an HTTPS router naming the SNI
 * exactly; a TCP TLS router other than the catch-all HostSNI(`*`); an HTTPS router for any
 * host; the TCP catch-all; else the TLS side answers 404.
 */
export function tlsDestination(
  table: RoutingTable,
  ep: EntryPointConfig,
  info: TcpConnInfo,
): TcpRoute | 'https' {
  const acme = table.tls?.acmeTlsAlpn;
  if (acme !== undefined && info.alpn.length === 1 && info.alpn[0] === ACME_TLS_ALPN)
    return 'https';
  const https = table.tlsEntryPoints.get(ep.name);
  if (info.sni !== undefined && https?.byHost.has(info.sni) === true) return 'https';
  const tcp = table.tcp?.entryPoints.get(ep.name)?.tls ?? [];
  const route = tcp.length > 0 ? matchTcp(tcp, info) : undefined;
  if (route !== undefined && !route.rule.catchAll) return route;
  if (https !== undefined && https.any.length > 0) return 'https';
  return route ?? 'https';
}

/** RFC 9113 3.4: the client connection preface of HTTP/2 */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Whether `chunk` starts like the HTTP/2 preface (as far as it goes, at least "PRI *"). */
export function startsH2Preface(chunk: Buffer): boolean {
  const n = Math.min(chunk.length, H2_PREFACE.length);
  return n >= 5 && chunk.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
}

/**
 * Waits for the first bytes of `socket` (at most timeoutMs). They are unshifted and the socket
 * left paused; undefined when the client closed or sent nothing in time.
 */
export function firstChunk(socket: Socket, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const finish = (b: Buffer | undefined, chunk?: Buffer): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onEnd);
      socket.pause();
      if (chunk !== undefined) socket.unshift(chunk);
      resolve(b);
    };
    const onData = (chunk: Buffer): void => {
      if (chunk.length > 0) finish(chunk, chunk);
    };
    const onEnd = (): void => finish(undefined);
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    timer.unref();
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    // a socket handed over paused (after a PROXY header) does not flow by itself
    socket.resume();
  });
}

export function createConnectionDispatcher(opts: {
  ep: EntryPointConfig;
  holder: { current: RoutingTable };
  targets: ConnectionTargets;
  /** how long a connection may take to send its first bytes / its ClientHello */
  peekTimeoutMs: number;
}): (socket: Socket) => void {
  const { ep, holder, targets } = opts;
  const plainInfo = (socket: Socket): TcpConnInfo => ({
    sni: undefined,
    alpn: [],
    clientIp: plainIp(clientAddressOf(socket).address),
    tls: false,
  });
  const toHttp = (socket: Socket): void => {
    targets.http(socket);
    // the HTTP server does not resume a socket it was handed paused
    socket.resume();
  };
  /** bytes that are neither TLS nor h2c: the first matching plain TCP router, else HTTP */
  const toPlain = (socket: Socket): void => {
    const info = plainInfo(socket);
    const plain = holder.current.tcp?.entryPoints.get(ep.name)?.plain ?? [];
    const route = plain.length > 0 ? matchTcp(plain, info) : undefined;
    if (route !== undefined) {
      socket.resume();
      targets.tcp(route, socket, info, undefined);
    } else toHttp(socket);
  };
  const tcpTlsRoutes = (): readonly TcpRoute[] =>
    holder.current.tcp?.entryPoints.get(ep.name)?.tls ?? [];
  const helloInfo = (socket: Socket, peek: PeekResult | undefined): TcpConnInfo => ({
    sni: peek?.hello?.servername,
    alpn: peek?.hello?.alpn ?? [],
    clientIp: plainIp(clientAddressOf(socket).address),
    tls: true,
  });
  const afterHello = (socket: Socket, peek: PeekResult): void => {
    const table = holder.current;
    const hello = peek.hello;
    const info = helloInfo(socket, peek);
    const to = hello === undefined ? 'https' : tlsDestination(table, ep, info);
    if (to === 'https') targets.https(socket, peek);
    else targets.tcp(to, socket, info, peek);
  };
  const dispatch = (socket: Socket): void => {
    const table = holder.current;
    const mode = connectionMode(table, ep);
    if (mode === 'tls') {
      targets.https(socket);
      return;
    }
    if (mode === 'tcp') {
      const info = plainInfo(socket);
      const route = matchTcp(table.tcp!.entryPoints.get(ep.name)!.plain, info);
      if (route !== undefined) {
        targets.tcp(route, socket, info, undefined);
        return;
      }
    }
    void firstChunk(socket, opts.peekTimeoutMs).then((chunk) => {
      if (socket.destroyed) return;
      if (chunk === undefined) {
        targets.silent(socket);
        return;
      }
      const b = chunk[0];
      // Postgres STARTTLS (src/tcp/postgres.ts), where a TLS TCP router can take it; elsewhere the
      // SSLRequest goes on like any other bytes, to the server that answers it
      if (b === 0 && startsPostgresSslRequest(chunk) && tcpTlsRoutes().length > 0) {
        void acceptPostgresStartTls(socket, {
          maxBytes: MAX_HELLO_BYTES,
          timeoutMs: opts.peekTimeoutMs,
        }).then((peek) => {
          if (socket.destroyed) return;
          if (peek === 'other') toPlain(socket);
          else {
            const info = helloInfo(socket, peek);
            const route = peek === undefined ? undefined : matchTcp(tcpTlsRoutes(), info);
            if (route === undefined) socket.destroy();
            else targets.tcp(route, socket, info, peek);
          }
        });
        return;
      }
      if (b === SSLV2_HELLO) {
        targets.https(socket);
        return;
      }
      if (b !== RECORD_HANDSHAKE) {
        if (b === 0x50 && startsH2Preface(chunk)) {
          targets.h2c(socket);
          socket.resume();
          return;
        }
        toPlain(socket);
        return;
      }
      const hello = peekClientHello(socket, {
        maxBytes: MAX_HELLO_BYTES,
        timeoutMs: opts.peekTimeoutMs,
      });
      // firstChunk left the socket paused; the peek's listener is on, so nothing is lost
      socket.resume();
      void hello.then((peek) => {
        if (!socket.destroyed) afterHello(socket, peek);
      });
    });
  };
  const proxy = ep.proxyProtocol;
  if (proxy === undefined) return dispatch;
  // entryPoints.<n>.proxyProtocol: a PROXY header is read first on every connection (Traefik's
  // proxyproto listener); a trusted sender's gives the client address, others' are dropped
  const trusted = createProxyTrustCheck(proxy);
  const timeoutMs = ep.transport.respondingTimeouts.readTimeoutMs;
  return (socket) => {
    void readProxyHeader(socket, {
      trusted: trusted(plainIp(socket.remoteAddress)),
      timeoutMs,
    }).then((r) => {
      if (socket.destroyed) return;
      if (r.kind === 'error') {
        socket.destroy();
        return;
      }
      if (r.rest.length > 0) socket.unshift(r.rest);
      if (r.kind === 'header' && r.client !== undefined)
        setClientAddress(socket, r.client, r.header.destination);
      dispatch(socket);
    });
  };
}
