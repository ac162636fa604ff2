/*
 * acme.json, in Traefik's layout, so an existing Traefik file is read as is
 * and a file written here stays readable by Traefik:
 *
 *   { "<resolver>": { "Account": { "Email", "Registration": { "body", "uri" },
 *                                  "PrivateKey": "<base64 DER>", "KeyType" },
 *                     "Certificates": [ { "domain": { "main", "sans" },
 *                                         "certificate": "<base64 PEM>",
 *                                         "key": "<base64 PEM>", "Store": "default" } ] } }
 *
 * Every write replaces the file atomically (temp file in the same directory,
 * fsync, rename) with mode 0600, and keeps resolvers and fields it does not
 * know. Like Traefik, a file readable by group or others is refused. The lock
 * only excludes callers in this process: a file cannot be shared by replicas.
 */
import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  StorageError,
  normalizeDomains,
  storedCertificateFrom,
  type CertificateStorage,
  type KeyType,
  type StorageLock,
  type StoredAccount,
  type StoredCertificate,
} from './types.js';

interface TraefikCertificate {
  domain?: { main?: string; sans?: string[] | null };
  certificate?: string;
  key?: string;
  Store?: string;
  [other: string]: unknown;
}

interface TraefikResolverData {
  Account?: {
    Email?: string;
    Registration?: { body?: Record<string, unknown>; uri?: string } | null;
    PrivateKey?: string;
    KeyType?: string;
    [other: string]: unknown;
  } | null;
  Certificates?: TraefikCertificate[] | null;
  [other: string]: unknown;
}

type AcmeJson = Record<string, TraefikResolverData>;

/** Traefik (lego certcrypto) key type names as written in acme.json. */
const KEY_TYPE_TO_FILE: Record<KeyType, string> = {
  EC256: 'P256',
  EC384: 'P384',
  RSA2048: '2048',
  RSA4096: '4096',
  RSA8192: '8192',
};

function keyTypeFromFile(v: string | undefined): KeyType | undefined {
  return (Object.keys(KEY_TYPE_TO_FILE) as KeyType[]).find((k) => KEY_TYPE_TO_FILE[k] === v);
}

/** Traefik stores the account key as DER: PKCS#1 for its RSA keys; SEC1 is used for EC keys. */
function keyToDer(pem: string): Buffer {
  const key = createPrivateKey(pem);
  const type =
    key.asymmetricKeyType === 'rsa' ? 'pkcs1' : key.asymmetricKeyType === 'ec' ? 'sec1' : 'pkcs8';
  return key.export({ format: 'der', type });
}

