/*
 * An ACME certificate resolver (Traefik's certificatesResolvers.<name>.acme):
 * one account per resolver, one certificate per main domain, kept in a
 * CertificateStorage and renewed when a third of its lifetime is left.
 *
 * Ordering is guarded by the storage lock, so with a shared storage (Redis)
 * one replica orders while the others wait for its result. A domain that
 * fails is retried with a capped exponential backoff, and its error is data
 * in status(); it never blocks the other domains (Traefik records router
 * errors the same way and moves on).
 *
 * This file decides when to order. The pieces it drives: the account
 * (account.ts), one order and its challenges (order.ts, acme-client does the
 * RFC 8555 protocol), the storage lock (storage-lock.ts), the CA connection
 * (ca-server.ts) and the renewal rules (renewal.ts).
 */
import {
  normalizeDomains,
  type CertificateDomains,
  type CertificateStorage,
  type KeyType,
  type SharedChallenge,
  type StorageEvent,
  type StoredCertificate,
} from '../storage/types.js';
import type { DnsChallengeConfig } from '../../config/static-types.js';
import {
  createDns01Solver,
  type Dns01Solver,
  type Http01Responder,
  type TlsAlpnResponder,
} from './challenges.js';
import type { Env } from './dns/registry.js';
import { AcmeAccount } from './account.js';
import { describeCaError, registerOrigin } from './ca-server.js';
import { AcmeError, closedError, errorMessage, silentLogger, type AcmeLogger } from './errors.js';
import { applyChallenge, orderCertificate, type AcmeChallengeType } from './order.js';
import { backoffMs, nextCheckMs, RenewalPolicy } from './renewal.js';
import { StorageLocks } from './storage-lock.js';

export type { KeyType } from '../storage/types.js';
export type { AcmeChallengeType } from './order.js';
export { AcmeError, type AcmeLogger } from './errors.js';

export const LETS_ENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';

export interface AcmeResolverOptions {
  /** the resolver name (certificatesResolvers.<name>) */
  name: string;
  email: string;
  /** directory URL; default Let's Encrypt production */
  caServer?: string;
  storage: CertificateStorage;
  /** certificate key type; Traefik's default is RSA4096 */
  keyType?: KeyType;
  /** account key type; default RSA4096, the only kind Traefik itself can read back from acme.json */
  accountKeyType?: KeyType;
  challenge: AcmeChallengeType;
  http01?: Http01Responder;
  tlsAlpn?: TlsAlpnResponder;
  /** DNS-01 (Traefik: dnsChallenge); its provider reads lego's variables from dnsEnv (default process.env) */
  dnsChallenge?: DnsChallengeConfig;
  dnsEnv?: Env;
  /** PEM certificates trusted for the CA server's HTTPS endpoint (Traefik: caCertificates) */
  caCertificates?: string[];
  /** also trust the system roots when caCertificates is set (Traefik: caSystemCertPool) */
  caSystemCertPool?: boolean;
  /** external account binding (Traefik: eab.kid, eab.hmacEncoded) */
  eab?: { kid: string; hmacEncoded: string };
  /** preferred chain by issuer CN (Traefik: preferredChain) */
  preferredChain?: string;
  /** renew when less than this is left; default a third of the certificate's lifetime */
  renewBeforeMs?: number;
  /** how often start() checks for renewals; default 24 h */
  checkIntervalMs?: number;
  /** backoff after a failure: first wait and cap; default 1 min doubling up to 1 h */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** how long one order may hold the storage lock; default 5 min */
  lockTtlMs?: number;
  /** how often a waiting replica looks for the lock holder's result; default 1 s */
  lockPollMs?: number;
  /**
   * wait between publishing a challenge and asking the CA to validate it
   * (Traefik: httpChallenge.delay / tlsChallenge.delay); default 0, or 500 ms
   * when the storage shares challenges with other replicas
   */
  challengeDelayMs?: number;
  /** how acme-client polls pending objects; default 1 s doubling to 10 s, 30 attempts */
  polling?: { minMs?: number; maxMs?: number; attempts?: number };
  /** per-request timeout towards the CA (Traefik: clientTimeout); default 2 min */
  clientTimeoutMs?: number;
  logger?: AcmeLogger;
  /** a certificate was issued here, issued by another replica, or found in storage at start() */
  onCertificate?: (cert: StoredCertificate) => void;
  /** the clock (tests) */
  now?: () => number;
}

