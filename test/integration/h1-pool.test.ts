/*
 * Portico's HTTP/1.1 upstream client (src/proxy/h1-pool.ts) against real TCP
 * servers on 127.0.0.1 that write exact bytes: keep-alive reuse, connections
 * the upstream closes, unsolicited bytes, interim responses, trailers, HEAD,
 * close-delimited and truncated bodies, limits and timeouts, request body
 * framing (issue 11 item 1, also end to end over HTTP/2), pool semantics
 * (item 3) and resends (item 9).
 *
 * Every case runs twice: on the native connections (Node's llhttp binding) and
 * on the undici fallback (h1-undici.ts), which must behave the same.
 */
import http2 from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import selfsigned from 'selfsigned';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BAD_REQUEST,
  BAD_RESPONSE,
  BAD_RESPONSE_BODY,
  DIAL_TIMEOUT,
  H1Pool,
  h1ClientKind,
  HEADERS_TIMEOUT,
  MAX_INTERIM_RESPONSES,
  probeHttpParser,
  REQUEST_BODY_ABORTED,
  REQUEST_BODY_LENGTH,
  UPSTREAM_CLOSED,
  upstreamRequestWritten,
  type H1ClientKind,
  type H1PoolOptions,
  type H1Request,
} from '../../src/proxy/h1-pool.js';
import { loadStaticConfig } from '../../src/config/static.js';
import { createH1Pool, transportKey, type TransportSettings } from '../../src/proxy/transport.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/http.js';
import { startRouter } from '../helpers/portico.js';

interface Upstream {
  port: number;
  /** connections accepted so far */
  connections: number;
  /** every request head received, in order (first line) */
  heads: string[];
  /** raw bytes received, per connection */
  received: string[];
  sockets: Socket[];
  server: Server;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * A TCP server that reads requests (head + Content-Length or chunked body)
 * and answers each with what `answer` returns (raw bytes), or nothing (null).
 */
async function upstream(
  answer: (head: string, body: string, socket: Socket, index: number) => string | null,
): Promise<Upstream> {
  const u: Upstream = {
    port: 0,
    connections: 0,
    heads: [],
    received: [],
    sockets: [],
    server: createServer(),
  };
  u.server.on('connection', (socket) => {
    const index = u.connections++;
    u.sockets.push(socket);
    u.received[index] = '';
    let buf = '';
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      u.received[index] += d.toString('latin1');
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buf.slice(0, end);
        let rest = buf.slice(end + 4);
        let body = '';
        const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
        if (cl) {
          const n = Number(cl[1]);
          if (rest.length < n) return;
          body = rest.slice(0, n);
          rest = rest.slice(n);
        } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
          const done = rest.indexOf('0\r\n\r\n');
          if (done === -1) return;
          let chunks = rest.slice(0, done);
          while (chunks.length > 0) {
            const nl = chunks.indexOf('\r\n');
            const size = parseInt(chunks.slice(0, nl), 16);
            body += chunks.slice(nl + 2, nl + 2 + size);
            chunks = chunks.slice(nl + 2 + size + 2);
          }
          rest = rest.slice(done + 5);
        }
        buf = rest;
        u.heads.push(head.split('\r\n')[0]!);
        const out = answer(head, body, socket, u.heads.length - 1);
        if (out !== null) socket.write(out);
      }
    });
  });
  await new Promise<void>((resolve) => u.server.listen(0, '127.0.0.1', resolve));
  u.port = (u.server.address() as { port: number }).port;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of u.sockets) s.destroy();
        u.server.close(() => resolve());
      }),
  );
  return u;
}

/** the implementation under test: set by each describe.each block below */
let kind: H1ClientKind = 'native';

const BASE: Omit<H1PoolOptions, 'client'> = {
  maxIdleConnections: 200,
  dialTimeoutMs: 5000,
  headersTimeoutMs: 0,
  idleTimeoutMs: 90_000,
  maxHeaderSize: 64 * 1024,
};

function pool(u: { port: number }, opts: Partial<H1PoolOptions> = {}): H1Pool {
  const p = new H1Pool(`http://127.0.0.1:${u.port}`, { ...BASE, client: kind, ...opts });
  expect(p.client).toBe(kind);
  cleanups.push(() => p.close());
  return p;
}

interface Result {
  status: number;
  statusText: string;
  headers: string[];
  body: string;
  trailers: string[] | null;
}

