/*
 * TLS stores (issue 13 item 2), as Traefik reads them: `tls.stores.default.
 * defaultCertificate` replaces the generated default certificate for clients
 * whose SNI name no certificate covers and for clients that send no SNI, on
 * an entrypoint with `http.tls`, on one that terminates TLS for its routers
 * only (per-router TLS) and for TCP routers that terminate TLS. Broken values
 * are reported with the store and the field, and the generated default keeps
 * being served. Real TLS clients on 127.0.0.1; the data plane in this process.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { freePort } from '../helpers/http.js';
import { startRouter, type TestRouter } from '../helpers/portico.js';
import { mergeSnapshots } from '../../src/config/aggregate.js';
import { defaultGeneratedDomains } from '../../src/tls/acme/manager.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

interface Pem {
  cert: string;
  key: string;
}

async function certFor(names: string[], keyType: 'ec' | 'rsa' = 'ec'): Promise<Pem> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: names[0]! }], {
    keyType,
    ...(keyType === 'rsa' ? { keySize: 2048 } : {}),
    extensions: [
      { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/**
 * The certificate a TLS client is shown. `servername` undefined: no SNI at all
 * (Node sends none for an IP address). `maxVersion` TLSv1.2 with ECDHE-RSA
 * first makes a client that prefers RSA; TLS 1.3 clients prefer ECDSA.
 */
function served(
  port: number,
  servername: string | undefined,
  opts: { maxVersion?: tls.SecureVersion; ciphers?: string } = {},
): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      ...(servername === undefined ? {} : { servername }),
      rejectUnauthorized: false,
      ...opts,
    });
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('error', reject);
    s.on('secureConnect', () => {
      const cert = s.getPeerX509Certificate();
      s.destroy();
      if (cert === undefined) reject(new Error('no peer certificate'));
      else resolve(cert);
    });
  });
}

const GENERATED = /CN=PORTICO DEFAULT CERT/;

/** A TCP echo server, for a TCP router that terminates TLS. */
async function echoServer(): Promise<net.Server> {
  const s = net.createServer((c) => c.pipe(c));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return s;
}

/** Over TLS through a terminating TCP router: the certificate shown and the echo. */
function tcpTlsEcho(
  port: number,
  servername: string | undefined,
): Promise<{ cert: X509Certificate; got: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      ...(servername === undefined ? {} : { servername }),
      rejectUnauthorized: false,
    });
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('error', reject);
    let got = '';
    s.on('secureConnect', () => s.write('ping'));
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got === 'ping') {
        const cert = s.getPeerX509Certificate()!;
        s.destroy();
        resolve({ cert, got });
      }
    });
  });
}

