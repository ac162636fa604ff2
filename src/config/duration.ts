/*
 * Durations in the static configuration, read the way Traefik reads them: a Go
 * duration string ('100ms', '1.5s', '1h30m') or a bare number, which Traefik
 * takes as seconds (so `readTimeout: 60` and `readTimeout: "60"` mean 60 s).
 */

import { StaticConfigError } from '../kernel/errors.js';
import { tryParseGoDuration } from '../services/duration.js';

/* Node timers overflow above 2^31-1 ms and then fire immediately, which would
   turn a very long timeout into an instant one; refuse instead. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

const EXAMPLES = 'examples: 100ms, 1.5s, 2m, 1h30m, or a number of seconds';

/**
 * Parses a duration to milliseconds. `option` is the option as the user wrote
 * it, used in the error. Negative durations are refused: every duration in the
 * static configuration is a timeout or an interval, where 0 already means
 * "none".
 */
export function parseDuration(value: unknown, option: string): number {
  let ms: number;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new StaticConfigError(option, `${String(value)} is not a duration (${EXAMPLES})`);
    }
    if (value < 0) throw new StaticConfigError(option, `duration must not be negative`);
    ms = value * 1000;
  } else if (typeof value === 'string') {
    ms = parseDurationString(value.trim(), option);
  } else {
    throw new StaticConfigError(
      option,
      `expected a duration, got ${describe(value)} (${EXAMPLES})`,
    );
  }
  return finish(ms, option);
}

function parseDurationString(text: string, option: string): number {
  if (text === '') throw new StaticConfigError(option, `empty duration (${EXAMPLES})`);
  if (text.startsWith('-')) throw new StaticConfigError(option, `duration must not be negative`);
  const ms = tryParseGoDuration(text);
  if (ms === undefined) {
    throw new StaticConfigError(option, `${JSON.stringify(text)} is not a duration (${EXAMPLES})`);
  }
  return ms;
}

function finish(ms: number, option: string): number {
  if (!Number.isFinite(ms)) throw new StaticConfigError(option, `duration is too large`);
  if (ms === 0) return 0;
  // Timers work in whole milliseconds. A non-zero duration never rounds down to
  // 0, because 0 means "no timeout" and '10us' must not silently disable one.
  const rounded = Math.max(1, Math.round(ms));
  if (rounded > MAX_DURATION_MS) {
    throw new StaticConfigError(
      option,
      `duration is too large (at most ${MAX_DURATION_MS}ms, about 24 days)`,
    );
  }
  return rounded;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** Renders milliseconds back as a Go-style duration, for help text and messages. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return parts.join('');
}
