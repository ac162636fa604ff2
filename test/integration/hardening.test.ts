/*
 * The entrypoint against hostile bytes: raw TCP requests (exact bytes, no
 * client library to tidy them up) sent to a router in front of a real
 * upstream. Every malformed or ambiguously framed request must be refused at
 * the edge and never reach the upstream; path normalisation must give routing
 * and forwarding the same path.
 */
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { WebSocketServer } from 'ws';
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import type { Upstream } from '../helpers/upstream.js';
import { simpleRoute } from '../helpers/portico.js';
import { useCleanups } from '../helpers/scope.js';
import { eventually } from '../helpers/eventually.js';
import { routeByAlpn, withoutH2 } from '../../src/server/entrypoint.js';
import { generateDefaultCertificate } from '../../src/tls/default-certificate.js';
import {
  connectH2,
  FLAG,
  frame,
  FRAME,
  getRequest,
  headerBlock,
  headersFrame,
  serverSettings,
  SETTING,
} from '../helpers/h2-frames.js';

const scope = useCleanups();
const { router } = scope;

interface Watched extends Upstream {
  /** request heads that reached the upstream, complete or not (`seen` only lists completed ones) */
  arrivals: string[];
  /** TCP connections the router opened to the upstream */
  connections: number;
}

async function upstream(): Promise<Watched> {
  const u = (await scope.upstream()) as Watched;
  u.arrivals = [];
  u.connections = 0;
  u.server.on('request', (req) => u.arrivals.push(`${req.method} ${req.url}`));
  u.server.on('connection', () => u.connections++);
  return u;
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface RawResult {
  /** everything the router wrote back */
  raw: string;
  responses: RawResponse[];
  /** the router closed the connection */
  closed: boolean;
}

/** Parses as many complete HTTP/1.1 responses as `raw` holds (Content-Length or chunked bodies). */
function parseResponses(raw: string): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = raw;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) return out;
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
    if (m === null) return out;
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    let body = '';
    let next = end + 4;
    if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const lineEnd = rest.indexOf('\r\n', next);
        if (lineEnd === -1) return out;
        const size = parseInt(rest.slice(next, lineEnd), 16);
        if (rest.length < lineEnd + 2 + size + 2) return out;
        body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
        next = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
    } else {
      const length = Number(headers['content-length'] ?? 0);
      if (rest.length < next + length) return out;
      body = rest.slice(next, next + length);
      next += length;
    }
    out.push({ status: Number(m[1]), headers, body });
    rest = rest.slice(next);
  }
}

/**
 * Writes `parts` to the router in order (`gapMs` apart) and reads until the
 * router closes, `expect` responses are complete, or `timeoutMs` passes. The
 * client never half-closes: that would abort in-flight requests by itself.
 */
function raw(
  port: number,
  parts: string | (string | Buffer)[],
  opts: { expect?: number; timeoutMs?: number; gapMs?: number; tls?: boolean } = {},
): Promise<RawResult> {
  const { expect: want = Infinity, timeoutMs = 3000, gapMs = 0 } = opts;
  const list = typeof parts === 'string' ? [parts] : parts;
  return new Promise((resolve) => {
    // over TLS, ALPN offers only http/1.1: the server must not pick h2
    const socket = opts.tls
      ? tls.connect({
          host: '127.0.0.1',
          port,
          ALPNProtocols: ['http/1.1'],
          rejectUnauthorized: false,
        })
      : net.connect(port, '127.0.0.1');
    let data = '';
    let closed = false;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ raw: data, responses: parseResponses(data), closed });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      if (parseResponses(data).length >= want) finish();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.on(opts.tls ? 'secureConnect' : 'connect', async () => {
      for (let i = 0; i < list.length; i++) {
        if (i > 0 && gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
        if (socket.destroyed) return;
        socket.write(list[i]!);
      }
    });
  });
}

/**
 * Nothing reached the upstream, now or a little later (a late forward would show up). With
 * connectAllowed, the router may have opened a connection (it began forwarding a valid head whose
 * body then failed to parse) but not a byte of a request may have crossed it.
 */
async function expectUntouched(u: Watched, opts: { connectAllowed?: boolean } = {}): Promise<void> {
  expect(u.arrivals).toEqual([]);
  expect(u.seen).toHaveLength(0);
  await new Promise((r) => setTimeout(r, 150));
  expect(u.arrivals).toEqual([]);
  expect(u.seen).toHaveLength(0);
  if (opts.connectAllowed !== true) expect(u.connections).toBe(0);
}

const H = 'Host: a.test\r\n';

