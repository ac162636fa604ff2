/*
 * TCP health checks (issue 13 item 4, Traefik v3's
 * tcp.services.<s>.loadBalancer.healthCheck): a connection probe, optionally
 * `send`/`expect`, `port` in place of the server's, interval /
 * unhealthyInterval / timeout. Unhealthy servers leave the rotation and come
 * back; with all down the connection is closed; the status per server is
 * what the API shows; checkers survive reloads that leave their service as
 * it was and stop when it goes away. Real sockets on 127.0.0.1.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import type { TcpTables } from '../../src/routing/tcp-manager.js';
import { createTcpHealthChecker } from '../../src/tcp/health.js';
import type { TcpDialOptions } from '../../src/tcp/proxy.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/http.js';
import { startRouter, type TestRouter } from '../helpers/portico.js';

interface Backend {
  name: string;
  port: number;
  /** answers PONG to PING while true, FAIL otherwise */
  healthy: boolean;
  /** connections that sent PING (the probes) */
  probes: number;
  /** connections accepted */
  accepted: number;
  /** connections whose first bytes were not PING (clients relayed by Portico) */
  clients: number;
  /** sockets currently open */
  open: Set<net.Socket>;
  close(): Promise<void>;
}

/** An echo server prefixing its name; a connection whose first bytes are PING is a probe. */
async function backend(name: string, opts: { silent?: boolean } = {}): Promise<Backend> {
  const b: Backend = {
    name,
    port: 0,
    healthy: true,
    probes: 0,
    accepted: 0,
    clients: 0,
    open: new Set(),
    close: async () => undefined,
  };
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    b.accepted++;
    b.open.add(s);
    s.on('close', () => b.open.delete(s));
    s.on('error', () => undefined);
    s.once('data', (d: Buffer) => {
      const text = d.toString('latin1');
      if (text === 'PING') {
        b.probes++;
        if (opts.silent !== true) s.end(b.healthy ? 'PONG' : 'FAIL');
        return;
      }
      b.clients++;
      s.write(`${name}:${text}`);
      s.on('data', (more: Buffer) => s.write(`${name}:${more.toString('latin1')}`));
    });
    s.on('end', () => s.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  b.port = (server.address() as net.AddressInfo).port;
  b.close = () =>
    new Promise<void>((r) => {
      for (const s of b.open) s.destroy();
      server.close(() => r());
    });
  return b;
}

/** Sends `send`, ends, and collects the answer until the close ('' when closed at once). */
function talk(port: number, send: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, 3000);
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('close', done);
    s.on('error', done);
    s.on('connect', () => s.end(send));
  });
}

function statusOf(r: TestRouter, service: string): Record<string, string> | undefined {
  const tcp = r.router.holder.current.tcp as TcpTables | undefined;
  return tcp?.serviceRuntimes.get(service)?.serverStatus();
}

