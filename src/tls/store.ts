/*
 * The certificate store: the certificates of the dynamic configuration
 * (`tls.certificates`, files or inline PEM, and the ACME resolvers'
 * certificates) indexed by the names they cover, plus a default certificate.
 * SNI selection prefers an exact name, then a wildcard one label up, then the
 * default, as Traefik does. The store is built with the routing table and
 * swapped with it.
 *
 * Secure contexts are made lazily, one per (certificate, TLS options) pair,
 * since the options of a handshake (versions, ciphers, client CA) depend on
 * the routers of the SNI name and live in the same context as the key pair.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { ElementError, TlsCertificateConfig } from '../config/dynamic.js';
import { parseCertificateChain, pemText } from './certificate.js';
import { BUILTIN_DEFAULT_OPTIONS, contextOptions, type TlsOptions } from './options.js';

export interface KeyPair {
  cert: string;
  key: string;
}

export interface StoredCertificateInfo {
  /** DNS names (and IPs) the certificate covers */
  names: string[];
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  source: string;
}

/**
 * One certificate of the store, as `CertificateStore.list()` reports it (for
 * `/api/certificates` and the `portico_tls_certs_not_after` metric).
 */
export interface CertificateListing {
  /** subject CN (if any) first, then the DNS SANs, deduplicated, lower case */
  domains: string[];
  /** issuer distinguished name, one `key=value` per line as OpenSSL prints it */
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  /** `tls.certificates` of a provider, an ACME resolver, or the default certificate */
  source: 'file' | 'acme' | 'default';
  /** the certificatesResolvers name, for `source: 'acme'` */
  resolver?: string;
}

export interface CertificateStore {
  /** the context to present for an SNI name (undefined name: no SNI sent) */
  select(servername: string | undefined, options?: TlsOptions): tls.SecureContext;
  /** whether a certificate other than the default covers the name (sniStrict) */
  covers(servername: string | undefined): boolean;
  /** every certificate, the default one last; see CertificateListing */
  list(): CertificateListing[];
  readonly certificates: readonly StoredCertificateInfo[];
  readonly errors: readonly ElementError[];
  /**
   * Whether some certificate has another key type than the default one (RSA
   * next to an EC default, say). Node's SNICallback then cannot simply swap
   * the certificate (nodejs/node#54235): it adds the SNI context's key pair
   * to the connection, but OpenSSL keeps one certificate per key type and the
   * default's stays in its slot; a TLS 1.3 client preferring ECDSA (they all
   * do) gets the default EC certificate instead of the RSA one, and a TLS 1.2
   * client preferring ECDHE-RSA gets an RSA default over an EC certificate.
   * Such a connection has to start with the context of its SNI name
   * (src/tls/handshake.ts reads the ClientHello first). Issue 13 item 0.
   */
  readonly mixedKeyTypes: boolean;
}

function namesOf(x: X509Certificate): string[] {
  const names: string[] = [];
  for (const part of (x.subjectAltName ?? '').split(',')) {
    const p = part.trim();
    if (p.startsWith('DNS:')) names.push(p.slice(4).toLowerCase());
    else if (p.startsWith('IP Address:')) names.push(p.slice(11).toLowerCase());
  }
  if (names.length === 0) {
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(x.subject)?.[1];
    if (cn) names.push(cn.toLowerCase());
  }
  return names;
}

export interface StoreOptions {
  defaultCertificate: KeyPair;
  /** warnings for certificates served within their renewal window or expired */
  logger?: Logger;
}

interface Entry {
  pair: KeyPair;
  /** OpenSSL's certificate slot: `rsa`, `rsa-pss`, `ec`, `ed25519`, ... (every EC curve shares one) */
  keyType: string;
  listing: CertificateListing;
  fingerprint: string;
  /** a third of the lifetime before notAfter, as the ACME resolver renews */
  renewAt: number;
  notAfter: number;
  contexts: Map<string, tls.SecureContext>;
}

function entryOf(
  pair: KeyPair,
  source: CertificateListing['source'],
  resolver?: string,
  key: KeyObject = createPrivateKey(pair.key),
): Entry {
  const info = parseCertificateChain(pair.cert);
  const notBefore = info.notBefore.getTime();
  const notAfter = info.notAfter.getTime();
  return {
    pair,
    keyType: key.asymmetricKeyType ?? 'unknown',
    listing: {
      domains: info.domains,
      issuer: info.issuer,
      notBefore: info.notBefore,
      notAfter: info.notAfter,
      source,
      ...(resolver ? { resolver } : {}),
    },
    fingerprint: info.fingerprint256,
    renewAt: notAfter - (notAfter - notBefore) / 3,
    notAfter,
    contexts: new Map(),
  };
}

