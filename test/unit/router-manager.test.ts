/*
 * The router manager (src/routing/router-manager.ts) on its own, with stand-in
 * services and middlewares: which entrypoints a router is served on, what
 * disables it and what only warns, TLS options failing closed, and the
 * per-entrypoint tables in priority order.
 */
import { describe, expect, it } from 'vitest';
import type { ElementError, RouterConfig } from '../../src/config/dynamic.js';
import type { EntryPointConfig } from '../../src/config/static-types.js';
import {
  buildEntryPointChains,
  defaultEntryPoints,
  MAX_USER_PRIORITY,
  RouterManager,
  tlsOptionsName,
  tlsOptionsProblem,
} from '../../src/routing/router-manager.js';
import type { RouterInfo, ServiceInfo, MiddlewareInfo } from '../../src/table/table.js';
import type { ServiceRuntime } from '../../src/services/build.js';
import { buildTlsOptions } from '../../src/tls/options.js';
import type { Middleware } from '../../middlewares/types.js';
import { testStaticConfig } from '../helpers/portico.js';

const TLS_FLAGS = [
  '--entryPoints.websecure.address=127.0.0.1:0',
  '--entryPoints.websecure.http.tls=true',
];

function runtime(name: string): ServiceRuntime {
  return {
    name,
    type: 'loadBalancer',
    handle: () => {},
    isUp: () => true,
    serverStatus: () => ({}),
    mirror: () => {},
  };
}

function manage(
  routers: Record<string, RouterConfig>,
  opts: {
    flags?: string[];
    tlsOptions?: Record<string, unknown>;
    middlewares?: Record<string, Middleware[]>;
    certResolvers?: string[];
  } = {},
) {
  const sc = testStaticConfig(opts.flags ?? []);
  const errors: ElementError[] = [];
  const infos = new Map<string, RouterInfo>();
  const serviceInfos = new Map<string, ServiceInfo>([
    [
      's@file',
      {
        name: 's@file',
        provider: 'file',
        type: 'loadBalancer',
        status: 'enabled',
        errors: [],
        usedBy: [],
      },
    ],
  ]);
  const middlewareInfos = new Map<string, MiddlewareInfo>();
  const mws = opts.middlewares ?? {};
  for (const n of Object.keys(mws))
    middlewareInfos.set(n, {
      name: n,
      provider: 'file',
      type: 'x',
      status: 'enabled',
      errors: [],
      usedBy: [],
    });
  const middlewares = {
    build(name: string): Middleware[] {
      const m = mws[name];
      if (m === undefined) throw new Error(`middleware "${name}" does not exist`);
      return m;
    },
    buildChain(names: readonly string[]): Middleware[] {
      return names.flatMap((n) => this.build(n));
    },
  };
  const services = {
    build(name: string): ServiceRuntime {
      if (name !== 's@file') throw new Error(`the service "${name}" does not exist`);
      return runtime(name);
    },
  };
  const tlsOptions = buildTlsOptions(opts.tlsOptions);
  const tables = new RouterManager({
    configs: routers,
    entryPoints: sc.entryPoints,
    certResolvers: opts.certResolvers ?? [],
    services,
    middlewares,
    entryPointChains: buildEntryPointChains(Object.values(sc.entryPoints), middlewares),
    tlsOptions,
    serviceInfos,
    middlewareInfos,
    infos,
    errors,
  }).build();
  return { tables, infos, errors, serviceInfos, middlewareInfos };
}

const names = (list: { name: string }[] | undefined) => (list ?? []).map((r) => r.name);

describe('defaultEntryPoints', () => {
  const ep = (name: string, asDefault = false) => ({ name, asDefault }) as EntryPointConfig;
  it.each([
    [
      [ep('web'), ep('websecure'), ep('traefik')],
      ['web', 'websecure'],
    ],
    [[ep('web'), ep('websecure', true), ep('traefik')], ['websecure']],
    [[ep('traefik', true)], ['traefik']],
  ])('%#: routers without entryPoints go to %j', (eps, expected) => {
    expect(defaultEntryPoints(eps)).toEqual(expected);
  });
});

