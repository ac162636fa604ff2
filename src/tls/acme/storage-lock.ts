/*
 * Coordination through the certificate storage: one replica takes a storage
 * lock and orders, the others wait for its result. A waiter polls, and is
 * woken early when the storage reports a new certificate for its domain (a
 * shared storage's watch), or when the resolver closes.
 */
import type { CertificateStorage } from '../storage/types.js';
import { AcmeError, closedError, errorMessage, type AcmeLogger } from './errors.js';

export type LockResult<T> =
  { acquired: true; release(): Promise<void> } | { acquired: false; value: T };

export interface StorageLocksOptions {
  resolver: string;
  storage: CertificateStorage;
  /** how long one holder may keep a lock */
  ttlMs: number;
  /** how often a waiter looks for the holder's result */
  pollMs: number;
  log: AcmeLogger;
  isClosed(): boolean;
}

export class StorageLocks {
  /** waiters per main domain, woken by that domain's certificate events */
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly opts: StorageLocksOptions) {}

  /**
   * Takes the storage lock `key`, or waits (polling, woken by storage events
   * for `main`) until `ready()` finds the holder's result or the lock can be
   * taken. Gives up after the lock's TTL and one poll.
   */
  async wait<T>(
    key: string,
    ready: () => Promise<T | undefined>,
    main?: string,
  ): Promise<LockResult<T>> {
    const { resolver, storage, ttlMs, pollMs, log } = this.opts;
    const deadline = Date.now() + ttlMs + pollMs;
    for (;;) {
      if (this.opts.isClosed()) throw closedError(resolver, main);
      const lock = await storage.lock(key, ttlMs);
      if (lock) {
        return {
          acquired: true,
          release: () =>
            lock
              .release()
              .catch((err: unknown) =>
                log.warn({ resolver, lock: key, err: errorMessage(err) }, 'cannot release lock'),
              ),
        };
      }
      if (Date.now() > deadline)
        throw new AcmeError(
          'PORTICO_ERR_ACME_LOCK_TIMEOUT',
          `timed out waiting for lock ${key}`,
          main,
        );
      log.debug({ resolver, lock: key }, 'another instance holds the lock, waiting');
      await this.pause(main);
      const value = await ready();
      if (value !== undefined) return { acquired: false, value };
    }
  }

  /** A certificate for `main` changed in storage: its waiters look now. */
  wake(main: string): void {
    for (const w of this.waiters.get(main) ?? []) w();
  }

  /** Every waiter looks now (on close, they then give up). */
  wakeAll(): void {
    for (const set of this.waiters.values()) for (const w of set) w();
  }

  /** One poll interval, cut short by wake(main). */
  private pause(main: string | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const set = main ? (this.waiters.get(main) ?? new Set()) : undefined;
      const done = (): void => {
        clearTimeout(t);
        set?.delete(done);
        resolve();
      };
      const t = setTimeout(done, this.opts.pollMs);
      if (main && set) {
        set.add(done);
        this.waiters.set(main, set);
      }
    });
  }
}
