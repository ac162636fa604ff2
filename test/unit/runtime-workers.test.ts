/*
 * The cluster primary's replacement policy for crashed workers (src/runtime-workers.ts):
 * a crash is replaced at once; a worker that keeps dying is re-forked with a
 * back-off instead of in a tight loop.
 */
import { describe, expect, it } from 'vitest';
import { CrashWindow } from '../../src/runtime-workers.js';

describe('CrashWindow', () => {
  it('replaces the first three crashes at once, then waits a second', () => {
    const window = new CrashWindow();
    expect([0, 100, 200, 300, 400].map((t) => window.record(t))).toEqual([0, 0, 0, 1000, 1000]);
  });

  it('forgets crashes older than 10 s', () => {
    const window = new CrashWindow();
    for (const t of [0, 100, 200, 300]) window.record(t);
    // the four crashes of the first second have left the window
    expect(window.record(10_400)).toBe(0);
  });
});
