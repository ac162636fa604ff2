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
 * acme-client does the protocol (RFC 8555); this file decides when to order.
 */
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import * as acme from 'acme-client';
import { PorticoError } from '../../kernel/errors.js';
import { coversAll } from '../certificate.js';
import {
  normalizeDomains,
  storedCertificateFrom,
  type CertificateDomains,
  type CertificateStorage,
  type KeyType,
  type SharedChallenge,
  type StorageEvent,
  type StoredAccount,
  type StoredCertificate,
} from '../storage/types.js';
import type { Http01Responder, TlsAlpnResponder } from './challenges.js';

export type { KeyType } from '../storage/types.js';
export type AcmeChallengeType = 'http-01' | 'tls-alpn-01';

export const LETS_ENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';

/** The subset of a pino logger used here. */
export interface AcmeLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const silent: AcmeLogger = { debug() {}, info() {}, warn() {}, error() {} };

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

export class AcmeError extends PorticoError {
  readonly domain: string | undefined;
  constructor(code: string, message: string, domain?: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.domain = domain;
    this.name = 'AcmeError';
  }
}

/*
 * acme-client sends everything through one shared axios instance
 * (`acme.axios`, documented in its README), so trust and timeouts are set per
 * CA origin by one request interceptor rather than process-wide.
 */
interface OriginEntry {
  refs: number;
  cas: string[];
  systemPool: boolean;
  timeoutMs: number;
  agent: https.Agent | undefined;
}
const origins = new Map<string, OriginEntry>();
let interceptorInstalled = false;

function registerOrigin(
  caServer: string,
  cas: string[] | undefined,
  systemPool: boolean,
  timeoutMs: number,
): () => void {
  if (!interceptorInstalled) {
    interceptorInstalled = true;
    /*
     * acme-client retries transport errors 5 times over 75 s and then throws
     * "Cannot read properties of undefined (reading 'config')", losing the
     * cause (publishlab/node-acme-client#101). Fail fast instead: the resolver
     * retries with its own per-domain backoff and probes the CA for the cause.
     */
    (
      acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }
    ).acmeSettings.retryMaxAttempts = 0;
    acme.axios.interceptors.request.use((config) => {
      let origin: string;
      try {
        origin = new URL(config.url ?? '').origin;
      } catch {
        return config;
      }
      const e = origins.get(origin);
      if (e) {
        if (e.agent) config.httpsAgent = e.agent;
        if (!config.timeout) config.timeout = e.timeoutMs;
      }
      return config;
    });
  }
  const origin = new URL(caServer).origin;
  let e = origins.get(origin);
  if (!e) {
    e = { refs: 0, cas: [], systemPool: false, timeoutMs, agent: undefined };
    origins.set(origin, e);
  }
  const entry = e;
  entry.refs++;
  entry.timeoutMs = Math.max(entry.timeoutMs, timeoutMs);
  if (cas?.length) {
    for (const c of cas) if (!entry.cas.includes(c)) entry.cas.push(c);
    entry.systemPool ||= systemPool;
    entry.agent?.destroy();
    const tlsRoots = entry.systemPool ? rootCertificates : [];
    entry.agent = new https.Agent({ ca: [...tlsRoots, ...entry.cas] });
  }
  return () => {
    if (--entry.refs > 0) return;
    entry.agent?.destroy();
    origins.delete(origin);
  };
}

