/*
 * TCP health checks (Traefik v3's pkg/healthcheck/healthcheck_tcp.go):
 * a server is healthy while a connection to it succeeds, and, with `send` /
 * `expect`, while it answers `expect` to `send`. The probe dials as the
 * connections to that server are dialled (TLS for `servers[].tls`, the
 * servers transport's settings), without a PROXY header (Traefik dials its
 * probes with no client connection, so none is sent). `port` replaces the
 * server's port. UP servers are probed every `interval`, DOWN ones every
 * `unhealthyInterval`; each probe is bounded by `timeout`, connect included.
 *
 * As the HTTP checker (src/services/health-check.ts), the first probe runs at
 * start() rather than one interval later (Traefik's ticker), so a dead server
 * leaves the rotation within one timeout of a configuration being applied.
 */
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { TcpHealthCheckConfig } from '../config/dynamic.js';
import { healthCheckTimings, type ServerStatus } from '../services/health-check.js';
import { createProbeLoop } from '../services/health-loop.js';
import { dialServer, splitHostPort, type TcpDialOptions } from './proxy.js';

/** Traefik's maxPayloadSize: longer `send` / `expect` values are dropped (connect-only probe). */
export const MAX_TCP_HEALTH_PAYLOAD = 65535;

export interface TcpHealthTarget {
  address: string;
  dial: TcpDialOptions;
}

export interface TcpHealthChecker {
  start(): void;
  /** stops every timer and ends the probes in flight */
  close(): void;
  /** servers this checker does not watch are reported up */
  isUp(address: string): boolean;
  /** address → UP/DOWN, as Traefik's TCPServiceInfo.serverStatus */
  status(): Record<string, ServerStatus>;
}

/** The address probed: the server's, with `port` in place of its port when set. */
export function probeAddress(address: string, port: number | undefined): string {
  if (port === undefined || port === 0) return address;
  const hp = splitHostPort(address);
  if (hp === undefined) return address;
  return `${hp.host.includes(':') ? `[${hp.host}]` : hp.host}:${port}`;
}

const NO_CLIENT = {
  source: { address: '0.0.0.0', port: 0 },
  destination: { address: '0.0.0.0', port: 0 },
};

/**
 * One probe: resolves with undefined when healthy, else the reason. Every socket it opens is
 * destroyed before it settles; `signal` (the checker closing, or the timeout) ends it early.
 */
export function probeTcpServer(
  target: TcpHealthTarget,
  check: { port?: number | undefined; send: string; expect: string },
  signal: AbortSignal,
): Promise<string | undefined> {
  const address = probeAddress(target.address, check.port);
  // no PROXY header, and the probe's own deadline instead of the transport's dialTimeout
  const dial: TcpDialOptions = { ...target.dial, proxyProtocol: undefined, dialTimeoutMs: 0 };
  return dialServer(address, dial, NO_CLIENT, signal).then(
    (conn) => exchange(conn, check, signal),
    (err: Error) => err.message,
  );
}

function exchange(
  conn: Duplex,
  check: { send: string; expect: string },
  signal: AbortSignal,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (failure: string | undefined): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      conn.destroy();
      resolve(failure);
    };
    const onAbort = (): void => finish('aborted');
    if (signal.aborted) {
      finish('aborted');
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    conn.on('error', (err: Error) => finish(`connection: ${err.message}`));
    if (check.expect === '') {
      // connect-only, or send then close (Traefik): the payload is flushed before the close
      if (check.send === '') finish(undefined);
      else conn.write(check.send, (err) => finish(err ? `sending: ${err.message}` : undefined));
      return;
    }
    if (check.send !== '') conn.write(check.send);
    // Traefik reads once into a buffer of len(expect); the answer may come in pieces, so the
    // bytes are gathered up to that length
    const want = Buffer.from(check.expect);
    let got = Buffer.alloc(0);
    conn.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length < want.length) return;
      finish(
        got.subarray(0, want.length).equals(want) ? undefined : 'unexpected health check response',
      );
    });
    conn.on('end', () => finish('closed before the expected answer'));
    conn.on('close', () => finish('closed before the expected answer'));
  });
}

export function createTcpHealthChecker(opts: {
  service: string;
  servers: readonly TcpHealthTarget[];
  config: TcpHealthCheckConfig;
  logger?: Logger | undefined;
}): TcpHealthChecker {
  const { service, config, logger } = opts;
  const timings = healthCheckTimings({
    interval: config.interval,
    unhealthyInterval: config.unhealthyInterval,
    timeout: config.timeout,
  });
  let send = config.send ?? '';
  let expect = config.expect ?? '';
  if (Buffer.byteLength(send) > MAX_TCP_HEALTH_PAYLOAD) {
    logger?.error(
      { service },
      `tcp health check: send is over ${MAX_TCP_HEALTH_PAYLOAD} bytes, connect-only probes`,
    );
    send = '';
  }
  if (Buffer.byteLength(expect) > MAX_TCP_HEALTH_PAYLOAD) {
    logger?.error(
      { service },
      `tcp health check: expect is over ${MAX_TCP_HEALTH_PAYLOAD} bytes, not checked`,
    );
    expect = '';
  }
  const check = { port: config.port, send, expect };

  // servers are keyed by address, as Traefik's targets (a repeated address is probed once)
  const servers = new Map<string, TcpHealthTarget>();
  for (const server of opts.servers) {
    if (!servers.has(server.address)) servers.set(server.address, server);
  }
  return createProbeLoop({
    servers: [...servers.keys()].map((address) => [address, true] as const),
    timings,
    probe: async (address, signal) => {
      const failure = await probeTcpServer(servers.get(address)!, check, signal);
      if (failure === 'aborted' || /: aborted$/.test(failure ?? ''))
        return `timeout after ${timings.timeoutMs}ms`;
      return failure;
    },
    onTransition(address, up, reason) {
      if (up) logger?.info({ service, server: address }, 'tcp health check passed, server is up');
      else
        logger?.warn(
          { service, server: address, reason },
          'tcp health check failed, server is down',
        );
    },
  });
}
