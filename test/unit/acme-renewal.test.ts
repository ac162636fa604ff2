/*
 * The ACME renewal rules (src/tls/acme/renewal.ts), on a fixed clock: when a
 * stored certificate can be served without an order, when it is due, how
 * long a failing domain waits, and when the next renewal check runs.
 */
import { describe, expect, it } from 'vitest';
import { backoffMs, nextCheckMs, RenewalPolicy } from '../../src/tls/acme/renewal.js';
import type { StoredCertificate } from '../../src/tls/storage/types.js';

const DAY = 24 * 3_600_000;
const T0 = Date.UTC(2030, 0, 1);

/** a 90-day certificate issued `ageDays` before T0 */
function cert(
  ageDays: number,
  main = 'a.test',
  sans: string[] = [],
  serial = '01',
): StoredCertificate {
  const notBefore = new Date(T0 - ageDays * DAY);
  return {
    domains: { main, sans },
    certificatePem: '',
    keyPem: '',
    notBefore,
    notAfter: new Date(notBefore.getTime() + 90 * DAY),
    serialNumber: serial,
    store: 'default',
  };
}

const policy = (renewBeforeMs?: number) => new RenewalPolicy(() => T0, renewBeforeMs);
const want = (main: string, sans: string[] = []) => ({ main, sans });

describe('RenewalPolicy', () => {
  it.each([
    // [age in days, due with the default third of the lifetime (30 days before expiry)]
    [0, false],
    [59, false],
    [60, true],
    [89, true],
  ])('a 90-day certificate aged %i days: due %s', (age, due) => {
    expect(policy().isDue(cert(age))).toBe(due);
    expect(policy().isValid(cert(age))).toBe(true);
  });

  it('renewBeforeMs replaces the third of the lifetime', () => {
    expect(policy(10 * DAY).isDue(cert(60))).toBe(false);
    expect(policy(10 * DAY).isDue(cert(80))).toBe(true);
  });

  it('an expired certificate is neither usable nor fresh', () => {
    expect(policy().isValid(cert(91))).toBe(false);
    expect(policy().usable(cert(91), want('a.test'))).toBe(false);
    expect(policy().fresh(cert(91), want('a.test'))).toBe(false);
  });

  it.each([
    [cert(1, 'a.test', ['b.test']), want('a.test', ['b.test']), true],
    [cert(1, 'a.test'), want('a.test', ['b.test']), false],
    [cert(1, '*.a.test'), want('x.a.test'), true],
    [cert(1, 'a.test'), want('A.TEST'), true],
  ])('%#: covers the wanted names: %s', (c, d, expected) => {
    expect(policy().fresh(c, d)).toBe(expected);
  });

  it('a due certificate is fresh only when it is not the one being replaced', () => {
    const due = cert(70, 'a.test', [], '0a');
    expect(policy().usable(due, want('a.test'))).toBe(true);
    expect(policy().fresh(due, want('a.test'))).toBe(false);
    expect(policy().fresh(due, want('a.test'), '0a')).toBe(false);
    // another replica renewed it while we waited for the lock
    expect(policy().fresh(due, want('a.test'), '09')).toBe(true);
  });
});

describe('backoffMs', () => {
  it.each([
    [1, 60_000],
    [2, 120_000],
    [3, 240_000],
    [6, 1_920_000],
    [7, 3_600_000],
    [30, 3_600_000],
  ])('after %i failures in a row: %i ms', (failures, ms) => {
    expect(backoffMs(failures, 60_000, 3_600_000)).toBe(ms);
  });
});

describe('nextCheckMs', () => {
  it('waits the interval, at most a day, when nothing falls due sooner', () => {
    expect(nextCheckMs([cert(0)], policy(), 3_600_000)).toBe(3_600_000);
    expect(nextCheckMs([], policy(), 7 * DAY)).toBe(DAY);
  });

  it('checks when a certificate falls due, if that is sooner', () => {
    // due at 60 days: 2 hours from now
    const c = cert(60 - 2 / 24);
    expect(nextCheckMs([undefined, cert(0), c], policy(), DAY)).toBe(2 * 3_600_000);
  });

  it('never loops on a certificate that is already due (its own backoff retries it)', () => {
    expect(nextCheckMs([cert(80)], policy(), DAY)).toBe(DAY);
    expect(nextCheckMs([cert(60 - 1 / 86_400_000)], policy(), DAY)).toBe(1000);
  });
});
