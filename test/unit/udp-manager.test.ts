/*
 * The UDP side of compile (Traefik's pkg/server/router/udp and
 * pkg/server/service/udp): which router serves an entrypoint, and how each
 * broken element is reported without taking the others down.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ElementError, UdpConfig } from '../../src/config/dynamic.js';
import { loadStaticConfig } from '../../src/config/static.js';
import { buildUdp } from '../../src/routing/udp-manager.js';

const entryPoints = loadStaticConfig({
  argv: [
    '--workers=0',
    '--entryPoints.web.address=:80',
    '--entryPoints.dns.address=:53/udp',
    '--entryPoints.dns6.address=[::1]:5353/udp',
  ],
  env: {},
  cwd: process.cwd(),
}).entryPoints;

function build(config: UdpConfig): { errors: ElementError[] } & ReturnType<typeof buildUdp> {
  const errors: ElementError[] = [];
  const out = buildUdp(config, { entryPoints, logger: pino({ level: 'silent' }), errors });
  return { ...out, errors };
}

const lb = (...addresses: string[]) => ({
  loadBalancer: { servers: addresses.map((address) => ({ address })) },
});

describe('buildUdp', () => {
  it('a router without entryPoints takes every udp entrypoint, and only those', () => {
    const t = build({ routers: { r: { service: 's' } }, services: { s: lb('127.0.0.1:53') } });
    expect(t.errors).toEqual([]);
    expect(t.routers.get('r')).toMatchObject({ entryPoints: ['dns', 'dns6'], status: 'enabled' });
    expect([...t.entryPoints.keys()].sort()).toEqual(['dns', 'dns6']);
    expect(t.entryPoints.get('dns')?.router).toBe('r');
    expect(t.services.get('s')).toMatchObject({ type: 'loadbalancer', usedBy: ['r'] });
  });

  it('several routers on one entrypoint: the one Traefik takes (names in descending order) serves', () => {
    const t = build({
      routers: {
        alpha: { entryPoints: ['dns'], service: 's' },
        zulu: { entryPoints: ['dns'], service: 's' },
        mike: { entryPoints: ['dns'], service: 's' },
      },
      services: { s: lb('127.0.0.1:53') },
    });
    expect(t.entryPoints.get('dns')?.router).toBe('zulu');
    expect(t.routers.get('zulu')?.status).toBe('enabled');
    for (const name of ['alpha', 'mike']) {
      expect(t.routers.get(name)).toMatchObject({
        status: 'warning',
        errors: [
          'entryPoint "dns": router "zulu" takes its datagrams (one udp router per entrypoint)',
        ],
      });
    }
  });

  it('a broken router does not take the entrypoint from a working one', () => {
    const t = build({
      routers: {
        zz: { entryPoints: ['dns'], service: 'missing' },
        aa: { entryPoints: ['dns'], service: 's' },
      },
      services: { s: lb('127.0.0.1:53') },
    });
    expect(t.entryPoints.get('dns')?.router).toBe('aa');
    expect(t.routers.get('zz')).toMatchObject({
      status: 'disabled',
      errors: ['service: the udp service "missing" does not exist'],
    });
    expect(t.errors).toEqual([
      {
        kind: 'udpRouter',
        name: 'zz',
        field: 'service',
        message: 'the udp service "missing" does not exist',
      },
    ]);
  });

  it.each([
    [
      'a tcp entrypoint',
      ['web'],
      'disabled',
      [
        'entryPoint "web" is not a udp entrypoint (its address has no /udp)',
        'entryPoints: no valid entryPoint for this router',
      ],
    ],
    [
      'an unknown entrypoint next to a good one',
      ['nope', 'dns'],
      'warning',
      ['entryPoint "nope" doesn\'t exist'],
    ],
  ])('a router on %s', (_, eps, status, errors) => {
    const t = build({
      routers: { r: { entryPoints: eps, service: 's' } },
      services: { s: lb('127.0.0.1:53') },
    });
    expect(t.routers.get('r')).toMatchObject({ status, errors });
  });

  it.each([
    ['no port', '10.0.0.1', /"10\.0\.0\.1" is not host:port/],
    ['port out of range', '10.0.0.1:70000', /"10\.0\.0\.1:70000" is not host:port/],
    ['unbracketed ipv6', '::1:53', /is not host:port/],
  ])('a server address with %s is skipped and reported on the service', (_, address, message) => {
    const t = build({
      routers: { r: { service: 's' } },
      services: { s: lb(address, '127.0.0.1:53') },
    });
    expect(t.services.get('s')?.status).toBe('warning');
    expect(t.services.get('s')?.errors).toEqual([expect.stringMatching(message)]);
    expect(t.routers.get('r')?.status).toBe('enabled');
  });

  it('weighted: a missing child disables the service and its routers; a cycle is reported', () => {
    const t = build({
      routers: { r: { service: 'w' }, c: { entryPoints: ['dns6'], service: 'loop1' } },
      services: {
        w: { weighted: { services: [{ name: 's' }, { name: 'gone', weight: 2 }] } },
        s: lb('127.0.0.1:53'),
        loop1: { weighted: { services: [{ name: 'loop2' }] } },
        loop2: { weighted: { services: [{ name: 'loop1' }] } },
      },
    });
    expect(t.services.get('w')).toMatchObject({
      type: 'weighted',
      status: 'disabled',
      errors: ['the udp service "gone" does not exist'],
    });
    expect(t.routers.get('r')?.status).toBe('disabled');
    expect(t.routers.get('c')?.errors.join()).toMatch(/cycle/);
    expect(t.entryPoints.size).toBe(0);
  });
});
