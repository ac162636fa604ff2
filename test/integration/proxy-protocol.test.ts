/*
 * PROXY protocol on an entrypoint, end to end (issue 13 item 6): a load
 * balancer in entryPoints.web.proxyProtocol.trustedIPs sends a v1 or v2
 * header, then HTTP. The upstream's X-Forwarded-For, an ipAllowList and the
 * access log all see the header's source, as with Traefik; an untrusted
 * sender's header is dropped and its own address is used.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import selfsigned from 'selfsigned';
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { encodeProxyHeader } from '../../src/kernel/proxy-protocol.js';
import { eventually } from '../helpers/eventually.js';
import { createAccessLog, simpleRoute } from '../helpers/portico.js';
import { useCleanups } from '../helpers/scope.js';

const { upstream, router } = useCleanups();

/** one raw connection: `prefix` (the PROXY header), then an HTTP/1.1 request; the status and body */
async function rawRequest(
  port: number,
  prefix: Buffer,
  target = '/',
): Promise<{ status: number; body: string }> {
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(
    Buffer.concat([
      prefix,
      Buffer.from(`GET ${target} HTTP/1.1\r\nHost: pp.test\r\nConnection: close\r\n\r\n`),
    ]),
  );
  await new Promise((resolve) => socket.once('close', resolve));
  const text = Buffer.concat(chunks).toString('latin1');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  return { status, body: text.slice(text.indexOf('\r\n\r\n') + 4) };
}

const v1 = (address: string, port: number) =>
  Buffer.from(`PROXY TCP4 ${address} 127.0.0.1 ${port} 80\r\n`);
const v2 = (address: string, port: number) =>
  encodeProxyHeader(
    2,
    { address, port },
    { address: address.includes(':') ? '::1' : '127.0.0.1', port: 80 },
  );

/** the PROXY header, then TLS (SNI pp.test) and one HTTP/1.1 request over it; the status */
async function tlsRequest(port: number, prefix: Buffer): Promise<number> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(prefix);
  const t = tls.connect({ socket, servername: 'pp.test', rejectUnauthorized: false });
  let text = '';
  t.on('data', (d: Buffer) => (text += d.toString('latin1')));
  t.on('error', () => undefined);
  await new Promise((resolve) => t.once('secureConnect', resolve));
  t.write('GET / HTTP/1.1\r\nHost: pp.test\r\nConnection: close\r\n\r\n');
  await new Promise((resolve) => t.once('close', resolve));
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
}

async function tlsConfig(url: string): Promise<DynamicConfig> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'pp.test' }], {
    keyType: 'ec',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'pp.test' }] }],
  });
  return {
    http: {
      routers: { r: { rule: 'Host(`pp.test`)', service: 's', tls: {} } },
      services: { s: { loadBalancer: { servers: [{ url }] } } },
    },
    tls: { certificates: [{ certFile: pems.cert, keyFile: pems.private }] },
  };
}

async function setup(
  trustedIPs: string,
  config?: (upstreamUrl: string) => DynamicConfig | Promise<DynamicConfig>,
  flags: string[] = [],
) {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'portico-pp-')), 'access.log');
  const accessLog = createAccessLog({ filePath: file, format: 'json', bufferingSize: 0 });
  const up = await upstream('pp');
  const r = await router(config ? await config(up.url) : simpleRoute([up.url]), {
    flags: [`--entryPoints.web.proxyProtocol.trustedIPs=${trustedIPs}`, ...flags],
    accessLog,
  });
  const log = (n: number) =>
    eventually(() => {
      accessLog.flush();
      const all = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
      if (all.length < n) throw new Error(`only ${all.length} lines`);
      return all.map((l) => JSON.parse(l) as Record<string, unknown>);
    });
  return { r, up, log };
}