export interface DomainStatus {
  domain: string;
  sans: string[];
  notAfter?: Date;
  serialNumber?: string;
  lastError?: string;
  lastErrorAt?: Date;
  failures: number;
  nextAttempt?: Date;
}

export interface AcmeResolver {
  readonly name: string;
  /** A valid certificate for `domains`: the stored one unless missing or due, else a new order. */
  obtain(domains: { main: string; sans?: string[] }): Promise<StoredCertificate>;
  /** Renews every stored certificate that is due; failures are recorded, not thrown. */
  renewDue(): Promise<void>;
  /**
   * Announces stored certificates, then (once `challengesReady` resolves) renews
   * what is due, then checks every checkIntervalMs.
   */
  start(challengesReady?: Promise<void>): Promise<void>;
  status(): DomainStatus[];
  close(): Promise<void>;
}

/** What the resolver knows about one main domain. */
interface DomainState {
  domains: CertificateDomains;
  cert: StoredCertificate | undefined;
  failures: number;
  lastError: string | undefined;
  lastErrorAt: number | undefined;
  nextAttempt: number | undefined;
  retryTimer: NodeJS.Timeout | undefined;
}

function domainStatus(s: DomainState): DomainStatus {
  return {
    domain: s.domains.main,
    sans: s.domains.sans,
    failures: s.failures,
    ...(s.cert ? { notAfter: s.cert.notAfter, serialNumber: s.cert.serialNumber } : {}),
    ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
    ...(s.lastErrorAt !== undefined ? { lastErrorAt: new Date(s.lastErrorAt) } : {}),
    ...(s.nextAttempt !== undefined ? { nextAttempt: new Date(s.nextAttempt) } : {}),
  };
}

/** Refuses a configuration the resolver cannot work with (PORTICO_ERR_ACME_CONFIG). */
function checkOptions(opts: AcmeResolverOptions, caServer: string): void {
  const name = opts.name;
  if (!opts.email)
    throw new AcmeError('PORTICO_ERR_ACME_CONFIG', `resolver ${name}: email is required`);
  if (opts.challenge === 'http-01' && !opts.http01)
    throw new AcmeError(
      'PORTICO_ERR_ACME_CONFIG',
      `resolver ${name}: http-01 needs an HTTP-01 responder`,
    );
  if (opts.challenge === 'tls-alpn-01' && !opts.tlsAlpn)
    throw new AcmeError(
      'PORTICO_ERR_ACME_CONFIG',
      `resolver ${name}: tls-alpn-01 needs a TLS-ALPN-01 responder`,
    );
  if (opts.challenge === 'dns-01' && !opts.dnsChallenge)
    throw new AcmeError(
      'PORTICO_ERR_ACME_CONFIG',
      `resolver ${name}: dns-01 needs dnsChallenge.provider`,
    );
  try {
    new URL(caServer);
  } catch {
    throw new AcmeError(
      'PORTICO_ERR_ACME_CONFIG',
      `resolver ${name}: invalid caServer ${caServer}`,
    );
  }
}

export function createAcmeResolver(opts: AcmeResolverOptions): AcmeResolver {
  return new Resolver(opts);
}

class Resolver implements AcmeResolver {
  readonly name: string;
  private readonly storage: CertificateStorage;
  private readonly caServer: string;
  private readonly log: AcmeLogger;
  private readonly now: () => number;
  private readonly policy: RenewalPolicy;
  private readonly locks: StorageLocks;
  private readonly account: AcmeAccount;
  private readonly unregisterOrigin: () => void;
  private readonly unwatch: (() => void) | undefined;
  private readonly states = new Map<string, DomainState>();
  private readonly inflight = new Map<string, Promise<StoredCertificate>>();
  private checkTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly dns01: Dns01Solver | undefined;
  /** an unknown DNS provider or missing credentials: fails this resolver's DNS-01 orders only */
  private readonly dns01Error: Error | undefined;