describe('tls.stores.default', () => {
  let up: Upstream;
  let echo: net.Server;
  let r: TestRouter;
  let securePort: number;
  let tcpPort: number;
  let site: Pem;
  let custom: Pem;
  let other: Pem;
  let rsaDefault: Pem;
  let rsaSite: Pem;
  let dir: string;
  let base: DynamicConfig;

  /** every place a client can meet the default certificate: [label, port] */
  const entryPoints = (): [string, number][] => [
    ['an entrypoint with http.tls', securePort],
    ['an entrypoint with per-router TLS', r.port],
  ];

  const withStores = (stores: NonNullable<DynamicConfig['tls']>['stores']): DynamicConfig => ({
    ...base,
    tls: { ...base.tls, stores },
  });

  beforeAll(async () => {
    [up, echo, site, custom, other, rsaDefault, rsaSite] = await Promise.all([
      startUpstream('site'),
      echoServer(),
      certFor(['site.test']),
      certFor(['custom.default.test']),
      certFor(['other.default.test']),
      certFor(['rsa.default.test'], 'rsa'),
      certFor(['rsa-site.test'], 'rsa'),
    ]);
    dir = mkdtempSync(path.join(os.tmpdir(), 'portico-tls-stores-'));
    writeFileSync(path.join(dir, 'custom.crt'), custom.cert);
    writeFileSync(path.join(dir, 'custom.key'), custom.key);
    base = {
      http: {
        // no entryPoints: on `web` (per-router TLS) and on `websecure` (http.tls)
        routers: { site: { rule: 'Host(`site.test`)', service: 'site', tls: {} } },
        services: { site: { loadBalancer: { servers: [{ url: up.url }] } } },
      },
      tcp: {
        routers: {
          any: { rule: 'HostSNI(`*`)', service: 'echo', entryPoints: ['tcp'], tls: {} },
        },
        services: {
          echo: {
            loadBalancer: {
              servers: [{ address: `127.0.0.1:${(echo.address() as net.AddressInfo).port}` }],
            },
          },
        },
      },
      tls: { certificates: [{ certFile: site.cert, keyFile: site.key }] },
    };
    securePort = await freePort();
    tcpPort = await freePort();
    r = await startRouter(
      withStores({
        default: {
          defaultCertificate: {
            certFile: path.join(dir, 'custom.crt'),
            keyFile: path.join(dir, 'custom.key'),
          },
        },
      }),
      {
        flags: [
          `--entryPoints.websecure.address=127.0.0.1:${securePort}`,
          '--entryPoints.websecure.http.tls',
          `--entryPoints.tcp.address=127.0.0.1:${tcpPort}`,
        ],
      },
    );
  }, 30_000);

  afterAll(async () => {
    await r?.close();
    await up?.close();
    await new Promise((res) => echo?.close(res));
  });

  it('serves defaultCertificate for an unknown SNI name and without SNI, on both kinds of entrypoint', async () => {
    expect(r.router.holder.current.errors).toEqual([]);
    for (const [label, port] of entryPoints()) {
      for (const sni of ['unknown.test', undefined]) {
        const cert = await served(port, sni);
        expect(cert.subjectAltName, `${label}, SNI ${sni ?? '(none)'}`).toBe(
          'DNS:custom.default.test',
        );
      }
      // a name a certificate covers still gets that certificate
      expect((await served(port, 'site.test')).subjectAltName, label).toBe('DNS:site.test');
    }
  });

  it('serves defaultCertificate on a TCP router that terminates TLS, for any SNI and none', async () => {
    for (const sni of ['unknown.test', undefined]) {
      const { cert, got } = await tcpTlsEcho(tcpPort, sni);
      expect(got).toBe('ping');
      expect(cert.subjectAltName, `SNI ${sni ?? '(none)'}`).toBe('DNS:custom.default.test');
    }
  });

  it('swaps the default certificate when the configuration changes, and back to the generated one', async () => {
    r.apply(
      withStores({ default: { defaultCertificate: { certFile: other.cert, keyFile: other.key } } }),
    );
    for (const [label, port] of entryPoints()) {
      for (const sni of ['unknown.test', undefined]) {
        const cert = await served(port, sni);
        expect(cert.subjectAltName, `${label}, SNI ${sni ?? '(none)'}`).toBe(
          'DNS:other.default.test',
        );
      }
    }
    r.apply(base);
    for (const [label, port] of entryPoints()) {
      for (const sni of ['unknown.test', undefined]) {
        const cert = await served(port, sni);
        expect(cert.subject, `${label}, SNI ${sni ?? '(none)'}`).toMatch(GENERATED);
      }
    }
  });

  it.each([
    ['a missing file', () => ({ certFile: path.join(dir, 'missing.crt'), keyFile: custom.key })],
    [
      'a certificate that is not PEM',
      () => ({
        certFile: '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n',
        keyFile: custom.key,
      }),
    ],
    ['a key of another certificate', () => ({ certFile: custom.cert, keyFile: other.key })],
  ])(
    'reports a defaultCertificate with %s, and keeps serving the generated default',
    async (_what, pair) => {
      const table = r.apply(withStores({ default: { defaultCertificate: pair() } }));
      const err = table.errors.find((e) => e.name === 'tls.stores.default');
      expect(err).toMatchObject({ kind: 'tls', field: 'defaultCertificate' });
      expect(err!.message).toMatch(/^cannot load the default certificate: /);
      for (const [label, port] of entryPoints()) {
        for (const sni of ['unknown.test', undefined])
          expect((await served(port, sni)).subject, label).toMatch(GENERATED);
        // the other certificates are untouched
        expect((await served(port, 'site.test')).subjectAltName, label).toBe('DNS:site.test');
      }
    },
  );

  it('reports a store other than default as ignored, and a defaultGeneratedCert with an unknown resolver', async () => {
    const table = r.apply(
      withStores({
        default: {
          defaultGeneratedCert: { resolver: 'nope', domain: { main: 'gen.test' } },
        },
        mine: { defaultCertificate: { certFile: other.cert, keyFile: other.key } },
      }),
    );
    expect(table.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'tls',
          name: 'tls.stores.mine',
          message: expect.stringMatching(/only the store named default is used/),
        }),
        expect.objectContaining({
          kind: 'tls',
          name: 'tls.stores.default',
          field: 'defaultGeneratedCert.resolver',
          message: expect.stringMatching(/certificate resolver "nope" does not exist/),
        }),
      ]),
    );
    for (const sni of ['unknown.test', undefined])
      expect((await served(securePort, sni)).subject).toMatch(GENERATED);
  });

  it('prefers defaultCertificate when defaultGeneratedCert is set too, as Traefik does, and says so', async () => {
    const table = r.apply(
      withStores({
        default: {
          defaultCertificate: { certFile: other.cert, keyFile: other.key },
          defaultGeneratedCert: { resolver: 'nope', domain: { main: 'gen.test' } },
        },
      }),
    );
    expect(table.errors).toEqual([
      expect.objectContaining({
        name: 'tls.stores.default',
        message: expect.stringMatching(/cannot be defined at the same time/),
      }),
    ]);
    for (const sni of ['unknown.test', undefined])
      expect((await served(securePort, sni)).subjectAltName).toBe('DNS:other.default.test');
  });

  /*
   * An RSA default next to EC certificates is the mixed-key case of
   * src/tls/store.ts: OpenSSL keeps one certificate per key type, so the
   * context a connection starts with decides what a client preferring one
   * key type gets. Both a TLS 1.3 client (prefers ECDSA) and a TLS 1.2 client
   * preferring ECDHE-RSA must get the certificate of their SNI name.
   */
  it.each([
    ['TLS 1.3', {}],
    [
      'TLS 1.2 preferring RSA',
      {
        maxVersion: 'TLSv1.2' as const,
        ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256',
      },
    ],
  ])(
    'serves an RSA defaultCertificate next to EC and RSA certificates, each for its own names (%s)',
    async (_label, client) => {
      r.apply({
        ...withStores({
          default: { defaultCertificate: { certFile: rsaDefault.cert, keyFile: rsaDefault.key } },
        }),
        tls: {
          certificates: [
            { certFile: site.cert, keyFile: site.key },
            { certFile: rsaSite.cert, keyFile: rsaSite.key },
          ],
          stores: {
            default: {
              defaultCertificate: { certFile: rsaDefault.cert, keyFile: rsaDefault.key },
            },
          },
        },
      });
      for (const [label, port] of entryPoints()) {
        const at = (sni: string | undefined): string => `${label}, SNI ${sni ?? '(none)'}`;
        for (const sni of ['unknown.test', undefined])
          expect((await served(port, sni, client)).subjectAltName, at(sni)).toBe(
            'DNS:rsa.default.test',
          );
        expect((await served(port, 'site.test', client)).subjectAltName, at('site.test')).toBe(
          'DNS:site.test',
        );
        expect(
          (await served(port, 'rsa-site.test', client)).subjectAltName,
          at('rsa-site.test'),
        ).toBe('DNS:rsa-site.test');
      }
    },
  );

  it('goes back to the generated default after the mixed-key case, without SNI too', async () => {
    r.apply(base);
    for (const [label, port] of entryPoints())
      for (const sni of ['unknown.test', undefined])
        expect((await served(port, sni)).subject, label).toMatch(GENERATED);
    expect((await served(securePort, 'site.test')).subjectAltName).toBe('DNS:site.test');
  });
});