describe('malformed and ambiguously framed requests never reach the upstream', () => {
  interface Case {
    name: string;
    request: string | Buffer;
    status: number;
    /** what Node's strict parser (llhttp) does with it on its own */
    node: string;
    /**
     * 'body': the head is valid, so Node emits the request before the parser fails in the body; the
     * router may open a connection to the upstream but must not send it a byte of the request
     */
    stage?: 'body';
  }
  const P = 'POST / HTTP/1.1\r\n' + H;
  const G = 'GET / HTTP/1.1\r\n' + H;
  const cases: Case[] = [
    // framing: Content-Length and Transfer-Encoding
    {
      name: 'Content-Length with Transfer-Encoding: chunked',
      request: `${P}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX`,
      status: 400,
      node: "HPE_INVALID_TRANSFER_ENCODING (Transfer-Encoding can't be present with Content-Length)",
    },
    {
      name: 'Transfer-Encoding: chunked before Content-Length',
      request: `${P}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`,
      status: 400,
      node: 'HPE_INVALID_TRANSFER_ENCODING',
    },
    {
      name: 'two different Content-Length headers',
      request: `${P}Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde`,
      status: 400,
      node: 'HPE_UNEXPECTED_CONTENT_LENGTH (Duplicate Content-Length)',
    },
    {
      name: 'two identical Content-Length headers',
      request: `${P}Content-Length: 4\r\nContent-Length: 4\r\n\r\nabcd`,
      status: 400,
      node: 'HPE_UNEXPECTED_CONTENT_LENGTH: any repeat is refused, even with equal values',
    },
    {
      name: 'a Content-Length list',
      request: `${P}Content-Length: 4, 4\r\n\r\nabcd`,
      status: 400,
      node: 'HPE_INVALID_CONTENT_LENGTH',
    },
    {
      name: 'a negative Content-Length',
      request: `${P}Content-Length: -1\r\n\r\n`,
      status: 400,
      node: 'HPE_INVALID_CONTENT_LENGTH',
    },
    {
      name: 'a signed Content-Length',
      request: `${P}Content-Length: +3\r\n\r\nabc`,
      status: 400,
      node: 'HPE_INVALID_CONTENT_LENGTH',
    },
    {
      name: 'a Content-Length overflow',
      request: `${P}Content-Length: 99999999999999999999999\r\n\r\nabc`,
      status: 400,
      node: 'HPE_INVALID_CONTENT_LENGTH (Content-Length overflow)',
    },
    {
      name: 'Transfer-Encoding: chunked, identity',
      request: `${P}Transfer-Encoding: chunked, identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
      status: 400,
      node: 'HPE_INVALID_TRANSFER_ENCODING: chunked must be the final coding',
    },
    {
      name: 'two Transfer-Encoding: chunked headers',
      request: `${P}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
      status: 400,
      node: 'HPE_INVALID_TRANSFER_ENCODING',
    },
    {
      name: 'Transfer-Encoding: xchunked',
      request: `${P}Transfer-Encoding: xchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
      status: 501,
      node: 'emits the request, then HPE_INVALID_TRANSFER_ENCODING at the body; Portico answers 501 first',
      stage: 'body',
    },
    {
      name: 'Transfer-Encoding: gzip (not chunked)',
      request: `${P}Transfer-Encoding: gzip\r\n\r\nabc`,
      status: 501,
      node: 'emits the request, then HPE_INVALID_TRANSFER_ENCODING at the body; Portico answers 501 first',
      stage: 'body',
    },
    {
      name: 'Transfer-Encoding: identity, chunked',
      request: `${P}Transfer-Encoding: identity, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
      status: 501,
      node: 'ACCEPTED (chunked is last); Portico forwards only plain chunked',
    },
    {
      name: 'Transfer-Encoding: gzip, chunked',
      request: `${P}Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
      status: 501,
      node: 'ACCEPTED; dropping the hop-by-hop header would forward a gzip body as plain',
    },
    // chunked bodies
    {
      name: 'an invalid chunk size',
      request: `${P}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
      status: 400,
      node: 'emits the request, then HPE_INVALID_CHUNK_SIZE',
      stage: 'body',
    },
    {
      name: 'a chunk size overflow',
      request: `${P}Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF1\r\nabc\r\n0\r\n\r\n`,
      status: 400,
      node: 'emits the request, then HPE_INVALID_CHUNK_SIZE (Chunk size overflow)',
      stage: 'body',
    },
    {
      name: 'a chunk size line with a bare LF',
      request: `${P}Transfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n`,
      status: 400,
      node: 'emits the request, then HPE_CR_EXPECTED',
      stage: 'body',
    },
    // header syntax
    {
      name: 'obs-fold with a space',
      request: `${G}X-Folded: a\r\n b\r\n\r\n`,
      status: 400,
      node: 'HPE_INVALID_HEADER_TOKEN',
    },
    {
      name: 'obs-fold with a tab',
      request: `${G}X-Folded: a\r\n\tb\r\n\r\n`,
      status: 400,
      node: 'HPE_INVALID_HEADER_TOKEN',
    },
    {
      name: 'obs-fold continuing Transfer-Encoding',
      request: `${P}Transfer-Encoding: identity\r\n chunked\r\n\r\n0\r\n\r\n`,
      status: 400,
      node: 'HPE_INVALID_HEADER_TOKEN',
    },
    {
      name: 'whitespace before the first header',
      request: `GET / HTTP/1.1\r\n ${H}\r\n`,
      status: 400,
      node: 'HPE_UNEXPECTED_SPACE',
    },
    {
      name: 'bare LF line endings throughout',
      request: 'GET / HTTP/1.1\nHost: a.test\n\n',
      status: 400,
      node: 'HPE_INVALID_VERSION (Expected CRLF after version)',
    },
    {
      name: 'a bare LF after a header',
      request: 'GET / HTTP/1.1\r\nHost: a.test\nX-A: b\r\n\r\n',
      status: 400,
      node: 'HPE_CR_EXPECTED',
    },
    {
      name: 'a bare CR inside a header value',
      request: `${G}X-A: b\rc\r\n\r\n`,
      status: 400,
      node: 'HPE_LF_EXPECTED',
    },
    {
      name: 'a space before the colon',
      request: `${G}X-A : b\r\n\r\n`,
      status: 400,
      node: 'HPE_INVALID_HEADER_TOKEN',
    },
    {
      name: 'a space before the colon of Transfer-Encoding',
      request: `${P}Transfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\nabc`,
      status: 400,
      node: 'HPE_INVALID_HEADER_TOKEN',
    },
    {
      name: 'a space inside a header name',
      request: `${G}X A: b\r\n\r\n`,
      status: 400,
      node: 'HPE_INVALID_HEADER_TOKEN',
    },
    {
      name: 'NUL in a header value',
      request: `${G}X-A: b\0c\r\n\r\n`,
      status: 400,
      node: 'HPE_INVALID_HEADER_TOKEN (Invalid header value char)',
    },
    // request line
    {
      name: 'a control character in the path',
      request: `GET /a\x01b HTTP/1.1\r\n${H}\r\n`,
      status: 400,
      node: 'HPE_INVALID_URL',
    },
    {
      name: 'a raw non-ASCII byte in the path',
      request: Buffer.from(`GET /caf\xc3\xa9 HTTP/1.1\r\n${H}\r\n`, 'latin1'),
      status: 400,
      node: 'HPE_INVALID_URL',
    },
    {
      name: 'an unknown HTTP version',
      request: `GET / HTTP/1.2\r\n${H}\r\n`,
      status: 400,
      node: 'HPE_INVALID_VERSION',
    },
    {
      name: 'HTTP/0.9 (no version, no headers)',
      request: 'GET /\r\n\r\n',
      status: 400,
      node: 'ACCEPTED as HTTP/0.9',
    },
    {
      name: 'absolute-form with an empty authority',
      request: 'GET http:///p HTTP/1.1\r\nHost: a.test\r\n\r\n',
      status: 400,
      node: 'accepted',
    },
    {
      name: 'absolute-form with userinfo',
      request: 'GET http://u@a.test/p HTTP/1.1\r\nHost: a.test\r\n\r\n',
      status: 400,
      node: 'accepted',
    },
    {
      name: 'asterisk-form on GET',
      request: `GET * HTTP/1.1\r\n${H}\r\n`,
      status: 400,
      node: 'accepted',
    },
    // Host
    {
      name: 'missing Host on HTTP/1.1',
      request: 'GET / HTTP/1.1\r\nX-A: b\r\n\r\n',
      status: 400,
      node: 'answers 400 itself (requireHostHeader), no request event',
    },
    {
      name: 'two Host headers',
      request: `${G}Host: b.test\r\n\r\n`,
      status: 400,
      node: 'ACCEPTED, keeps the first; RFC 9112 §3.2 requires 400',
    },
    {
      name: 'a Host with a space',
      request: 'GET / HTTP/1.1\r\nHost: a.test b\r\n\r\n',
      status: 400,
      node: 'accepted',
    },
    {
      name: 'a Host with a slash',
      request: 'GET / HTTP/1.1\r\nHost: a.test/x\r\n\r\n',
      status: 400,
      node: 'accepted',
    },
    {
      name: 'a Host with userinfo',
      request: 'GET / HTTP/1.1\r\nHost: u@a.test\r\n\r\n',
      status: 400,
      node: 'accepted',
    },
  ];

  it.each(cases)('$name → $status (Node: $node)', async ({ request, status, stage }) => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]));
    const res = await raw(r.port, [request]);
    expect(res.responses[0]?.status, res.raw).toBe(status);
    // the connection is closed after a refusal: the next byte's meaning is unknown
    expect(res.closed).toBe(true);
    expect(res.responses).toHaveLength(1);
    await expectUntouched(u, { connectAllowed: stage === 'body' });
  });

  it.each(cases.filter((c) => c.stage === 'body'))(
    '$name with a warm upstream connection: not a byte crosses it',
    async ({ request, status }) => {
      const u = await upstream();
      const r = await router(simpleRoute([u.url]));
      // an idle keep-alive connection in the pool: undici could write at once
      expect(
        (await raw(r.port, `GET /warm HTTP/1.1\r\n${H}\r\n`, { expect: 1 })).responses[0]?.status,
      ).toBe(200);
      const res = await raw(r.port, [request]);
      expect(res.responses[0]?.status, res.raw).toBe(status);
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(u.arrivals).toEqual(['GET /warm']);
      expect(u.seen.map((s) => s.url)).toEqual(['/warm']);
    },
  );

  it('a header section larger than maxHeaderBytes → 431', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]), {
      flags: ['--entryPoints.web.http.maxHeaderBytes=8192'],
    });
    const res = await raw(r.port, `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(9000)}\r\n\r\n`);
    expect(res.responses[0]?.status, res.raw).toBe(431);
    expect(res.closed).toBe(true);
    await expectUntouched(u);
    // many small headers add up the same way
    const many = Array.from({ length: 200 }, (_, i) => `X-H${i}: ${'v'.repeat(40)}\r\n`).join('');
    expect((await raw(r.port, `GET / HTTP/1.1\r\n${H}${many}\r\n`)).responses[0]?.status).toBe(431);
    // and a header section under the limit goes through
    const ok = await raw(r.port, `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(7000)}\r\n\r\n`, {
      expect: 1,
    });
    expect(ok.responses[0]?.status).toBe(200);
  });

  it('a client slower than readHeaderTimeout gets 408 and a closed connection', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]), {
      flags: ['--entryPoints.web.transport.respondingTimeouts.readHeaderTimeout=300ms'],
    });
    const started = Date.now();
    // a header line every 100 ms: each byte arrives in time, the whole never does
    const drip = Array.from({ length: 30 }, (_, i) => `X-Slow-${i}: x\r\n`);
    const res = await raw(r.port, [`GET / HTTP/1.1\r\n${H}`, ...drip, '\r\n'], {
      gapMs: 100,
      timeoutMs: 5000,
    });
    const elapsed = Date.now() - started;
    expect(res.closed).toBe(true);
    expect(res.responses[0]?.status, res.raw).toBe(408);
    // closed near the deadline, long before the drip would have finished (3 s)
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2000);
    await expectUntouched(u);
  });

  it.each([
    ['stalls in the request line', ['GET / HT']],
    ['connects and sends nothing', []],
  ])('a client that %s is closed after readHeaderTimeout', async (_name, parts) => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]), {
      flags: ['--entryPoints.web.transport.respondingTimeouts.readHeaderTimeout=300ms'],
    });
    const started = Date.now();
    const res = await raw(r.port, parts, { timeoutMs: 5000 });
    expect(res.closed).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
    // Node times out a silent connection like a slow one, so the 408 is written either way
    expect(res.responses[0]?.status, res.raw).toBe(408);
    await expectUntouched(u);
  });
});

