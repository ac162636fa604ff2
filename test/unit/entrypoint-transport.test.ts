/*
 * The entrypoint's server pieces on their own, on real loopback sockets:
 * the HTTP/1 options and raw client-error answers (src/server/http1.ts), the
 * HTTP/2 session deadlines (src/server/http2.ts), the TLS handshake bound
 * (src/server/tls-server.ts), and the graceful shutdown (src/server/drain.ts).
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { InFlight, shutdown } from '../../src/server/drain.js';
import {
  answerClientError,
  applyServerLimits,
  checkingInterval,
  clientErrorStatus,
  http1Options,
} from '../../src/server/http1.js';
import { createH2Server, h2SessionOptions } from '../../src/server/http2.js';
import { handshakeTimeout } from '../../src/server/tls-server.js';
import { request } from '../helpers/http.js';
import { testStaticConfig } from '../helpers/portico.js';

const log = pino({ level: 'silent' });
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => {
    (server as http.Server).closeAllConnections?.();
    return new Promise((r) => server.close(r));
  });
  return (server.address() as net.AddressInfo).port;
}

/** raw bytes in, everything the server writes until it closes */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (c: string) => (out += c));
    s.on('close', () => resolve(out));
    s.on('error', reject);
    s.setTimeout(10_000, () => s.destroy(new Error('no close within 10 s')));
  });
}

describe('HTTP/1 options', () => {
  it.each([
    [0, 0, 30_000],
    [60_000, 0, 1000],
    [0, 400, 100],
    [50, 400, 25],
  ])('headers %i ms, request %i ms: swept every %i ms', (h, r, every) => {
    expect(checkingInterval(h, r)).toBe(every);
  });

  it('take the entrypoint limits', () => {
    const ep = testStaticConfig([
      '--entryPoints.web.transport.respondingTimeouts.readTimeout=7s',
      '--entryPoints.web.transport.keepAliveMaxRequests=3',
    ]).entryPoints.web!;
    expect(http1Options(ep)).toMatchObject({
      insecureHTTPParser: false,
      requireHostHeader: true,
      requestTimeout: 7000,
      maxHeaderSize: ep.http.maxHeaderBytes,
    });
    const server = http.createServer();
    applyServerLimits(server, ep);
    expect(server.maxRequestsPerSocket).toBe(3);
    expect(server.maxHeadersCount).toBe(0);
  });

  it.each([
    ['HPE_HEADER_OVERFLOW', 431],
    ['HPE_CHUNK_EXTENSIONS_OVERFLOW', 413],
    ['ERR_HTTP_REQUEST_TIMEOUT', 408],
    ['HPE_INVALID_METHOD', 400],
    [undefined, 400],
  ])('a client error %s is answered %i', (code, status) => {
    expect(clientErrorStatus(code)).toBe(status);
  });

  it('a request Node cannot parse gets a raw answer and a closed connection', async () => {
    const ep = testStaticConfig().entryPoints.web!;
    const server = http.createServer(http1Options(ep), (_req, res) => res.end('ok'));
    server.on('clientError', (err, socket) => answerClientError(err, socket, log));
    const port = await listen(server);
    expect(await raw(port, 'GET / HTTP/1.1\r\nHost: a\r\nbad header\r\n\r\n')).toMatch(
      /^HTTP\/1\.1 400 Bad Request\r\nconnection: close\r\n/,
    );
    const big = 'x'.repeat(ep.http.maxHeaderBytes + 10);
    expect(await raw(port, `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${big}\r\n\r\n`)).toMatch(
      /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/,
    );
  });
});

describe('HTTP/2 sessions', () => {
  it('header list limits follow maxHeaderBytes', () => {
    expect(h2SessionOptions(32 * 1024)).toMatchObject({
      settings: { maxConcurrentStreams: 250, maxHeaderListSize: 32 * 1024, enablePush: false },
      maxHeaderListPairs: 1032,
    });
  });

  it('a session that sends no request within readHeaderTimeout is sent GOAWAY', async () => {
    const ep = testStaticConfig([
      '--entryPoints.web.transport.respondingTimeouts.readHeaderTimeout=200ms',
    ]).entryPoints.web!;
    const { server, sessions } = createH2Server(ep, log);
    const port = await listen(server);
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', () => undefined);
    cleanups.push(() => client.destroy());
    const goaway = new Promise<void>((r) => client.once('goaway', () => r()));
    await new Promise<void>((r) => client.once('connect', () => r()));
    expect(sessions.size).toBe(1);
    await goaway;
  });
});

describe('TLS handshake bound', () => {
  it.each([
    // [readHeaderTimeout, readTimeout, writeTimeout] → the shortest one set, else Node's 120 s
    [0, 0, 0, 120_000],
    [0, 9000, 0, 9000],
    [0, 9000, 4000, 4000],
    [3000, 60_000, 0, 3000],
  ])('readHeader %i, read %i, write %i → %i ms', (h, r, w, ms) => {
    const t = testStaticConfig().entryPoints.web!.transport.respondingTimeouts;
    expect(
      handshakeTimeout({ ...t, readHeaderTimeoutMs: h, readTimeoutMs: r, writeTimeoutMs: w }),
    ).toBe(ms);
  });
});

describe('shutdown', () => {
  /** a server whose requests wait until released, counted like the entrypoint counts them */
  async function held() {
    const inFlight = new InFlight();
    const waiting: http.ServerResponse[] = [];
    const server = http.createServer((_req, res) => {
      inFlight.count++;
      res.once('close', () => {
        inFlight.count--;
        inFlight.settle();
      });
      waiting.push(res);
    });
    const port = await listen(server);
    const stop = (graceMs: number, acceptForMs = 0) =>
      shutdown({
        server,
        inFlight,
        acceptForMs,
        graceMs,
        closeIdle: () => server.closeIdleConnections(),
        closeAll: () => server.closeAllConnections(),
      });
    return { port, waiting, inFlight, stop };
  }

  it('resolves at once with nothing in flight', async () => {
    const { stop, inFlight } = await held();
    await stop(60_000);
    expect(inFlight.draining).toBe(true);
  });

  it('lets a request in flight finish, refuses new connections, then resolves', async () => {
    const { port, waiting, stop } = await held();
    const reply = request(`http://127.0.0.1:${port}/`);
    await eventuallyTrue(() => waiting.length === 1);
    let stopped = false;
    const stopping = stop(60_000).then(() => (stopped = true));
    await expect(request(`http://127.0.0.1:${port}/`)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    expect(stopped).toBe(false);
    waiting[0]!.end('done');
    expect((await reply).body).toBe('done');
    await stopping;
  });

  it('cuts a request that outlives the grace period', async () => {
    const { port, waiting, stop } = await held();
    const reply = request(`http://127.0.0.1:${port}/`);
    await eventuallyTrue(() => waiting.length === 1);
    await stop(100);
    await expect(reply).rejects.toThrow();
  });

  it('keeps accepting during requestAcceptGraceTimeout', async () => {
    const { port, waiting, stop } = await held();
    const stopping = stop(60_000, 300);
    const reply = request(`http://127.0.0.1:${port}/`);
    await eventuallyTrue(() => waiting.length === 1);
    waiting[0]!.end('accepted');
    expect((await reply).body).toBe('accepted');
    await stopping;
  });
});

async function eventuallyTrue(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met within 10 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}
