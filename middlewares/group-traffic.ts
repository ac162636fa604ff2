/*
 * The traffic-control middlewares (who may come in, how many at once, how
 * fast, and what to do when the service fails), registered by
 * middlewares/registry.ts.
 */
import type { MiddlewareDefinition } from './types.js';
import { ipAllowList, ipWhiteList } from './ip-allow-list.js';
import { inFlightReq } from './in-flight-req.js';
import { rateLimit } from './rate-limit.js';
import { circuitBreaker } from './circuit-breaker.js';
import { retry } from './retry.js';

export const trafficMiddlewares: MiddlewareDefinition[] = [
  ipAllowList,
  ipWhiteList,
  inFlightReq,
  rateLimit,
  circuitBreaker,
  retry,
];
