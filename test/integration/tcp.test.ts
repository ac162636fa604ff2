/*
 * TCP routers and services (issue 13 item 4), as Traefik users write them:
 * plain TCP with HostSNI(`*`) (an echo, and a protocol where the server
 * speaks first), TLS passthrough routed by SNI (the backend's own certificate
 * reaches the client), TLS terminated by Portico, TCP and HTTP routers on one
 * entrypoint, the TCP middlewares (ipAllowList, inFlightConn), weighted
 * services and the PROXY protocol header sent to servers. Real sockets on
 * 127.0.0.1.
 */
import net from 'node:net';
import tls from 'node:tls';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { freePort, request } from '../helpers/http.js';
import { startRouter, type TestRouter } from '../helpers/portico.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

async function certFor(name: string): Promise<{ cert: string; key: string }> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: name }] }],
  });
  return { cert: pems.cert, key: pems.private };
}

interface Backend {
  port: number;
  /** the first bytes each connection sent, in order */
  firstBytes: string[];
  close(): Promise<void>;
}

/** An echo server that prefixes what it sends back with its name; `greet`: speaks first. */
async function echoServer(name: string, greet = false): Promise<Backend> {
  const firstBytes: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    if (greet) s.write(`220 ${name} ready\r\n`);
    let first = true;
    s.on('data', (d: Buffer) => {
      if (first) firstBytes.push(d.toString('latin1'));
      first = false;
      s.write(`${name}:${d.toString('latin1')}`);
    });
    // the client's FIN: answer once more, then end our side (half-close honoured)
    s.on('end', () => s.end(`${name}:bye`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    firstBytes,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A TLS server with its own certificate, answering `name` to every connection. */
async function tlsBackend(name: string): Promise<Backend & { cert: string }> {
  const pair = await certFor(name);
  const server = tls.createServer(pair, (s) => {
    s.on('error', () => undefined);
    s.end(`hello from ${name}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    firstBytes: [],
    cert: pair.cert,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Connects, writes `send` (then ends when asked), and collects everything until the close. */
function talk(
  port: number,
  send: string | undefined,
  opts: { end?: boolean; waitMs?: number } = {},
): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, opts.waitMs ?? 3000);
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('close', done);
    s.on('error', done);
    s.on('connect', () => {
      if (send !== undefined) s.write(send);
      if (opts.end !== false) s.end();
    });
  });
}

/** A TLS client: the certificate it was shown and what it read until the server closed. */
function tlsTalk(
  port: number,
  servername: string,
  send?: string,
): Promise<{ subject: string; got: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ port, host: '127.0.0.1', servername, rejectUnauthorized: false });
    let got = '';
    let subject = '';
    s.on('secureConnect', () => {
      subject = String(s.getPeerCertificate().subject?.CN ?? '');
      if (send !== undefined) s.end(send);
    });
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('end', () => resolve({ subject, got }));
    s.on('close', () => resolve({ subject, got }));
    s.on('error', reject);
  });
}

describe('TCP routers', () => {
  let echo: Backend;
  let echo2: Backend;
  let greeter: Backend;
  let proxied: Backend;
  let a: Backend & { cert: string };
  let b: Backend & { cert: string };
  let web: Upstream;
  let r: TestRouter;
  let tcpPort: number;
  let smtpPort: number;
  let config: DynamicConfig;

  beforeAll(async () => {
    [echo, echo2, greeter, proxied, a, b, web] = await Promise.all([
      echoServer('echo'),
      echoServer('echo2'),
      echoServer('smtp', true),
      echoServer('proxied'),
      tlsBackend('a.test'),
      tlsBackend('b.test'),
      startUpstream('http-side'),
    ]);
    tcpPort = await freePort();
    smtpPort = await freePort();
    const terminated = await certFor('c.test');
    const lb = (port: number): { loadBalancer: { servers: { address: string }[] } } => ({
      loadBalancer: { servers: [{ address: `127.0.0.1:${port}` }] },
    });
    config = {
      http: {
        routers: { site: { rule: 'Host(`site.test`)', service: 'site', entryPoints: ['web'] } },
        services: { site: { loadBalancer: { servers: [{ url: web.url }] } } },
      },
      tls: { certificates: [{ certFile: terminated.cert, keyFile: terminated.key }] },
      tcp: {
        routers: {
          plain: { rule: 'HostSNI(`*`)', service: 'echo', entryPoints: ['tcp'] },
          smtp: { rule: 'HostSNI(`*`)', service: 'smtp', entryPoints: ['smtp'] },
          passA: {
            rule: 'HostSNI(`a.test`)',
            service: 'a',
            entryPoints: ['web'],
            tls: { passthrough: true },
          },
          passB: {
            rule: 'HostSNI(`b.test`) || HostSNI(`b2.test`)',
            service: 'b',
            entryPoints: ['web'],
            tls: { passthrough: true },
          },
          terminated: { rule: 'HostSNI(`c.test`)', service: 'echo', entryPoints: ['web'], tls: {} },
          broken: { rule: 'HostSNI(`x.test`', service: 'echo', entryPoints: ['web'] },
        },
        services: {
          echo: lb(echo.port),
          smtp: lb(greeter.port),
          a: lb(a.port),
          b: lb(b.port),
        },
      },
    };
    r = await startRouter(config, {
      flags: [
        `--entryPoints.tcp.address=127.0.0.1:${tcpPort}`,
        `--entryPoints.smtp.address=127.0.0.1:${smtpPort}`,
      ],
    });
  });

  afterAll(async () => {
    await r?.close();
    for (const s of [echo, echo2, greeter, proxied, a, b]) await s?.close();
    await web?.close();
  });

  it('relays plain TCP both ways with HostSNI(`*`), and honours a half-close', async () => {
    const got = await talk(tcpPort, 'ping');
    expect(got).toBe('echo:pingecho:bye');
  });

  it('serves a protocol where the server speaks first: nothing is read before relaying', async () => {
    const got = await talk(smtpPort, undefined, { end: false, waitMs: 1000 });
    expect(got).toBe('220 smtp ready\r\n');
  });

  it("routes TLS by SNI in passthrough: the client sees the backend's own certificate", async () => {
    const ra = await tlsTalk(r.port, 'a.test');
    expect(ra).toEqual({ subject: 'a.test', got: 'hello from a.test' });
    const rb = await tlsTalk(r.port, 'b2.test');
    expect(rb).toEqual({ subject: 'b.test', got: 'hello from b.test' });
  });

  it('terminates TLS for a TCP router without passthrough, with the certificate of the store', async () => {
    const rc = await tlsTalk(r.port, 'c.test', 'hi');
    expect(rc.subject).toBe('c.test');
    expect(rc.got).toBe('echo:hiecho:bye');
  });

  it('keeps serving HTTP routers on the entrypoint its TCP routers share', async () => {
    const reply = await request(`${r.url}/`, { headers: { host: 'site.test' } });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body).name).toBe('http-side');
  });

  it('reports a broken TCP router by name and field, the others keep working', () => {
    const info = r.router.holder.current.tcp!.routers.get('broken@file')!;
    expect(info.status).toBe('disabled');
    expect(info.errors.join()).toMatch(/^rule: error while parsing rule/);
    const err = r.router.holder.current.errors.find((e) => e.name === 'broken@file');
    expect(err).toMatchObject({ kind: 'tcpRouter', field: 'rule' });
  });

  it('ipAllowList closes connections from outside sourceRange, and lets the others through', async () => {
    r.apply({
      ...config,
      tcp: {
        ...config.tcp,
        routers: {
          plain: { ...config.tcp!.routers!.plain!, middlewares: ['only'] },
        },
        middlewares: { only: { ipAllowList: { sourceRange: ['10.0.0.0/8'] } } },
      },
    });
    try {
      expect(await talk(tcpPort, 'ping')).toBe('');
      r.apply({
        ...config,
        tcp: {
          ...config.tcp,
          routers: { plain: { ...config.tcp!.routers!.plain!, middlewares: ['only'] } },
          middlewares: { only: { ipAllowList: { sourceRange: ['127.0.0.1/32'] } } },
        },
      });
      expect(await talk(tcpPort, 'ping')).toBe('echo:pingecho:bye');
    } finally {
      r.apply(config);
    }
  });

  it('inFlightConn closes connections past the amount per client IP', async () => {
    r.apply({
      ...config,
      tcp: {
        ...config.tcp,
        routers: { plain: { ...config.tcp!.routers!.plain!, middlewares: ['one'] } },
        middlewares: { one: { inFlightConn: { amount: 1 } } },
      },
    });
    try {
      const first = net.connect(tcpPort, '127.0.0.1');
      await new Promise((res) => first.once('connect', res));
      first.write('x');
      await new Promise((res) => first.once('data', res));
      // the first is still open: the second is refused
      expect(await talk(tcpPort, 'ping')).toBe('');
      first.destroy();
      await new Promise((res) => setTimeout(res, 100));
      expect(await talk(tcpPort, 'ping')).toBe('echo:pingecho:bye');
    } finally {
      r.apply(config);
    }
  });

  it('weighted services split connections by weight', async () => {
    r.apply({
      ...config,
      tcp: {
        ...config.tcp,
        routers: { plain: { ...config.tcp!.routers!.plain!, service: 'split' } },
        services: {
          ...config.tcp!.services,
          echo2: { loadBalancer: { servers: [{ address: `127.0.0.1:${echo2.port}` }] } },
          split: {
            weighted: {
              services: [
                { name: 'echo', weight: 3 },
                { name: 'echo2', weight: 1 },
              ],
            },
          },
        },
      },
    });
    try {
      const names: string[] = [];
      for (let i = 0; i < 8; i++) names.push((await talk(tcpPort, 'x')).split(':')[0]!);
      expect(names.filter((n) => n === 'echo')).toHaveLength(6);
      expect(names.filter((n) => n === 'echo2')).toHaveLength(2);
    } finally {
      r.apply(config);
    }
  });

  it('sends a PROXY protocol header to servers when its servers transport says so', async () => {
    r.apply({
      ...config,
      tcp: {
        ...config.tcp,
        routers: { plain: { ...config.tcp!.routers!.plain!, service: 'withProxy' } },
        services: {
          ...config.tcp!.services,
          withProxy: {
            loadBalancer: {
              servers: [{ address: `127.0.0.1:${proxied.port}` }],
              serversTransport: 'pp',
            },
          },
        },
        serversTransports: { pp: { proxyProtocol: { version: 1 } } },
      },
    });
    try {
      await talk(tcpPort, 'data');
      expect(proxied.firstBytes.at(-1)).toMatch(
        new RegExp(`^PROXY TCP4 127\\.0\\.0\\.1 127\\.0\\.0\\.1 \\d+ ${tcpPort}\\r\\n`),
      );
    } finally {
      r.apply(config);
    }
  });

  it('closes the client connection when no server can be reached', async () => {
    const closed = await freePort();
    r.apply({
      ...config,
      tcp: {
        ...config.tcp,
        services: {
          ...config.tcp!.services,
          echo: { loadBalancer: { servers: [{ address: `127.0.0.1:${closed}` }] } },
        },
      },
    });
    try {
      expect(await talk(tcpPort, 'ping')).toBe('');
    } finally {
      r.apply(config);
    }
  });

  it('takes the client address from a trusted PROXY header: ClientIP rules and the PROXY header sent on see it', async () => {
    const ppPort = await freePort();
    const pp = await startRouter(
      {
        tcp: {
          routers: {
            known: {
              rule: 'ClientIP(`203.0.113.0/24`)',
              service: 'withProxy',
              entryPoints: ['pp'],
              priority: 10,
            },
            others: { rule: 'HostSNI(`*`)', service: 'echo', entryPoints: ['pp'] },
          },
          services: {
            echo: { loadBalancer: { servers: [{ address: `127.0.0.1:${echo.port}` }] } },
            withProxy: {
              loadBalancer: {
                servers: [{ address: `127.0.0.1:${proxied.port}` }],
                serversTransport: 'v1',
              },
            },
          },
          serversTransports: { v1: { proxyProtocol: { version: 1 } } },
        },
      },
      {
        flags: [
          `--entryPoints.pp.address=127.0.0.1:${ppPort}`,
          '--entryPoints.pp.proxyProtocol.trustedIPs=127.0.0.1',
        ],
      },
    );
    try {
      const got = await talk(ppPort, `PROXY TCP4 203.0.113.10 127.0.0.1 51000 ${ppPort}\r\nhello`);
      // the echo shows what the server read: Portico's PROXY header, then the client's bytes
      expect(got).toMatch(
        /^proxied:PROXY TCP4 203\.0\.113\.10 [^\r]*\r\n(proxied:)?helloproxied:bye$/,
      );
      expect(proxied.firstBytes.at(-1)).toMatch(
        new RegExp(`^PROXY TCP4 203\\.0\\.113\\.10 127\\.0\\.0\\.1 51000 ${ppPort}\\r\\n`),
      );
      // without a header the real address (127.0.0.1) decides
      expect(await talk(ppPort, 'plain')).toBe('echo:plainecho:bye');
    } finally {
      await pp.close();
    }
  });
});