/*
 * Said once per certificate and state in this process, not at every handshake:
 * the store is rebuilt at every configuration change, the warning is not.
 */
const warned = new Set<string>();

function warnIfExpiring(e: Entry, log: Logger | undefined): void {
  const now = Date.now();
  if (log === undefined || now < e.renewAt) return;
  const expired = now >= e.notAfter;
  const key = `${e.fingerprint}:${expired ? 'expired' : 'renew'}`;
  if (warned.has(key)) return;
  if (warned.size > 10_000) warned.clear();
  warned.add(key);
  const l = e.listing;
  log.warn(
    {
      domains: l.domains,
      notAfter: l.notAfter.toISOString(),
      source: l.source,
      ...(l.resolver ? { resolver: l.resolver } : {}),
    },
    expired
      ? `tls: serving an expired certificate for ${l.domains.join(', ')} (expired ${l.notAfter.toISOString()})`
      : `tls: certificate for ${l.domains.join(', ')} is within its renewal window (expires ${l.notAfter.toISOString()})`,
  );
}

function contextFor(e: Entry, options: TlsOptions): tls.SecureContext {
  let ctx = e.contexts.get(options.key);
  if (ctx === undefined) {
    ctx = tls.createSecureContext({ ...e.pair, ...contextOptions(options) });
    e.contexts.set(options.key, ctx);
  }
  return ctx;
}

export function buildCertificateStore(
  certs: readonly TlsCertificateConfig[],
  opts: StoreOptions,
): CertificateStore {
  const exact = new Map<string, Entry>();
  const wildcard = new Map<string, Entry>();
  const entries: Entry[] = [];
  const infos: StoredCertificateInfo[] = [];
  const errors: ElementError[] = [];
  certs.forEach((c, i) => {
    const source =
      c.certFile && !c.certFile.includes('-----BEGIN') ? c.certFile : `tls.certificates[${i}]`;
    try {
      const certPem = pemText(c.certFile);
      const keyPem = pemText(c.keyFile);
      const x = new X509Certificate(certPem);
      const key = createPrivateKey(keyPem);
      // a key that does not belong to the certificate would fail every handshake: refuse it now
      if (!x.checkPrivateKey(key)) throw new Error('the key does not match the certificate');
      const entry = entryOf(
        { cert: certPem, key: keyPem },
        c.resolver ? 'acme' : 'file',
        c.resolver,
        key,
      );
      // fails here, not at the first handshake, on a key OpenSSL cannot use
      contextFor(entry, BUILTIN_DEFAULT_OPTIONS);
      entries.push(entry);
      const names = namesOf(x);
      for (const n of names) {
        if (n.startsWith('*.')) {
          if (!wildcard.has(n.slice(2))) wildcard.set(n.slice(2), entry);
        } else if (!exact.has(n)) exact.set(n, entry);
      }
      infos.push({
        names,
        subject: x.subject,
        issuer: x.issuer,
        notBefore: x.validFrom,
        notAfter: x.validTo,
        source,
      });
    } catch (err) {
      errors.push({
        kind: 'tls',
        name: source,
        field: `tls.certificates[${i}]`,
        message: `cannot load certificate: ${(err as Error).message}`,
      });
    }
  });
  const fallback = entryOf(opts.defaultCertificate, 'default');
  const find = (servername: string | undefined): Entry | undefined => {
    if (servername === undefined || servername === '') return undefined;
    const name = servername.toLowerCase();
    const hit = exact.get(name);
    if (hit !== undefined) return hit;
    const dot = name.indexOf('.');
    return dot === -1 ? undefined : wildcard.get(name.slice(dot + 1));
  };
  return {
    certificates: infos,
    errors,
    mixedKeyTypes: entries.some((e) => e.keyType !== fallback.keyType),
    select(servername, options = BUILTIN_DEFAULT_OPTIONS) {
      const e = find(servername) ?? fallback;
      warnIfExpiring(e, opts.logger);
      return contextFor(e, options);
    },
    covers: (servername) => find(servername) !== undefined,
    list: () =>
      [...entries, fallback].map((e) => ({ ...e.listing, domains: [...e.listing.domains] })),
  };
}
