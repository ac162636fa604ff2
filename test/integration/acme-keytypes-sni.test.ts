/*
 * Regression for issue 13 item 0 without a CA: a certificate whose key type
 * differs from the default certificate's (an RSA certificate next to the EC
 * default, Traefik's default ACME keyType RSA4096) is what the client gets for
 * its SNI name, over TLS 1.2 and TLS 1.3, after a swap of the routing table.
 * Before the fix, Node's SNICallback kept the default EC certificate in its
 * OpenSSL slot and TLS 1.3 clients (preferring ECDSA) got it instead
 * (nodejs/node#54235). Real TLS handshakes against the in-process router.
 */
import type { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { startRouter, type TestRouter } from '../helpers/portico.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

type Kind = 'EC256' | 'EC384' | 'RSA2048';

/** A self-signed certificate for `host` with a key of `kind` . */
async function certFor(host: string, kind: Kind): Promise<{ cert: string; key: string }> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: host }], {
    ...(kind.startsWith('EC')
      ? { keyType: 'ec' as const, curve: kind === 'EC256' ? 'P-256' : 'P-384' }
      : { keyType: 'rsa' as const, keySize: 2048 }),
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: host }] }],
  });
  return { cert: pems.cert, key: pems.private };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function peer(
  port: number,
  servername: string | undefined,
  version: tls.SecureVersion,
): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect(
      {
        host: '127.0.0.1',
        port,
        ...(servername ? { servername } : {}),
        minVersion: version,
        maxVersion: version,
        rejectUnauthorized: false,
      },
      () => {
        const cert = s.getPeerX509Certificate();
        s.destroy();
        if (cert) resolve(cert);
        else reject(new Error('no peer certificate'));
      },
    );
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('error', reject);
  });
}

const KINDS: Kind[] = ['EC256', 'EC384', 'RSA2048'];
const VERSIONS: tls.SecureVersion[] = ['TLSv1.2', 'TLSv1.3'];

describe('certificates of every key type next to the EC default certificate', () => {
  let up: Upstream;
  let r: TestRouter;
  let port: number;
  const certs = new Map<Kind, { cert: string; key: string }>();
  const host = (k: Kind): string => `${k.toLowerCase()}.keytype.test`;

  const configWith = (kinds: readonly Kind[]): DynamicConfig => ({
    http: {
      routers: Object.fromEntries(
        kinds.map((k) => [
          k,
          { rule: `Host(\`${host(k)}\`)`, service: 's', entryPoints: ['websecure'], tls: {} },
        ]),
      ),
      services: { s: { loadBalancer: { servers: [{ url: up.url }] } } },
    },
    tls: {
      certificates: kinds.map((k) => ({
        certFile: certs.get(k)!.cert,
        keyFile: certs.get(k)!.key,
      })),
    },
  });

  beforeAll(async () => {
    up = await startUpstream('keytype-sni');
    for (const k of KINDS) certs.set(k, await certFor(host(k), k));
    port = await freePort();
    // EC only at first: the case that always worked
    r = await startRouter(configWith(['EC384']), {
      flags: [
        `--entryPoints.websecure.address=127.0.0.1:${port}`,
        '--entryPoints.websecure.http.tls',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await r?.close();
    await up?.close();
  });

  it('serves the EC384 certificate while the store holds EC certificates only', async () => {
    for (const v of VERSIONS)
      expect((await peer(port, host('EC384'), v)).subject).toBe(`CN=${host('EC384')}`);
  });

  const cases = KINDS.flatMap((k) => VERSIONS.map((v) => [k, v] as const));
  it.each(cases)(
    'after a swap that adds RSA: %s certificate served for its SNI name over %s',
    async (kind, version) => {
      r.apply(configWith(KINDS));
      const cert = await peer(port, host(kind), version);
      expect(cert.subject).toBe(`CN=${host(kind)}`);
      expect(cert.publicKey.asymmetricKeyType).toBe(kind.startsWith('EC') ? 'ec' : 'rsa');
    },
  );

  it.each(VERSIONS)(
    'a client without SNI still gets the default certificate over %s',
    async (v) => {
      r.apply(configWith(KINDS));
      expect((await peer(port, undefined, v)).subject).toBe('CN=PORTICO DEFAULT CERT');
    },
  );
});
