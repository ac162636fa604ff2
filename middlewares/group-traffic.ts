/* The traffic middlewares, registered by middlewares/registry.ts. */
import type { MiddlewareDefinition } from './types.js';

export const trafficMiddlewares: MiddlewareDefinition[] = [];
