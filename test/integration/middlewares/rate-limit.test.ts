/*
 * RateLimit against a real upstream, with request counts rather than
 * timings: burst then 429 with Retry-After/X-Retry-In, per-source buckets,
 * buckets kept across an unchanged config swap, config errors and labels.
 */
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import { decodeLabels } from '../../../src/config/labels.js';
import { goDuration } from '../../../middlewares/rate-limit.js';
import type { Upstream } from '../../helpers/upstream.js';
import { request, type Reply } from '../../helpers/http.js';
import { useCleanups } from '../../helpers/scope.js';

const { upstream, router } = useCleanups();

const get = (url: string, headers: Record<string, string> = {}): Promise<Reply> =>
  request(url, { headers });

async function statuses(
  url: string,
  n: number,
  headers: Record<string, string> = {},
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await get(url, headers)).status);
  return out;
}

function withMiddleware(
  u: Upstream,
  middlewares: Record<string, unknown>,
  extraRouter = false,
): DynamicConfig {
  return {
    http: {
      routers: {
        r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: ['m'] },
        ...(extraRouter ? { other: { rule: 'Path(`/other`)', service: 's' } } : {}),
      },
      services: { s: { loadBalancer: { servers: [{ url: u.url }] } } },
      middlewares: middlewares as never,
    },
  };
}

/** one request a minute: a missing token is always far beyond maxDelay */
const SLOW = { average: 1, period: '1m' };

describe('rateLimit', () => {
  it('serves the burst, then answers 429 with Retry-After and X-Retry-In', async () => {
    const u = await upstream();
    const r = await router(withMiddleware(u, { m: { rateLimit: { ...SLOW, burst: 3 } } }));
    expect(await statuses(r.url + '/', 3)).toEqual([200, 200, 200]);
    const refused = await get(r.url + '/');
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(50);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers['x-retry-in']).toMatch(/^\d+(\.\d+)?s$/);
    expect(u.seen).toHaveLength(3);
  });

  it('burst defaults to 1', async () => {
    const u = await upstream();
    const r = await router(withMiddleware(u, { m: { rateLimit: SLOW } }));
    expect(await statuses(r.url + '/', 2)).toEqual([200, 429]);
  });

  it('average 0 means no limit', async () => {
    const u = await upstream();
    const r = await router(withMiddleware(u, { m: { rateLimit: { average: 0, burst: 1 } } }));
    expect(await statuses(r.url + '/', 5)).toEqual([200, 200, 200, 200, 200]);
  });

  it('delays a request whose token is due within maxDelay instead of refusing it', async () => {
    const u = await upstream();
    // 4/s: a token every 250ms, maxDelay 125ms
    const r = await router(withMiddleware(u, { m: { rateLimit: { average: 4, burst: 1 } } }));
    expect((await get(r.url + '/')).status).toBe(200);
    // at least 150ms later the next token is at most 100ms away: waited for, never refused
    await new Promise((res) => setTimeout(res, 150));
    expect((await get(r.url + '/')).status).toBe(200);
  });

  it('keeps one bucket per source (requestHeaderName)', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, {
        m: { rateLimit: { ...SLOW, burst: 1, sourceCriterion: { requestHeaderName: 'X-Key' } } },
      }),
    );
    expect(await statuses(r.url + '/', 2, { 'x-key': 'a' })).toEqual([200, 429]);
    expect(await statuses(r.url + '/', 2, { 'x-key': 'b' })).toEqual([200, 429]);
  });

  it('keeps one bucket per router that uses the middleware, as Traefik builds one per router', async () => {
    const u = await upstream();
    const r = await router({
      http: {
        routers: {
          a: { rule: 'Path(`/a`)', service: 's', middlewares: ['m'] },
          b: { rule: 'Path(`/b`)', service: 's', middlewares: ['m'] },
        },
        services: { s: { loadBalancer: { servers: [{ url: u.url }] } } },
        middlewares: { m: { rateLimit: { ...SLOW, burst: 2 } } },
      },
    });
    expect(await statuses(r.url + '/a', 3)).toEqual([200, 200, 429]);
    expect(await statuses(r.url + '/b', 3)).toEqual([200, 200, 429]);
  });

  it('keeps buckets across a swap that leaves the middleware unchanged', async () => {
    const u = await upstream();
    const m = { m: { rateLimit: { ...SLOW, burst: 2 } } };
    const r = await router(withMiddleware(u, m));
    expect(await statuses(r.url + '/', 2)).toEqual([200, 200]);
    r.apply(withMiddleware(u, m, true));
    expect((await get(r.url + '/')).status).toBe(429);
    // a changed limit starts afresh
    r.apply(withMiddleware(u, { m: { rateLimit: { ...SLOW, burst: 3 } } }));
    expect(await statuses(r.url + '/', 4)).toEqual([200, 200, 200, 429]);
  });

  it.each([
    [
      'redis',
      { average: 1, redis: { endpoints: ['localhost:6379'] } },
      'rateLimit.redis: redis rate limiting is not supported yet',
    ],
    ['a negative period', { average: 1, period: '-1s' }, 'period: must not be negative'],
    ['a bad period', { average: 1, period: 'soon' }, 'period: must be a duration'],
    ['a negative average', { average: -1 }, 'average: must be at least 0'],
    ['a text burst', { average: 1, burst: 'lots' }, 'burst: must be a number'],
    [
      'two source criteria',
      { average: 1, sourceCriterion: { ipStrategy: { depth: 1 }, requestHost: true } },
      'sourceCriterion: ipStrategy and requestHost are mutually exclusive',
    ],
    ['an unknown option', { averag: 1 }, 'did you mean "average"?'],
  ])('disables the router for %s', async (_name, options, message) => {
    const u = await upstream();
    const r = await router({});
    const table = r.apply(withMiddleware(u, { m: { rateLimit: options } }));
    expect(table.routers.get('r@file')!.status).toBe('disabled');
    expect(table.middlewares.get('m@file')!.errors.join('\n')).toContain(message);
  });

  it('decodes Docker labels', async () => {
    const u = await upstream();
    const decoded = decodeLabels(
      {
        'traefik.http.middlewares.m.ratelimit.average': '1',
        'traefik.http.middlewares.m.ratelimit.period': '1m',
        'traefik.http.middlewares.m.ratelimit.burst': '2',
        'traefik.http.middlewares.m.ratelimit.sourcecriterion.requesthost': 'true',
      },
      { prefixes: ['traefik'] },
    ).http.middlewares;
    const r = await router(withMiddleware(u, decoded));
    expect(await statuses(r.url + '/', 3, { host: 'a.test' })).toEqual([200, 200, 429]);
    expect((await get(r.url + '/', { host: 'b.test' })).status).toBe(200);
  });

  it.each([
    [333.3333333, '333.333333ms'],
    [60_000, '1m0s'],
    [1500, '1.5s'],
    [0.5, '500µs'],
  ])('formats %sms as Go does: %s', (ms, text) => {
    expect(goDuration(ms)).toBe(text);
  });
});
