/*
 * Go-style durations as Traefik's configuration accepts them (paerser's
 * types.Duration): '100ms', '1m30s', '1.5h', '-2s', or a bare number meaning
 * seconds. Everything here works in milliseconds.
 */

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
