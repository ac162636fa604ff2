/*
 * ACME storages: FileStorage against a Traefik acme.json built here (read
 * unchanged, written back atomically with mode 0600) and RedisStorage against
 * a real redis-server (lock semantics, pub/sub).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStorage } from '../../src/tls/storage/file.js';
import { RedisStorage } from '../../src/tls/storage/redis.js';
import {
  storedCertificateFrom,
  type StorageEvent,
  type StoredCertificate,
} from '../../src/tls/storage/types.js';
import { eventually } from '../helpers/eventually.js';
import { skipRedis, startRedis, type RedisServer } from '../helpers/redis.js';
import { useCleanups } from '../helpers/scope.js';

/** a self-signed certificate for `name` (no external tools) */
async function selfSigned(name: string): Promise<{ certPem: string; keyPem: string }> {
  const key = await acme.crypto.createPrivateEcdsaKey();
  const authz = { identifier: { type: 'dns', value: name } } as acme.Authorization;
  const [keyPem, certPem] = await acme.crypto.createAlpnCertificate(authz, 'token.thumb', key);
  return { certPem: certPem.toString(), keyPem: keyPem.toString() };
}

async function stored(main: string, sans: string[] = []): Promise<StoredCertificate> {
  const { certPem, keyPem } = await selfSigned(main);
  return storedCertificateFrom({ main, sans }, certPem, keyPem);
}

