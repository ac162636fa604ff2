/*
 * Retry against real upstreams: a closed port next to a live server (the
 * load balancer picks again on each attempt), a server that resets
 * connections, status-based retries, body replay and its limit, config
 * errors and labels.
 */
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import { decodeLabels } from '../../../src/config/labels.js';
import type { UpstreamHandler } from '../../helpers/upstream.js';
import { closedPort, request as send, type Reply } from '../../helpers/http.js';
import { useCleanups } from '../../helpers/scope.js';

const { upstream, router } = useCleanups();

/** body as an array is sent part by part (chunked: no Content-Length announced) */
function request(
  url: string,
  method = 'GET',
  body?: string | string[],
  headers: Record<string, string> = {},
): Promise<Reply> {
  return send(url, { method, body, headers });
}

async function closedUrl(): Promise<string> {
  return `http://127.0.0.1:${await closedPort()}`;
}

function withRetry(servers: string[], retry: Record<string, unknown> | undefined): DynamicConfig {
  return {
    http: {
      routers: { r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: ['m'] } },
      services: { s: { loadBalancer: { servers: servers.map((url) => ({ url })) } } },
      middlewares: (retry === undefined ? {} : { m: retry }) as never,
    },
  };
}

const resetting: UpstreamHandler = (req) => req.socket.destroy();

describe('retry: network errors', () => {
  it('moves on to the next server when one refuses connections', async () => {
    const live = await upstream('live');
    const r = await router(withRetry([await closedUrl(), live.url], { retry: { attempts: 2 } }));
    for (let i = 0; i < 4; i++) expect((await request(r.url + '/')).status).toBe(200);
    expect(live.seen).toHaveLength(4);
  });

  it('without retries half of the requests fail', async () => {
    const live = await upstream('live');
    const r = await router(withRetry([await closedUrl(), live.url], { retry: { attempts: 1 } }));
    const got: number[] = [];
    for (let i = 0; i < 4; i++) got.push((await request(r.url + '/')).status);
    expect(got.filter((s) => s === 502)).toHaveLength(2);
  });

  it('answers the last failure when every attempt fails', async () => {
    const r = await router(
      withRetry([await closedUrl()], { retry: { attempts: 3, initialInterval: '5ms' } }),
    );
    expect((await request(r.url + '/')).status).toBe(502);
  });

  it('replays the request body of a POST refused at connect time', async () => {
    const live = await upstream('live');
    const r = await router(withRetry([await closedUrl(), live.url], { retry: { attempts: 2 } }));
    for (let i = 0; i < 2; i++) {
      const res = await request(r.url + '/', 'POST', `payload-${i}`);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body).body).toBe(`payload-${i}`);
    }
    expect(live.seen.map((s) => s.body)).toEqual(['payload-0', 'payload-1']);
  });

  it('replays a chunked body too', async () => {
    const live = await upstream('live');
    const r = await router(withRetry([await closedUrl(), live.url], { retry: { attempts: 2 } }));
    for (let i = 0; i < 2; i++) {
      const res = await request(r.url + '/', 'PUT', ['a', 'b', 'c']);
      expect(res.status).toBe(200);
    }
    expect(live.seen.map((s) => s.body)).toEqual(['abc', 'abc']);
  });

  // Traefik stops retrying once the request headers were written upstream, whatever the method (issue 11 item 9)
  it('does not resend any request the upstream received, whatever the method', async () => {
    const reset = await upstream(resetting);
    const r = await router(withRetry([reset.url], { retry: { attempts: 3 } }));
    for (const [method, body] of [
      ['POST', 'x'],
      ['PUT', 'x'],
      ['DELETE', undefined],
      ['GET', undefined],
    ] as const) {
      expect((await request(r.url + '/', method, body)).status).toBe(502);
    }
    expect(reset.seen.map((s) => s.method)).toEqual(['POST', 'PUT', 'DELETE', 'GET']);
    r.apply(withRetry([reset.url], { retry: { attempts: 3, retryNonIdempotentMethod: true } }));
    expect((await request(r.url + '/', 'POST', 'x')).status).toBe(502);
    expect(reset.seen).toHaveLength(5);
  });

  it('does not retry answers produced before the proxy (503: no server)', async () => {
    const r = await router(withRetry([], { retry: { attempts: 3 } }));
    expect((await request(r.url + '/')).status).toBe(503);
  });

  it('does not retry once the server answered, whatever the status', async () => {
    const u = await upstream((_req, res) => {
      res.writeHead(500);
      res.end('boom');
    });
    const r = await router(withRetry([u.url], { retry: { attempts: 3 } }));
    expect((await request(r.url + '/')).status).toBe(500);
    expect(u.seen).toHaveLength(1);
  });
});

