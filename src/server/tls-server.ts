/*
 * The TLS side of an entrypoint (src/server/connection.ts sends it the connections that start
 * with a ClientHello): Node's HTTPS server (the HTTP/1 server with
 * every option of http1.ts) whose connections that negotiated h2 by ALPN are
 * handed to an HTTP/2 server that never listens itself (http2.ts). Node's
 * HTTP/2 server in allowHTTP1 mode, used before, served HTTP/1.1 with its own
 * defaults: no Host check, no idle timeout, 16 KiB headers, a 60 s header
 * deadline. Certificate, TLS options and ALPN follow the SNI name, from the
 * table in force at the handshake (tls/handshake.ts).
 */
import type http from 'node:http';
import type http2 from 'node:http2';
import https from 'node:https';
import type { Socket } from 'node:net';
import type tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { EntryPointConfig } from '../config/static-types.js';
import type { RoutingTable } from '../table/table.js';
import { createTlsHandshake } from '../tls/handshake.js';
import type { PeekResult } from '../tls/client-hello.js';
import { createH2Server, type H2Server } from './http2.js';

/** Go's tlsHandshakeTimeout: the shortest non-zero read/write deadline; Node's 120 s otherwise. */
export function handshakeTimeout(t: EntryPointConfig['transport']['respondingTimeouts']): number {
  const set = [t.readHeaderTimeoutMs, t.readTimeoutMs, t.writeTimeoutMs].filter((v) => v > 0);
  return set.length === 0 ? 120_000 : Math.min(...set);
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

export interface TlsEntryPointServer {
  /** the HTTPS server, typed as the HTTP/1 server it extends */
  server: http.Server;
  h2: H2Server;
  /** takes a TCP connection (its ClientHello possibly peeked already) for the TLS handshake */
  accept(socket: Socket, peeked?: PeekResult): void;
}

export function createTlsServer(opts: {
  config: EntryPointConfig;
  http1Options: http.ServerOptions;
  holder: { current: RoutingTable };
  /** presented when the client sends no SNI */
  defaultCertificate: { cert: string; key: string } | undefined;
  log: Logger;
}): TlsEntryPointServer {
  const ep = opts.config;
  const log = opts.log;
  const handshake = createTlsHandshake({
    entryPoint: ep.name,
    holder: opts.holder,
    defaultCertificate: opts.defaultCertificate,
    log,
  });
  const server = https.createServer({
    ...opts.http1Options,
    SNICallback: handshake.sniCallback,
    // clients that send no SNI get the default certificate
    ...(opts.defaultCertificate ?? {}),
    minVersion: 'TLSv1.2',
    // Go bounds the handshake by the shortest read deadline (net/http tlsHandshakeTimeout)
    handshakeTimeout: handshakeTimeout(ep.transport.respondingTimeouts),
  }) as unknown as http.Server;
  const h2 = createH2Server(ep, log);
  const h2Offered = routeByAlpn(server as unknown as tls.Server, h2.server);
  if (!h2Offered)
    log.warn('this Node version lays out its HTTPS server differently: HTTP/2 is not offered');
  const accept = handshake.attach(server as unknown as tls.Server);
  if (!h2Offered) withoutH2(server as unknown as tls.Server);
  // https.Server turns TLS handshake failures into clientError, whose handler writes HTTP: not here
  server.removeAllListeners('tlsClientError');
  server.on('tlsClientError', (err: Error, socket: Duplex) => {
    log.debug({ err: err.message }, 'tls handshake failed');
    socket.destroy();
  });
  return { server, h2, accept };
}
