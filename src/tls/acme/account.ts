/*
 * The resolver's ACME account (RFC 8555 section 7.3): loaded from storage when
 * it belongs to the configured CA, else registered once under the storage
 * lock, so replicas sharing a storage share one account. An existing key (for
 * example from Traefik's acme.json) is kept: the CA returns its account.
 */
import * as acme from 'acme-client';
import type { CertificateStorage, KeyType, StoredAccount } from '../storage/types.js';
import type { AcmeLogger } from './errors.js';
import { createKey } from './order.js';
import type { StorageLocks } from './storage-lock.js';

export interface AcmeAccountOptions {
  resolver: string;
  email: string;
  caServer: string;
  storage: CertificateStorage;
  locks: StorageLocks;
  accountKeyType: KeyType;
  /** the certificates' key type, kept in the account record (Traefik's acme.json layout) */
  keyType: KeyType;
  eab?: { kid: string; hmacEncoded: string } | undefined;
  /** acme-client's polling of pending objects */
  polling: { backoffMin: number; backoffMax: number; backoffAttempts: number };
  log: AcmeLogger;
}

export class AcmeAccount {
  private clientPromise: Promise<acme.Client> | undefined;
  /** the CA no longer knows the stored account: register again */
  private forceRegister = false;

  constructor(private readonly opts: AcmeAccountOptions) {}

  /** A client for the account, registering it first when needed; a failure is not cached. */
  client(): Promise<acme.Client> {
    this.clientPromise ??= (async () => {
      const account = this.usable(await this.opts.storage.loadAccount(this.opts.resolver));
      if (account) return this.newClient(account);
      return this.register();
    })();
    const p = this.clientPromise;
    p.catch(() => {
      if (this.clientPromise === p) this.clientPromise = undefined;
    });
    return p;
  }

  /** The CA said the account does not exist: the next order registers a new one. */
  forget(): void {
    this.forceRegister = true;
    this.clientPromise = undefined;
  }

  /** a stored account of the configured CA, unless the CA said it is gone */
  private usable(a: StoredAccount | undefined): StoredAccount | undefined {
    return a && this.sameCa(a.accountUrl) && !this.forceRegister ? a : undefined;
  }

  private sameCa(accountUrl: string | undefined): boolean {
    try {
      return !!accountUrl && new URL(accountUrl).origin === new URL(this.opts.caServer).origin;
    } catch {
      return false;
    }
  }

  private newClient(account: StoredAccount): acme.Client {
    const { caServer, eab, polling } = this.opts;
    return new acme.Client({
      directoryUrl: caServer,
      accountKey: account.privateKeyPem,
      ...(account.accountUrl ? { accountUrl: account.accountUrl } : {}),
      ...(eab ? { externalAccountBinding: { kid: eab.kid, hmacKey: eab.hmacEncoded } } : {}),
      ...polling,
    });
  }

  private async register(): Promise<acme.Client> {
    const { resolver, storage, email, log } = this.opts;
    const lock = await this.opts.locks.wait(`${resolver}:account`, async () => {
      return this.usable(await storage.loadAccount(resolver));
    });
    if (!lock.acquired) return this.newClient(lock.value);
    try {
      const prev = await storage.loadAccount(resolver);
      const current = this.usable(prev);
      if (current) return this.newClient(current);
      // an existing key (e.g. from Traefik's acme.json) is kept: the CA returns its account
      const privateKeyPem = prev?.privateKeyPem ?? (await createKey(this.opts.accountKeyType));
      const client = this.newClient({ email, privateKeyPem });
      await client.createAccount({ termsOfServiceAgreed: true, contact: [`mailto:${email}`] });
      const account: StoredAccount = {
        email,
        privateKeyPem,
        accountUrl: client.getAccountUrl(),
        keyType: this.opts.keyType,
      };
      await storage.saveAccount(resolver, account);
      this.forceRegister = false;
      log.info({ resolver, account: account.accountUrl }, 'ACME account registered');
      return client;
    } finally {
      await lock.release();
    }
  }
}
