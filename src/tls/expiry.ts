/*
 * Certificate expiry in the log, on a timer: where the providers run (the
 * single process or the cluster primary), every certificate of the merged
 * configuration (files and ACME) is looked at after each configuration change
 * and twice a day; one expiring within 30 days or expired is logged once per
 * certificate per day. (The entrypoints also warn when they serve one; this
 * covers certificates nobody connects to.)
 */
import type { Logger } from 'pino';
import type { TlsCertificateConfig } from '../config/dynamic.js';
import { parseCertificateChain, pemText, type CertificateInfo } from './certificate.js';

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

/** certificates expiring within `days` (or expired) at `now`; unreadable ones are skipped (validation reports them) */
export function expiringCertificates(
  certs: readonly TlsCertificateConfig[],
  now = Date.now(),
  days = EXPIRY_WARNING_DAYS,
): ExpiryFinding[] {
  const out: ExpiryFinding[] = [];
  for (const c of certs) {
    let x: CertificateInfo;
    try {
      x = parseCertificateChain(pemText(c.certFile));
    } catch {
      continue;
    }
    const left = x.notAfter.getTime() - now;
    if (left > days * DAY) continue;
    out.push({
      domains: x.domains,
      notAfter: x.notAfter,
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
