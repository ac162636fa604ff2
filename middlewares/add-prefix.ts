/* AddPrefix: puts a fixed prefix in front of the path before forwarding. */
import { ConfigElementError } from '../src/kernel/errors.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';

const options = {
  prefix: { type: 'string', required: true, description: 'prefix to add; must start with /' },
} as const;

export const addPrefix: MiddlewareDefinition = {
  type: 'addPrefix',
  description: 'adds a path prefix before forwarding',
  options,
  create(raw) {
    const { prefix } = decodeOptions<{ prefix: string }>(options, raw);
    if (!prefix.startsWith('/')) throw new ConfigElementError('must start with /', 'prefix');
    return (next) => (ctx) => {
      ctx.path = prefix + ctx.path;
      next(ctx);
    };
  },
};
