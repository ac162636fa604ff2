/*
 * InFlightReq: at most `amount` requests per source are processed at once;
 * the next one gets 429 straight away. A request's slot is given back when
 * its response is finished or the client goes away (the response's 'close'),
 * so a stalled client holds its slot only as long as its connection lives.
 *
 * One set of counters per router that uses the middleware (Traefik builds a
 * middleware instance per router): the router name is part of the key.
 * Counters live in the built middleware: a configuration swap that keeps the
 * middleware unchanged keeps them (ctx.state), so in-flight requests started
 * before the swap still count.
 *
 * In a cluster the counters live in the primary (src/cluster/limits.ts): a
 * worker acquires a slot there and waits for the answer, and releases it
 * when the response closes; when a worker dies the primary frees whatever it
 * held. When the primary does not answer in time the request gets 503: the
 * limit exists to protect the upstream from concurrency, and letting the
 * request through would break exactly that promise (fail closed). A slot the
 * primary grants after the worker gave up is given back at once.
 */
import { sendStatus } from '../src/kernel/status.js';
import { stableKey } from '../src/config/objects.js';
import { sharedLimits, warnUnavailable, type LimitKind } from '../src/cluster/limits.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { inFlightReq as schema } from '../src/config/schema/middlewares/traffic.js';
import { compileSourceCriterion } from './ip-strategy.js';

/** Requests in progress per key; an idle key takes no memory. */
export class InFlightCounts {
  private readonly counts = new Map<string, number>();

  constructor(private readonly amount: number) {}

  acquire(key: string): boolean {
    const n = this.counts.get(key) ?? 0;
    if (n >= this.amount) return false;
    this.counts.set(key, n + 1);
    return true;
  }

  release(key: string, n = 1): void {
    const left = (this.counts.get(key) ?? n) - n;
    if (left <= 0) this.counts.delete(key);
    else this.counts.set(key, left);
  }
}

/** The primary's side in a cluster: the counters, and what each worker holds so a dead one's slots come back. */
export const inFlightReqKind: LimitKind = {
  kind: 'inFlightReq',
  create(params) {
    const counts = new InFlightCounts((params as { amount: number }).amount);
    const held = new Map<string, Map<string, number>>();
    return {
      call(worker, data) {
        const key = data as string;
        if (!counts.acquire(key)) return false;
        let mine = held.get(worker);
        if (mine === undefined) held.set(worker, (mine = new Map()));
        mine.set(key, (mine.get(key) ?? 0) + 1);
        return true;
      },
      tell(worker, data) {
        const key = data as string;
        const mine = held.get(worker);
        const n = mine?.get(key);
        // only what this worker holds: a release after its slots were freed changes nothing
        if (mine === undefined || n === undefined) return;
        if (n <= 1) mine.delete(key);
        else mine.set(key, n - 1);
        counts.release(key);
      },
      leave(worker) {
        for (const [key, n] of held.get(worker) ?? []) counts.release(key, n);
        held.delete(worker);
      },
    };
  },
};

export const inFlightReq: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw, build) {
    const o = decodeOptions(schema.options, raw);
    const source = compileSourceCriterion(o.sourceCriterion, 'host');
    const amount = o.amount;
    // keyed by the config too: a changed limit starts afresh, an unchanged one keeps its counts
    const stateKey = `inFlightReq:${build.name}:${stableKey(o)}`;

    const shared = sharedLimits();
    if (shared !== undefined) {
      const limit = build.state.acquire(
        stateKey,
        () => shared.open(inFlightReqKind.kind, stateKey, { amount }),
        (h) => h.close(),
      );
      const giveBack = (granted: unknown, key: string): void => {
        if (granted === true) limit.tell(key);
      };
      return (next) => (ctx) => {
        if (ctx.res.destroyed) return;
        const key = ctx.routerName + '\0' + source(ctx);
        let granted = false;
        let closed = false;
        ctx.res.once('close', () => {
          closed = true;
          if (granted) limit.tell(key);
        });
        limit.call(
          key,
          (ok, err) => {
            if (err !== undefined || typeof ok !== 'boolean') {
              if (err !== undefined) warnUnavailable(build.logger, err);
              if (!closed) sendStatus(ctx.writer, 503);
              return;
            }
            if (!ok) {
              if (!closed) sendStatus(ctx.writer, 429);
              return;
            }
            granted = true;
            // the client left while the primary answered: give the slot straight back
            if (closed) {
              limit.tell(key);
              return;
            }
            // resumed from an IPC answer: outside the entrypoint's try/catch
            try {
              next(ctx);
            } catch (err) {
              build.logger.error({ err, router: ctx.routerName }, 'request handler failed');
              sendStatus(ctx.writer, 500);
            }
          },
          (late) => giveBack(late, key),
        );
      };
    }

    const counts = build.state.acquire(stateKey, () => new InFlightCounts(amount));
    return (next) => (ctx) => {
      // the client already left (while an earlier middleware waited): 'close' will not come again
      if (ctx.res.destroyed) return;
      const key = ctx.routerName + '\0' + source(ctx);
      if (!counts.acquire(key)) {
        sendStatus(ctx.writer, 429);
        return;
      }
      ctx.res.once('close', () => counts.release(key));
      next(ctx);
    };
  },
};
