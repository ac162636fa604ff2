/*
 * compile(): the routing table built from a merged configuration. Broken
 * elements are left out with their reason and never take the others down;
 * routers are ordered by priority; the host index never changes what matches.
 */
import http from 'node:http';
import { Socket } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { mergeSnapshots } from '../../src/config/aggregate.js';
import { compile } from '../../src/routing/compile.js';
import { StateRegistry } from '../../src/kernel/state.js';
import { findRoute, type RoutingTable } from '../../src/table/table.js';
import { RequestContext } from '../../src/kernel/context.js';
import { testStaticConfig } from '../helpers/portico.js';

function build(config: DynamicConfig, flags: string[] = []): RoutingTable {
  const merged = mergeSnapshots([{ provider: 'file', config, errors: [] }]);
  const sc = testStaticConfig(flags);
  const state = new StateRegistry();
  state.begin();
  const table = compile(merged.config, {
    entryPoints: sc.entryPoints,
    transportDefaults: sc.serversTransport,
    state,
    logger: pino({ level: 'silent' }),
    errors: merged.errors,
  });
  state.closeAll();
  return table;
}

function ctxFor(target: {
  host?: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
}): RequestContext {
  const req = new http.IncomingMessage(new Socket());
  req.method = target.method ?? 'GET';
  req.headers = { host: target.host ?? 'example.test', ...target.headers };
  const res = new http.ServerResponse(req);
  const [path, query = ''] = (target.path ?? '/').split('?');
  return new RequestContext(
    req,
    res,
    'web',
    'http',
    (target.host ?? 'example.test').toLowerCase(),
    target.host ?? '',
    path!,
    query,
  );
}

function route(table: RoutingTable, target: Parameters<typeof ctxFor>[0]): string | undefined {
  return findRoute(table.entryPoints.get('web')!, ctxFor(target))?.name;
}

const svc = { loadBalancer: { servers: [{ url: 'http://127.0.0.1:1' }] } };

describe('priority', () => {
  it.each([
    // [rules by router name, request, expected winner]
    [{ a: 'PathPrefix(`/`)', b: 'PathPrefix(`/api`)' }, { path: '/api/x' }, 'b@file'],
    [{ a: 'PathPrefix(`/`)', b: 'PathPrefix(`/api`)' }, { path: '/web' }, 'a@file'],
    [
      { a: 'Host(`x.test`)', b: 'Host(`x.test`) && PathPrefix(`/a`)' },
      { host: 'x.test', path: '/a' },
      'b@file',
    ],
    // Traefik's documented example: the longer HostRegexp outranks the shorter Host
    [
      { a: 'HostRegexp(`[a-z]+\\.traefik\\.com`)', b: 'Host(`foobar.traefik.com`)' },
      { host: 'foobar.traefik.com' },
      'a@file',
    ],
  ])('%j takes %j → %s', (rules, target, winner) => {
    const routers = Object.fromEntries(
      Object.entries(rules).map(([n, rule]) => [n, { rule, service: 's' }]),
    );
    expect(route(build({ http: { routers, services: { s: svc } } }), target)).toBe(winner);
  });

  it('explicit priority wins over rule length', () => {
    const table = build({
      http: {
        routers: {
          long: { rule: 'Host(`x.test`) && PathPrefix(`/`)', service: 's' },
          short: { rule: 'PathPrefix(`/`)', service: 's', priority: 1000 },
        },
        services: { s: svc },
      },
    });
    expect(route(table, { host: 'x.test' })).toBe('short@file');
    expect(table.routers.get('long@file')!.priority).toBe(
      'Host(`x.test`) && PathPrefix(`/`)'.length,
    );
  });

  it('a host-pinned router and a catch-all are ordered together by priority', () => {
    const table = build({
      http: {
        routers: {
          pinned: { rule: 'Host(`x.test`)', service: 's' },
          catchAll: { rule: 'PathPrefix(`/`)', service: 's', priority: 500 },
          other: { rule: 'Host(`y.test`)', service: 's', priority: 1 },
        },
        services: { s: svc },
      },
    });
    expect(route(table, { host: 'x.test' })).toBe('catchAll@file');
    expect(route(table, { host: 'y.test' })).toBe('catchAll@file');
    expect(route(table, { host: 'z.test' })).toBe('catchAll@file');
  });
});

