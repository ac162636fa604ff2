/* StripPrefix: removes the first matching prefix from the path and tells the upstream in X-Forwarded-Prefix. */
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';

const options = {
  prefixes: {
    type: 'stringList',
    required: true,
    description: 'prefixes to remove; the longest match wins',
  },
} as const;

export const stripPrefix: MiddlewareDefinition = {
  type: 'stripPrefix',
  description:
    'removes a path prefix before forwarding; the upstream sees it in X-Forwarded-Prefix',
  options,
  create(raw) {
    const o = decodeOptions<{ prefixes: string[] }>(options, raw);
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
