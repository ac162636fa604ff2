/*
 * PassTLSClientCert: hands the client certificate of a mutual-TLS connection
 * to the upstream, as PEM (X-Forwarded-Tls-Client-Cert) and/or as selected
 * fields (X-Forwarded-Tls-Client-Cert-Info), in Traefik v3's formats. The
 * headers are only ever Portico's own: a value the client sent is removed,
 * and a plain-HTTP request gets none. The formatted values are cached per
 * connection, since a keep-alive connection keeps its certificate.
 */
import { X509Certificate } from 'node:crypto';
import type { TLSSocket, DetailedPeerCertificate } from 'node:tls';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import {
  passTLSClientCert as schema,
  type CertificateInfoOptions,
  type DistinguishedNameOptions,
} from '../src/config/schema/middlewares/response.js';

export type { CertificateInfoOptions, DistinguishedNameOptions };

const CERT_HEADER = 'x-forwarded-tls-client-cert';
const INFO_HEADER = 'x-forwarded-tls-client-cert-info';

/** The PEM body of each certificate (no BEGIN/END lines, no newlines), comma-separated. */
export function formatCertificatePem(chain: readonly X509Certificate[]): string {
  return chain
    .map((c) =>
      c
        .toString()
        .replace('-----BEGIN CERTIFICATE-----', '')
        .replace('-----END CERTIFICATE-----', '')
        .replace(/\n/g, ''),
    )
    .join(',');
}

/** Undoes OpenSSL's RFC 2253 escaping in Node's name lines (`\,` and `\XX`). */
function unescapeDn(value: string): string {
  if (!value.includes('\\')) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && i + 1 < value.length) {
      const hex = value.slice(i + 1, i + 3);
      if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
        bytes.push(parseInt(hex, 16));
        i += 2;
      } else {
        bytes.push(...Buffer.from(value[i + 1]!, 'utf8'));
        i += 1;
      }
    } else bytes.push(...Buffer.from(c, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** A name as attribute → values in certificate order, from Node's one-attribute-per-line form. */
function parseName(name: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of name.split('\n')) {
    // a multi-valued RDN is printed "A=x + B=y" on one line
    for (const part of line.split(' + ')) {
      const eq = part.indexOf('=');
      if (eq <= 0) continue;
      const key = part.slice(0, eq);
      let list = out.get(key);
      if (list === undefined) out.set(key, (list = []));
      list.push(unescapeDn(part.slice(eq + 1)));
    }
  }
  return out;
}

/** Go's order: DC, C, ST, L, O, OU, SN, CN; each "K=v," and the last comma dropped. */
function formatName(name: string, o: DistinguishedNameOptions): string {
  const n = parseName(name);
  const parts: string[] = [];
  const add = (enabled: boolean | undefined, key: string, label: string, all = true): void => {
    if (!enabled) return;
    const values = n.get(key) ?? [];
    // Go's pkix.Name keeps only the last SERIALNUMBER and CN
    for (const v of all ? values : values.slice(-1)) if (v !== '') parts.push(`${label}=${v}`);
  };
  add(o.domainComponent, 'DC', 'DC');
  add(o.country, 'C', 'C');
  add(o.province, 'ST', 'ST');
  add(o.locality, 'L', 'L');
  add(o.organization, 'O', 'O');
  add(o.organizationalUnit, 'OU', 'OU');
  add(o.serialNumber, 'serialNumber', 'SN', false);
  add(o.commonName, 'CN', 'CN', false);
  return parts.join(',');
}

/** Splits Node's subjectAltName ("DNS:a, IP Address:1.2.3.4, ..."), honouring JSON-quoted values. */
function parseSans(text: string | undefined): { type: string; value: string }[] {
  const out: { type: string; value: string }[] = [];
  if (text === undefined || text === '') return out;
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon === -1) break;
    const type = text.slice(i, colon);
    let j = colon + 1;
    let value: string;
    if (text[j] === '"') {
      let k = j + 1;
      while (k < text.length && text[k] !== '"') k += text[k] === '\\' ? 2 : 1;
      value = JSON.parse(text.slice(j, k + 1)) as string;
      j = k + 1;
    } else {
      const comma = text.indexOf(', ', j);
      const end = comma === -1 ? text.length : comma;
      value = text.slice(j, end);
      j = end;
    }
    out.push({ type, value });
    i = text.startsWith(', ', j) ? j + 2 : j + 1;
  }
  return out;
}

