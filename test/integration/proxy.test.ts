/*
 * The proxy against real upstream servers: status mapping, streaming,
 * WebSocket upgrades and header handling.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocketServer, WebSocket } from 'ws';
import { simpleRoute } from '../helpers/portico.js';
import { closedPort, request, type Reply } from '../helpers/http.js';
import { useCleanups } from '../helpers/scope.js';

const { defer, upstream, router } = useCleanups();

function get(
  url: string,
  headers: Record<string, string> = {},
  method = 'GET',
  body?: string,
): Promise<Reply> {
  return request(url, { method, headers, body });
}

describe('status mapping', () => {
  it('answers 404 when no router matches', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url], { rule: 'Host(`known.test`)' }));
    expect((await get(r.url + '/', { host: 'other.test' })).status).toBe(404);
    expect((await get(r.url + '/', { host: 'known.test' })).status).toBe(200);
  });

  it('answers 503 when the service has no healthy server', async () => {
    const r = await router(simpleRoute([]));
    expect((await get(r.url + '/')).status).toBe(503);
  });

  it('answers 502 when the upstream refuses the connection', async () => {
    const port = await closedPort();
    const r = await router(simpleRoute([`http://127.0.0.1:${port}`]));
    expect((await get(r.url + '/')).status).toBe(502);
  });

  it('answers 502 when the upstream resets the connection before answering', async () => {
    const u = await upstream((req) => req.socket.destroy());
    const r = await router(simpleRoute([u.url]));
    expect((await get(r.url + '/')).status).toBe(502);
  });

  it('answers 504 when the upstream is slower than responseHeaderTimeout', async () => {
    const u = await upstream((_req, res) => setTimeout(() => res.end('late'), 2000));
    const r = await router({
      http: {
        routers: { r: { rule: 'PathPrefix(`/`)', service: 's' } },
        services: { s: { loadBalancer: { servers: [{ url: u.url }], serversTransport: 'fast' } } },
        serversTransports: { fast: { forwardingTimeouts: { responseHeaderTimeout: '200ms' } } },
      },
    });
    expect((await get(r.url + '/')).status).toBe(504);
  });

  it('uses the global serversTransport response-header timeout', async () => {
    const u = await upstream((_req, res) => setTimeout(() => res.end('late'), 2000));
    const r = await router(simpleRoute([u.url]), {
      flags: ['--serversTransport.forwardingTimeouts.responseHeaderTimeout=150ms'],
    });
    expect((await get(r.url + '/')).status).toBe(504);
  });

  it('relays the upstream status and body unchanged', async () => {
    const u = await upstream((_req, res) =>
      res.writeHead(418, { 'x-tea': 'pot' }).end('short and stout'),
    );
    const r = await router(simpleRoute([u.url]));
    const reply = await get(r.url + '/');
    expect(reply.status).toBe(418);
    expect(reply.headers['x-tea']).toBe('pot');
    expect(reply.body).toBe('short and stout');
  });
});

describe('streaming', () => {
  it('delivers response chunks before the upstream finishes', async () => {
    let finish!: () => void;
    const u = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      finish = () => res.end('data: last\n\n');
    });
    const r = await router(simpleRoute([u.url]));
    const first = await new Promise<string>((resolve, reject) => {
      const req = http.get(r.url + '/', { agent: false }, (res) => {
        res.once('data', (c: Buffer) => {
          resolve(c.toString());
          finish();
          res.resume();
        });
      });
      req.on('error', reject);
    });
    expect(first).toBe('data: first\n\n');
  });

  it('streams a request body to the upstream without buffering it whole', async () => {
    let sawFirstChunk!: () => void;
    const firstChunk = new Promise<void>((r) => (sawFirstChunk = r));
    const u = await upstream((req, res) => {
      res.end('ok');
      void req;
    });
    // replace the recording handler: answer as soon as the first chunk arrives
    u.server.removeAllListeners('request');
    u.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      req.once('data', () => sawFirstChunk());
      req.on('end', () => res.end('done'));
      req.resume();
    });
    const r = await router(simpleRoute([u.url]));
    const req = http.request(r.url + '/', {
      method: 'POST',
      agent: false,
      headers: { 'transfer-encoding': 'chunked' },
    });
    const done = new Promise<string>((resolve, reject) => {
      req.on('response', (res) => {
        let b = '';
        res.on('data', (c: Buffer) => (b += c.toString()));
        res.on('end', () => resolve(b));
      });
      req.on('error', reject);
    });
    req.write('part one');
    await firstChunk; // reached the upstream while the client has not finished sending
    req.end('part two');
    expect(await done).toBe('done');
  });

  it('relays a large body intact', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 'abcdefgh');
    const u = await upstream((_req, res) => res.end(big));
    const r = await router(simpleRoute([u.url]));
    const reply = await get(r.url + '/');
    expect(reply.body.length).toBe(big.length);
    expect(reply.body === big.toString()).toBe(true);
  });
});

describe('websocket', () => {
  it('upgrades and relays messages both ways, with forwarded headers', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    let seenHeaders: http.IncomingHttpHeaders = {};
    wss.on('connection', (socket, req) => {
      seenHeaders = req.headers;
      socket.on('message', (m) => socket.send(`echo:${m.toString()}`));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    defer(
      () =>
        new Promise<void>((r) => {
          wss.close();
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
    const r = await router(
      simpleRoute([`http://127.0.0.1:${(server.address() as AddressInfo).port}`], {
        rule: 'Path(`/ws`)',
      }),
    );
    const ws = new WebSocket(`ws://127.0.0.1:${r.port}/ws`);
    const reply = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('hello'));
      ws.on('message', (m) => resolve(m.toString()));
      ws.on('error', reject);
    });
    ws.close();
    expect(reply).toBe('echo:hello');
    expect(seenHeaders['x-forwarded-for']).toBe('127.0.0.1');
    expect(seenHeaders['x-forwarded-proto']).toBe('ws');
  });

  it('answers 404 to an upgrade no router takes', async () => {
    const r = await router(simpleRoute(['http://127.0.0.1:1'], { rule: 'Path(`/ws`)' }));
    const ws = new WebSocket(`ws://127.0.0.1:${r.port}/other`);
    const status = await new Promise<number>((resolve) =>
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    expect(status).toBe(404);
  });

  it('answers 502 when the websocket upstream is down', async () => {
    const port = await closedPort();
    const r = await router(simpleRoute([`http://127.0.0.1:${port}`]));
    const ws = new WebSocket(`ws://127.0.0.1:${r.port}/`);
    const status = await new Promise<number>((resolve) =>
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    expect(status).toBe(502);
  });
});

describe('headers', () => {
  it('strips hop-by-hop headers and those named in Connection, both ways', async () => {
    const u = await upstream((_req, res) => {
      res.setHeader('connection', 'x-secret-hop');
      res.setHeader('x-secret-hop', 'leak');
      res.setHeader('keep-alive', 'timeout=5');
      res.setHeader('x-kept', 'yes');
      res.end('ok');
    });
    const r = await router(simpleRoute([u.url]));
    const reply = await get(r.url + '/', {
      connection: 'keep-alive, x-drop-me',
      'x-drop-me': 'secret',
      'proxy-authorization': 'Basic Zm9vOmJhcg==',
      te: 'gzip',
      'x-keep-me': 'fine',
    });
    const seen = u.seen[0]!.headers;
    expect(seen['x-drop-me']).toBeUndefined();
    expect(seen['proxy-authorization']).toBeUndefined();
    expect(seen.te).toBeUndefined();
    expect(seen['x-keep-me']).toBe('fine');
    expect(reply.headers['x-secret-hop']).toBeUndefined();
    expect(reply.headers['x-kept']).toBe('yes');
  });

  it('keeps TE: trailers for gRPC', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]));
    await get(r.url + '/', { te: 'trailers' });
    expect(u.seen[0]!.headers.te).toBe('trailers');
  });

  it('replaces X-Forwarded-* from an untrusted client', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]));
    await get(r.url + '/p', {
      host: 'site.test:8443',
      'x-forwarded-for': '6.6.6.6',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.test',
      'x-real-ip': '6.6.6.6',
      'x-forwarded-prefix': '/admin',
      'x-forwarded-user': 'root',
    });
    const h = u.seen[0]!.headers;
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe('site.test:8443');
    expect(h['x-forwarded-port']).toBe('8443');
    expect(h['x-real-ip']).toBe('127.0.0.1');
    expect(h['x-forwarded-server']).toBeTruthy();
    expect(h['x-forwarded-prefix']).toBeUndefined();
    expect(h['x-forwarded-user']).toBeUndefined();
    expect(h.host).toBe('site.test:8443');
  });

  it('keeps and appends X-Forwarded-* from a trusted source', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]), {
      flags: ['--entryPoints.web.forwardedHeaders.trustedIPs=127.0.0.1/32'],
    });
    await get(r.url + '/', {
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'https',
      'x-real-ip': '203.0.113.9',
    });
    const h = u.seen[0]!.headers;
    expect(h['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('https');
    expect(h['x-real-ip']).toBe('203.0.113.9');
  });

  it('sends the server host when passHostHeader is false', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url], { lb: { passHostHeader: false } }));
    await get(r.url + '/', { host: 'public.test' });
    expect(u.seen[0]!.headers.host).toBe(`127.0.0.1:${u.port}`);
    expect(u.seen[0]!.headers['x-forwarded-host']).toBe('public.test');
  });

  it('forwards the request method, path, query and body', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]));
    const reply = await get(
      r.url + '/a/b?x=1&y=%20',
      { 'content-type': 'text/plain' },
      'PUT',
      'payload',
    );
    expect(reply.status).toBe(200);
    expect(u.seen[0]).toMatchObject({ method: 'PUT', url: '/a/b?x=1&y=%20', body: 'payload' });
  });
});

describe('entrypoint lifecycle', () => {
  it('cuts a response that takes longer than writeTimeout', async () => {
    const u = await upstream((_req, res) => {
      res.writeHead(200);
      res.write('start');
      setTimeout(() => res.end('never in time'), 3000).unref();
    });
    const r = await router(simpleRoute([u.url]), {
      flags: ['--entryPoints.web.transport.respondingTimeouts.writeTimeout=300ms'],
    });
    const outcome = await new Promise<string>((resolve) => {
      http
        .get(r.url + '/', { agent: false }, (res) => {
          res.on('data', () => undefined);
          res.on('end', () => resolve('completed'));
          res.on('error', () => resolve('cut'));
          res.on('aborted', () => resolve('cut'));
        })
        .on('error', () => resolve('cut'));
    });
    expect(outcome).toBe('cut');
  });

  it('drains for graceTimeOut, then cuts what is left', async () => {
    const u = await upstream((_req, res) => setTimeout(() => res.end('late'), 3000).unref());
    const r = await router(simpleRoute([u.url]), {
      flags: ['--entryPoints.web.transport.lifeCycle.graceTimeOut=200ms'],
    });
    const pending = get(r.url + '/').then(
      (reply) => `status ${reply.status}`,
      () => 'cut',
    );
    await new Promise((res) => setTimeout(res, 100));
    const started = Date.now();
    await r.router.shutdown();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await pending).toBe('cut');
  });

  it('keeps accepting during requestAcceptGraceTimeout', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]), {
      flags: ['--entryPoints.web.transport.lifeCycle.requestAcceptGraceTimeout=400ms'],
    });
    const stopping = r.router.shutdown();
    await new Promise((res) => setTimeout(res, 100));
    expect((await get(r.url + '/')).status).toBe(200);
    await stopping;
    await expect(get(r.url + '/')).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('ping', () => {
  it('answers /ping on its entrypoint with 200 OK, above every user router', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]), { flags: ['--ping.entryPoint=web'] });
    const reply = await get(r.url + '/ping');
    expect(reply).toMatchObject({ status: 200, body: 'OK' });
    expect(u.seen).toHaveLength(0);
    expect((await get(r.url + '/other')).status).toBe(200);
  });
});

describe('trailers', () => {
  it('relays upstream trailers on a chunked response', async () => {
    const u = await upstream((_req, res) => {
      res.writeHead(200, { trailer: 'x-checksum', 'content-type': 'text/plain' });
      res.write('body');
      res.addTrailers({ 'x-checksum': 'abc123' });
      res.end();
    });
    const r = await router(simpleRoute([u.url]));
    const trailers = await new Promise<NodeJS.Dict<string>>((resolve, reject) => {
      http
        .get(r.url + '/', { agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.trailers));
        })
        .on('error', reject);
    });
    expect(trailers['x-checksum']).toBe('abc123');
  });
});
