/* The paths middlewares, registered by middlewares/registry.ts. */
import type { MiddlewareDefinition } from './types.js';

export const pathsMiddlewares: MiddlewareDefinition[] = [];