  constructor(private readonly opts: AcmeResolverOptions) {
    this.name = opts.name;
    this.storage = opts.storage;
    this.caServer = opts.caServer ?? LETS_ENCRYPT_DIRECTORY;
    this.log = opts.logger ?? silentLogger;
    this.now = opts.now ?? Date.now;
    checkOptions(opts, this.caServer);
    this.policy = new RenewalPolicy(this.now, opts.renewBeforeMs);
    this.unregisterOrigin = registerOrigin(
      this.caServer,
      opts.caCertificates,
      opts.caSystemCertPool ?? false,
      opts.clientTimeoutMs ?? 120_000,
    );
    this.locks = new StorageLocks({
      resolver: this.name,
      storage: this.storage,
      ttlMs: opts.lockTtlMs ?? 5 * 60_000,
      pollMs: opts.lockPollMs ?? 1000,
      log: this.log,
      isClosed: () => this.closed,
    });
    this.account = new AcmeAccount({
      resolver: this.name,
      email: opts.email,
      caServer: this.caServer,
      storage: this.storage,
      locks: this.locks,
      accountKeyType: opts.accountKeyType ?? 'RSA4096',
      keyType: opts.keyType ?? 'RSA4096',
      eab: opts.eab,
      polling: {
        backoffMin: opts.polling?.minMs ?? 1000,
        backoffMax: opts.polling?.maxMs ?? 10_000,
        backoffAttempts: opts.polling?.attempts ?? 30,
      },
      log: this.log,
    });
    this.unwatch = this.storage.watch?.((e) => this.onStorageEvent(e));
    if (opts.dnsChallenge) {
      try {
        this.dns01 = createDns01Solver({
          resolver: this.name,
          config: opts.dnsChallenge,
          env: opts.dnsEnv,
          log: this.log,
          isClosed: () => this.closed,
        });
      } catch (err) {
        this.dns01Error = err as Error;
        this.log.error({ resolver: this.name, err: errorMessage(err) }, errorMessage(err));
      }
    }
  }

  obtain(input: { main: string; sans?: string[] }): Promise<StoredCertificate> {
    if (this.closed) return Promise.reject(closedError(this.name));
    const domains = normalizeDomains(input);
    // one order per main domain at a time in this process; later callers reuse its result
    const previous = this.inflight.get(domains.main);
    const p: Promise<StoredCertificate> = (previous ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.run(domains))
      .finally(() => {
        if (this.inflight.get(domains.main) === p) this.inflight.delete(domains.main);
      });
    this.inflight.set(domains.main, p);
    return p;
  }

  async renewDue(): Promise<void> {
    let stored: StoredCertificate[];
    try {
      stored = await this.storage.list(this.name);
    } catch (err) {
      this.log.error({ resolver: this.name, err: errorMessage(err) }, 'cannot list certificates');
      return;
    }
    const due = stored.filter((c) => this.policy.isDue(c));
    await Promise.allSettled(
      due.map((c) => {
        this.log.info(
          { resolver: this.name, domain: c.domains.main, notAfter: c.notAfter.toISOString() },
          'renewing certificate',
        );
        return this.obtain(c.domains);
      }),
    );
  }

  async start(challengesReady?: Promise<void>): Promise<void> {
    if (this.closed) throw closedError(this.name);
    try {
      for (const c of await this.storage.list(this.name)) {
        this.stateFor(c.domains).cert = c;
        if (this.policy.isValid(c)) this.announce(c);
      }
    } catch (err) {
      this.log.error({ resolver: this.name, err: errorMessage(err) }, 'cannot list certificates');
    }
    // stored certificates serve at once; renewing needs entrypoints that answer challenges
    await challengesReady;
    if (this.closed) return;
    await this.renewDue();
    this.scheduleCheck();
  }

