/*
 * The certificate store: the certificates of the dynamic configuration
 * (`tls.certificates`, files or inline PEM) indexed by the names they cover,
 * plus a default certificate. SNI selection prefers an exact name, then a
 * wildcard one label up, then the default, as Traefik does. The store is
 * built with the routing table and swapped with it.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import tls from 'node:tls';
import type { ElementError, TlsCertificateConfig } from '../config/dynamic.js';

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

export interface CertificateStore {
  /** the context to present for an SNI name (undefined name: no SNI sent) */
  select(servername: string | undefined): tls.SecureContext;
  readonly certificates: readonly StoredCertificateInfo[];
  readonly errors: readonly ElementError[];
}

/** PEM text or a file holding it (Traefik accepts both for certFile/keyFile). */
function pemOf(value: string): string {
  return value.includes('-----BEGIN') ? value : readFileSync(value, 'utf8');
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
  minVersion?: tls.SecureVersion;
}

export function buildCertificateStore(
  certs: readonly TlsCertificateConfig[],
  opts: StoreOptions,
): CertificateStore {
  const minVersion = opts.minVersion ?? 'TLSv1.2';
  const exact = new Map<string, tls.SecureContext>();
  const wildcard = new Map<string, tls.SecureContext>();
  const infos: StoredCertificateInfo[] = [];
  const errors: ElementError[] = [];
  certs.forEach((c, i) => {
    const source =
      c.certFile && !c.certFile.includes('-----BEGIN') ? c.certFile : `tls.certificates[${i}]`;
    try {
      const certPem = pemOf(c.certFile);
      const keyPem = pemOf(c.keyFile);
      const x = new X509Certificate(certPem);
      // a key that does not belong to the certificate would fail every handshake: refuse it now
      if (!x.checkPrivateKey(createPrivateKey(keyPem)))
        throw new Error('the key does not match the certificate');
      const ctx = tls.createSecureContext({ cert: certPem, key: keyPem, minVersion });
      const names = namesOf(x);
      for (const n of names) {
        if (n.startsWith('*.')) {
          if (!wildcard.has(n.slice(2))) wildcard.set(n.slice(2), ctx);
        } else if (!exact.has(n)) exact.set(n, ctx);
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
  const fallback = tls.createSecureContext({ ...opts.defaultCertificate, minVersion });
  return {
    certificates: infos,
    errors,
    select(servername) {
      if (servername === undefined || servername === '') return fallback;
      const name = servername.toLowerCase();
      const hit = exact.get(name);
      if (hit !== undefined) return hit;
      const dot = name.indexOf('.');
      if (dot !== -1) {
        const w = wildcard.get(name.slice(dot + 1));
        if (w !== undefined) return w;
      }
      return fallback;
    },
  };
}
