/*
 * IPAllowList (and its deprecated v2 name IPWhiteList): only clients whose IP
 * is in sourceRange get through; the others get rejectStatusCode (403). The
 * client IP is the socket's address, or what ipStrategy picks from
 * X-Forwarded-For. Ranges are compiled into a BlockList at build time.
 */
import { STATUS_CODES } from 'node:http';
import { ConfigElementError } from '../src/kernel/errors.js';
import { sendStatus } from '../src/kernel/status.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import {
  ipAllowList as allowListSchema,
  ipWhiteList as whiteListSchema,
} from '../src/config/schema/middlewares/traffic.js';
import { compileIpMatcher, compileIpStrategy } from './ip-strategy.js';

function define(schema: typeof allowListSchema): MiddlewareDefinition {
  return {
    type: schema.type,
    description: schema.description,
    options: schema.options,
    create(raw) {
      const o = decodeOptions(schema.options, raw);
      if (o.sourceRange.length === 0)
        throw new ConfigElementError('must list at least one IP or CIDR', 'sourceRange');
      const allowed = compileIpMatcher(o.sourceRange, 'sourceRange');
      const clientIp = compileIpStrategy(o.ipStrategy);
      const reject = o.rejectStatusCode ?? 403;
      if (STATUS_CODES[reject] === undefined)
        throw new ConfigElementError(`${reject} is not a known HTTP status`, 'rejectStatusCode');
      return (next) => (ctx) => {
        if (allowed.contains(clientIp(ctx))) next(ctx);
        else sendStatus(ctx.writer, reject);
      };
    },
  };
}

export const ipAllowList = define(allowListSchema);

/** Traefik v2's name, still accepted by v3 (deprecated) */
export const ipWhiteList = define(whiteListSchema);