describe('pipelining and smuggling', () => {
  it('a request hidden after a short Content-Length is a separate request, framed as the client framed it', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]));
    const res = await raw(
      r.port,
      `POST /first HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nabcdeGET /second HTTP/1.1\r\n${H}\r\n`,
      { expect: 2 },
    );
    expect(res.responses.map((x) => x.status)).toEqual([200, 200]);
    expect(u.seen.map((s) => [s.method, s.url, s.body])).toEqual([
      ['POST', '/first', 'abcde'],
      ['GET', '/second', ''],
    ]);
    expect(u.seen[0]!.headers['content-length']).toBe('5');
  });

  it('a chunked terminator and a request inside a Content-Length body stay body bytes', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]));
    const hidden = `0\r\n\r\nGET /admin HTTP/1.1\r\n${H}\r\n`;
    const res = await raw(
      r.port,
      `POST /upload HTTP/1.1\r\n${H}Content-Length: ${hidden.length}\r\n\r\n${hidden}`,
      { expect: 1, timeoutMs: 1000 },
    );
    expect(res.responses.map((x) => x.status)).toEqual([200]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(u.arrivals).toEqual(['POST /upload']);
    expect(u.seen).toHaveLength(1);
    expect(u.seen[0]!.body).toBe(hidden);
  });

  it('a request inside a chunked body stays body bytes', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]));
    const hidden = `GET /admin HTTP/1.1\r\n${H}\r\n`;
    const body = `${hidden.length.toString(16)}\r\n${hidden}\r\n0\r\n\r\n`;
    const res = await raw(
      r.port,
      `POST /upload HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${body}`,
      {
        expect: 1,
        timeoutMs: 1000,
      },
    );
    expect(res.responses.map((x) => x.status)).toEqual([200]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(u.arrivals).toEqual(['POST /upload']);
    expect(u.seen[0]!.body).toBe(hidden);
    // the upstream leg is re-framed by the proxy, with exactly one framing header
    const framing = u.seen[0]!.rawHeaders.filter((h) =>
      /^(transfer-encoding|content-length)$/i.test(h),
    );
    expect(framing).toHaveLength(1);
    const cl = u.seen[0]!.headers['content-length'];
    if (cl !== undefined) expect(Number(cl)).toBe(Buffer.byteLength(hidden));
    else expect(u.seen[0]!.headers['transfer-encoding']).toBe('chunked');
  });

  it('a valid request followed by garbage: the first is answered, the garbage reaches no one', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]));
    const res = await raw(
      r.port,
      `GET /one HTTP/1.1\r\n${H}\r\nGET /two HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 2\r\n\r\nab`,
    );
    expect(res.closed).toBe(true);
    // /one is answered 200 and only then is the connection closed: never a 400 read as /one's answer
    expect(res.responses[0]?.status, res.raw).toBe(200);
    expect(res.responses.length).toBeLessThanOrEqual(2);
    if (res.responses.length === 2) expect(res.responses[1]!.status).toBe(400);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(u.arrivals).toEqual(['GET /one']);
  });

  it.each([
    [
      '501 (Transfer-Encoding: gzip, chunked)',
      `POST /a HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
      501,
    ],
    ['400 (two Host headers)', `GET /a HTTP/1.1\r\n${H}${H}\r\n`, 400],
    [
      '400 (HTTP/1.0 with chunked)',
      `POST /a HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      400,
    ],
  ])(
    'requests pipelined after a refusal with %s are not processed (RFC 9112 §9.6)',
    async (_name, first, status) => {
      const u = await upstream();
      for (const secure of [false, true]) {
        const r = await router(simpleRoute([u.url]), {
          flags: secure ? ['--entryPoints.web.http.tls'] : [],
        });
        // one write: Node parses both before the first answer is out
        const res = await raw(r.port, `${first}GET /next HTTP/1.1\r\n${H}\r\n`, { tls: secure });
        expect(
          res.responses.map((x) => x.status),
          res.raw,
        ).toEqual([status]);
        expect(res.closed).toBe(true);
      }
      await expectUntouched(u);
    },
  );

  it('a keep-alive connection carries several well-framed requests in order', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]));
    const res = await raw(
      r.port,
      `GET /a HTTP/1.1\r\n${H}\r\nPOST /b HTTP/1.1\r\n${H}Content-Length: 2\r\n\r\nhiGET /c HTTP/1.1\r\n${H}\r\n`,
      { expect: 3 },
    );
    expect(res.responses.map((x) => x.status)).toEqual([200, 200, 200]);
    expect(u.seen.map((s) => `${s.method} ${s.url} ${s.body}`)).toEqual([
      'GET /a ',
      'POST /b hi',
      'GET /c ',
    ]);
  });
});

