/*
 * Certificate expiry in the log, on a timer: where the providers run (the
 * single process or the cluster primary), every certificate of the merged
 * configuration (files and ACME) is looked at after each configuration change
 * and twice a day; one expiring within 30 days or expired is logged once per
 * certificate per day. (The entrypoints also warn when they serve one; this
 * covers certificates nobody connects to.)
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { TlsCertificateConfig } from '../config/dynamic.js';

const DAY = 86_400_000;
export const EXPIRY_WARNING_DAYS = 30;

export interface ExpiryFinding {
  domains: string[];
  notAfter: Date;
  daysLeft: number;
  expired: boolean;
  resolver?: string;
  fingerprint: string;
}

function pemOf(value: string): string {
  return value.includes('-----BEGIN') ? value : readFileSync(value, 'utf8');
}

function domainsOf(x: X509Certificate): string[] {
  const sans = (x.subjectAltName ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.startsWith('DNS:'))
    .map((p) => p.slice(4));
  if (sans.length > 0) return sans;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x.subject)?.[1];
  return cn ? [cn] : [];
}

/** certificates expiring within `days` (or expired) at `now`; unreadable ones are skipped (validation reports them) */
export function expiringCertificates(
  certs: readonly TlsCertificateConfig[],
  now = Date.now(),
  days = EXPIRY_WARNING_DAYS,
): ExpiryFinding[] {
  const out: ExpiryFinding[] = [];
  for (const c of certs) {
    let x: X509Certificate;
    try {
      x = new X509Certificate(pemOf(c.certFile));
    } catch {
      continue;
    }
    const notAfter = new Date(x.validTo);
    const left = notAfter.getTime() - now;
    if (left > days * DAY) continue;
    out.push({
      domains: domainsOf(x),
      notAfter,
      daysLeft: Math.trunc(left / DAY),
      expired: left <= 0,
      ...(c.resolver ? { resolver: c.resolver } : {}),
      fingerprint: x.fingerprint256,
    });
  }
  return out;
}

export interface ExpiryWatch {
  check(certs: readonly TlsCertificateConfig[]): void;
  close(): void;
}

export function watchExpiry(logger: Logger, now: () => number = Date.now): ExpiryWatch {
  let latest: readonly TlsCertificateConfig[] = [];
  const said = new Map<string, number>();
  const check = (certs: readonly TlsCertificateConfig[]): void => {
    latest = certs;
    const t = now();
    for (const f of expiringCertificates(certs, t)) {
      const key = `${f.fingerprint}:${f.expired}`;
      const last = said.get(key);
      if (last !== undefined && t - last < DAY) continue;
      said.set(key, t);
      logger.warn(
        {
          domains: f.domains,
          notAfter: f.notAfter.toISOString(),
          daysLeft: f.daysLeft,
          ...(f.resolver ? { resolver: f.resolver } : {}),
        },
        f.expired
          ? `tls: the certificate for ${f.domains.join(', ')} has expired`
          : `tls: the certificate for ${f.domains.join(', ')} expires in ${f.daysLeft} days`,
      );
    }
  };
  const timer = setInterval(() => check(latest), DAY / 2);
  timer.unref();
  return { check, close: () => clearInterval(timer) };
}