describe('TCP health checks', () => {
  let a: Backend;
  let b: Backend;
  let r: TestRouter;
  let tcpPort: number;
  let config: DynamicConfig;
  const hc = { send: 'PING', expect: 'PONG', interval: '50ms', timeout: '1s' };

  beforeAll(async () => {
    [a, b] = await Promise.all([backend('a'), backend('b')]);
    tcpPort = await freePort();
    config = {
      tcp: {
        routers: { db: { rule: 'HostSNI(`*`)', service: 'db', entryPoints: ['tcp'] } },
        services: {
          db: {
            loadBalancer: {
              servers: [{ address: `127.0.0.1:${a.port}` }, { address: `127.0.0.1:${b.port}` }],
              healthCheck: hc,
            },
          },
        },
      },
    };
    r = await startRouter(config, { flags: [`--entryPoints.tcp.address=127.0.0.1:${tcpPort}`] });
  });

  afterAll(async () => {
    await r?.close();
    await a?.close();
    await b?.close();
  });

  const names = async (n: number): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push((await talk(tcpPort, 'x')).split(':')[0]!);
    return out;
  };

  it('reports every server UP once probed, in Traefik serverStatus shape (address → UP/DOWN)', async () => {
    await eventually(() => expect(a.probes).toBeGreaterThan(0));
    expect(statusOf(r, 'db@file')).toEqual({
      [`127.0.0.1:${a.port}`]: 'UP',
      [`127.0.0.1:${b.port}`]: 'UP',
    });
    expect((await names(4)).sort()).toEqual(['a', 'a', 'b', 'b']);
  });

  it('takes a server whose answer is not `expect` out of the rotation, and back when it answers again', async () => {
    a.healthy = false;
    try {
      await eventually(() => expect(statusOf(r, 'db@file')?.[`127.0.0.1:${a.port}`]).toBe('DOWN'));
      expect(await names(4)).toEqual(['b', 'b', 'b', 'b']);
    } finally {
      a.healthy = true;
    }
    await eventually(() => expect(statusOf(r, 'db@file')?.[`127.0.0.1:${a.port}`]).toBe('UP'));
    expect((await names(4)).sort()).toEqual(['a', 'a', 'b', 'b']);
  });

  it('closes the connection when every server is down, though they still accept connections', async () => {
    a.healthy = false;
    b.healthy = false;
    try {
      await eventually(() =>
        expect(Object.values(statusOf(r, 'db@file') ?? {})).toEqual(['DOWN', 'DOWN']),
      );
      const clientsBefore = a.clients + b.clients;
      expect(await talk(tcpPort, 'x')).toBe('');
      // no client connection reached a server (probes aside)
      expect(a.clients + b.clients).toBe(clientsBefore);
    } finally {
      a.healthy = true;
      b.healthy = true;
    }
    await eventually(() =>
      expect(Object.values(statusOf(r, 'db@file') ?? {})).toEqual(['UP', 'UP']),
    );
  });

  it('probes `port` instead of the server port: a closed health port marks a working server DOWN', async () => {
    const closed = await freePort();
    r.apply({
      tcp: {
        ...config.tcp,
        services: {
          db: {
            loadBalancer: {
              servers: [{ address: `127.0.0.1:${a.port}` }, { address: `127.0.0.1:${b.port}` }],
              healthCheck: { port: closed, interval: '50ms', timeout: '1s' },
            },
          },
        },
      },
    });
    try {
      await eventually(() =>
        expect(Object.values(statusOf(r, 'db@file') ?? {})).toEqual(['DOWN', 'DOWN']),
      );
      expect(await talk(tcpPort, 'x')).toBe('');
    } finally {
      r.apply(config);
    }
  });

  it('with `send` and no `expect`, delivers the payload and counts a connection as healthy', async () => {
    const c = await backend('c');
    c.healthy = false; // it answers FAIL: nobody reads it
    r.apply({
      tcp: {
        ...config.tcp,
        services: {
          db: {
            loadBalancer: {
              servers: [{ address: `127.0.0.1:${c.port}` }],
              healthCheck: { send: 'PING', interval: '50ms', timeout: '1s' },
            },
          },
        },
      },
    });
    try {
      await eventually(() => expect(c.probes).toBeGreaterThanOrEqual(2));
      expect(statusOf(r, 'db@file')).toEqual({ [`127.0.0.1:${c.port}`]: 'UP' });
    } finally {
      r.apply(config);
      await c.close();
    }
  });

  it('marks DOWN a server that accepts but does not answer within `timeout`', async () => {
    const mute = await backend('mute', { silent: true });
    r.apply({
      tcp: {
        ...config.tcp,
        services: {
          db: {
            loadBalancer: {
              servers: [{ address: `127.0.0.1:${mute.port}` }],
              healthCheck: { ...hc, timeout: '100ms' },
            },
          },
        },
      },
    });
    try {
      await eventually(() =>
        expect(statusOf(r, 'db@file')).toEqual({ [`127.0.0.1:${mute.port}`]: 'DOWN' }),
      );
      // the probe's connection is closed at its timeout, not left open
      await eventually(() => expect(mute.open.size).toBe(0));
    } finally {
      r.apply(config);
      await mute.close();
    }
  });

  it('keeps health state across a reload that leaves the service as it was', async () => {
    a.healthy = false;
    try {
      await eventually(() => expect(statusOf(r, 'db@file')?.[`127.0.0.1:${a.port}`]).toBe('DOWN'));
      // another router changes; the service does not: its checker (and what it knows) is kept
      r.apply({
        tcp: {
          ...config.tcp,
          routers: {
            ...config.tcp!.routers,
            other: { rule: 'HostSNI(`*`)', service: 'db', entryPoints: ['web'] },
          },
        },
      });
      expect(statusOf(r, 'db@file')?.[`127.0.0.1:${a.port}`]).toBe('DOWN');
      expect(await names(2)).toEqual(['b', 'b']);
    } finally {
      a.healthy = true;
      r.apply(config);
    }
    await eventually(() => expect(statusOf(r, 'db@file')?.[`127.0.0.1:${a.port}`]).toBe('UP'));
  });

  it('stops probing when the service goes away (no timer left behind)', async () => {
    const c = await backend('c');
    r.apply({
      tcp: {
        ...config.tcp,
        services: {
          ...config.tcp!.services,
          gone: {
            loadBalancer: { servers: [{ address: `127.0.0.1:${c.port}` }], healthCheck: hc },
          },
        },
      },
    });
    try {
      await eventually(() => expect(c.probes).toBeGreaterThanOrEqual(2));
      r.apply(config);
      // a probe in flight is closed; after that, no connection for 20 intervals
      await eventually(() => expect(c.open.size).toBe(0));
      await new Promise((res) => setTimeout(res, 300));
      const after = c.accepted;
      await new Promise((res) => setTimeout(res, 1000));
      expect(c.accepted).toBe(after);
    } finally {
      await c.close();
    }
  });

  it('weighted services with healthCheck {} skip children whose servers are all down', async () => {
    const c = await backend('c');
    r.apply({
      tcp: {
        ...config.tcp,
        routers: { db: { ...config.tcp!.routers!.db!, service: 'split' } },
        services: {
          ...config.tcp!.services,
          one: {
            loadBalancer: { servers: [{ address: `127.0.0.1:${c.port}` }], healthCheck: hc },
          },
          split: {
            weighted: {
              healthCheck: {},
              services: [
                { name: 'db', weight: 1 },
                { name: 'one', weight: 1 },
              ],
            },
          },
        },
      },
    });
    c.healthy = false;
    try {
      await eventually(() =>
        expect(statusOf(r, 'one@file')).toEqual({ [`127.0.0.1:${c.port}`]: 'DOWN' }),
      );
      const got = await names(4);
      expect(got.every((n) => n === 'a' || n === 'b')).toBe(true);
    } finally {
      await c.close();
      r.apply(config);
    }
  });

  it('refuses healthCheck on a weighted service whose child has none, as Traefik', () => {
    const table = r.apply({
      tcp: {
        ...config.tcp,
        services: {
          ...config.tcp!.services,
          plain: { loadBalancer: { servers: [{ address: `127.0.0.1:${a.port}` }] } },
          split: {
            weighted: { healthCheck: {}, services: [{ name: 'plain', weight: 1 }] },
          },
        },
      },
    });
    try {
      const info = table.tcp!.services.get('split@file')!;
      expect(info.status).toBe('disabled');
      expect(info.errors.join()).toMatch(/healthCheck/);
    } finally {
      r.apply(config);
    }
  });
});

