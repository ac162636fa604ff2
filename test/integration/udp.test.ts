/*
 * UDP routers and services (issue 13 item 5), as Traefik users write them: an
 * entrypoint `address: ":53/udp"`, a UDP router (no rule) and a service of
 * servers or of weighted services. A client (an address and port) is a
 * session: its datagrams go to one server and that server's replies come
 * back, until the session idles out (`entryPoints.<n>.udp.timeout`, 3s by
 * default). Real sockets on 127.0.0.1 and ::1.
 */
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { eventually } from '../helpers/eventually.js';
import { request } from '../helpers/http.js';
import { startRouter, type TestRouter } from '../helpers/portico.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { runPortico } from '../helpers/process.js';

interface UdpBackend {
  port: number;
  /** the source ports datagrams came from, one entry per datagram */
  sources: number[];
  close(): Promise<void>;
}

type Family = 'udp4' | 'udp6';

function bind(socket: dgram.Socket, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => {
      socket.off('error', reject);
      resolve(socket.address().port);
    });
  });
}

/**
 * An echo server: answers each datagram with `<name>:<datagram>`. `silent`: never answers;
 * `otherPort`: first answers from another socket (a reply a connected client must not take),
 * then from its own.
 */
async function udpServer(
  name: string,
  opts: { host?: string; silent?: boolean; otherPort?: boolean } = {},
): Promise<UdpBackend> {
  const host = opts.host ?? '127.0.0.1';
  const type: Family = host.includes(':') ? 'udp6' : 'udp4';
  const socket = dgram.createSocket(type);
  const other = dgram.createSocket(type);
  const sources: number[] = [];
  socket.on('message', (msg, from) => {
    sources.push(from.port);
    if (opts.silent) return;
    if (opts.otherPort) other.send(`${name}:wrong-port`, from.port, from.address);
    // after the wrong-port reply: if that one were let through, it would arrive first
    setImmediate(() =>
      socket.send(Buffer.concat([Buffer.from(`${name}:`), msg]), from.port, from.address),
    );
  });
  const port = await bind(socket, host);
  await bind(other, host);
  return {
    port,
    sources,
    close: async () => {
      await new Promise<void>((r) => socket.close(() => r()));
      await new Promise<void>((r) => other.close(() => r()));
    },
  };
}

/** A client socket (one source port, so one session) and the datagrams it received. */
interface UdpClient {
  port: number;
  ask(message: string | Buffer, timeoutMs?: number): Promise<Buffer>;
  send(message: string | Buffer): void;
  received: Buffer[];
  close(): void;
}

async function udpClient(routerPort: number, host = '127.0.0.1'): Promise<UdpClient> {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const received: Buffer[] = [];
  const waiting: ((b: Buffer) => void)[] = [];
  socket.on('message', (msg) => {
    received.push(msg);
    waiting.shift()?.(msg);
  });
  socket.on('error', () => undefined);
  const port = await bind(socket, host);
  const send = (m: string | Buffer): void => socket.send(m, routerPort, host);
  return {
    port,
    received,
    send,
    ask: (m, timeoutMs = 5000) =>
      new Promise<Buffer>((resolve, reject) => {
        const waiter = (b: Buffer): void => {
          clearTimeout(t);
          resolve(b);
        };
        // a late answer must not go to an ask that gave up
        const t = setTimeout(() => {
          waiting.splice(waiting.indexOf(waiter), 1);
          reject(new Error(`no answer to ${String(m).slice(0, 40)}`));
        }, timeoutMs);
        waiting.push(waiter);
        send(m);
      }),
    close: () => socket.close(),
  };
}

const text = (b: Buffer): string => b.toString('latin1');

function udpPort(r: TestRouter, entryPoint: string): number {
  const ep = r.router.udpEntryPoints.get(entryPoint);
  const address = ep?.address();
  if (address === undefined) throw new Error(`udp entrypoint ${entryPoint} is not listening`);
  return address.port;
}

