/*
 * The connection layer of an entrypoint (Traefik's TCP router,
 * pkg/server/router/tcp/router.go): every entrypoint listens once and looks
 * at how each connection starts. A TLS ClientHello goes to TLS termination
 * for the TLS routers (routers with `tls`, or every router of an entrypoint
 * with `http.tls`); anything else goes to the HTTP server for the routers
 * without TLS. So HTTP and HTTPS routers share an entrypoint as in Traefik,
 * and a router with `tls.certResolver` needs no TLS on its entrypoint.
 *
 * Nothing is read when nothing depends on it: an entrypoint whose table has
 * no TLS router hands its connections straight to the HTTP server (the
 * common plain-HTTP case pays no peek), and one with `http.tls` straight to
 * TLS. The peek is bounded in bytes and time (the entrypoint's read
 * deadline, as Traefik's) and the bytes read are given back with unshift,
 * so the servers see the connection from its first byte.
 */
import type { Socket } from 'node:net';
import type { EntryPointConfig } from '../config/static-types.js';
import type { EntryPointRoutes, RoutingTable } from '../table/table.js';
import { peekClientHello, type PeekResult } from '../tls/client-hello.js';

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
}

/** Whether an entrypoint's table has any router. */
export function hasRoutes(routes: EntryPointRoutes | undefined): boolean {
  return routes !== undefined && (routes.any.length > 0 || routes.byHost.size > 0);
}

/** How a new connection on `ep` is told apart, from the table in force when it arrives. */
export type ConnectionMode = 'http' | 'tls' | 'peek';

export function connectionMode(table: RoutingTable, ep: EntryPointConfig): ConnectionMode {
  if (ep.http.tls !== undefined) return 'tls';
  return hasRoutes(table.tlsEntryPoints.get(ep.name)) ? 'peek' : 'http';
}

/**
 * Waits for the first bytes of `socket` (at most timeoutMs) and reports whether they open a TLS
 * handshake. The bytes are unshifted and the socket left paused; undefined when the client
 * closed or sent nothing in time.
 */
export function firstByte(socket: Socket, timeoutMs: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const finish = (b: number | undefined, chunk?: Buffer): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onEnd);
      socket.pause();
      if (chunk !== undefined) socket.unshift(chunk);
      resolve(b);
    };
    const onData = (chunk: Buffer): void => {
      if (chunk.length > 0) finish(chunk[0], chunk);
    };
    const onEnd = (): void => finish(undefined);
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    timer.unref();
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
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
  const toHttp = (socket: Socket): void => {
    targets.http(socket);
    // the HTTP server does not resume a socket it was handed paused
    socket.resume();
  };
  return (socket) => {
    switch (connectionMode(holder.current, ep)) {
      case 'http':
        targets.http(socket);
        return;
      case 'tls':
        targets.https(socket);
        return;
    }
    void firstByte(socket, opts.peekTimeoutMs).then((b) => {
      if (socket.destroyed) return;
      if (b === undefined) {
        socket.destroy();
        return;
      }
      if (b !== RECORD_HANDSHAKE && b !== SSLV2_HELLO) {
        toHttp(socket);
        return;
      }
      if (b === SSLV2_HELLO) {
        targets.https(socket);
        return;
      }
      const hello = peekClientHello(socket, {
        maxBytes: MAX_HELLO_BYTES,
        timeoutMs: opts.peekTimeoutMs,
      });
      // firstByte left the socket paused; the peek's listener is on, so nothing is lost
      socket.resume();
      void hello.then((peek) => {
        if (socket.destroyed) return;
        targets.https(socket, peek);
      });
    });
  };
}
