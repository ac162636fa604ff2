/*
 * gRPC-Web end to end: an HTTP/1.1 client speaks gRPC-Web (binary and text)
 * to a router with the grpcWeb middleware and an h2c service; behind it a
 * minimal gRPC server on node:http2 answers unary calls with length-prefixed
 * messages and grpc-status trailers.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { decodeFrames, encodeFrame } from '../../middlewares/grpc-web.js';
import { startRouter, type TestRouter } from '../helpers/portico.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

interface GrpcServer {
  url: string;
  /** request heads received */
  seen: http2.IncomingHttpHeaders[];
  /** request messages received (payloads of the length-prefixed frames) */
  messages: string[];
  close(): Promise<void>;
}

/**
 * A unary gRPC server: /demo.Greeter/SayHello answers `hello <name>`,
 * /demo.Greeter/Missing answers NOT_FOUND in trailers after the head,
 * /demo.Greeter/TrailersOnly answers NOT_FOUND in a trailers-only response.
 */
async function grpcServer(): Promise<GrpcServer> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  const state: GrpcServer = { url: '', seen: [], messages: [], close: () => Promise.resolve() };
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    state.seen.push(headers);
    stream.on('error', () => undefined);
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const data = Buffer.concat(chunks);
      // one length-prefixed message: flag (0 = uncompressed), 4-byte length, payload
      const len = data.length >= 5 ? data.readUInt32BE(1) : -1;
      if (data.length < 5 || data[0] !== 0 || data.length !== 5 + len) {
        stream.respond({
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': '13',
          'grpc-message': 'bad framing',
        });
        stream.end();
        return;
      }
      const name = data.subarray(5).toString();
      state.messages.push(name);
      const path = headers[':path'];
      if (path === '/demo.Greeter/TrailersOnly') {
        stream.respond(
          {
            ':status': 200,
            'content-type': 'application/grpc+proto',
            'grpc-status': '5',
            'grpc-message': 'nobody',
          },
          { endStream: true },
        );
        return;
      }
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc+proto', 'x-server': 'greeter' },
        { waitForTrailers: true },
      );
      if (path === '/demo.Greeter/Missing') {
        stream.on('wantTrailers', () =>
          stream.sendTrailers({ 'grpc-status': '5', 'grpc-message': `no user ${name}` }),
        );
        stream.end();
        return;
      }
      stream.on('wantTrailers', () =>
        stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'OK' }),
      );
      const reply = Buffer.from(`hello ${name}`);
      const head = Buffer.alloc(5);
      head.writeUInt32BE(reply.length, 1);
      stream.end(Buffer.concat([head, reply]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `h2c://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let closed: Promise<void> | undefined;
  state.close = () =>
    (closed ??= new Promise<void>((resolve) => {
      for (const s of sessions) s.destroy();
      server.close(() => resolve());
    }));
  cleanups.push(() => state.close());
  return state;
}

async function router(config: DynamicConfig): Promise<TestRouter> {
  const r = await startRouter(config);
  cleanups.push(() => r.close());
  return r;
}

function grpcWebRoute(url: string): DynamicConfig {
  return {
    http: {
      routers: { r: { rule: 'PathPrefix(`/demo.Greeter/`)', service: 'g', middlewares: ['gw'] } },
      middlewares: { gw: { grpcWeb: { allowOrigins: ['https://app.example'] } } } as never,
      services: { g: { loadBalancer: { servers: [{ url }] } } },
    },
  };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function post(url: string, headers: Record<string, string>, body: Buffer | string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** the trailer frame's header block as a map */
function trailerMap(payload: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of payload.toString().split('\r\n')) {
    if (line === '') continue;
    const at = line.indexOf(':');
    out[line.slice(0, at)] = line.slice(at + 1).trim();
  }
  return out;
}

describe('gRPC-Web to a gRPC server over h2c', () => {
  it('carries a binary gRPC-Web unary call and its grpc-status trailers', async () => {
    const g = await grpcServer();
    const r = await router(grpcWebRoute(g.url));
    const reply = await post(
      r.url + '/demo.Greeter/SayHello',
      {
        'content-type': 'application/grpc-web+proto',
        'x-grpc-web': '1',
        origin: 'https://app.example',
      },
      encodeFrame(0, Buffer.from('world')),
    );
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/grpc-web+proto');
    expect(reply.headers['x-server']).toBe('greeter');
    expect(reply.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(reply.headers['access-control-expose-headers']).toContain('grpc-status, grpc-message');

    // the server got real gRPC
    expect(g.seen[0]![':method']).toBe('POST');
    expect(g.seen[0]![':path']).toBe('/demo.Greeter/SayHello');
    expect(g.seen[0]!['content-type']).toBe('application/grpc+proto');
    expect(g.seen[0]!.te).toBe('trailers');
    expect(g.messages).toEqual(['world']);

    const { frames, rest } = decodeFrames(reply.body);
    expect(rest.length).toBe(0);
    expect(frames).toHaveLength(2);
    expect(frames[0]!.flag).toBe(0);
    expect(frames[0]!.payload.toString()).toBe('hello world');
    expect(frames[1]!.flag).toBe(0x80);
    expect(frames[1]!.payload.toString()).toBe('grpc-message: OK\r\ngrpc-status: 0\r\n');
  });

  it('carries a grpc-web-text (base64) call and answers in base64', async () => {
    const g = await grpcServer();
    const r = await router(grpcWebRoute(g.url));
    const reply = await post(
      r.url + '/demo.Greeter/SayHello',
      { 'content-type': 'application/grpc-web-text', accept: 'application/grpc-web-text' },
      encodeFrame(0, Buffer.from('text client')).toString('base64'),
    );
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/grpc-web-text+proto');
    expect(g.seen[0]!['content-type']).toBe('application/grpc');
    expect(g.messages).toEqual(['text client']);
    const body = reply.body.toString();
    expect(body).toMatch(/^[A-Za-z0-9+/=]+$/);
    const { frames, rest } = decodeFrames(Buffer.from(body, 'base64'));
    expect(rest.length).toBe(0);
    expect(frames[0]!.payload.toString()).toBe('hello text client');
    expect(frames[1]!.flag).toBe(0x80);
    expect(trailerMap(frames[1]!.payload)).toEqual({ 'grpc-status': '0', 'grpc-message': 'OK' });
  });

  it('delivers a gRPC error status (NOT_FOUND) in the trailer frame', async () => {
    const g = await grpcServer();
    const r = await router(grpcWebRoute(g.url));
    for (const text of [false, true]) {
      const message = encodeFrame(0, Buffer.from('ghost'));
      const reply = await post(
        r.url + '/demo.Greeter/Missing',
        { 'content-type': text ? 'application/grpc-web-text' : 'application/grpc-web' },
        text ? message.toString('base64') : message,
      );
      expect(reply.status).toBe(200);
      const raw = text ? Buffer.from(reply.body.toString(), 'base64') : reply.body;
      const { frames, rest } = decodeFrames(raw);
      expect(rest.length).toBe(0);
      // no message, only the trailer frame
      expect(frames).toHaveLength(1);
      expect(frames[0]!.flag).toBe(0x80);
      expect(trailerMap(frames[0]!.payload)).toEqual({
        'grpc-status': '5',
        'grpc-message': 'no user ghost',
      });
    }
  });

  it('passes a trailers-only error response on in the response headers', async () => {
    const g = await grpcServer();
    const r = await router(grpcWebRoute(g.url));
    const reply = await post(
      r.url + '/demo.Greeter/TrailersOnly',
      { 'content-type': 'application/grpc-web+proto' },
      encodeFrame(0, Buffer.from('x')),
    );
    expect(reply.status).toBe(200);
    // gRPC-Web clients read the status from the headers when the response is trailers-only
    expect(reply.headers['grpc-status']).toBe('5');
    expect(reply.headers['grpc-message']).toBe('nobody');
    const { frames } = decodeFrames(reply.body);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.flag).toBe(0x80);
  });

  it('answers 502 (not a gRPC-Web frame) when the gRPC server is down', async () => {
    const g = await grpcServer();
    const r = await router(grpcWebRoute(g.url));
    await g.close();
    const reply = await post(
      r.url + '/demo.Greeter/SayHello',
      { 'content-type': 'application/grpc-web+proto' },
      encodeFrame(0, Buffer.from('x')),
    );
    expect(reply.status).toBe(502);
    expect(reply.headers['content-type']).toBe('text/plain; charset=utf-8');
  });
});
