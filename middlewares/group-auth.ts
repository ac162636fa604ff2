/*
 * The auth middlewares (basicAuth, digestAuth, forwardAuth), registered by
 * middlewares/registry.ts. Shared htpasswd handling lives in htpasswd.ts.
 */
import type { MiddlewareDefinition } from './types.js';
import { basicAuth } from './basic-auth.js';
import { digestAuth } from './digest-auth.js';
import { forwardAuth } from './forward-auth.js';

export const authMiddlewares: MiddlewareDefinition[] = [basicAuth, digestAuth, forwardAuth];
