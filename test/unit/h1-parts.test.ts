/*
 * The HTTP/1.1 client's pieces on their own: the checks on a request before a
 * byte is written and whether it may be sent again (src/proxy/h1-request.ts),
 * and one native connection (src/proxy/h1-connection.ts) driven by a small
 * owner instead of the pool, against a raw TCP upstream on loopback.
 */
import net from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { NativeConnection } from '../../src/proxy/h1-connection.js';
import type { ConnectionOwner } from '../../src/proxy/h1-request.js';
import { nativeHttpParser } from '../../src/proxy/h1-parser.js';
import {
  bodyAborted,
  checkRequest,
  replayable,
  type H1Handler,
  type H1PoolOptions,
  type H1Request,
  type Pending,
  type PoolConnection,
} from '../../src/proxy/h1-request.js';

const req = (over: Partial<H1Request> = {}): H1Request => ({
  method: 'GET',
  path: '/',
  headers: ['host', 'up.test'],
  body: null,
  ...over,
});

describe('checkRequest', () => {
  it.each([
    [{}, -1],
    [
      { method: 'POST', headers: ['host', 'a', 'Content-Length', '3'], body: Buffer.from('abc') },
      3,
    ],
    [{ headers: ['host', 'a', 'content-length', '0'] }, 0],
  ])('%j declares %i', (over, declared) => {
    expect(checkRequest(req(over))).toBe(declared);
  });

  it.each([
    [{ path: '' }, 'invalid request target'],
    [{ path: '/a b' }, 'invalid request target'],
    [{ method: 'GE T' }, 'invalid method'],
    [{ headers: ['bad name', 'x'] }, 'invalid request header'],
    [{ headers: ['x-a', 'a\r\nb'] }, 'invalid request header'],
    [
      { headers: ['content-length', '1', 'Content-Length', '1'] },
      'invalid or repeated Content-Length',
    ],
    [{ headers: ['content-length', '-1'] }, 'invalid or repeated Content-Length'],
    [{ headers: ['transfer-encoding', 'chunked'] }, 'a Transfer-Encoding header'],
    [{ headers: ['content-length', '5'], body: Buffer.from('abc') }, 'request body length differs'],
  ])('refuses %j with PORTICO_ERR_BAD_REQUEST', (over, message) => {
    expect(() => checkRequest(req(over))).toThrow(message);
    expect(() => checkRequest(req(over))).toThrow(
      expect.objectContaining({ code: 'PORTICO_ERR_BAD_REQUEST' }),
    );
  });
});

describe('replayable', () => {
  it.each([
    [{ method: 'GET' }, true],
    [{ method: 'HEAD' }, true],
    [{ method: 'OPTIONS' }, true],
    [{ method: 'TRACE' }, true],
    [{ method: 'POST' }, false],
    [{ method: 'POST', headers: ['Idempotency-Key', 'k'] }, true],
    [{ method: 'PUT', headers: ['x-idempotency-key', 'k'] }, true],
    [{ method: 'GET', body: new PassThrough() }, false],
  ])('%j → %s', (over, expected) => {
    expect(replayable(req(over as Partial<H1Request>))).toBe(expected);
  });
});

describe('bodyAborted', () => {
  it('a body destroyed before its end broke off; one read to its end did not', async () => {
    const cut = new PassThrough();
    cut.destroy();
    expect(bodyAborted(cut)).toBe(true);
    const whole = Readable.from(['x']);
    whole.resume();
    await new Promise((r) => whole.once('end', r));
    expect(bodyAborted(whole)).toBe(false);
  });
});

describe.skipIf(nativeHttpParser() === null)('NativeConnection', () => {
  const servers: net.Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  });

  /** a raw upstream that answers every request head with `answer` */
  async function upstream(answer: string): Promise<number> {
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      let buf = '';
      socket.on('data', (d) => {
        buf += d.toString('latin1');
        while (buf.includes('\r\n\r\n')) {
          buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
          socket.write(answer);
        }
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as net.AddressInfo).port;
  }

  function owner() {
    const events: string[] = [];
    const options: H1PoolOptions = {
      maxIdleConnections: 2,
      dialTimeoutMs: 5000,
      headersTimeoutMs: 5000,
      idleTimeoutMs: 60_000,
      maxHeaderSize: 16 * 1024,
    };
    const o: ConnectionOwner = {
      options,
      tlsSession: undefined,
      release: () => events.push('release'),
      forget: () => events.push('forget'),
      fail: (_p, err) => events.push(`fail ${err.message}`),
    };
    return { o, events };
  }

  function exchange(conn: PoolConnection, events: string[]): Promise<string> {
    return new Promise((resolve) => {
      let body = '';
      const handler: H1Handler = {
        onConnect: () => undefined,
        onHeaders: (status) => {
          events.push(`headers ${status}`);
          return true;
        },
        onData: (chunk) => {
          body += chunk.toString();
          return true;
        },
        onComplete: () => resolve(body),
        onError: (err) => resolve(`error ${err.message}`),
      };
      const p: Pending = { req: req(), handler, retried: false, written: false, declared: -1 };
      conn.start(p);
    });
  }

  it('a keep-alive response goes back to its owner once parsed', async () => {
    const port = await upstream('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    const { o, events } = owner();
    const conn = new NativeConnection(o, '127.0.0.1', port, nativeHttpParser()!);
    expect(await exchange(conn, events)).toBe('ok');
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual(['headers 200', 'release']);
    expect(conn.served).toBe(1);
    conn.destroy();
    expect(events.at(-1)).toBe('forget');
  });

  it('a response with connection: close is not given back', async () => {
    const port = await upstream(
      'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok',
    );
    const { o, events } = owner();
    const conn = new NativeConnection(o, '127.0.0.1', port, nativeHttpParser()!);
    expect(await exchange(conn, events)).toBe('ok');
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual(['headers 200', 'forget']);
    expect(conn.dead).toBe(true);
  });

  it('a malformed status line fails the request with the reason', async () => {
    const port = await upstream('HTTP/1.1 2000 OK\r\n\r\n');
    const { o, events } = owner();
    const conn = new NativeConnection(o, '127.0.0.1', port, nativeHttpParser()!);
    void exchange(conn, events);
    const deadline = Date.now() + 5000;
    while (!events.some((e) => e.startsWith('fail')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(events.find((e) => e.startsWith('fail'))).toMatch(/^fail invalid upstream response: /);
    expect(conn.dead).toBe(true);
  });
});
