/*
 * UDP entrypoints in the static configuration (Traefik's
 * pkg/config/static/entrypoints.go): `address: ":53/udp"`, `udp.timeout`
 * (3s by default, greater than zero), and a TCP and a UDP entrypoint may
 * share a port number.
 */
import { describe, expect, it } from 'vitest';
import { loadStaticConfig } from '../../src/config/static.js';
import type { StaticConfig } from '../../src/config/static-types.js';

function load(argv: string[], env: NodeJS.ProcessEnv = {}): StaticConfig {
  return loadStaticConfig({ argv: ['--workers=0', ...argv], env, cwd: process.cwd() });
}

function loadError(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    load(argv, env);
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}

describe('udp entrypoints', () => {
  it.each([
    [':53/udp', '', 53],
    ['127.0.0.1:5353/udp', '127.0.0.1', 5353],
    ['[::1]:53/UDP', '::1', 53],
  ])('%s is a udp entrypoint with the default timeout (3s)', (address, host, port) => {
    const ep = load([`--entryPoints.dns.address=${address}`]).entryPoints.dns!;
    expect(ep).toMatchObject({ address, host, port, udp: { timeoutMs: 3000 } });
  });

  it.each([':80', ':80/tcp', ':80/TCP'])('%s is a tcp entrypoint (no udp block)', (address) => {
    expect(load([`--entryPoints.web.address=${address}`]).entryPoints.web!.udp).toBeUndefined();
  });

  it('udp.timeout from a flag, a variable and as seconds', () => {
    expect(
      load(['--entryPoints.dns.address=:53/udp', '--entryPoints.dns.udp.timeout=10s']).entryPoints
        .dns!.udp,
    ).toEqual({ timeoutMs: 10_000 });
    expect(
      load([], {
        PORTICO_ENTRYPOINTS_DNS_ADDRESS: ':53/udp',
        PORTICO_ENTRYPOINTS_DNS_UDP_TIMEOUT: '2',
      }).entryPoints.dns!.udp,
    ).toEqual({ timeoutMs: 2000 });
  });

  it('udp.timeout must be greater than zero (Traefik refuses to start)', () => {
    expect(
      loadError(['--entryPoints.dns.address=:53/udp', '--entryPoints.dns.udp.timeout=0s']),
    ).toMatch(/entryPoints\.dns\.udp\.timeout.*greater than zero/);
  });

  it('an unknown protocol is refused', () => {
    expect(loadError(['--entryPoints.x.address=:53/sctp'])).toMatch(
      /unknown protocol "sctp" \(tcp or udp\)/,
    );
  });

  it('a tcp and a udp entrypoint can share a port; two udp ones cannot', () => {
    const sc = load(['--entryPoints.dnstcp.address=:53', '--entryPoints.dns.address=:53/udp']);
    expect(Object.keys(sc.entryPoints).sort()).toEqual(['dns', 'dnstcp']);
    expect(
      loadError(['--entryPoints.a.address=:53/udp', '--entryPoints.b.address=127.0.0.1:53/udp']),
    ).toMatch(/conflicts with entry point/);
  });

  it.each([
    [['--ping', '--ping.entryPoint=dns'], /ping\.entryPoint.*"dns" is a udp entrypoint/],
    [
      ['--entryPoints.web.address=:80', '--entryPoints.web.http.redirections.entryPoint.to=dns'],
      /"dns" is a udp entrypoint/,
    ],
  ])('HTTP features cannot point at a udp entrypoint: %j', (flags, message) => {
    expect(loadError(['--entryPoints.dns.address=:53/udp', ...flags])).toMatch(message);
  });
});
