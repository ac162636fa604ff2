/* AddPrefix: puts a fixed prefix in front of the path before forwarding. */
import { ConfigElementError } from '../src/errors.js';
import type { MiddlewareDefinition } from './types.js';

export const addPrefix: MiddlewareDefinition = {
  type: 'addPrefix',
  description: 'adds a path prefix before forwarding',
  create(options) {
    const prefix = (options as { prefix?: unknown } | null)?.prefix;
    if (typeof prefix !== 'string' || !prefix.startsWith('/')) {
      throw new ConfigElementError('must be a string starting with /', 'prefix');
    }
    return (next) => (ctx) => {
      ctx.path = prefix + ctx.path;
      next(ctx);
    };
  },
};
