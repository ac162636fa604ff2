/*
 * tls.options end to end: versions, cipher suites, curves, ALPN, sniStrict
 * and client certificates (every clientAuthType), chosen per SNI name from
 * the routers' Host rules, as Traefik does. Real TLS handshakes on 127.0.0.1
 * with a CA and client certificates made by openssl for the test; the
 * passTLSClientCert middleware hands the verified certificate upstream.
 */
import { execFileSync } from 'node:child_process';
import http2 from 'node:http2';
import tls from 'node:tls';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamicConfig, RouterConfig } from '../../src/config/dynamic.js';
import { freePort } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startRouter, type TestRouter } from '../helpers/portico.js';

interface Pair {
  cert: string;
  key: string;
}

async function serverCert(names: string[]): Promise<Pair> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: names[0]! }], {
    keyType: 'ec',
    extensions: [
      { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** A CA, a client certificate it signed, and a self-signed client certificate it did not. */
function clientPki(dir: string): { caFile: string; good: Pair; stranger: Pair } {
  const f = (n: string): string => path.join(dir, n);
  const openssl = (args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl([
    'req',
    '-x509',
    ...ec,
    '-days',
    '2',
    '-subj',
    '/CN=Test Client CA',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
  ]);
  openssl([
    'req',
    ...ec,
    '-subj',
    '/O=Portico/CN=alice',
    '-keyout',
    f('alice.key'),
    '-out',
    f('alice.csr'),
  ]);
  openssl([
    'x509',
    '-req',
    '-in',
    f('alice.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-out',
    f('alice.crt'),
  ]);
  openssl([
    'req',
    '-x509',
    ...ec,
    '-days',
    '1',
    '-subj',
    '/CN=mallory',
    '-keyout',
    f('mallory.key'),
    '-out',
    f('mallory.crt'),
  ]);
  const read = (n: string): string => readFileSync(f(n), 'utf8');
  return {
    caFile: f('ca.crt'),
    good: { cert: read('alice.crt'), key: read('alice.key') },
    stranger: { cert: read('mallory.crt'), key: read('mallory.key') },
  };
}

interface Outcome {
  ok: boolean;
  status?: number;
  body?: string;
  protocol?: string | null;
  cipher?: string;
  curve?: string | undefined;
  alpn?: string | false | null;
  error?: string;
}

/** One HTTP/1.1 request over a fresh TLS connection; refusals (handshake or just after) are outcomes. */
function call(
  port: number,
  servername: string | undefined,
  opts: tls.ConnectionOptions & { host?: string; path?: string } = {},
): Promise<Outcome> {
  const { host, path: p = '/', ...tlsOpts } = opts;
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      s.destroy();
      resolve(o);
    };
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      ...(servername ? { servername } : {}),
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
      ...tlsOpts,
    });
    let raw = '';
    let negotiated: Pick<Outcome, 'protocol' | 'cipher' | 'curve' | 'alpn'> = {};
    s.setTimeout(5000, () => done({ ok: false, error: 'timeout' }));
    s.on('secureConnect', () => {
      // read now: a closed socket has no session left to ask
      negotiated = {
        protocol: s.getProtocol(),
        cipher: s.getCipher()?.name,
        curve: (s.getEphemeralKeyInfo() as { name?: string } | null)?.name,
        alpn: s.alpnProtocol,
      };
      s.write(
        `GET ${p} HTTP/1.1\r\nhost: ${host ?? servername ?? 'none'}\r\nconnection: close\r\n\r\n`,
      );
    });
    s.on('data', (d: Buffer) => (raw += d.toString()));
    s.on('error', (err: NodeJS.ErrnoException) =>
      done({ ok: false, error: err.code ?? err.message }),
    );
    s.on('close', () => {
      const m = /^HTTP\/1\.1 (\d+)/.exec(raw);
      if (m === null) done({ ok: false, error: 'closed without a response' });
      else
        done({
          ok: true,
          status: Number(m[1]),
          body: raw.slice(raw.indexOf('\r\n\r\n') + 4),
          ...negotiated,
        });
    });
  });
}

let up: Upstream;
let r: TestRouter;
let port: number;
let pki: ReturnType<typeof clientPki>;
let base: DynamicConfig;