describe('path normalisation end to end', () => {
  it.each([
    ['/a/../b', '/b'],
    ['//a///b', '/a/b'],
    ['/%61bc', '/abc'],
    ['/a/%2e%2e/b', '/b'],
    ['/a/./b/', '/a/b/'],
    ['/../../etc/passwd', '/etc/passwd'],
    ['/caf%c3%a9?q=%2F&r=../x', '/caf%C3%A9?q=%2F&r=../x'],
  ])('%s is forwarded as %s', async (target, forwarded) => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]));
    const res = await raw(r.port, `GET ${target} HTTP/1.1\r\n${H}\r\n`, { expect: 1 });
    expect(res.responses[0]?.status, res.raw).toBe(200);
    expect(u.seen.map((s) => s.url)).toEqual([forwarded]);
  });

  const REJECT_ALL = [
    'allowEncodedSlash',
    'allowEncodedBackSlash',
    'allowEncodedNullCharacter',
    'allowEncodedSemicolon',
    'allowEncodedPercent',
    'allowEncodedQuestionMark',
    'allowEncodedHash',
  ].map((flag) => `--entryPoints.web.http.encodedCharacters.${flag}=false`);

  it.each([['%2F'], ['%2f'], ['%5C'], ['%00'], ['%3B'], ['%25'], ['%3F'], ['%23']])(
    "with Traefik's defaults (every allow* false) %s in the path → 400",
    async (escape) => {
      const u = await upstream();
      const r = await router(simpleRoute([u.url]), { flags: REJECT_ALL });
      const res = await raw(r.port, `GET /a${escape}b HTTP/1.1\r\n${H}\r\n`, { expect: 1 });
      expect(res.responses[0]?.status, res.raw).toBe(400);
      await expectUntouched(u);
    },
  );

  it('invalid percent-encoding or a fragment in the target → 400', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]));
    // Node accepts all of these; the path step refuses them (the connection stays usable)
    for (const target of ['/a%zz', '/a%4', '/a%', '/a#b', '/a?b#c']) {
      const res = await raw(r.port, `GET ${target} HTTP/1.1\r\n${H}\r\n`, { expect: 1 });
      expect(res.responses[0]?.status, target).toBe(400);
    }
    await expectUntouched(u);
  });

  it('allowEncodedSlash=true accepts %2F and forwards it still encoded (upper-cased)', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]), {
      flags: [
        ...REJECT_ALL.slice(1),
        '--entryPoints.web.http.encodedCharacters.allowEncodedSlash=true',
      ],
    });
    const res = await raw(r.port, `GET /a%2fb/%2F..%2Fc HTTP/1.1\r\n${H}\r\n`, { expect: 1 });
    expect(res.responses[0]?.status, res.raw).toBe(200);
    expect(u.seen.map((s) => s.url)).toEqual(['/a%2Fb/%2F..%2Fc']);
    // the other characters stay refused
    expect(
      (await raw(r.port, `GET /a%5Cb HTTP/1.1\r\n${H}\r\n`, { expect: 1 })).responses[0]?.status,
    ).toBe(400);
  });

  it.each(['%2f', '%5C', '%00', '%3b', '%25', '%3F', '%23'])(
    'rejects encoded %s by default, on a configured entrypoint too, as Traefik does',
    async (enc) => {
      const u = await upstream();
      const r = await router(simpleRoute([u.url]));
      expect(r.staticConfig.entryPoints.web!.http.encodedCharacters.allowEncodedSlash).toBe(false);
      const res = await raw(r.port, `GET /a${enc}b HTTP/1.1\r\n${H}\r\n`, { expect: 1 });
      expect(res.responses[0]?.status).toBe(400);
      await expectUntouched(u);
    },
  );

  function adminAndPublic(admin: Upstream, pub: Upstream): DynamicConfig {
    return {
      http: {
        routers: {
          admin: { rule: 'PathPrefix(`/admin`)', service: 'admin' },
          public: { rule: 'PathPrefix(`/public`)', service: 'public' },
        },
        services: {
          admin: { loadBalancer: { servers: [{ url: admin.url }] } },
          public: { loadBalancer: { servers: [{ url: pub.url }] } },
        },
      },
    };
  }

  it.each([['/public/../admin'], ['/public/%2e%2e/admin'], ['/public/./..//admin'], ['//admin']])(
    '%s routes to the admin router and the admin upstream sees /admin',
    async (target) => {
      const admin = await upstream();
      const pub = await upstream();
      const r = await router(adminAndPublic(admin, pub));
      const res = await raw(r.port, `GET ${target} HTTP/1.1\r\n${H}\r\n`, { expect: 1 });
      expect(res.responses[0]?.status, res.raw).toBe(200);
      expect(res.responses[0]?.headers['x-upstream']).toBe('upstream');
      expect(admin.seen.map((s) => s.url)).toEqual(['/admin']);
      expect(pub.arrivals).toEqual([]);
    },
  );

  /*
   * Issue 11 item 10: paths that common upstreams read as /admin while the router did not see
   * /admin. Before, these passed PathPrefix(`/x`) and reached the public upstream as written,
   * where a Java (`..;`), WHATWG or IIS (`\`) upstream served /admin without the admin router's
   * basicAuth.
   */
  function gatedAdmin(admin: Upstream, pub: Upstream): DynamicConfig {
    return {
      http: {
        routers: {
          admin: { rule: 'PathPrefix(`/admin`)', service: 'admin', middlewares: ['auth'] },
          public: { rule: 'PathPrefix(`/x`)', service: 'public' },
        },
        middlewares: {
          auth: { basicAuth: { users: ['alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ='] } },
        },
        services: {
          admin: { loadBalancer: { servers: [{ url: admin.url }] } },
          public: { loadBalancer: { servers: [{ url: pub.url }] } },
        },
      },
    };
  }

  it.each([
    ['/x\\..\\admin'],
    ['/x\\..\\admin\\'],
    ['/x/..\\admin'],
    ['/x/..;/admin'],
    ['/x/..;jsessionid=1/admin'],
    ['/x/.;/../admin'],
    ['/x/%2e%2e;/admin'],
    ['/;x/admin'],
    ['/x/;/../admin'],
  ])('%s → 400: it reaches no upstream', async (target) => {
    const admin = await upstream();
    const pub = await upstream();
    const r = await router(gatedAdmin(admin, pub));
    const res = await raw(r.port, `GET ${target} HTTP/1.1\r\n${H}\r\n`, { expect: 1 });
    expect(res.responses[0]?.status, res.raw).toBe(400);
    await expectUntouched(admin);
    await expectUntouched(pub);
  });

  it('with allowEncodedSemicolon, ..%3B is refused the same way', async () => {
    const admin = await upstream();
    const pub = await upstream();
    const r = await router(gatedAdmin(admin, pub), {
      flags: ['--entryPoints.web.http.encodedCharacters.allowEncodedSemicolon=true'],
    });
    const res = await raw(r.port, `GET /x/..%3b/admin HTTP/1.1\r\n${H}\r\n`, { expect: 1 });
    expect(res.responses[0]?.status, res.raw).toBe(400);
    await expectUntouched(pub);
  });

  it('with allowEncodedBackSlash, a backslash is routed and forwarded as %5C, never as a separator', async () => {
    const admin = await upstream();
    const pub = await upstream();
    const r = await router(gatedAdmin(admin, pub), {
      flags: ['--entryPoints.web.http.encodedCharacters.allowEncodedBackSlash=true'],
    });
    const res = await raw(r.port, `GET /x\\..\\admin HTTP/1.1\r\n${H}\r\n`, { expect: 1 });
    expect(res.responses[0]?.status, res.raw).toBe(200);
    expect(pub.seen.map((s) => s.url)).toEqual(['/x%5C..%5Cadmin']);
    expect(admin.arrivals).toEqual([]);
  });

  it('path parameters on a named segment are forwarded as written', async () => {
    const admin = await upstream();
    const pub = await upstream();
    const r = await router(gatedAdmin(admin, pub));
    const res = await raw(r.port, `GET /x;jsessionid=AB12/page HTTP/1.1\r\n${H}\r\n`, {
      expect: 1,
    });
    expect(res.responses[0]?.status, res.raw).toBe(200);
    expect(pub.seen.map((s) => s.url)).toEqual(['/x;jsessionid=AB12/page']);
  });

  it('/admin/../public routes to the public router', async () => {
    const admin = await upstream();
    const pub = await upstream();
    const r = await router(adminAndPublic(admin, pub));
    const res = await raw(r.port, `GET /admin/../public/x HTTP/1.1\r\n${H}\r\n`, { expect: 1 });
    expect(res.responses[0]?.status).toBe(200);
    expect(pub.seen.map((s) => s.url)).toEqual(['/public/x']);
    expect(admin.arrivals).toEqual([]);
  });
});

