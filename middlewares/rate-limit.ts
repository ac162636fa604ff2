/*
 * RateLimit: a token bucket per source (Traefik's golang.org/x/time/rate
 * semantics). The bucket refills at average/period tokens a second and holds
 * at most `burst`. A request that finds no token but would get one within
 * maxDelay (half the token interval, 500ms for rates under 1/s) is held back
 * that long and then served; a longer wait is answered 429 with Retry-After
 * (whole seconds, rounded up) and X-Retry-In (the exact wait, Go style).
 *
 * One set of buckets per router that uses the middleware: Traefik builds a
 * middleware instance per router, each with its own in-memory limiter, so
 * two routers sharing `api-limit` do not share tokens. Here the instance is
 * shared and the router name is part of the bucket key.
 *
 * Buckets live in a Map bounded to 65536 sources; a bucket idle long enough
 * to be full again is the same as no bucket, so idle ones are dropped as new
 * sources arrive (no timers). The Map is kept across configuration swaps via
 * ctx.state, keyed by middleware name and config, so a reload does not hand
 * every client a fresh burst.
 *
 * In a cluster the buckets live in the primary (src/cluster/limits.ts): a
 * worker asks it for a token and waits for the answer, so the limit holds
 * for the whole process, not per worker (issue 11). When the primary does
 * not answer in time the request gets 503: a limit that protects an upstream
 * fails closed, as Traefik's Redis limiter answers 500 when Redis fails.
 */
import { ConfigElementError } from '../src/kernel/errors.js';
import { sendStatus } from '../src/kernel/status.js';
import { stableKey } from '../src/config/objects.js';
import { sharedLimits, warnUnavailable, type LimitKind } from '../src/cluster/limits.js';
import type { Handler, RequestContext } from '../src/kernel/context.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { rateLimit as schema } from '../src/config/schema/middlewares/traffic.js';
import { compileSourceCriterion } from './ip-strategy.js';

const MAX_SOURCES = 65536;

interface Bucket {
  tokens: number;
  /** performance.now() of the last update */
  last: number;
}

/** What a set of buckets needs; in a cluster the worker sends it to the primary. */
export interface BucketParams {
  /** tokens per millisecond */
  rate: number;
  burst: number;
  maxDelayMs: number;
  /** a bucket idle this long is full again: forgetting it changes nothing */
  idleMs: number;
}

/** One token bucket per key, bounded to MAX_SOURCES keys, least recently used dropped first. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly p: BucketParams) {}

  /**
   * Takes a token for `key`. A result >= 0 is the wait in ms before the
   * request may go on (0: now); a negative one means refused, the next token
   * being -result ms away (Go's Reservation, cancelled when over maxDelay).
   */
  take(key: string, now: number): number {
    const { rate, burst, maxDelayMs, idleMs } = this.p;
    const buckets = this.buckets;
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
    if (b.tokens >= 0) return 0;
    const waitMs = -b.tokens / rate;
    if (waitMs <= maxDelayMs) return waitMs;
    // not taken after all (Go's Reservation.Cancel)
    b.tokens += 1;
    return -waitMs;
  }
}

/** The primary's side in a cluster: the same buckets, answering the workers' takes. */
export const rateLimitKind: LimitKind = {
  kind: 'rateLimit',
  create(params) {
    const buckets = new TokenBuckets(params as BucketParams);
    return { call: (_worker, key) => buckets.take(key as string, performance.now()) };
  },
};

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
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw, build) {
    const o = decodeOptions(schema.options, raw);
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
    const params: BucketParams = {
      rate,
      burst,
      // Traefik: 1/(2*rate) with the rate truncated to whole requests a second, 500ms below 1/s
      maxDelayMs: perSecond < 1 ? 500 : 1000 / (Math.trunc(perSecond) * 2),
      idleMs: Math.max(burst / rate, 1000 * (perSecond >= 1 ? 2 : 1 + Math.trunc(1 / perSecond))),
    };
    const stateKey = `rateLimit:${build.name}:${stableKey(o)}`;

    // a request resumed from a timer or an IPC answer is outside the entrypoint's try/catch
    const resume = (ctx: RequestContext, next: Handler): void => {
      try {
        next(ctx);
      } catch (err) {
        build.logger.error({ err, router: ctx.routerName }, 'request handler failed');
        sendStatus(ctx.writer, 500);
      }
    };

    /** what the bucket said: go on now, after a wait, or 429 */
    const apply = (ctx: RequestContext, next: Handler, wait: number): void => {
      if (wait === 0) {
        next(ctx);
        return;
      }
      if (wait < 0) {
        sendStatus(ctx.writer, 429, {
          'retry-after': String(Math.ceil(-wait / 1000)),
          'x-retry-in': goDuration(-wait),
        });
        return;
      }
      setTimeout(() => {
        if (ctx.res.destroyed || ctx.clientGone) return;
        resume(ctx, next);
      }, wait);
    };

    const shared = sharedLimits();
    if (shared !== undefined) {
      const limit = build.state.acquire(
        stateKey,
        () => shared.open(rateLimitKind.kind, stateKey, params),
        (h) => h.close(),
      );
      return (next) => (ctx) => {
        limit.call(ctx.routerName + '\0' + source(ctx), (wait, err) => {
          if (err !== undefined || typeof wait !== 'number') {
            if (err !== undefined) warnUnavailable(build.logger, err);
            sendStatus(ctx.writer, 503);
            return;
          }
          // the client left while the primary answered: nothing to serve
          if (ctx.res.destroyed || ctx.clientGone) return;
          if (wait === 0) resume(ctx, next);
          else apply(ctx, next, wait);
        });
      };
    }

    const buckets = build.state.acquire(stateKey, () => new TokenBuckets(params));
    return (next) => (ctx) =>
      apply(ctx, next, buckets.take(ctx.routerName + '\0' + source(ctx), performance.now()));
  },
};
