/*
 * explainRequest(): which router takes a request and why the others did not, read off a
 * real compiled table. The last block proves the explanation is what the running router
 * does, by sending the same requests through a real entrypoint.
 */
import http from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import type { EntryPointConfig } from '../../src/config/static-types.js';
import { mergeSnapshots } from '../../src/config/aggregate.js';
import { compile } from '../../src/routing/compile.js';
import { StateRegistry } from '../../src/kernel/state.js';
import type { RoutingTable } from '../../src/table/table.js';
import {
  ExplainError,
  explainApiUrl,
  explainRequest,
  formatExplain,
  parseExplainArgs,
  parseExplainQuery,
  type ExplainInput,
} from '../../src/api/explain.js';
import { eventually } from '../helpers/eventually.js';
import { startRouter, testStaticConfig, type TestRouter } from '../helpers/portico.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const svc = { loadBalancer: { servers: [{ url: 'http://127.0.0.1:1' }] } };

/** Entrypoints with fixed ports (never listened on): web :8000, admin :9000. */
function entryPoints(extra: Partial<EntryPointConfig> = {}): Record<string, EntryPointConfig> {
  const web = testStaticConfig().entryPoints.web!;
  return {
    web: { ...web, name: 'web', port: 8000, ...extra },
    admin: { ...web, name: 'admin', port: 9000 },
  };
}

function build(
  config: DynamicConfig,
  eps = entryPoints(),
  state = new StateRegistry(),
): RoutingTable {
  const merged = mergeSnapshots([{ provider: 'file', config, errors: [] }]);
  const sc = testStaticConfig();
  state.begin();
  return compile(merged.config, {
    entryPoints: eps,
    transportDefaults: sc.serversTransport,
    state,
    logger: pino({ level: 'silent' }),
    errors: merged.errors,
  });
}

function routers(rules: Record<string, string | { rule: string; priority?: number }>) {
  const out: NonNullable<NonNullable<DynamicConfig['http']>['routers']> = {};
  for (const [name, r] of Object.entries(rules)) {
    out[name] = {
      ...(typeof r === 'string' ? { rule: r } : r),
      service: 's',
      entryPoints: ['web'],
    };
  }
  return { http: { routers: out, services: { s: svc } } };
}

describe('host index', () => {
  const table = build(
    routers({ a: 'Host(`a.example`)', any: { rule: 'PathPrefix(`/`)', priority: 1 } }),
  );

  it('an indexed host tries its own routers first', () => {
    const r = explainRequest(table, { url: 'http://A.Example.:8000/x' }, entryPoints());
    expect(r.request).toEqual({
      entryPoint: 'web',
      method: 'GET',
      host: 'a.example',
      path: '/x',
      query: '',
    });
    expect(r.matched?.router).toBe('a@file');
    expect(r.candidates).toEqual([
      {
        router: 'a@file',
        rule: 'Host(`a.example`)',
        priority: 17,
        matched: true,
        reason: 'matched',
      },
    ]);
    expect(r.notes).toContain(
      'host a.example is in the host index: its routers and the routers for any host are tried by priority',
    );
  });

  it('an unknown host falls back to the routers for any host, and says why the host router failed', () => {
    const r = explainRequest(table, { url: 'http://b.example:8000/x' }, entryPoints());
    expect(r.matched?.router).toBe('any@file');
    expect(r.candidates.map((c) => [c.router, c.matched, c.reason])).toEqual([
      ['a@file', false, 'Host(`a.example`) did not match host b.example'],
      ['any@file', true, 'matched'],
    ]);
    expect(r.notes).toContain(
      'no router is bound to host b.example: only the routers that match any host are tried',
    );
  });
});

