/*
 * The Gateway API filters as internal middleware types, registered by
 * middlewares/registry.ts for the Kubernetes Gateway provider only (their
 * schemas: src/config/schema/middlewares/gateway.ts).
 */
import type { MiddlewareDefinition } from './types.js';
import { requestHeaderModifier, responseHeaderModifier } from './gateway-header-modifier.js';
import { requestRedirect } from './gateway-redirect.js';
import { urlRewrite } from './gateway-url-rewrite.js';

export const gatewayMiddlewares: MiddlewareDefinition[] = [
  requestHeaderModifier,
  responseHeaderModifier,
  requestRedirect,
  urlRewrite,
];
