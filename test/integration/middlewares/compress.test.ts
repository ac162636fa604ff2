/*
 * The compress middleware against real upstreams: negotiation, the size and
 * content-type rules, the responses it must leave alone, streaming (SSE) and
 * backpressure, option validation and Docker-label decoding.
 */
import http from 'node:http';
import zlib from 'node:zlib';
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { UpstreamHandler } from '../../helpers/upstream.js';
import { request as send, type Reply as HttpReply } from '../../helpers/http.js';
import { useCleanups } from '../../helpers/scope.js';
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import { decodeLabels } from '../../../src/config/labels.js';
import { compress } from '../../../middlewares/compress.js';
import type { MiddlewareBuildContext } from '../../../middlewares/types.js';

const { upstream, router } = useCleanups();

/** the body stays bytes: it may be compressed */
type Reply = Omit<HttpReply, 'body'> & { body: Buffer };

async function request(
  url: string,
  reqHeaders: Record<string, string> = {},
  method = 'GET',
): Promise<Reply> {
  const res = await send(url, { method, headers: reqHeaders });
  return { ...res, body: res.bytes };
}

function decode(res: Reply): string {
  switch (res.headers['content-encoding']) {
    case 'gzip':
      return zlib.gunzipSync(res.body).toString();
    case 'br':
      return zlib.brotliDecompressSync(res.body).toString();
    case undefined:
      return res.body.toString();
    default:
      throw new Error(`unexpected encoding ${res.headers['content-encoding']}`);
  }
}

function config(
  server: string,
  middlewares: Record<string, Record<string, unknown>>,
  chain: string[] = Object.keys(middlewares),
): DynamicConfig {
  return {
    http: {
      routers: { r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: chain } },
      services: { s: { loadBalancer: { servers: [{ url: server }] } } },
      middlewares,
    } as DynamicConfig['http'],
  };
}

const BIG = JSON.stringify({
  items: Array.from({ length: 400 }, (_, i) => ({ i, name: `item ${i}` })),
});

/** an upstream answering BIG (or `body`) with the given headers; chunked unless content-length is set */
function fixed(
  headers: Record<string, string> = { 'content-type': 'application/json' },
  body = BIG,
  status = 200,
): UpstreamHandler {
  return (_req, res) => {
    res.writeHead(status, headers);
    res.end(status === 204 || status === 304 ? undefined : body);
  };
}

const zstdAvailable =
  typeof (zlib as { createZstdCompress?: unknown }).createZstdCompress === 'function';

describe('negotiation', () => {
  it.each([
    // [configured encodings, Accept-Encoding, expected Content-Encoding]
    [undefined, 'gzip', 'gzip'],
    [undefined, 'br', 'br'],
    [undefined, 'gzip, br', 'gzip'], // tie: the configured order decides
    [['br', 'gzip'], 'gzip, br', 'br'],
    [undefined, 'gzip;q=0.5, br;q=0.9', 'br'],
    [undefined, 'br;q=0, gzip', 'gzip'],
    [undefined, 'deflate', undefined],
    [undefined, 'identity', undefined],
    [undefined, '', undefined], // present but empty: no coding wanted
    [undefined, '*', 'gzip'], // the first configured encoding
    [['br', 'gzip'], '*', 'br'],
    [undefined, '*;q=0', undefined],
    [['gzip'], 'br', undefined],
  ])('encodings %j, Accept-Encoding %j → %s', async (encodings, accept, expected) => {
    const u = await upstream(fixed());
    const r = await router(config(u.url, { c: { compress: encodings ? { encodings } : {} } }));
    const res = await request(r.url + '/', { 'accept-encoding': accept });
    expect(res.headers['content-encoding']).toBe(expected);
    expect(decode(res)).toBe(BIG);
  });

  it('uses defaultEncoding when Accept-Encoding is absent or *, and nothing without it', async () => {
    const u = await upstream(fixed());
    const r = await router(config(u.url, { c: { compress: { defaultEncoding: 'br' } } }));
    const absent = await request(r.url + '/');
    expect(absent.headers['content-encoding']).toBe('br');
    expect(decode(absent)).toBe(BIG);
    expect(
      (await request(r.url + '/', { 'accept-encoding': '*' })).headers['content-encoding'],
    ).toBe('br');
    r.apply(config(u.url, { c: { compress: {} } }));
    expect((await request(r.url + '/')).headers['content-encoding']).toBeUndefined();
  });

  it.skipIf(zstdAvailable)(
    'accepts zstd but never negotiates it on a Node without it',
    async () => {
      const u = await upstream(fixed());
      const r = await router(config(u.url, { c: { compress: { encodings: ['zstd', 'gzip'] } } }));
      expect(
        (await request(r.url + '/', { 'accept-encoding': 'zstd' })).headers['content-encoding'],
      ).toBe(undefined);
      expect(
        (await request(r.url + '/', { 'accept-encoding': 'zstd, gzip' })).headers[
          'content-encoding'
        ],
      ).toBe('gzip');
    },
  );
});