function keyFromDer(der: Buffer): string {
  let key: KeyObject | undefined;
  for (const type of ['pkcs1', 'sec1', 'pkcs8'] as const) {
    try {
      key = createPrivateKey({ key: der, format: 'der', type });
      break;
    } catch {
      // try the next encoding
    }
  }
  if (!key) throw new StorageError('account PrivateKey is not a DER private key');
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

function unb64(s: string | undefined): string {
  return Buffer.from(s ?? '', 'base64').toString('utf8');
}

export interface FileStorageOptions {
  /** refuse a file readable by group/others, as Traefik does (default true) */
  checkPermissions?: boolean;
}

export class FileStorage implements CertificateStorage {
  readonly path: string;
  private readonly checkPermissions: boolean;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly locks = new Map<string, { token: string; expires: number }>();

  constructor(filePath: string, opts: FileStorageOptions = {}) {
    this.path = path.resolve(filePath);
    this.checkPermissions = opts.checkPermissions ?? true;
  }

  private async read(): Promise<AcmeJson> {
    let text: string;
    try {
      if (this.checkPermissions && process.platform !== 'win32') {
        const st = await stat(this.path);
        if ((st.mode & 0o077) !== 0)
          throw new StorageError(
            `permissions ${(st.mode & 0o777).toString(8)} for ${this.path} are too open, please use 600`,
          );
      }
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      if (err instanceof StorageError) throw err;
      throw new StorageError(`read ${this.path}: ${String(err)}`, { cause: err });
    }
    if (text.trim() === '') return {};
    try {
      const data = JSON.parse(text) as unknown;
      if (data === null || typeof data !== 'object' || Array.isArray(data))
        throw new Error('top level is not an object');
      return data as AcmeJson;
    } catch (err) {
      throw new StorageError(`parse ${this.path}: ${String(err)}`, { cause: err });
    }
  }

  private async write(data: AcmeJson): Promise<void> {
    const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(JSON.stringify(data, null, 2) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, this.path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw new StorageError(`write ${this.path}: ${String(err)}`, { cause: err });
    }
  }

  /** Read-modify-write, one at a time in this process. */
  private update(fn: (data: AcmeJson) => void): Promise<void> {
    const next = this.queue.then(async () => {
      const data = await this.read();
      fn(data);
      await this.write(data);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  async loadAccount(resolver: string): Promise<StoredAccount | undefined> {
    const acc = (await this.read())[resolver]?.Account;
    if (!acc?.PrivateKey) return undefined;
    return {
      email: acc.Email ?? '',
      privateKeyPem: keyFromDer(Buffer.from(acc.PrivateKey, 'base64')),
      accountUrl: acc.Registration?.uri || undefined,
      keyType: keyTypeFromFile(acc.KeyType),
    };
  }

  saveAccount(resolver: string, account: StoredAccount): Promise<void> {
    return this.update((data) => {
      const entry = (data[resolver] ??= {});
      const prev = entry.Account ?? {};
      const sameAccount = prev.Registration?.uri === account.accountUrl;
      entry.Account = {
        ...prev,
        Email: account.email,
        Registration: account.accountUrl
          ? {
              body:
                sameAccount && prev.Registration?.body
                  ? prev.Registration.body
                  : { status: 'valid', contact: [`mailto:${account.email}`] },
              uri: account.accountUrl,
            }
          : null,
        PrivateKey: keyToDer(account.privateKeyPem).toString('base64'),
        KeyType: account.keyType ? KEY_TYPE_TO_FILE[account.keyType] : (prev.KeyType ?? ''),
      };
      entry.Certificates ??= null;
    });
  }

  private static decode(c: TraefikCertificate): StoredCertificate | undefined {
    // Traefik drops entries without a certificate or key when it loads the file
    if (!c.certificate || !c.key || !c.domain?.main) return undefined;
    return storedCertificateFrom(
      normalizeDomains({ main: c.domain.main, sans: c.domain.sans }),
      unb64(c.certificate),
      unb64(c.key),
      c.Store ?? 'default',
    );
  }

  async loadCertificate(
    resolver: string,
    mainDomain: string,
  ): Promise<StoredCertificate | undefined> {
    const main = mainDomain.toLowerCase();
    const list = (await this.read())[resolver]?.Certificates ?? [];
    const found = list.find((c) => c.domain?.main?.toLowerCase() === main);
    return found ? FileStorage.decode(found) : undefined;
  }

  saveCertificate(resolver: string, cert: StoredCertificate): Promise<void> {
    return this.update((data) => {
      const entry = (data[resolver] ??= { Account: null });
      const list = entry.Certificates ?? [];
      const main = cert.domains.main.toLowerCase();
      const i = list.findIndex((c) => c.domain?.main?.toLowerCase() === main);
      const record: TraefikCertificate = {
        ...(i >= 0 ? list[i] : {}),
        domain: {
          main: cert.domains.main,
          ...(cert.domains.sans.length ? { sans: cert.domains.sans } : {}),
        },
        certificate: b64(cert.certificatePem),
        key: b64(cert.keyPem),
        Store: cert.store || 'default',
      };
      if (i >= 0) list[i] = record;
      else list.push(record);
      entry.Certificates = list;
    });
  }

  async list(resolver: string): Promise<StoredCertificate[]> {
    const out: StoredCertificate[] = [];
    for (const c of (await this.read())[resolver]?.Certificates ?? []) {
      const s = FileStorage.decode(c);
      if (s) out.push(s);
    }
    return out;
  }

  async lock(key: string, ttlMs: number): Promise<StorageLock | undefined> {
    const now = Date.now();
    const held = this.locks.get(key);
    if (held && held.expires > now) return undefined;
    const token = randomBytes(8).toString('hex');
    this.locks.set(key, { token, expires: now + ttlMs });
    return {
      release: async () => {
        if (this.locks.get(key)?.token === token) this.locks.delete(key);
      },
    };
  }
}
