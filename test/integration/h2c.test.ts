/*
 * h2c upstreams (`h2c://host:port`): HTTP/1.1 clients in front, real
 * node:http2 cleartext servers behind. Request and response streaming,
 * trailers, error statuses, one session per origin kept across config swaps.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { startRouter, type TestRouter } from '../helpers/portico.js';
import { eventually } from '../helpers/eventually.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

type StreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;

interface H2Upstream {
  /** h2c://127.0.0.1:port */
  url: string;
  port: number;
  /** sessions (connections) accepted so far */
  sessions: number;
  /** sessions closed so far */
  closedSessions: number;
  /** request heads received, in order */
  seen: http2.IncomingHttpHeaders[];
}

async function h2Upstream(handler: StreamHandler): Promise<H2Upstream> {
  const server = http2.createServer();
  const open = new Set<http2.ServerHttp2Session>();
  const state: H2Upstream = { url: '', port: 0, sessions: 0, closedSessions: 0, seen: [] };
  server.on('session', (s) => {
    state.sessions++;
    open.add(s);
    s.on('close', () => {
      state.closedSessions++;
      open.delete(s);
    });
    s.on('error', () => undefined);
  });
  server.on('stream', (stream, headers) => {
    state.seen.push(headers);
    stream.on('error', () => undefined);
    handler(stream, headers);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.url = `h2c://127.0.0.1:${state.port}`;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  );
  return state;
}

async function router(config: DynamicConfig): Promise<TestRouter> {
  const r = await startRouter(config);
  cleanups.push(() => r.close());
  return r;
}

function route(
  url: string,
  lb: Record<string, unknown> = {},
  extra: Partial<NonNullable<DynamicConfig['http']>> = {},
): DynamicConfig {
  return {
    http: {
      routers: { r: { rule: 'PathPrefix(`/`)', service: 's' } },
      services: { s: { loadBalancer: { servers: [{ url }], ...lb } } },
      ...extra,
    } as DynamicConfig['http'],
  };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  trailers: NodeJS.Dict<string>;
  body: Buffer;
}

function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            trailers: res.trailers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** a port nothing listens on */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** answers with what it received: the request head as JSON */
const describeRequest: StreamHandler = (stream, headers) => {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    stream.respond({
      ':status': 201,
      'content-type': 'application/json',
      'x-upstream': 'h2',
      'set-cookie': ['a=1', 'b=2'],
    });
    stream.end(JSON.stringify({ headers, body }));
  });
};

