/*
 * RateLimit: a token bucket per source (Traefik's golang.org/x/time/rate
 * semantics). The bucket refills at average/period tokens a second and holds
 * at most `burst`. A request that finds no token but would get one within
 * maxDelay (half the token interval, 500ms for rates under 1/s) is held back
 * that long and then served; a longer wait is answered 429 with Retry-After
 * (whole seconds, rounded up) and X-Retry-In (the exact wait, Go style).
 *
 * Buckets live in a Map bounded to 65536 sources; a bucket idle long enough
 * to be full again is the same as no bucket, so idle ones are dropped as new
 * sources arrive (no timers). The Map is kept across configuration swaps via
 * ctx.state, keyed by middleware name and config, so a reload does not hand
 * every client a fresh burst.
 */
import { ConfigElementError } from '../src/errors.js';
import { sendStatus } from '../src/proxy/errors.js';
import { stableKey } from '../src/routing/state.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import {
  compileSourceCriterion,
  sourceCriterionSchema,
  type SourceCriterionOptions,
} from './ip-strategy.js';

const MAX_SOURCES = 65536;

const options = {
  average: {
    type: 'int',
    min: 0,
    description: 'requests allowed per period on average; 0 disables the limit',
  },
  period: { type: 'duration', description: 'the period of average (default 1s)' },
  burst: { type: 'int', min: 0, description: 'bucket size: requests allowed at once (default 1)' },
  sourceCriterion: {
    type: 'object',
    fields: sourceCriterionSchema,
    description: 'how requests are grouped (default: by client IP)',
  },
  redis: { type: 'any', description: 'distributed limiting through Redis (not supported yet)' },
} as const;

interface Options {
  average?: number;
  period?: number;
  burst?: number;
  sourceCriterion?: SourceCriterionOptions;
  redis?: unknown;
}

interface Bucket {
  tokens: number;
  /** performance.now() of the last update */
  last: number;
}

/** Go's time.Duration.String() for a wait in milliseconds ("333.333333ms", "1m0s"). */
export function goDuration(ms: number): string {
  let ns = Math.round(ms * 1e6);
  if (ns === 0) return '0s';
  const neg = ns < 0;
  if (neg) ns = -ns;
  const frac = (v: number, digits: number): string => {
    const whole = Math.floor(v / 10 ** digits);
    const rest = (v % 10 ** digits).toString().padStart(digits, '0').replace(/0+$/, '');
    return rest === '' ? String(whole) : `${whole}.${rest}`;
  };
  let out: string;
  if (ns < 1e3) out = `${ns}ns`;
  else if (ns < 1e6) out = `${frac(ns, 3)}µs`;
  else if (ns < 1e9) out = `${frac(ns, 6)}ms`;
  else {
    const h = Math.floor(ns / 3.6e12);
    const m = Math.floor((ns % 3.6e12) / 6e10);
    const s = frac(ns % 6e10, 9);
    out = h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
  }
  return neg ? '-' + out : out;
}

export const rateLimit: MiddlewareDefinition = {
  type: 'rateLimit',
  description:
    'token-bucket rate limit per source; short waits are delayed, longer ones answered 429',
  options,
  create(raw, build) {
    const o = decodeOptions<Options>(options, raw);
    if (o.redis !== undefined)
      throw new ConfigElementError('redis rate limiting is not supported yet', 'redis');
    const source = compileSourceCriterion(o.sourceCriterion, 'ip');
    const average = o.average ?? 0;
    if (average === 0) return (next) => next;
    const periodMs = o.period === undefined || o.period === 0 ? 1000 : o.period;
    const burst = Math.max(1, o.burst ?? 1);
    /** tokens per millisecond */
    const rate = average / periodMs;
    const perSecond = rate * 1000;
    // Traefik: 1/(2*rate) with the rate truncated to whole requests a second, 500ms below 1/s
    const maxDelayMs = perSecond < 1 ? 500 : 1000 / (Math.trunc(perSecond) * 2);
    // a bucket idle this long is full again: forgetting it changes nothing
    const idleMs = Math.max(
      burst / rate,
      1000 * (perSecond >= 1 ? 2 : 1 + Math.trunc(1 / perSecond)),
    );

    const buckets = build.state.acquire(
      `rateLimit:${build.name}:${stableKey(o)}`,
      () => new Map<string, Bucket>(),
    );

    return (next) => (ctx) => {
      const key = source(ctx);
      const now = performance.now();
      let b = buckets.get(key);
      if (b === undefined) {
        // make room: the oldest-touched entries come first in the Map
        for (const [k, old] of buckets) {
          if (buckets.size < MAX_SOURCES && now - old.last < idleMs) break;
          buckets.delete(k);
        }
        b = { tokens: burst, last: now };
        buckets.set(key, b);
      } else {
        // keep the Map ordered by last use
        buckets.delete(key);
        buckets.set(key, b);
        b.tokens = Math.min(burst, b.tokens + (now - b.last) * rate);
        b.last = now;
      }
      b.tokens -= 1;
      if (b.tokens >= 0) {
        next(ctx);
        return;
      }
      const waitMs = -b.tokens / rate;
      if (waitMs > maxDelayMs) {
        // not taken after all (Go's Reservation.Cancel)
        b.tokens += 1;
        sendStatus(ctx.writer, 429, {
          'retry-after': String(Math.ceil(waitMs / 1000)),
          'x-retry-in': goDuration(waitMs),
        });
        return;
      }
      setTimeout(() => {
        if (ctx.res.destroyed || ctx.clientGone) return;
        next(ctx);
      }, waitMs);
    };
  },
};
