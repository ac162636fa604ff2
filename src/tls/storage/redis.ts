/*
 * ACME storage shared by replicas through Redis (DESIGN.md, "Scale-out").
 *
 *   <prefix>:<resolver>:account        JSON StoredAccount
 *   <prefix>:<resolver>:cert:<main>    JSON { domains, certificate, key, store }
 *   <prefix>:<resolver>:certs          SET of main domains
 *   <prefix>:lock:<key>                lock token (SET NX PX, released by a token check)
 *   <prefix>:events                    pub/sub channel: certificate, account, challenge
 *
 * The lock makes one replica order a certificate while the others wait for
 * it; the channel lets every replica load a new certificate without a restart
 * and answer a challenge that another replica's order is waiting for.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  StorageError,
  normalizeDomains,
  storedCertificateFrom,
  type CertificateStorage,
  type SharedChallenge,
  type StorageEvent,
  type StorageLock,
  type StoredAccount,
  type StoredCertificate,
} from './types.js';

/** Deletes the lock only if it still holds our token (it may have expired and been taken since). */
const RELEASE_SCRIPT = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

interface RedisCertificate {
  domains: { main: string; sans: string[] };
  certificate: string;
  key: string;
  store: string;
}

export interface RedisStorageOptions {
  /** an existing client (not closed by close()), or... */
  client?: Redis;
  /** ...a redis:// URL for a client owned by this storage */
  url?: string;
  /** key prefix, default `portico:acme` */
  prefix?: string;
}

export class RedisStorage implements CertificateStorage {
  readonly prefix: string;
  /** identifies this instance's own events on the channel */
  readonly id = randomBytes(8).toString('hex');
  private readonly client: Redis;
  private readonly ownsClient: boolean;
  private subscriber: Redis | undefined;
  private readonly listeners = new Set<(e: StorageEvent) => void>();

  constructor(opts: RedisStorageOptions) {
    this.prefix = opts.prefix ?? 'portico:acme';
    if (opts.client) {
      this.client = opts.client;
      this.ownsClient = false;
    } else if (opts.url) {
      this.client = new Redis(opts.url, { maxRetriesPerRequest: 2 });
      this.client.on('error', () => undefined); // surfaced by the failing command instead
      this.ownsClient = true;
    } else {
      throw new StorageError('redis storage needs a client or a url');
    }
  }

  private key(resolver: string, ...parts: string[]): string {
    return [this.prefix, resolver, ...parts].join(':');
  }

  private get channel(): string {
    return `${this.prefix}:events`;
  }

  private async publish(event: StorageEvent): Promise<void> {
    await this.client.publish(this.channel, JSON.stringify({ ...event, origin: this.id }));
  }

  async loadAccount(resolver: string): Promise<StoredAccount | undefined> {
    const raw = await this.client.get(this.key(resolver, 'account'));
    return raw ? (JSON.parse(raw) as StoredAccount) : undefined;
  }

  async saveAccount(resolver: string, account: StoredAccount): Promise<void> {
    await this.client.set(this.key(resolver, 'account'), JSON.stringify(account));
    await this.publish({ kind: 'account', resolver });
  }

  private decode(raw: string | null): StoredCertificate | undefined {
    if (!raw) return undefined;
    const c = JSON.parse(raw) as RedisCertificate;
    return storedCertificateFrom(c.domains, c.certificate, c.key, c.store);
  }

  async loadCertificate(
    resolver: string,
    mainDomain: string,
  ): Promise<StoredCertificate | undefined> {
    return this.decode(await this.client.get(this.key(resolver, 'cert', mainDomain.toLowerCase())));
  }

  async saveCertificate(resolver: string, cert: StoredCertificate): Promise<void> {
    const domains = normalizeDomains(cert.domains);
    const value: RedisCertificate = {
      domains,
      certificate: cert.certificatePem,
      key: cert.keyPem,
      store: cert.store || 'default',
    };
    await this.client
      .multi()
      .set(this.key(resolver, 'cert', domains.main), JSON.stringify(value))
      .sadd(this.key(resolver, 'certs'), domains.main)
      .exec();
    await this.publish({ kind: 'certificate', resolver, main: domains.main });
  }

  async list(resolver: string): Promise<StoredCertificate[]> {
    const mains = (await this.client.smembers(this.key(resolver, 'certs'))).sort();
    if (mains.length === 0) return [];
    const raws = await this.client.mget(...mains.map((m) => this.key(resolver, 'cert', m)));
    const out: StoredCertificate[] = [];
    for (const raw of raws) {
      const c = this.decode(raw);
      if (c) out.push(c);
    }
    return out;
  }

  async lock(key: string, ttlMs: number): Promise<StorageLock | undefined> {
    const redisKey = `${this.prefix}:lock:${key}`;
    const token = `${this.id}:${randomBytes(8).toString('hex')}`;
    const ok = await this.client.set(redisKey, token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
    if (ok !== 'OK') return undefined;
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        await this.client.eval(RELEASE_SCRIPT, 1, redisKey, token);
      },
    };
  }

  async publishChallenge(resolver: string, challenge: SharedChallenge): Promise<void> {
    await this.publish({ kind: 'challenge', resolver, origin: this.id, ...challenge });
  }

  watch(onChange: (event: StorageEvent) => void): () => void {
    this.listeners.add(onChange);
    if (!this.subscriber) {
      const sub = this.client.duplicate();
      sub.on('error', () => undefined); // ioredis reconnects and resubscribes on its own
      sub.on('message', (_channel: string, message: string) => {
        let event: StorageEvent & { origin?: string };
        try {
          event = JSON.parse(message) as StorageEvent & { origin?: string };
        } catch {
          return;
        }
        if (event.origin === this.id) return;
        for (const l of this.listeners) l(event);
      });
      void sub.subscribe(this.channel).catch(() => undefined);
      this.subscriber = sub;
    }
    return () => {
      this.listeners.delete(onChange);
    };
  }

  /** Resolves once the watch subscription is active (events published before that are missed). */
  async watching(): Promise<void> {
    const sub = this.subscriber;
    if (!sub) return;
    await sub.subscribe(this.channel);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (sub) await sub.quit().catch(() => sub.disconnect());
    if (this.ownsClient) await this.client.quit().catch(() => this.client.disconnect());
  }
}
