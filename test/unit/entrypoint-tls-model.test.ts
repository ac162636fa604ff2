/*
 * entryPoints.<n>.http.tls as Traefik applies it (applyModel): routers without tls inherit
 * the entrypoint's options and certResolver; a router's own tls is kept whole; a router on
 * several entrypoints is split per modelled entrypoint as `<ep>-<name>`.
 */
import { describe, expect, it } from 'vitest';
import { applyEntryPointTls } from '../../src/routing/models.js';
import { wantedDomains } from '../../src/tls/acme/manager.js';
import { testStaticConfig } from '../helpers/portico.js';

const sc = testStaticConfig([
  '--entryPoints.websecure.address=127.0.0.1:0',
  '--entryPoints.websecure.http.tls.certResolver=le',
  '--entryPoints.websecure.http.tls.options=modern@file',
]);

describe('entrypoint tls model', () => {
  it('gives routers without tls the entrypoint certResolver and options, on that entrypoint only', () => {
    const out = applyEntryPointTls(
      {
        http: {
          routers: {
            'app@docker': { rule: 'Host(`app.test`)', service: 's', entryPoints: ['websecure'] },
            'both@docker': { rule: 'Host(`both.test`)', service: 's' },
          },
        },
      },
      sc.entryPoints,
    );
    expect(out.http!.routers!['app@docker']).toEqual({
      rule: 'Host(`app.test`)',
      service: 's',
      entryPoints: ['websecure'],
      tls: { certResolver: 'le', options: 'modern@file' },
    });
    // no entryPoints: every default one; split where a model applies, as Traefik names it
    expect(Object.keys(out.http!.routers!).sort()).toEqual([
      'app@docker',
      'both@docker',
      'websecure-both@docker',
    ]);
    expect(out.http!.routers!['both@docker']).toMatchObject({ entryPoints: ['web'] });
    expect(out.http!.routers!['both@docker']!.tls).toBeUndefined();
    expect(out.http!.routers!['websecure-both@docker']).toMatchObject({
      entryPoints: ['websecure'],
      tls: { certResolver: 'le' },
    });
  });

  it("keeps a router's own tls whole", () => {
    const out = applyEntryPointTls(
      {
        http: {
          routers: {
            'own@file': {
              rule: 'Host(`own.test`)',
              service: 's',
              entryPoints: ['websecure'],
              tls: { certResolver: 'other' },
            },
          },
        },
      },
      sc.entryPoints,
    );
    expect(out.http!.routers!['own@file']!.tls).toEqual({ certResolver: 'other' });
  });

  it('leaves the configuration as it is when no entrypoint has http.tls', () => {
    const config = { http: { routers: { 'r@file': { rule: 'Path(`/`)', service: 's' } } } };
    expect(applyEntryPointTls(config, testStaticConfig().entryPoints)).toBe(config);
  });

  it('copies the entrypoint domains into the model, so ACME orders them instead of the Host names', () => {
    // Traefik's applyModel copies the whole TLS config of the entrypoint, domains included
    const withDomains = testStaticConfig([
      '--entryPoints.websecure.address=127.0.0.1:0',
      '--entryPoints.websecure.http.tls.certResolver=le',
      '--entryPoints.websecure.http.tls.domains[0].main=example.com',
      '--entryPoints.websecure.http.tls.domains[0].sans=*.example.com',
    ]);
    const out = applyEntryPointTls(
      {
        http: {
          routers: {
            'app@docker': {
              rule: 'Host(`app.example.com`)',
              service: 's',
              entryPoints: ['websecure'],
            },
            'own@file': {
              rule: 'Host(`own.example.net`)',
              service: 's',
              entryPoints: ['websecure'],
              tls: { certResolver: 'le' },
            },
          },
        },
      },
      withDomains.entryPoints,
    );
    const app = out.http!.routers!['app@docker']!;
    expect(app.tls).toEqual({
      certResolver: 'le',
      domains: [{ main: 'example.com', sans: ['*.example.com'] }],
    });
    expect(wantedDomains(app)).toEqual([{ main: 'example.com', sans: ['*.example.com'] }]);
    // a router's own tls is kept whole: its Host names are still what it orders
    const own = out.http!.routers!['own@file']!;
    expect(own.tls).toEqual({ certResolver: 'le' });
    expect(wantedDomains(own)).toEqual([{ main: 'own.example.net', sans: [] }]);
  });

  it('gives each router its own copy of the domains', () => {
    const withDomains = testStaticConfig([
      '--entryPoints.websecure.address=127.0.0.1:0',
      '--entryPoints.websecure.http.tls.domains[0].main=example.com',
    ]);
    const out = applyEntryPointTls(
      {
        http: {
          routers: {
            'a@file': { rule: 'Host(`a.example.com`)', service: 's', entryPoints: ['websecure'] },
            'b@file': { rule: 'Host(`b.example.com`)', service: 's', entryPoints: ['websecure'] },
          },
        },
      },
      withDomains.entryPoints,
    );
    const a = out.http!.routers!['a@file']!.tls!.domains!;
    a[0]!.sans!.push('changed.example.com');
    expect(out.http!.routers!['b@file']!.tls!.domains).toEqual([{ main: 'example.com', sans: [] }]);
    expect(withDomains.entryPoints.websecure!.http.tls!.domains).toEqual([
      { main: 'example.com', sans: [] },
    ]);
  });
});