function send(p: H1Pool, req: Partial<H1Request> = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let statusText = '';
    let headers: string[] = [];
    const chunks: Buffer[] = [];
    p.dispatch(
      { method: 'GET', path: '/', headers: ['host', 'x.test'], body: null, ...req },
      {
        onConnect: () => undefined,
        onHeaders: (s, h, _resume, text) => {
          status = s;
          statusText = text;
          headers = h;
          return true;
        },
        onData: (c) => {
          chunks.push(c);
          return true;
        },
        onComplete: (trailers) =>
          resolve({
            status,
            statusText,
            headers,
            body: Buffer.concat(chunks).toString(),
            trailers,
          }),
        onError: reject,
      },
    );
  });
}

const ok = (body = 'ok', extra = ''): string =>
  `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** the error a send() rejected with */
async function failure(pending: Promise<unknown>): Promise<Error & { code?: string }> {
  const err = await pending.then(
    () => new Error('expected a failure, got a response'),
    (e: unknown) => e as Error,
  );
  expect(err).toBeInstanceOf(Error);
  return err as Error & { code?: string };
}

describe('choosing the client', () => {
  it('refuses a binding that throws, has another shape, or parses wrong', () => {
    expect(
      probeHttpParser(() => {
        throw new Error('Cannot find module _http_common');
      }),
    ).toBeNull();
    expect(probeHttpParser(() => ({}))).toBeNull();
    expect(probeHttpParser(() => ({ HTTPParser: class {} }))).toBeNull();
    class Silent {
      static RESPONSE = 2;
      static kOnHeaders = 0;
      static kOnHeadersComplete = 1;
      static kOnBody = 2;
      static kOnMessageComplete = 3;
      initialize(): void {}
      execute(): number {
        return 0;
      }
      close(): void {}
    }
    expect(probeHttpParser(() => ({ HTTPParser: Silent }))).toBeNull();
  });

  it("accepts this Node's binding, unless PORTICO_H1_CLIENT=undici", () => {
    expect(h1ClientKind({})).toBe('native');
    expect(h1ClientKind({ PORTICO_H1_CLIENT: 'undici' })).toBe('undici');
  });

  it('PORTICO_H1_CLIENT is not read as a static option (Portico still starts with it set)', () => {
    const load = (): unknown =>
      loadStaticConfig({
        argv: ['--entryPoints.web.address=127.0.0.1:0'],
        env: { PORTICO_H1_CLIENT: 'undici' },
        cwd: process.cwd(),
      });
    expect(load).not.toThrow();
  });

  it('builds the pools of the router with the client PORTICO_H1_CLIENT names', () => {
    const t: TransportSettings = {
      key: '',
      name: 't',
      dialTimeoutMs: 1000,
      responseHeaderTimeoutMs: 0,
      idleConnTimeoutMs: 1000,
      maxConnsPerHost: 200,
      insecureSkipVerify: false,
      rootCAs: [],
      serverName: undefined,
    };
    t.key = transportKey(t);
    const saved = process.env.PORTICO_H1_CLIENT;
    try {
      process.env.PORTICO_H1_CLIENT = 'undici';
      expect(createH1Pool('http://127.0.0.1:1', t).client).toBe('undici');
      delete process.env.PORTICO_H1_CLIENT;
      expect(createH1Pool('http://127.0.0.1:1', t).client).toBe('native');
    } finally {
      if (saved === undefined) delete process.env.PORTICO_H1_CLIENT;
      else process.env.PORTICO_H1_CLIENT = saved;
    }
  });
});

describe.each(['native', 'undici'] as const)('%s connections', (client) => {
  let savedEnv: string | undefined;
  beforeAll(() => {
    kind = client;
    // the router's pools (end-to-end cases) pick their client from the environment
    savedEnv = process.env.PORTICO_H1_CLIENT;
    process.env.PORTICO_H1_CLIENT = client;
  });
  afterAll(() => {
    if (savedEnv === undefined) delete process.env.PORTICO_H1_CLIENT;
    else process.env.PORTICO_H1_CLIENT = savedEnv;
  });

  describe('keep-alive', () => {
    it('sends sequential requests over one connection and keeps header case and order', async () => {
      const u = await upstream((_h, _b, _s, i) => ok(`r${i}`, 'X-Mixed-Case: a\r\nx-b: 1\r\n'));
      const p = pool(u);
      const a = await send(p, { path: '/a' });
      const b = await send(p, { path: '/b?q=1' });
      expect([a.body, b.body]).toEqual(['r0', 'r1']);
      expect(a.headers).toEqual(['content-length', '2', 'X-Mixed-Case', 'a', 'x-b', '1']);
      expect(u.heads).toEqual(['GET /a HTTP/1.1', 'GET /b?q=1 HTTP/1.1']);
      expect(u.connections).toBe(1);
      expect(p.connections).toBe(1);
    });

    it('drops an idle connection the upstream closed and opens a new one', async () => {
      const u = await upstream((_h, _b, socket) => {
        // answer, then close as an upstream's idle timer would
        setTimeout(() => socket.end(), 20);
        return ok();
      });
      const p = pool(u);
      await send(p);
      await eventually(() => expect(p.connections).toBe(0));
      expect((await send(p)).status).toBe(200);
      expect(u.connections).toBe(2);
    });

    it('sends a GET again when a reused connection closes under it before any answer', async () => {
      // the second request on the first connection is read, then the connection closes unanswered
      const u = await upstream((_h, _b, socket, i) => {
        if (i === 1) {
          socket.destroy();
          return null;
        }
        return ok(`r${i}`);
      });
      const p = pool(u);
      await send(p);
      await tick(20);
      const again = await send(p, { path: '/again' });
      expect(again.body).toBe('r2');
      expect(u.heads).toEqual(['GET / HTTP/1.1', 'GET /again HTTP/1.1', 'GET /again HTTP/1.1']);
      expect(u.connections).toBe(2);
    });

    // Go's transport resends GET, HEAD, OPTIONS and TRACE only: a PUT or DELETE the upstream read may have acted
    it.each(['POST', 'PUT', 'DELETE', 'PATCH'])(
      'does not send a %s again: the caller gets the failure, marked as written',
      async (method) => {
        const u = await upstream((_h, _b, socket, i) => {
          if (i === 1) {
            socket.destroy();
            return null;
          }
          return ok();
        });
        const p = pool(u);
        await send(p);
        await tick(20);
        const err = await failure(
          send(p, {
            method,
            headers: ['host', 'x.test', 'content-length', '2'],
            body: Buffer.from('hi'),
          }),
        );
        expect(err.code).toBe(UPSTREAM_CLOSED);
        expect(upstreamRequestWritten(err)).toBe(true);
        expect(u.heads.filter((h) => h.startsWith(method))).toHaveLength(1);
      },
    );

    it('sends a POST with an Idempotency-Key again, as Go does', async () => {
      const u = await upstream((_h, _b, socket, i) => {
        if (i === 1) {
          socket.destroy();
          return null;
        }
        return ok(`r${i}`);
      });
      const p = pool(u);
      await send(p);
      await tick(20);
      const r = await send(p, {
        method: 'POST',
        headers: ['host', 'x.test', 'Idempotency-Key', 'k1'],
        body: Buffer.from('hi'),
      });
      expect(r.body).toBe('r2');
    });

    it('never reads bytes sent on an idle connection as the next response', async () => {
      const u = await upstream((_h, _b, socket, i) => {
        if (i === 0) {
          // a response, then a forged second one nobody asked for
          setTimeout(() => socket.write(ok('forged')), 20);
        }
        return ok(`r${i}`);
      });
      const p = pool(u);
      await send(p);
      await eventually(() => expect(p.connections).toBe(0));
      const next = await send(p);
      expect(next.body).toBe('r1');
      expect(u.connections).toBe(2);
    });

    it('closes connections idle longer than the idle timeout', async () => {
      const u = await upstream(() => ok());
      const p = pool(u, { idleTimeoutMs: 200 });
      await send(p);
      expect(p.connections).toBe(1);
      await eventually(() => expect(p.connections).toBe(0));
    });
  });

  describe('pool limits (issue 11 item 3)', () => {
    it('200 requests stalled on an upstream that never answers do not stop a later one', async () => {
      // /stall is read and never answered; the rest are answered at once
      const u = await upstream((head) => (head.startsWith('GET /stall') ? null : ok('fine')));
      // maxIdleConnsPerHost caps idle connections only (Traefik, Go): it used to cap all of them
      const p = pool(u, { maxIdleConnections: 10 });
      const stalled = Array.from({ length: 200 }, () =>
        send(p, { path: '/stall' }).catch((e: unknown) => e),
      );
      await eventually(() => expect(u.heads.length).toBe(200), { timeoutMs: 15_000 });
      const later = await send(p, { path: '/later' });
      expect(later.body).toBe('fine');
      expect(p.connections).toBe(201);
      await p.close();
      for (const s of u.sockets) s.destroy();
      for (const e of await Promise.all(stalled)) expect(e).toBeInstanceOf(Error);
    });

    it('keeps at most maxIdleConnections idle connections after a burst', async () => {
      const u = await upstream((_h, _b, socket) => {
        setTimeout(() => socket.write(ok()), 30);
        return null;
      });
      const p = pool(u, { maxIdleConnections: 2 });
      await Promise.all(Array.from({ length: 6 }, () => send(p)));
      expect(u.connections).toBe(6);
      await eventually(() => {
        expect(p.idleConnections).toBe(2);
        expect(p.connections).toBe(2);
      });
      // the kept ones are reused
      await send(p);
      await send(p);
      expect(u.connections).toBe(6);
    });

    it('maxIdleConnections < 0 keeps no connection for reuse; 0 keeps 2 (Go’s default)', async () => {
      const u = await upstream(() => ok());
      const none = pool(u, { maxIdleConnections: -1 });
      await send(none);
      await send(none);
      expect(u.connections).toBe(2);
      await eventually(() => expect(none.connections).toBe(0));
      const dflt = pool(u, { maxIdleConnections: 0 });
      await Promise.all([send(dflt), send(dflt), send(dflt)]);
      await eventually(() => expect(dflt.idleConnections).toBe(2));
    });

    it('a dial that never completes fails within dialTimeout, marked as not written', async () => {
      // TCP connects, the TLS handshake is never answered: the dial (TCP and TLS) is what times out
      const held = new Set<Socket>();
      const silent = createServer((socket) => {
        held.add(socket);
        socket.on('error', () => undefined);
      });
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      cleanups.push(
        () =>
          new Promise<void>((r) => {
            for (const s of held) s.destroy();
            silent.close(() => r());
          }),
      );
      const port = (silent.address() as { port: number }).port;
      const p = new H1Pool(`https://127.0.0.1:${port}`, {
        ...BASE,
        client: kind,
        dialTimeoutMs: 300,
        tls: { rejectUnauthorized: false },
      });
      cleanups.push(() => p.close());
      const err = await failure(send(p));
      expect(err.code).toBe(DIAL_TIMEOUT);
      expect(upstreamRequestWritten(err)).toBe(false);
    });
  });

  describe('responses', () => {
    it('skips interim 1xx responses', async () => {
      const u = await upstream(
        () =>
          'HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </b>\r\n\r\n' +
          ok('final'),
      );
      const r = await send(pool(u));
      expect([r.status, r.body]).toEqual([200, 'final']);
    });

    it('an unasked 100 Continue: skipped by the native client, refused by undici', async () => {
      const u = await upstream(() => 'HTTP/1.1 100 Continue\r\n\r\n' + ok('final'));
      const pending = send(pool(u));
      if (kind === 'native') expect((await pending).body).toBe('final');
      else expect((await failure(pending)).code).toBe(BAD_RESPONSE);
    });

    it('both clients share one interim limit: MAX_INTERIM_RESPONSES pass, one more fails', async () => {
      const at = await upstream(
        () => 'HTTP/1.1 103 Early Hints\r\n\r\n'.repeat(MAX_INTERIM_RESPONSES) + ok('final'),
      );
      expect((await send(pool(at))).body).toBe('final');
      const over = await upstream(
        () => 'HTTP/1.1 103 Early Hints\r\n\r\n'.repeat(MAX_INTERIM_RESPONSES + 1) + ok('final'),
      );
      expect((await failure(send(pool(over)))).code).toBe(BAD_RESPONSE);
    });

    it('gives up after 5 interim responses (Go’s limit)', async () => {
      const u = await upstream(() => 'HTTP/1.1 103 Early Hints\r\n\r\n'.repeat(6) + ok('final'));
      expect((await failure(send(pool(u)))).code).toBe(BAD_RESPONSE);
    });

    it.each(['000', '099', '1000', '20', '2OO'])('refuses status %s', async (status) => {
      const u = await upstream(() => `HTTP/1.1 ${status} X\r\ncontent-length: 0\r\n\r\n`);
      expect((await failure(send(pool(u)))).code).toBe(BAD_RESPONSE);
    });

    it('hands over trailers of a chunked response', async () => {
      const u = await upstream(
        () =>
          'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: grpc-status\r\n\r\n' +
          '3\r\nabc\r\n0\r\ngrpc-status: 0\r\nx-sum: 1\r\n\r\n',
      );
      const r = await send(pool(u));
      expect(r.body).toBe('abc');
      expect(r.trailers).toEqual(['grpc-status', '0', 'x-sum', '1']);
    });

    it('reads no body after a HEAD response and reuses the connection', async () => {
      const u = await upstream((head, _b, _s, i) =>
        head.startsWith('HEAD') ? 'HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n' : ok(`r${i}`),
      );
      const p = pool(u);
      const h = await send(p, { method: 'HEAD' });
      expect([h.status, h.body]).toEqual([200, '']);
      expect((await send(p)).body).toBe('r1');
      // undici keeps a socket after HEAD only when the response says keep-alive explicitly
      expect(u.connections).toBe(kind === 'native' ? 1 : 2);
    });

    it('passes on more than 32 response headers', async () => {
      const many = Array.from({ length: 80 }, (_, i) => `x-h${i}: v${i}\r\n`).join('');
      const u = await upstream(() => ok('ok', many));
      const r = await send(pool(u));
      expect(r.headers.length).toBe(2 * 81);
      expect(r.headers.slice(-2)).toEqual(['x-h79', 'v79']);
    });

    it('ends a close-delimited body at the end of the connection', async () => {
      const u = await upstream((_h, _b, socket) => {
        socket.end('HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end');
        return null;
      });
      const p = pool(u);
      const r = await send(p);
      expect(r.body).toBe('until the end');
      await eventually(() => expect(p.connections).toBe(0));
    });

    it('fails a body cut short of its Content-Length', async () => {
      const u = await upstream((_h, _b, socket) => {
        socket.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort');
        return null;
      });
      expect((await failure(send(pool(u)))).code).toBe(UPSTREAM_CLOSED);
    });

    it('refuses a response that is not HTTP, and one with two Content-Lengths', async () => {
      const garbage = await upstream(() => 'SSH-2.0-OpenSSH\r\n\r\n');
      expect((await failure(send(pool(garbage)))).code).toBe(BAD_RESPONSE);
      const twice = await upstream(
        () => 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nabc',
      );
      const err = await failure(send(pool(twice)));
      expect(err.code).toBe(BAD_RESPONSE);
      expect(err.message).toMatch(/content-length/i);
    });

    it('reports a framing error after the head with its own code (an upstream fault, not the client’s)', async () => {
      const u = await upstream(
        () => 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\nZZ\r\n',
      );
      let status = 0;
      const err = await new Promise<Error & { code?: string }>((resolve) => {
        pool(u).dispatch(
          { method: 'GET', path: '/', headers: ['host', 'x.test'], body: null },
          {
            onConnect: () => undefined,
            onHeaders: (s) => {
              status = s;
              return true;
            },
            onData: () => true,
            onComplete: () => resolve(new Error('completed')),
            onError: resolve,
          },
        );
      });
      expect(status).toBe(200);
      expect(err.code).toBe(BAD_RESPONSE_BODY);
    });

    it('times out waiting for response headers', async () => {
      const u = await upstream(() => null);
      const err = await failure(send(pool(u, { headersTimeoutMs: 100 })));
      expect(err.code).toBe(HEADERS_TIMEOUT);
      expect(upstreamRequestWritten(err)).toBe(true);
    });

    it('reports a refused connection with its errno code, marked as not written', async () => {
      const u = await upstream(() => ok());
      const port = u.port;
      await new Promise<void>((r) => u.server.close(() => r()));
      const err = await failure(send(pool({ port })));
      expect(err.code).toBe('ECONNREFUSED');
      expect(upstreamRequestWritten(err)).toBe(false);
    });
  });

  describe('requests', () => {
    it('sends a streamed body of unknown length chunked, and a whole one with its length', async () => {
      const u = await upstream((_head, body) => ok(`${body.length}:${body}`));
      const p = pool(u);
      const stream = new PassThrough();
      const pending = send(p, { method: 'POST', body: stream });
      stream.write('hello ');
      setTimeout(() => stream.end('world'), 20);
      expect((await pending).body).toBe('11:hello world');
      expect(u.received[0]).toMatch(/transfer-encoding: chunked\r\n/);
      const whole = await send(p, { method: 'PUT', body: Buffer.from('abc') });
      expect(whole.body).toBe('3:abc');
      expect(u.received[0]).toMatch(/PUT \/ HTTP\/1\.1\r\n/);
      expect(u.received[0]).toMatch(/\r\ncontent-length: 3\r\n/);
    });

    it('refuses header values with line breaks, bad names, targets with spaces and framing headers, sending nothing', async () => {
      const u = await upstream(() => ok());
      const p = pool(u);
      for (const req of [
        { headers: ['host', 'x.test', 'x-a', 'b\r\nx-injected: 1'] },
        { headers: ['host', 'x.test', 'bad name', 'v'] },
        { path: '/a b' },
        { method: 'GET /x' },
        { headers: ['host', 'x.test', 'transfer-encoding', 'chunked'], body: Buffer.from('a') },
        {
          headers: ['host', 'x.test', 'content-length', '1', 'content-length', '1'],
          body: Buffer.from('a'),
        },
        { headers: ['host', 'x.test', 'content-length', '2'], body: Buffer.from('a') },
        { headers: ['host', 'x.test', 'content-length', '+1'], body: Buffer.from('a') },
      ]) {
        const err = await failure(send(p, req));
        expect(err.code).toBe(BAD_REQUEST);
        expect(upstreamRequestWritten(err)).toBe(false);
      }
      await tick(20);
      expect(u.heads).toEqual([]);
    });

    it('sends nothing for a streamed body that was destroyed before its turn', async () => {
      const u = await upstream(() => ok());
      const p = pool(u);
      const stream = new PassThrough();
      stream.on('error', () => undefined);
      stream.destroy(new Error('bad chunk'));
      const err = await failure(
        send(p, {
          method: 'POST',
          headers: ['host', 'x.test', 'content-length', '5'],
          body: stream,
        }),
      );
      expect(err.code).toBe(REQUEST_BODY_ABORTED);
      expect(upstreamRequestWritten(err)).toBe(false);
      await tick(20);
      expect(u.heads).toEqual([]);
    });
  });

  describe('https upstreams', () => {
    /** a TLS server with a certificate for `name` that answers every request with its SNI name */
    async function tlsUpstream(
      name: string,
    ): Promise<{ port: number; cert: string; served: () => number }> {
      const pems = await selfsigned.generate([{ name: 'commonName', value: name }], {
        keyType: 'ec',
        curve: 'P-256',
        algorithm: 'sha256',
        extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: name }] }],
      });
      let served = 0;
      let connections = 0;
      const server = createTlsServer(
        { key: pems.private, cert: pems.cert },
        (socket: TLSSocket) => {
          connections++;
          socket.on('error', () => undefined);
          let buf = '';
          socket.on('data', (d: Buffer) => {
            buf += d.toString('latin1');
            while (buf.includes('\r\n\r\n')) {
              buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
              served++;
              const resumed = socket.isSessionReused() ? ' resumed' : '';
              socket.write(ok(`${String(socket.servername)} conn${connections}${resumed}`));
            }
          });
        },
      );
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
      return {
        port: (server.address() as { port: number }).port,
        cert: pems.cert,
        served: () => served,
      };
    }

    const tlsPool = (port: number, tls: NonNullable<H1PoolOptions['tls']>): H1Pool => {
      const p = new H1Pool(`https://127.0.0.1:${port}`, { ...BASE, client: kind, tls });
      cleanups.push(() => p.close());
      return p;
    };

    it('verifies the certificate against rootCAs for serverName, and reuses the connection', async () => {
      const u = await tlsUpstream('backend.test');
      const p = tlsPool(u.port, {
        rejectUnauthorized: true,
        servername: 'backend.test',
        ca: [u.cert],
      });
      expect((await send(p)).body).toBe('backend.test conn1');
      await tick(10);
      expect((await send(p)).body).toBe('backend.test conn1');
    });

    it('resumes the TLS session on a new connection to the same origin', async () => {
      const u = await tlsUpstream('backend.test');
      const p = tlsPool(u.port, {
        rejectUnauthorized: true,
        servername: 'backend.test',
        ca: [u.cert],
      });
      expect((await send(p)).body).toBe('backend.test conn1');
      await tick(50);
      // two at once: the idle connection serves one, a new one (resuming) the other
      const both = await Promise.all([send(p), send(p)]);
      expect(both.map((r) => r.body).sort()).toEqual([
        'backend.test conn1',
        'backend.test conn2 resumed',
      ]);
    });

    it('refuses a certificate it cannot verify, sending no request', async () => {
      const u = await tlsUpstream('backend.test');
      const p = tlsPool(u.port, { rejectUnauthorized: true, servername: 'backend.test' });
      const err = await failure(send(p));
      expect(err.code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
      expect(u.served()).toBe(0);
    });

    it('skips verification with insecureSkipVerify and sends no IP address as SNI', async () => {
      const u = await tlsUpstream('backend.test');
      const p = tlsPool(u.port, { rejectUnauthorized: false });
      expect((await send(p)).body).toBe('false conn1');
    });

    it('needs TLS settings for an https origin and none for http', () => {
      expect(() => new H1Pool('https://127.0.0.1:1', { ...BASE, client: kind })).toThrow(
        /TLS settings/,
      );
      expect(
        () =>
          new H1Pool('http://127.0.0.1:1', {
            ...BASE,
            client: kind,
            tls: { rejectUnauthorized: true },
          }),
      ).toThrow(/TLS settings/);
    });
  });

  describe('request body framing (issue 11 item 1)', () => {
    it('a streamed body that ends short of its Content-Length fails and its connection is not reused', async () => {
      const u = await framingUpstream(0, /^POST/);
      const p = pool(u);
      const body = new PassThrough();
      const pending = failure(
        send(p, {
          method: 'POST',
          path: '/short',
          headers: ['host', 'x.test', 'content-length', '10'],
          body,
        }),
      );
      body.write('abc');
      await eventually(() => expect(u.requests[0]?.body).toBe('abc'));
      body.end();
      const err = await pending;
      expect(err.code).toBe(REQUEST_BODY_LENGTH);
      // the next request goes on a fresh connection: nothing of it completes the short body
      expect((await send(p, { path: '/next' })).body).toBe('answer');
      expect(u.requests.map((r) => [r.conn, r.line])).toEqual([
        [0, 'POST /short HTTP/1.1'],
        [1, 'GET /next HTTP/1.1'],
      ]);
      expect(u.requests[0]!.body).toBe('abc');
    });

    it('a streamed body that runs past its Content-Length fails and its connection is not reused', async () => {
      const u = await framingUpstream(0, /^POST/);
      const p = pool(u);
      const body = new PassThrough();
      const pending = failure(
        send(p, {
          method: 'POST',
          path: '/long',
          headers: ['host', 'x.test', 'content-length', '3'],
          body,
        }),
      );
      body.write('ab');
      await eventually(() => expect(u.requests[0]?.body).toBe('ab'));
      body.end('cGET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n');
      expect((await pending).code).toBe(REQUEST_BODY_LENGTH);
      expect((await send(p, { path: '/next' })).body).toBe('answer');
      expect(u.requests.map((r) => r.line)).toEqual(['POST /long HTTP/1.1', 'GET /next HTTP/1.1']);
    });

    it('a chunked body that breaks off gets no terminating chunk', async () => {
      const u = await upstream(() => ok());
      const p = pool(u);
      const body = new PassThrough();
      const pending = failure(send(p, { method: 'POST', path: '/chunked', body }));
      body.write('hello');
      await eventually(() => expect(u.received[0]).toContain('hello'));
      body.destroy(new Error('client went away'));
      expect((await pending).code).toBe(REQUEST_BODY_ABORTED);
      await eventually(() => expect(u.sockets[0]!.destroyed).toBe(true));
      expect(u.received[0]).not.toContain('0\r\n\r\n');
      expect(u.heads).toEqual([]);
    });

    it('a connection is reused only after the request body was written whole', async () => {
      // the upstream answers on the head, before the body has arrived
      const u = await framingUpstream(0);
      const p = pool(u);
      const body = new PassThrough();
      const first = send(p, {
        method: 'POST',
        path: '/early',
        headers: ['host', 'x.test', 'content-length', '6'],
        body,
      });
      body.write('abc');
      expect((await first).body).toBe('answer');
      body.end('def');
      expect((await send(p, { path: '/next' })).body).toBe('answer');
      expect(u.requests.map((r) => [r.conn, r.line])).toEqual([
        [0, 'POST /early HTTP/1.1'],
        [1, 'GET /next HTTP/1.1'],
      ]);
    });

    /**
     * An HTTP/2 server whose requests are handed to the pool only once the
     * client's RST_STREAM has been processed (as a slow middleware would), by
     * a caller that does not abort: the client itself must see the reset.
     */
    async function resetH2Body(
      headers: http2.OutgoingHttpHeaders,
    ): Promise<http2.Http2ServerRequest> {
      const server = http2.createServer();
      const arrived = new Promise<http2.Http2ServerRequest>((resolve) =>
        server.on('request', (req: http2.Http2ServerRequest) => {
          req.on('close', () => resolve(req));
        }),
      );
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const session = http2.connect(
        `http://127.0.0.1:${(server.address() as { port: number }).port}`,
      );
      session.on('error', () => undefined);
      cleanups.push(
        () =>
          new Promise<void>((r) => {
            session.destroy();
            server.close(() => r());
          }),
      );
      const s = session.request(
        { ':method': 'POST', ':path': '/', ...headers },
        { endStream: false },
      );
      s.on('error', () => undefined);
      s.write('0123456789', () => s.close(http2.constants.NGHTTP2_CANCEL));
      return arrived;
    }

    it.each([
      ['with a content-length', { 'content-length': '33' }],
      ['without one (chunked upstream)', {}],
    ])(
      'h2: a request reset before it went upstream (%s) never reaches it as a whole request',
      async (_label, headers) => {
        const u = await framingUpstream(100);
        const p = pool(u);
        const req = await resetH2Body(headers);
        const declared = (headers as Record<string, string>)['content-length'];
        const first = failure(
          send(p, {
            method: 'POST',
            path: '/upload',
            headers: ['host', 'x.test', ...(declared ? ['content-length', declared] : [])],
            body: req,
          }),
        );
        expect([REQUEST_BODY_ABORTED, REQUEST_BODY_LENGTH]).toContain((await first).code);
        const smuggled = 'GET /admin-secret HTTP/1.1\r\nhost: x\r\n\r\n';
        const second = await send(p, {
          method: 'POST',
          path: '/public',
          headers: ['host', 'x.test'],
          body: Buffer.from('x'.repeat(23) + smuggled),
        });
        expect(second.body).toBe('answer');
        expect(u.requests.map((q) => q.line)).not.toContain('GET /admin-secret HTTP/1.1');
        expect(u.received.join('')).not.toMatch(/0123456789\r\n0\r\n\r\n/);
        expect(u.requests.at(-1)!.line).toBe('POST /public HTTP/1.1');
      },
    );

    it('h2: a stream reset short of its content-length never lets the next stream complete it', async () => {
      const u = await framingUpstream(150);
      const pems = await selfsigned.generate([{ name: 'commonName', value: 'secure.test' }], {
        keyType: 'ec',
        curve: 'P-256',
        algorithm: 'sha256',
        extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'secure.test' }] }],
      });
      const securePort = await freePort();
      const r = await startRouter(
        {
          http: {
            routers: {
              r: { rule: 'PathPrefix(`/`)', service: 's', entryPoints: ['websecure'], tls: {} },
            },
            services: {
              s: { loadBalancer: { servers: [{ url: `http://127.0.0.1:${u.port}` }] } },
            },
          },
          tls: { certificates: [{ certFile: pems.cert, keyFile: pems.private }] },
        },
        {
          flags: [
            `--entryPoints.websecure.address=127.0.0.1:${securePort}`,
            '--entryPoints.websecure.http.tls',
          ],
        },
      );
      cleanups.push(() => r.close());
      const session = http2.connect(`https://127.0.0.1:${securePort}`, {
        servername: 'secure.test',
        rejectUnauthorized: false,
      });
      session.on('error', () => undefined);
      cleanups.push(() => void session.destroy());

      // stream 1: declares 33 bytes, sends 10, is cancelled once the upstream has its head
      const s1 = session.request(
        {
          ':method': 'POST',
          ':path': '/upload',
          ':authority': 'secure.test',
          'content-length': '33',
        },
        { endStream: false },
      );
      s1.on('error', () => undefined);
      s1.write('0123456789');
      await eventually(() => expect(u.received[0]).toContain('0123456789'));
      s1.close(http2.constants.NGHTTP2_CANCEL);
      // the upstream connection is closed, or answered (then it must not be reused)
      await eventually(() => expect(u.answered + u.closed).toBeGreaterThan(0));
      await tick(50);

      // stream 2: a request whose body holds another request
      const smuggled = 'GET /admin-secret HTTP/1.1\r\nhost: x\r\n\r\n';
      const body2 = 'x'.repeat(23) + smuggled;
      const status = await new Promise<number>((resolve, reject) => {
        const s2 = session.request({
          ':method': 'POST',
          ':path': '/public',
          ':authority': 'secure.test',
          'content-length': String(body2.length),
        });
        let st = 0;
        s2.on('response', (h) => (st = Number(h[':status'])));
        s2.on('error', reject);
        s2.on('data', () => undefined);
        s2.on('end', () => resolve(st));
        s2.end(body2);
      });
      expect(status).toBe(200);
      // stream 1's body is never completed by stream 2's bytes, and no request the router did not send
      expect(u.requests.map((q) => q.line)).toEqual([
        'POST /upload HTTP/1.1',
        'POST /public HTTP/1.1',
      ]);
      expect(u.requests[0]!.body).toBe('0123456789');
      expect(u.requests[1]!.body).toBe(body2);
      expect(u.requests[1]!.conn).not.toBe(u.requests[0]!.conn);
    });
  });
});

