/*
 * The certificate store: the certificates of the dynamic configuration
 * (`tls.certificates`, files or inline PEM, and the ACME resolvers'
 * certificates) indexed by the names they cover, plus a default certificate.
 * SNI selection prefers an exact name, then a wildcard one label up, then the
 * default, as Traefik does. The store is built with the routing table and
 * swapped with it.
 *
 * The default certificate is Traefik's TLS store `default` (issue 13 item 2):
 * its `defaultCertificate`, else the certificate of its `defaultGeneratedCert`
 * domains once the ACME resolver has published it (src/tls/acme/manager.ts),
 * else the generated one (pkg/tls/tlsmanager.go getDefaultCertificate). Other
 * stores are ignored, as Traefik documents ("only one globally available TLS
 * store"). A default that cannot be loaded is reported with the store and the
 * field, and the generated one is served.
 *
 * Secure contexts are made lazily, one per (certificate, TLS options) pair,
 * since the options of a handshake (versions, ciphers, client CA) depend on
 * the routers of the SNI name and live in the same context as the key pair.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { ElementError, TlsCertificateConfig, TlsStoreConfig } from '../config/dynamic.js';
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
  /**
   * The certificate presented when no other covers the SNI name and when the
   * client sends no SNI; the TLS server's own context follows it (handshakes
   * without SNI use that context, src/tls/handshake.ts). `fingerprint` tells
   * one default from the next across table swaps.
   */
  readonly defaultCertificate: { pair: KeyPair; fingerprint: string };
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
  /** the generated default certificate (Traefik's TRAEFIK DEFAULT CERT), served when no store says otherwise */
  defaultCertificate: KeyPair;
  /** `tls.stores` of the dynamic configuration; only `default` is used, as in Traefik */
  stores?: Readonly<Record<string, TlsStoreConfig>> | undefined;
  /** the configured certificatesResolvers; when given, an unknown defaultGeneratedCert.resolver is reported */
  certResolvers?: readonly string[] | undefined;
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

/** Reads a certificate and its key (files or inline PEM) and checks that they belong together. */
function loadPair(
  certFile: string,
  keyFile: string,
): { pair: KeyPair; x: X509Certificate; key: KeyObject } {
  const cert = pemText(certFile);
  const keyPem = pemText(keyFile);
  const x = new X509Certificate(cert);
  const key = createPrivateKey(keyPem);
  // a key that does not belong to the certificate would fail every handshake: refuse it now
  if (!x.checkPrivateKey(key)) throw new Error('the key does not match the certificate');
  return { pair: { cert, key: keyPem }, x, key };
}

function contextFor(e: Entry, options: TlsOptions): tls.SecureContext {
  let ctx = e.contexts.get(options.key);
  if (ctx === undefined) {
    ctx = tls.createSecureContext({ ...e.pair, ...contextOptions(options) });
    e.contexts.set(options.key, ctx);
  }
  return ctx;
}

const DEFAULT_STORE = 'default';

/** A domain as Traefik compares it (types.CanonicalDomain, dns01.UnFqdn): lower case, no final dot. */
function canonical(domain: string): string {
  return domain.trim().toLowerCase().replace(/\.$/, '');
}

/**
 * The default certificate the `default` TLS store asks for, or undefined for
 * the generated one. Problems go to `errors` with the store's name and field;
 * none of them touches the other certificates.
 */
function storeDefault(
  opts: StoreOptions,
  entries: readonly Entry[],
  named: ReadonlyMap<Entry, ReadonlySet<string>>,
  errors: ElementError[],
): Entry | undefined {
  const stores = opts.stores ?? {};
  for (const name of Object.keys(stores)) {
    if (name === DEFAULT_STORE) continue;
    errors.push({
      kind: 'tls',
      name: `tls.stores.${name}`,
      message: `only the store named ${DEFAULT_STORE} is used, as in Traefik; this store is ignored`,
    });
  }
  const store = stores[DEFAULT_STORE];
  if (store === undefined) return undefined;
  const report = (field: string, message: string): undefined => {
    errors.push({ kind: 'tls', name: `tls.stores.${DEFAULT_STORE}`, field, message });
    return undefined;
  };
  const generated = store.defaultGeneratedCert;
  if (store.defaultCertificate !== undefined) {
    // Traefik gives precedence to the user's certificate and warns (pkg/provider/acme/provider.go)
    if (generated !== undefined)
      report(
        'defaultGeneratedCert',
        'defaultCertificate and defaultGeneratedCert cannot be defined at the same time; defaultCertificate is used',
      );
    try {
      const { pair, key } = loadPair(
        store.defaultCertificate.certFile,
        store.defaultCertificate.keyFile,
      );
      const entry = entryOf(pair, 'default', undefined, key);
      contextFor(entry, BUILTIN_DEFAULT_OPTIONS);
      return entry;
    } catch (err) {
      return report(
        'defaultCertificate',
        `cannot load the default certificate: ${(err as Error).message}; the generated default certificate is served`,
      );
    }
  }
  if (generated === undefined) return undefined;
  if (!generated.resolver || !generated.domain?.main)
    return report(
      'defaultGeneratedCert',
      'defaultGeneratedCert needs a resolver and domain.main; the generated default certificate is served',
    );
  if (opts.certResolvers !== undefined && !opts.certResolvers.includes(generated.resolver))
    return report(
      'defaultGeneratedCert.resolver',
      `certificate resolver "${generated.resolver}" does not exist; the generated default certificate is served`,
    );
  /*
   * Traefik's CertificateStore.GetCertificate: a certificate whose names
   * include every domain asked for. The resolver's own is preferred; until it
   * is published (the ACME manager orders it) the generated one is served.
   */
  const wanted = [generated.domain.main, ...(generated.domain.sans ?? [])].map(canonical);
  const fits = (e: Entry): boolean => wanted.every((d) => named.get(e)?.has(d) === true);
  return (
    entries.find((e) => e.listing.resolver === generated.resolver && fits(e)) ?? entries.find(fits)
  );
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
  const named = new Map<Entry, ReadonlySet<string>>();
  certs.forEach((c, i) => {
    const source =
      c.certFile && !c.certFile.includes('-----BEGIN') ? c.certFile : `tls.certificates[${i}]`;
    try {
      const { pair, x, key } = loadPair(c.certFile, c.keyFile);
      const entry = entryOf(pair, c.resolver ? 'acme' : 'file', c.resolver, key);
      // fails here, not at the first handshake, on a key OpenSSL cannot use
      contextFor(entry, BUILTIN_DEFAULT_OPTIONS);
      entries.push(entry);
      const names = namesOf(x);
      named.set(entry, new Set(names));
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
  const fallback =
    storeDefault(opts, entries, named, errors) ?? entryOf(opts.defaultCertificate, 'default');
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
    defaultCertificate: { pair: fallback.pair, fingerprint: fallback.fingerprint },
    select(servername, options = BUILTIN_DEFAULT_OPTIONS) {
      const e = find(servername) ?? fallback;
      warnIfExpiring(e, opts.logger);
      return contextFor(e, options);
    },
    covers: (servername) => find(servername) !== undefined,
    // a defaultGeneratedCert certificate is one of the entries already: listed once
    list: () =>
      (entries.includes(fallback) ? entries : [...entries, fallback]).map((e) => ({
        ...e.listing,
        domains: [...e.listing.domains],
      })),
  };
}