/*
 * defaultGeneratedCert: the ACME manager (primary) orders the domains and
 * publishes the certificate as the `internal` provider's tls.certificates,
 * like a router's; the store then makes the one covering every domain its
 * default. Here the internal provider's snapshot is given directly (the
 * order itself is tested against pebble in tls-stores-acme.test.ts).
 */
describe('tls.stores.default.defaultGeneratedCert', () => {
  let r: TestRouter;
  let gen: Pem;
  let partial: Pem;
  const file: DynamicConfig = {
    http: {
      routers: { site: { rule: 'Host(`site.test`)', service: 'none', tls: {} } },
    },
    tls: {
      stores: {
        default: {
          defaultGeneratedCert: {
            resolver: 'le',
            domain: { main: 'gen.test', sans: ['www.gen.test'] },
          },
        },
      },
    },
  };
  const applyWith = (certificates: Pem[]) => {
    const merged = mergeSnapshots([
      { provider: 'file', config: file, errors: [] },
      {
        provider: 'internal',
        config: {
          tls: {
            certificates: certificates.map((c) => ({
              certFile: c.cert,
              keyFile: c.key,
              resolver: 'le',
            })),
          },
        },
        errors: [],
      },
    ]);
    return r.router.applyConfig(merged.config, merged.errors);
  };

  beforeAll(async () => {
    [gen, partial] = await Promise.all([
      certFor(['gen.test', 'www.gen.test']),
      certFor(['gen.test']),
    ]);
    r = await startRouter(file, {
      flags: [
        '--certificatesResolvers.le.acme.email=ops@example.com',
        `--certificatesResolvers.le.acme.storage=${path.join(os.tmpdir(), 'portico-unused-acme.json')}`,
        '--certificatesResolvers.le.acme.httpChallenge.entryPoint=web',
      ],
    });
  });

  afterAll(async () => {
    await r?.close();
  });

  it('serves the generated default until the certificate of its domains is published, then that one', async () => {
    // (the router's service is left out: only the handshake matters here)
    // not obtained yet, or only for some of the domains: the generated one, and nothing to report
    for (const certs of [[], [partial]]) {
      const table = applyWith(certs);
      expect(table.errors.filter((e) => e.kind === 'tls')).toEqual([]);
      for (const sni of ['unknown.test', undefined])
        expect((await served(r.port, sni)).subject).toMatch(GENERATED);
    }
    applyWith([partial, gen]);
    for (const sni of ['unknown.test', undefined])
      expect((await served(r.port, sni)).subjectAltName).toBe('DNS:gen.test, DNS:www.gen.test');
    // and it still serves its own names
    expect((await served(r.port, 'www.gen.test')).subjectAltName).toBe(
      'DNS:gen.test, DNS:www.gen.test',
    );
  });
});

