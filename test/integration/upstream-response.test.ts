/*
 * What an upstream sends can never throw out of the request path (issue 11,
 * item 2): reason phrases are never relayed (Traefik/Go write the status
 * code's own text), a status outside 100-999 or a transfer coding the proxy
 * cannot re-frame is a 502 (Go's transport refuses both), 204/304 go out
 * without Content-Length, and a response head Node refuses to write (on
 * HTTP/1.1 or HTTP/2) is a 502 for that request only. Every case is checked
 * over HTTP/1.1 and HTTP/2, and followed by a normal request on the same
 * router: the process keeps serving.
 */
import http2 from 'node:http2';
import net from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startRouter, testStaticConfig, type TestRouter } from '../helpers/portico.js';
import { createRouterServer } from '../../src/routing/router-server.js';
import { mergeSnapshots } from '../../src/config/aggregate.js';
import { freePort, request } from '../helpers/http.js';
import { runPortico } from '../helpers/process.js';
import { startUpstream } from '../helpers/upstream.js';
import { eventually } from '../helpers/eventually.js';

/** A raw upstream: the request path picks the scripted response bytes (latin1). */
interface RawUpstream {
  url: string;
  close(): Promise<void>;
}

const RESPONSES: Record<string, string> = {
  '/ok': 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok',
  '/del-reason': 'HTTP/1.1 200 O\x7fK\r\ncontent-length: 2\r\n\r\nok',
  '/ctl-reason': 'HTTP/1.1 200 \x01\x02\r\ncontent-length: 2\r\n\r\nok',
  '/custom-reason': 'HTTP/1.1 200 Very Fine\r\ncontent-length: 2\r\n\r\nok',
  '/status-000': 'HTTP/1.1 000 Zero\r\ncontent-length: 2\r\n\r\nok',
  '/status-099': 'HTTP/1.1 099 Low\r\ncontent-length: 2\r\n\r\nok',
  '/status-600': 'HTTP/1.1 600 High\r\ncontent-length: 2\r\n\r\nok',
  '/no-content-cl': 'HTTP/1.1 204 No Content\r\ncontent-length: 5\r\nx-a: 1\r\n\r\n',
  '/not-modified-cl': 'HTTP/1.1 304 Not Modified\r\ncontent-length: 5\r\netag: "a"\r\n\r\n',
  '/te-gzip-chunked':
    'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
  '/te-gzip': 'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\nconnection: close\r\n\r\nabc',
  '/h2-connection-header': 'HTTP/1.1 200 OK\r\nhttp2-settings: AAA\r\ncontent-length: 2\r\n\r\nok',
  '/bad-chunk': 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n',
  '/auth-ok': 'HTTP/1.1 200 OK\r\nx-auth-user: alice\r\ncontent-length: 0\r\n\r\n',
  '/auth-deny':
    'HTTP/1.1 401 Unauthorized\r\nhttp2-settings: AAA\r\ncontent-type: text/plain\r\ncontent-type: text/html\r\ncontent-length: 2\r\n\r\nno',
  '/dup-content-type':
    'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-type: text/html\r\ncontent-length: 2\r\n\r\nok',
};

async function startRawUpstream(): Promise<RawUpstream> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const target = head.split(' ')[1] ?? '/';
        const answer = RESPONSES[target] ?? RESPONSES['/ok']!;
        socket.write(Buffer.from(answer, 'latin1'));
        if (answer.includes('connection: close')) socket.end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

interface RawReply {
  statusLine: string;
  head: string;
  body: string;
}