describe('reasons of the routers tried before the match', () => {
  const base: ExplainInput = {
    url: 'http://a.example:8000/web?v=1',
    headers: { 'X-Env': 'dev' },
    clientIp: '192.168.1.2',
  };
  it.each([
    ['Host(`b.example`)', 'Host(`b.example`) did not match host a.example'],
    ['PathPrefix(`/api`)', 'PathPrefix(`/api`) did not match path /web'],
    ['Path(`/web/`)', 'Path(`/web/`) did not match path /web'],
    ['Method(`POST`)', 'Method(`POST`) did not match GET'],
    ['Header(`X-Env`, `prod`)', 'Header(`X-Env`, `prod`) did not match header X-Env: dev'],
    ['Header(`X-Other`, `1`)', 'Header(`X-Other`, `1`) did not match header X-Other (absent)'],
    ['Query(`v`, `2`)', 'Query(`v`, `2`) did not match query v=1'],
    ['Query(`w`)', 'Query(`w`) did not match query v=1'],
    ['ClientIP(`10.0.0.0/8`)', 'ClientIP(`10.0.0.0/8`) did not match client IP 192.168.1.2'],
    ['!Method(`GET`)', '!Method(`GET`) failed: Method(`GET`) matched GET'],
    [
      'Method(`POST`) || Method(`PUT`)',
      'Method(`POST`) did not match GET; Method(`PUT`) did not match GET',
    ],
    ['PathPrefix(`/web`) && Method(`POST`)', 'Method(`POST`) did not match GET'],
    [
      'PathPrefix(`/web`) && !(Query(`v`, `1`) || Method(`PUT`))',
      '!(Query(`v`, `1`) || Method(`PUT`)) failed: Query(`v`, `1`) matched query v=1',
    ],
  ])('%s', (rule, reason) => {
    const table = build(
      routers({
        tested: { rule, priority: 100 },
        fallback: { rule: 'PathPrefix(`/`)', priority: 1 },
      }),
    );
    const r = explainRequest(table, base, entryPoints());
    expect(r.candidates).toEqual([
      { router: 'tested@file', rule, priority: 100, matched: false, reason },
      {
        router: 'fallback@file',
        rule: 'PathPrefix(`/`)',
        priority: 1,
        matched: true,
        reason: 'matched',
      },
    ]);
    expect(r.matched?.router).toBe('fallback@file');
  });

  it('candidates stop at the match: lower priorities are not listed', () => {
    const table = build(
      routers({ hi: 'PathPrefix(`/web`)', lo: { rule: 'PathPrefix(`/`)', priority: 1 } }),
    );
    const r = explainRequest(table, base, entryPoints());
    expect(r.candidates.map((c) => c.router)).toEqual(['hi@file']);
  });
});

describe('no match, disabled routers', () => {
  const table = build({
    http: {
      routers: {
        api: { rule: 'PathPrefix(`/api`)', service: 's', entryPoints: ['web'] },
        typo: { rule: 'Hots(`a.example`)', service: 's', entryPoints: ['web'] },
        orphan: { rule: 'Path(`/o`)', service: 'missing', entryPoints: ['web'] },
        elsewhere: { rule: 'Hots(`x`)', service: 's', entryPoints: ['admin'] },
      },
      services: { s: svc },
    },
  });

  it('no router matched: every router is listed and the entrypoint answers 404', () => {
    const r = explainRequest(table, { url: 'http://a.example:8000/web' }, entryPoints());
    expect(r.matched).toBeNull();
    expect(r.candidates).toEqual([
      {
        router: 'api@file',
        rule: 'PathPrefix(`/api`)',
        priority: 18,
        matched: false,
        reason: 'PathPrefix(`/api`) did not match path /web',
      },
    ]);
    expect(r.notes).toContain('no router matched: the entrypoint answers 404');
  });

  it('routers of the entrypoint left out for errors are listed with their errors', () => {
    const r = explainRequest(table, { url: 'http://a.example:8000/web' }, entryPoints());
    expect(r.disabled.map((d) => d.router)).toEqual(['orphan@file', 'typo@file']);
    expect(r.disabled[0]!.errors.join()).toMatch(
      /service: the service "missing@file" does not exist/,
    );
    expect(r.disabled[1]!.errors.join()).toMatch(/unknown matcher Hots, did you mean Host\?/);
  });
});