describe('host index', () => {
  it('finds exact-host routers among many and never matches other hosts', () => {
    const routers: Record<string, { rule: string; service: string }> = {};
    for (let i = 0; i < 2000; i++)
      routers[`h${i}`] = { rule: `Host(\`h${i}.test\`) || Host(\`alias${i}.test\`)`, service: 's' };
    routers.regex = { rule: 'HostRegexp(`^r[0-9]+\\.test$`)', service: 's' };
    const table = build({ http: { routers, services: { s: svc } } });
    const ep = table.entryPoints.get('web')!;
    expect(ep.byHost.size).toBe(4000);
    expect(ep.any.map((r) => r.name)).toEqual(['regex@file']);
    expect(route(table, { host: 'h1234.test' })).toBe('h1234@file');
    expect(route(table, { host: 'ALIAS7.test' })).toBe('h7@file');
    expect(route(table, { host: 'r5.test' })).toBe('regex@file');
    expect(route(table, { host: 'h1234.test.evil' })).toBeUndefined();
  });
});

describe('host index with routers for any host', () => {
  // priorities interleave host-pinned and any-host routers; ties go by name, as byPriority orders
  const table = build({
    http: {
      routers: {
        hostHigh: { rule: 'Host(`x.test`) && PathPrefix(`/a`)', service: 's', priority: 300 },
        anyMid: { rule: 'PathPrefix(`/a`)', service: 's', priority: 200 },
        hostLow: { rule: 'Host(`x.test`)', service: 's', priority: 100 },
        anyLow: { rule: 'PathPrefix(`/`)', service: 's', priority: 50 },
        m0: { rule: 'Host(`x.test`) && PathPrefix(`/t`)', service: 's', priority: 400 },
        m1: { rule: 'PathPrefix(`/t`)', service: 's', priority: 400 },
        n0: { rule: 'PathPrefix(`/u`)', service: 's', priority: 450 },
        n1: { rule: 'Host(`x.test`) && PathPrefix(`/u`)', service: 's', priority: 450 },
        yOnly: { rule: 'Host(`y.test`) && PathPrefix(`/a`)', service: 's', priority: 10 },
      },
      services: { s: svc },
    },
  });

  it.each([
    [{ host: 'x.test', path: '/a' }, 'hostHigh@file'],
    [{ host: 'x.test', path: '/b' }, 'hostLow@file'],
    [{ host: 'y.test', path: '/a' }, 'anyMid@file'],
    [{ host: 'y.test', path: '/b' }, 'anyLow@file'],
    [{ host: 'z.test', path: '/a' }, 'anyMid@file'],
    [{ host: 'x.test', path: '/t' }, 'm0@file'],
    [{ host: 'y.test', path: '/t' }, 'm1@file'],
    [{ host: 'x.test', path: '/u' }, 'n0@file'],
  ])('%j → %s', (target, winner) => {
    expect(route(table, target)).toBe(winner);
  });

  it('holds each route once per host it names, not once per host for every catch-all', () => {
    // issue 11: catch-alls were copied into every host's list, hosts × catch-alls entries
    const routers: Record<string, { rule: string; service: string }> = {};
    for (let i = 0; i < 2000; i++)
      routers[`h${i}`] = { rule: `Host(\`h${i}.test\`)`, service: 's' };
    for (let i = 0; i < 50; i++)
      routers[`p${i}`] = { rule: `PathPrefix(\`/p${i}\`)`, service: 's' };
    const big = build({ http: { routers, services: { s: svc } } });
    const ep = big.entryPoints.get('web')!;
    let entries = 0;
    for (const list of ep.byHost.values()) entries += list.length;
    expect(entries).toBe(2000);
    expect(ep.any).toHaveLength(50);
    expect(route(big, { host: 'h7.test', path: '/p3' })).toBe('p3@file');
    expect(route(big, { host: 'h7.test', path: '/' })).toBe('h7@file');
  });
});

