/*
 * The UDP side of the routing table. UDP has no connections, so Portico, as
 * Traefik (pkg/udp/conn.go), makes sessions: the datagrams from one client
 * address and port are one session, handed to the entrypoint's router once,
 * when its first datagram arrives; the session lasts until it has been silent
 * (both ways) for the entrypoint's udp.timeout. Built by
 * src/routing/udp-manager.ts; a session keeps the handler it was given when
 * the table is swapped (Traefik's HandlerSwitcher).
 */

/** One client of a UDP entrypoint, as the service that took it sees it. */
export interface UdpSession {
  readonly entryPoint: string;
  readonly client: { readonly address: string; readonly port: number };
  /**
   * set by the handler that takes the session: called with each datagram the client sends, in
   * order (unset: the datagrams are dropped)
   */
  onDatagram: ((datagram: Buffer) => void) | undefined;
  /** sends one datagram to the client from the entrypoint's socket (counts as activity) */
  reply(datagram: Buffer): void;
  /** runs once when the session ends: idle timeout, the server's error, shutdown */
  onClose(fn: () => void): void;
  close(): void;
  readonly closed: boolean;
  /** set when metrics or the access log are on (src/observability/observe-udp.ts): the service fills it */
  readonly observed?: UdpObservation | undefined;
}

/** What a UDP service tells about a session, for metrics and the access log. */
export interface UdpObservation {
  /** host:port of the server the session's datagrams go to */
  serviceAddr: string;
  /** why it closed; unset: the idle timeout (docs/metrics.md lists the values) */
  reason: string | undefined;
}

/** What a router or a service does with a new session: owns it from then on. */
export type UdpHandler = (session: UdpSession) => void;

/** The router serving one UDP entrypoint (Traefik: one per entrypoint). */
export interface UdpRoute {
  readonly router: string;
  readonly handler: UdpHandler;
}
