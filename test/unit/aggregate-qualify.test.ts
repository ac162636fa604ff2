/*
 * qualifyRouter (src/config/aggregate.ts): the one place HTTP, TCP and UDP routers get their
 * references qualified with the provider of their snapshot, as Traefik's `name@provider`.
 */

import { describe, expect, it } from 'vitest';
import { qualifyRouter } from '../../src/config/aggregate.js';

describe('qualifyRouter', () => {
  it.each([
    [
      'service, middlewares and tls options',
      {
        rule: 'Host(`a`)',
        service: 'web',
        middlewares: ['auth', 'gz@file'],
        tls: { options: 'mtls' },
      },
      {
        rule: 'Host(`a`)',
        service: 'web@docker',
        middlewares: ['auth@docker', 'gz@file'],
        tls: { options: 'mtls@docker' },
      },
    ],
    [
      'a reference to another provider stays',
      { service: 'api@internal' },
      { service: 'api@internal' },
    ],
    [
      'the default tls options stay bare',
      { service: 's', tls: { options: 'default' } },
      { service: 's@docker', tls: { options: 'default' } },
    ],
    [
      'tls without options stays as it is',
      { service: 's', tls: { certResolver: 'le' } },
      { service: 's@docker', tls: { certResolver: 'le' } },
    ],
    [
      'a udp router (service only)',
      { entryPoints: ['dns'], service: 'dns' },
      { entryPoints: ['dns'], service: 'dns@docker' },
    ],
  ])('%s', (_, router, expected) => {
    expect(qualifyRouter(router as Record<string, unknown>, 'docker')).toEqual(expected);
  });

  it('leaves the router it was given unchanged', () => {
    const router = { service: 'web', middlewares: ['a'], tls: { options: 'o' } };
    qualifyRouter(router, 'docker');
    expect(router).toEqual({ service: 'web', middlewares: ['a'], tls: { options: 'o' } });
  });
});