describe('the matched router', () => {
  it('lists middlewares in running order (entrypoint first), the service and its servers', () => {
    const eps = entryPoints({});
    eps.web!.http = { ...eps.web!.http, middlewares: ['ep-headers@file'], tls: {} };
    const table = build(
      {
        http: {
          routers: {
            r: {
              rule: 'Host(`a.example`)',
              service: 's',
              entryPoints: ['web'],
              middlewares: ['strip', 'auth'],
            },
          },
          middlewares: {
            'ep-headers': { headers: { customRequestHeaders: { 'X-A': '1' } } },
            strip: { stripPrefix: { prefixes: ['/x'] } },
            auth: { basicAuth: { users: ['u:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/'] } },
          },
          services: {
            s: {
              loadBalancer: {
                servers: [{ url: 'http://10.0.0.1:80' }, { url: 'http://10.0.0.2:80' }],
              },
            },
          },
        },
      },
      eps,
    );
    const r = explainRequest(table, { url: 'https://a.example:8000/' }, eps);
    expect(r.matched).toEqual({
      router: 'r@file',
      rule: 'Host(`a.example`)',
      priority: 17,
      middlewares: ['ep-headers@file', 'strip@file', 'auth@file'],
      service: 's@file',
      servers: [
        { url: 'http://10.0.0.1:80', status: 'UP' },
        { url: 'http://10.0.0.2:80', status: 'UP' },
      ],
      tls: true,
    });
  });

  it('shows a server a health check found DOWN, and that the service answers 503', async () => {
    const state = new StateRegistry();
    const table = build(
      {
        http: {
          routers: { r: { rule: 'PathPrefix(`/`)', service: 's', entryPoints: ['web'] } },
          services: {
            s: {
              loadBalancer: {
                servers: [{ url: 'http://127.0.0.1:1' }],
                healthCheck: { path: '/health', interval: '10s', timeout: '1s' },
              },
            },
          },
        },
      },
      entryPoints(),
      state,
    );
    try {
      const r = await eventually(() => {
        const r = explainRequest(table, { url: 'http://a.example:8000/' }, entryPoints());
        expect(r.matched?.servers).toEqual([{ url: 'http://127.0.0.1:1', status: 'DOWN' }]);
        return r;
      });
      expect(r.notes).toContain(
        'service s@file has no server up: the request would be answered 503',
      );
    } finally {
      state.closeAll();
    }
  });
});

describe('the entrypoint assumed', () => {
  const table = build({
    http: {
      routers: {
        web: { rule: 'PathPrefix(`/`)', service: 's', entryPoints: ['web'] },
        admin: { rule: 'PathPrefix(`/`)', service: 's', entryPoints: ['admin'] },
      },
      services: { s: svc },
    },
  });

  it.each([
    [
      { url: 'http://a.example:9000/' },
      'admin',
      "entrypoint admin was chosen because it listens on the URL's port 9000",
    ],
    [
      { url: 'http://a.example:8000/' },
      'web',
      "entrypoint web was chosen because it listens on the URL's port 8000",
    ],
    [
      { url: '/', headers: { Host: 'a.example:9000' } },
      'admin',
      "entrypoint admin was chosen because it listens on the URL's port 9000",
    ],
    [
      { url: 'http://a.example/' },
      'web',
      'no entrypoint listens on port 80: assumed the first entrypoint web; pass entryPoint to choose',
    ],
    [{ url: 'http://a.example:8000/', entryPoint: 'admin' }, 'admin', 'entrypoint admin was given'],
  ])('%j → %s', (input, ep, note) => {
    const r = explainRequest(table, input, entryPoints());
    expect(r.entryPoint).toBe(ep);
    expect(r.matched?.router).toBe(`${ep}@file`);
    expect(r.notes).toContain(note);
  });

  it('prefers the asDefault entrypoint when no port matches', () => {
    const eps = entryPoints();
    eps.admin!.asDefault = true;
    expect(explainRequest(table, { url: 'http://a.example/' }, eps).entryPoint).toBe('admin');
  });

  it('refuses an unknown entrypoint and a URL that is not one', () => {
    expect(() => explainRequest(table, { url: '/', entryPoint: 'nope' }, entryPoints())).toThrow(
      ExplainError,
    );
    expect(() => explainRequest(table, { url: 'a.example/x' }, entryPoints())).toThrow(
      /invalid url "a.example\/x"/,
    );
  });
});