/**
 * An upstream that frames requests by their Content-Length and answers each
 * one `delayMs` after its head arrived, without waiting for the body (as many
 * servers answer before reading a body). Records every request it parsed.
 */
async function framingUpstream(
  delayMs: number,
  /** request lines never answered */
  hold?: RegExp,
): Promise<{
  port: number;
  requests: { conn: number; line: string; body: string }[];
  answered: number;
  closed: number;
  received: string[];
}> {
  const state = {
    port: 0,
    requests: [] as { conn: number; line: string; body: string }[],
    answered: 0,
    closed: 0,
    received: [] as string[],
  };
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    const conn = state.received.length;
    state.received.push('');
    socket.on('error', () => undefined);
    socket.on('close', () => state.closed++);
    let buf = '';
    let owed = 0;
    let current: { conn: number; line: string; body: string } | null = null;
    socket.on('data', (d: Buffer) => {
      state.received[conn] += d.toString('latin1');
      buf += d.toString('latin1');
      for (;;) {
        if (current !== null && owed > 0) {
          const take = buf.slice(0, owed);
          current.body += take;
          owed -= take.length;
          buf = buf.slice(take.length);
          if (owed > 0) return;
        }
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
        owed = cl ? Number(cl[1]) : 0;
        current = { conn, line: head.split('\r\n')[0]!, body: '' };
        state.requests.push(current);
        if (hold?.test(current.line)) continue;
        setTimeout(() => {
          if (socket.destroyed) return;
          state.answered++;
          socket.write(ok('answer'));
        }, delayMs);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as { port: number }).port;
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return state;
}
