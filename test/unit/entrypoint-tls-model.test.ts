/*
 * entryPoints.<n>.http.tls as Traefik applies it (applyModel): routers without tls inherit
 * the entrypoint's options and certResolver; a router's own tls is kept whole; a router on
 * several entrypoints is split per modelled entrypoint as `<ep>-<name>`.
 */
import { describe, expect, it } from 'vitest';
import { applyEntryPointTls } from '../../src/routing/models.js';
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
});