function service(...ports: number[]): { loadBalancer: { servers: { address: string }[] } } {
  return { loadBalancer: { servers: ports.map((p) => ({ address: `127.0.0.1:${p}` })) } };
}

describe('UDP routers', () => {
  const opened: { close(): void | Promise<void> }[] = [];
  const track = <T extends { close(): void | Promise<void> }>(x: T): T => {
    opened.push(x);
    return x;
  };
  afterEach(async () => {
    for (const x of opened.splice(0)) await x.close();
  });

  it('UDP echo through the router (default timeout)', async () => {
    const echo = track(await udpServer('echo'));
    const r = track(
      await startRouter(
        {
          udp: {
            routers: { dns: { entryPoints: ['dns'], service: 'echo' } },
            services: { echo: service(echo.port) },
          },
        },
        { flags: ['--entryPoints.dns.address=127.0.0.1:0/udp'] },
      ),
    );
    expect(r.staticConfig.entryPoints.dns!.udp).toEqual({ timeoutMs: 3000 });
    expect(r.router.holder.current.errors).toEqual([]);
    const client = track(await udpClient(udpPort(r, 'dns')));
    expect(text(await client.ask('hello'))).toBe('echo:hello');
    expect(text(await client.ask('again'))).toBe('echo:again');
    // one session: both datagrams reached the server from the same source port
    expect(new Set(echo.sources).size).toBe(1);
    // the HTTP entrypoint next to it is unaffected
    expect((await request(`${r.url}/`)).status).toBe(404);
  });

  it('round robin by client: each client is a session pinned to one server', async () => {
    const a = track(await udpServer('a'));
    const b = track(await udpServer('b'));
    const r = track(
      await startRouter(
        {
          udp: {
            routers: { rr: { entryPoints: ['dns'], service: 'two' } },
            services: { two: service(a.port, b.port) },
          },
        },
        { flags: ['--entryPoints.dns.address=127.0.0.1:0/udp'] },
      ),
    );
    const port = udpPort(r, 'dns');
    const c1 = track(await udpClient(port));
    const c2 = track(await udpClient(port));
    const first = text(await c1.ask('x')).split(':')[0];
    const second = text(await c2.ask('x')).split(':')[0];
    expect(new Set([first, second])).toEqual(new Set(['a', 'b']));
    // later datagrams of each client stay with its server
    for (let i = 0; i < 3; i++) {
      expect(text(await c1.ask(`m${i}`))).toBe(`${first}:m${i}`);
      expect(text(await c2.ask(`m${i}`))).toBe(`${second}:m${i}`);
    }
  });

  it('a session closes after udp.timeout of silence; the next datagram opens one to the next server', async () => {
    const a = track(await udpServer('a'));
    const b = track(await udpServer('b'));
    const r = track(
      await startRouter(
        {
          udp: {
            routers: { rr: { entryPoints: ['dns'], service: 'two' } },
            services: { two: service(a.port, b.port) },
          },
        },
        {
          flags: [
            '--entryPoints.dns.address=127.0.0.1:0/udp',
            '--entryPoints.dns.udp.timeout=200ms',
          ],
        },
      ),
    );
    const ep = r.router.udpEntryPoints.get('dns')!;
    const client = track(await udpClient(udpPort(r, 'dns')));
    const first = text(await client.ask('one')).split(':')[0];
    expect(ep.sessionCount()).toBe(1);
    await eventually(() => expect(ep.sessionCount()).toBe(0));
    const next = text(await client.ask('two')).split(':')[0];
    expect(next).not.toBe(first);
    expect([first, next].sort()).toEqual(['a', 'b']);
  });

  it('weighted services split sessions by weight', async () => {
    const heavy = track(await udpServer('heavy'));
    const light = track(await udpServer('light'));
    const r = track(
      await startRouter(
        {
          udp: {
            routers: { w: { entryPoints: ['dns'], service: 'split' } },
            services: {
              split: {
                weighted: {
                  services: [
                    { name: 'heavy', weight: 3 },
                    { name: 'light', weight: 1 },
                  ],
                },
              },
              heavy: service(heavy.port),
              light: service(light.port),
            },
          },
        },
        { flags: ['--entryPoints.dns.address=127.0.0.1:0/udp'] },
      ),
    );
    const port = udpPort(r, 'dns');
    const seen: string[] = [];
    for (let i = 0; i < 8; i++) {
      const c = track(await udpClient(port));
      seen.push(text(await c.ask('hi')).split(':')[0]!);
    }
    expect(seen.filter((s) => s === 'heavy')).toHaveLength(6);
    expect(seen.filter((s) => s === 'light')).toHaveLength(2);
  });

  it('a router with a missing service is reported, and the other entrypoints keep serving', async () => {
    const echo = track(await udpServer('echo'));
    const r = track(
      await startRouter(
        {
          udp: {
            routers: {
              broken: { entryPoints: ['bad'], service: 'nowhere' },
              good: { entryPoints: ['dns'], service: 'echo' },
            },
            services: { echo: service(echo.port) },
          },
        },
        {
          flags: [
            '--entryPoints.dns.address=127.0.0.1:0/udp',
            '--entryPoints.bad.address=127.0.0.1:0/udp',
          ],
        },
      ),
    );
    const table = r.router.holder.current;
    expect(table.errors).toContainEqual(
      expect.objectContaining({ kind: 'udpRouter', name: 'broken@file', field: 'service' }),
    );
    expect(table.udp?.routers.get('broken@file')).toMatchObject({
      status: 'disabled',
      errors: [expect.stringContaining('nowhere@file')],
    });
    expect(table.udp?.routers.get('good@file')?.status).toBe('enabled');
    const client = track(await udpClient(udpPort(r, 'dns')));
    expect(text(await client.ask('ok?'))).toBe('echo:ok?');
  });

  it('HTTP routers cannot use a UDP entrypoint, nor UDP routers a TCP one: the field is named', async () => {
    const web: Upstream = await startUpstream();
    track(web);
    const echo = track(await udpServer('echo'));
    const config: DynamicConfig = {
      http: {
        routers: {
          onudp: { rule: 'PathPrefix(`/`)', entryPoints: ['dns'], service: 'web' },
          fine: { rule: 'PathPrefix(`/`)', service: 'web' },
        },
        services: { web: { loadBalancer: { servers: [{ url: web.url }] } } },
      },
      udp: {
        routers: {
          ontcp: { entryPoints: ['web'], service: 'echo' },
          dns: { service: 'echo' },
        },
        services: { echo: service(echo.port) },
      },
    };
    const r = track(
      await startRouter(config, { flags: ['--entryPoints.dns.address=127.0.0.1:0/udp'] }),
    );
    const table = r.router.holder.current;
    expect(table.routers.get('onudp@file')).toMatchObject({
      status: 'disabled',
      errors: expect.arrayContaining([expect.stringMatching(/"dns" is a udp entrypoint/)]),
    });
    expect(table.errors).toContainEqual(
      expect.objectContaining({ kind: 'router', name: 'onudp@file', field: 'entryPoints' }),
    );
    expect(table.udp?.routers.get('ontcp@file')).toMatchObject({
      status: 'disabled',
      errors: expect.arrayContaining([expect.stringMatching(/"web" is not a udp entrypoint/)]),
    });
    expect(table.errors).toContainEqual(
      expect.objectContaining({ kind: 'udpRouter', name: 'ontcp@file', field: 'entryPoints' }),
    );
    // the router without entryPoints takes the udp ones only (Traefik's defaults exclude udp)
    expect(table.routers.get('fine@file')?.entryPoints).toEqual(['web']);
    expect(table.udp?.routers.get('dns@file')?.entryPoints).toEqual(['dns']);
    expect((await request(`${r.url}/`)).status).toBe(200);
    const client = track(await udpClient(udpPort(r, 'dns')));
    expect(text(await client.ask('still'))).toBe('echo:still');
  });

  it('IPv6: an entrypoint on [::1] and a server on ::1', async () => {
    const echo = track(await udpServer('six', { host: '::1' }));
    const r = track(
      await startRouter(
        {
          udp: {
            routers: { dns: { entryPoints: ['dns6'], service: 'echo' } },
            services: { echo: { loadBalancer: { servers: [{ address: `[::1]:${echo.port}` }] } } },
          },
        },
        { flags: ['--entryPoints.dns6.address=[::1]:0/udp'] },
      ),
    );
    const client = track(await udpClient(udpPort(r, 'dns6'), '::1'));
    expect(text(await client.ask('v6'))).toBe('six:v6');
  });

  it('a table swap keeps sessions on their server and sends new clients to the new service', async () => {
    const a = track(await udpServer('a'));
    const b = track(await udpServer('b'));
    const flags = ['--entryPoints.dns.address=127.0.0.1:0/udp'];
    const config = (p: number): DynamicConfig => ({
      udp: { routers: { dns: { service: 's' } }, services: { s: service(p) } },
    });
    const r = track(await startRouter(config(a.port), { flags }));
    const port = udpPort(r, 'dns');
    const old = track(await udpClient(port));
    expect(text(await old.ask('1'))).toBe('a:1');
    r.apply(config(b.port));
    expect(text(await old.ask('2'))).toBe('a:2');
    const fresh = track(await udpClient(port));
    expect(text(await fresh.ask('3'))).toBe('b:3');
  });
});

