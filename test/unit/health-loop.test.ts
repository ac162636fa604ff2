/*
 * The probing loop the HTTP and TCP health checkers share (src/services/health-loop.ts),
 * driven by stand-in probes: start states, transitions reported once, the timeout's abort
 * reason, and close(). Real HTTP/TCP probes: health-check.test.ts, tcp-health.test.ts.
 */

import { describe, expect, it } from 'vitest';
import {
  createProbeLoop,
  PROBE_TIMED_OUT,
  type ProbeLoop,
} from '../../src/services/health-loop.js';
import { eventually } from '../helpers/eventually.js';

const timings = { intervalMs: 5, unhealthyIntervalMs: 5, timeoutMs: 60_000 };

function loopWith(
  servers: [string, boolean][],
  probe: (key: string, signal: AbortSignal) => Promise<string | undefined>,
): { loop: ProbeLoop; transitions: [string, boolean, string | undefined][] } {
  const transitions: [string, boolean, string | undefined][] = [];
  const loop = createProbeLoop({
    servers,
    timings,
    probe,
    onTransition: (key, up, reason) => transitions.push([key, up, reason]),
  });
  return { loop, transitions };
}

/** a probe that settles only when its signal is aborted, with the abort reason as its failure */
function hanging(calls: AbortSignal[]) {
  return (_key: string, signal: AbortSignal) =>
    new Promise<string | undefined>((resolve) => {
      calls.push(signal);
      signal.addEventListener('abort', () => resolve(String(signal.reason)), { once: true });
    });
}

describe('createProbeLoop', () => {
  it('starts each server as given, unknown servers are up, a repeated one is probed once', () => {
    const calls: AbortSignal[] = [];
    const { loop } = loopWith(
      [
        ['a', true],
        ['b', false],
        ['a', false],
      ],
      hanging(calls),
    );
    expect(loop.status()).toEqual({ a: 'UP', b: 'DOWN' });
    expect(loop.isUp('elsewhere')).toBe(true);
    loop.start();
    loop.start();
    expect(calls).toHaveLength(2);
    loop.close();
  });

  it('reports a change once, with the reason, however many probes confirm it', async () => {
    let failure: string | undefined = 'refused';
    let probes = 0;
    const { loop, transitions } = loopWith([['a', true]], () => {
      probes++;
      return Promise.resolve(failure);
    });
    loop.start();
    await eventually(() => expect(probes).toBeGreaterThan(3));
    expect(transitions).toEqual([['a', false, 'refused']]);
    expect(loop.isUp('a')).toBe(false);
    failure = undefined;
    await eventually(() => expect(loop.status()).toEqual({ a: 'UP' }));
    expect(transitions).toEqual([
      ['a', false, 'refused'],
      ['a', true, undefined],
    ]);
    loop.close();
  });

  it('a probe that throws marks the server down with the error', async () => {
    const { loop, transitions } = loopWith([['a', true]], () => Promise.reject(new Error('boom')));
    loop.start();
    await eventually(() => expect(transitions).toEqual([['a', false, 'probe failed: boom']]));
    loop.close();
  });

  it('aborts a probe at its timeout with PROBE_TIMED_OUT as the reason', async () => {
    const calls: AbortSignal[] = [];
    const transitions: unknown[] = [];
    const loop = createProbeLoop({
      servers: [['a', true]],
      timings: { ...timings, timeoutMs: 10 },
      probe: hanging(calls),
      onTransition: (...t) => transitions.push(t),
    });
    loop.start();
    await eventually(() => expect(transitions).toEqual([['a', false, PROBE_TIMED_OUT]]));
    expect(calls[0]?.reason).toBe(PROBE_TIMED_OUT);
    loop.close();
  });

  it('close() aborts the probe in flight and reports nothing after', async () => {
    const calls: AbortSignal[] = [];
    const { loop, transitions } = loopWith([['a', true]], hanging(calls));
    loop.start();
    loop.close();
    expect(calls[0]?.aborted).toBe(true);
    expect(calls[0]?.reason).not.toBe(PROBE_TIMED_OUT);
    // the aborted probe settles with a failure; a closed loop does not report it
    await Promise.resolve();
    await Promise.resolve();
    expect(transitions).toEqual([]);
    expect(loop.status()).toEqual({ a: 'UP' });
  });
});
