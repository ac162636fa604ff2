/*
 * The hostile-client corpus (issue 11): what attackers send, over HTTP/1.1 and
 * HTTP/2, against a router in front of a raw TCP upstream that records every
 * byte it receives. hardening.test.ts checks what the entrypoint answers to
 * malformed requests; here each case asserts the four things an operator
 * cares about:
 *  - the client gets a defined status or a closed connection, in bounded time;
 *  - the upstream's byte stream always parses into whole, well-framed requests
 *    (a request cut short is followed by the connection's close, never by
 *    another request's bytes), and no hidden request ever appears in it;
 *  - the router serves a normal request afterwards;
 *  - the process's memory stays bounded.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simpleRoute } from '../helpers/portico.js';
import { useCleanups } from '../helpers/scope.js';
import { eventually } from '../helpers/eventually.js';
import {
  connectH2,
  FLAG,
  frame,
  FRAME,
  getRequest,
  headerBlock,
  headersFrame,
  pingFrame,
  rstStream,
  settingsFrame,
  type H2Client,
} from '../helpers/h2-frames.js';

const scope = useCleanups();

/** One request as the upstream parsed it off its socket. */
interface Recorded {
  method: string;
  target: string;
  headers: Record<string, string>;
  body: string;
}

interface RecorderConnection {
  /** complete requests, in order */
  requests: Recorded[];
  /** set when the bytes stopped making sense as HTTP/1.1 requests: a desynchronised stream */
  desync: string | null;
  /** bytes of an unfinished request when the connection closed */
  leftover: number;
  closed: boolean;
}

interface Recorder {
  url: string;
  connections: RecorderConnection[];
  requests(): Recorded[];
}

type Parsed = { request: Recorded; used: number } | 'more' | { error: string };

/** A strict HTTP/1.1 request parser: one framing header, chunked only as the sole coding. */
function parseRequest(buf: Buffer): Parsed {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return buf.length > 256 * 1024 ? { error: 'header section never ends' } : 'more';
  const head = buf.subarray(0, end).toString('latin1');
  const [line, ...fields] = head.split('\r\n');
  const m = /^([A-Z]+) (\S+) HTTP\/1\.1$/.exec(line ?? '');
  if (m === null) return { error: `bad request line ${JSON.stringify(line)}` };
  const headers: Record<string, string> = {};
  for (const f of fields) {
    const colon = f.indexOf(':');
    if (colon <= 0 || /[\s\0]/.test(f.slice(0, colon))) return { error: `bad field ${f}` };
    const name = f.slice(0, colon).toLowerCase();
    if (name in headers && (name === 'content-length' || name === 'transfer-encoding'))
      return { error: `repeated ${name}` };
    headers[name] = f.slice(colon + 1).trim();
  }
  const te = headers['transfer-encoding'];
  const cl = headers['content-length'];
  if (te !== undefined && cl !== undefined) return { error: 'both framing headers' };
  let at = end + 4;
  let body = '';
  if (te !== undefined) {
    if (te !== 'chunked') return { error: `transfer-encoding ${te}` };
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', at);
      if (lineEnd === -1) return 'more';
      const sizeText = buf.subarray(at, lineEnd).toString('latin1').split(';')[0]!;
      if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) return { error: `chunk size ${sizeText}` };
      const size = parseInt(sizeText, 16);
      if (buf.length < lineEnd + 2 + size + 2) return 'more';
      if (buf.subarray(lineEnd + 2 + size, lineEnd + 4 + size).toString('latin1') !== '\r\n')
        return { error: 'chunk not followed by CRLF' };
      body += buf.subarray(lineEnd + 2, lineEnd + 2 + size).toString('latin1');
      at = lineEnd + 4 + size;
      if (size === 0) break;
    }
  } else if (cl !== undefined) {
    if (!/^\d+$/.test(cl)) return { error: `content-length ${cl}` };
    const n = Number(cl);
    if (buf.length < at + n) return 'more';
    body = buf.subarray(at, at + n).toString('latin1');
    at += n;
  }
  return { request: { method: m[1]!, target: m[2]!, headers, body }, used: at };
}