describe('absolute-form targets', () => {
  function byHost(x: Upstream, y: Upstream): DynamicConfig {
    return {
      http: {
        routers: {
          x: { rule: 'Host(`x.test`)', service: 'x' },
          y: { rule: 'Host(`y.test`)', service: 'y' },
        },
        services: {
          x: { loadBalancer: { servers: [{ url: x.url }] } },
          y: { loadBalancer: { servers: [{ url: y.url }] } },
        },
      },
    };
  }

  it('GET http://x.test/p routes by x.test, not by the Host header', async () => {
    const x = await upstream();
    const y = await upstream();
    const r = await router(byHost(x, y));
    const res = await raw(r.port, 'GET http://x.test/p?q=1 HTTP/1.1\r\nHost: y.test\r\n\r\n', {
      expect: 1,
    });
    expect(res.responses[0]?.status, res.raw).toBe(200);
    // origin-form upstream, with the authority as Host (passHostHeader defaults to true)
    expect(x.seen.map((s) => [s.url, s.headers.host])).toEqual([['/p?q=1', 'x.test']]);
    expect(y.arrivals).toEqual([]);
  });

  it.each([
    ['http://X.TEST:80', '/'],
    ['http://x.test?q', '/?q'],
    ['HTTP://x.test/a/../b', '/b'],
  ])('%s is forwarded as %s', async (target, forwarded) => {
    const x = await upstream();
    const y = await upstream();
    const r = await router(byHost(x, y));
    const res = await raw(r.port, `GET ${target} HTTP/1.1\r\nHost: y.test\r\n\r\n`, { expect: 1 });
    expect(res.responses[0]?.status, res.raw).toBe(200);
    expect(x.seen.map((s) => s.url)).toEqual([forwarded]);
  });
});

