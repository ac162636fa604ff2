/*
 * The middleware contract: a factory that turns validated options into a
 * wrapper around the next handler. Factories run when the routing table is
 * compiled, never per request; a factory throws ConfigElementError on bad
 * options and the compiler turns that into the using routers' error.
 */
import type { Handler } from '../src/kernel/context.js';
import type { StateRegistry } from '../src/kernel/state.js';
import type { TSchema } from '../src/config/schema/core.js';
import type { Logger } from 'pino';

export interface MiddlewareBuildContext {
  /** qualified middleware name, `name@provider` */
  name: string;
  /** state that outlives a configuration swap (rate-limit buckets, breaker state): acquire by key */
  state: StateRegistry;
  logger: Logger;
  /**
   * A service by name, for middlewares that send requests to one (errors). Unqualified
   * names are qualified with the middleware's provider. Throws when it does not exist.
   */
  service(name: string): { handle: Handler };
}

export type Middleware = (next: Handler) => Handler;

export interface MiddlewareDefinition {
  /** the type key as written in Traefik's dynamic configuration, e.g. `stripPrefix` */
  type: string;
  /** one line for the docs and the dashboard */
  description: string;
  /** the options, for validation (decodeOptions), label decoding and the docs */
  options: TSchema;
  /** internal types: the providers whose middlewares may use it (see MiddlewareSchema.providers) */
  providers?: readonly string[];
  create(options: unknown, ctx: MiddlewareBuildContext): Middleware;
}