/** A raw TCP upstream that parses what it receives strictly and answers each request 200. */
async function recorder(): Promise<Recorder> {
  const connections: RecorderConnection[] = [];
  const server = net.createServer((socket) => {
    const conn: RecorderConnection = { requests: [], desync: null, leftover: 0, closed: false };
    connections.push(conn);
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      if (conn.desync !== null) return;
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const r = parseRequest(buf);
        if (r === 'more') break;
        if ('error' in r) {
          conn.desync = r.error;
          socket.destroy();
          return;
        }
        conn.requests.push(r.request);
        buf = buf.subarray(r.used);
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      conn.closed = true;
      conn.leftover = buf.length;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  scope.defer(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  );
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    connections,
    requests: () => connections.flatMap((c) => c.requests),
  };
}

/** The upstream never saw a desynchronised stream, nor any request the client hid. */
function expectInSync(up: Recorder): void {
  for (const c of up.connections) {
    expect(c.desync, JSON.stringify(c.requests)).toBeNull();
  }
  for (const r of up.requests()) {
    expect(r.target).not.toMatch(/smuggled/i);
    expect(r.body).not.toMatch(/smuggled/i);
  }
}

const H = 'Host: a.test\r\n';

interface RawResult {
  raw: string;
  closed: boolean;
  status: number | undefined;
  ms: number;
}

/** Writes parts (gapMs apart) over TCP or TLS/http1.1; reads until close, a response, or timeoutMs. */
function rawH1(
  port: number,
  parts: (string | Buffer)[],
  opts: { gapMs?: number; timeoutMs?: number; secure?: boolean; reset?: number } = {},
): Promise<RawResult> {
  const { gapMs = 0, timeoutMs = 5000 } = opts;
  const started = Date.now();
  return new Promise((resolve) => {
    // the TCP socket underneath, so that a TLS client can be reset too
    const tcp = net.connect(port, '127.0.0.1');
    tcp.on('error', () => undefined);
    const socket = opts.secure
      ? tls.connect({ socket: tcp, ALPNProtocols: ['http/1.1'], rejectUnauthorized: false })
      : tcp;
    let data = '';
    let closed = false;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      resolve({
        raw: data,
        closed,
        status: m ? Number(m[1]) : undefined,
        ms: Date.now() - started,
      });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (c: Buffer) => {
      data += c.toString('latin1');
      // a whole 2xx response is enough; after a refusal, wait for the close that must follow
      if (/^HTTP\/1\.1 2/.test(data) && /content-length: (\d+)/i.test(data)) {
        const len = Number(/content-length: (\d+)/i.exec(data)![1]);
        if (data.length >= data.indexOf('\r\n\r\n') + 4 + len) finish();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.once(opts.secure ? 'secureConnect' : 'connect', async () => {
      for (let i = 0; i < parts.length; i++) {
        if (i > 0 && gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
        if (socket.destroyed) return;
        socket.write(parts[i]!);
        if (opts.reset === i) {
          await new Promise((r) => setTimeout(r, 50));
          tcp.resetAndDestroy();
          closed = true;
          finish();
          return;
        }
      }
    });
  });
}

let baselineRss = 0;
beforeAll(() => {
  baselineRss = process.memoryUsage().rss;
});
afterAll(() => {
  // generous: the floods above are bounded, so the process is too
  expect(process.memoryUsage().rss - baselineRss).toBeLessThan(400 * 1024 * 1024);
});

function expectBoundedMemory(): void {
  expect(process.memoryUsage().rss - baselineRss).toBeLessThan(400 * 1024 * 1024);
}

const FLAGS = [
  '--entryPoints.web.transport.respondingTimeouts.readHeaderTimeout=1s',
  '--entryPoints.web.transport.respondingTimeouts.readTimeout=3s',
];

async function h1Setup(secure = false) {
  const up = await recorder();
  const r = await scope.router(simpleRoute([up.url]), {
    flags: [...FLAGS, ...(secure ? ['--entryPoints.web.http.tls'] : [])],
  });
  /** a normal request still goes through, and reaches the upstream as its own request */
  const stillServing = async (): Promise<void> => {
    const res = await rawH1(r.port, [`GET /after HTTP/1.1\r\n${H}\r\n`], { secure });
    expect(res.status, res.raw).toBe(200);
    await eventually(() => expect(up.requests().map((x) => x.target)).toContain('/after'));
    expectInSync(up);
    expectBoundedMemory();
  };
  return { up, r, stillServing };
}

describe('HTTP/1.1 (plain and TLS)', () => {
  interface Case {
    name: string;
    parts: (string | Buffer)[];
    /** statuses the router may answer; undefined in the list: closing without an answer is fine */
    statuses: (number | undefined)[];
    gapMs?: number;
    /** reset the connection after writing this part */
    reset?: number;
  }
  const P = 'POST / HTTP/1.1\r\n' + H;
  const hidden = `GET /smuggled HTTP/1.1\r\n${H}\r\n`;
  const cases: Case[] = [
    {
      name: 'CL.TE (Content-Length and Transfer-Encoding)',
      parts: [`${P}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${hidden}`],
      statuses: [400],
    },
    {
      name: 'TE.CL',
      parts: [
        `${P}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n${hidden.length.toString(16)}\r\n${hidden}\r\n0\r\n\r\n`,
      ],
      statuses: [400],
    },
    {
      name: 'Transfer-Encoding continued by obs-fold',
      parts: [
        `${P}Transfer-Encoding: identity\r\n chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${hidden}`,
      ],
      statuses: [400],
    },
    {
      name: 'two Content-Length headers',
      parts: [`${P}Content-Length: 0\r\nContent-Length: ${hidden.length}\r\n\r\n${hidden}`],
      statuses: [400],
    },
    {
      name: 'Transfer-Encoding: chunked, identity',
      parts: [`${P}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${hidden}`],
      statuses: [400],
    },
    {
      name: 'a Transfer-Encoding the proxy cannot re-frame (gzip, chunked)',
      parts: [`${P}Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n${hidden}`],
      statuses: [501],
    },
    {
      name: 'a chunk-size overflow',
      parts: [
        `${P}Transfer-Encoding: chunked\r\n\r\n1000000000000000000a\r\nabc\r\n0\r\n\r\n${hidden}`,
      ],
      statuses: [400, undefined],
    },
    {
      name: 'a bare LF ending a chunk size',
      parts: [`${P}Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n${hidden}`],
      statuses: [400, undefined],
    },
    {
      name: 'a bare LF ending a header line',
      parts: [
        `GET / HTTP/1.1\r\nHost: a.test\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${hidden}`,
      ],
      statuses: [400],
    },
    {
      name: 'NUL inside a header value',
      parts: [`GET / HTTP/1.1\r\n${H}X-A: b\0${hidden}\r\n\r\n`],
      statuses: [400],
    },
    {
      name: 'NUL inside a header name',
      parts: [`GET / HTTP/1.1\r\n${H}X-\0A: b\r\n\r\n`],
      statuses: [400],
    },
    {
      name: 'HTTP/1.0 with chunked',
      parts: [`POST / HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n${hidden}`],
      statuses: [400],
    },
    {
      name: 'a short body (Content-Length 100, 10 bytes, then the client goes quiet)',
      parts: [`${P}Content-Length: 100\r\n\r\n0123456789`],
      // readTimeout (3 s) ends it: 408 while no response has started
      statuses: [408, undefined],
    },
    {
      name: 'a short body, then a reset',
      parts: [`${P}Content-Length: 100\r\n\r\n0123456789`, ''],
      reset: 0,
      statuses: [undefined],
    },
    {
      name: 'a reset in the middle of a chunk',
      parts: [`${P}Transfer-Encoding: chunked\r\n\r\n20\r\n0123456789`],
      reset: 0,
      statuses: [undefined],
    },
    {
      name: 'slowloris: the header section one byte every 500 ms',
      parts: [...`GET / HTTP/1.1\r\n${H}X-Slow: ${'x'.repeat(20)}\r\n\r\n`],
      gapMs: 500,
      // readHeaderTimeout is 1 s
      statuses: [408, undefined],
    },
    {
      name: 'a header flood (10,000 small headers)',
      parts: [`GET / HTTP/1.1\r\n${H}${'X-F: 1\r\n'.repeat(10_000)}\r\n`],
      statuses: [431],
    },
  ];

  describe.each([
    ['plain', false],
    ['TLS', true],
  ])('%s', (_label, secure) => {
    it.each(cases)('$name', async ({ parts, statuses, gapMs, reset }) => {
      const { up, r, stillServing } = await h1Setup(secure);
      const res = await rawH1(r.port, parts, {
        secure,
        timeoutMs: 8000,
        ...(gapMs !== undefined ? { gapMs } : {}),
        ...(reset !== undefined ? { reset } : {}),
      });
      // a defined status, or a closed connection, in bounded time
      expect(statuses, res.raw).toContain(res.status);
      if (res.status === undefined || res.status >= 400) expect(res.closed, res.raw).toBe(true);
      expect(res.ms).toBeLessThan(8000);
      // nothing the client framed ambiguously completed upstream
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (const req of up.requests()) expect(req.method).not.toBe('POST');
      expectInSync(up);
      await stillServing();
    });
  });
});

describe('HTTP/2', () => {
  async function h2Setup() {
    const up = await recorder();
    const r = await scope.router(simpleRoute([up.url]), {
      flags: [...FLAGS, '--entryPoints.web.http.tls'],
    });
    const open = async (read = true): Promise<H2Client> => {
      const c = await connectH2(r.port, { read });
      scope.defer(() => c.destroy());
      return c;
    };
    const stillServing = async (): Promise<void> => {
      const c = await open();
      c.send(headersFrame(1, getRequest('/after')));
      await c.until(() => c.ended(1), 5000);
      expect(c.status(1)).toBe(200);
      await eventually(() => expect(up.requests().map((x) => x.target)).toContain('/after'));
      expectInSync(up);
      expectBoundedMemory();
    };
    return { up, r, open, stillServing };
  }

  const post = (contentLength: number): [string, string][] => [
    [':method', 'POST'],
    [':scheme', 'https'],
    [':path', '/upload'],
    [':authority', 'a.test'],
    ['content-length', String(contentLength)],
  ];

  it('a body cut short by RST_STREAM never reaches the upstream as a whole request', async () => {
    const { up, open, stillServing } = await h2Setup();
    const c = await open();
    c.send(headersFrame(1, post(33), { endStream: false }));
    c.send(frame(FRAME.DATA, 0, 1, Buffer.from('0123456789')));
    await new Promise((resolve) => setTimeout(resolve, 100));
    c.send(rstStream(1));
    // the next stream on the same session, and on the upstream connection the first one used
    c.send(headersFrame(3, getRequest('/next')));
    await c.until(() => c.ended(3), 5000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(up.requests().filter((x) => x.method === 'POST')).toEqual([]);
    for (const conn of up.connections) expect(conn.desync).toBeNull();
    await stillServing();
  });

  it.each([
    ['shorter than its content-length (END_STREAM after 10 of 33 bytes)', 33, 10],
    ['longer than its content-length (10 bytes for 5)', 5, 10],
  ])('a body %s is refused', async (_name, declared, sent) => {
    const { up, open, stillServing } = await h2Setup();
    const c = await open();
    c.send(headersFrame(1, post(declared), { endStream: false }));
    c.send(frame(FRAME.DATA, FLAG.END_STREAM, 1, Buffer.alloc(sent, 0x61)));
    await c.until(() => c.ended(1), 5000);
    // the stream is reset or answered, or (Node 22+: nghttp2 calls it a session error) the
    // whole connection ends with GOAWAY: each is a defined outcome in bounded time
    expect(c.ended(1) || c.goaway !== undefined || c.closed).toBe(true);
    const status = c.status(1);
    if (status !== undefined) expect(status).toBeGreaterThanOrEqual(400);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(up.requests().filter((x) => x.method === 'POST')).toEqual([]);
    await stillServing();
  });

  it('rapid reset: 2,000 streams opened and cancelled at once', async () => {
    const { open, stillServing } = await h2Setup();
    const c = await open();
    const batch: Buffer[] = [];
    for (let i = 0; i < 2000; i++) {
      const id = 1 + i * 2;
      batch.push(headersFrame(id, getRequest(`/r${i}`), { endStream: false }), rstStream(id));
    }
    c.send(...batch);
    // served or cut off, in bounded time: the session must not keep working for the attacker
    await c.until(() => c.closed || c.goaway !== undefined, 10_000);
    expect(c.closed || c.goaway !== undefined).toBe(true);
    await stillServing();
  });

  it('more streams than SETTINGS_MAX_CONCURRENT_STREAMS: the excess is refused', async () => {
    const { open, stillServing } = await h2Setup();
    const c = await open();
    const batch: Buffer[] = [];
    for (let i = 0; i < 300; i++)
      batch.push(headersFrame(1 + i * 2, post(10), { endStream: false }));
    c.send(...batch);
    await c.until(
      () => c.closed || c.frames.filter((f) => f.type === FRAME.RST_STREAM).length >= 50,
      5000,
    );
    const refused = c.frames.filter(
      (f) => f.type === FRAME.RST_STREAM && f.payload.readUInt32BE(0) === 7,
    );
    // REFUSED_STREAM for the streams past 250, or the whole session closed
    expect(c.closed || refused.length >= 50).toBe(true);
    c.destroy();
    await stillServing();
  });

  it.each([
    ['SETTINGS', () => settingsFrame([[4, 65535]])],
    ['PING', () => pingFrame(1)],
    ['empty DATA on stream 0 (invalid frames)', () => frame(FRAME.DATA, 0, 0)],
    ['WINDOW_UPDATE with increment 0', () => frame(FRAME.WINDOW_UPDATE, 0, 0, Buffer.alloc(4))],
  ])('a %s flood (50,000 frames)', async (_name, make) => {
    const { open, stillServing } = await h2Setup();
    // never reading: the server's answers pile up, as an attacker would want
    const c = await open(false);
    const one = make();
    const chunk = Buffer.concat(Array.from({ length: 5000 }, () => one));
    for (let i = 0; i < 10 && !c.closed; i++) {
      c.send(chunk);
      await new Promise((resolve) => setImmediate(resolve));
    }
    // then drain, to see the connection end: nghttp2 closes on the flood (outbound queue) or on
    // the first connection error
    c.socket.resume();
    await c.until(() => c.closed, 5000);
    expect(c.closed).toBe(true);
    await stillServing();
  });

  it('a CONTINUATION flood (HEADERS without END_HEADERS, then 10,000 CONTINUATION frames)', async () => {
    const { up, open, stillServing } = await h2Setup();
    const c = await open();
    c.send(headersFrame(1, getRequest('/'), { endHeaders: false }));
    const cont = frame(FRAME.CONTINUATION, 0, 1, headerBlock([['x-c', 'y']]));
    c.send(Buffer.concat(Array.from({ length: 10_000 }, () => cont)));
    await c.until(() => c.closed || c.goaway !== undefined, 5000);
    expect(c.closed || c.goaway !== undefined).toBe(true);
    expect(c.status(1)).toBeUndefined();
    expect(up.requests()).toEqual([]);
    await stillServing();
  });

  it('a header flood (10,000 small headers in one block) is refused', async () => {
    const { up, open, stillServing } = await h2Setup();
    const c = await open();
    const fields: [string, string][] = [...getRequest('/')];
    for (let i = 0; i < 10_000; i++) fields.push(['x-f', '1']);
    const block = headerBlock(fields);
    // split into frames of at most 16 KiB (the default SETTINGS_MAX_FRAME_SIZE)
    const frames: Buffer[] = [];
    for (let at = 0; at < block.length; at += 16_384) {
      const piece = block.subarray(at, at + 16_384);
      const last = at + 16_384 >= block.length;
      frames.push(
        at === 0
          ? frame(FRAME.HEADERS, FLAG.END_STREAM | (last ? FLAG.END_HEADERS : 0), 1, piece)
          : frame(FRAME.CONTINUATION, last ? FLAG.END_HEADERS : 0, 1, piece),
      );
    }
    c.send(...frames);
    await c.until(() => c.closed || c.ended(1) || c.goaway !== undefined, 5000);
    expect(c.status(1)).toBeUndefined();
    expect(up.requests()).toEqual([]);
    await stillServing();
  });

  it('slowloris: a header block one byte every 500 ms is cut off at readHeaderTimeout', async () => {
    const { up, open, stillServing } = await h2Setup();
    const c = await open();
    const started = Date.now();
    const block = headerBlock([...getRequest('/'), ['x-slow', 'x'.repeat(20)]]);
    c.send(headersFrame(1, block.subarray(0, 1), { endHeaders: false }));
    for (let i = 1; i < block.length && !c.closed && Date.now() - started < 8000; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const last = i === block.length - 1;
      c.send(frame(FRAME.CONTINUATION, last ? FLAG.END_HEADERS : 0, 1, block.subarray(i, i + 1)));
    }
    await c.until(() => c.closed, 8000);
    expect(c.closed).toBe(true);
    // readHeaderTimeout is 1 s; the trickle would have taken ~25 s
    expect(Date.now() - started).toBeLessThan(5000);
    expect(up.requests()).toEqual([]);
    await stillServing();
  });
});
