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
import { skipRedis, startRedis } from '../helpers/redis.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import selfsigned from 'selfsigned';
import { FileStorage } from '../../src/tls/storage/file.js';
import { storedCertificateFrom } from '../../src/tls/storage/types.js';

const skip = skipPebble() || skipRedis();

const ALL: readonly KeyType[] = ['EC256', 'EC384', 'RSA2048', 'RSA4096', 'RSA8192'];
/** how Traefik (lego) names each key type in acme.json's Account.KeyType */
const LEGO_NAME: Record<KeyType, string> = {
  EC256: 'P256',
  EC384: 'P384',
  RSA2048: '2048',
  RSA4096: '4096',
  RSA8192: '8192',
};
/** the PEM form lego writes a certificate's key in (Traefik reads any, but writes these) */
const PEM_LABEL: Record<KeyType, string> = {
  EC256: 'EC PRIVATE KEY',
  EC384: 'EC PRIVATE KEY',
  RSA2048: 'RSA PRIVATE KEY',
  RSA4096: 'RSA PRIVATE KEY',
  RSA8192: 'RSA PRIVATE KEY',
};
const hostOf = (k: KeyType): string => `${k.toLowerCase()}.keytype.test`;
const resolverOf = (k: KeyType): string => k.toLowerCase();

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
  p: PorticoProcess,
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
  ).catch((err: unknown) => {
    // what the process said is the useful part of a failure here
    const tail = p.stdout().split('\n').slice(-40).join('\n');
    throw new Error(`${String(err)}\nportico log (tail):\n${tail}\nstderr:\n${p.stderr()}`);
  });
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
    // Traefik's Let's Encrypt guide as users copy it: no keyType, and TLS on the router only
    const args = [
      `--entryPoints.web.address=127.0.0.1:${pebble.httpPort}`,
      `--entryPoints.websecure.address=127.0.0.1:${securePort}`,
      ...resolverFlags(pebble, caFile, 'le', storage, undefined),
      `--providers.file.filename=${dynamic}`,
      '--workers=1',
    ];
    const first = start(args);
    const cert = await expectAcmeServed(securePort, host, 'RSA4096', pebble, 60_000, first);

    const stored = acmeJson(storage, 'le', host);
    expect(new X509Certificate(stored.certPem).serialNumber).toBe(cert.serialNumber);
    expect(keyTypeOf(createPrivateKey(stored.keyPem))).toBe('RSA4096');
    expect(
      new X509Certificate(stored.certPem).checkPrivateKey(createPrivateKey(stored.keyPem)),
    ).toBe(true);
    expect(stored.account.KeyType).toBe('4096');
    expect((await first.stop('SIGTERM')).code).toBe(0);

    const second = start(args);
    const again = await expectAcmeServed(securePort, host, 'RSA4096', pebble, 30_000, second);
    expect(again.serialNumber).toBe(cert.serialNumber);
    expect(second.lines.filter((l) => l.msg === 'ordering certificate')).toHaveLength(0);
    expect((await second.stop('SIGTERM')).code).toBe(0);
  }, 120_000);

  /** One router and one resolver (named after it) per key type, HTTP-01 answered on `web`. */
  const everyKeyTypeArgs = (
    kinds: readonly KeyType[],
    storage: string,
    dynamic: string,
    webPort: number,
    securePort: number,
    workers: number,
  ): string[] => [
    `--entryPoints.web.address=127.0.0.1:${webPort}`,
    `--entryPoints.websecure.address=127.0.0.1:${securePort}`,
    '--entryPoints.websecure.http.tls',
    ...kinds.flatMap((k) => resolverFlags(pebble, caFile, resolverOf(k), storage, k)),
    `--providers.file.filename=${dynamic}`,
    `--workers=${workers}`,
  ];

  const routersFor = (
    kinds: readonly KeyType[],
    extra: Record<string, { host: string; resolver: string }> = {},
  ) =>
    routersYaml(
      {
        ...Object.fromEntries(
          kinds.map((k) => [resolverOf(k), { host: hostOf(k), resolver: resolverOf(k) }]),
        ),
        ...extra,
      },
      up.url,
    );

  it('every keyType with acme.json (one file, five resolvers): obtained, stored as Traefik does, served; a due RSA4096 certificate renewed as RSA4096; all served again after a restart', async () => {
    const storage = path.join(dir, 'every-acme.json');
    const dynamic = path.join(dir, 'every.yml');
    const renewHost = 'renew.keytype.test';
    writeFileSync(
      dynamic,
      routersFor(ALL, { renew: { host: renewHost, resolver: resolverOf('RSA4096') } }),
    );
    // renew.keytype.test: stored, still valid, already within the last third of its life
    const now = Date.now();
    const seeded = await selfsigned.generate([{ name: 'commonName', value: renewHost }], {
      keyType: 'rsa',
      keySize: 4096,
      notBeforeDate: new Date(now - 2 * 3_600_000),
      notAfterDate: new Date(now + 30 * 60_000),
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: renewHost }] }],
    });
    const seededCert = storedCertificateFrom({ main: renewHost }, seeded.cert, seeded.private);
    await new FileStorage(storage).saveCertificate(resolverOf('RSA4096'), seededCert);

    const securePort = await freePort();
    const args = everyKeyTypeArgs(ALL, storage, dynamic, pebble.httpPort, securePort, 1);
    const first = start(args);
    const certs = new Map<KeyType, X509Certificate>();
    // RSA8192 keys take many seconds to make here: generous deadlines, all waited for at once
    await Promise.all(
      ALL.map(async (k) =>
        certs.set(k, await expectAcmeServed(securePort, hostOf(k), k, pebble, 180_000, first)),
      ),
    );
    const renewed = await expectAcmeServed(securePort, renewHost, 'RSA4096', pebble, 60_000, first);
    expect(renewed.serialNumber).not.toBe(seededCert.serialNumber);
    expect(
      first.lines.some((l) => l.msg === 'renewing certificate' && l.domain === renewHost),
    ).toBe(true);

    for (const k of ALL) {
      const stored = acmeJson(storage, resolverOf(k), hostOf(k));
      const x = new X509Certificate(stored.certPem);
      expect(x.serialNumber).toBe(certs.get(k)!.serialNumber);
      expect(keyTypeOf(createPrivateKey(stored.keyPem))).toBe(k);
      expect(x.checkPrivateKey(createPrivateKey(stored.keyPem))).toBe(true);
      expect(stored.keyPem).toContain(`-----BEGIN ${PEM_LABEL[k]}-----`);
      expect(stored.account.KeyType).toBe(LEGO_NAME[k]);
    }
    const storedRenewal = acmeJson(storage, resolverOf('RSA4096'), renewHost);
    expect(new X509Certificate(storedRenewal.certPem).serialNumber).toBe(renewed.serialNumber);
    expect(keyTypeOf(createPrivateKey(storedRenewal.keyPem))).toBe('RSA4096');
    expect((await first.stop('SIGTERM')).code).toBe(0);

    // a restart: everything from acme.json, nothing ordered
    const second = start(args);
    for (const k of ALL) {
      const again = await expectAcmeServed(securePort, hostOf(k), k, pebble, 30_000, second);
      expect(again.serialNumber).toBe(certs.get(k)!.serialNumber);
    }
    const renewedAgain = await expectAcmeServed(
      securePort,
      renewHost,
      'RSA4096',
      pebble,
      30_000,
      second,
    );
    expect(renewedAgain.serialNumber).toBe(renewed.serialNumber);
    expect(second.lines.filter((l) => l.msg === 'ordering certificate')).toHaveLength(0);
    expect((await second.stop('SIGTERM')).code).toBe(0);
  }, 400_000);

  it('two replicas sharing Redis, every keyType but RSA8192: one order per domain, both serve each certificate, and a restart serves them from Redis', async () => {
    const kinds = ALL.filter((k) => k !== 'RSA8192');
    const redis = await startRedis();
    try {
      const dynamic = path.join(dir, 'redis.yml');
      writeFileSync(dynamic, routersFor(kinds));
      const storage = `redis://127.0.0.1:${redis.port}`;
      const [tlsA, tlsB, webB] = [await freePort(), await freePort(), await freePort()];
      // A owns the port pebble validates on; B cannot answer a challenge itself: whichever
      // orders, Redis carries the challenge and the certificate to the other
      const a = start(everyKeyTypeArgs(kinds, storage, dynamic, pebble.httpPort, tlsA, 0));
      const b = start(everyKeyTypeArgs(kinds, storage, dynamic, webB, tlsB, 1));
      const servedBy = async (port: number, p: PorticoProcess) =>
        new Map(
          await Promise.all(
            kinds.map(
              async (k) =>
                [
                  k,
                  (await expectAcmeServed(port, hostOf(k), k, pebble, 90_000, p)).serialNumber,
                ] as const,
            ),
          ),
        );
      const [onA, onB] = await Promise.all([servedBy(tlsA, a), servedBy(tlsB, b)]);
      expect(onB).toEqual(onA);
      for (const k of kinds) {
        const orders = [...a.lines, ...b.lines].filter(
          (l) => l.msg === 'ordering certificate' && l.domain === hostOf(k),
        );
        expect(orders, k).toHaveLength(1);
      }
      expect((await a.stop('SIGTERM')).code).toBe(0);
      expect((await b.stop('SIGTERM')).code).toBe(0);

      // B alone, restarted: every certificate from Redis, nothing ordered
      const b2 = start(everyKeyTypeArgs(kinds, storage, dynamic, webB, tlsB, 1));
      expect(await servedBy(tlsB, b2)).toEqual(onA);
      expect(b2.lines.filter((l) => l.msg === 'ordering certificate')).toHaveLength(0);
      expect((await b2.stop('SIGTERM')).code).toBe(0);
    } finally {
      await redis.stop();
    }
  }, 240_000);
});