describe('broken elements are left out, the rest serves', () => {
  it.each([
    [
      'bad rule syntax',
      { rule: 'Host(`a.test`', service: 's' },
      'rule',
      /error while parsing rule .*position/,
    ],
    [
      'unknown matcher',
      { rule: 'Hots(`a.test`)', service: 's' },
      'rule',
      /unknown matcher Hots, did you mean Host\?/,
    ],
    [
      'unknown service',
      { rule: 'Host(`a.test`)', service: 'nope' },
      'service',
      /the service "nope@file" does not exist/,
    ],
    [
      'unknown middleware',
      { rule: 'Host(`a.test`)', service: 's', middlewares: ['ghost'] },
      'middlewares',
      /middleware "ghost@file" does not exist/,
    ],
    [
      'unknown entrypoint only',
      { rule: 'Host(`a.test`)', service: 's', entryPoints: ['websecure'] },
      'entryPoints',
      /no valid entryPoint/,
    ],
    [
      'v2 rule syntax',
      { rule: 'Host(`a.test`)', service: 's', ruleSyntax: 'v2' },
      'ruleSyntax',
      /only v3/,
    ],
  ])('%s', (_label, broken, field, message) => {
    const table = build({
      http: {
        routers: { good: { rule: 'Host(`good.test`)', service: 's' }, broken },
        services: { s: svc },
      },
    });
    const info = table.routers.get('broken@file')!;
    expect(info.status).toBe('disabled');
    expect(info.errors.join('\n')).toMatch(message);
    expect(table.errors.find((e) => e.name === 'broken@file')).toMatchObject({
      kind: 'router',
      field,
    });
    expect(route(table, { host: 'good.test' })).toBe('good@file');
    expect(route(table, { host: 'a.test' })).toBeUndefined();
  });

  it('detects a middleware chain cycle and disables only the routers using it', () => {
    const table = build({
      http: {
        routers: {
          looped: { rule: 'Host(`a.test`)', service: 's', middlewares: ['c1'] },
          fine: { rule: 'Host(`b.test`)', service: 's', middlewares: ['strip'] },
        },
        middlewares: {
          c1: { chain: { middlewares: ['c2'] } },
          c2: { chain: { middlewares: ['c1'] } },
          strip: { stripPrefix: { prefixes: ['/x'] } },
        },
        services: { s: svc },
      },
    });
    expect(table.routers.get('looped@file')!.errors.join()).toMatch(/cycle/);
    expect(table.routers.get('fine@file')!.status).toBe('enabled');
    expect(route(table, { host: 'b.test' })).toBe('fine@file');
  });

  it('reports a middleware with a bad option, naming the option', () => {
    const table = build({
      http: {
        routers: { r: { rule: 'Host(`a.test`)', service: 's', middlewares: ['ap'] } },
        middlewares: { ap: { addPrefix: { prefix: 'no-slash' } } },
        services: { s: svc },
      },
    });
    expect(table.middlewares.get('ap@file')!.errors.join()).toMatch(
      /addPrefix\.prefix: must start with \//,
    );
    expect(table.routers.get('r@file')!.status).toBe('disabled');
  });

  it('detects a service cycle', () => {
    const table = build({
      http: {
        routers: { r: { rule: 'Host(`a.test`)', service: 'w1' } },
        services: {
          w1: { weighted: { services: [{ name: 'w2' }] } },
          w2: { weighted: { services: [{ name: 'w1' }] } },
        },
      },
    });
    expect(table.routers.get('r@file')!.errors.join()).toMatch(/cycle/);
  });

  it('keeps validation errors with the element name and field', () => {
    const table = build({
      http: {
        routers: { r: { rule: 'Host(`a.test`)', service: 's' } },
        services: { s: svc, bad: { loadBalancer: { servers: [{ url: 'ftp://x' }] } } },
      },
    });
    const err = table.errors.find((e) => e.name === 'bad@file')!;
    expect(err.kind).toBe('service');
    expect(err.field).toMatch(/servers\[0\]\.url/);
    expect(route(table, { host: 'a.test' })).toBe('r@file');
  });
});

