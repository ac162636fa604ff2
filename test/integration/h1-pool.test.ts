/*
 * Portico's HTTP/1.1 upstream client (src/proxy/h1-pool.ts) against real TCP
 * servers on 127.0.0.1 that write exact bytes: keep-alive reuse, connections
 * the upstream closes, unsolicited bytes, interim responses, trailers, HEAD,
 * close-delimited and truncated bodies, limits and timeouts.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import selfsigned from 'selfsigned';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BAD_REQUEST,
  BAD_RESPONSE,
  H1Pool,
  HEADERS_TIMEOUT,
  UPSTREAM_CLOSED,
  type H1PoolOptions,
  type H1Request,
} from '../../src/proxy/h1-pool.js';

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

function pool(u: Upstream, opts: Partial<H1PoolOptions> = {}): H1Pool {
  const p = new H1Pool(`http://127.0.0.1:${u.port}`, {
    maxConnections: 0,
    dialTimeoutMs: 5000,
    headersTimeoutMs: 0,
    idleTimeoutMs: 90_000,
    maxHeaderSize: 64 * 1024,
    ...opts,
  });
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

describe('keep-alive', () => {
  it('sends sequential requests over one connection and keeps header case and order', async () => {
    const u = await upstream((head, _b, _s, i) => ok(`r${i}`, 'X-Mixed-Case: a\r\nx-b: 1\r\n'));
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
    await tick(100);
    expect(p.connections).toBe(0);
    expect((await send(p)).status).toBe(200);
    expect(u.connections).toBe(2);
  });

  it('sends an idempotent request again when a reused connection closes under it', async () => {
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
    const again = await send(p, { path: '/again' });
    expect(again.body).toBe('r2');
    expect(u.heads).toEqual(['GET / HTTP/1.1', 'GET /again HTTP/1.1', 'GET /again HTTP/1.1']);
    expect(u.connections).toBe(2);
  });

  it('does not send a POST again: the caller gets the failure', async () => {
    const u = await upstream((_h, _b, socket, i) => {
      if (i === 1) {
        socket.destroy();
        return null;
      }
      return ok();
    });
    const p = pool(u);
    await send(p);
    const err = await send(p, {
      method: 'POST',
      headers: ['host', 'x.test', 'content-length', '2'],
      body: Buffer.from('hi'),
    }).catch((e: Error & { code?: string }) => e);
    expect((err as { code?: string }).code).toBe(UPSTREAM_CLOSED);
    expect(u.heads.filter((h) => h.startsWith('POST'))).toHaveLength(1);
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
    await tick(80);
    const next = await send(p);
    expect(next.body).toBe('r1');
    expect(u.connections).toBe(2);
  });

  it('closes connections idle longer than the idle timeout', async () => {
    const u = await upstream(() => ok());
    const p = pool(u, { idleTimeoutMs: 200 });
    await send(p);
    expect(p.connections).toBe(1);
    await tick(600);
    expect(p.connections).toBe(0);
  });

  it('queues requests beyond maxConnections and serves them in order', async () => {
    const u = await upstream((_h, _b, socket, i) => {
      setTimeout(() => socket.write(ok(`r${i}`)), 30);
      return null;
    });
    const p = pool(u, { maxConnections: 1 });
    const all = await Promise.all([send(p, { path: '/1' }), send(p, { path: '/2' })]);
    expect(all.map((r) => r.body)).toEqual(['r0', 'r1']);
    expect(u.connections).toBe(1);
  });
});

describe('responses', () => {
  it('skips interim 1xx responses', async () => {
    const u = await upstream(
      () =>
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n' + ok('final'),
    );
    const r = await send(pool(u));
    expect([r.status, r.body]).toEqual([200, 'final']);
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
    expect(u.connections).toBe(1);
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
    await tick(20);
    expect(p.connections).toBe(0);
  });

  it('fails a body cut short of its Content-Length', async () => {
    const u = await upstream((_h, _b, socket) => {
      socket.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort');
      return null;
    });
    const err = (await send(pool(u)).catch((e: unknown) => e)) as { code?: string };
    expect(err.code).toBe(UPSTREAM_CLOSED);
  });

  it('refuses a response that is not HTTP, and one with two Content-Lengths', async () => {
    const garbage = await upstream(() => 'SSH-2.0-OpenSSH\r\n\r\n');
    expect(((await send(pool(garbage)).catch((e: unknown) => e)) as { code?: string }).code).toBe(
      BAD_RESPONSE,
    );
    const twice = await upstream(
      () => 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nabc',
    );
    const err = (await send(pool(twice)).catch((e: unknown) => e)) as Error & { code?: string };
    expect(err.code).toBe(BAD_RESPONSE);
    expect(err.message).toMatch(/content-length/i);
  });

  it('times out waiting for response headers', async () => {
    const u = await upstream(() => null);
    const err = (await send(pool(u, { headersTimeoutMs: 100 })).catch((e: unknown) => e)) as {
      code?: string;
    };
    expect(err.code).toBe(HEADERS_TIMEOUT);
  });

  it('reports a refused connection with its errno code', async () => {
    const u = await upstream(() => ok());
    const port = u.port;
    await new Promise<void>((r) => u.server.close(() => r()));
    const p = new H1Pool(`http://127.0.0.1:${port}`, {
      maxConnections: 0,
      dialTimeoutMs: 5000,
      headersTimeoutMs: 0,
      idleTimeoutMs: 1000,
      maxHeaderSize: 65536,
    });
    cleanups.push(() => p.close());
    const err = (await send(p).catch((e: unknown) => e)) as { code?: string };
    expect(err.code).toBe('ECONNREFUSED');
  });
});

describe('requests', () => {
  it('sends a streamed body of unknown length chunked, and a whole one with its length', async () => {
    const u = await upstream((head, body) => ok(`${body.length}:${body}`));
    const p = pool(u);
    const stream = new PassThrough();
    const pending = send(p, { method: 'POST', body: stream });
    stream.write('hello ');
    setTimeout(() => stream.end('world'), 20);
    expect((await pending).body).toBe('11:hello world');
    expect(u.received[0]).toMatch(/transfer-encoding: chunked\r\n/);
    const whole = await send(p, { method: 'PUT', body: Buffer.from('abc') });
    expect(whole.body).toBe('3:abc');
    expect(u.received[0]).toMatch(/PUT \/ HTTP\/1\.1\r\nhost: x\.test\r\ncontent-length: 3\r\n/);
  });

  it('refuses header values with line breaks and targets with spaces, sending nothing', async () => {
    const u = await upstream(() => ok());
    const p = pool(u);
    for (const req of [
      { headers: ['host', 'x.test', 'x-a', 'b\r\nx-injected: 1'] },
      { headers: ['host', 'x.test', 'bad name', 'v'] },
      { path: '/a b' },
    ]) {
      const err = (await send(p, req).catch((e: unknown) => e)) as { code?: string };
      expect(err.code).toBe(BAD_REQUEST);
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
    const err = (await send(p, {
      method: 'POST',
      headers: ['host', 'x.test', 'content-length', '5'],
      body: stream,
    }).catch((e: unknown) => e)) as { code?: string };
    expect(err.code).toBe(UPSTREAM_CLOSED);
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
    const server = createTlsServer({ key: pems.private, cert: pems.cert }, (socket: TLSSocket) => {
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
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    return {
      port: (server.address() as { port: number }).port,
      cert: pems.cert,
      served: () => served,
    };
  }

  const tlsPool = (port: number, tls: NonNullable<H1PoolOptions['tls']>): H1Pool => {
    const p = new H1Pool(`https://127.0.0.1:${port}`, {
      maxConnections: 0,
      dialTimeoutMs: 5000,
      headersTimeoutMs: 0,
      idleTimeoutMs: 90_000,
      maxHeaderSize: 65536,
      tls,
    });
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
    const err = (await send(p).catch((e: unknown) => e)) as Error & { code?: string };
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
    expect(u.served()).toBe(0);
  });

  it('skips verification with insecureSkipVerify and sends no IP address as SNI', async () => {
    const u = await tlsUpstream('backend.test');
    const p = tlsPool(u.port, { rejectUnauthorized: false });
    expect((await send(p)).body).toBe('false conn1');
  });

  it('needs TLS settings for an https origin and none for http', () => {
    const base = {
      maxConnections: 0,
      dialTimeoutMs: 1,
      headersTimeoutMs: 0,
      idleTimeoutMs: 1,
      maxHeaderSize: 1,
    };
    expect(() => new H1Pool('https://127.0.0.1:1', base)).toThrow(/TLS settings/);
    expect(
      () => new H1Pool('http://127.0.0.1:1', { ...base, tls: { rejectUnauthorized: true } }),
    ).toThrow(/TLS settings/);
  });
});