/** One HTTP/1.1 request on a fresh connection; the raw status line and head as sent by Portico. */
function rawGet(port: number, target: string): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      const end = data.indexOf('\r\n\r\n');
      const head = end === -1 ? data : data.slice(0, end);
      resolve({
        statusLine: head.split('\r\n')[0] ?? '',
        head,
        body: end === -1 ? '' : data.slice(end + 4),
      });
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer for ${target}`)));
    // no half-close: Node (as Go) reads a FIN after the request as the client going away
    socket.write(`GET ${target} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n`);
  });
}

let up: RawUpstream;
let r: TestRouter;
let securePort: number;
let h2: http2.ClientHttp2Session;

async function h2Get(
  target: string,
  authority = 'app.test',
): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = h2.request({ ':path': target, ':authority': authority });
    let body = '';
    let headers: http2.IncomingHttpHeaders = {};
    req.setEncoding('latin1');
    req.on('response', (h) => (headers = h));
    req.on('data', (c: string) => (body += c));
    req.on('end', () => resolve({ status: Number(headers[':status'] ?? 0), headers, body }));
    req.on('error', reject);
    req.setTimeout(10_000, () => req.close(http2.constants.NGHTTP2_CANCEL));
    req.end();
  });
}

beforeAll(async () => {
  up = await startRawUpstream();
  securePort = await freePort();
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'app.test' }], {
    keyType: 'ec',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: 'app.test' }] }],
  });
  r = await startRouter(
    {
      http: {
        routers: {
          plain: { rule: 'Host(`app.test`)', service: 's', entryPoints: ['web'] },
          secure: { rule: 'Host(`app.test`)', service: 's', entryPoints: ['websecure'], tls: {} },
          authd: {
            rule: 'Host(`auth.test`)',
            service: 's',
            entryPoints: ['websecure'],
            middlewares: ['deny'],
            tls: {},
          },
          authok: {
            rule: 'Host(`authok.test`)',
            service: 's',
            entryPoints: ['websecure'],
            middlewares: ['allow'],
            tls: {},
          },
        },
        services: { s: { loadBalancer: { servers: [{ url: up.url }] } } },
        middlewares: {
          deny: { forwardAuth: { address: `${up.url}/auth-deny` } },
          allow: { forwardAuth: { address: `${up.url}/auth-ok` } },
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
  h2 = http2.connect(`https://127.0.0.1:${securePort}`, {
    servername: 'app.test',
    rejectUnauthorized: false,
  });
  h2.on('error', () => undefined);
});

afterAll(async () => {
  h2?.close();
  await r?.close();
  await up?.close();
});

describe('reason phrases are never relayed (Traefik writes the status text itself)', () => {
  it.each(['/del-reason', '/ctl-reason', '/custom-reason'])(
    '%s → the standard reason phrase, body intact, and the router keeps serving',
    async (target) => {
      const reply = await rawGet(r.port, target);
      expect(reply.statusLine).toBe('HTTP/1.1 200 OK');
      expect(reply.body).toBe('ok');
      expect((await rawGet(r.port, '/ok')).statusLine).toBe('HTTP/1.1 200 OK');
    },
  );
});

describe('a status the proxy cannot relay is a 502', () => {
  it.each(['/status-000', '/status-099', '/status-600'])('%s over HTTP/1.1', async (target) => {
    const reply = await rawGet(r.port, target);
    const expected = target === '/status-600' ? 'HTTP/1.1 600 ' : 'HTTP/1.1 502 Bad Gateway';
    // 600-999 are valid HTTP status codes (RFC 9110 §15: three digits); Node relays them
    expect(reply.statusLine.startsWith(expected)).toBe(true);
    expect((await rawGet(r.port, '/ok')).statusLine).toBe('HTTP/1.1 200 OK');
  });
});

describe('bodyless statuses and transfer codings', () => {
  it('a 204 with Content-Length goes out without it', async () => {
    const reply = await rawGet(r.port, '/no-content-cl');
    expect(reply.statusLine).toBe('HTTP/1.1 204 No Content');
    expect(reply.head.toLowerCase()).not.toContain('content-length');
    expect(reply.head.toLowerCase()).toContain('x-a: 1');
    expect(reply.body).toBe('');
  });

  it('a 304 with Content-Length goes out without it, ETag kept', async () => {
    const reply = await rawGet(r.port, '/not-modified-cl');
    expect(reply.statusLine).toBe('HTTP/1.1 304 Not Modified');
    expect(reply.head.toLowerCase()).not.toContain('content-length');
    expect(reply.head).toContain('"a"');
  });

  it.each(['/te-gzip-chunked', '/te-gzip'])(
    '%s: a transfer coding other than chunked is a 502, never a body stripped of its coding',
    async (target) => {
      const reply = await rawGet(r.port, target);
      expect(reply.statusLine).toBe('HTTP/1.1 502 Bad Gateway');
      expect(reply.body).not.toContain('abc');
    },
  );
});

