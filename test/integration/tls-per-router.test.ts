/*
 * Per-router TLS (issue 13 item 1), as Traefik does it: an entrypoint without
 * `http.tls` terminates TLS for its routers with `tls`, and serves its other
 * routers over plain HTTP on the same port. Each kind of router is reached
 * only over its own kind of connection. The connection layer that tells them
 * apart (src/server/connection.ts) peeks at the first bytes: hostile first
 * bytes, truncated hellos and silent clients must cost nothing but their own
 * connection. Real TLS and HTTP clients on 127.0.0.1.
 */
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { request } from '../helpers/http.js';
import { startRouter, type TestRouter } from '../helpers/portico.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

async function certFor(names: string[]): Promise<{ cert: string; key: string }> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: names[0]! }], {
    keyType: 'ec',
    extensions: [
      { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

function httpsGet(
  port: number,
  host: string,
): Promise<{ status: number; body: string; san: string; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        servername: host,
        headers: { host },
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => {
        const socket = res.socket as tls.TLSSocket;
        const san = socket.getPeerCertificate().subjectaltname ?? '';
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body, san, alpn: socket.alpnProtocol }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Sends raw bytes, then reports what came back before the server closed (or the deadline). */
function raw(port: number, bytes: Buffer, endAfter = true, waitMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, waitMs);
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('close', done);
    s.on('error', done);
    s.write(bytes);
    if (endAfter) s.end();
  });
}

describe('per-router TLS on an entrypoint without http.tls', () => {
  let tlsUp: Upstream;
  let plainUp: Upstream;
  let r: TestRouter;
  let base: DynamicConfig;

  beforeAll(async () => {
    tlsUp = await startUpstream('tls-side');
    plainUp = await startUpstream('plain-side');
    const cert = await certFor(['secure.test']);
    base = {
      http: {
        routers: {
          secure: { rule: 'Host(`secure.test`)', service: 'tlsSide', tls: {} },
          open: { rule: 'Host(`open.test`)', service: 'plainSide' },
          // the same host for both kinds: the connection decides which one serves
          bothTls: { rule: 'Host(`both.test`)', service: 'tlsSide', tls: {} },
          bothPlain: { rule: 'Host(`both.test`)', service: 'plainSide' },
        },
        services: {
          tlsSide: { loadBalancer: { servers: [{ url: tlsUp.url }] } },
          plainSide: { loadBalancer: { servers: [{ url: plainUp.url }] } },
        },
      },
      tls: { certificates: [{ certFile: cert.cert, keyFile: cert.key }] },
    };
    r = await startRouter(base);
  });

  afterAll(async () => {
    await r?.close();
    await tlsUp?.close();
    await plainUp?.close();
  });

  it('serves the TLS router over TLS with its certificate, and the plain router over HTTP', async () => {
    const secure = await httpsGet(r.port, 'secure.test');
    expect(secure.status).toBe(200);
    expect(JSON.parse(secure.body).name).toBe('tls-side');
    expect(secure.san).toBe('DNS:secure.test');
    const open = await request(`${r.url}/`, { headers: { host: 'open.test' } });
    expect(open.status).toBe(200);
    expect(JSON.parse(open.body).name).toBe('plain-side');
  });

  it('keeps the two kinds apart: a TLS router is not reached over HTTP, nor a plain one over TLS', async () => {
    expect((await request(`${r.url}/`, { headers: { host: 'secure.test' } })).status).toBe(404);
    const overTls = await httpsGet(r.port, 'open.test');
    expect(overTls.status).toBe(404);
    // no certificate for open.test: the default one is presented
    expect(overTls.san).toContain('portico.default.invalid');
    const bothTls = await httpsGet(r.port, 'both.test');
    const bothPlain = await request(`${r.url}/`, { headers: { host: 'both.test' } });
    expect(JSON.parse(bothTls.body).name).toBe('tls-side');
    expect(JSON.parse(bothPlain.body).name).toBe('plain-side');
  });

  it('offers HTTP/2 by ALPN to the TLS routers', async () => {
    const client = http2.connect(`https://127.0.0.1:${r.port}`, {
      servername: 'secure.test',
      rejectUnauthorized: false,
    });
    try {
      const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = client.request({ ':path': '/', ':authority': 'secure.test' });
        let status = 0;
        let body = '';
        req.on('response', (h) => (status = Number(h[':status'])));
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => resolve({ status, body }));
        req.on('error', reject);
        req.end();
      });
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body).name).toBe('tls-side');
    } finally {
      client.close();
    }
  });

  it('reads pipelined HTTP/1.1 requests with a body in full after the peek', async () => {
    const body = 'x'.repeat(200_000);
    const wire = Buffer.from(
      `POST / HTTP/1.1\r\nHost: open.test\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
        'GET / HTTP/1.1\r\nHost: open.test\r\nConnection: close\r\n\r\n',
    );
    const out = await raw(r.port, wire, false, 10_000);
    expect(out.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
  });

  it('starts terminating TLS on the entrypoint when a TLS router appears, and stops when it goes', async () => {
    const onlyPlain: DynamicConfig = {
      http: {
        routers: { open: base.http!.routers!.open! },
        services: base.http!.services!,
      },
      tls: base.tls!,
    };
    r.apply(onlyPlain);
    try {
      expect((await request(`${r.url}/`, { headers: { host: 'open.test' } })).status).toBe(200);
      r.apply(base);
      expect((await httpsGet(r.port, 'secure.test')).status).toBe(200);
    } finally {
      r.apply(base);
    }
  });

  it('survives hostile first bytes: garbage records, truncated hellos, silence; others keep being served', async () => {
    // a handshake record header announcing more than arrives, then the end
    await raw(r.port, Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01]));
    // a record type byte and then nonsense
    await raw(r.port, Buffer.concat([Buffer.from([0x16]), Buffer.alloc(600, 0xff)]));
    // SSLv2-style hello: refused by the TLS server
    await raw(r.port, Buffer.from([0x80, 0x2e, 0x01, 0x00, 0x02]));
    // a client that connects and says nothing, closed while the others go on
    const silent = net.connect(r.port, '127.0.0.1');
    silent.on('error', () => undefined);
    // not HTTP and not TLS: the HTTP server answers 400
    expect(await raw(r.port, Buffer.from('\x00\x01\x02 hello\r\n\r\n'))).toMatch(/^HTTP\/1\.1 400/);
    expect((await httpsGet(r.port, 'secure.test')).status).toBe(200);
    expect((await request(`${r.url}/`, { headers: { host: 'open.test' } })).status).toBe(200);
    silent.destroy();
  });
});
