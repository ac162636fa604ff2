/*
 * Go-style durations as Traefik's configuration accepts them (paerser's
 * types.Duration): '100ms', '1m30s', '1.5h', '-2s', or a bare number meaning
 * seconds. Everything here works in milliseconds.
 *
 * The one duration module: the lenient parser the data plane uses (a bad value
 * falls back to the default, validation reports it), the strict one the static
 * configuration uses (a bad value stops start-up), and the formatter.
 */
import { StaticConfigError } from './errors.js';

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // U+00B5 micro sign, accepted by Go
  μs: 1e-3, // U+03BC greek mu, accepted by Go
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

// A sequence of <decimal><unit> terms; Go requires a unit on every term except a lone "0".
const TERM = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
const BARE_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;

/**
 * The one Go-duration parser: milliseconds, or undefined when the value is not
 * a duration. Numbers (and unit-less numeric strings, as paerser accepts them)
 * are seconds; a sign is allowed (callers that refuse negatives check).
 */
export function tryParseGoDuration(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v * 1000 : undefined;
  const s = v.trim();
  if (s === '') return undefined;
  if (BARE_NUMBER.test(s)) return Number(s) * 1000;
  let i = 0;
  let sign = 1;
  if (s[0] === '+' || s[0] === '-') {
    sign = s[0] === '-' ? -1 : 1;
    i = 1;
  }
  if (i === s.length) return undefined;
  let total = 0;
  while (i < s.length) {
    TERM.lastIndex = i;
    const m = TERM.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    i = TERM.lastIndex;
  }
  return sign * total;
}

/**
 * Like tryParseGoDuration, but returns `fallbackMs` when the value is missing,
 * empty or malformed so a bad option degrades to the default instead of a NaN
 * timer (validation reports it separately).
 */
export function parseGoDuration(v: string | number | undefined, fallbackMs: number): number {
  if (v === undefined || v === null) return fallbackMs;
  return tryParseGoDuration(v) ?? fallbackMs;
}

// ---------------------------------------------------------------------------
/*
 * Durations in the static configuration, read the way Traefik reads them: a Go
 * duration string ('100ms', '1.5s', '1h30m') or a bare number, which Traefik
 * takes as seconds (so `readTimeout: 60` and `readTimeout: "60"` mean 60 s).
 */

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