describe('what the ACME manager orders for the default store (defaultGeneratedDomains)', () => {
  const generated = { resolver: 'le', domain: { main: 'gen.test', sans: ['www.gen.test'] } };
  const pair = { certFile: 'c.pem', keyFile: 'k.pem' };
  it.each([
    [
      'the default store',
      { default: { defaultGeneratedCert: generated } },
      { resolver: 'le', domain: { main: 'gen.test', sans: ['www.gen.test'] } },
    ],
    [
      'no sans',
      { default: { defaultGeneratedCert: { resolver: 'le', domain: { main: 'gen.test' } } } },
      { resolver: 'le', domain: { main: 'gen.test', sans: [] } },
    ],
    [
      'a defaultCertificate too (it takes precedence, as in Traefik)',
      { default: { defaultCertificate: pair, defaultGeneratedCert: generated } },
      undefined,
    ],
    [
      'another store (only default is used)',
      { other: { defaultGeneratedCert: generated } },
      undefined,
    ],
    [
      'no resolver',
      { default: { defaultGeneratedCert: { domain: { main: 'gen.test' } } } },
      undefined,
    ],
    [
      'no domain.main',
      { default: { defaultGeneratedCert: { resolver: 'le', domain: { sans: ['x.test'] } } } },
      undefined,
    ],
    ['no stores', undefined, undefined],
  ])('%s', (_label, stores, expected) => {
    expect(defaultGeneratedDomains(stores)).toEqual(expected);
  });
});
