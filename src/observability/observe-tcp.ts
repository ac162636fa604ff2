/*
 * A TCP router's connections in the metrics and the access log (issue 13
 * item 8): wraps the route handler (middlewares + service, built in
 * src/routing/tcp-manager.ts) so that each connection a router takes is
 * counted open, gets a record the relay and the services fill in (server
 * address, bytes each way, close reason: TcpConnection.observed), and is
 * reported once when its client stream closes. Connections the connection
 * layer closes before any router takes them (no route, a refused client
 * certificate, a failed handshake) reach no router and are not reported here;
 * portico_open_connections{protocol="TCP"} still counts them, as Traefik's.
 */
import type { TLSSocket } from 'node:tls';
import type { AccessLogger } from './access-log.js';
import type { RequestMetrics } from './metrics-recorder.js';
import { createStreamRecord, type StreamRecord } from './metrics-tcp.js';
import type { TcpHandler } from '../tcp/types.js';

/** Where connections and sessions are reported: set when metrics or the access log are on. */
export interface StreamSinks {
  metrics: RequestMetrics | undefined;
  accessLog: AccessLogger | undefined;
}

/** `sinks` undefined or empty: the handler as it was, nothing costs anything. */
export function streamSinks(
  metrics: RequestMetrics | undefined,
  accessLog: AccessLogger | undefined,
): StreamSinks | undefined {
  const counting = metrics?.countsStreams === true ? metrics : undefined;
  return counting === undefined && accessLog === undefined
    ? undefined
    : { metrics: counting, accessLog };
}

/** Reports a closed connection or session to the metrics and the access log. */
export function reportStream(sinks: StreamSinks, r: StreamRecord, fallbackReason: string): void {
  const ms = performance.now() - r.startPerf;
  const reason = r.reason ?? fallbackReason;
  sinks.metrics?.streamClosed(r, ms / 1000, reason);
  sinks.accessLog?.stream(r, Math.round(ms * 1e6), reason);
}

export function observeTcp(
  handler: TcpHandler,
  route: { router: string; service: string; tlsMode: 'passthrough' | 'terminate' | undefined },
  sinks: StreamSinks | undefined,
): TcpHandler {
  if (sinks === undefined) return handler;
  return (conn) => {
    const r = createStreamRecord('TCP', {
      entryPoint: conn.entryPoint,
      router: route.router,
      service: route.service,
      client: conn.source,
      sni: route.tlsMode === undefined ? undefined : conn.info.sni,
      tlsMode: route.tlsMode,
    });
    if (route.tlsMode === 'terminate') {
      // the router gets the TLS stream while its handshake may still run (src/server/tcp-serve.ts)
      const secure = conn.stream as Partial<TLSSocket> & typeof conn.stream;
      const read = (): void => {
        const version = secure.getProtocol?.();
        const cipher = secure.getCipher?.();
        if (typeof version === 'string') r.tlsVersion = version.replace(/^TLSv/, '');
        // Go's (and Traefik's) cipher suite names are the IANA ones
        r.tlsCipher = cipher?.standardName ?? cipher?.name;
      };
      if (typeof secure.getProtocol === 'function') {
        // before the handshake ends OpenSSL answers the highest version it could use, not the one agreed
        if (secure.getPeerFinished?.() !== undefined) read();
        else secure.once('secure', read);
      }
    }
    sinks.metrics?.streamOpened(r);
    // reported once every close listener ran, the relay's (attached later) included, so that its
    // reason counts; a connection no one gave a reason (the client left while the server was
    // being dialled) closed on the client's side
    conn.stream.once('close', () => queueMicrotask(() => reportStream(sinks, r, 'client_closed')));
    handler({ ...conn, observed: r });
  };
}
