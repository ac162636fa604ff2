/*
 * The buffering middleware against real upstreams: request limits (by
 * Content-Length and while reading a chunked body), response limits, retries
 * of the buffered request on network errors, validation and label decoding.
 */
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { UpstreamHandler } from '../../helpers/upstream.js';
import { closedPort } from '../../helpers/http.js';
import { useCleanups } from '../../helpers/scope.js';
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import { decodeLabels } from '../../../src/config/labels.js';
import { buffering } from '../../../middlewares/buffering.js';
import type { MiddlewareBuildContext } from '../../../middlewares/types.js';

const { upstream, router } = useCleanups();

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** body as a string is sent with Content-Length; as an array, chunk by chunk (chunked encoding) */
function request(
  url: string,
  method = 'GET',
  body?: string | string[],
  reqHeaders: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: reqHeaders, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on('error', reject);
    });
    // the router may answer 413 and close before the whole body went out
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
    if (Array.isArray(body)) {
      for (const c of body) req.write(c);
      req.end();
    } else req.end(body);
  });
}

function config(
  servers: string[],
  middlewares: Record<string, Record<string, unknown>>,
  chain: string[] = Object.keys(middlewares),
): DynamicConfig {
  return {
    http: {
      routers: { r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: chain } },
      services: { s: { loadBalancer: { servers: servers.map((url) => ({ url })) } } },
      middlewares,
    } as DynamicConfig['http'],
  };
}

describe('request body', () => {
  it('forwards a body within the limit, chunked ones with their length', async () => {
    const u = await upstream();
    const r = await router(config([u.url], { b: { buffering: { maxRequestBodyBytes: 100 } } }));
    const plain = await request(r.url + '/', 'POST', 'a'.repeat(100));
    expect(plain.status).toBe(200);
    const chunked = await request(r.url + '/', 'POST', ['b'.repeat(30), 'c'.repeat(30)]);
    expect(chunked.status).toBe(200);
    expect(u.seen[0]!.body).toBe('a'.repeat(100));
    expect(u.seen[1]!.body).toBe('b'.repeat(30) + 'c'.repeat(30));
    expect(u.seen[1]!.headers['content-length']).toBe('60');
    expect(u.seen[1]!.headers['transfer-encoding']).toBeUndefined();
    expect((await request(r.url + '/')).status).toBe(200); // no body at all
  });

  it('refuses a body announced larger than the limit with 413, before reading it', async () => {
    const u = await upstream();
    const r = await router(config([u.url], { b: { buffering: { maxRequestBodyBytes: 10 } } }));
    const res = await request(r.url + '/', 'POST', 'x'.repeat(11));
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
    expect(u.seen).toHaveLength(0);
  });

  it('refuses a chunked body that grows past the limit with 413', async () => {
    const u = await upstream();
    const r = await router(config([u.url], { b: { buffering: { maxRequestBodyBytes: 50 } } }));
    const res = await request(r.url + '/', 'POST', ['x'.repeat(30), 'y'.repeat(30)]);
    expect(res.status).toBe(413);
    expect(u.seen).toHaveLength(0);
  });

  it('has no limit when maxRequestBodyBytes is 0', async () => {
    const u = await upstream();
    const r = await router(config([u.url], { b: { buffering: {} } }));
    const big = 'z'.repeat(3 * 1024 * 1024);
    expect((await request(r.url + '/', 'POST', big)).status).toBe(200);
    expect(u.seen[0]!.body.length).toBe(big.length);
  });
});

describe('response body', () => {
  const sized =
    (n: number, chunked = true): UpstreamHandler =>
    (_req, res) => {
      res.writeHead(200, {
        'content-type': 'text/plain',
        ...(chunked ? {} : { 'content-length': String(n) }),
      });
      res.write('r'.repeat(Math.floor(n / 2)));
      res.end('r'.repeat(n - Math.floor(n / 2)));
    };

  it('holds a response within maxResponseBodyBytes and sends it with its length', async () => {
    const u = await upstream(sized(80));
    const r = await router(config([u.url], { b: { buffering: { maxResponseBodyBytes: 100 } } }));
    const res = await request(r.url + '/');
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe('80');
    expect(res.body).toBe('r'.repeat(80));
  });

  it('answers 500 when the response grows past maxResponseBodyBytes', async () => {
    const u = await upstream(sized(150));
    const r = await router(config([u.url], { b: { buffering: { maxResponseBodyBytes: 100 } } }));
    const res = await request(r.url + '/');
    expect(res.status).toBe(500);
    expect(res.body).toBe('Internal Server Error\n');
    // the router keeps working afterwards
    r.apply(config([u.url], { b: { buffering: { maxResponseBodyBytes: 1000 } } }));
    expect((await request(r.url + '/')).status).toBe(200);
  });
});

