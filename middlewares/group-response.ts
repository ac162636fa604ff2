/* The response middlewares, registered by middlewares/registry.ts. */
import type { MiddlewareDefinition } from './types.js';

export const responseMiddlewares: MiddlewareDefinition[] = [];