describe('socket errors never take the process down', () => {
  it('a client that resets mid-request, mid-body and mid-response leaves the router serving', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]));
    const partials = [
      `GET / HTTP/1.1\r\n${H}X-Half`,
      `POST / HTTP/1.1\r\n${H}Content-Length: 100\r\n\r\nabc`,
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nab`,
      `GET / HTTP/1.1\r\n${H}\r\n`,
    ];
    await Promise.all(
      partials.map(
        (bytes) =>
          new Promise<void>((resolve) => {
            const s = net.connect(r.port, '127.0.0.1', () => {
              s.write(bytes);
              setTimeout(() => {
                s.resetAndDestroy();
                resolve();
              }, 30);
            });
            s.on('error', () => undefined);
          }),
      ),
    );
    const res = await raw(r.port, `GET /still-alive HTTP/1.1\r\n${H}\r\n`, { expect: 1 });
    expect(res.responses[0]?.status).toBe(200);
  });
});

/*
 * Issue 11 item 4: plain HTTP/1.1, HTTP/1.1 over TLS and HTTP/2 (TLS, ALPN h2) get one set of
 * limits from the same entrypoint options. Before, a TLS entrypoint was Node's HTTP/2 server in
 * HTTP/1 fallback mode, which ignored readHeaderTimeout, idleTimeout, maxHeaderBytes and the
 * missing-Host check, and HTTP/2 had no header or idle deadline at all.
 */
describe('one set of limits on every transport', () => {
  type Transport = 'http/1.1' | 'tls http/1.1' | 'h2';
  const TRANSPORTS: Transport[] = ['http/1.1', 'tls http/1.1', 'h2'];
  const tlsFlags = (t: Transport): string[] =>
    t === 'http/1.1' ? [] : ['--entryPoints.web.http.tls'];
  const TIMEOUTS = [
    '--entryPoints.web.transport.respondingTimeouts.readHeaderTimeout=500ms',
    '--entryPoints.web.transport.respondingTimeouts.readTimeout=1s',
    '--entryPoints.web.transport.respondingTimeouts.idleTimeout=1s',
  ];

  /** an HTTP/1.1 connection (plain or TLS) kept open: request, answer, then wait for the close */
  function h1Connection(
    port: number,
    secure: boolean,
  ): Promise<{ socket: net.Socket; data: () => string; closed: Promise<number> }> {
    return new Promise((resolve) => {
      const opened = Date.now();
      const socket = secure
        ? tls.connect({
            host: '127.0.0.1',
            port,
            ALPNProtocols: ['http/1.1'],
            rejectUnauthorized: false,
          })
        : net.connect(port, '127.0.0.1');
      let data = '';
      socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
      socket.on('error', () => undefined);
      const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - opened)));
      socket.once(secure ? 'secureConnect' : 'connect', () =>
        resolve({ socket, data: () => data, closed }),
      );
    });
  }

  it.each(TRANSPORTS)('%s: headers slower than readHeaderTimeout are cut off', async (t) => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]), { flags: [...tlsFlags(t), ...TIMEOUTS] });
    const started = Date.now();
    if (t !== 'h2') {
      const drip = Array.from({ length: 40 }, (_, i) => `X-Slow-${i}: x\r\n`);
      const res = await raw(r.port, [`GET / HTTP/1.1\r\n${H}`, ...drip, '\r\n'], {
        gapMs: 100,
        timeoutMs: 6000,
        tls: t === 'tls http/1.1',
      });
      expect(res.closed).toBe(true);
      expect(res.responses[0]?.status, res.raw).toBe(408);
    } else {
      // a header block that never ends: HEADERS without END_HEADERS, then one CONTINUATION byte at a time
      const c = await connectH2(r.port);
      scope.defer(() => c.destroy());
      const block = headerBlock([...getRequest('/'), ['x-slow', 'x'.repeat(40)]]);
      c.send(headersFrame(1, block.subarray(0, 5), { endHeaders: false }));
      for (let i = 5; i < block.length && !c.closed && Date.now() - started < 6000; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        c.send(
          frame(
            FRAME.CONTINUATION,
            i === block.length - 1 ? FLAG.END_HEADERS : 0,
            1,
            block.subarray(i, i + 1),
          ),
        );
      }
      await c.until(() => c.closed, 6000);
      expect(c.closed).toBe(true);
      expect(c.status(1)).toBeUndefined();
    }
    // cut off near the deadline, long before the drip would have finished (4 s)
    expect(Date.now() - started).toBeLessThan(3000);
    await expectUntouched(u);
  });

  it.each(TRANSPORTS)('%s: a request body slower than readTimeout is cut off', async (t) => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]), { flags: [...tlsFlags(t), ...TIMEOUTS] });
    const started = Date.now();
    if (t !== 'h2') {
      const drip = Array.from({ length: 40 }, () => 'x');
      const res = await raw(
        r.port,
        [`POST / HTTP/1.1\r\n${H}Content-Length: 100\r\n\r\n`, ...drip],
        { gapMs: 100, timeoutMs: 6000, tls: t === 'tls http/1.1' },
      );
      expect(res.closed).toBe(true);
      // Node answers 408 while no response has started
      expect(res.responses[0]?.status ?? 408, res.raw).toBe(408);
    } else {
      const c = await connectH2(r.port);
      scope.defer(() => c.destroy());
      c.send(
        headersFrame(
          1,
          [...getRequest('/'), ['content-length', '100']].map(([n, v]) =>
            n === ':method' ? [n, 'POST'] : [n, v],
          ) as [string, string][],
          { endStream: false },
        ),
      );
      for (let i = 0; i < 40 && !c.ended(1) && !c.closed; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        c.send(frame(FRAME.DATA, 0, 1, Buffer.from('x')));
      }
      await c.until(() => c.ended(1), 6000);
      expect(c.ended(1)).toBe(true);
      const status = c.status(1);
      // 408 when no response had started, else a reset
      if (status !== undefined) expect(status).toBe(408);
    }
    expect(Date.now() - started).toBeLessThan(3500);
    // whatever reached the upstream never arrived complete
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(u.seen).toHaveLength(0);
  });

  it.each(TRANSPORTS)('%s: a header section over maxHeaderBytes is refused', async (t) => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]), {
      flags: [...tlsFlags(t), '--entryPoints.web.http.maxHeaderBytes=8192'],
    });
    if (t !== 'h2') {
      const secure = t === 'tls http/1.1';
      const big = await raw(r.port, `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(9000)}\r\n\r\n`, {
        tls: secure,
      });
      expect(big.responses[0]?.status, big.raw).toBe(431);
      expect(big.closed).toBe(true);
      const ok = await raw(r.port, `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(7000)}\r\n\r\n`, {
        expect: 1,
        tls: secure,
      });
      expect(ok.responses[0]?.status).toBe(200);
    } else {
      const c = await connectH2(r.port);
      scope.defer(() => c.destroy());
      await c.until(() => serverSettings(c.frames).size > 0, 3000);
      // advertised (RFC 9113 §6.5.2) and enforced
      expect(serverSettings(c.frames).get(SETTING.MAX_HEADER_LIST_SIZE)).toBe(8192);
      c.send(headersFrame(1, [...getRequest('/'), ['x-big', 'a'.repeat(9000)]]));
      c.send(headersFrame(3, [...getRequest('/'), ['x-big', 'a'.repeat(7000)]]));
      await c.until(() => c.ended(1) && c.ended(3), 3000);
      expect(c.frames.some((f) => f.type === FRAME.RST_STREAM && f.streamId === 1)).toBe(true);
      expect(c.status(3)).toBe(200);
    }
    expect(u.seen).toHaveLength(1);
  });

  it.each(TRANSPORTS)('%s: an idle connection is closed after idleTimeout', async (t) => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]), { flags: [...tlsFlags(t), ...TIMEOUTS] });
    if (t !== 'h2') {
      const conn = await h1Connection(r.port, t === 'tls http/1.1');
      scope.defer(() => conn.socket.destroy());
      conn.socket.write(`GET /1 HTTP/1.1\r\n${H}\r\n`);
      await eventually(() => expect(parseResponses(conn.data())).toHaveLength(1));
      // kept alive: a second request on the same connection is served
      conn.socket.write(`GET /2 HTTP/1.1\r\n${H}\r\n`);
      await eventually(() => expect(parseResponses(conn.data())).toHaveLength(2));
      const closedAfter = await Promise.race([
        conn.closed,
        new Promise<number>((resolve) => setTimeout(() => resolve(-1), 5000)),
      ]);
      expect(closedAfter).toBeGreaterThan(0);
    } else {
      const c = await connectH2(r.port);
      scope.defer(() => c.destroy());
      c.send(headersFrame(1, getRequest('/1')));
      await c.until(() => c.ended(1), 3000);
      c.send(headersFrame(3, getRequest('/2')));
      await c.until(() => c.ended(3), 3000);
      expect([c.status(1), c.status(3)]).toEqual([200, 200]);
      // no streams left: GOAWAY (NO_ERROR, last stream 3), then the connection closes
      await c.until(() => c.closed, 5000);
      expect(c.goaway).toEqual({ lastStreamId: 3, errorCode: 0 });
      expect(c.closed).toBe(true);
    }
    expect(u.seen.map((s) => s.url)).toEqual(['/1', '/2']);
  });

  it.each(TRANSPORTS)(
    '%s: a request without a host is refused (400; h2: stream reset)',
    async (t) => {
      const u = await upstream();
      const r = await router(simpleRoute([u.url]), { flags: tlsFlags(t) });
      if (t !== 'h2') {
        const res = await raw(r.port, 'GET / HTTP/1.1\r\nX-A: b\r\n\r\n', {
          tls: t === 'tls http/1.1',
        });
        expect(res.responses[0]?.status, res.raw).toBe(400);
        expect(res.closed).toBe(true);
      } else {
        // neither :authority nor Host (RFC 9113 §8.3.1): a malformed request, reset with
        // PROTOCOL_ERROR (nghttp2 checks it before Portico would answer 400)
        const c = await connectH2(r.port);
        scope.defer(() => c.destroy());
        c.send(headersFrame(1, getRequest('/', null)));
        await c.until(() => c.ended(1), 3000);
        expect(c.status(1)).toBeUndefined();
        const rst = c.frames.find((f) => f.type === FRAME.RST_STREAM && f.streamId === 1);
        expect(rst?.payload.readUInt32BE(0)).toBe(1);
        // a Host header instead of :authority is accepted
        c.send(headersFrame(3, [...getRequest('/', null), ['host', 'a.test']]));
        await c.until(() => c.ended(3), 3000);
        expect(c.status(3)).toBe(200);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(u.seen.length).toBe(t === 'h2' ? 1 : 0);
    },
  );

  it('if a Node version lays out its HTTPS server differently, TLS falls back to HTTP/1.1 only', async () => {
    const pems = await generateDefaultCertificate();
    const server = https.createServer({ ...pems, ALPNProtocols: ['h2', 'http/1.1'] }, (_req, res) =>
      res.end('h1'),
    );
    // an unexpected layout (here: a second listener) is left alone, and reported
    server.on('secureConnection', () => undefined);
    const before = server.listeners('secureConnection');
    expect(routeByAlpn(server, http2.createServer())).toBe(false);
    expect(server.listeners('secureConnection')).toEqual(before);
    withoutH2(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    scope.defer(() => new Promise((resolve) => server.close(resolve)));
    const port = (server.address() as net.AddressInfo).port;
    const alpn = await new Promise<string | false>((resolve, reject) => {
      const s = tls.connect(
        { host: '127.0.0.1', port, ALPNProtocols: ['h2', 'http/1.1'], rejectUnauthorized: false },
        () => {
          resolve(s.alpnProtocol ?? false);
          s.destroy();
        },
      );
      s.on('error', reject);
    });
    expect(alpn).toBe('http/1.1');
  });

  it('TLS shutdown: HTTP/2 sessions get a GOAWAY, and every connection is cut at the end', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]), { flags: tlsFlags('h2') });
    const c = await connectH2(r.port);
    scope.defer(() => c.destroy());
    c.send(headersFrame(1, getRequest('/1')));
    await c.until(() => c.ended(1), 3000);
    // a TCP connection that never starts its TLS handshake
    const silent = net.connect(r.port, '127.0.0.1');
    silent.on('error', () => undefined);
    const silentClosed = new Promise<void>((resolve) => silent.once('close', () => resolve()));
    await new Promise((resolve) => silent.once('connect', resolve));
    await r.router.shutdown(300);
    await c.until(() => c.closed, 3000);
    expect(c.goaway?.errorCode).toBe(0);
    expect(c.closed).toBe(true);
    // cut with the rest, not left to the handshake timeout (10 s)
    const cut = await Promise.race([
      silentClosed.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000)),
    ]);
    expect(cut).toBe(true);
  });

  it('h2: the session limits are advertised (Traefik: 250 concurrent streams)', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]), { flags: tlsFlags('h2') });
    const c = await connectH2(r.port);
    scope.defer(() => c.destroy());
    await c.until(() => serverSettings(c.frames).size > 0, 3000);
    const s = serverSettings(c.frames);
    expect(s.get(SETTING.MAX_CONCURRENT_STREAMS)).toBe(250);
    expect(s.get(SETTING.MAX_HEADER_LIST_SIZE)).toBe(32768);
  });
});

/*
 * Issue 11 item 5 (the class of Traefik's CVE-2024-45410): the headers a client's Connection header
 * names are hop-by-hop and removed, but on arrival, before any middleware runs. Removing them at
 * forward time also removed what middlewares had set under those names: stripPrefix's
 * X-Forwarded-Prefix, a headers middleware's X-Api-Key, basicAuth's headerField.
 */
describe('Connection-named headers are removed on arrival, never after middlewares', () => {
  const SHA = '{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ='; // "secret"
  const AUTH = `Authorization: Basic ${Buffer.from('alice:secret').toString('base64')}\r\n`;

  function gatedApi(u: Upstream): DynamicConfig {
    return {
      http: {
        routers: {
          api: {
            rule: 'PathPrefix(`/api`)',
            service: 's',
            middlewares: ['auth', 'strip', 'key'],
          },
        },
        middlewares: {
          auth: { basicAuth: { users: [`alice:${SHA}`], headerField: 'X-Auth-User' } },
          strip: { stripPrefix: { prefixes: ['/api'] } },
          key: { headers: { customRequestHeaders: { 'X-Api-Key': 'secret-key' } } },
        },
        services: { s: { loadBalancer: { servers: [{ url: u.url }] } } },
      },
    };
  }

  it('headers middlewares set reach the upstream whatever the client lists in Connection', async () => {
    const u = await upstream();
    const r = await router(gatedApi(u));
    const res = await raw(
      r.port,
      `GET /api/x HTTP/1.1\r\n${H}${AUTH}Connection: keep-alive, X-Forwarded-Prefix, X-Api-Key, X-Auth-User, X-Client-Hop\r\n` +
        'X-Client-Hop: 1\r\nX-Api-Key: from-client\r\n\r\n',
      { expect: 1 },
    );
    expect(res.responses[0]?.status, res.raw).toBe(200);
    const seen = u.seen[0]!;
    expect(seen.url).toBe('/x');
    expect(seen.headers['x-forwarded-prefix']).toBe('/api');
    expect(seen.headers['x-api-key']).toBe('secret-key');
    expect(seen.headers['x-auth-user']).toBe('alice');
    // what the client named and sent itself is hop-by-hop: gone
    expect(seen.headers['x-client-hop']).toBeUndefined();
    expect(String(seen.headers.connection ?? '')).not.toMatch(/x-/i);
    // the connection stays usable: keep-alive was honoured
    expect(res.closed).toBe(false);
  });

  it('a header the client names is gone before the middlewares run (basicAuth sees no credentials)', async () => {
    const u = await upstream();
    const r = await router(gatedApi(u));
    const res = await raw(
      r.port,
      `GET /api/x HTTP/1.1\r\n${H}${AUTH}Connection: Authorization\r\n\r\n`,
      {
        expect: 1,
      },
    );
    expect(res.responses[0]?.status, res.raw).toBe(401);
    expect(u.arrivals).toEqual([]);
  });

  it('Connection cannot remove a trusted proxy’s X-Forwarded-For, Host or Content-Length', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]), {
      flags: ['--entryPoints.web.forwardedHeaders.trustedIPs=127.0.0.1'],
    });
    const res = await raw(
      r.port,
      `POST /p HTTP/1.1\r\n${H}X-Forwarded-For: 203.0.113.9\r\nContent-Length: 2\r\n` +
        'Connection: X-Forwarded-For, Host, Content-Length\r\n\r\nhi',
      { expect: 1 },
    );
    expect(res.responses[0]?.status, res.raw).toBe(200);
    const seen = u.seen[0]!;
    // Traefik: "Connection header cannot dictate to remove X- headers managed by Traefik"
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(seen.headers.host).toBe('a.test');
    expect(seen.body).toBe('hi');
  });

  it('Connection: Upgrade still upgrades (the Upgrade header is kept)', async () => {
    const u = await upstream();
    const wss = new WebSocketServer({ server: u.server });
    scope.defer(() => new Promise((resolve) => wss.close(resolve)));
    const r = await router(simpleRoute([u.url]));
    const res = await raw(
      r.port,
      `GET /ws HTTP/1.1\r\n${H}Connection: Upgrade, X-Hop\r\nUpgrade: websocket\r\nX-Hop: 1\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      { timeoutMs: 1000 },
    );
    expect(res.raw).toMatch(/^HTTP\/1\.1 101/);
  });
});