describe('entrypoint middlewares', () => {
  it('run before the router chain and must be provider-qualified', () => {
    const table = build(
      {
        http: {
          routers: { r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: ['add'] } },
          middlewares: {
            add: { addPrefix: { prefix: '/inner' } },
            outer: { addPrefix: { prefix: '/outer' } },
          },
          services: { s: svc },
        },
      },
      ['--entryPoints.web.http.middlewares=outer@file'],
    );
    const ctx = ctxFor({ path: '/p' });
    const r = findRoute(table.entryPoints.get('web')!, ctx)!;
    // stop at the service: swap the response so nothing is sent
    let seenPath = '';
    const res = ctx.res as http.ServerResponse & { writeHead: unknown };
    res.writeHead = () => {
      seenPath = ctx.path;
      return res;
    };
    r.handler(ctx);
    expect(seenPath === '' ? ctx.path : seenPath).toBe('/inner/outer/p');
  });
});

describe('merged configuration', () => {
  it('resolves references written with capitalised field names (keys are case-insensitive, as in Traefik)', () => {
    const table = build({
      http: {
        Routers: { r: { Rule: 'Host(`a.test`)', Service: 'w', Middlewares: ['m'] } },
        Middlewares: { m: { StripPrefix: { prefixes: ['/x'] } } },
        Services: { w: { Weighted: { Services: [{ Name: 's' }] } }, s: svc },
      },
    } as unknown as DynamicConfig);
    expect(table.routers.get('r@file')).toMatchObject({
      status: 'enabled',
      service: 'w@file',
      middlewares: ['m@file'],
    });
    expect(route(table, { host: 'a.test' })).toBe('r@file');
  });

  it('a tcp section next to http routers leaves the HTTP routing as it is', () => {
    const table = build({
      http: { routers: { r: { rule: 'Host(`a.test`)', service: 's' } }, services: { s: svc } },
      tcp: { routers: { t: { rule: 'HostSNI(`*`)', service: 'x' } } },
    });
    expect(route(table, { host: 'a.test' })).toBe('r@file');
  });
});

describe('references across providers', () => {
  it('resolves name@provider and qualifies unqualified names with the referring provider', () => {
    const merged = mergeSnapshots([
      {
        provider: 'docker',
        config: {
          http: {
            routers: {
              app: {
                rule: 'Host(`app.test`)',
                service: 'app',
                middlewares: ['strip@file', 'local'],
              },
            },
            middlewares: { local: { addPrefix: { prefix: '/local' } } },
            services: { app: svc },
          },
        },
        errors: [],
      },
      {
        provider: 'file',
        config: { http: { middlewares: { strip: { stripPrefix: { prefixes: ['/x'] } } } } },
        errors: [],
      },
    ]);
    const sc = testStaticConfig();
    const state = new StateRegistry();
    state.begin();
    const table = compile(merged.config, {
      entryPoints: sc.entryPoints,
      transportDefaults: sc.serversTransport,
      state,
      logger: pino({ level: 'silent' }),
      errors: merged.errors,
    });
    state.closeAll();
    expect(table.routers.get('app@docker')).toMatchObject({
      status: 'enabled',
      middlewares: ['strip@file', 'local@docker'],
      service: 'app@docker',
    });
    expect(table.middlewares.get('strip@file')!.usedBy).toEqual(['app@docker']);
  });
});
