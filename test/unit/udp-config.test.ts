/*
 * The `udp` section of the dynamic configuration (Traefik v3's
 * pkg/config/dynamic/udp_config.go): routers (entry points and a service, no
 * rule) and services (load balancer over addresses, weighted), validated
 * element by element and qualified `name@provider` by the aggregator.
 */
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { mergeSnapshots } from '../../src/config/aggregate.js';
import { validateDynamic } from '../../src/config/validate.js';

interface Row {
  name: string;
  section: 'routers' | 'services';
  def: unknown;
  field?: string;
  message?: RegExp;
  expected?: unknown;
}

const rows: Row[] = [
  { name: 'router', section: 'routers', def: { entryPoints: ['dns'], service: 'dns' } },
  { name: 'router on every entry point', section: 'routers', def: { service: 'dns' } },
  {
    name: 'comma list of entry points',
    section: 'routers',
    def: { EntryPoints: 'dns, dns6', Service: 'dns' },
    expected: { entryPoints: ['dns', 'dns6'], service: 'dns' },
  },
  {
    name: 'router without service',
    section: 'routers',
    def: { entryPoints: ['dns'] },
    field: 'service',
    message: /^missing required field "service"$/,
  },
  {
    name: 'udp routers take no rule (Traefik)',
    section: 'routers',
    def: { rule: 'HostSNI(`*`)', service: 'dns' },
    field: 'rule',
    message: /^unknown field "rule"/,
  },
  {
    name: 'udp routers take no tls',
    section: 'routers',
    def: { service: 'dns', tls: {} },
    field: 'tls',
    message: /^unknown field "tls"/,
  },
  {
    name: 'load balancer',
    section: 'services',
    def: { loadBalancer: { servers: [{ address: '10.0.0.53:53' }, { address: '[fd00::53]:53' }] } },
  },
  {
    name: 'weighted',
    section: 'services',
    def: { weighted: { services: [{ name: 'a', weight: 2 }, { name: 'b' }] } },
  },
  {
    name: 'address without port',
    section: 'services',
    def: { loadBalancer: { servers: [{ address: '10.0.0.53' }] } },
    field: 'loadBalancer.servers[0].address',
    message: /^invalid address "10\.0\.0\.53": missing port/,
  },
  {
    name: 'udp servers have no tls',
    section: 'services',
    def: { loadBalancer: { servers: [{ address: 'a:53', tls: true }] } },
    field: 'loadBalancer.servers[0].tls',
    message: /^unknown field "tls"/,
  },
  {
    name: 'no type',
    section: 'services',
    def: {},
    field: '',
    message: /^a udp service must have exactly one of loadBalancer, weighted, found none$/,
  },
  {
    name: 'not a mapping',
    section: 'services',
    def: ['a:53'],
    field: '',
    message: /^a udp service must be a mapping, got array$/,
  },
];

describe('validateDynamic: udp elements', () => {
  it.each(rows)('$section: $name', ({ section, def, field, message, expected }) => {
    const ok = section === 'routers' ? { service: 'x' } : { loadBalancer: { servers: [] } };
    const result = validateDynamic(
      { udp: { [section]: { el: def, ok } } } as unknown as DynamicConfig,
      'docker',
    );
    const elements = (result.config.udp as Record<string, Record<string, unknown>>)[section]!;
    expect(elements.ok).toEqual(ok);
    if (message === undefined) {
      expect(result.errors).toEqual([]);
      expect(elements.el).toEqual(expected ?? def);
    } else {
      expect(result.errors.length).toBeGreaterThan(0);
      for (const e of result.errors)
        expect(e).toMatchObject({
          kind: section === 'routers' ? 'udpRouter' : 'udpService',
          name: 'el@docker',
        });
      expect(result.errors[0]!.field ?? '').toBe(field);
      expect(result.errors[0]!.message).toMatch(message);
      expect(elements.el).toBeUndefined();
    }
  });

  it('udp has only routers and services', () => {
    const result = validateDynamic(
      { udp: { middlewares: { m: {} } } } as unknown as DynamicConfig,
      'file',
    );
    expect(result.errors).toEqual([
      {
        kind: 'provider',
        name: 'file',
        field: 'udp.middlewares',
        message: expect.stringMatching(/^unknown field "middlewares"/) as unknown as string,
      },
    ]);
  });
});

describe('mergeSnapshots: udp', () => {
  it('qualifies routers, services and weighted references', () => {
    const merged = mergeSnapshots([
      {
        provider: 'file',
        config: {
          udp: {
            routers: { dns: { entryPoints: ['dns'], service: 'split' } },
            services: {
              split: { weighted: { services: [{ name: 'a' }, { name: 'b@docker', weight: 2 }] } },
              a: { loadBalancer: { servers: [{ address: '10.0.0.53:53' }] } },
            },
          },
        },
        errors: [],
      },
    ]);
    expect(merged.errors).toEqual([]);
    expect(merged.config.udp).toEqual({
      routers: { 'dns@file': { entryPoints: ['dns'], service: 'split@file' } },
      services: {
        'split@file': {
          weighted: { services: [{ name: 'a@file' }, { name: 'b@docker', weight: 2 }] },
        },
        'a@file': { loadBalancer: { servers: [{ address: '10.0.0.53:53' }] } },
      },
    });
  });
});