describe('h2c upstreams', () => {
  it('forwards a request and relays status, headers, body and query', async () => {
    const u = await h2Upstream(describeRequest);
    const r = await router(route(u.url));
    const reply = await request(r.url + '/some/path?q=1&x=%20y', {
      headers: { 'x-client': 'c', connection: 'keep-alive, x-hop', 'x-hop': 'dropped' },
    });
    expect(reply.status).toBe(201);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.headers['x-upstream']).toBe('h2');
    expect(reply.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    const seen = JSON.parse(reply.body.toString()) as {
      headers: Record<string, string>;
      body: string;
    };
    expect(seen.headers[':method']).toBe('GET');
    expect(seen.headers[':scheme']).toBe('http');
    expect(seen.headers[':path']).toBe('/some/path?q=1&x=%20y');
    // passHostHeader (default true): the client's Host becomes :authority
    expect(seen.headers[':authority']).toBe(`127.0.0.1:${r.port}`);
    expect(seen.headers['x-client']).toBe('c');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-hop']).toBeUndefined();
    expect(seen.headers.connection).toBeUndefined();
    expect(seen.headers.host).toBeUndefined();
    expect(seen.body).toBe('');
  });

  it('sends the server host as :authority with passHostHeader false, and keeps te: trailers', async () => {
    const u = await h2Upstream(describeRequest);
    const r = await router(route(u.url + '/base', { passHostHeader: false }));
    const reply = await request(r.url + '/p', {
      headers: { host: 'front.example', te: 'trailers' },
    });
    const seen = JSON.parse(reply.body.toString()) as { headers: Record<string, string> };
    expect(seen.headers[':authority']).toBe(`127.0.0.1:${u.port}`);
    expect(seen.headers.te).toBe('trailers');
    expect(seen.headers['x-forwarded-host']).toBe('front.example');
    // without preservePath the server URL's path is ignored, as for http servers
    expect(seen.headers[':path']).toBe('/p');
  });

  it('applies preservePath', async () => {
    const u = await h2Upstream(describeRequest);
    const r = await router({
      http: {
        routers: { r: { rule: 'PathPrefix(`/`)', service: 's' } },
        services: {
          s: { loadBalancer: { servers: [{ url: u.url + '/base/', preservePath: true }] } },
        },
      },
    });
    const reply = await request(r.url + '/p?x=1');
    const seen = JSON.parse(reply.body.toString()) as { headers: Record<string, string> };
    expect(seen.headers[':path']).toBe('/base/p?x=1');
  });

  it('streams a request body both ways (chunks echoed before the request ends)', async () => {
    const u = await h2Upstream((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/octet-stream' });
      stream.pipe(stream);
    });
    const r = await router(route(u.url));
    const echoed = await new Promise<string[]>((resolve, reject) => {
      const req = http.request(r.url + '/echo', { method: 'POST', agent: false }, (res) => {
        const got: string[] = [];
        let n = 0;
        res.on('data', (c: Buffer) => {
          got.push(c.toString());
          // the next chunk goes only after this one came back: nothing is buffered on the way
          n++;
          if (n < 3) req.write(`chunk${n};`);
          else req.end();
        });
        res.on('end', () => resolve(got));
      });
      req.on('error', reject);
      req.flushHeaders();
      req.write('chunk0;');
    });
    expect(echoed.join('')).toBe('chunk0;chunk1;chunk2;');
    expect(echoed.length).toBeGreaterThanOrEqual(3);
  });

  it('forwards a fixed-length POST body and relays a large response with backpressure', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 'z');
    const u = await h2Upstream((stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const digest = createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
        stream.respond({ ':status': 200, 'x-request-sha': digest });
        stream.end(big);
      });
    });
    const r = await router(route(u.url));
    const body = Buffer.alloc(300_000, 'q');
    const reply = await request(r.url + '/up', { method: 'POST', body });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-request-sha']).toBe(createHash('sha256').update(body).digest('hex'));
    expect(reply.body.length).toBe(big.length);
    expect(reply.body.equals(big)).toBe(true);
    expect(u.seen[0]!['content-length']).toBe(String(body.length));
  });

  it('relays response trailers to an HTTP/1.1 client (chunked)', async () => {
    const u = await h2Upstream((stream) => {
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc' },
        { waitForTrailers: true },
      );
      stream.on('wantTrailers', () =>
        stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'done' }),
      );
      stream.end(Buffer.from([0, 0, 0, 0, 2, 0x68, 0x69]));
    });
    const r = await router(route(u.url));
    const reply = await request(r.url + '/pkg.Svc/Call', {
      method: 'POST',
      headers: { 'content-type': 'application/grpc', te: 'trailers' },
      body: Buffer.from([0, 0, 0, 0, 0]),
    });
    expect(reply.status).toBe(200);
    expect(reply.headers['transfer-encoding']).toBe('chunked');
    expect(reply.body).toEqual(Buffer.from([0, 0, 0, 0, 2, 0x68, 0x69]));
    expect(reply.trailers).toEqual({ 'grpc-status': '0', 'grpc-message': 'done' });
    expect(u.seen[0]!.te).toBe('trailers');
  });

  it('answers 502 when the h2c server refuses the connection', async () => {
    const port = await closedPort();
    const r = await router(route(`h2c://127.0.0.1:${port}`));
    const reply = await request(r.url + '/');
    expect(reply.status).toBe(502);
    expect(reply.body.toString()).toBe('Bad Gateway\n');
  });

  it('answers 502 when the server resets the stream before answering', async () => {
    const u = await h2Upstream((stream) => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    const r = await router(route(u.url));
    expect((await request(r.url + '/')).status).toBe(502);
    // the session stays usable for the next request
    expect((await request(r.url + '/')).status).toBe(502);
    expect(u.sessions).toBe(1);
  });

  it('reports failures to passive health: a refusing h2c server is ejected', async () => {
    const port = await closedPort();
    const good = await h2Upstream((stream) => {
      stream.respond({ ':status': 200 });
      stream.end('good');
    });
    // mixed with a healthy server: after the first failure, only the healthy one gets traffic
    const r = await router({
      http: {
        routers: { r: { rule: 'PathPrefix(`/`)', service: 's' } },
        services: {
          s: {
            loadBalancer: {
              servers: [{ url: `h2c://127.0.0.1:${port}` }, { url: good.url }],
              passiveHealthCheck: { failureWindow: '10s', maxFailedAttempts: 1 },
            },
          },
        },
      },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await request(r.url + '/')).status);
    expect(statuses.filter((s) => s === 502)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
  });

  it('answers 504 after responseHeaderTimeout', async () => {
    const held: http2.ServerHttp2Stream[] = [];
    const u = await h2Upstream((stream) => held.push(stream));
    const r = await router(
      route(
        u.url,
        { serversTransport: 'fast' },
        { serversTransports: { fast: { forwardingTimeouts: { responseHeaderTimeout: '200ms' } } } },
      ),
    );
    const started = Date.now();
    const reply = await request(r.url + '/slow');
    expect(reply.status).toBe(504);
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
    // the upstream stream was cancelled
    await eventually(() => expect(held[0]!.closed).toBe(true));
  });

  it('cancels the upstream stream when the client goes away', async () => {
    const streams: http2.ServerHttp2Stream[] = [];
    const u = await h2Upstream((stream) => {
      streams.push(stream);
      stream.respond({ ':status': 200 });
      stream.write('first');
      // then nothing: the response stays open until someone closes it
    });
    const r = await router(route(u.url));
    await new Promise<void>((resolve, reject) => {
      const req = http.get(r.url + '/stream', { agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      setTimeout(() => reject(new Error('no first chunk')), 2000);
    });
    await eventually(() => expect(streams[0]!.closed).toBe(true));
    expect(streams[0]!.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    // the session itself stays open for other requests
    expect(u.closedSessions).toBe(0);
  });

  it('reuses one session for sequential and concurrent requests', async () => {
    const u = await h2Upstream((stream, headers) => {
      stream.respond({ ':status': 200 });
      stream.end(String(headers[':path']));
    });
    const r = await router(route(u.url));
    for (let i = 0; i < 5; i++)
      expect((await request(r.url + `/s${i}`)).body.toString()).toBe(`/s${i}`);
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => request(r.url + `/c${i}`)),
    );
    expect(replies.map((x) => x.body.toString())).toEqual(
      Array.from({ length: 20 }, (_, i) => `/c${i}`),
    );
    expect(u.sessions).toBe(1);
  });

  it('opens a new session after the server closed the previous one', async () => {
    const u = await h2Upstream((stream, headers) => {
      stream.respond({ ':status': 200 });
      stream.end('ok');
      // GOAWAY, then the connection closes once this stream is done
      if (headers[':path'] === '/bye') stream.session?.close();
    });
    const r = await router(route(u.url));
    expect((await request(r.url + '/bye')).status).toBe(200);
    await eventually(() => expect(u.closedSessions).toBe(1));
    expect((await request(r.url + '/')).body.toString()).toBe('ok');
    expect((await request(r.url + '/')).body.toString()).toBe('ok');
    expect(u.sessions).toBe(2);
  });

  it('keeps the session across a config swap that keeps the service, closes it when removed', async () => {
    const u = await h2Upstream((stream) => {
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
    const cfg = route(u.url);
    const r = await router(cfg);
    expect((await request(r.url + '/')).status).toBe(200);
    expect(u.sessions).toBe(1);

    const other = await h2Upstream((stream) => {
      stream.respond({ ':status': 200 });
      stream.end('other');
    });
    const table = r.apply({
      http: {
        routers: { ...cfg.http!.routers, o: { rule: 'Path(`/other-service`)', service: 'o' } },
        services: { ...cfg.http!.services, o: { loadBalancer: { servers: [{ url: other.url }] } } },
      },
    });
    expect(table.routers.get('o@file')!.status).toBe('enabled');
    expect((await request(r.url + '/')).body.toString()).toBe('ok');
    expect((await request(r.url + '/other-service')).body.toString()).toBe('other');
    expect(u.sessions).toBe(1);
    expect(u.closedSessions).toBe(0);

    // the h2c service goes away: its session is closed
    r.apply({
      http: {
        routers: { o: { rule: 'PathPrefix(`/`)', service: 'o' } },
        services: { o: { loadBalancer: { servers: [{ url: other.url }] } } },
      },
    });
    await eventually(() => expect(u.closedSessions).toBe(1));
    expect(other.closedSessions).toBe(0);
    expect((await request(r.url + '/')).body.toString()).toBe('other');
  });

  it('mirrors requests to an h2c service', async () => {
    const main = await h2Upstream(describeRequest);
    const bodies: string[] = [];
    const copy = await h2Upstream((stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString());
        stream.respond({ ':status': 204 });
        stream.end();
      });
    });
    const r = await router({
      http: {
        routers: { r: { rule: 'PathPrefix(`/`)', service: 'm' } },
        services: {
          m: { mirroring: { service: 'main', mirrors: [{ name: 'copy', percent: 100 }] } },
          main: { loadBalancer: { servers: [{ url: main.url }] } },
          copy: { loadBalancer: { servers: [{ url: copy.url }] } },
        },
      },
    });
    const reply = await request(r.url + '/m?x=1', { method: 'POST', body: 'payload' });
    expect(reply.status).toBe(201);
    expect((JSON.parse(reply.body.toString()) as { body: string }).body).toBe('payload');
    await eventually(() => expect(bodies).toEqual(['payload']));
    expect(copy.seen[0]![':path']).toBe('/m?x=1');
    expect(copy.seen[0]![':method']).toBe('POST');
  });

  it('answers 502 to a WebSocket upgrade routed to an h2c server', async () => {
    const u = await h2Upstream(describeRequest);
    const r = await router(route(u.url));
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(r.url + '/ws', {
        agent: false,
        headers: {
          connection: 'upgrade',
          upgrade: 'websocket',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'sec-websocket-version': '13',
        },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('upgrade', () => resolve(101));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(502);
    expect(u.seen).toHaveLength(0);
  });

  it('accepts h2c URLs in validation and builds the service', async () => {
    const u = await h2Upstream(describeRequest);
    const r = await router({});
    const table = r.apply(route(u.url));
    expect(table.routers.get('r@file')!.status).toBe('enabled');
    expect(table.services.get('s@file')!.status).toBe('enabled');
  });
});