describe('what gets compressed', () => {
  it('compresses a large response: no Content-Length, Vary: Accept-Encoding, body intact', async () => {
    const u = await upstream(
      fixed({
        'content-type': 'application/json',
        'content-length': String(BIG.length),
        'accept-ranges': 'bytes',
      }),
    );
    const r = await router(config(u.url, { c: { compress: {} } }));
    const res = await request(r.url + '/', { 'accept-encoding': 'gzip' });
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers['content-length']).toBeUndefined();
    expect(res.headers['accept-ranges']).toBeUndefined();
    expect(res.headers.vary).toBe('Accept-Encoding');
    expect(res.body.length).toBeLessThan(BIG.length);
    expect(decode(res)).toBe(BIG);
  });

  it('leaves a response under minResponseBodyBytes alone, by Content-Length or after buffering', async () => {
    const small = 'x'.repeat(500);
    const withLength = await upstream(
      fixed({ 'content-type': 'text/plain', 'content-length': '500' }, small),
    );
    const chunked = await upstream(fixed({ 'content-type': 'text/plain' }, small));
    const cfg = config(withLength.url, { c: { compress: {} } });
    cfg.http!.routers!.r2 = { rule: 'Path(`/chunked`)', service: 's2', middlewares: ['c'] };
    cfg.http!.services!.s2 = { loadBalancer: { servers: [{ url: chunked.url }] } };
    const r = await router(cfg);
    const a = await request(r.url + '/', { 'accept-encoding': 'gzip' });
    expect(a.headers['content-encoding']).toBeUndefined();
    expect(a.body.toString()).toBe(small);
    const b = await request(r.url + '/chunked', { 'accept-encoding': 'gzip' });
    expect(b.headers['content-encoding']).toBeUndefined();
    expect(b.headers['content-length']).toBe('500');
    expect(b.body.toString()).toBe(small);
  });

  it('honours minResponseBodyBytes', async () => {
    const u = await upstream(fixed({ 'content-type': 'text/plain' }, 'y'.repeat(200)));
    const r = await router(config(u.url, { c: { compress: { minResponseBodyBytes: 100 } } }));
    const res = await request(r.url + '/', { 'accept-encoding': 'gzip' });
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(decode(res)).toBe('y'.repeat(200));
  });

  it.each([
    ['already encoded', fixed({ 'content-type': 'text/plain', 'content-encoding': 'deflate' })],
    ['gRPC', fixed({ 'content-type': 'application/grpc' })],
    ['gRPC+proto', fixed({ 'content-type': 'application/grpc+proto' })],
    [
      'a range',
      fixed({ 'content-type': 'text/plain', 'content-range': 'bytes 0-9/100' }, BIG, 206),
    ],
    ['204', fixed({}, '', 204)],
    ['304', fixed({ etag: '"a"' }, '', 304)],
  ])('leaves %s responses alone', async (_name, handler) => {
    const u = await upstream(handler);
    const r = await router(config(u.url, { c: { compress: {} } }));
    const res = await request(r.url + '/', { 'accept-encoding': 'gzip' });
    expect(res.headers['content-encoding'] ?? 'none').not.toBe('gzip');
  });

  it('does not compress HEAD responses', async () => {
    const u = await upstream(
      fixed({ 'content-type': 'text/plain', 'content-length': String(BIG.length) }),
    );
    const r = await router(config(u.url, { c: { compress: {} } }));
    const res = await request(r.url + '/', { 'accept-encoding': 'gzip' }, 'HEAD');
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers['content-length']).toBe(String(BIG.length));
  });

  it('follows excludedContentTypes and includedContentTypes (with parameters)', async () => {
    const html = await upstream(fixed({ 'content-type': 'text/html; charset=utf-8' }));
    const r = await router(
      config(html.url, { c: { compress: { excludedContentTypes: ['text/html'] } } }),
    );
    expect(
      (await request(r.url + '/', { 'accept-encoding': 'gzip' })).headers['content-encoding'],
    ).toBe(undefined);
    r.apply(config(html.url, { c: { compress: { includedContentTypes: ['application/json'] } } }));
    expect(
      (await request(r.url + '/', { 'accept-encoding': 'gzip' })).headers['content-encoding'],
    ).toBe(undefined);
    r.apply(
      config(html.url, { c: { compress: { includedContentTypes: ['Text/HTML; charset=utf-8'] } } }),
    );
    expect(
      (await request(r.url + '/', { 'accept-encoding': 'gzip' })).headers['content-encoding'],
    ).toBe('gzip');
    r.apply(
      config(html.url, {
        c: { compress: { includedContentTypes: ['text/html; charset=latin1'] } },
      }),
    );
    expect(
      (await request(r.url + '/', { 'accept-encoding': 'gzip' })).headers['content-encoding'],
    ).toBe(undefined);
  });

  it('never compresses twice: a second compress in the chain passes through', async () => {
    const u = await upstream(fixed());
    const r = await router(
      config(u.url, { c1: { compress: {} }, c2: { compress: { encodings: ['br'] } } }),
    );
    const res = await request(r.url + '/', { 'accept-encoding': 'gzip, br' });
    expect(res.headers['content-encoding']).toBe('br'); // the inner one (c2) compressed
    expect(decode(res)).toBe(BIG);
  });

  it('compresses responses Portico writes itself when large enough, not the short 502', async () => {
    const r = await router(config('http://127.0.0.1:1', { c: { compress: {} } }));
    const res = await request(r.url + '/', { 'accept-encoding': 'gzip' });
    expect(res.status).toBe(502);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.body.toString()).toBe('Bad Gateway\n');
  });
});

