/* AddPrefix: puts a fixed prefix in front of the path before forwarding. */
import { ConfigElementError } from '../src/kernel/errors.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { addPrefix as schema } from '../src/config/schema/middlewares/paths.js';

export const addPrefix: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw) {
    const { prefix } = decodeOptions(schema.options, raw);
    if (!prefix.startsWith('/')) throw new ConfigElementError('must start with /', 'prefix');
    return (next) => (ctx) => {
      ctx.path = prefix + ctx.path;
      next(ctx);
    };
  },
};
