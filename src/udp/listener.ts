/*
 * A UDP entrypoint (Traefik's pkg/udp/conn.go Listener and
 * server_entrypoint_udp.go): one socket reads every datagram; the first
 * datagram from a client address and port opens a session and hands it to
 * the entrypoint's current router, later ones go to that session. A session
 * is closed once nothing went either way for udp.timeout (Traefik counts both
 * the client's datagrams and the replies sent to it).
 *
 * Bounded on purpose, since any host can send datagrams from any number of
 * ports: at most maxSessions sessions (default 10,000; each holds a socket to
 * its server); past that, datagrams from new clients are dropped until
 * sessions idle out, while existing sessions keep working. Replies queued on
 * the socket are capped the same way. A datagram is at most 65,535 bytes,
 * which is what the socket hands over whole.
 */
import cluster from 'node:cluster';
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { UdpHandler, UdpSession } from './types.js';

export const DEFAULT_MAX_SESSIONS = 10_000;
/** replies waiting in the entrypoint socket's send queue past which new ones are dropped */
const MAX_REPLY_QUEUE = 1024;
/** a full session table is logged at most this often */
const FULL_LOG_INTERVAL_MS = 10_000;

export interface UdpEntryPoint {
  readonly name: string;
  /** binds the socket; resolves with the bound address (port 0 becomes a real port) */
  listen(): Promise<{ host: string; port: number }>;
  /** the bound address, once listening */
  address(): { host: string; port: number } | undefined;
  /** open sessions */
  sessionCount(): number;
  /**
   * Keeps taking new clients for acceptForMs (Traefik's requestAcceptGraceTimeout), then only
   * the open sessions, for up to graceMs (default: graceTimeOut), then closes what is left.
   */
  shutdown(graceMs?: number): Promise<void>;
}

export interface UdpEntryPointOptions {
  name: string;
  /** '' listens on every interface (IPv6 and IPv4 when the system has IPv6) */
  host: string;
  port: number;
  timeoutMs: number;
  graceMs: number;
  acceptForMs: number;
  maxSessions?: number;
  logger: Logger;
  /** the router for a new session, looked up in the current table each time */
  handler(): UdpHandler | undefined;
}