const publicPem = (keyPem: string): string =>
  createPublicKey(createPrivateKey(keyPem)).export({ format: 'pem', type: 'spki' }).toString();

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('FileStorage (acme.json)', () => {
  let dir: string;
  let file: string;
  let rsaPem: string;
  let certs: { certPem: string; keyPem: string }[];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'portico-acme-storage-'));
    certs = await Promise.all(['app.example.com', 'api.example.com'].map(selfSigned));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** what Traefik v3 writes: PKCS#1 DER account key, base64 PEM certificates */
  function writeTraefikFixture(name: string): string {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    rsaPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const data = {
      letsencrypt: {
        Account: {
          Email: 'admin@example.com',
          Registration: {
            body: { status: 'valid', contact: ['mailto:admin@example.com'] },
            uri: 'https://acme-v02.api.letsencrypt.org/acme/acct/123456',
          },
          PrivateKey: privateKey.export({ format: 'der', type: 'pkcs1' }).toString('base64'),
          KeyType: '4096',
        },
        Certificates: [
          {
            domain: { main: 'app.example.com', sans: ['www.example.com'] },
            certificate: b64(certs[0]!.certPem),
            key: b64(certs[0]!.keyPem),
            Store: 'default',
          },
          {
            domain: { main: 'api.example.com' },
            certificate: b64(certs[1]!.certPem),
            key: b64(certs[1]!.keyPem),
            Store: 'default',
          },
          // Traefik drops empty entries when it loads the file
          { domain: { main: 'empty.example.com' }, certificate: '', key: '', Store: 'default' },
        ],
      },
      other: { Account: null, Certificates: null, Custom: 'kept' },
    };
    file = path.join(dir, name);
    writeFileSync(file, JSON.stringify(data, null, 2), { mode: 0o600 });
    return file;
  }

  it('reads an existing Traefik acme.json unchanged', async () => {
    const s = new FileStorage(writeTraefikFixture('traefik.json'));
    const before = readFileSync(file, 'utf8');

    const account = await s.loadAccount('letsencrypt');
    expect(account).toMatchObject({
      email: 'admin@example.com',
      accountUrl: 'https://acme-v02.api.letsencrypt.org/acme/acct/123456',
      keyType: 'RSA4096',
    });
    expect(publicPem(account!.privateKeyPem)).toBe(publicPem(rsaPem));

    const list = await s.list('letsencrypt');
    expect(list.map((c) => c.domains)).toEqual([
      { main: 'app.example.com', sans: ['www.example.com'] },
      { main: 'api.example.com', sans: [] },
    ]);
    const app = await s.loadCertificate('letsencrypt', 'APP.example.com');
    expect(app?.certificatePem).toBe(certs[0]!.certPem);
    expect(app?.keyPem).toBe(certs[0]!.keyPem);
    expect(app?.notAfter).toBeInstanceOf(Date);
    expect(await s.loadCertificate('letsencrypt', 'empty.example.com')).toBeUndefined();
    expect(await s.loadCertificate('letsencrypt', 'nope.example.com')).toBeUndefined();
    expect(await s.loadAccount('other')).toBeUndefined();
    expect(await s.list('missing')).toEqual([]);

    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('writes atomically with mode 0600 and keeps what it does not own', async () => {
    const s = new FileStorage(writeTraefikFixture('write.json'));
    chmodSync(file, 0o600);
    const inode = statSync(file).ino;

    const renewed = await stored('app.example.com', ['www.example.com']);
    const extra = await Promise.all(
      Array.from({ length: 8 }, (_, i) => stored(`n${i}.example.com`)),
    );
    // concurrent writers in one process: none is lost
    await Promise.all([
      s.saveCertificate('letsencrypt', renewed),
      ...extra.map((c) => s.saveCertificate('letsencrypt', c)),
    ]);

    const st = statSync(file);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.ino).not.toBe(inode); // replaced by rename, never rewritten in place
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, any>;
    expect(json.other).toEqual({ Account: null, Certificates: null, Custom: 'kept' });
    expect(json.letsencrypt.Account.KeyType).toBe('4096');
    const entries = json.letsencrypt.Certificates as any[];
    expect(entries.map((e) => e.domain.main)).toEqual([
      'app.example.com',
      'api.example.com',
      'empty.example.com',
      ...extra.map((c) => c.domains.main),
    ]);
    expect(entries[0]).toEqual({
      domain: { main: 'app.example.com', sans: ['www.example.com'] },
      certificate: b64(renewed.certificatePem),
      key: b64(renewed.keyPem),
      Store: 'default',
    });
    expect((await s.loadCertificate('letsencrypt', 'app.example.com'))?.serialNumber).toBe(
      renewed.serialNumber,
    );
  });

  it('creates a new file with mode 0600 and round-trips an account (EC key, PKCS#1 for RSA)', async () => {
    const s = new FileStorage(path.join(dir, 'new', '..', 'fresh.json'));
    const ec = (await acme.crypto.createPrivateEcdsaKey()).toString();
    await s.saveAccount('le', {
      email: 'ops@example.com',
      privateKeyPem: ec,
      accountUrl: 'https://ca.test/acct/1',
      keyType: 'EC256',
    });
    expect(statSync(s.path).mode & 0o777).toBe(0o600);
    const back = await s.loadAccount('le');
    expect(back).toMatchObject({
      email: 'ops@example.com',
      accountUrl: 'https://ca.test/acct/1',
      keyType: 'EC256',
    });
    expect(publicPem(back!.privateKeyPem)).toBe(publicPem(ec));
    const raw = JSON.parse(readFileSync(s.path, 'utf8')) as Record<string, any>;
    expect(raw.le.Account.KeyType).toBe('P256');
    expect(raw.le.Account.Registration.uri).toBe('https://ca.test/acct/1');

    // an RSA key is written as PKCS#1 DER, which Traefik reads
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await s.saveAccount('le', {
      email: 'ops@example.com',
      privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    });
    const der = Buffer.from(
      (JSON.parse(readFileSync(s.path, 'utf8')) as Record<string, any>).le.Account.PrivateKey,
      'base64',
    );
    expect(() => createPrivateKey({ key: der, format: 'der', type: 'pkcs1' })).not.toThrow();
  });

  it('refuses a file readable by others, as Traefik does', async () => {
    const f = path.join(dir, 'open.json');
    writeFileSync(f, '{}', { mode: 0o644 });
    chmodSync(f, 0o644);
    await expect(new FileStorage(f).list('le')).rejects.toMatchObject({
      code: 'PORTICO_ERR_ACME_STORAGE',
      message: expect.stringContaining('too open, please use 600'),
    });
  });

  it('treats a missing or empty file as empty, and reports bad JSON', async () => {
    expect(await new FileStorage(path.join(dir, 'absent.json')).list('le')).toEqual([]);
    const empty = path.join(dir, 'empty.json');
    writeFileSync(empty, '', { mode: 0o600 });
    expect(await new FileStorage(empty).loadAccount('le')).toBeUndefined();
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{ nope', { mode: 0o600 });
    await expect(new FileStorage(bad).list('le')).rejects.toMatchObject({
      code: 'PORTICO_ERR_ACME_STORAGE',
    });
  });

  it('locks in process: one holder at a time, released or expired', async () => {
    const s = new FileStorage(path.join(dir, 'lock.json'));
    const a = await s.lock('le:app.test', 60_000);
    expect(a).toBeDefined();
    expect(await s.lock('le:app.test', 60_000)).toBeUndefined();
    expect(await s.lock('le:other.test', 60_000)).toBeDefined();
    await a!.release();
    const b = await s.lock('le:app.test', 20);
    expect(b).toBeDefined();
    await new Promise((r) => setTimeout(r, 30));
    const c = await s.lock('le:app.test', 60_000);
    expect(c).toBeDefined();
    await b!.release(); // stale: must not free c's lock
    expect(await s.lock('le:app.test', 60_000)).toBeUndefined();
  });
});