function route(host: string, options?: string, extra: Partial<RouterConfig> = {}): RouterConfig {
  return {
    rule: `Host(\`${host}\`)`,
    service: 's',
    entryPoints: ['websecure'],
    tls: options ? { options } : {},
    ...extra,
  };
}

beforeAll(async () => {
  up = await startUpstream('tls-options-upstream');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-tls-options-'));
  pki = clientPki(dir);
  const names = [
    'secure.test',
    'modern.test',
    'legacy.test',
    'curve.test',
    'h1.test',
    'mtls.test',
    'optional.test',
    'anycert.test',
    'request.test',
    'shared.test',
    'broken.test',
    'missing.test',
  ];
  const cert = await serverCert(names);
  port = await freePort();
  base = {
    http: {
      routers: {
        secure: route('secure.test'),
        modern: route('modern.test', 'modern'),
        legacy: route('legacy.test', 'legacy'),
        curve: route('curve.test', 'curve'),
        h1: route('h1.test', 'h1only'),
        mtls: route('mtls.test', 'mtls', { middlewares: ['client-cert'] }),
        optional: route('optional.test', 'optional', { middlewares: ['client-cert'] }),
        anycert: route('anycert.test', 'anycert', { middlewares: ['client-cert'] }),
        request: route('request.test', 'request', { middlewares: ['client-cert'] }),
        'shared-a': route('shared.test', 'modern', { rule: 'Host(`shared.test`) && Path(`/a`)' }),
        'shared-b': route('shared.test', 'mtls', { rule: 'Host(`shared.test`) && Path(`/b`)' }),
        broken: route('broken.test', 'broken'),
        missing: route('missing.test', 'nope'),
      },
      middlewares: {
        'client-cert': {
          passTLSClientCert: { pem: true, info: { subject: { commonName: true } } },
        },
      },
      services: { s: { loadBalancer: { servers: [{ url: up.url }] } } },
    },
    tls: {
      certificates: [{ certFile: cert.cert, keyFile: cert.key }],
      options: {
        modern: { minVersion: 'VersionTLS13' },
        legacy: {
          maxVersion: 'VersionTLS12',
          cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'TLS_AES_128_GCM_SHA256'],
        },
        curve: { curvePreferences: ['CurveP384'] },
        h1only: { alpnProtocols: ['http/1.1'] },
        mtls: { clientAuth: { caFiles: [pki.caFile] } },
        optional: {
          clientAuth: {
            caFiles: [readFileSync(pki.caFile, 'utf8')],
            clientAuthType: 'VerifyClientCertIfGiven',
          },
        },
        anycert: { clientAuth: { clientAuthType: 'RequireAnyClientCert' } },
        request: { clientAuth: { clientAuthType: 'RequestClientCert' } },
        broken: { minVersion: 'VersionTLS14', cipherSuites: ['TLS_NOPE'] },
      },
    },
  };
  r = await startRouter(base, {
    flags: [
      `--entryPoints.websecure.address=127.0.0.1:${port}`,
      '--entryPoints.websecure.http.tls',
    ],
  });
});

afterAll(async () => {
  await r?.close();
  await up?.close();
});

