/*
 * TCP services and middlewares at run time (Traefik's pkg/tcp and
 * pkg/middlewares/tcp): a load balancer that takes servers in turn (round
 * robin, as Traefik's), a weighted service over other services (smooth
 * weighted round robin, as the HTTP one), and the two TCP middlewares,
 * ipAllowList and inFlightConn. A connection is owned by whatever handler it
 * reaches: a refusal closes it.
 */
import type { Logger } from 'pino';
import type { IpMatcher } from '../kernel/ip-match.js';
import { SmoothWeightedRoundRobin } from '../services/wrr.js';
import { dialServer, relay, type TcpDialOptions } from './proxy.js';
import type { TcpHandler } from './types.js';

export interface TcpServerTarget {
  address: string;
  dial: TcpDialOptions;
}

/**
 * Round robin over the servers that are up (`isUp`: the health checker's view; every server
 * without one). A server that cannot be dialled is skipped for this connection and the next one
 * tried (Traefik closes the connection at the first failed dial; trying the others is Portico's
 * choice, docs/tcp.md); the connection closes when none answers, or none is up (Traefik's
 * "no servers in the pool").
 */
export function tcpLoadBalancer(
  servers: readonly TcpServerTarget[],
  log: Logger,
  service: string,
  isUp: (address: string) => boolean = () => true,
): TcpHandler {
  let next = 0;
  return (conn) => {
    if (servers.length === 0) {
      if (conn.observed) conn.observed.reason ??= 'no_server';
      conn.stream.destroy();
      return;
    }
    const start = next;
    next = (next + 1) % servers.length;
    let dialFailed = false;
    const attempt = (i: number): void => {
      while (i < servers.length && !isUp(servers[(start + i) % servers.length]!.address)) i++;
      if (i === servers.length) {
        if (conn.observed) conn.observed.reason ??= dialFailed ? 'dial_failed' : 'no_server';
        conn.stream.destroy();
        return;
      }
      const server = servers[(start + i) % servers.length]!;
      dialServer(server.address, server.dial, conn).then(
        (upstream) => {
          if (conn.stream.destroyed) {
            upstream.destroy();
            return;
          }
          if (conn.observed) conn.observed.serviceAddr = server.address;
          relay(conn.stream, upstream, server.dial.terminationDelayMs, conn.observed);
        },
        (err: Error) => {
          dialFailed = true;
          log.debug({ service, server: server.address, err: err.message }, 'tcp: dial failed');
          if (!conn.stream.destroyed) attempt(i + 1);
        },
      );
    };
    // the client's bytes wait in its socket while the server is dialled
    conn.stream.pause();
    attempt(0);
  };
}

/**
 * Traefik's weighted TCP service: each connection goes to one child, by weight. `isUp` set
 * (the service has `healthCheck: {}`): children that are down are skipped, and with none up the
 * connection is closed.
 */
export function tcpWeighted(
  children: { handler: TcpHandler; weight: number; isUp?: () => boolean }[],
  healthChecked = false,
): TcpHandler {
  const wrr = new SmoothWeightedRoundRobin(children.map((c) => ({ item: c, weight: c.weight })));
  const up = (c: (typeof children)[number]): boolean => c.isUp?.() ?? true;
  return (conn) => {
    const c = healthChecked ? wrr.next(up) : wrr.next();
    if (c === undefined) {
      if (conn.observed) conn.observed.reason ??= 'no_server';
      conn.stream.destroy();
    } else c.handler(conn);
  };
}

export type TcpMiddleware = (next: TcpHandler) => TcpHandler;

/** ipAllowList: connections from outside sourceRange are closed at once. */
export function tcpIpAllowList(allowed: IpMatcher): TcpMiddleware {
  return (next) => (conn) => {
    if (allowed.contains(conn.info.clientIp)) next(conn);
    else {
      if (conn.observed) conn.observed.reason ??= 'ip_allow_list';
      conn.stream.destroy();
    }
  };
}

/** inFlightConn: at most `amount` simultaneous connections per client IP; the next ones are closed. */
export function tcpInFlightConn(amount: number): TcpMiddleware {
  const open = new Map<string, number>();
  return (next) => (conn) => {
    const ip = conn.info.clientIp;
    const n = open.get(ip) ?? 0;
    if (n >= amount) {
      if (conn.observed) conn.observed.reason ??= 'in_flight_conn';
      conn.stream.destroy();
      return;
    }
    open.set(ip, n + 1);
    conn.stream.once('close', () => {
      const left = (open.get(ip) ?? 1) - 1;
      if (left <= 0) open.delete(ip);
      else open.set(ip, left);
    });
    next(conn);
  };
}