describe('PROXY protocol on an entrypoint', () => {
  it.each([
    ['v1', v1('203.0.113.10', 51000), '203.0.113.10', 51000],
    ['v2', v2('203.0.113.11', 51001), '203.0.113.11', 51001],
    ['v2 over IPv6', v2('2001:db8::10', 51002), '2001:db8::10', 51002],
  ])(
    'a trusted %s header: X-Forwarded-For and the access log carry its source',
    async (_, header, ip, port) => {
      const { r, up, log } = await setup('127.0.0.1');
      const reply = await rawRequest(r.port, header);
      expect(reply.status).toBe(200);
      expect(up.seen).toHaveLength(1);
      expect(up.seen[0]!.headers['x-forwarded-for']).toBe(ip);
      expect(up.seen[0]!.headers['x-real-ip']).toBe(ip);
      const [line] = await log(1);
      const addr = ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
      // Go's RemoteAddr form: an IPv6 host in brackets
      expect(line).toMatchObject({ ClientHost: ip, ClientPort: String(port), ClientAddr: addr });
    },
  );

  it('a trusted sender without a header: served, its own address', async () => {
    const { r, up } = await setup('127.0.0.1');
    const reply = await rawRequest(r.port, Buffer.alloc(0));
    expect(reply.status).toBe(200);
    expect(up.seen[0]!.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('an untrusted sender: its header is read and dropped, its own address is used', async () => {
    const { r, up, log } = await setup('10.0.0.0/8');
    const reply = await rawRequest(r.port, v1('203.0.113.12', 51003));
    expect(reply.status).toBe(200);
    expect(up.seen[0]!.headers['x-forwarded-for']).toBe('127.0.0.1');
    const [line] = await log(1);
    expect(line!.ClientHost).toBe('127.0.0.1');
  });

  it('a broken header closes the connection without an HTTP answer', async () => {
    const { r, up } = await setup('127.0.0.1');
    const reply = await rawRequest(r.port, Buffer.from('PROXY TCP4 not-an-ip 127.0.0.1 1 80\r\n'));
    expect(reply.status).toBe(0);
    expect(up.seen).toHaveLength(0);
  });

  it('ipAllowList and ClientIP rules judge the header source', async () => {
    const { r } = await setup('127.0.0.1', (url) => ({
      http: {
        routers: {
          r: {
            rule: 'ClientIP(`203.0.113.0/24`) || ClientIP(`198.51.100.0/24`)',
            service: 's',
            middlewares: ['allow'],
          },
        },
        middlewares: { allow: { ipAllowList: { sourceRange: ['203.0.113.0/24'] } } },
        services: { s: { loadBalancer: { servers: [{ url }] } } },
      },
    }));
    // allowed by both
    expect((await rawRequest(r.port, v2('203.0.113.20', 1))).status).toBe(200);
    // the rule matches, the allow list refuses
    expect((await rawRequest(r.port, v2('198.51.100.20', 1))).status).toBe(403);
    // no header: 127.0.0.1 matches no router
    expect((await rawRequest(r.port, Buffer.alloc(0))).status).toBe(404);
  });
  it('a trusted header before TLS: the HTTPS router sees its source (HTTP/1.1 and HTTP/2)', async () => {
    const { r, up, log } = await setup('127.0.0.1', tlsConfig);
    expect(await tlsRequest(r.port, v1('203.0.113.30', 52000))).toBe(200);
    expect(up.seen[0]!.headers['x-forwarded-for']).toBe('203.0.113.30');
    const session = http2.connect(`https://127.0.0.1:${r.port}`, {
      createConnection: () => {
        const socket = net.connect(r.port, '127.0.0.1');
        socket.write(v2('2001:db8::30', 52001));
        return tls.connect({
          socket,
          servername: 'pp.test',
          ALPNProtocols: ['h2'],
          rejectUnauthorized: false,
        });
      },
    });
    session.on('error', () => undefined);
    try {
      const stream = session.request({ ':path': '/', ':authority': 'pp.test' });
      const status = await new Promise<number>((resolve) =>
        stream.once('response', (h) => resolve(Number(h[':status']))),
      );
      stream.resume();
      await new Promise((resolve) => stream.once('close', resolve));
      expect(status).toBe(200);
    } finally {
      session.destroy();
    }
    expect(up.seen[1]!.headers['x-forwarded-for']).toBe('2001:db8::30');
    const lines = await log(2);
    expect(lines.map((l) => l.ClientHost)).toEqual(['203.0.113.30', '2001:db8::30']);
  });

  it("a balancer's v2 LOCAL health check: served with the balancer's own address", async () => {
    const { r, up } = await setup('127.0.0.1');
    const local = encodeProxyHeader(2, { address: '', port: 0 }, { address: '', port: 0 });
    expect((await rawRequest(r.port, local)).status).toBe(200);
    expect(up.seen[0]!.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('a header that never ends is cut at readTimeout', async () => {
    const { r, up } = await setup('127.0.0.1', undefined, [
      '--entryPoints.web.transport.respondingTimeouts.readTimeout=500ms',
    ]);
    const socket = net.connect(r.port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('PROXY TCP4 203.0.113.40 127.0.0.1 ');
    const started = Date.now();
    await new Promise((resolve) => socket.once('close', resolve));
    // generous bound: the point is that the server closes it, not the exact time
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(up.seen).toHaveLength(0);
  });
});
