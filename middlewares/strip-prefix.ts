/* StripPrefix: removes the first matching prefix from the path and tells the upstream in X-Forwarded-Prefix. */
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { stripPrefix as schema } from '../src/config/schema/middlewares/paths.js';

export const stripPrefix: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw) {
    const o = decodeOptions(schema.options, raw);
    // longest first, so /api/v1 wins over /api whatever the order written
    const prefixes = [...o.prefixes].sort((a, b) => b.length - a.length);
    return (next) => (ctx) => {
      for (const prefix of prefixes) {
        if (prefix !== '' && ctx.path.startsWith(prefix)) {
          const rest = ctx.path.slice(prefix.length);
          ctx.path = rest.startsWith('/') ? rest : '/' + rest;
          // the client's own value was already dropped unless it is a trusted forwarder
          ctx.req.headers['x-forwarded-prefix'] = prefix;
          break;
        }
      }
      next(ctx);
    };
  },
};
