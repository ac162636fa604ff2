/*
 * When a certificate is good enough and when to try again: pure functions of
 * the certificate, the wanted domains and the clock, so they are tested
 * without a CA. A certificate is due when less than `renewBeforeMs` (default
 * a third of its lifetime, Let's Encrypt's advice) is left.
 */
import { coversAll } from '../certificate.js';
import type { CertificateDomains, StoredCertificate } from '../storage/types.js';

export class RenewalPolicy {
  constructor(
    private readonly now: () => number,
    private readonly renewBeforeMs: number | undefined,
  ) {}

  renewBefore(c: StoredCertificate): number {
    return this.renewBeforeMs ?? (c.notAfter.getTime() - c.notBefore.getTime()) / 3;
  }

  isValid(c: StoredCertificate): boolean {
    return this.now() < c.notAfter.getTime();
  }

  isDue(c: StoredCertificate): boolean {
    return this.now() >= c.notAfter.getTime() - this.renewBefore(c);
  }

  covers(c: StoredCertificate, d: CertificateDomains): boolean {
    return coversAll([c.domains.main, ...c.domains.sans], [d.main, ...d.sans]);
  }

  /** still serves `d` (covers it, not expired), though perhaps due */
  usable(c: StoredCertificate | undefined, d: CertificateDomains): c is StoredCertificate {
    return !!c && this.covers(c, d) && this.isValid(c);
  }

  /** usable without an order: covers, valid, and not due, or newer than the one we set out to replace */
  fresh(c: StoredCertificate | undefined, d: CertificateDomains, baseline?: string): boolean {
    return (
      this.usable(c, d) &&
      (!this.isDue(c) || (baseline !== undefined && c.serialNumber !== baseline))
    );
  }

  /** ms until `c` falls due (≤ 0: already due) */
  untilDue(c: StoredCertificate): number {
    return c.notAfter.getTime() - this.renewBefore(c) - this.now();
  }
}

/** The wait after the `failures`-th failure in a row: doubling from `minMs`, capped at `maxMs`. */
export function backoffMs(failures: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** (failures - 1));
}

/**
 * The next renewal check: every `intervalMs` (at most a day), or sooner when a
 * certificate falls due before that (short-lived certificates would otherwise
 * expire between two daily checks); never sooner than 1 s, as a certificate
 * that is already due is retried by its own backoff.
 */
export function nextCheckMs(
  certs: Iterable<StoredCertificate | undefined>,
  policy: RenewalPolicy,
  intervalMs: number,
): number {
  let wait = Math.min(intervalMs, 24 * 3_600_000);
  for (const c of certs) {
    if (c === undefined) continue;
    const until = policy.untilDue(c);
    // already due: in flight, or waiting for its backoff retry
    if (until > 0) wait = Math.min(wait, until);
  }
  return Math.max(1000, wait);
}