describe('UDP: hostile traffic and servers', () => {
  let r: TestRouter;
  let echo: UdpBackend;
  let silent: UdpBackend;
  let liar: UdpBackend;
  let port: (ep: string) => number;

  beforeAll(async () => {
    [echo, silent, liar] = await Promise.all([
      udpServer('echo'),
      udpServer('silent', { silent: true }),
      udpServer('liar', { otherPort: true }),
    ]);
    r = await startRouter(
      {
        udp: {
          routers: {
            echo: { entryPoints: ['echo'], service: 'echo' },
            silent: { entryPoints: ['silent'], service: 'silent' },
            liar: { entryPoints: ['liar'], service: 'liar' },
          },
          services: {
            echo: service(echo.port),
            silent: service(silent.port),
            liar: service(liar.port),
          },
        },
      },
      {
        flags: [
          '--entryPoints.echo.address=127.0.0.1:0/udp',
          '--entryPoints.silent.address=127.0.0.1:0/udp',
          '--entryPoints.silent.udp.timeout=200ms',
          '--entryPoints.liar.address=127.0.0.1:0/udp',
        ],
      },
    );
    port = (ep) => udpPort(r, ep);
  });
  afterAll(async () => {
    await r?.close();
    await Promise.all([echo, silent, liar].map((s) => s?.close()));
  });

  it('the largest IPv4 datagram (65,507 bytes) and an empty one go through whole', async () => {
    const client = await udpClient(port('echo'));
    try {
      const big = Buffer.alloc(65_507 - 'echo:'.length, 0x61);
      const answer = await client.ask(big);
      expect(answer.length).toBe(65_507);
      expect(answer.subarray(5).equals(big)).toBe(true);
      expect(text(await client.ask(Buffer.alloc(0)))).toBe('echo:');
    } finally {
      client.close();
    }
  });

  it('a flood from 300 source ports, then the router still answers a new client', async () => {
    const ep = r.router.udpEntryPoints.get('echo')!;
    const before = new Set(echo.sources).size;
    const flooders: UdpClient[] = [];
    try {
      for (let i = 0; i < 300; i++) flooders.push(await udpClient(port('echo')));
      for (const f of flooders) for (let j = 0; j < 5; j++) f.send(Buffer.alloc(1200, j));
      // the kernel drops much of a 1.8 MB burst (socket buffers): the sessions that were opened
      // reach the server, each from its own port, and there are never more than clients
      await eventually(() => expect(flooders.some((f) => f.received.length > 0)).toBe(true), {
        timeoutMs: 15_000,
      });
      expect(new Set(echo.sources).size).toBeGreaterThan(before);
      expect(ep.sessionCount()).toBeLessThanOrEqual(300 + before);
    } finally {
      for (const f of flooders) f.close();
    }
    const client = await udpClient(port('echo'));
    try {
      expect(text(await client.ask('after'))).toBe('echo:after');
    } finally {
      client.close();
    }
  });

  it('a server that never replies: sessions idle out, nothing piles up', async () => {
    const ep = r.router.udpEntryPoints.get('silent')!;
    const clients: UdpClient[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const c = await udpClient(port('silent'));
        clients.push(c);
        c.send('anyone?');
      }
      await eventually(() => expect(silent.sources.length).toBe(20));
      await eventually(() => expect(ep.sessionCount()).toBe(0));
      expect(clients.every((c) => c.received.length === 0)).toBe(true);
    } finally {
      for (const c of clients) c.close();
    }
  });

  it('a reply from another port than the server address is not taken (connected socket, as Traefik)', async () => {
    const client = await udpClient(port('liar'));
    try {
      expect(text(await client.ask('who?'))).toBe('liar:who?');
      expect(client.received.map(text)).toEqual(['liar:who?']);
    } finally {
      client.close();
    }
  });
});