  status(): DomainStatus[] {
    return [...this.states.values()]
      .map(domainStatus)
      .sort((a, b) => a.domain.localeCompare(b.domain));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.checkTimer) clearTimeout(this.checkTimer);
    for (const s of this.states.values()) if (s.retryTimer) clearTimeout(s.retryTimer);
    this.unwatch?.();
    this.locks.wakeAll();
    await Promise.allSettled([...this.inflight.values()]);
    this.unregisterOrigin();
  }

  private stateFor(domains: CertificateDomains): DomainState {
    let s = this.states.get(domains.main);
    if (!s) {
      s = {
        domains,
        cert: undefined,
        failures: 0,
        lastError: undefined,
        lastErrorAt: undefined,
        nextAttempt: undefined,
        retryTimer: undefined,
      };
      this.states.set(domains.main, s);
    } else {
      s.domains = domains;
    }
    return s;
  }

  private announce(cert: StoredCertificate): void {
    try {
      this.opts.onCertificate?.(cert);
    } catch (err) {
      this.log.error(
        { resolver: this.name, domain: cert.domains.main, err: errorMessage(err) },
        'onCertificate failed',
      );
    }
  }

  /** Another replica's certificates and challenges. */
  private onStorageEvent(e: StorageEvent): void {
    if (e.resolver !== this.name || this.closed) return;
    if (e.kind === 'certificate') {
      this.locks.wake(e.main);
      void this.storage
        .loadCertificate(this.name, e.main)
        .then((cert) => {
          if (!cert || this.closed) return;
          const s = this.states.get(cert.domains.main);
          if (s && s.cert?.serialNumber === cert.serialNumber) return;
          this.stateFor(cert.domains).cert = cert;
          this.log.info(
            { resolver: this.name, domain: cert.domains.main },
            'certificate updated by another replica',
          );
          this.announce(cert);
        })
        .catch((err: unknown) =>
          this.log.warn(
            { resolver: this.name, domain: e.main, err: errorMessage(err) },
            'cannot load certificate',
          ),
        );
    } else if (e.kind === 'challenge') {
      void applyChallenge(this.opts, e).catch((err: unknown) =>
        this.log.warn(
          { resolver: this.name, domain: e.domain, err: errorMessage(err) },
          'cannot apply shared challenge',
        ),
      );
    }
  }

  private async share(c: SharedChallenge): Promise<void> {
    if (!this.storage.publishChallenge) return;
    await this.storage
      .publishChallenge(this.name, c)
      .catch((err: unknown) =>
        this.log.warn(
          { resolver: this.name, domain: c.domain, err: errorMessage(err) },
          'cannot share challenge',
        ),
      );
  }

  /** The stored certificate when fresh, else an order, within the domain's backoff. */
  private async run(domains: CertificateDomains): Promise<StoredCertificate> {
    const s = this.stateFor(domains);
    const stored = await this.storage.loadCertificate(this.name, domains.main);
    if (stored && this.policy.fresh(stored, domains)) {
      s.cert = stored;
      return stored;
    }
    const usable = this.policy.usable(stored, domains) ? stored : undefined;
    if (s.nextAttempt !== undefined && this.now() < s.nextAttempt) {
      // never hammer the CA: keep serving what we have until the next attempt
      if (usable) return usable;
      throw new AcmeError(
        'PORTICO_ERR_ACME_BACKOFF',
        `${domains.main}: next attempt at ${new Date(s.nextAttempt).toISOString()} (last error: ${s.lastError})`,
        domains.main,
      );
    }
    try {
      const cert = await this.orderUnderLock(domains, stored?.serialNumber);
      this.succeeded(s, cert);
      return cert;
    } catch (err) {
      if (err instanceof AcmeError && err.code === 'PORTICO_ERR_ACME_CLOSED') throw err;
      const reason = await this.failed(s, err, usable !== undefined);
      if (usable) return usable;
      throw new AcmeError('PORTICO_ERR_ACME_ORDER', `${domains.main}: ${reason}`, domains.main, {
        cause: err,
      });
    }
  }

  private succeeded(s: DomainState, cert: StoredCertificate): void {
    s.cert = cert;
    s.failures = 0;
    s.lastError = undefined;
    s.lastErrorAt = undefined;
    s.nextAttempt = undefined;
    if (s.retryTimer) clearTimeout(s.retryTimer);
    s.retryTimer = undefined;
    // a new certificate may fall due before the next planned check
    if (this.checkTimer !== undefined) this.scheduleCheck();
    this.announce(cert);
  }

  /** Records a failed order and plans the retry; returns the reason. */
  private async failed(s: DomainState, err: unknown, keepsCurrent: boolean): Promise<string> {
    const reason = await describeCaError(err, this.caServer);
    if (/accountDoesNotExist|account (does not|doesn't) exist/i.test(reason)) this.account.forget();
    s.failures++;
    s.lastError = reason;
    s.lastErrorAt = this.now();
    s.nextAttempt =
      this.now() +
      backoffMs(s.failures, this.opts.retryMinMs ?? 60_000, this.opts.retryMaxMs ?? 3_600_000);
    this.scheduleRetry(s);
    this.log.error(
      {
        resolver: this.name,
        domain: s.domains.main,
        err: reason,
        failures: s.failures,
        nextAttempt: new Date(s.nextAttempt).toISOString(),
      },
      keepsCurrent
        ? 'certificate renewal failed, keeping the current one'
        : 'cannot obtain certificate',
    );
    return reason;
  }

  /** Orders under the storage lock, or returns what the lock holder stored. */
  private async orderUnderLock(
    domains: CertificateDomains,
    baseline?: string,
  ): Promise<StoredCertificate> {
    const lock = await this.locks.wait(
      `${this.name}:${domains.main}`,
      async () => {
        const c = await this.storage.loadCertificate(this.name, domains.main);
        return c && this.policy.fresh(c, domains, baseline) ? c : undefined;
      },
      domains.main,
    );
    if (!lock.acquired) return lock.value;
    try {
      // another replica may have ordered while we were waiting for the lock
      const again = await this.storage.loadCertificate(this.name, domains.main);
      if (again && this.policy.fresh(again, domains, baseline)) return again;
      const wildcard = [domains.main, ...domains.sans].some((n) => n.startsWith('*.'));
      if (this.dns01Error && (this.opts.challenge === 'dns-01' || wildcard)) throw this.dns01Error;
      const cert = await orderCertificate(domains, {
        resolver: this.name,
        challenge: this.opts.challenge,
        http01: this.opts.http01,
        tlsAlpn: this.opts.tlsAlpn,
        dns01: this.dns01,
        keyType: this.opts.keyType ?? 'RSA4096',
        preferredChain: this.opts.preferredChain,
        challengeDelayMs: this.opts.challengeDelayMs ?? (this.storage.publishChallenge ? 500 : 0),
        client: () => this.account.client(),
        share: (c) => this.share(c),
        log: this.log,
      });
      await this.storage.saveCertificate(this.name, cert);
      this.log.info(
        {
          resolver: this.name,
          domain: domains.main,
          notAfter: cert.notAfter.toISOString(),
          serial: cert.serialNumber,
        },
        'certificate obtained',
      );
      return cert;
    } finally {
      await lock.release();
    }
  }

  private scheduleRetry(s: DomainState): void {
    if (s.retryTimer) clearTimeout(s.retryTimer);
    if (this.closed || s.nextAttempt === undefined) return;
    s.retryTimer = setTimeout(
      () => {
        s.retryTimer = undefined;
        if (this.closed) return;
        this.obtain(s.domains).catch(() => undefined); // recorded in status()
      },
      Math.max(0, s.nextAttempt - this.now()),
    );
    s.retryTimer.unref();
  }

  /** The next renewal check (see nextCheckMs). */
  private scheduleCheck(): void {
    if (this.closed) return;
    if (this.checkTimer) clearTimeout(this.checkTimer);
    const certs = [...this.states.values()].map((s) => s.cert);
    this.checkTimer = setTimeout(
      () => {
        void this.renewDue().finally(() => this.scheduleCheck());
      },
      nextCheckMs(certs, this.policy, this.opts.checkIntervalMs ?? 24 * 3_600_000),
    );
    this.checkTimer.unref();
  }
}