describe('tls.options: protocol settings per SNI name', () => {
  it('minVersion VersionTLS13 refuses TLS 1.2 on its host only', async () => {
    expect((await call(port, 'modern.test', { maxVersion: 'TLSv1.2' })).ok).toBe(false);
    const ok = await call(port, 'modern.test');
    expect(ok).toMatchObject({ ok: true, status: 200, protocol: 'TLSv1.3' });
    // the default options (TLS 1.2 minimum) still apply to the other hosts
    expect(await call(port, 'secure.test', { maxVersion: 'TLSv1.2' })).toMatchObject({
      status: 200,
      protocol: 'TLSv1.2',
    });
  });

  it('maxVersion and cipherSuites (Go names) are what the handshake negotiates', async () => {
    const o = await call(port, 'legacy.test');
    expect(o).toMatchObject({
      status: 200,
      protocol: 'TLSv1.2',
      cipher: 'ECDHE-ECDSA-AES256-GCM-SHA384',
    });
    // a client that only speaks a suite outside the list is refused
    const refused = await call(port, 'legacy.test', {
      ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256',
      maxVersion: 'TLSv1.2',
    });
    expect(refused.ok).toBe(false);
  });

  it('curvePreferences restricts the key exchange groups', async () => {
    expect((await call(port, 'curve.test', { ecdhCurve: 'P-256' })).ok).toBe(false);
    const o = await call(port, 'curve.test', { ecdhCurve: 'P-384:P-256' });
    expect(o.status).toBe(200);
    expect(o.curve).toBe('secp384r1');
  });

  it('alpnProtocols decides between HTTP/2 and HTTP/1.1 per host', async () => {
    const alpn = (name: string): Promise<string | false> =>
      new Promise((resolve, reject) => {
        const s = tls.connect(
          {
            host: '127.0.0.1',
            port,
            servername: name,
            rejectUnauthorized: false,
            ALPNProtocols: ['h2', 'http/1.1'],
          },
          () => {
            resolve(s.alpnProtocol ?? false);
            s.destroy();
          },
        );
        s.on('error', reject);
      });
    expect(await alpn('h1.test')).toBe('http/1.1');
    expect(await alpn('secure.test')).toBe('h2');
  });
});

describe('tls.options: client certificates', () => {
  it('RequireAndVerifyClientCert: no certificate or a stranger is refused, a CA-signed one passes to the upstream', async () => {
    expect((await call(port, 'mtls.test')).ok).toBe(false);
    expect((await call(port, 'mtls.test', pki.stranger)).ok).toBe(false);
    const o = await call(port, 'mtls.test', pki.good);
    expect(o.status).toBe(200);
    const seen = up.seen.at(-1)!;
    // passTLSClientCert: the PEM body and the selected subject field
    const alice = new (await import('node:crypto')).X509Certificate(pki.good.cert);
    const body = alice.toString().replace(/-----(BEGIN|END) CERTIFICATE-----|\n/g, '');
    expect(seen.headers['x-forwarded-tls-client-cert']).toBe(body);
    expect(seen.headers['x-forwarded-tls-client-cert-info']).toBe(
      encodeURIComponent('Subject="CN=alice"'),
    );
  });

  it('passTLSClientCert works over HTTP/2 too', async () => {
    const client = http2.connect(`https://127.0.0.1:${port}`, {
      servername: 'mtls.test',
      rejectUnauthorized: false,
      ...pki.good,
    });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = client.request({ ':path': '/h2', ':authority': 'mtls.test' });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
        req.resume();
        req.end();
      });
      expect(status).toBe(200);
      expect(up.seen.at(-1)!.headers['x-forwarded-tls-client-cert-info']).toBe(
        encodeURIComponent('Subject="CN=alice"'),
      );
    } finally {
      client.close();
    }
  });

  it('VerifyClientCertIfGiven: no certificate passes, a stranger is refused', async () => {
    const none = await call(port, 'optional.test');
    expect(none.status).toBe(200);
    expect(up.seen.at(-1)!.headers['x-forwarded-tls-client-cert']).toBeUndefined();
    expect((await call(port, 'optional.test', pki.stranger)).ok).toBe(false);
    expect((await call(port, 'optional.test', pki.good)).status).toBe(200);
  });

  it('RequireAnyClientCert: any certificate, even unverifiable, but one is required', async () => {
    expect((await call(port, 'anycert.test')).ok).toBe(false);
    expect((await call(port, 'anycert.test', pki.stranger)).status).toBe(200);
  });

  it('RequestClientCert: asks, accepts none, passes what it gets', async () => {
    expect((await call(port, 'request.test')).status).toBe(200);
    expect((await call(port, 'request.test', pki.stranger)).status).toBe(200);
    expect(up.seen.at(-1)!.headers['x-forwarded-tls-client-cert-info']).toBe(
      encodeURIComponent('Subject="CN=mallory"'),
    );
  });

  it('hosts without clientAuth do not ask for a certificate', async () => {
    // with NoClientCert the server sends no CertificateRequest: the client's certificate stays unused
    expect((await call(port, 'secure.test', pki.stranger)).status).toBe(200);
  });

  it('a request whose Host needs other TLS options than its SNI name is answered 421 (domain fronting)', async () => {
    const o = await call(port, 'secure.test', { host: 'mtls.test' });
    expect(o.status).toBe(421);
  });
});

