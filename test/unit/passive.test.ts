import { describe, it, expect } from 'vitest';
import type { PassiveHealthCheckConfig } from '../../src/config/dynamic.js';
import { createPassiveHealth } from '../../src/services/passive.js';

const S = 'http://10.0.0.1:80';

type Step =
  | { at: number; fail: true; ejects?: boolean }
  | { at: number; succeed: true }
  | { at: number; up: boolean };

const cases: { desc: string; config: PassiveHealthCheckConfig; steps: Step[] }[] = [
  {
    desc: 'defaults: one failure ejects for 10s',
    config: {},
    steps: [
      { at: 0, up: true },
      { at: 1000, fail: true, ejects: true },
      { at: 1000, up: false },
      { at: 10_999, up: false },
      { at: 11_000, up: true },
    ],
  },
  {
    desc: 'three attempts within the window',
    config: { maxFailedAttempts: 3, failureWindow: '10s' },
    steps: [
      { at: 0, fail: true, ejects: false },
      { at: 4000, fail: true, ejects: false },
      { at: 4000, up: true },
      { at: 9000, fail: true, ejects: true },
      { at: 9000, up: false },
      { at: 18_999, up: false },
      { at: 19_000, up: true },
    ],
  },
  {
    desc: 'failures spread wider than the window never eject',
    config: { maxFailedAttempts: 2, failureWindow: '1s' },
    steps: [
      { at: 0, fail: true, ejects: false },
      { at: 1000, fail: true, ejects: false },
      { at: 2000, fail: true, ejects: false },
      { at: 2000, up: true },
      { at: 2999, fail: true, ejects: true },
      { at: 2999, up: false },
    ],
  },
  {
    desc: 'a success forgets earlier failures',
    config: { maxFailedAttempts: 2, failureWindow: '10s' },
    steps: [
      { at: 0, fail: true, ejects: false },
      { at: 100, succeed: true },
      { at: 200, fail: true, ejects: false },
      { at: 200, up: true },
      { at: 300, fail: true, ejects: true },
      { at: 300, up: false },
    ],
  },
  {
    desc: 'a success does not cut an ejection short',
    config: { failureWindow: '5s' },
    steps: [
      { at: 0, fail: true, ejects: true },
      { at: 1000, succeed: true },
      { at: 1000, up: false },
      { at: 5000, up: true },
    ],
  },
  {
    desc: 'failures during an ejection do not extend it',
    config: { failureWindow: '5s' },
    steps: [
      { at: 0, fail: true, ejects: true },
      { at: 4000, fail: true, ejects: false },
      { at: 5000, up: true },
      { at: 6000, fail: true, ejects: true },
      { at: 6000, up: false },
    ],
  },
  {
    desc: 'numeric failureWindow is seconds',
    config: { failureWindow: 2 },
    steps: [
      { at: 0, fail: true, ejects: true },
      { at: 1999, up: false },
      { at: 2000, up: true },
    ],
  },
  {
    desc: 'invalid settings fall back to defaults',
    config: { failureWindow: 'soon', maxFailedAttempts: 0 },
    steps: [
      { at: 0, fail: true, ejects: true },
      { at: 9999, up: false },
      { at: 10_000, up: true },
    ],
  },
];

describe('passive health', () => {
  it.each(cases)('$desc', ({ config, steps }) => {
    const ph = createPassiveHealth(config);
    steps.forEach((step, i) => {
      const where = `step ${i} at ${step.at}`;
      if ('fail' in step) {
        const ejected = ph.recordFailure(S, step.at);
        if (step.ejects !== undefined) expect(ejected, where).toBe(step.ejects);
      } else if ('succeed' in step) {
        ph.recordSuccess(S);
      } else {
        expect(ph.isUp(S, step.at), where).toBe(step.up);
      }
    });
  });

  it('tracks servers independently', () => {
    const ph = createPassiveHealth({ maxFailedAttempts: 1 });
    ph.recordFailure('http://a', 0);
    expect(ph.isUp('http://a', 1)).toBe(false);
    expect(ph.isUp('http://b', 1)).toBe(true);
  });

  it('exposes the resolved settings', () => {
    expect(createPassiveHealth({})).toMatchObject({
      failureWindowMs: 10_000,
      maxFailedAttempts: 1,
    });
    expect(createPassiveHealth({ failureWindow: '1m30s', maxFailedAttempts: 4 })).toMatchObject({
      failureWindowMs: 90_000,
      maxFailedAttempts: 4,
    });
  });

  it('uses the wall clock by default', () => {
    const ph = createPassiveHealth({ failureWindow: '1h' });
    expect(ph.isUp(S)).toBe(true);
    ph.recordFailure(S);
    expect(ph.isUp(S)).toBe(false);
  });
});