/*
 * Issue 11 item 9: header names with '_' that read as identity headers once '_' is taken for '-'
 * (CGI, PHP, Django and Rails map X_Forwarded_For and X-Forwarded-For to the same variable) are
 * dropped on arrival, from every client: nginx drops all underscore names by default.
 */
describe('underscore spellings of identity headers', () => {
  it.each([
    'X_Forwarded_For',
    'X-Forwarded_For',
    'x_real_ip',
    'X_Real_IP',
    'X-Forwarded_Host',
    'X_Forwarded_Proto',
    'X_Forwarded_Prefix',
    'X_Forwarded_User',
    'X_Forwarded_Tls_Client_Cert',
    'X_Consumer_Username',
    'X_Consumer_ID',
    'X_Credential_Identifier',
    'X_WebAuth_User',
    'Remote_User',
  ])('%s never reaches the upstream', async (name) => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]), {
      // even from a trusted proxy: the underscore spelling is never a forwarded header
      flags: ['--entryPoints.web.forwardedHeaders.trustedIPs=127.0.0.1'],
    });
    const res = await raw(
      r.port,
      `GET / HTTP/1.1\r\n${H}${name}: 6.6.6.6\r\nX_Custom_Thing: kept\r\n\r\n`,
      { expect: 1 },
    );
    expect(res.responses[0]?.status, res.raw).toBe(200);
    const seen = u.seen[0]!;
    const lower = name.toLowerCase();
    expect(seen.headers[lower], JSON.stringify(seen.headers)).toBeUndefined();
    expect(seen.rawHeaders.map((h) => h.toLowerCase())).not.toContain(lower);
    expect(JSON.stringify(seen.headers)).not.toContain('6.6.6.6');
    // other underscore names pass, as in Traefik (underscoreHeadersStrategy keep)
    expect(seen.headers.x_custom_thing).toBe('kept');
  });

  it('over HTTP/2 too', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]), { flags: ['--entryPoints.web.http.tls'] });
    const c = await connectH2(r.port);
    scope.defer(() => c.destroy());
    c.send(
      headersFrame(1, [
        ...getRequest('/'),
        ['x_forwarded_for', '6.6.6.6'],
        ['x-real_ip', '6.6.6.6'],
        ['x_custom_thing', 'kept'],
      ]),
    );
    await c.until(() => c.ended(1), 3000);
    expect(c.status(1)).toBe(200);
    const seen = u.seen[0]!;
    expect(JSON.stringify(seen.headers)).not.toContain('6.6.6.6');
    expect(seen.headers.x_custom_thing).toBe('kept');
  });

  it('a request rule does not see them either', async () => {
    const u = await upstream();
    const r = await router(
      simpleRoute([u.url], {
        rule: 'HeaderRegexp(`X_Real_Ip`, `.+`) || Header(`X-Real-Ip`, `6.6.6.6`)',
      }),
    );
    const res = await raw(r.port, `GET / HTTP/1.1\r\n${H}X_Real_Ip: 6.6.6.6\r\n\r\n`, {
      expect: 1,
    });
    expect(res.responses[0]?.status, res.raw).toBe(404);
  });
});

describe('HTTP/1.0 with Transfer-Encoding (RFC 9112 §6.1)', () => {
  it.each([
    ['chunked', '3\r\nabc\r\n0\r\n\r\n'],
    ['gzip, chunked', '3\r\nabc\r\n0\r\n\r\n'],
  ])('Transfer-Encoding: %s on HTTP/1.0 → 400 and the connection closed', async (te, body) => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]));
    const res = await raw(
      r.port,
      `POST / HTTP/1.0\r\n${H}Transfer-Encoding: ${te}\r\n\r\n${body}GET /next HTTP/1.0\r\n${H}\r\n`,
    );
    expect(res.responses[0]?.status, res.raw).toBe(400);
    expect(res.responses).toHaveLength(1);
    expect(res.closed).toBe(true);
    await expectUntouched(u);
  });

  it('HTTP/1.0 with Content-Length is still served', async () => {
    const u = await upstream();
    const r = await router(simpleRoute([u.url]));
    const res = await raw(r.port, `POST / HTTP/1.0\r\n${H}Content-Length: 3\r\n\r\nabc`, {
      expect: 1,
    });
    expect(res.responses[0]?.status, res.raw).toBe(200);
    expect(u.seen[0]!.body).toBe('abc');
  });
});
