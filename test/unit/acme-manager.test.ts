/*
 * The ACME manager's pure pieces (src/tls/acme/manager.ts): which domains a
 * router asks for, and the snapshot that carries the challenge routes and
 * the certificates to every worker. Ordering against a real CA is in
 * test/integration/acme.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ACME_TLS_ALPN_SERVICE, HTTP01_PREFIX } from '../../src/tls/acme/challenges.js';
import { acmeSnapshot, ACME_PROVIDER, wantedDomains } from '../../src/tls/acme/manager.js';
import type { StoredCertificate } from '../../src/tls/storage/types.js';

describe('wantedDomains', () => {
  it('reads the Host names of the rule when tls.domains is absent', () => {
    expect(
      wantedDomains({
        rule: 'Host(`a.example`) || (Host(`b.example`) && PathPrefix(`/x`))',
        service: 's',
        tls: { certResolver: 'le' },
      }),
    ).toEqual([
      { main: 'a.example', sans: [] },
      { main: 'b.example', sans: [] },
    ]);
  });

  it('prefers tls.domains, skipping entries without main', () => {
    expect(
      wantedDomains({
        rule: 'Host(`ignored.example`)',
        service: 's',
        tls: {
          certResolver: 'le',
          domains: [{ main: 'example.org', sans: ['*.example.org'] }, { sans: ['x.example'] }],
        },
      }),
    ).toEqual([{ main: 'example.org', sans: ['*.example.org'] }]);
  });

  it('asks for nothing when the rule cannot be parsed or names no host', () => {
    expect(wantedDomains({ rule: 'Host(', service: 's' })).toEqual([]);
    expect(wantedDomains({ rule: 'PathPrefix(`/`)', service: 's' })).toEqual([]);
  });
});

describe('acmeSnapshot', () => {
  it('routes HTTP-01 challenges on each challenge entrypoint once, to the loopback server', () => {
    const snap = acmeSnapshot(['web', 'web', 'alt'], 4567, undefined, []);
    expect(snap.provider).toBe(ACME_PROVIDER);
    expect(snap.config.http?.routers).toEqual({
      'acme-http': {
        rule: `PathPrefix(\`${HTTP01_PREFIX}\`)`,
        service: 'acme-http',
        entryPoints: ['web', 'alt'],
        priority: Number.MAX_SAFE_INTEGER,
      },
    });
    expect(snap.config.http?.services).toEqual({
      'acme-http': { loadBalancer: { servers: [{ url: 'http://127.0.0.1:4567' }] } },
    });
  });

  it('names the TLS-ALPN service and carries the certificates as inline PEM', () => {
    const cert = {
      certificatePem: 'CERT',
      keyPem: 'KEY',
      domains: { main: 'a.example', sans: [] },
    } as unknown as StoredCertificate;
    const snap = acmeSnapshot([], 1, 7890, [{ cert, resolver: 'le' }]);
    expect(snap.config.http?.routers).toEqual({});
    expect(snap.config.http?.services).toEqual({
      [ACME_TLS_ALPN_SERVICE]: { loadBalancer: { servers: [{ url: 'https://127.0.0.1:7890' }] } },
    });
    expect(snap.config.tls?.certificates).toEqual([
      { certFile: 'CERT', keyFile: 'KEY', resolver: 'le' },
    ]);
  });
});