describe('createTcpHealthChecker', () => {
  const dial: TcpDialOptions = {
    dialTimeoutMs: 30_000,
    dialKeepAliveMs: 0,
    terminationDelayMs: 100,
    proxyProtocol: undefined,
    tls: undefined,
  };

  it('close() ends a probe in flight: its connection is closed at once, no later probe', async () => {
    const mute = await backend('mute', { silent: true });
    try {
      const checker = createTcpHealthChecker({
        service: 's',
        servers: [{ address: `127.0.0.1:${mute.port}`, dial }],
        config: { send: 'PING', expect: 'PONG', interval: '20ms', timeout: '30s' },
      });
      checker.start();
      await eventually(() => expect(mute.probes).toBe(1));
      checker.close();
      await eventually(() => expect(mute.open.size).toBe(0), { timeoutMs: 2000 });
      await new Promise((res) => setTimeout(res, 200));
      expect(mute.accepted).toBe(1);
    } finally {
      await mute.close();
    }
  });

  it('probes TLS servers over TLS (servers[].tls), as the connections to them are made', async () => {
    // a plain server answering the TLS handshake with garbage: a TLS probe fails, a plain one would pass
    const plain = await backend('plain');
    try {
      const checker = createTcpHealthChecker({
        service: 's',
        servers: [
          {
            address: `127.0.0.1:${plain.port}`,
            dial: {
              ...dial,
              tls: {
                serverName: undefined,
                insecureSkipVerify: true,
                ca: undefined,
                certificates: [],
              },
            },
          },
        ],
        config: { interval: '1h', timeout: '2s' },
      });
      checker.start();
      try {
        await eventually(() =>
          expect(checker.status()).toEqual({ [`127.0.0.1:${plain.port}`]: 'DOWN' }),
        );
      } finally {
        checker.close();
      }
    } finally {
      await plain.close();
    }
  });
});
