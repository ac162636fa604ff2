/*
 * TLS entrypoints: certificates from the dynamic configuration chosen by SNI
 * (exact > wildcard > default), TLS 1.2 minimum, HTTPS routers, and the
 * HTTP → HTTPS redirection of an entrypoint. Real TLS handshakes on 127.0.0.1.
 */
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import selfsigned from 'selfsigned';
import { WebSocket, WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startRouter, type TestRouter } from '../helpers/portico.js';

async function certFor(names: string[]): Promise<{ cert: string; key: string }> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: names[0]! }], {
    keyType: 'ec',
    extensions: [
      { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface TlsReply {
  status: number;
  body: string;
  peerSubjectCN: string;
  peerSan: string;
}

function httpsGet(
  port: number,
  servername: string | undefined,
  host: string,
  p = '/',
): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: p,
        headers: { host },
        ...(servername ? { servername } : {}),
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => {
        let body = '';
        const cert = (res.socket as tls.TLSSocket).getPeerCertificate();
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            peerSubjectCN: String(cert.subject.CN ?? ''),
            peerSan: cert.subjectaltname ?? '',
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

let up: Upstream;
let r: TestRouter;
let securePort: number;
let dir: string;
let config: DynamicConfig;

beforeAll(async () => {
  up = await startUpstream('secure-upstream');
  dir = mkdtempSync(path.join(os.tmpdir(), 'portico-tls-'));
  const exact = await certFor(['secure.test']);
  const wild = await certFor(['*.wild.test']);
  writeFileSync(path.join(dir, 'secure.crt'), exact.cert);
  writeFileSync(path.join(dir, 'secure.key'), exact.key);
  writeFileSync(path.join(dir, 'wild.crt'), wild.cert);
  writeFileSync(path.join(dir, 'wild.key'), wild.key);
  securePort = await freePort();
  config = {
    http: {
      routers: {
        secure: {
          rule: 'Host(`secure.test`) || HostRegexp(`wild\\.test$`)',
          service: 's',
          entryPoints: ['websecure'],
          tls: {},
        },
        plain: { rule: 'Host(`plain.test`)', service: 's', entryPoints: ['web'] },
        misplaced: { rule: 'Host(`misplaced.test`)', service: 's', entryPoints: ['web'], tls: {} },
      },
      services: { s: { loadBalancer: { servers: [{ url: up.url }] } } },
    },
    tls: {
      certificates: [
        { certFile: path.join(dir, 'secure.crt'), keyFile: path.join(dir, 'secure.key') },
        // inline PEM works too
        { certFile: wild.cert, keyFile: wild.key },
        { certFile: path.join(dir, 'missing.crt'), keyFile: path.join(dir, 'missing.key') },
      ],
    },
  };
  r = await startRouter(config, {
    flags: [
      `--entryPoints.websecure.address=127.0.0.1:${securePort}`,
      '--entryPoints.websecure.http.tls',
      '--entryPoints.web.http.redirections.entryPoint.to=websecure',
      '--entryPoints.web.http.redirections.entryPoint.priority=1',
    ],
  });
});

afterAll(async () => {
  await r?.close();
  await up?.close();
});

describe('TLS entrypoint', () => {
  it('serves an HTTPS router with the certificate matching the SNI name', async () => {
    const reply = await httpsGet(securePort, 'secure.test', 'secure.test', '/hello?x=1');
    expect(reply.status).toBe(200);
    expect(reply.peerSan).toContain('DNS:secure.test');
    const seen = up.seen.at(-1)!;
    expect(seen.url).toBe('/hello?x=1');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers['x-forwarded-port']).toBe('443');
  });

  it.each([
    ['a.wild.test', 'DNS:*.wild.test'],
    ['unknown.test', 'DNS:portico.default.invalid'],
  ])('picks the certificate for SNI %s (exact > wildcard > default)', async (sni, san) => {
    const reply = await httpsGet(securePort, sni, sni);
    expect(reply.peerSan).toContain(san);
  });

  it('presents the default certificate to a client that sends no SNI', async () => {
    const san = await new Promise<string>((resolve, reject) => {
      // an IP address as host: node sends no server name
      const s = tls.connect(
        { host: '127.0.0.1', port: securePort, rejectUnauthorized: false },
        () => {
          resolve(s.getPeerCertificate().subjectaltname ?? '');
          s.destroy();
        },
      );
      s.on('error', reject);
    });
    expect(san).toContain('DNS:portico.default.invalid');
  });

  it('refuses TLS 1.1', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const s = tls.connect({
        host: '127.0.0.1',
        port: securePort,
        servername: 'secure.test',
        maxVersion: 'TLSv1.1',
        minVersion: 'TLSv1',
        rejectUnauthorized: false,
      });
      s.on('secureConnect', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', () => resolve('refused'));
    });
    expect(outcome).toBe('refused');
  });

  it('reports a certificate that cannot be loaded, and serves the others', () => {
    const err = r.router.holder.current.errors.find((e) => e.kind === 'tls');
    expect(err?.message).toMatch(/cannot load certificate: .*ENOENT/);
    expect(r.router.holder.current.certificates!.certificates.map((c) => c.names[0])).toEqual([
      'secure.test',
      '*.wild.test',
    ]);
  });

  it('serves a TLS router on an entrypoint without http.tls over TLS, as Traefik does (per-router tls)', async () => {
    const info = r.router.holder.current.routers.get('misplaced@file')!;
    expect(info).toMatchObject({ status: 'enabled', errors: [] });
    const reply = await httpsGet(r.port, 'misplaced.test', 'misplaced.test');
    expect(reply.status).toBe(200);
    expect(reply.body).toContain('secure-upstream');
    // the plain routers of that entrypoint (here its redirection) are not served over TLS
    const other = await httpsGet(r.port, 'plain.test', 'plain.test');
    expect(other.status).toBe(404);
  });

  it('redirects the web entrypoint to https on the websecure port', async () => {
    const reply = await new Promise<{ status: number; location: string | undefined }>(
      (resolve, reject) => {
        http
          .get(
            {
              host: '127.0.0.1',
              port: r.port,
              path: '/a/b?c=d',
              headers: { host: 'secure.test' },
              agent: false,
            },
            (res) => {
              res.resume();
              resolve({ status: res.statusCode ?? 0, location: res.headers.location });
            },
          )
          .on('error', reject);
      },
    );
    expect(reply).toEqual({ status: 301, location: `https://secure.test:${securePort}/a/b?c=d` });
  });

  it('swaps certificates with the routing table', async () => {
    const renewed = await certFor(['secure.test', 'renewed.secure.test']);
    const next: DynamicConfig = {
      ...config,
      tls: { certificates: [{ certFile: renewed.cert, keyFile: renewed.key }] },
    };
    r.apply(next);
    const reply = await httpsGet(securePort, 'secure.test', 'secure.test');
    expect(reply.peerSan).toContain('DNS:renewed.secure.test');
  });
});

describe('HTTP/2 on the TLS entrypoint', () => {
  function h2request(
    headers: http2.OutgoingHttpHeaders,
    body?: string,
  ): Promise<{
    status: number;
    headers: http2.IncomingHttpHeaders;
    body: string;
    alpn: string | false;
  }> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(`https://127.0.0.1:${securePort}`, {
        servername: 'secure.test',
        rejectUnauthorized: false,
      });
      session.on('error', reject);
      const req = session.request(headers);
      let data = '';
      let head: http2.IncomingHttpHeaders = {};
      req.on('response', (h) => (head = h));
      req.on('data', (c: Buffer) => (data += c.toString()));
      req.on('end', () => {
        const alpn = (session.socket as tls.TLSSocket).alpnProtocol ?? false;
        session.close();
        resolve({ status: Number(head[':status']), headers: head, body: data, alpn });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  it('negotiates h2 and routes by :authority, forwarding plain headers upstream', async () => {
    const reply = await h2request({
      ':path': '/over-h2?x=1',
      ':authority': 'secure.test',
      'x-client': 'h2',
    });
    expect(reply.alpn).toBe('h2');
    expect(reply.status).toBe(200);
    const seen = up.seen.at(-1)!;
    expect(seen.url).toBe('/over-h2?x=1');
    expect(seen.headers.host).toBe('secure.test');
    expect(seen.headers['x-client']).toBe('h2');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(Object.keys(seen.headers).filter((k) => k.startsWith(':'))).toEqual([]);
  });

  it('streams a request body over h2', async () => {
    const reply = await h2request(
      { ':method': 'POST', ':path': '/upload', ':authority': 'secure.test' },
      'h2 payload',
    );
    expect(reply.status).toBe(200);
    expect(up.seen.at(-1)).toMatchObject({ method: 'POST', body: 'h2 payload' });
  });

  it('answers 404 over h2 for an unknown host', async () => {
    const reply = await h2request({ ':path': '/', ':authority': 'nobody.test' });
    expect(reply.status).toBe(404);
  });
});

describe('WebSocket over TLS', () => {
  it('upgrades wss connections (HTTP/1.1) on the TLS entrypoint', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (socket, req) => {
      socket.send(`proto=${String(req.headers['x-forwarded-proto'])}`);
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const wsPort = (server.address() as net.AddressInfo).port;
    try {
      r.apply({
        ...config,
        http: {
          ...config.http,
          routers: {
            ...config.http!.routers,
            ws: {
              priority: 1000,
              rule: 'Host(`secure.test`) && Path(`/ws`)',
              service: 'ws',
              entryPoints: ['websecure'],
              tls: {},
            },
          },
          services: {
            ...config.http!.services,
            ws: { loadBalancer: { servers: [{ url: `http://127.0.0.1:${wsPort}` }] } },
          },
        },
      });
      const ws = new WebSocket(`wss://127.0.0.1:${securePort}/ws`, {
        servername: 'secure.test',
        headers: { host: 'secure.test' },
        rejectUnauthorized: false,
      } as unknown as ConstructorParameters<typeof WebSocket>[1]);
      const first = await new Promise<string>((resolve, reject) => {
        ws.on('message', (m) => resolve(m.toString()));
        ws.on('error', reject);
      });
      ws.close();
      expect(first).toBe('proto=wss');
    } finally {
      wss.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