interface OpenSession extends UdpSession {
  /** a datagram from the client */
  take(datagram: Buffer): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function socketType(host: string): Promise<{ type: 'udp4' | 'udp6'; address: string }> {
  if (host === '') return { type: 'udp6', address: '::' };
  const family = isIP(host);
  if (family !== 0) return { type: family === 6 ? 'udp6' : 'udp4', address: host };
  const found = await lookup(host);
  return { type: found.family === 6 ? 'udp6' : 'udp4', address: found.address };
}

/*
 * In a cluster, sessions live in one process: were the workers to share one socket (Node's
 * cluster default for dgram), a client's datagrams would be spread over the workers, each with
 * its own session and server socket, and a server would see one client from several ports. So
 * each worker binds a socket of its own with SO_REUSEADDR, and the kernel delivers a port's
 * unicast datagrams to one of them (Linux: the one bound last); when that worker exits, the
 * others receive them (issue 13; docs/udp.md, "Cluster").
 */
function createSocket(type: 'udp4' | 'udp6'): dgram.Socket {
  return dgram.createSocket({ type, ipv6Only: false, reuseAddr: cluster.isWorker });
}

function bind(socket: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

export function createUdpEntryPoint(opts: UdpEntryPointOptions): UdpEntryPoint {
  const log = opts.logger.child({ entryPoint: opts.name });
  const maxSessions = opts.maxSessions ?? DEFAULT_MAX_SESSIONS;
  const sessions = new Map<string, OpenSession>();
  let socket: dgram.Socket | undefined;
  let bound: { host: string; port: number } | undefined;
  let accepting = true;
  let stopped: Promise<void> | undefined;
  let dropped = 0;
  let lastFullLog = 0;

  const reply = (datagram: Buffer, port: number, address: string): void => {
    if (socket === undefined || socket.getSendQueueCount() >= MAX_REPLY_QUEUE) return;
    socket.send(datagram, port, address);
  };

  const open = (key: string, address: string, port: number): OpenSession => {
    const closers: (() => void)[] = [];
    let closed = false;
    let last = performance.now();
    let timer: NodeJS.Timeout | undefined;
    // one timer per session, re-armed for the rest of the timeout only when it fires, so a busy
    // session costs no timer work per datagram
    const arm = (ms: number): void => {
      timer = setTimeout(() => {
        const idle = performance.now() - last;
        if (idle >= opts.timeoutMs) session.close();
        else arm(opts.timeoutMs - idle);
      }, ms);
      timer.unref();
    };
    const session: OpenSession = {
      entryPoint: opts.name,
      client: { address, port },
      onDatagram: undefined,
      get closed() {
        return closed;
      },
      take(datagram) {
        last = performance.now();
        session.onDatagram?.(datagram);
      },
      reply(datagram) {
        if (closed) return;
        last = performance.now();
        reply(datagram, port, address);
      },
      onClose(fn) {
        if (closed) fn();
        else closers.push(fn);
      },
      close() {
        if (closed) return;
        closed = true;
        clearTimeout(timer);
        if (sessions.get(key) === session) sessions.delete(key);
        session.onDatagram = undefined;
        for (const fn of closers.splice(0)) {
          try {
            fn();
          } catch (err) {
            log.error({ err }, 'udp: closing a session failed');
          }
        }
      },
    };
    arm(opts.timeoutMs);
    return session;
  };

  const onMessage = (datagram: Buffer, from: dgram.RemoteInfo): void => {
    const key = `${from.address}|${from.port}`;
    let session = sessions.get(key);
    if (session === undefined) {
      if (!accepting) return;
      if (sessions.size >= maxSessions) {
        dropped++;
        const now = Date.now();
        if (now - lastFullLog >= FULL_LOG_INTERVAL_MS) {
          lastFullLog = now;
          log.warn(
            { sessions: sessions.size, dropped },
            'udp: session table full; datagrams from new clients are dropped',
          );
        }
        return;
      }
      const handler = opts.handler();
      // no router on this entrypoint (yet): the datagram is dropped, no session is kept
      if (handler === undefined) return;
      session = open(key, from.address, from.port);
      sessions.set(key, session);
      try {
        handler(session);
      } catch (err) {
        log.error({ err }, 'udp: the router failed to take a session');
        session.close();
      }
      if (session.closed) return;
    }
    session.take(datagram);
  };

  return {
    name: opts.name,
    async listen() {
      const { type, address } = await socketType(opts.host);
      let s = createSocket(type);
      try {
        await bind(s, opts.port, address);
      } catch (err) {
        // every interface on a system without IPv6: IPv4 only
        if (opts.host !== '' || (err as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT') throw err;
        s = createSocket('udp4');
        await bind(s, opts.port, '0.0.0.0');
      }
      s.on('message', onMessage);
      // a failed send (a client gone, EMSGSIZE) concerns one datagram, never the entrypoint
      s.on('error', (err) => log.debug({ err: err.message }, 'udp: socket error'));
      socket = s;
      const a = s.address();
      bound = { host: a.address, port: a.port };
      return bound;
    },
    address: () => bound,
    sessionCount: () => sessions.size,
    shutdown(graceMs = opts.graceMs) {
      stopped ??= (async () => {
        if (opts.acceptForMs > 0) await sleep(opts.acceptForMs);
        accepting = false;
        const end = Date.now() + graceMs;
        while (sessions.size > 0 && Date.now() < end)
          await sleep(Math.min(100, Math.max(1, end - Date.now())));
        for (const session of [...sessions.values()]) session.close();
        const s = socket;
        socket = undefined;
        if (s !== undefined) await new Promise<void>((r) => s.close(() => r()));
      })();
      return stopped;
    },
  };
}