/** a UDP port nobody uses now (the cluster's workers each bind it, so port 0 cannot be used) */
async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  const port = await bind(s, '127.0.0.1');
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('UDP in a cluster (the real command, 2 workers)', () => {
  it('each client stays one session on one server; killed workers are replaced and serve', async () => {
    const a = await udpServer('a');
    const b = await udpServer('b');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-udp-'));
    const file = path.join(dir, 'dynamic.yml');
    writeFileSync(
      file,
      [
        'udp:',
        '  routers:',
        '    dns: { entryPoints: [dns], service: two }',
        '  services:',
        '    two:',
        '      loadBalancer:',
        `        servers: [{ address: "127.0.0.1:${a.port}" }, { address: "127.0.0.1:${b.port}" }]`,
        '',
      ].join('\n'),
    );
    const port = await freeUdpPort();
    const p = runPortico([
      '--workers=2',
      '--log.level=info',
      `--entryPoints.dns.address=127.0.0.1:${port}/udp`,
      `--providers.file.filename=${file}`,
    ]);
    const clients: UdpClient[] = [];
    try {
      await eventually(
        () =>
          expect(
            p.lines.filter((l) => l.msg === 'configuration applied' && l.worker !== undefined),
          ).toHaveLength(2),
        { timeoutMs: 20_000 },
      );
      for (let i = 0; i < 8; i++) clients.push(await udpClient(port));
      const servedBy = new Map<number, Set<string>>();
      for (let round = 0; round < 4; round++) {
        for (const c of clients) {
          const answer = text(await c.ask(`r${round}`));
          const set = servedBy.get(c.port) ?? new Set<string>();
          set.add(answer.split(':')[0]!);
          servedBy.set(c.port, set);
        }
      }
      // a session per client: every datagram of a client went to the same server...
      for (const set of servedBy.values()) expect(set.size).toBe(1);
      // ...through one socket: each server saw as many source ports as clients it served
      const clientsOf = (name: string): number =>
        [...servedBy.values()].filter((set) => set.has(name)).length;
      expect(new Set(a.sources).size).toBe(clientsOf('a'));
      expect(new Set(b.sources).size).toBe(clientsOf('b'));
      // a worker dies: the other one (or its replacement) answers
      const workers = [
        ...new Set(p.lines.map((l) => l.worker).filter((w): w is number => typeof w === 'number')),
      ];
      for (const pid of workers) process.kill(pid, 'SIGKILL');
      const late = await udpClient(port);
      clients.push(late);
      await eventually(async () => expect(text(await late.ask('back?', 500))).toMatch(/:back\?$/), {
        timeoutMs: 20_000,
      });
    } finally {
      for (const c of clients) c.close();
      await p.stop('SIGKILL');
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