describe('the request as the entrypoint sees it', () => {
  const table = build(routers({ b: 'Path(`/b`)', fwd: 'Header(`X-Forwarded-Proto`, `https`)' }));

  it.each([
    ['/a/../b', '/b'],
    ['/a/./../b', '/b'],
    ['//b', '/b'],
    ['/%62', '/b'],
  ])('routes on the normalised path: %s → %s', (path, normalised) => {
    const r = explainRequest(table, { url: `http://a.example:8000${path}` }, entryPoints());
    expect(r.request.path).toBe(normalised);
    expect(r.matched?.router).toBe('b@file');
  });

  it('a path the entrypoint refuses is a 400 before routing', () => {
    const r = explainRequest(table, { url: 'http://a.example:8000/a%2Fb' }, entryPoints());
    expect(r.matched).toBeNull();
    expect(r.candidates).toEqual([]);
    expect(r.notes).toContain(
      'encoded slash (%2F) is not allowed in the path: the entrypoint answers 400 before routing',
    );
  });

  it('X-Forwarded-* from an untrusted client are removed before routing', () => {
    const input = {
      url: 'http://a.example:8000/x',
      headers: { 'X-Forwarded-Proto': 'https' },
      clientIp: '10.1.2.3',
    };
    const r = explainRequest(table, input, entryPoints());
    expect(r.matched).toBeNull();
    expect(r.notes.join('\n')).toMatch(
      /x-forwarded-proto removed before routing: client IP 10.1.2.3 is not trusted/,
    );
    const trusting = entryPoints({
      forwardedHeaders: { trustedIPs: ['10.0.0.0/8'], insecure: false },
    });
    expect(explainRequest(table, input, trusting).matched?.router).toBe('fwd@file');
  });

  it('a Host header wins over the URL authority, as with curl -H', () => {
    const t = build(routers({ h: 'Host(`b.example`)' }));
    const r = explainRequest(
      t,
      { url: 'http://a.example:8000/', headers: { host: 'b.example' } },
      entryPoints(),
    );
    expect(r.request.host).toBe('b.example');
    expect(r.matched?.router).toBe('h@file');
  });

  it('repeated headers are folded as Node folds them', () => {
    const t = build(routers({ h: 'Header(`X-A`, `1, 2`)' }));
    const r = explainRequest(
      t,
      { url: 'http://a.example:8000/', headers: { 'X-A': ['1', '2'] } },
      entryPoints(),
    );
    expect(r.matched?.router).toBe('h@file');
  });
});

describe('API query and CLI arguments', () => {
  it('parses the API query, header repeatable as Name:value', () => {
    const q = new URLSearchParams(
      'url=http%3A%2F%2Fa%2Fx&method=post&header=X-A:1&header=X-A: 2&header=Host:b&entryPoint=web',
    );
    expect(parseExplainQuery(q)).toEqual({
      url: 'http://a/x',
      method: 'post',
      headers: { 'X-A': ['1', '2'], Host: 'b' },
      entryPoint: 'web',
    });
    expect(() => parseExplainQuery(new URLSearchParams('method=GET'))).toThrow(
      /url parameter is required/,
    );
    expect(() => parseExplainQuery(new URLSearchParams('url=/&header=nocolon'))).toThrow(
      ExplainError,
    );
  });

  it('turns the CLI arguments into the API request', () => {
    const args = parseExplainArgs([
      'http://a.example/x?y=1',
      '--method=POST',
      '--header',
      'X-A: 1',
      '--header=X-B:2',
      '--entryPoint=web',
      '--api=http://127.0.0.1:9999/',
      '--json',
    ]);
    expect(args.json).toBe(true);
    expect(explainApiUrl(args)).toBe(
      'http://127.0.0.1:9999/api/explain?url=http%3A%2F%2Fa.example%2Fx%3Fy%3D1&method=POST&header=X-A%3A1&header=X-B%3A2&entryPoint=web',
    );
  });

  it.each([
    [[]],
    [['--method=GET']],
    [['a', 'b']],
    [['/', '--bogus']],
    [['/', '--header=x']],
    [['/', '--api=nope']],
  ])('refuses %j', (argv) => expect(() => parseExplainArgs(argv)).toThrow(ExplainError));

  it('prints a readable explanation', () => {
    const table = build(
      routers({
        a: { rule: 'Method(`POST`)', priority: 9 },
        b: { rule: 'PathPrefix(`/`)', priority: 1 },
      }),
    );
    const text = formatExplain(explainRequest(table, { url: 'http://x:8000/p' }, entryPoints()));
    expect(text).toContain('✓ router b@file (priority 1)');
    expect(text).toContain('  ✗ a@file [9] Method(`POST`)\n      Method(`POST`) did not match GET');
    expect(text).toContain('  service:     s@file');
  });
});

