/*
 * Cleartext HTTP/2 from clients (h2c with prior knowledge, RFC 9113 3.3) on a
 * plain entrypoint, as Traefik accepts it: gRPC without TLS. The request is
 * routed like any other (Host from :authority), its body streamed to the
 * upstream, and an h2c upstream (`h2c://`) gets HTTP/2 all the way; HTTP/1.1
 * clients of the same entrypoint are unaffected.
 */
import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../helpers/http.js';
import { startRouter, type TestRouter } from '../helpers/portico.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

function h2cRequest(
  port: number,
  headers: http2.OutgoingHttpHeaders,
  body?: string,
): Promise<{ status: number; body: string; headers: http2.IncomingHttpHeaders }> {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  return new Promise((resolve, reject) => {
    client.on('error', reject);
    const req = client.request(headers);
    let status = 0;
    let got = '';
    let h: http2.IncomingHttpHeaders = {};
    req.on('response', (rh) => {
      h = rh;
      status = Number(rh[':status']);
    });
    req.on('data', (c: Buffer) => (got += c.toString()));
    req.on('end', () => {
      client.close();
      resolve({ status, body: got, headers: h });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('h2c (prior knowledge) on a plain entrypoint', () => {
  let up: Upstream;
  let grpc: http2.Http2Server;
  let grpcPort: number;
  let r: TestRouter;

  beforeAll(async () => {
    up = await startUpstream('h1-upstream');
    // an h2c upstream standing in for a gRPC server: echoes the body and the protocol it got
    grpc = http2.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.setHeader('content-type', 'application/grpc');
        res.end(`${req.httpVersion} ${req.method} ${req.url} ${body}`);
      });
    });
    await new Promise<void>((res) => grpc.listen(0, '127.0.0.1', res));
    grpcPort = (grpc.address() as AddressInfo).port;
    r = await startRouter({
      http: {
        routers: {
          plain: { rule: 'Host(`app.test`)', service: 'h1' },
          grpc: { rule: 'Host(`grpc.test`)', service: 'grpc' },
        },
        services: {
          h1: { loadBalancer: { servers: [{ url: up.url }] } },
          grpc: { loadBalancer: { servers: [{ url: `h2c://127.0.0.1:${grpcPort}` }] } },
        },
      },
    });
  });

  afterAll(async () => {
    await r?.close();
    await up?.close();
    await new Promise<void>((res) => grpc.close(() => res()));
  });

  it('routes an h2c request by :authority to an HTTP/1.1 upstream', async () => {
    const reply = await h2cRequest(r.port, { ':path': '/x', ':authority': 'app.test' });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ name: 'h1-upstream', url: '/x' });
  });

  it('carries a gRPC-style POST over h2c end to end to an h2c upstream', async () => {
    const reply = await h2cRequest(
      r.port,
      {
        ':method': 'POST',
        ':path': '/pkg.Service/Method',
        ':authority': 'grpc.test',
        'content-type': 'application/grpc',
        te: 'trailers',
      },
      'payload',
    );
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/grpc');
    expect(reply.body).toBe('2.0 POST /pkg.Service/Method payload');
  });

  it('keeps HTTP/1.1 clients of the entrypoint working', async () => {
    const reply = await request(`${r.url}/`, { headers: { host: 'app.test' } });
    expect(reply.status).toBe(200);
  });

  it('an unknown host over h2c is a 404, and a broken preface only ends that connection', async () => {
    expect((await h2cRequest(r.port, { ':path': '/', ':authority': 'nope.test' })).status).toBe(
      404,
    );
    const net = await import('node:net');
    const s = net.connect(r.port, '127.0.0.1');
    s.on('error', () => undefined);
    s.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff\xff\xff garbage frame');
    await new Promise((res) => setTimeout(res, 200));
    s.destroy();
    expect((await request(`${r.url}/`, { headers: { host: 'app.test' } })).status).toBe(200);
  });

  const curl = (args: string[]): Promise<string> =>
    new Promise<string>((resolve, reject) =>
      execFile('curl', ['-sS', '-i', '--http2', ...args], { timeout: 10_000 }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );

  it('upgrades an HTTP/1.1 request with Upgrade: h2c (curl --http2) and answers it as HTTP/2 stream 1', async () => {
    const out = await curl(['-H', 'Host: app.test', `http://127.0.0.1:${r.port}/upgraded?q=1`]);
    expect(out).toMatch(/^HTTP\/1\.1 101 Switching Protocols/);
    expect(out).toMatch(/\r\nHTTP\/2 200 ?\r\n/);
    const body = JSON.parse(out.slice(out.lastIndexOf('\r\n\r\n') + 4));
    expect(body).toMatchObject({ name: 'h1-upstream', url: '/upgraded?q=1' });
  });

  it('carries the body of an upgraded request into stream 1', async () => {
    const out = await curl([
      '-H',
      'Host: grpc.test',
      '--data-binary',
      'hello-body',
      `http://127.0.0.1:${r.port}/echo`,
    ]);
    expect(out).toMatch(/\r\nHTTP\/2 200 ?\r\n/);
    expect(out.slice(out.lastIndexOf('\r\n\r\n') + 4)).toBe('2.0 POST /echo hello-body');
  });

  it('a client that answers the 101 with anything but the preface loses only its connection', async () => {
    const net = await import('node:net');
    const got = await new Promise<string>((resolve) => {
      const s = net.connect(r.port, '127.0.0.1');
      let out = '';
      s.on('error', () => resolve(out));
      s.on('close', () => resolve(out));
      s.on('data', (d: Buffer) => {
        out += d.toString('latin1');
        if (out.includes('\r\n\r\n')) s.write('GET / HTTP/1.1\r\nHost: app.test\r\n\r\n');
      });
      s.write(
        'GET / HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade, HTTP2-Settings\r\n' +
          'Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n',
      );
    });
    expect(got).toMatch(/^HTTP\/1\.1 101/);
    expect(got).not.toContain('200 OK');
    expect((await request(`${r.url}/`, { headers: { host: 'app.test' } })).status).toBe(200);
  });

  it('serves an Upgrade: h2c request it does not take (a 100 KB body) as HTTP/1.1, body intact', async () => {
    const body = 'b'.repeat(100_000);
    const out = await curl([
      '-H',
      'Host: app.test',
      '--data-binary',
      body,
      `http://127.0.0.1:${r.port}/big`,
    ]);
    expect(out).toMatch(/^HTTP\/1\.1 200/m);
    expect(out).not.toContain('101 Switching');
    const reply = JSON.parse(out.slice(out.lastIndexOf('\r\n\r\n') + 4));
    expect(reply).toMatchObject({ name: 'h1-upstream', url: '/big', method: 'POST' });
    expect(reply.body).toBe(body);
  });
});