describe('tlsOptionsName / tlsOptionsProblem', () => {
  it.each([
    [undefined, undefined, 'file', 'default'],
    ['mine', 'ep', 'file', 'mine@file'],
    [undefined, 'ep', 'docker', 'ep@docker'],
    ['other@k8s', undefined, 'file', 'other@k8s'],
    ['mine', undefined, '', 'mine'],
  ])('router %s, entrypoint %s, provider %s → %s', (r, ep, provider, expected) => {
    expect(tlsOptionsName(r, ep, provider)).toBe(expected);
  });

  it('names a missing set and an invalid one with its reason', () => {
    const set = buildTlsOptions({ 'bad@file': { minVersion: 'VersionTLS99' } });
    expect(tlsOptionsProblem(set, 'default')).toBeUndefined();
    expect(tlsOptionsProblem(set, 'ghost@file')).toBe('the TLS options "ghost@file" do not exist');
    expect(tlsOptionsProblem(set, 'bad@file')).toMatch(
      /^the TLS options "bad@file" are invalid \(minVersion: /,
    );
  });
});

describe('buildEntryPointChains', () => {
  it('entrypoint middlewares must name their provider; a failure is kept per entrypoint', () => {
    const sc = testStaticConfig([
      '--entryPoints.web.http.middlewares=good@file',
      ...TLS_FLAGS,
      '--entryPoints.websecure.http.middlewares=bare',
    ]);
    const good: Middleware = (next) => next;
    const out = buildEntryPointChains(Object.values(sc.entryPoints), {
      build: (n) => {
        if (n === 'good@file') return [good];
        throw new Error('unexpected');
      },
    });
    expect(out.chains.get('web')).toEqual([good]);
    expect(out.errors.get('websecure')).toBe(
      'entrypoint middleware "bare" must be qualified with its provider (name@provider)',
    );
  });
});

describe('RouterManager', () => {
  it('files host-pinned routers by host and the others once, each by priority', () => {
    const { tables, infos } = manage({
      'a@file': { rule: 'Host(`a.test`)', service: 's@file' },
      'long@file': { rule: 'Host(`a.test`) && PathPrefix(`/api`)', service: 's@file' },
      'any@file': { rule: 'PathPrefix(`/`)', service: 's@file', priority: 3 },
      'any2@file': { rule: 'PathPrefix(`/x`)', service: 's@file', priority: 9 },
    });
    const web = tables.entryPoints.get('web')!;
    expect(names(web.byHost.get('a.test'))).toEqual(['long@file', 'a@file']);
    expect(names(web.any)).toEqual(['any2@file', 'any@file']);
    expect(infos.get('a@file')).toMatchObject({
      status: 'enabled',
      priority: 'Host(`a.test`)'.length,
      entryPoints: ['web'],
    });
  });

  it.each([
    ['a rule that does not parse', { rule: 'Host(`(' }, 'rule', /^error while parsing rule /],
    [
      'rule syntax v2',
      { ruleSyntax: 'v2' },
      'ruleSyntax',
      'ruleSyntax v2 is not supported; only v3 rules are',
    ],
    [
      'a priority in the internal range',
      { priority: MAX_USER_PRIORITY + 1 },
      'priority',
      /exceeds the max user-defined priority/,
    ],
    [
      'only unknown entrypoints',
      { entryPoints: ['nope'] },
      'entryPoints',
      'no valid entryPoint for this router',
    ],
    [
      'a missing service',
      { service: 'ghost@file' },
      'service',
      'the service "ghost@file" does not exist',
    ],
    ['no service', { service: '' }, 'service', 'the service is missing on the router'],
    [
      'a missing middleware',
      { middlewares: ['ghost@file'] },
      'middlewares',
      'middleware "ghost@file" does not exist',
    ],
  ])('%s disables the router', (_what, patch, field, message) => {
    const { tables, infos, errors } = manage({
      'r@file': { rule: 'Host(`r.test`)', service: 's@file', ...patch },
    });
    expect(infos.get('r@file')!.status).toBe('disabled');
    expect(errors).toEqual([{ kind: 'router', name: 'r@file', field, message: expect.anything() }]);
    expect(errors[0]!.message).toMatch(message);
    expect(tables.entryPoints.get('web')!.byHost.size).toBe(0);
  });

  it('internal routers may use the top of the priority range', () => {
    const { infos } = manage({
      'ping@internal': {
        rule: 'Path(`/ping`)',
        service: 's@file',
        priority: MAX_USER_PRIORITY + 5,
      },
    });
    expect(infos.get('ping@internal')!.status).toBe('enabled');
  });

  it('an unknown entrypoint next to a good one, or an unknown resolver, is a warning', () => {
    const { tables, infos } = manage(
      {
        'r@file': {
          rule: 'Host(`r.test`)',
          service: 's@file',
          entryPoints: ['nope', 'web'],
          tls: { certResolver: 'le' },
        },
      },
      { flags: ['--entryPoints.web.http.tls=true'] },
    );
    expect(infos.get('r@file')).toMatchObject({
      status: 'warning',
      errors: ['the certificate resolver "le" does not exist', 'entryPoint "nope" doesn\'t exist'],
    });
    expect(names(tables.tlsEntryPoints.get('web')!.byHost.get('r.test'))).toEqual(['r@file']);
  });

  it('a TLS router is served over TLS on every entrypoint it lists, with or without http.tls (Traefik)', () => {
    const { tables, infos } = manage(
      {
        'r@file': {
          rule: 'Host(`r.test`)',
          service: 's@file',
          entryPoints: ['web', 'websecure'],
          tls: {},
        },
      },
      { flags: TLS_FLAGS },
    );
    expect(infos.get('r@file')).toMatchObject({ status: 'enabled', errors: [] });
    // never to connections without TLS
    expect(tables.entryPoints.get('web')!.byHost.size).toBe(0);
    expect(tables.entryPoints.get('websecure')!.byHost.size).toBe(0);
    expect(tables.tlsEntryPoints.get('web')!.byHost.has('r.test')).toBe(true);
    expect(tables.tlsEntryPoints.get('websecure')!.byHost.has('r.test')).toBe(true);
    expect(tables.tlsClaims).toEqual([
      { entryPoint: 'web', router: 'r@file', hosts: ['r.test'], options: 'default' },
      { entryPoint: 'websecure', router: 'r@file', hosts: ['r.test'], options: 'default' },
    ]);
  });

  it('missing TLS options fail closed: disabled where it is the only entrypoint', () => {
    const { tables, infos, errors } = manage(
      {
        'r@file': {
          rule: 'Host(`r.test`)',
          service: 's@file',
          entryPoints: ['websecure'],
          tls: { options: 'ghost' },
        },
      },
      { flags: TLS_FLAGS },
    );
    expect(infos.get('r@file')!.status).toBe('disabled');
    expect(errors[0]).toMatchObject({
      field: 'tls.options',
      message: 'entryPoint "websecure": the TLS options "ghost@file" do not exist',
    });
    expect(tables.entryPoints.get('websecure')!.byHost.size).toBe(0);
    expect(tables.tlsClaims).toEqual([]);
  });

  it('TLS options on a rule without a host only warn', () => {
    const { infos, tables } = manage(
      {
        'r@file': {
          rule: 'PathPrefix(`/`)',
          service: 's@file',
          entryPoints: ['websecure'],
          tls: { options: 'strict' },
        },
      },
      { flags: TLS_FLAGS, tlsOptions: { 'strict@file': { minVersion: 'VersionTLS13' } } },
    );
    expect(infos.get('r@file')!.status).toBe('warning');
    expect(infos.get('r@file')!.errors[0]).toMatch(/^no domain found in rule PathPrefix/);
    expect(names(tables.tlsEntryPoints.get('websecure')!.any)).toEqual(['r@file']);
  });

  it("entrypoint middlewares wrap outside the router's own, and a broken one keeps the router off that entrypoint", () => {
    const order: string[] = [];
    const rec =
      (n: string): Middleware =>
      (next) =>
      (ctx) => {
        order.push(n);
        return next(ctx);
      };
    const { tables, infos, middlewareInfos, serviceInfos } = manage(
      {
        'r@file': {
          rule: 'Host(`r.test`)',
          service: 's@file',
          entryPoints: ['web', 'websecure'],
          middlewares: ['own@file'],
        },
      },
      {
        flags: [
          '--entryPoints.web.http.middlewares=ep@file',
          ...TLS_FLAGS,
          '--entryPoints.websecure.http.middlewares=ghost@file',
        ],
        middlewares: { 'ep@file': [rec('ep')], 'own@file': [rec('own')] },
      },
    );
    const route = tables.entryPoints.get('web')!.byHost.get('r.test')![0]!;
    void route.handler({} as never);
    expect(order).toEqual(['ep', 'own']);
    expect(tables.entryPoints.get('websecure')!.byHost.size).toBe(0);
    expect(infos.get('r@file')).toMatchObject({
      status: 'warning',
      errors: ['entryPoint "websecure": middleware "ghost@file" does not exist'],
    });
    expect(serviceInfos.get('s@file')!.usedBy).toEqual(['r@file']);
    expect(middlewareInfos.get('own@file')!.usedBy).toEqual(['r@file']);
  });
});
