/*
 * Coordination through the certificate storage (src/tls/acme/storage-lock.ts)
 * with the real FileStorage: one caller holds the lock, another waits for its
 * result, a storage event wakes the waiter early, and waiting ends with a
 * coded error on timeout or close.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/tls/acme/errors.js';
import { StorageLocks } from '../../src/tls/acme/storage-lock.js';
import { FileStorage } from '../../src/tls/storage/file.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const storage = new FileStorage(path.join(dir, 'acme.json'));

function locks(opts: { ttlMs?: number; pollMs?: number; closed?: () => boolean } = {}) {
  return new StorageLocks({
    resolver: 'le',
    storage,
    ttlMs: opts.ttlMs ?? 60_000,
    pollMs: opts.pollMs ?? 60_000,
    log: silentLogger,
    isClosed: opts.closed ?? (() => false),
  });
}

describe('StorageLocks', () => {
  it('the first caller takes the lock; after release the next one does', async () => {
    const l = locks();
    const first = await l.wait('le:a.test', async () => 'never');
    expect(first.acquired).toBe(true);
    if (!first.acquired) return;
    await first.release();
    const second = await l.wait('le:a.test', async () => 'never');
    expect(second.acquired).toBe(true);
  });

  it("a waiter woken by the domain's storage event gets the holder's result", async () => {
    const l = locks();
    const held = await l.wait('le:b.test', async () => undefined, 'b.test');
    expect(held.acquired).toBe(true);
    const holder: { result?: string } = {};
    const waiting = l.wait('le:b.test', async () => holder.result, 'b.test');
    // the poll interval is a minute: only wake() can end this wait within the test's time
    holder.result = 'issued by the holder';
    // the event may come before the waiter has asked the storage once: repeat it until it lands
    const events = setInterval(() => l.wake('b.test'), 10);
    try {
      await expect(waiting).resolves.toEqual({ acquired: false, value: 'issued by the holder' });
    } finally {
      clearInterval(events);
    }
  });

  it('gives up after the lock TTL with PORTICO_ERR_ACME_LOCK_TIMEOUT', async () => {
    await locks().wait('le:c.test', async () => undefined);
    const impatient = locks({ ttlMs: 50, pollMs: 20 });
    await expect(
      impatient.wait('le:c.test', async () => undefined, 'c.test'),
    ).rejects.toMatchObject({ code: 'PORTICO_ERR_ACME_LOCK_TIMEOUT', domain: 'c.test' });
  });

  it('a closed resolver stops waiting with PORTICO_ERR_ACME_CLOSED', async () => {
    let closed = false;
    const l = locks({ closed: () => closed });
    await l.wait('le:d.test', async () => undefined);
    const waiting = l.wait('le:d.test', async () => undefined, 'd.test');
    closed = true;
    const closing = setInterval(() => l.wakeAll(), 10);
    try {
      await expect(waiting).rejects.toMatchObject({
        code: 'PORTICO_ERR_ACME_CLOSED',
        domain: 'd.test',
      });
    } finally {
      clearInterval(closing);
    }
  });
});
