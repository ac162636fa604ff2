/*
 * IPAllowList / IPWhiteList against a real upstream: socket-address and
 * X-Forwarded-For strategies, the reject status, config errors and labels.
 */
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import { decodeLabels } from '../../../src/config/labels.js';
import type { Upstream } from '../../helpers/upstream.js';
import { request } from '../../helpers/http.js';
import { useCleanups } from '../../helpers/scope.js';

const { upstream, router } = useCleanups();

async function get(url: string, headers: Record<string, string> = {}): Promise<number> {
  return (await request(url, { headers })).status;
}

function withMiddleware(u: Upstream, middlewares: Record<string, unknown>): DynamicConfig {
  return {
    http: {
      routers: { r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: ['m'] } },
      services: { s: { loadBalancer: { servers: [{ url: u.url }] } } },
      middlewares: middlewares as never,
    },
  };
}

const TRUST_LOCAL = ['--entryPoints.web.forwardedHeaders.trustedIPs=127.0.0.1/32'];

describe('ipAllowList: socket address', () => {
  it('lets in a client inside sourceRange and refuses one outside with 403', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, { m: { ipAllowList: { sourceRange: ['127.0.0.1/32', '::1'] } } }),
    );
    expect(await get(r.url + '/')).toBe(200);
    r.apply(withMiddleware(u, { m: { ipAllowList: { sourceRange: ['10.0.0.0/8'] } } }));
    expect(await get(r.url + '/')).toBe(403);
    expect(u.seen).toHaveLength(1);
  });

  it('matches as ClientIP does (one engine, Go net.IPNet): ::/0 holds no IPv4 client, ::ffff:127.0.0.0/104 does', async () => {
    const u = await upstream();
    const r = await router(withMiddleware(u, { m: { ipAllowList: { sourceRange: ['::/0'] } } }));
    expect(await get(r.url + '/')).toBe(403);
    r.apply(withMiddleware(u, { m: { ipAllowList: { sourceRange: ['::ffff:127.0.0.0/104'] } } }));
    expect(await get(r.url + '/')).toBe(200);
  });

  it('answers rejectStatusCode when configured', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, {
        m: { ipAllowList: { sourceRange: ['10.0.0.1'], rejectStatusCode: 404 } },
      }),
    );
    expect(await get(r.url + '/')).toBe(404);
  });

  it('ignores X-Forwarded-For without an ipStrategy', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, { m: { ipAllowList: { sourceRange: ['10.0.0.0/8'] } } }),
      { flags: TRUST_LOCAL },
    );
    expect(await get(r.url + '/', { 'x-forwarded-for': '10.1.2.3' })).toBe(403);
  });

  it('accepts the deprecated ipWhiteList name', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, { m: { ipWhiteList: { sourceRange: ['127.0.0.0/8'] } } }),
    );
    expect(await get(r.url + '/')).toBe(200);
  });
});

describe('ipAllowList: ipStrategy', () => {
  it('depth picks the Nth address from the right of X-Forwarded-For', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, {
        m: { ipAllowList: { sourceRange: ['10.0.0.0/8'], ipStrategy: { depth: 2 } } },
      }),
      { flags: TRUST_LOCAL },
    );
    expect(await get(r.url + '/', { 'x-forwarded-for': '10.1.2.3, 192.168.0.1' })).toBe(200);
    expect(await get(r.url + '/', { 'x-forwarded-for': '192.168.0.1, 10.1.2.3' })).toBe(403);
    // fewer addresses than depth: no IP, refused
    expect(await get(r.url + '/', { 'x-forwarded-for': '10.1.2.3' })).toBe(403);
  });

  it('excludedIPs skips known proxies from the right', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, {
        m: {
          ipAllowList: {
            sourceRange: ['10.0.0.0/8'],
            ipStrategy: { excludedIPs: ['192.168.0.0/16', '172.16.0.1'] },
          },
        },
      }),
      { flags: TRUST_LOCAL },
    );
    expect(await get(r.url + '/', { 'x-forwarded-for': '10.9.9.9, 192.168.3.4, 172.16.0.1' })).toBe(
      200,
    );
    expect(await get(r.url + '/', { 'x-forwarded-for': '10.9.9.9, 8.8.8.8, 172.16.0.1' })).toBe(
      403,
    );
  });

  it('ipv6Subnet matches an IPv6 client by its subnet', async () => {
    const u = await upstream();
    const cfg = (ipStrategy: Record<string, unknown>): DynamicConfig =>
      withMiddleware(u, { m: { ipAllowList: { sourceRange: ['2001:db8::'], ipStrategy } } });
    const r = await router(cfg({ depth: 1, ipv6Subnet: 64 }), { flags: TRUST_LOCAL });
    expect(await get(r.url + '/', { 'x-forwarded-for': '2001:db8::abcd:1234' })).toBe(200);
    expect(await get(r.url + '/', { 'x-forwarded-for': '2001:db8:0:1::1' })).toBe(403);
    r.apply(cfg({ depth: 1 }));
    expect(await get(r.url + '/', { 'x-forwarded-for': '2001:db8::abcd:1234' })).toBe(403);
  });

  it('an untrusted client cannot choose its address with X-Forwarded-For', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, {
        m: { ipAllowList: { sourceRange: ['10.0.0.0/8'], ipStrategy: { depth: 1 } } },
      }),
    );
    expect(await get(r.url + '/', { 'x-forwarded-for': '10.1.2.3' })).toBe(403);
  });
});

