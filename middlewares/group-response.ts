/* The response middlewares, registered by middlewares/registry.ts. */
import type { MiddlewareDefinition } from './types.js';
import { headers } from './headers.js';
import { compress } from './compress.js';
import { buffering } from './buffering.js';
import { errors } from './errors.js';

export const responseMiddlewares: MiddlewareDefinition[] = [headers, compress, buffering, errors];