describe('HTTP/2 clients', () => {
  it.each([
    ['/del-reason', 200, 'ok'],
    ['/status-000', 502, undefined],
    ['/no-content-cl', 204, ''],
    ['/te-gzip-chunked', 502, undefined],
    // connection-specific headers are refused by Node's HTTP/2 writer: not relayed
    ['/h2-connection-header', 200, 'ok'],
    ['/dup-content-type', 200, 'ok'],
  ] as const)('%s → %i', async (target, status, body) => {
    const reply = await h2Get(target);
    expect(reply.status).toBe(status);
    if (body !== undefined) expect(reply.body).toBe(body);
    if (status === 204) expect(reply.headers['content-length']).toBeUndefined();
    expect(reply.headers['http2-settings']).toBeUndefined();
    expect((await h2Get('/ok')).status).toBe(200);
  });

  it('forwardAuth admits HTTP/2 requests (pseudo-headers are not sent to the auth server)', async () => {
    const reply = await h2Get('/ok', 'authok.test');
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('ok');
  });

  it("forwardAuth relays the auth server's refusal with HTTP/2's field rules applied", async () => {
    const reply = await h2Get('/private', 'auth.test');
    expect(reply.status).toBe(401);
    expect(reply.body).toBe('no');
    expect(reply.headers['content-type']).toBe('text/plain');
    expect(reply.headers['http2-settings']).toBeUndefined();
    expect((await h2Get('/ok')).status).toBe(200);
  });
});

describe('the real command with two workers', () => {
  it('hostile responses on every worker leave a slow unrelated request intact', async () => {
    // the slow upstream answers after 1.5 s: its request is in flight while the hostile ones arrive
    const slow = await startUpstream((_req, res) => {
      setTimeout(() => res.end('slow-done'), 1500);
    });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-head-'));
    const file = path.join(dir, 'dynamic.yml');
    writeFileSync(
      file,
      [
        'http:',
        '  routers:',
        '    bad: { rule: "Host(`bad.test`)", service: bad }',
        '    slow: { rule: "Host(`slow.test`)", service: slow }',
        '  services:',
        `    bad: { loadBalancer: { servers: [{ url: "${up.url}" }] } }`,
        `    slow: { loadBalancer: { servers: [{ url: "${slow.url}" }] } }`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const p = runPortico([
      `--entryPoints.web.address=127.0.0.1:${port}`,
      `--providers.file.filename=${file}`,
      '--workers=2',
    ]);
    try {
      // both workers must have the configuration: one answering 200 says nothing of the other
      await eventually(
        () => {
          const workers = new Set(
            p.lines
              .filter((l) => l.msg === 'configuration applied' && l.worker !== undefined)
              .map((l) => l.worker),
          );
          expect(workers.size).toBe(2);
        },
        { timeoutMs: 15_000 },
      );
      const inFlight = [1, 2, 3, 4].map(() =>
        request(`http://127.0.0.1:${port}/`, { headers: { host: 'slow.test' } }),
      );
      const hostile = await Promise.all(
        ['/del-reason', '/ctl-reason', '/del-reason', '/ctl-reason', '/status-600'].map((t) =>
          request(`http://127.0.0.1:${port}${t}`, { headers: { host: 'bad.test' } }),
        ),
      );
      expect(hostile.map((r) => r.status)).toEqual([200, 200, 200, 200, 600]);
      const slowReplies = await Promise.all(inFlight);
      expect(slowReplies.map((r) => `${r.status} ${r.body}`)).toEqual(
        Array(4).fill('200 slow-done'),
      );
      expect(p.child.exitCode).toBeNull();
      expect(p.stderr()).not.toContain('fatal');
    } finally {
      await p.stop('SIGKILL');
      await slow.close();
    }
  });
});

describe('an upstream framing error after the head', () => {
  it('cuts the client connection and is logged as an upstream error, not a client error', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'debug' },
      { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const staticConfig = testStaticConfig();
    const router = createRouterServer({ staticConfig, logger });
    const addresses = await router.listen();
    const merged = mergeSnapshots([
      {
        provider: 'file',
        errors: [],
        config: {
          http: {
            routers: { r: { rule: 'PathPrefix(`/`)', service: 's' } },
            services: { s: { loadBalancer: { servers: [{ url: up.url }] } } },
          },
        },
      },
    ]);
    router.applyConfig(merged.config, merged.errors);
    try {
      const reply = await rawGet(addresses.web!.port, '/bad-chunk');
      // the head went out; the body is cut short and the connection closed (no terminating chunk)
      expect(reply.statusLine).toBe('HTTP/1.1 200 OK');
      expect(reply.body).not.toContain('0\r\n\r\n');
      // the client's socket has closed by now: a client-error record would already be here
      expect(lines.filter((l) => l.msg === 'client error')).toEqual([]);
    } finally {
      await router.shutdown(100);
    }
  });
});
