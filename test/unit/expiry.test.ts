/* Certificate expiry warnings on a timer (src/tls/expiry.ts): which certificates, and said once a day. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import selfsigned from 'selfsigned';
import { describe, expect, it } from 'vitest';
import { expiringCertificates, watchExpiry } from '../../src/tls/expiry.js';

const DAY = 86_400_000;
const now = Date.now();

async function cert(
  name: string,
  from: number,
  to: number,
): Promise<{ certFile: string; keyFile: string }> {
  const p = await selfsigned.generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    notBeforeDate: new Date(from),
    notAfterDate: new Date(to),
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: name }] }],
  });
  return { certFile: p.cert, keyFile: p.private };
}

describe('certificate expiry', () => {
  it('finds the certificates expiring within 30 days and the expired ones, not the others', async () => {
    const certs = [
      await cert('soon.test', now - DAY, now + 10 * DAY + 60_000),
      await cert('gone.test', now - 10 * DAY, now - DAY),
      await cert('fine.test', now - DAY, now + 60 * DAY),
      { certFile: 'not a pem and not a file', keyFile: '' },
    ];
    const found = expiringCertificates(certs, now);
    expect(found.map((f) => [f.domains, f.daysLeft, f.expired])).toEqual([
      [['soon.test'], 10, false],
      [['gone.test'], -1, true],
    ]);
  });

  it('logs each one once a day, with its domains and expiry', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        cb();
      },
    });
    let t = now;
    const w = watchExpiry(pino({ level: 'warn' }, sink), () => t);
    const certs = [await cert('soon.test', now - DAY, now + 5 * DAY + 60_000)];
    w.check(certs);
    w.check(certs);
    t += DAY / 2;
    w.check(certs);
    t += DAY;
    w.check(certs);
    w.close();
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => l.msg)).toEqual([
      'tls: the certificate for soon.test expires in 5 days',
      'tls: the certificate for soon.test expires in 3 days',
    ]);
    expect(lines[0]).toMatchObject({ level: 40, domains: ['soon.test'], daysLeft: 5 });
  });
});