describe('retryExpression', () => {
  it('sends the buffered request again after a network error', async () => {
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const alive = await upstream('alive');
    const r = await router(
      config([dead, alive.url], {
        b: { buffering: { retryExpression: 'IsNetworkError() && Attempts() < 2' } },
      }),
    );
    for (let i = 0; i < 4; i++) {
      const res = await request(r.url + `/p${i}`, 'POST', `body ${i}`);
      expect(res.status).toBe(200);
    }
    expect(alive.seen.map((s) => s.body)).toEqual(['body 0', 'body 1', 'body 2', 'body 3']);
  });

  it('gives up after the attempts allowed, and without an expression does not retry', async () => {
    const dead1 = `http://127.0.0.1:${await closedPort()}`;
    const dead2 = `http://127.0.0.1:${await closedPort()}`;
    const r = await router(
      config([dead1, dead2], {
        b: { buffering: { retryExpression: 'Attempts() <= 2 && IsNetworkError()' } },
      }),
    );
    expect((await request(r.url + '/')).status).toBe(502);
    const alive = await upstream('alive');
    r.apply(config([dead1, alive.url], { b: { buffering: { maxRequestBodyBytes: 1000 } } }));
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await request(r.url + '/')).status);
    expect(statuses).toContain(502);
  });

  it('does not send again a 502 or 504 the upstream itself answered', async () => {
    for (const status of [502, 504]) {
      const u = await upstream((_req, res) => {
        res.writeHead(status);
        res.end('upstream says ' + status);
      });
      const r = await router(
        config([u.url], {
          b: { buffering: { retryExpression: 'IsNetworkError() && Attempts() < 3' } },
        }),
      );
      const res = await request(r.url + '/');
      expect(res.status).toBe(status);
      expect(res.body).toBe('upstream says ' + status);
      expect(u.seen).toHaveLength(1);
    }
  });

  it('sends again after a network error whatever status the answer to it ends up with', async () => {
    // an errors page rewrites the proxy's 502 to 500 on its way back: still a network error
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const alive = await upstream('alive');
    const pages = await upstream('page');
    const c = config([dead, alive.url], {
      b: { buffering: { retryExpression: 'IsNetworkError() && Attempts() < 2' } },
      e: { errors: { status: ['502'], service: 'pages', statusRewrites: { '502': 500 } } },
    });
    (c.http!.services as Record<string, unknown>).pages = {
      loadBalancer: { servers: [{ url: pages.url }] },
    };
    const r = await router(c);
    const got: number[] = [];
    for (let i = 0; i < 4; i++) got.push((await request(r.url + '/')).status);
    expect(got).toEqual([200, 200, 200, 200]);
  });

  it('restores the path between attempts (inner middlewares run again)', async () => {
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const alive = await upstream('alive');
    const cfg = config([dead, alive.url], {
      b: { buffering: { retryExpression: 'IsNetworkError() && Attempts() < 3' } },
      s: { stripPrefix: { prefixes: ['/api'] } },
    });
    const r = await router(cfg);
    for (let i = 0; i < 2; i++) expect((await request(r.url + '/api/api/x')).status).toBe(200);
    expect(alive.seen.map((s) => s.url)).toEqual(['/api/x', '/api/x']);
  });
});

const buildCtx: MiddlewareBuildContext = {
  name: 'b@file',
  state: undefined as never,
  logger: pino({ level: 'silent' }),
  service: () => {
    throw new Error('no services');
  },
};

describe('configuration', () => {
  it.each([
    [{ maxRequestBodyBytes: -1 }, 'maxRequestBodyBytes: must be at least 0'],
    [{ memRequestBodyBytes: 'x' }, 'memRequestBodyBytes: must be a number'],
    [{ maxResponseBodyBytes: 1.5 }, 'maxResponseBodyBytes: must be an integer'],
    [{ retryExpression: 'IsNetworkError()' }, 'retryExpression: unsupported expression'],
    [{ retryExpression: 'ResponseCode() == 503' }, 'retryExpression: unsupported expression'],
    [{ retryExpression: 'IsNetworkError() || Attempts() < 2' }, 'retryExpression'],
    [
      { maxRequestBodyByte: 1 },
      'maxRequestBodyByte: unknown field "maxRequestBodyByte", did you mean "maxRequestBodyBytes"?',
    ],
  ])('rejects %j', (raw, message) => {
    expect(() => buffering.create(raw, buildCtx)).toThrow(message);
  });

  it.each([
    [{}],
    [{ retryExpression: 'IsNetworkError() && Attempts() < 5' }],
    [{ retryexpression: ' Attempts()<=1&&IsNetworkError() ' }],
    [{ memRequestBodyBytes: '2097152', memResponseBodyBytes: 0 }],
  ])('accepts %j', (raw) => {
    expect(() => buffering.create(raw, buildCtx)).not.toThrow();
  });

  it('disables the routers using a bad buffering middleware, naming the option', async () => {
    const u = await upstream();
    const r = await router(
      config([u.url], { b: { buffering: { retryExpression: 'Attempts() < 2' } } }),
    );
    const table = r.apply(
      config([u.url], { b: { buffering: { retryExpression: 'Attempts() < 2' } } }),
    );
    expect(table.routers.get('r@file')?.status).toBe('disabled');
    expect(table.routers.get('r@file')?.errors.join(' ')).toContain('buffering.retryExpression');
  });
});

describe('Docker labels', () => {
  it('decodes a buffering middleware from labels and applies it', async () => {
    const u = await upstream();
    const decoded = decodeLabels(
      {
        'traefik.http.middlewares.b.buffering.maxrequestbodybytes': '20',
        'traefik.http.middlewares.b.buffering.memrequestbodybytes': '10',
        'traefik.http.middlewares.b.buffering.retryexpression':
          'IsNetworkError() && Attempts() < 2',
      },
      { prefixes: ['traefik'] },
    );
    expect(decoded.issues).toEqual([]);
    const r = await router(config([u.url], decoded.http.middlewares));
    expect((await request(r.url + '/', 'POST', 'x'.repeat(20))).status).toBe(200);
    expect((await request(r.url + '/', 'POST', 'x'.repeat(21))).status).toBe(413);
  });
});
