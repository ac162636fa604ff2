/*
 * UDP services at run time (Traefik's pkg/udp/proxy.go and
 * wrr_load_balancer.go): each session gets its own socket connected to one
 * server, a load balancer takes the servers in turn, and a weighted service
 * splits sessions between services by weight.
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { SmoothWeightedRoundRobin } from '../services/wrr.js';
import type { UdpHandler } from './types.js';

/** datagrams a session holds while its server's socket is being set up; later ones are dropped */
const MAX_PENDING = 64;
/** datagrams waiting in a socket's send queue past which new ones are dropped (UDP is lossy) */
export const MAX_SEND_QUEUE = 256;

export interface UdpServerTarget {
  /** as configured, for logs */
  address: string;
  host: string;
  port: number;
}

/** `host:port` or `[ipv6]:port` → parts; undefined when it is neither (Traefik: SplitHostPort). */
export function parseUdpAddress(address: string): UdpServerTarget | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  if (m === null) return undefined;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port < 1 || port > 65535 || (m[1] !== undefined && isIP(host) !== 6)) return undefined;
  return { address, host, port };
}

/**
 * One server: the session's datagrams go out through a socket connected to it, so the kernel
 * drops anything that does not come from that address and port (Traefik dials with net.Dial the
 * same way); its replies go back to the client. The session ends on the socket's error (an ICMP
 * port unreachable, for one), and the client's next datagram opens a new one.
 */
export function udpProxy(target: UdpServerTarget, log: Logger, service: string): UdpHandler {
  return (session) => {
    if (session.observed) session.observed.serviceAddr = target.address;
    const pending: Buffer[] = [];
    let socket: dgram.Socket | undefined;
    let connected = false;
    const send = (s: dgram.Socket, datagram: Buffer): void => {
      if (s.getSendQueueCount() < MAX_SEND_QUEUE) s.send(datagram);
    };
    session.onDatagram = (datagram) => {
      if (connected && socket !== undefined) send(socket, datagram);
      else if (pending.length < MAX_PENDING) pending.push(datagram);
    };
    const fail = (err: Error): void => {
      log.debug(
        { service, server: target.address, client: session.client, err: err.message },
        'udp: server error, closing the session',
      );
      if (session.observed) session.observed.reason ??= 'server_error';
      session.close();
    };
    session.onClose(() => {
      pending.length = 0;
      if (socket === undefined) return;
      try {
        socket.close();
      } catch {
        // already closed by an error
      }
    });
    const open = (address: string, family: number): void => {
      if (session.closed) return;
      const s = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
      socket = s;
      s.on('error', fail);
      s.on('message', (msg) => session.reply(msg));
      s.connect(target.port, address, () => {
        connected = true;
        for (const d of pending.splice(0)) send(s, d);
      });
    };
    const family = isIP(target.host);
    if (family !== 0) open(target.host, family);
    else
      lookup(target.host, (err, address, fam) => {
        if (err) fail(err);
        else open(address, fam);
      });
  };
}

/**
 * Round robin over the servers, in the order configured (Traefik shuffles them once when the
 * service is built; Portico keeps the order so every worker starts alike). No server: the
 * session is closed and its datagrams dropped.
 */
export function udpLoadBalancer(servers: readonly UdpHandler[]): UdpHandler {
  let next = 0;
  return (session) => {
    if (servers.length === 0) {
      if (session.observed) session.observed.reason ??= 'no_server';
      session.close();
      return;
    }
    const server = servers[next]!;
    next = (next + 1) % servers.length;
    server(session);
  };
}

/** Traefik's weighted UDP service: each session goes to one child, by weight. */
export function udpWeighted(children: { handler: UdpHandler; weight: number }[]): UdpHandler {
  const wrr = new SmoothWeightedRoundRobin(
    children.map((c) => ({ item: c.handler, weight: c.weight })),
  );
  return (session) => {
    const h = wrr.next();
    if (h === undefined) {
      if (session.observed) session.observed.reason ??= 'no_server';
      session.close();
    } else h(session);
  };
}
