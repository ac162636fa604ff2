import { describe, expect, it } from 'vitest';
import { formatDuration, MAX_DURATION_MS, parseDuration } from '../../src/kernel/duration.js';
import { StaticConfigError } from '../../src/kernel/errors.js';

describe('parseDuration', () => {
  it.each([
    ['100ms', 100],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h30m', 5_400_000],
    ['1h0m0.5s', 3_600_500],
    ['0', 0],
    ['0s', 0],
    ['+3s', 3000],
    ['.5s', 500],
    [' 10s ', 10_000],
    // plain numbers are seconds, as Traefik reads them
    [60, 60_000],
    [0.25, 250],
    ['60', 60_000],
    ['2.5', 2500],
    // sub-millisecond values round, but never down to 0 (0 would disable the timeout)
    ['10us', 1],
    ['10µs', 1],
    ['1ns', 1],
    ['1500us', 2],
    ['1400us', 1],
  ])('parses %j as %d ms', (input, expected) => {
    expect(parseDuration(input, 'opt')).toBe(expected);
  });

  it.each([
    ['abc', 'is not a duration'],
    ['10x', 'is not a duration'],
    ['1h 30m', 'is not a duration'],
    ['s', 'is not a duration'],
    ['', 'empty duration'],
    ['-1s', 'must not be negative'],
    [-5, 'must not be negative'],
    [Number.NaN, 'is not a duration'],
    [true, 'expected a duration'],
    [null, 'expected a duration'],
    [{ a: 1 }, 'a mapping'],
    ['1000h', 'too large'],
  ])('rejects %j', (input, reason) => {
    let error: unknown;
    try {
      parseDuration(input, '--entryPoints.web.transport.respondingTimeouts.readTimeout');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(StaticConfigError);
    const message = (error as Error).message;
    expect(message).toContain('--entryPoints.web.transport.respondingTimeouts.readTimeout');
    expect(message).toContain(reason);
    expect((error as StaticConfigError).option).toBe(
      '--entryPoints.web.transport.respondingTimeouts.readTimeout',
    );
  });

  it('accepts the largest timer value and no more', () => {
    expect(parseDuration(`${MAX_DURATION_MS}ms`, 'opt')).toBe(MAX_DURATION_MS);
    expect(() => parseDuration(`${MAX_DURATION_MS + 1}ms`, 'opt')).toThrow(/too large/);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [200, '200ms'],
    [60_000, '1m'],
    [5_400_500, '1h30m500ms'],
  ])('formats %d as %s', (input, expected) => {
    expect(formatDuration(input)).toBe(expected);
  });
});