describe.skipIf(skipRedis())('RedisStorage', () => {
  const scope = useCleanups();
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());

  let seq = 0;
  const storage = (prefix = `unit${++seq}`): RedisStorage => {
    const s = new RedisStorage({ url: redis.url, prefix });
    scope.defer(() => s.close());
    return s;
  };

  it('lock: SET NX PX, token-checked release, expiry', async () => {
    const [a, b] = [storage('locks'), storage('locks')];
    const l1 = await a.lock('le:app.test', 60_000);
    expect(l1).toBeDefined();
    expect(await b.lock('le:app.test', 60_000)).toBeUndefined();
    expect(await a.lock('le:app.test', 60_000)).toBeUndefined(); // not re-entrant either
    await l1!.release();
    const l2 = await b.lock('le:app.test', 50);
    expect(l2).toBeDefined();
    await new Promise((r) => setTimeout(r, 80));
    const l3 = await a.lock('le:app.test', 60_000); // l2 expired
    expect(l3).toBeDefined();
    await l2!.release(); // stale holder: must not delete l3's lock
    expect(await b.lock('le:app.test', 60_000)).toBeUndefined();
    await l3!.release();
    expect(await b.lock('le:app.test', 60_000)).toBeDefined();
  });

  it('stores accounts and certificates under the prefix', async () => {
    const s = storage('portico:acme:t');
    const ec = (await acme.crypto.createPrivateEcdsaKey()).toString();
    await s.saveAccount('le', { email: 'ops@example.com', privateKeyPem: ec, accountUrl: 'u' });
    expect(await s.loadAccount('le')).toEqual({
      email: 'ops@example.com',
      privateKeyPem: ec,
      accountUrl: 'u',
    });
    const c1 = await stored('b.example.com', ['www.b.example.com']);
    const c2 = await stored('a.example.com');
    await s.saveCertificate('le', c1);
    await s.saveCertificate('le', c2);
    expect((await s.list('le')).map((c) => c.domains.main)).toEqual([
      'a.example.com',
      'b.example.com',
    ]);
    expect(await s.loadCertificate('le', 'B.example.com')).toEqual(c1);
    expect(await s.loadCertificate('other', 'b.example.com')).toBeUndefined();
    expect(await s.list('other')).toEqual([]);
  });

  it('watch: other instances see changes, not their own', async () => {
    const [a, b] = [storage('watch'), storage('watch')];
    const seenA: StorageEvent[] = [];
    const seenB: StorageEvent[] = [];
    a.watch((e) => seenA.push(e));
    const stop = b.watch((e) => seenB.push(e));
    await Promise.all([a.watching(), b.watching()]);

    await a.saveCertificate('le', await stored('w.example.com'));
    await eventually(() =>
      expect(seenB).toContainEqual(
        expect.objectContaining({ kind: 'certificate', resolver: 'le', main: 'w.example.com' }),
      ),
    );
    expect(seenA).toEqual([]);

    stop();
    await a.publishChallenge('le', {
      type: 'http-01',
      action: 'add',
      domain: 'w.example.com',
      token: 't',
      keyAuthorization: 't.k',
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(seenB).toHaveLength(1);
  });
});