/** an event stream: a short first event, then the second only once the client saw the first */
function sseUpstream(): { handler: UpstreamHandler; release: () => void } {
  let release: () => void = () => {};
  const done = new Promise<void>((r) => (release = r));
  return {
    release: () => release(),
    handler: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      // far below minResponseBodyBytes: nothing may hold it back
      res.write('data: first\n\n');
      void done.then(() => {
        res.write('data: second\n\n');
        res.end();
      });
    },
  };
}

describe('streaming', () => {
  it('leaves server-sent events uncompressed by default, each delivered as it is produced', async () => {
    const sse = sseUpstream();
    const u = await upstream(sse.handler);
    const r = await router(config(u.url, { c: { compress: {} } }));
    const text = await new Promise<string>((resolve, reject) => {
      const req = http.get(
        r.url + '/',
        { headers: { 'accept-encoding': 'gzip' }, agent: false },
        (res) => {
          expect(res.headers['content-encoding']).toBeUndefined();
          let seen = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            seen += c;
            if (seen.includes('data: first') && !seen.includes('second')) sse.release();
          });
          res.on('end', () => resolve(seen));
        },
      );
      req.on('error', reject);
    });
    expect(text).toBe('data: first\n\ndata: second\n\n');
  });

  it('compresses server-sent events when listed in includedContentTypes, event by event', async () => {
    const sse = sseUpstream();
    const release = sse.release;
    const u = await upstream(sse.handler);
    const r = await router(
      config(u.url, { c: { compress: { includedContentTypes: ['text/event-stream'] } } }),
    );
    const text = await new Promise<string>((resolve, reject) => {
      const req = http.get(
        r.url + '/',
        { headers: { 'accept-encoding': 'gzip' }, agent: false },
        (res) => {
          expect(res.headers['content-encoding']).toBe('gzip');
          const gunzip = zlib.createGunzip();
          let seen = '';
          res.pipe(gunzip);
          gunzip.on('data', (c: Buffer) => {
            seen += c.toString();
            // the first event arrives while the upstream is still holding the rest back
            if (seen.includes('data: first') && !seen.includes('second')) release();
          });
          gunzip.on('end', () => resolve(seen));
          gunzip.on('error', reject);
        },
      );
      req.on('error', reject);
    });
    expect(text).toContain('data: first\n\n');
    expect(text).toContain('data: second\n\n');
  });

  it('keeps a large response intact through a slow reader (backpressure)', async () => {
    // base64 of random bytes: gzip saves only a quarter, so megabytes reach the client socket
    const block = Buffer.from(randomBytes(768 * 1024).toString('base64'));
    const rounds = 8;
    const expected = createHash('sha256');
    for (let i = 0; i < rounds; i++) expected.update(block);
    let upstreamWaited = 0;
    const u = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      let round = 0;
      let offset = 0;
      const pump = (): void => {
        while (round < rounds) {
          const chunk = block.subarray(offset, offset + 65536);
          offset += chunk.length;
          if (offset >= block.length) {
            offset = 0;
            round++;
          }
          if (!res.write(chunk)) {
            upstreamWaited++;
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const r = await router(config(u.url, { c: { compress: {} } }));
    const digest = await new Promise<string>((resolve, reject) => {
      const req = http.get(
        r.url + '/',
        { headers: { 'accept-encoding': 'gzip' }, agent: false },
        (res) => {
          const gunzip = zlib.createGunzip();
          const hash = createHash('sha256');
          res.pause();
          setTimeout(() => res.pipe(gunzip), 500);
          gunzip.on('data', (c: Buffer) => hash.update(c));
          gunzip.on('end', () => resolve(hash.digest('hex')));
          gunzip.on('error', reject);
        },
      );
      req.on('error', reject);
    });
    expect(digest).toBe(expected.digest('hex'));
    // the client did not read for a while: the upstream must have been told to wait
    expect(upstreamWaited).toBeGreaterThan(0);
  });
});

const buildCtx: MiddlewareBuildContext = {
  name: 'c@file',
  state: undefined as never,
  logger: pino({ level: 'silent' }),
  service: () => {
    throw new Error('no services');
  },
};

describe('configuration', () => {
  it.each([
    [{ encodings: [] }, 'encodings: at least one encoding must be specified'],
    [{ encodings: ['gzip', 'deflate'] }, 'encodings[1]: unsupported encoding "deflate"'],
    [
      { encodings: ['gzip'], defaultEncoding: 'br' },
      'defaultEncoding: "br" is not among the encodings',
    ],
    [
      { includedContentTypes: ['text/html'], excludedContentTypes: ['text/plain'] },
      'mutually exclusive',
    ],
    [
      { excludedContentTypes: ['not a type'] },
      'excludedContentTypes[0]: "not a type" is not a media type',
    ],
    [{ minResponseBodyBytes: -1 }, 'minResponseBodyBytes: must be at least 0'],
    [{ minResponseBodyBytes: 'lots' }, 'minResponseBodyBytes: must be a number'],
    [{ encoding: ['gzip'] }, 'encoding: unknown field "encoding", did you mean "encodings"?'],
  ])('rejects %j', (raw, message) => {
    expect(() => compress.create(raw, buildCtx)).toThrow(message);
  });

  it.each([
    [{}],
    [{ encodings: 'br,gzip' }],
    [{ encodings: ['zstd'] }],
    [{ Encodings: ['GZIP'], defaultencoding: 'gzip' }],
  ])('accepts %j', (raw) => {
    expect(() => compress.create(raw, buildCtx)).not.toThrow();
  });
});

describe('Docker labels', () => {
  it('decodes a compress middleware from labels and applies it', async () => {
    const u = await upstream(fixed({ 'content-type': 'text/plain' }, 'z'.repeat(300)));
    const decoded = decodeLabels(
      {
        'traefik.http.middlewares.c.compress.encodings': 'br,gzip',
        'traefik.http.middlewares.c.compress.minresponsebodybytes': '200',
        'traefik.http.middlewares.c.compress.excludedcontenttypes': 'text/event-stream',
      },
      { prefixes: ['traefik'] },
    );
    expect(decoded.issues).toEqual([]);
    const r = await router(config(u.url, decoded.http.middlewares));
    const res = await request(r.url + '/', { 'accept-encoding': 'gzip, br' });
    expect(res.headers['content-encoding']).toBe('br');
    expect(decode(res)).toBe('z'.repeat(300));
  });

  it('decodes `compress=true` (all defaults)', async () => {
    const u = await upstream(fixed());
    const decoded = decodeLabels(
      { 'traefik.http.middlewares.c.compress': 'true' },
      { prefixes: ['traefik'] },
    );
    expect(decoded.issues).toEqual([]);
    const r = await router(config(u.url, decoded.http.middlewares));
    expect(
      (await request(r.url + '/', { 'accept-encoding': 'gzip' })).headers['content-encoding'],
    ).toBe('gzip');
  });
});
