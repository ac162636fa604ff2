/*
 * InFlightReq: at most `amount` requests per source are processed at once;
 * the next one gets 429 straight away. A request's slot is given back when
 * its response is finished or the client goes away (the response's 'close'),
 * so a stalled client holds its slot only as long as its connection lives.
 * Counters live in the built middleware: a configuration swap that keeps the
 * middleware unchanged keeps them (ctx.state), so in-flight requests started
 * before the swap still count.
 */
import { sendStatus } from '../src/proxy/errors.js';
import { stableKey } from '../src/routing/state.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import {
  compileSourceCriterion,
  sourceCriterionSchema,
  type SourceCriterionOptions,
} from './ip-strategy.js';

const options = {
  amount: {
    type: 'int',
    required: true,
    min: 1,
    description: 'maximum simultaneous requests per source',
  },
  sourceCriterion: {
    type: 'object',
    fields: sourceCriterionSchema,
    description: 'how requests are grouped (default: by requestHost)',
  },
} as const;

interface Options {
  amount: number;
  sourceCriterion?: SourceCriterionOptions;
}

export const inFlightReq: MiddlewareDefinition = {
  type: 'inFlightReq',
  description: 'limits simultaneous requests per source; over the limit answers 429',
  options,
  create(raw, build) {
    const o = decodeOptions<Options>(options, raw);
    const source = compileSourceCriterion(o.sourceCriterion, 'host');
    const amount = o.amount;
    // keyed by the config too: a changed limit starts afresh, an unchanged one keeps its counts
    const counts = build.state.acquire(
      `inFlightReq:${build.name}:${stableKey(o)}`,
      () => new Map<string, number>(),
    );
    return (next) => (ctx) => {
      // the client already left (while an earlier middleware waited): 'close' will not come again
      if (ctx.res.destroyed) return;
      const key = source(ctx);
      const n = counts.get(key) ?? 0;
      if (n >= amount) {
        sendStatus(ctx.writer, 429);
        return;
      }
      counts.set(key, n + 1);
      ctx.res.once('close', () => {
        const left = (counts.get(key) ?? 1) - 1;
        // an idle source takes no memory
        if (left <= 0) counts.delete(key);
        else counts.set(key, left);
      });
      next(ctx);
    };
  },
};