/*
 * Agreement: every request goes through a real entrypoint (Node's parser, path normalisation,
 * host index, compiled matchers) to one upstream per router, and explain must name the router
 * whose upstream answered, or none for a 404.
 */
describe('explain agrees with the running router', () => {
  const names = ['host', 'hostApi', 'api', 'post', 'hdr', 'qry', 'notGet', 'wild', 'root'];
  let ups: Upstream[] = [];
  let router: TestRouter;
  let table: RoutingTable;
  beforeAll(async () => {
    ups = await Promise.all(names.map((n) => startUpstream(n)));
    const rules: Record<string, string> = {
      host: 'Host(`a.example`)',
      hostApi: 'Host(`a.example`) && PathPrefix(`/api`)',
      api: 'PathPrefix(`/api`) && !Method(`DELETE`)',
      post: 'Method(`POST`) && Path(`/submit`)',
      hdr: 'Header(`X-Env`, `prod`) && PathPrefix(`/h`)',
      qry: 'Query(`v`, `2`) || Query(`beta`)',
      notGet: '!Method(`GET`) && Host(`b.example`)',
      wild: 'Host(`*.w.example`)',
      root: 'Path(`/`)',
    };
    const config: DynamicConfig = { http: { routers: {}, services: {} } };
    names.forEach((n, i) => {
      config.http!.routers![n] = { rule: rules[n]!, service: n };
      config.http!.services![n] = { loadBalancer: { servers: [{ url: ups[i]!.url }] } };
    });
    router = await startRouter(config);
    table = router.apply(config);
  });
  afterAll(async () => {
    await router?.close();
    await Promise.all(ups.map((u) => u.close()));
  });

  // `expected` is written down too, so that explain and the router cannot agree on a wrong answer
  const requests: {
    host: string;
    path: string;
    method?: string;
    headers?: Record<string, string>;
    expected: string | null;
  }[] = [
    { host: 'a.example', path: '/', expected: 'host' },
    // hostApi and api both have priority 39: the name breaks the tie
    { host: 'a.example', path: '/api/x', expected: 'api' },
    { host: 'A.EXAMPLE.', path: '/x/../api/y', expected: 'api' },
    { host: 'b.example', path: '/api/z', expected: 'api' },
    { host: 'b.example', path: '/api/z', method: 'DELETE', expected: 'notGet' },
    { host: 'b.example', path: '/submit', method: 'POST', expected: 'notGet' },
    { host: 'c.example', path: '/submit', method: 'POST', expected: 'post' },
    { host: 'c.example', path: '/h/1', headers: { 'X-Env': 'prod' }, expected: 'hdr' },
    { host: 'c.example', path: '/h/1', headers: { 'X-Env': 'dev' }, expected: null },
    { host: 'c.example', path: '/q?v=2', expected: 'qry' },
    { host: 'c.example', path: '/q?beta', expected: 'qry' },
    { host: 'x.w.example', path: '/anything', expected: 'wild' },
    { host: 'y.x.w.example', path: '/anything', expected: null },
    { host: 'c.example', path: '/', expected: 'root' },
    { host: 'c.example', path: '/nothing', expected: null },
  ];

  it.each(requests)('%j', async (q) => {
    const answered = await new Promise<string | null>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: router.port,
          path: q.path,
          method: q.method ?? 'GET',
          headers: { host: q.host, ...q.headers },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            resolve(res.statusCode === 404 ? null : String(res.headers['x-upstream'])),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
    const r = explainRequest(
      table,
      {
        url: `http://127.0.0.1:${router.port}${q.path}`,
        method: q.method ?? 'GET',
        headers: { host: q.host, ...q.headers },
        clientIp: '127.0.0.1',
      },
      router.staticConfig.entryPoints,
    );
    expect(r.entryPoint).toBe('web');
    expect(answered).toBe(q.expected);
    expect(r.matched?.router ?? null).toBe(answered === null ? null : `${answered}@file`);
    expect(r.candidates.filter((c) => c.matched).length).toBe(answered === null ? 0 : 1);
  });
});