/** Why the CA cannot be reached, when acme-client hides it (see above). */
function probe(url: string, timeoutMs: number): Promise<string | undefined> {
  const entry = origins.get(new URL(url).origin);
  return new Promise((resolve) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { agent: entry?.agent ?? false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode && res.statusCode < 400 ? undefined : `HTTP ${res.statusCode}`);
    });
    req.on('timeout', () =>
      req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

async function createKey(type: KeyType): Promise<string> {
  switch (type) {
    case 'EC256':
      return (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
    case 'EC384':
      return (await acme.crypto.createPrivateEcdsaKey('P-384')).toString();
    case 'RSA2048':
      return (await acme.crypto.createPrivateRsaKey(2048)).toString();
    case 'RSA4096':
      return (await acme.crypto.createPrivateRsaKey(4096)).toString();
  }
}

function message(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

interface DomainState {
  domains: CertificateDomains;
  cert: StoredCertificate | undefined;
  failures: number;
  lastError: string | undefined;
  lastErrorAt: number | undefined;
  nextAttempt: number | undefined;
  retryTimer: NodeJS.Timeout | undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function createAcmeResolver(opts: AcmeResolverOptions): AcmeResolver {
  const name = opts.name;
  const storage = opts.storage;
  const caServer = opts.caServer ?? LETS_ENCRYPT_DIRECTORY;
  const keyType = opts.keyType ?? 'RSA4096';
  const accountKeyType = opts.accountKeyType ?? 'RSA4096';
  const log = opts.logger ?? silent;
  const now = opts.now ?? Date.now;
  const retryMinMs = opts.retryMinMs ?? 60_000;
  const retryMaxMs = opts.retryMaxMs ?? 3_600_000;
  const lockTtlMs = opts.lockTtlMs ?? 5 * 60_000;
  const lockPollMs = opts.lockPollMs ?? 1000;
  const checkIntervalMs = opts.checkIntervalMs ?? 24 * 3_600_000;
  const clientTimeoutMs = opts.clientTimeoutMs ?? 120_000;
  const challengeDelayMs = opts.challengeDelayMs ?? (storage.publishChallenge ? 500 : 0);
  const polling = {
    backoffMin: opts.polling?.minMs ?? 1000,
    backoffMax: opts.polling?.maxMs ?? 10_000,
    backoffAttempts: opts.polling?.attempts ?? 30,
  };

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
  try {
    new URL(caServer);
  } catch {
    throw new AcmeError(
      'PORTICO_ERR_ACME_CONFIG',
      `resolver ${name}: invalid caServer ${caServer}`,
    );
  }

  const unregisterOrigin = registerOrigin(
    caServer,
    opts.caCertificates,
    opts.caSystemCertPool ?? false,
    clientTimeoutMs,
  );
  const states = new Map<string, DomainState>();
  const inflight = new Map<string, Promise<StoredCertificate>>();
  const waiters = new Map<string, Set<() => void>>();
  let clientPromise: Promise<acme.Client> | undefined;
  let forceRegister = false;
  let checkTimer: NodeJS.Timeout | undefined;
  let closed = false;

  const stateFor = (domains: CertificateDomains): DomainState => {
    let s = states.get(domains.main);
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
      states.set(domains.main, s);
    } else {
      s.domains = domains;
    }
    return s;
  };

  const announce = (cert: StoredCertificate): void => {
    try {
      opts.onCertificate?.(cert);
    } catch (err) {
      log.error(
        { resolver: name, domain: cert.domains.main, err: message(err) },
        'onCertificate failed',
      );
    }
  };

  const renewBefore = (c: StoredCertificate): number =>
    opts.renewBeforeMs ?? (c.notAfter.getTime() - c.notBefore.getTime()) / 3;
  const isValid = (c: StoredCertificate): boolean => now() < c.notAfter.getTime();
  const isDue = (c: StoredCertificate): boolean => now() >= c.notAfter.getTime() - renewBefore(c);
  const covers = (c: StoredCertificate, d: CertificateDomains): boolean =>
    coversAll([c.domains.main, ...c.domains.sans], [d.main, ...d.sans]);
  /** usable without an order: covers, valid, and not due, or newer than the one we set out to replace */
  const fresh = (
    c: StoredCertificate | undefined,
    d: CertificateDomains,
    baseline?: string,
  ): boolean =>
    !!c &&
    covers(c, d) &&
    isValid(c) &&
    (!isDue(c) || (baseline !== undefined && c.serialNumber !== baseline));

  // another replica's certificates and challenges
  const onStorageEvent = (e: StorageEvent): void => {
    if (e.resolver !== name || closed) return;
    if (e.kind === 'certificate') {
      for (const w of waiters.get(e.main) ?? []) w();
      void storage
        .loadCertificate(name, e.main)
        .then((cert) => {
          if (!cert || closed) return;
          const s = states.get(cert.domains.main);
          if (s && s.cert?.serialNumber === cert.serialNumber) return;
          stateFor(cert.domains).cert = cert;
          log.info(
            { resolver: name, domain: cert.domains.main },
            'certificate updated by another replica',
          );
          announce(cert);
        })
        .catch((err: unknown) =>
          log.warn(
            { resolver: name, domain: e.main, err: message(err) },
            'cannot load certificate',
          ),
        );
    } else if (e.kind === 'challenge') {
      void applyChallenge(e).catch((err: unknown) =>
        log.warn(
          { resolver: name, domain: e.domain, err: message(err) },
          'cannot apply shared challenge',
        ),
      );
    }
  };
  const unwatch = storage.watch?.(onStorageEvent);

  async function applyChallenge(c: SharedChallenge): Promise<void> {
    if (c.type === 'http-01') {
      if (!opts.http01) return;
      if (c.action === 'add') opts.http01.set(c.token, c.keyAuthorization, c.domain);
      else opts.http01.delete(c.token);
    } else {
      if (!opts.tlsAlpn) return;
      if (c.action === 'add') {
        const authz = { identifier: { type: 'dns', value: c.domain } } as acme.Authorization;
        const [key, cert] = await acme.crypto.createAlpnCertificate(
          authz,
          c.keyAuthorization,
          await acme.crypto.createPrivateEcdsaKey(),
        );
        opts.tlsAlpn.set(c.domain, key, cert);
      } else opts.tlsAlpn.delete(c.domain);
    }
  }

  function newClient(account: StoredAccount): acme.Client {
    return new acme.Client({
      directoryUrl: caServer,
      accountKey: account.privateKeyPem,
      ...(account.accountUrl ? { accountUrl: account.accountUrl } : {}),
      ...(opts.eab
        ? { externalAccountBinding: { kid: opts.eab.kid, hmacKey: opts.eab.hmacEncoded } }
        : {}),
      ...polling,
    });
  }

  const sameCa = (accountUrl: string | undefined): boolean => {
    try {
      return !!accountUrl && new URL(accountUrl).origin === new URL(caServer).origin;
    } catch {
      return false;
    }
  };

  async function register(): Promise<acme.Client> {
    const lock = await waitForLock(`${name}:account`, async () => {
      const a = await storage.loadAccount(name);
      return a && sameCa(a.accountUrl) && !forceRegister ? a : undefined;
    });
    if (!lock.acquired) return newClient(lock.value);
    try {
      const prev = await storage.loadAccount(name);
      if (prev && sameCa(prev.accountUrl) && !forceRegister) return newClient(prev);
      // an existing key (e.g. from Traefik's acme.json) is kept: the CA returns its account
      const privateKeyPem = prev?.privateKeyPem ?? (await createKey(accountKeyType));
      const client = newClient({ email: opts.email, privateKeyPem });
      await client.createAccount({ termsOfServiceAgreed: true, contact: [`mailto:${opts.email}`] });
      const account: StoredAccount = {
        email: opts.email,
        privateKeyPem,
        accountUrl: client.getAccountUrl(),
        keyType,
      };
      await storage.saveAccount(name, account);
      forceRegister = false;
      log.info({ resolver: name, account: account.accountUrl }, 'ACME account registered');
      return client;
    } finally {
      await lock.release();
    }
  }

  function getClient(): Promise<acme.Client> {
    clientPromise ??= (async () => {
      const account = await storage.loadAccount(name);
      if (account && sameCa(account.accountUrl) && !forceRegister) return newClient(account);
      return register();
    })();
    const p = clientPromise;
    p.catch(() => {
      if (clientPromise === p) clientPromise = undefined;
    });
    return p;
  }

  /**
   * Takes the storage lock `key`, or waits (polling, woken by storage events)
   * until `ready()` finds the holder's result or the lock can be taken.
   */
  async function waitForLock<T>(
    key: string,
    ready: () => Promise<T | undefined>,
    main?: string,
  ): Promise<{ acquired: true; release(): Promise<void> } | { acquired: false; value: T }> {
    const deadline = Date.now() + lockTtlMs + lockPollMs;
    for (;;) {
      if (closed)
        throw new AcmeError('PORTICO_ERR_ACME_CLOSED', `resolver ${name} is closed`, main);
      const lock = await storage.lock(key, lockTtlMs);
      if (lock) {
        return {
          acquired: true,
          release: () =>
            lock
              .release()
              .catch((err: unknown) =>
                log.warn({ resolver: name, lock: key, err: message(err) }, 'cannot release lock'),
              ),
        };
      }
      if (Date.now() > deadline)
        throw new AcmeError(
          'PORTICO_ERR_ACME_LOCK_TIMEOUT',
          `timed out waiting for lock ${key}`,
          main,
        );
      log.debug({ resolver: name, lock: key }, 'another instance holds the lock, waiting');
      await new Promise<void>((resolve) => {
        const set = main ? (waiters.get(main) ?? new Set()) : undefined;
        const done = (): void => {
          clearTimeout(t);
          set?.delete(done);
          resolve();
        };
        const t = setTimeout(done, lockPollMs);
        if (main && set) {
          set.add(done);
          waiters.set(main, set);
        }
      });
      const value = await ready();
      if (value !== undefined) return { acquired: false, value };
    }
  }

  async function publishChallenge(c: SharedChallenge): Promise<void> {
    if (!storage.publishChallenge) return;
    await storage
      .publishChallenge(name, c)
      .catch((err: unknown) =>
        log.warn({ resolver: name, domain: c.domain, err: message(err) }, 'cannot share challenge'),
      );
  }

  async function solve(client: acme.Client, authz: acme.Authorization): Promise<void> {
    if (authz.status === 'valid') return;
    const domain = authz.identifier.value;
    const challenge = authz.challenges.find((c) => c.type === opts.challenge);
    if (!challenge)
      throw new Error(
        `the CA offers no ${opts.challenge} challenge for ${domain} (offered: ${authz.challenges.map((c) => c.type).join(', ')})`,
      );
    const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
    const shared: SharedChallenge = {
      type: opts.challenge,
      action: 'add',
      domain,
      token: challenge.token,
      keyAuthorization,
    };
    await applyChallenge(shared);
    await publishChallenge(shared);
    try {
      if (challengeDelayMs > 0) await sleep(challengeDelayMs);
      // no client-side pre-check (verifyChallenge): it would resolve the name
      // through the host's resolver and port 80/443; the CA's validation decides
      await client.completeChallenge(challenge);
      await client.waitForValidStatus(challenge);
    } finally {
      const removal: SharedChallenge = { ...shared, action: 'remove' };
      await applyChallenge(removal).catch(() => undefined);
      await publishChallenge(removal);
    }
  }

  async function order(domains: CertificateDomains): Promise<StoredCertificate> {
    const names = [domains.main, ...domains.sans];
    const wildcard = names.find((n) => n.startsWith('*.'));
    if (wildcard) throw new Error(`${wildcard}: wildcard certificates need the DNS-01 challenge`);
    const client = await getClient();
    log.info({ resolver: name, domain: domains.main, sans: domains.sans }, 'ordering certificate');
    const created = await client.createOrder({
      identifiers: names.map((value) => ({ type: 'dns', value })),
    });
    const authzs = await client.getAuthorizations(created);
    for (const authz of authzs) await solve(client, authz);
    const keyPem = await createKey(keyType);
    const [, csr] = await acme.crypto.createCsr(
      { commonName: domains.main, altNames: names },
      keyPem,
    );
    const finalized = await client.finalizeOrder(created, csr);
    const chain = await client.getCertificate(finalized, opts.preferredChain);
    return storedCertificateFrom(domains, chain, keyPem);
  }

  /** Orders under the storage lock, or returns what the lock holder stored. */
  async function orderUnderLock(
    domains: CertificateDomains,
    baseline?: string,
  ): Promise<StoredCertificate> {
    const lock = await waitForLock(
      `${name}:${domains.main}`,
      async () => {
        const c = await storage.loadCertificate(name, domains.main);
        return c && fresh(c, domains, baseline) ? c : undefined;
      },
      domains.main,
    );
    if (!lock.acquired) return lock.value;
    try {
      // another replica may have ordered while we were waiting for the lock
      const again = await storage.loadCertificate(name, domains.main);
      if (again && fresh(again, domains, baseline)) return again;
      const cert = await order(domains);
      await storage.saveCertificate(name, cert);
      log.info(
        {
          resolver: name,
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

  async function describe(err: unknown): Promise<string> {
    const msg = message(err);
    // acme-client's lost transport error (see registerOrigin): find the real cause
    if (err instanceof TypeError && msg.includes("reading 'config'")) {
      const cause = await probe(caServer, 10_000);
      return `cannot reach CA server ${caServer}${cause ? `: ${cause}` : ''}`;
    }
    return msg;
  }

  function scheduleRetry(s: DomainState): void {
    if (s.retryTimer) clearTimeout(s.retryTimer);
    if (closed || s.nextAttempt === undefined) return;
    s.retryTimer = setTimeout(
      () => {
        s.retryTimer = undefined;
        if (closed) return;
        obtain(s.domains).catch(() => undefined); // recorded in status()
      },
      Math.max(0, s.nextAttempt - now()),
    );
    s.retryTimer.unref();
  }

  async function run(domains: CertificateDomains): Promise<StoredCertificate> {
    const s = stateFor(domains);
    const stored = await storage.loadCertificate(name, domains.main);
    if (stored && fresh(stored, domains)) {
      s.cert = stored;
      return stored;
    }
    const usable = stored && covers(stored, domains) && isValid(stored) ? stored : undefined;
    if (s.nextAttempt !== undefined && now() < s.nextAttempt) {
      // never hammer the CA: keep serving what we have until the next attempt
      if (usable) return usable;
      throw new AcmeError(
        'PORTICO_ERR_ACME_BACKOFF',
        `${domains.main}: next attempt at ${new Date(s.nextAttempt).toISOString()} (last error: ${s.lastError})`,
        domains.main,
      );
    }
    try {
      const cert = await orderUnderLock(domains, stored?.serialNumber);
      s.cert = cert;
      s.failures = 0;
      s.lastError = undefined;
      s.lastErrorAt = undefined;
      s.nextAttempt = undefined;
      if (s.retryTimer) clearTimeout(s.retryTimer);
      s.retryTimer = undefined;
      // a new certificate may fall due before the next planned check
      if (checkTimer !== undefined) scheduleCheck();
      announce(cert);
      return cert;
    } catch (err) {
      if (err instanceof AcmeError && err.code === 'PORTICO_ERR_ACME_CLOSED') throw err;
      const reason = await describe(err);
      if (/accountDoesNotExist|account (does not|doesn't) exist/i.test(reason)) {
        forceRegister = true;
        clientPromise = undefined;
      }
      s.failures++;
      s.lastError = reason;
      s.lastErrorAt = now();
      s.nextAttempt = now() + Math.min(retryMaxMs, retryMinMs * 2 ** (s.failures - 1));
      scheduleRetry(s);
      log.error(
        {
          resolver: name,
          domain: domains.main,
          err: reason,
          failures: s.failures,
          nextAttempt: new Date(s.nextAttempt).toISOString(),
        },
        usable
          ? 'certificate renewal failed, keeping the current one'
          : 'cannot obtain certificate',
      );
      if (usable) return usable;
      throw new AcmeError('PORTICO_ERR_ACME_ORDER', `${domains.main}: ${reason}`, domains.main, {
        cause: err,
      });
    }
  }

  function obtain(input: { main: string; sans?: string[] }): Promise<StoredCertificate> {
    if (closed)
      return Promise.reject(new AcmeError('PORTICO_ERR_ACME_CLOSED', `resolver ${name} is closed`));
    const domains = normalizeDomains(input);
    // one order per main domain at a time in this process; later callers reuse its result
    const previous = inflight.get(domains.main);
    const p = (previous ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => run(domains))
      .finally(() => {
        if (inflight.get(domains.main) === p) inflight.delete(domains.main);
      });
    inflight.set(domains.main, p);
    return p;
  }

  /**
   * The next renewal check: every checkIntervalMs, or sooner when a certificate
   * becomes due before that (short-lived certificates would otherwise expire
   * between two daily checks).
   */
  function scheduleCheck(): void {
    if (closed) return;
    if (checkTimer) clearTimeout(checkTimer);
    let wait = Math.min(checkIntervalMs, 24 * 3_600_000);
    for (const st of states.values()) {
      if (st.cert === undefined) continue;
      const until = st.cert.notAfter.getTime() - renewBefore(st.cert) - now();
      // already due: in flight, or waiting for its backoff retry (scheduleRetry)
      if (until > 0) wait = Math.min(wait, until);
    }
    // never a busy loop: a certificate that is already due is retried by its own backoff
    checkTimer = setTimeout(
      () => {
        void renewDue().finally(scheduleCheck);
      },
      Math.max(1000, wait),
    );
    checkTimer.unref();
  }

  async function renewDue(): Promise<void> {
    let stored: StoredCertificate[];
    try {
      stored = await storage.list(name);
    } catch (err) {
      log.error({ resolver: name, err: message(err) }, 'cannot list certificates');
      return;
    }
    const due = stored.filter((c) => isDue(c));
    await Promise.allSettled(
      due.map((c) => {
        log.info(
          { resolver: name, domain: c.domains.main, notAfter: c.notAfter.toISOString() },
          'renewing certificate',
        );
        return obtain(c.domains);
      }),
    );
  }

  return {
    name,
    obtain,
    renewDue,
    async start(challengesReady) {
      if (closed) throw new AcmeError('PORTICO_ERR_ACME_CLOSED', `resolver ${name} is closed`);
      try {
        for (const c of await storage.list(name)) {
          stateFor(c.domains).cert = c;
          if (isValid(c)) announce(c);
        }
      } catch (err) {
        log.error({ resolver: name, err: message(err) }, 'cannot list certificates');
      }
      // stored certificates serve at once; renewing needs entrypoints that answer challenges
      await challengesReady;
      if (closed) return;
      await renewDue();
      scheduleCheck();
    },
    status() {
      return [...states.values()]
        .map((s) => ({
          domain: s.domains.main,
          sans: s.domains.sans,
          failures: s.failures,
          ...(s.cert ? { notAfter: s.cert.notAfter, serialNumber: s.cert.serialNumber } : {}),
          ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
          ...(s.lastErrorAt !== undefined ? { lastErrorAt: new Date(s.lastErrorAt) } : {}),
          ...(s.nextAttempt !== undefined ? { nextAttempt: new Date(s.nextAttempt) } : {}),
        }))
        .sort((a, b) => a.domain.localeCompare(b.domain));
    },
    async close() {
      if (closed) return;
      closed = true;
      if (checkTimer) clearTimeout(checkTimer);
      for (const s of states.values()) if (s.retryTimer) clearTimeout(s.retryTimer);
      unwatch?.();
      for (const set of waiters.values()) for (const w of set) w();
      await Promise.allSettled([...inflight.values()]);
      unregisterOrigin();
    },
  };
}
