/*
 * CircuitBreaker against real upstreams (a closed port, one answering 500,
 * a slow one): tripping on each metric, the fallback status, recovery,
 * state across swaps, expression errors with positions, and labels.
 */
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import { decodeLabels } from '../../../src/config/labels.js';
import type { UpstreamHandler } from '../../helpers/upstream.js';
import { eventually } from '../../helpers/eventually.js';
import { closedPort, request } from '../../helpers/http.js';
import { useCleanups } from '../../helpers/scope.js';

const { upstream, router } = useCleanups();

async function get(url: string): Promise<number> {
  return (await request(url)).status;
}

async function statuses(url: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await get(url));
  return out;
}

function withMiddleware(
  url: string,
  middlewares: Record<string, unknown>,
  extra = false,
): DynamicConfig {
  return {
    http: {
      routers: {
        r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: ['m'] },
        ...(extra ? { other: { rule: 'Path(`/other`)', service: 's' } } : {}),
      },
      services: { s: { loadBalancer: { servers: [{ url }] } } },
      middlewares: middlewares as never,
    },
  };
}

let failing = true;
const flaky: UpstreamHandler = (_req, res) => {
  res.writeHead(failing ? 500 : 200);
  res.end(failing ? 'down' : 'up');
};

describe('circuitBreaker', () => {
  it('opens on NetworkErrorRatio and answers 503 without calling the service', async () => {
    const port = await closedPort();
    const r = await router(
      withMiddleware(`http://127.0.0.1:${port}`, {
        m: { circuitBreaker: { expression: 'NetworkErrorRatio() > 0.5' } },
      }),
    );
    expect(await get(r.url + '/')).toBe(502);
    expect(await statuses(r.url + '/', 3)).toEqual([503, 503, 503]);
  });

  it('opens on ResponseCodeRatio and answers responseCode', async () => {
    failing = true;
    const u = await upstream(flaky);
    const r = await router(
      withMiddleware(u.url, {
        m: {
          circuitBreaker: {
            expression: 'ResponseCodeRatio(500, 600, 0, 600) > 0.25',
            responseCode: 429,
          },
        },
      }),
    );
    expect(await get(r.url + '/')).toBe(500);
    expect(await statuses(r.url + '/', 2)).toEqual([429, 429]);
    expect(u.seen).toHaveLength(1);
  });

  it('stays closed while the expression does not hold', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u.url, {
        m: {
          circuitBreaker: {
            expression: 'NetworkErrorRatio() > 0.5 || ResponseCodeRatio(500, 600, 0, 600) > 0.5',
          },
        },
      }),
    );
    expect(await statuses(r.url + '/', 5)).toEqual([200, 200, 200, 200, 200]);
  });

  it('waits for RequestThreshold() before opening', async () => {
    failing = true;
    const u = await upstream(flaky);
    const r = await router(
      withMiddleware(u.url, {
        m: {
          circuitBreaker: {
            expression: 'ResponseCodeRatio(500, 600, 0, 600) > 0.5 && RequestThreshold() >= 3',
            checkPeriod: '0s',
          },
        },
      }),
    );
    expect(await statuses(r.url + '/', 4)).toEqual([500, 500, 500, 503]);
  });

  it('opens on LatencyAtQuantileMS', async () => {
    const u = await upstream((_req, res) => {
      setTimeout(() => res.end('slow'), 120);
    });
    const r = await router(
      withMiddleware(u.url, {
        m: { circuitBreaker: { expression: 'LatencyAtQuantileMS(50.0) > 100' } },
      }),
    );
    expect(await get(r.url + '/')).toBe(200);
    expect(await get(r.url + '/')).toBe(503);
  });

  it('recovers after fallbackDuration and closes after recoveryDuration', async () => {
    failing = true;
    const u = await upstream(flaky);
    const r = await router(
      withMiddleware(u.url, {
        m: {
          circuitBreaker: {
            expression: 'ResponseCodeRatio(500, 600, 0, 600) > 0.5',
            fallbackDuration: '100ms',
            recoveryDuration: '200ms',
          },
        },
      }),
    );
    expect(await get(r.url + '/')).toBe(500);
    expect(await get(r.url + '/')).toBe(503);
    failing = false;
    // recovering lets a share through, then closed lets everything through
    await eventually(
      async () => expect(await statuses(r.url + '/', 5)).toEqual([200, 200, 200, 200, 200]),
      {
        timeoutMs: 3000,
      },
    );
  });

  it('keeps one circuit per router that uses the middleware, as Traefik builds one per router', async () => {
    const port = await closedPort();
    const u = await upstream();
    const r = await router({
      http: {
        routers: {
          a: { rule: 'Path(`/a`)', service: 'dead', middlewares: ['m'] },
          b: { rule: 'Path(`/b`)', service: 'ok', middlewares: ['m'] },
        },
        services: {
          dead: { loadBalancer: { servers: [{ url: `http://127.0.0.1:${port}` }] } },
          ok: { loadBalancer: { servers: [{ url: u.url }] } },
        },
        middlewares: { m: { circuitBreaker: { expression: 'NetworkErrorRatio() > 0.5' } } },
      },
    });
    expect(await get(r.url + '/a')).toBe(502);
    expect(await get(r.url + '/a')).toBe(503);
    // the failing service opened router a's circuit, not b's
    expect(await statuses(r.url + '/b', 3)).toEqual([200, 200, 200]);
  });

  it('keeps an open circuit across a swap that leaves it unchanged', async () => {
    const port = await closedPort();
    const m = { m: { circuitBreaker: { expression: 'NetworkErrorRatio() > 0.5' } } };
    const url = `http://127.0.0.1:${port}`;
    const r = await router(withMiddleware(url, m));
    expect(await get(r.url + '/')).toBe(502);
    r.apply(withMiddleware(url, m, true));
    expect(await get(r.url + '/')).toBe(503);
  });

  it.each([
    ['an empty expression', '', 'expression: must not be empty'],
    ['an unknown function', 'Foo() > 1', 'unknown function Foo; known: NetworkErrorRatio'],
    [
      'a missing value',
      'NetworkErrorRatio() >',
      'expected a number to compare with, found "end of expression" (at position 22)',
    ],
    ['a dangling &&', 'NetworkErrorRatio() > 0.5 &&', '(at position 29)'],
    [
      'wrong arity',
      'ResponseCodeRatio(500, 600) > 0.5',
      'ResponseCodeRatio takes 4 argument(s), got 2 (at position 1)',
    ],
    [
      'a bad quantile',
      'LatencyAtQuantileMS(0) > 100',
      'LatencyAtQuantileMS takes a quantile between 0 and 100',
    ],
    ['an unclosed parenthesis', '(NetworkErrorRatio() > 0.5', 'expected ")"'],
    [
      'a stray character',
      'NetworkErrorRatio() > 0.5 $',
      'unexpected character "$" (at position 27)',
    ],
    ['a missing comparison', 'NetworkErrorRatio()', 'expected a comparison'],
  ])('disables the router for %s', async (_name, expression, message) => {
    const u = await upstream();
    const r = await router({});
    const table = r.apply(withMiddleware(u.url, { m: { circuitBreaker: { expression } } }));
    expect(table.routers.get('r@file')!.status).toBe('disabled');
    expect(table.middlewares.get('m@file')!.errors.join('\n')).toContain(message);
  });

  it.each([
    ['no expression', {}, 'circuitBreaker.expression: is required'],
    [
      'a bad responseCode',
      { expression: 'NetworkErrorRatio() > 0.5', responseCode: 600 },
      'responseCode: must be at most 599',
    ],
    [
      'a bad checkPeriod',
      { expression: 'NetworkErrorRatio() > 0.5', checkPeriod: 'often' },
      'checkPeriod: must be a duration',
    ],
  ])('rejects %s', async (_name, options, message) => {
    const u = await upstream();
    const r = await router({});
    const table = r.apply(withMiddleware(u.url, { m: { circuitBreaker: options } }));
    expect(table.middlewares.get('m@file')!.errors.join('\n')).toContain(message);
  });

  it('decodes Docker labels', async () => {
    failing = true;
    const u = await upstream(flaky);
    const decoded = decodeLabels(
      {
        'traefik.http.middlewares.m.circuitbreaker.expression':
          '(ResponseCodeRatio(500, 600, 0, 600) > 0.30) || NetworkErrorRatio() > 0.10',
        'traefik.http.middlewares.m.circuitbreaker.responsecode': '502',
        'traefik.http.middlewares.m.circuitbreaker.fallbackduration': '1m',
      },
      { prefixes: ['traefik'] },
    ).http.middlewares;
    const r = await router(withMiddleware(u.url, decoded));
    expect(await statuses(r.url + '/', 2)).toEqual([500, 502]);
  });
});
