/*
 * The TCP side of the routing table: what the connection layer
 * (src/server/connection.ts) matches a connection against, and what a TCP
 * router does with it. Built by src/routing/tcp-manager.ts, immutable like
 * the HTTP table; a connection keeps the route it was given when the table
 * is swapped.
 */
import type { Duplex } from 'node:stream';
import type { BuiltTcpRule, TcpConnInfo } from '../rules/tcp.js';

/** A connection a TCP router took: the client side (a raw socket, or TLS terminated over it). */
export interface TcpConnection {
  /** what the router matched on */
  readonly info: TcpConnInfo;
  /** the client stream; for passthrough its first bytes are the ClientHello */
  readonly stream: Duplex;
  /** the client address and port (PROXY protocol applied), for the PROXY header sent upstream */
  readonly source: { address: string; port: number };
  /** the entrypoint's local address and port */
  readonly destination: { address: string; port: number };
  readonly entryPoint: string;
  /** set when metrics or the access log are on (src/observability/observe-tcp.ts): the relay and services fill it */
  readonly observed?: TcpObservation | undefined;
}

/** What the relay and the services tell about a connection, for metrics and the access log. */
export interface TcpObservation {
  /** host:port of the server the connection was relayed to */
  serviceAddr: string;
  /** bytes relayed from the client to the server, and back */
  toServer: number;
  toClient: number;
  /** why it closed (docs/metrics.md lists the values); the first one set stays */
  reason: string | undefined;
}

/** What a router, a middleware or a service does with a connection: owns it from then on. */
export type TcpHandler = (conn: TcpConnection) => void;

/** A built TCP service: its handler and its health, for parents and for the API. */
export interface TcpServiceRuntime {
  handler: TcpHandler;
  /** whether the service has a health check (`healthCheck` set): parents may only follow such children */
  checked: boolean;
  /** whether some server (or child) can take a connection */
  isUp(): boolean;
  /**
   * address → UP/DOWN for load balancers (every server UP without a health check, as Traefik
   * reports them), empty for weighted services (Traefik's TCPServiceInfo.serverStatus)
   */
  serverStatus(): Record<string, 'UP' | 'DOWN'>;
}

export interface TcpRoute {
  name: string;
  priority: number;
  rule: BuiltTcpRule;
  /** `passthrough`: the bytes go to the service as they came; `terminate`: Portico ends TLS */
  tls: { mode: 'passthrough' | 'terminate'; options: string } | undefined;
  handler: TcpHandler;
}

export interface TcpEntryPointRoutes {
  /** routers without tls, by priority */
  plain: TcpRoute[];
  /** routers with tls (terminated or passthrough), by priority */
  tls: TcpRoute[];
}

/** Descending priority, ties by name (as the HTTP table): every worker orders alike. */
export function byTcpPriority(a: TcpRoute, b: TcpRoute): number {
  return b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** The first route of `routes` matching `info` (Traefik's muxer Match). */
export function matchTcp(routes: readonly TcpRoute[], info: TcpConnInfo): TcpRoute | undefined {
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i]!;
    if (r.rule.matcher(info)) return r;
  }
  return undefined;
}
