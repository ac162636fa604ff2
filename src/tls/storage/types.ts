/*
 * Where an ACME resolver keeps its account and certificates. One storage may
 * hold several resolvers (Traefik's acme.json is keyed by resolver name).
 * Implementations: FileStorage (acme.json, one process) and RedisStorage
 * (shared by replicas: a lock so one replica orders, pub/sub so all serve).
 */
import { PorticoError } from '../../kernel/errors.js';
import { parseCertificateChain } from '../certificate.js';

/** Traefik's `domain` object: one certificate per main domain, plus SANs. */
export interface CertificateDomains {
  main: string;
  sans: string[];
}

/** Traefik's certificatesResolvers.<name>.acme.keyType values; RSA4096 when unset, as in Traefik. */
export type KeyType = 'EC256' | 'EC384' | 'RSA2048' | 'RSA4096' | 'RSA8192';

export interface StoredAccount {
  email: string;
  /** PEM (PKCS#8 or traditional) */
  privateKeyPem: string;
  /** the account URL (`kid`) at the CA; missing until registered */
  accountUrl?: string | undefined;
  /** Traefik's KeyType for the resolver's certificates, kept for the file layout */
  keyType?: KeyType | undefined;
}

export interface StoredCertificate {
  domains: CertificateDomains;
  /** leaf first, then intermediates */
  certificatePem: string;
  keyPem: string;
  notBefore: Date;
  notAfter: Date;
  serialNumber: string;
  /** Traefik's TLS store; always `default` */
  store: string;
}

export interface StorageLock {
  release(): Promise<void>;
}

/** Something another writer (or replica) changed. */
export type StorageEvent =
  | { kind: 'certificate'; resolver: string; main: string }
  | { kind: 'account'; resolver: string }
  | ({ kind: 'challenge'; resolver: string; origin: string } & SharedChallenge);

/** A pending challenge, published so every replica can answer the CA's validation request. */
export interface SharedChallenge {
  type: 'http-01' | 'tls-alpn-01';
  action: 'add' | 'remove';
  domain: string;
  token: string;
  keyAuthorization: string;
}

export interface CertificateStorage {
  loadAccount(resolver: string): Promise<StoredAccount | undefined>;
  saveAccount(resolver: string, account: StoredAccount): Promise<void>;
  loadCertificate(resolver: string, mainDomain: string): Promise<StoredCertificate | undefined>;
  saveCertificate(resolver: string, cert: StoredCertificate): Promise<void>;
  list(resolver: string): Promise<StoredCertificate[]>;
  /** Takes `key` for at most `ttlMs`; undefined when someone else holds it. */
  lock(key: string, ttlMs: number): Promise<StorageLock | undefined>;
  /** Calls `onChange` for changes made elsewhere; returns the unsubscribe function. */
  watch?(onChange: (event: StorageEvent) => void): () => void;
  /** Tells the other replicas about a challenge in flight (so any of them can answer it). */
  publishChallenge?(resolver: string, challenge: SharedChallenge): Promise<void>;
  close?(): Promise<void>;
}

export class StorageError extends PorticoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PORTICO_ERR_ACME_STORAGE', message, options);
    this.name = 'StorageError';
  }
}

/** Domain names are case-insensitive; storage keys use the lower-case form. */
export function normalizeDomains(d: {
  main: string;
  sans?: readonly string[] | null | undefined;
}): CertificateDomains {
  const main = d.main.trim().toLowerCase();
  const sans = [
    ...new Set((d.sans ?? []).map((s) => s.trim().toLowerCase()).filter((s) => s && s !== main)),
  ];
  return { main, sans };
}

/** Builds the stored form of an issued certificate; validity and serial come from the PEM. */
export function storedCertificateFrom(
  domains: { main: string; sans?: readonly string[] | null | undefined },
  certificatePem: string,
  keyPem: string,
  store = 'default',
): StoredCertificate {
  const info = parseCertificateChain(certificatePem);
  return {
    domains: normalizeDomains(domains),
    certificatePem,
    keyPem,
    notBefore: info.notBefore,
    notAfter: info.notAfter,
    serialNumber: info.serialNumber,
    store,
  };
}
