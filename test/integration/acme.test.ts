/*
 * ACME against a real CA (pebble, see test/helpers/pebble.ts) and a real
 * redis-server. The test owns pebble's httpPort (HTTP-01) and tlsPort
 * (TLS-ALPN-01) and routes the validator's requests to the responders.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createHttp01Responder,
  createTlsAlpnResponder,
  type Http01Responder,
  type TlsAlpnResponder,
} from '../../src/tls/acme/challenges.js';
import {
  AcmeError,
  createAcmeResolver,
  type AcmeResolver,
  type AcmeResolverOptions,
} from '../../src/tls/acme/resolver.js';
import { splitPemChain } from '../../src/tls/certificate.js';
import { FileStorage } from '../../src/tls/storage/file.js';
import { RedisStorage } from '../../src/tls/storage/redis.js';
import type { StorageEvent, StoredCertificate } from '../../src/tls/storage/types.js';
import { eventually } from '../helpers/eventually.js';
import { skipPebble, startPebble, type Pebble } from '../helpers/pebble.js';
import { skipRedis, startRedis, type RedisServer } from '../helpers/redis.js';
import { useCleanups } from '../helpers/scope.js';

const skip = skipPebble() || skipRedis();

describe.skipIf(skip)('ACME with pebble', () => {
  const scope = useCleanups();
  let pebble: Pebble;
  let redis: RedisServer;
  let dir: string;
  let httpServer: http.Server;
  let tlsServer: tls.Server;

  // what pebble's validator reaches: responders per test, hosts that must fail, hits per host
  const http01: Http01Responder[] = [];
  const tlsAlpn: TlsAlpnResponder[] = [];
  const deny = new Set<string>();
  const httpHits = new Map<string, string[]>(); // host -> tokens requested
  const tlsHits = new Map<string, number>(); // servername -> handshakes

  beforeAll(async () => {
    [pebble, redis] = await Promise.all([startPebble(), startRedis()]);
    dir = mkdtempSync(path.join(os.tmpdir(), 'portico-acme-'));
    httpServer = http.createServer((req, res) => {
      const host = (req.headers.host ?? '').replace(/:\d+$/, '');
      const token = (req.url ?? '').split('/').pop() ?? '';
      httpHits.set(host, [...(httpHits.get(host) ?? []), token]);
      if (!deny.has(host) && http01.some((r) => r.handle(req, res))) return;
      res.writeHead(404).end('not found');
    });
    tlsServer = tls.createServer(
      {
        ALPNProtocols: ['acme-tls/1'],
        SNICallback: (servername, cb) => {
          tlsHits.set(servername, (tlsHits.get(servername) ?? 0) + 1);
          cb(null, tlsAlpn.map((r) => r.getCertificate(servername, ['acme-tls/1'])).find(Boolean));
        },
      },
      (socket) => socket.end(),
    );
    tlsServer.on('tlsClientError', () => undefined);
    await Promise.all([
      new Promise<void>((r) => httpServer.listen(pebble.httpPort, '127.0.0.1', r)),
      new Promise<void>((r) => tlsServer.listen(pebble.tlsPort, '127.0.0.1', r)),
    ]);
  });

  afterAll(async () => {
    await Promise.all([
      new Promise((r) => httpServer?.close(r)),
      new Promise((r) => tlsServer?.close(r)),
    ]);
    await pebble?.stop();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let seq = 0;
  const fileStorage = (): FileStorage => new FileStorage(path.join(dir, `acme-${++seq}.json`));

  const resolver = (
    o: Partial<AcmeResolverOptions> & Pick<AcmeResolverOptions, 'storage'>,
  ): AcmeResolver => {
    const r = createAcmeResolver({
      name: 'pebble',
      email: 'ops@portico.test',
      caServer: pebble.directoryUrl,
      caCertificates: [pebble.listenerCertPem],
      keyType: 'EC256',
      accountKeyType: 'EC256',
      challenge: 'http-01',
      polling: { minMs: 50, maxMs: 500, attempts: 30 },
      lockPollMs: 100,
      ...o,
    });
    scope.defer(() => r.close());
    return r;
  };

  const httpResponder = (): Http01Responder => {
    const r = createHttp01Responder();
    http01.push(r);
    scope.defer(() => void http01.splice(http01.indexOf(r), 1));
    return r;
  };

  /** chain → pebble's root, by signatures and by a real TLS handshake */
  async function expectTrusted(cert: StoredCertificate, host: string): Promise<void> {
    const [leafPem, ...intermediates] = splitPemChain(cert.certificatePem);
    const leaf = new X509Certificate(leafPem!);
    const inter = new X509Certificate(intermediates[0]!);
    const root = new X509Certificate(pebble.rootPem);
    expect(leaf.checkHost(host)).toBe(host);
    expect(leaf.verify(inter.publicKey)).toBe(true);
    expect(inter.verify(root.publicKey)).toBe(true);

    const server = tls.createServer({ key: cert.keyPem, cert: cert.certificatePem }, (s) =>
      s.end(),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const authorized = await new Promise<boolean>((resolve, reject) => {
        const s = tls.connect(
          { host: '127.0.0.1', port, servername: host, ca: pebble.rootPem },
          () => {
            resolve(s.authorized);
            s.destroy();
          },
        );
        s.on('error', reject);
      });
      expect(authorized).toBe(true);
    } finally {
      await new Promise((r) => server.close(r));
    }
  }

  it('obtains a certificate with HTTP-01 and stores it in acme.json (0600, Traefik layout)', async () => {
    const storage = fileStorage();
    const seen: StoredCertificate[] = [];
    const r = resolver({ storage, http01: httpResponder(), onCertificate: (c) => seen.push(c) });
    const cert = await r.obtain({ main: 'App-HTTP.test', sans: ['www.app-http.test'] });

    expect(cert.domains).toEqual({ main: 'app-http.test', sans: ['www.app-http.test'] });
    await expectTrusted(cert, 'app-http.test');
    await expectTrusted(cert, 'www.app-http.test');
    expect(new Set(httpHits.get('app-http.test')).size).toBe(1);
    expect(new Set(httpHits.get('www.app-http.test')).size).toBe(1);
    expect(seen.map((c) => c.serialNumber)).toEqual([cert.serialNumber]);
    expect(r.status()).toEqual([
      expect.objectContaining({ domain: 'app-http.test', failures: 0, notAfter: cert.notAfter }),
    ]);

    expect(statSync(storage.path).mode & 0o777).toBe(0o600);
    const json = JSON.parse(readFileSync(storage.path, 'utf8')) as Record<string, any>;
    expect(json.pebble.Account.Email).toBe('ops@portico.test');
    expect(json.pebble.Account.Registration.uri).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
    expect(json.pebble.Certificates).toHaveLength(1);
    expect(json.pebble.Certificates[0].domain).toEqual({
      main: 'app-http.test',
      sans: ['www.app-http.test'],
    });
    expect(json.pebble.Certificates[0].Store).toBe('default');
    expect(Buffer.from(json.pebble.Certificates[0].certificate, 'base64').toString()).toBe(
      cert.certificatePem,
    );
  });

  it('reuses a stored certificate: no new order, no challenge', async () => {
    const storage = fileStorage();
    const r = resolver({ storage, http01: httpResponder() });
    const first = await r.obtain({ main: 'reuse.test' });
    const hits = httpHits.get('reuse.test')?.length;
    expect(hits).toBeGreaterThan(0);

    const again = await r.obtain({ main: 'reuse.test' });
    // a restart: a new resolver over the same acme.json
    const restarted = resolver({ storage, http01: httpResponder() });
    const afterRestart = await restarted.obtain({ main: 'REUSE.test' });

    expect(again.serialNumber).toBe(first.serialNumber);
    expect(afterRestart.serialNumber).toBe(first.serialNumber);
    expect(httpHits.get('reuse.test')?.length).toBe(hits);
  });

  it('obtains a certificate with TLS-ALPN-01', async () => {
    const responder = createTlsAlpnResponder();
    tlsAlpn.push(responder);
    scope.defer(() => void tlsAlpn.splice(tlsAlpn.indexOf(responder), 1));
    const r = resolver({ storage: fileStorage(), challenge: 'tls-alpn-01', tlsAlpn: responder });

    const cert = await r.obtain({ main: 'app-alpn.test' });

    await expectTrusted(cert, 'app-alpn.test');
    expect(tlsHits.get('app-alpn.test')).toBeGreaterThan(0);
    expect(httpHits.has('app-alpn.test')).toBe(false);
    expect(responder.size).toBe(0); // the challenge certificate is withdrawn afterwards
  });

  it('renews a certificate that is due (renewDue: new serial, later notAfter)', async () => {
    const storage = fileStorage();
    const first = await resolver({ storage, http01: httpResponder() }).obtain({
      main: 'renew.test',
    });
    // notAfter has a one-second resolution
    await new Promise((r) => setTimeout(r, 1100));

    const renewed: StoredCertificate[] = [];
    const r = resolver({
      storage,
      http01: httpResponder(),
      renewBeforeMs: 100 * 365 * 86_400_000, // everything is due
      onCertificate: (c) => renewed.push(c),
    });
    await r.renewDue();

    const stored = await storage.loadCertificate('pebble', 'renew.test');
    expect(renewed).toHaveLength(1);
    expect(stored!.serialNumber).toBe(renewed[0]!.serialNumber);
    expect(stored!.serialNumber).not.toBe(first.serialNumber);
    expect(stored!.notAfter.getTime()).toBeGreaterThan(first.notAfter.getTime());
    await expectTrusted(stored!, 'renew.test');
  });

  it('records why a domain fails, backs off, and still serves the other domains', async () => {
    deny.add('broken.test');
    scope.defer(() => void deny.delete('broken.test'));
    const r = resolver({ storage: fileStorage(), http01: httpResponder(), retryMinMs: 60_000 });

    const [bad, good] = await Promise.allSettled([
      r.obtain({ main: 'broken.test' }),
      r.obtain({ main: 'fine.test' }),
    ]);

    expect(bad.status).toBe('rejected');
    expect((bad as PromiseRejectedResult).reason).toBeInstanceOf(AcmeError);
    expect(good.status).toBe('fulfilled');
    await expectTrusted((good as PromiseFulfilledResult<StoredCertificate>).value, 'fine.test');

    const status = r.status();
    const broken = status.find((s) => s.domain === 'broken.test')!;
    expect(broken.lastError).toMatch(/404/);
    expect(broken.failures).toBe(1);
    expect(broken.nextAttempt!.getTime()).toBeGreaterThan(Date.now() + 50_000);
    expect(status.find((s) => s.domain === 'fine.test')).toMatchObject({ failures: 0 });
    expect(status.find((s) => s.domain === 'fine.test')!.lastError).toBeUndefined();

    // within the backoff the CA is not asked again
    const hits = httpHits.get('broken.test')?.length;
    await expect(r.obtain({ main: 'broken.test' })).rejects.toMatchObject({
      code: 'PORTICO_ERR_ACME_BACKOFF',
    });
    expect(httpHits.get('broken.test')?.length).toBe(hits);
  });

  describe('replicas sharing Redis', () => {
    const replicas = async (
      prefix: string,
    ): Promise<{
      storages: [RedisStorage, RedisStorage];
      responders: [Http01Responder, Http01Responder];
      resolvers: [AcmeResolver, AcmeResolver];
      events: [StorageEvent[], StorageEvent[]];
      announced: [StoredCertificate[], StoredCertificate[]];
    }> => {
      const storages = [0, 1].map(() => {
        const s = new RedisStorage({ url: redis.url, prefix });
        scope.defer(() => s.close());
        return s;
      }) as [RedisStorage, RedisStorage];
      const events: [StorageEvent[], StorageEvent[]] = [[], []];
      storages.forEach((s, i) => s.watch((e) => events[i]!.push(e)));
      const responders: [Http01Responder, Http01Responder] = [
        createHttp01Responder(),
        createHttp01Responder(),
      ];
      const announced: [StoredCertificate[], StoredCertificate[]] = [[], []];
      const resolvers = storages.map((storage, i) =>
        resolver({
          storage,
          http01: responders[i]!,
          challengeDelayMs: 150,
          onCertificate: (c) => announced[i]!.push(c),
        }),
      ) as [AcmeResolver, AcmeResolver];
      await Promise.all(storages.map((s) => s.watching()));
      return { storages, responders, resolvers, events, announced };
    };

    it('any replica answers the challenge of another replica’s order', async () => {
      const { responders, resolvers, events, announced } = await replicas('t1');
      // the validator only reaches replica 1
      http01.push(responders[1]);
      scope.defer(() => void http01.splice(http01.indexOf(responders[1]), 1));

      const cert = await resolvers[0].obtain({ main: 'shared.test' });

      await expectTrusted(cert, 'shared.test');
      // replica 1 learns about the new certificate without asking
      await eventually(() => {
        expect(events[1]).toContainEqual(
          expect.objectContaining({ kind: 'certificate', resolver: 'pebble', main: 'shared.test' }),
        );
        expect(announced[1].map((c) => c.serialNumber)).toEqual([cert.serialNumber]);
      });
      expect(responders[1].size).toBe(0);
    });

    it('concurrent obtain() on two replicas places exactly one order', async () => {
      const { responders, resolvers, events } = await replicas('t2');
      http01.push(...responders);
      scope.defer(() => void http01.splice(http01.indexOf(responders[0]), 2));

      const [a, b] = await Promise.all([
        resolvers[0].obtain({ main: 'race.test' }),
        resolvers[1].obtain({ main: 'race.test' }),
      ]);

      expect(a.serialNumber).toBe(b.serialNumber);
      expect(a.certificatePem).toBe(b.certificatePem);
      expect(new Set(httpHits.get('race.test')).size).toBe(1); // one challenge, one order
      // the replica that did not order sees the certificate appear through watch()
      await eventually(() => {
        const seen = events.map(
          (list) => list.filter((e) => e.kind === 'certificate' && e.main === 'race.test').length,
        );
        expect(seen.sort()).toEqual([0, 1]);
      });
      // and a third obtain anywhere is served from storage
      const c = await resolvers[1].obtain({ main: 'race.test' });
      expect(c.serialNumber).toBe(a.serialNumber);
      expect(new Set(httpHits.get('race.test')).size).toBe(1);
    });
  });
});
