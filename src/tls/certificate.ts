/*
 * Reading certificates: what a PEM chain is for (DNS names), when it is valid
 * and who issued it. node:crypto's X509Certificate does the parsing; this
 * file only splits chains and turns its strings into data.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PorticoError } from '../kernel/errors.js';

export interface CertificateInfo {
  /** subject CN, when the certificate has one */
  commonName: string | undefined;
  /** DNS names from subjectAltName, in certificate order */
  sans: string[];
  /** every name the certificate is valid for: CN (if any) first, then the SANs, deduplicated */
  domains: string[];
  notBefore: Date;
  notAfter: Date;
  /** issuer distinguished name, one `key=value` per line as OpenSSL prints it */
  issuer: string;
  /** issuer CN, when present */
  issuerCommonName: string | undefined;
  /** hex, uppercase, as node:crypto reports it */
  serialNumber: string;
  fingerprint256: string;
  /** number of certificates in the chain, leaf included */
  chainLength: number;
}

/** PEM text given inline, or the path of a file holding it (Traefik accepts both for certFile, keyFile, CA files). */
export function pemText(value: string): string {
  return value.includes('-----BEGIN') ? value : readFileSync(value, 'utf8');
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Splits a PEM bundle into its certificates, leaf first (non-certificate blocks are ignored). */
export function splitPemChain(pem: string): string[] {
  return (pem.match(PEM_CERT) ?? []).map((block) => block + '\n');
}

function field(dn: string, key: string): string | undefined {
  for (const line of dn.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0 && line.slice(0, eq).trim() === key) return line.slice(eq + 1).trim();
  }
  return undefined;
}

/** DNS names of a subjectAltName string such as `DNS:a.test, DNS:b.test, IP Address:127.0.0.1`. */
export function dnsNames(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  const names: string[] = [];
  // values may be quoted when they contain a comma (Node >= 17.3.1 escapes them, CVE-2021-44532)
  for (const m of subjectAltName.matchAll(/(?:^|,\s*)DNS:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    let v = m[1]!.trim();
    if (v.startsWith('"')) v = JSON.parse(v) as string;
    names.push(v.toLowerCase());
  }
  return names;
}

/** Parses the leaf of a PEM chain. Throws PORTICO_ERR_CERTIFICATE when there is no certificate. */
export function parseCertificateChain(pem: string | Buffer): CertificateInfo {
  const chain = splitPemChain(pem.toString());
  const leafPem = chain[0];
  if (!leafPem) throw new PorticoError('PORTICO_ERR_CERTIFICATE', 'no PEM certificate found');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(leafPem);
  } catch (err) {
    throw new PorticoError('PORTICO_ERR_CERTIFICATE', `invalid certificate: ${String(err)}`, {
      cause: err,
    });
  }
  const commonName = field(leaf.subject, 'CN')?.toLowerCase();
  const sans = dnsNames(leaf.subjectAltName);
  const domains = [...new Set([...(commonName ? [commonName] : []), ...sans])];
  return {
    commonName,
    sans,
    domains,
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
    issuer: leaf.issuer,
    issuerCommonName: field(leaf.issuer, 'CN'),
    serialNumber: leaf.serialNumber,
    fingerprint256: leaf.fingerprint256,
    chainLength: chain.length,
  };
}

/** Whether `name` is covered by `pattern` (exact, or a single-label `*.` wildcard, RFC 6125 6.4.3). */
export function nameMatches(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase();
  const n = name.toLowerCase();
  if (p === n) return true;
  if (!p.startsWith('*.')) return false;
  const dot = n.indexOf('.');
  return dot > 0 && n.slice(dot) === p.slice(1);
}

/** Whether a certificate for `domains` covers every name in `wanted`. */
export function coversAll(domains: readonly string[], wanted: readonly string[]): boolean {
  return wanted.every((w) => domains.some((d) => nameMatches(d, w)));
}