describe('tls.options: selection and errors', () => {
  it('routers on one host with different options get a warning, and the host the default options', async () => {
    for (const name of ['shared-a@file', 'shared-b@file']) {
      const info = r.router.holder.current.routers.get(name)!;
      expect(info.status).toBe('warning');
      expect(info.errors.join()).toMatch(
        /different TLS options for routers on the same host shared\.test/,
      );
    }
    // default options: no client certificate required, TLS 1.2 allowed
    expect(await call(port, 'shared.test', { path: '/b', maxVersion: 'TLSv1.2' })).toMatchObject({
      status: 200,
    });
  });

  it('a bad option set names itself, the field and the reason; its routers are disabled, the rest serve', async () => {
    const table = r.router.holder.current;
    const err = table.errors.find((e) => e.name === 'tls.options.broken@file');
    expect(err).toMatchObject({ kind: 'tls', field: 'minVersion' });
    expect(err!.message).toMatch(/unknown TLS version "VersionTLS14"/);
    const broken = table.routers.get('broken@file')!;
    expect(broken.status).toBe('disabled');
    expect(broken.errors.join()).toMatch(/TLS options "broken@file" are invalid \(minVersion: /);
    const missing = table.routers.get('missing@file')!;
    expect(missing.status).toBe('disabled');
    expect(missing.errors.join()).toMatch(/TLS options "nope@file" do not exist/);
    expect((await call(port, 'broken.test')).status).toBe(404);
    expect((await call(port, 'modern.test')).status).toBe(200);
  });

  it.each([
    [{ cipherSuites: ['TLS_NOPE'] }, 'cipherSuites[0]', /unknown cipher suite "TLS_NOPE"/],
    [{ curvePreferences: ['P-999'] }, 'curvePreferences[0]', /unknown curve "P-999"/],
    [
      { minVersion: 'VersionTLS13', maxVersion: 'VersionTLS12' },
      'maxVersion',
      /lower than minVersion/,
    ],
    [
      { clientAuth: { clientAuthType: 'RequireAndVerifyClientCert' } },
      'clientAuth.caFiles',
      /needs caFiles/,
    ],
    [
      { clientAuth: { clientAuthType: 'Sometimes' } },
      'clientAuth.clientAuthType',
      /unknown client auth type "Sometimes"/,
    ],
    [
      { clientAuth: { caFiles: ['/nonexistent/ca.pem'] } },
      'clientAuth.caFiles[0]',
      /cannot read CA \/nonexistent\/ca\.pem/,
    ],
  ])('reports %j at %s', (options, field, message) => {
    const table = r.apply({
      ...base,
      tls: { ...base.tls, options: { ...base.tls!.options, bad: options } },
    });
    const err = table.errors.find((e) => e.name === 'tls.options.bad@file');
    expect(err?.field).toBe(field);
    expect(err?.message).toMatch(message);
    // the other option sets are untouched
    expect(
      table.errors.filter((e) => e.name.startsWith('tls.options.') && !/broken|bad/.test(e.name)),
    ).toEqual([]);
  });

  it('sniStrict on default refuses handshakes without SNI or for names without a certificate', async () => {
    r.apply({
      ...base,
      tls: { ...base.tls, options: { ...base.tls!.options, default: { sniStrict: true } } },
    });
    expect((await call(port, undefined)).ok).toBe(false);
    expect((await call(port, 'unknown.test')).ok).toBe(false);
    expect((await call(port, 'secure.test')).status).toBe(200);
    r.apply(base);
    expect((await call(port, 'unknown.test')).status).toBe(404);
    expect((await call(port, undefined)).status).toBe(404);
  });

  it('default options apply to handshakes without SNI (client certificates included)', async () => {
    r.apply({
      ...base,
      tls: {
        ...base.tls,
        options: { ...base.tls!.options, default: { clientAuth: { caFiles: [pki.caFile] } } },
      },
    });
    expect((await call(port, undefined)).ok).toBe(false);
    expect((await call(port, undefined, pki.good)).status).toBe(404);
    r.apply(base);
  });
});
