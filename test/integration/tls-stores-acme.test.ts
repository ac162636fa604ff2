/*
 * tls.stores.default.defaultGeneratedCert end to end (issue 13 item 2): the
 * named ACME resolver obtains the store's domain from a real ACME server
 * (pebble) over HTTP-01, and the certificate becomes the default one: served
 * for an SNI name no certificate covers and to clients that send no SNI,
 * after a restart from acme.json as well, without a new order.
 *
 * The resolver leaves keyType unset (RSA4096, Traefik's default) while the
 * file provider serves an EC certificate: an RSA default next to EC
 * certificates, the mixed-key case of src/tls/store.ts.
 *
 * The real `portico` command (dist/), with a worker process as in production.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/http.js';
import { skipPebble, startPebble, type Pebble } from '../helpers/pebble.js';
import { runPortico, type PorticoProcess } from '../helpers/process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const skip = skipPebble();

/** The certificate shown to a TLS client; `servername` undefined: no SNI. */
function served(
  port: number,
  servername: string | undefined,
  rootPem: string,
): Promise<{ cert: X509Certificate; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      ...(servername === undefined ? {} : { servername }),
      ca: rootPem,
      rejectUnauthorized: false,
    });
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('error', reject);
    s.on('secureConnect', () => {
      const cert = s.getPeerX509Certificate();
      const authorized = s.authorized;
      s.destroy();
      if (cert === undefined) reject(new Error('no peer certificate'));
      else resolve({ cert, authorized });
    });
  });
}

describe.skipIf(skip)('defaultGeneratedCert (real pebble, real command)', () => {
  let pebble: Pebble;
  let up: Upstream;
  let dir: string;
  let args: string[];
  let securePort: number;
  let storage: string;
  const running: PorticoProcess[] = [];

  beforeAll(async () => {
    pebble = await startPebble();
    up = await startUpstream('default-cert-upstream');
    dir = mkdtempSync(path.join(os.tmpdir(), 'portico-tls-stores-acme-'));
    const caFile = path.join(dir, 'pebble-listener.pem');
    writeFileSync(caFile, pebble.listenerCertPem);
    const site = await selfsigned.generate([{ name: 'commonName', value: 'site.test' }], {
      keyType: 'ec',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'site.test' }] }],
    });
    writeFileSync(path.join(dir, 'site.crt'), site.cert);
    writeFileSync(path.join(dir, 'site.key'), site.private);
    writeFileSync(
      path.join(dir, 'dynamic.yml'),
      [
        'http:',
        '  routers:',
        '    site:',
        '      rule: Host(`site.test`)',
        '      entryPoints: [websecure]',
        '      service: app',
        '  services:',
        '    app:',
        '      loadBalancer:',
        '        servers:',
        `          - url: ${up.url}`,
        'tls:',
        '  certificates:',
        `    - certFile: ${path.join(dir, 'site.crt')}`,
        `      keyFile: ${path.join(dir, 'site.key')}`,
        '  stores:',
        '    default:',
        '      defaultGeneratedCert:',
        '        resolver: le',
        '        domain:',
        '          main: default.test',
        '          sans: [www.default.test]',
        '',
      ].join('\n'),
    );
    securePort = await freePort();
    storage = path.join(dir, 'acme.json');
    const p = '--certificatesResolvers.le.acme';
    args = [
      `--entryPoints.web.address=127.0.0.1:${pebble.httpPort}`,
      `--entryPoints.websecure.address=127.0.0.1:${securePort}`,
      '--entryPoints.websecure.http.tls',
      `${p}.caServer=${pebble.directoryUrl}`,
      `${p}.email=ops@example.com`,
      `${p}.storage=${storage}`,
      `${p}.caCertificates=${caFile}`,
      `${p}.httpChallenge.entryPoint=web`,
      `--providers.file.filename=${path.join(dir, 'dynamic.yml')}`,
      '--workers=1',
    ];
  }, 60_000);

  afterAll(async () => {
    for (const p of running) await p.stop('SIGKILL');
    await up?.close();
    await pebble?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const start = (): PorticoProcess => {
    const p = runPortico(args);
    running.push(p);
    return p;
  };

  /** Waits until an unknown SNI name gets pebble's certificate for the store's domains. */
  const expectDefaultFromPebble = (p: PorticoProcess, timeoutMs: number) =>
    eventually(
      async () => {
        const r = await served(securePort, 'unknown.test', pebble.rootPem);
        if (!/CN=Pebble Intermediate CA/.test(r.cert.issuer))
          throw new Error(`served ${r.cert.subject} issued by ${r.cert.issuer}`);
        return r;
      },
      { timeoutMs, intervalMs: 250 },
    ).catch((err: unknown) => {
      const tail = p.stdout().split('\n').slice(-40).join('\n');
      throw new Error(`${String(err)}\nportico log (tail):\n${tail}\nstderr:\n${p.stderr()}`);
    });

  let serial = '';

  it('obtains the domain with the named resolver and serves it for unknown SNI and without SNI', async () => {
    const p = start();
    const { cert } = await expectDefaultFromPebble(p, 60_000);
    serial = cert.serialNumber;
    expect(cert.subjectAltName).toBe('DNS:default.test, DNS:www.default.test');
    // RSA4096, Traefik's default keyType, next to the EC certificate of site.test
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(4096);
    // the certificate verifies against pebble's root for its own names
    const own = await served(securePort, 'www.default.test', pebble.rootPem);
    expect(own.authorized).toBe(true);
    expect(own.cert.serialNumber).toBe(serial);
    const none = await served(securePort, undefined, pebble.rootPem);
    expect(none.cert.serialNumber).toBe(serial);
    // the other certificates are still served for their names
    const site = await served(securePort, 'site.test', pebble.rootPem);
    expect(site.cert.subjectAltName).toBe('DNS:site.test');
    expect(site.cert.publicKey.asymmetricKeyType).toBe('ec');
    // stored under the resolver, as Traefik's acme.json
    const stored = JSON.parse(readFileSync(storage, 'utf8')) as Record<
      string,
      { Certificates: { domain: { main: string; sans?: string[] } }[] }
    >;
    expect(stored.le!.Certificates.map((c) => c.domain)).toEqual([
      { main: 'default.test', sans: ['www.default.test'] },
    ]);
    expect((await p.stop('SIGTERM')).code).toBe(0);
  }, 90_000);

  it('serves the stored default certificate after a restart, without a new order', async () => {
    const p = start();
    const { cert } = await expectDefaultFromPebble(p, 30_000);
    expect(cert.serialNumber).toBe(serial);
    expect((await served(securePort, undefined, pebble.rootPem)).cert.serialNumber).toBe(serial);
    expect(p.lines.filter((l) => l.msg === 'ordering certificate')).toHaveLength(0);
    expect((await p.stop('SIGTERM')).code).toBe(0);
  }, 60_000);
});
