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
  compileIpMatcher,
  compileIpStrategy,
  ipStrategySchema,
  type IpStrategyOptions,
} from './ip-strategy.js';

const options = {
  sourceRange: {
    type: 'stringList',
    required: true,
    description: 'allowed IPs and CIDRs (IPv4 and IPv6)',
  },
  ipStrategy: {
    type: 'object',
    fields: ipStrategySchema,
    description: 'how the client IP is chosen (default: the socket address)',
  },
  rejectStatusCode: {
    type: 'int',
    min: 100,
    max: 599,
    description: 'status answered to clients outside sourceRange (default 403)',
  },
} as const;

interface Options {
  sourceRange: string[];
  ipStrategy?: IpStrategyOptions;
  rejectStatusCode?: number;
}

function define(type: string, description: string): MiddlewareDefinition {
  return {
    type,
    description,
    options,
    create(raw) {
      const o = decodeOptions<Options>(options, raw);
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

export const ipAllowList = define(
  'ipAllowList',
  'lets through only clients whose IP is in sourceRange; others get 403',
);

/** Traefik v2's name, still accepted by v3 (deprecated) */
export const ipWhiteList = define(
  'ipWhiteList',
  'deprecated name of ipAllowList (same options and behaviour)',
);
