/* The auth middlewares, registered by middlewares/registry.ts. */
import type { MiddlewareDefinition } from './types.js';

export const authMiddlewares: MiddlewareDefinition[] = [];
