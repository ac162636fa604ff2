/*
 * The file provider's watching pieces on their own (providers/file/watch.ts
 * and the error log of index.ts). The provider reloading real files is in
 * file-provider.test.ts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ElementError } from '../../src/config/dynamic.js';
import { createErrorLog } from '../../providers/file/index.js';
import { createDebouncer, relevantName } from '../../providers/file/watch.js';

describe('relevantName', () => {
  it('in a directory: configuration files, extensionless names and the ConfigMap swap', () => {
    expect(relevantName('routes.yml', undefined)).toBe(true);
    expect(relevantName('routes.json', undefined)).toBe(true);
    expect(relevantName('sub', undefined)).toBe(true);
    expect(relevantName('..data', undefined)).toBe(true);
    expect(relevantName(null, undefined)).toBe(true);
  });

  it('in a directory: editor swap and backup files do not count', () => {
    expect(relevantName('.routes.yml.swp', undefined)).toBe(false);
    expect(relevantName('routes.yml~', undefined)).toBe(false);
    expect(relevantName('notes.txt', undefined)).toBe(false);
  });

  it('for one file: only that file (and the ConfigMap swap)', () => {
    expect(relevantName('dynamic.yml', '/etc/portico/dynamic.yml')).toBe(true);
    expect(relevantName('other.yml', '/etc/portico/dynamic.yml')).toBe(false);
    expect(relevantName('..data', '/etc/portico/dynamic.yml')).toBe(true);
  });
});

describe('createDebouncer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires once after a quiet time, however many events came before', () => {
    vi.useFakeTimers();
    let fired = 0;
    const d = createDebouncer(50, 500, () => fired++);
    d.schedule();
    vi.advanceTimersByTime(40);
    d.schedule();
    vi.advanceTimersByTime(40);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(10);
    expect(fired).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(fired).toBe(1);
  });

  it('does not let a steady stream of events postpone the reload past the maximum', () => {
    vi.useFakeTimers();
    let fired = 0;
    const d = createDebouncer(50, 500, () => fired++);
    for (let t = 0; t < 480; t += 40) {
      d.schedule();
      vi.advanceTimersByTime(40);
    }
    expect(fired).toBe(0);
    d.schedule();
    vi.advanceTimersByTime(40);
    expect(fired).toBe(1);
  });

  it('cancel() stops a pending reload', () => {
    vi.useFakeTimers();
    let fired = 0;
    const d = createDebouncer(50, 500, () => fired++);
    d.schedule();
    d.cancel();
    vi.advanceTimersByTime(1000);
    expect(fired).toBe(0);
  });
});

describe('createErrorLog', () => {
  it('warns about an error once while it lasts, and again when it comes back', () => {
    const warned: string[] = [];
    const log = createErrorLog({ warn: (_o, msg) => warned.push(msg) });
    const e: ElementError = { kind: 'router', name: 'r@file', message: 'bad rule' };
    log([e]);
    log([e]);
    expect(warned).toEqual(['file provider: bad rule']);
    log([]);
    log([e]);
    expect(warned).toHaveLength(2);
  });
});