describe('retry: a network error is the signal, not a 502/504 status (issue 12 §4)', () => {
  it('does not retry a 502 or 504 the upstream itself answered', async () => {
    // Traefik stops retrying once the request reached the upstream (httptrace WroteHeaders):
    // an upstream's own 502/504 is an answer, not a network error
    for (const status of [502, 504]) {
      const u = await upstream((_req, res) => {
        res.writeHead(status);
        res.end('upstream says ' + status);
      });
      const r = await router(withRetry([u.url], { retry: { attempts: 3 } }));
      const res = await request(r.url + '/');
      expect(res.status).toBe(status);
      expect(res.body).toBe('upstream says ' + status);
      expect(u.seen).toHaveLength(1);
    }
  });

  it('retries a network error whatever status the answer to it ends up with', async () => {
    // an errors page rewrites the proxy's 502 to 500 on its way back: still a network error
    const live = await upstream('live');
    const pages = await upstream('page');
    const r = await router({
      http: {
        routers: { r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: ['m', 'e'] } },
        services: {
          s: { loadBalancer: { servers: [{ url: await closedUrl() }, { url: live.url }] } },
          pages: { loadBalancer: { servers: [{ url: pages.url }] } },
        },
        middlewares: {
          m: { retry: { attempts: 2 } },
          e: { errors: { status: ['502'], service: 'pages', statusRewrites: { '502': 500 } } },
        },
      } as DynamicConfig['http'],
    });
    const got: number[] = [];
    for (let i = 0; i < 4; i++) got.push((await request(r.url + '/')).status);
    expect(got).toEqual([200, 200, 200, 200]);
    expect(live.seen).toHaveLength(4);
  });
});

describe('retry: status and body limits', () => {
  it('retries on the listed statuses', async () => {
    let calls = 0;
    const u = await upstream((_req, res) => {
      calls++;
      res.writeHead(calls === 1 ? 503 : 200);
      res.end(calls === 1 ? 'busy' : 'fine');
    });
    const r = await router(withRetry([u.url], { retry: { attempts: 3, status: ['500-599'] } }));
    const res = await request(r.url + '/');
    expect(res.status).toBe(200);
    expect(res.body).toBe('fine');
    expect(u.seen).toHaveLength(2);
  });

  it('refuses a chunked body over maxRequestBodyBytes with 413', async () => {
    const live = await upstream('live');
    const r = await router(
      withRetry([live.url], { retry: { attempts: 2, maxRequestBodyBytes: 4 } }),
    );
    expect((await request(r.url + '/', 'PUT', ['abc', 'def'])).status).toBe(413);
    expect(live.seen).toHaveLength(0);
  });

  it('streams a body announced over maxRequestBodyBytes once, without retries', async () => {
    const live = await upstream('live');
    const r = await router(
      withRetry([live.url], { retry: { attempts: 2, maxRequestBodyBytes: 4 } }),
    );
    const res = await request(r.url + '/', 'PUT', 'abcdefgh');
    expect(res.status).toBe(200);
    expect(live.seen[0]!.body).toBe('abcdefgh');
  });
});

describe('retry: configuration', () => {
  it.each([
    ['no attempts', {}, 'retry.attempts: is required'],
    ['attempts 0', { attempts: 0 }, 'attempts: must be at least 1'],
    [
      'a bad interval',
      { attempts: 2, initialInterval: 'later' },
      'initialInterval: must be a duration',
    ],
    ['a bad status', { attempts: 2, status: ['5xx'] }, 'status[0]: "5xx" is not a status'],
    ['an inverted range', { attempts: 2, status: ['599-500'] }, 'status[0]'],
    [
      'network retries off without status',
      { attempts: 2, disableRetryOnNetworkError: true },
      'disableRetryOnNetworkError: needs status',
    ],
    [
      'maxRequestBodyBytes below -1',
      { attempts: 2, maxRequestBodyBytes: -2 },
      'maxRequestBodyBytes: must be at least -1',
    ],
  ])('disables the router for %s', async (_name, options, message) => {
    const u = await upstream();
    const r = await router({});
    const table = r.apply(withRetry([u.url], { retry: options }));
    expect(table.routers.get('r@file')!.status).toBe('disabled');
    expect(table.middlewares.get('m@file')!.errors.join('\n')).toContain(message);
  });

  it('decodes Docker labels', async () => {
    const live = await upstream('live');
    const decoded = decodeLabels(
      {
        'traefik.http.middlewares.m.retry.attempts': '3',
        'traefik.http.middlewares.m.retry.initialinterval': '5ms',
      },
      { prefixes: ['traefik'] },
    ).http.middlewares;
    const cfg = withRetry([await closedUrl(), live.url], undefined);
    cfg.http!.middlewares = decoded as never;
    const r = await router(cfg);
    for (let i = 0; i < 2; i++) expect((await request(r.url + '/')).status).toBe(200);
  });
});