describe('ipAllowList: configuration errors', () => {
  it.each([
    ['no sourceRange', {}, 'ipAllowList.sourceRange: is required'],
    ['an empty sourceRange', { sourceRange: [] }, 'sourceRange: must list at least one'],
    [
      'a bad CIDR',
      { sourceRange: ['10.0.0.0/33'] },
      'sourceRange[0]: "10.0.0.0/33" has an invalid prefix',
    ],
    ['not an IP', { sourceRange: ['nope'] }, 'sourceRange[0]: "nope" is not an IP'],
    [
      'a bad excludedIPs entry',
      { sourceRange: ['10.0.0.1'], ipStrategy: { excludedIPs: ['x'] } },
      'ipStrategy.excludedIPs[0]',
    ],
    [
      'a negative depth',
      { sourceRange: ['10.0.0.1'], ipStrategy: { depth: -1 } },
      'ipStrategy.depth: must be at least 0',
    ],
    [
      'ipv6Subnet over 128',
      { sourceRange: ['10.0.0.1'], ipStrategy: { ipv6Subnet: 129 } },
      'ipv6Subnet: must be at most 128',
    ],
    [
      'a bad rejectStatusCode',
      { sourceRange: ['10.0.0.1'], rejectStatusCode: 42 },
      'rejectStatusCode: must be at least 100',
    ],
    [
      'an unknown option',
      { sourceRange: ['10.0.0.1'], sourceRanges: ['x'] },
      'unknown field "sourceRanges"',
    ],
  ])('disables the router for %s', async (_name, options, message) => {
    const u = await upstream();
    const r = await router(withMiddleware(u, { m: { ipAllowList: options } }));
    const table = r.apply(withMiddleware(u, { m: { ipAllowList: options } }));
    expect(table.routers.get('r@file')!.status).toBe('disabled');
    expect(table.middlewares.get('m@file')!.errors.join('\n')).toContain(message);
    expect(await get(r.url + '/')).toBe(404);
  });
});

describe('ipAllowList: Docker labels', () => {
  it('decodes sourceRange, ipStrategy and rejectStatusCode', async () => {
    const u = await upstream();
    const decoded = decodeLabels(
      {
        'traefik.http.middlewares.m.ipallowlist.sourcerange': '10.0.0.0/8, 192.168.0.0/16',
        'traefik.http.middlewares.m.ipallowlist.ipstrategy.depth': '1',
        'traefik.http.middlewares.m.ipallowlist.ipstrategy.excludedips': '172.16.0.1',
        'traefik.http.middlewares.m.ipallowlist.rejectstatuscode': '401',
      },
      { prefixes: ['traefik'] },
    ).http.middlewares;
    const r = await router(withMiddleware(u, decoded), { flags: TRUST_LOCAL });
    expect(await get(r.url + '/', { 'x-forwarded-for': '192.168.1.1' })).toBe(200);
    expect(await get(r.url + '/', { 'x-forwarded-for': '8.8.8.8' })).toBe(401);
  });
});