/** Go prints IPs in their shortest form (::1), Node in full (0:0:0:0:0:0:0:1). */
function shortIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}

/** SANs in Go's order: DNS names, e-mail addresses, IP addresses, URIs. */
export function certificateSans(cert: X509Certificate): string[] {
  const sans = parseSans(cert.subjectAltName);
  const pick = (type: string, map = (v: string) => v): string[] =>
    sans.filter((s) => s.type === type).map((s) => map(s.value));
  return [...pick('DNS'), ...pick('email'), ...pick('IP Address', shortIp), ...pick('URI')];
}

/**
 * The Info header value before escaping: per certificate
 * `Subject="...";Issuer="...";SerialNumber="...";NB="...";NA="...";SAN="..."`
 * (absent fields left out), certificates separated by ",".
 */
export function formatCertificateInfo(
  chain: readonly X509Certificate[],
  info: CertificateInfoOptions,
): string {
  return chain
    .map((cert) => {
      const values: string[] = [];
      if (info.subject) {
        const s = formatName(cert.subject, info.subject);
        if (s !== '') values.push(`Subject="${s}"`);
      }
      if (info.issuer) {
        const s = formatName(cert.issuer, info.issuer);
        if (s !== '') values.push(`Issuer="${s}"`);
      }
      if (info.serialNumber && cert.serialNumber !== '')
        values.push(`SerialNumber="${BigInt('0x' + cert.serialNumber).toString()}"`);
      if (info.notBefore) values.push(`NB="${Math.floor(Date.parse(cert.validFrom) / 1000)}"`);
      if (info.notAfter) values.push(`NA="${Math.floor(Date.parse(cert.validTo) / 1000)}"`);
      if (info.sans) {
        const sans = certificateSans(cert);
        if (sans.length > 0) values.push(`SAN="${sans.join(',')}"`);
      }
      return values.join(';');
    })
    .join(',');
}

/** Go's url.QueryEscape: only A-Z a-z 0-9 - _ . ~ stay, space becomes +. */
export function goQueryEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    if (
      (b >= 0x30 && b <= 0x39) ||
      (b >= 0x41 && b <= 0x5a) ||
      (b >= 0x61 && b <= 0x7a) ||
      b === 0x2d ||
      b === 0x5f ||
      b === 0x2e ||
      b === 0x7e
    )
      out += String.fromCharCode(b);
    else if (b === 0x20) out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/**
 * The certificates the client presented, leaf first. Node's detailed chain
 * also carries the root it was verified against, which the client did not
 * send (Go's PeerCertificates would not have it): a self-signed certificate
 * at the end of a longer chain is left out.
 */
export function peerCertificateChain(socket: TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  let cur: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  const seen = new Set<DetailedPeerCertificate>();
  while (cur !== undefined && cur.raw !== undefined && !seen.has(cur)) {
    seen.add(cur);
    chain.push(new X509Certificate(cur.raw));
    cur = cur.issuerCertificate;
  }
  if (chain.length > 1) {
    const last = chain[chain.length - 1]!;
    if (last.subject === last.issuer && last.checkIssued(last)) chain.pop();
  }
  return chain;
}

interface Formatted {
  pem: string | undefined;
  info: string | undefined;
}

export const passTLSClientCert: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw) {
    const o = decodeOptions(schema.options, raw);
    const pem = o.pem === true;
    const info = o.info;
    if (!pem && info === undefined) return (next) => next;
    const cache = new WeakMap<TLSSocket, Formatted>();
    const format = (socket: TLSSocket): Formatted => {
      let f = cache.get(socket);
      if (f === undefined) {
        const chain = peerCertificateChain(socket);
        f =
          chain.length === 0
            ? { pem: undefined, info: undefined }
            : {
                pem: pem ? formatCertificatePem(chain) : undefined,
                info: info ? goQueryEscape(formatCertificateInfo(chain, info)) : undefined,
              };
        cache.set(socket, f);
      }
      return f;
    };
    return (next) => (ctx) => {
      const headers = ctx.req.headers;
      if (pem) delete headers[CERT_HEADER];
      if (info) delete headers[INFO_HEADER];
      const socket = ctx.req.socket as TLSSocket;
      if (socket.encrypted === true) {
        const f = format(socket);
        if (f.pem !== undefined) headers[CERT_HEADER] = f.pem;
        if (f.info !== undefined) headers[INFO_HEADER] = f.info;
      }
      next(ctx);
    };
  },
};
