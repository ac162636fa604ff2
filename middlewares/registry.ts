/*
 * Every middleware type Portico knows, by its Traefik type key (case-insensitive
 * lookup, as Traefik's decoder is). `chain` is resolved by the compiler itself
 * because it refers to other middlewares.
 *
 * Internal types (the Gateway API filters, middlewares/gateway-*.ts) are
 * known only to the providers their schema names: for any other provider's
 * middleware they are an unknown type, as Traefik's file/label decoders
 * ignore its `file:"-" label:"-"` fields.
 */
import type { MiddlewareDefinition } from './types.js';
import { addPrefix } from './add-prefix.js';
import { stripPrefix } from './strip-prefix.js';
import { authMiddlewares } from './group-auth.js';
import { trafficMiddlewares } from './group-traffic.js';
import { pathsMiddlewares } from './group-paths.js';
import { responseMiddlewares } from './group-response.js';
import { gatewayMiddlewares } from './gateway-filters.js';

const definitions: MiddlewareDefinition[] = [
  addPrefix,
  stripPrefix,
  ...authMiddlewares,
  ...trafficMiddlewares,
  ...pathsMiddlewares,
  ...responseMiddlewares,
];

const byType = new Map(definitions.map((d) => [d.type.toLowerCase(), d]));
const internalByType = new Map(gatewayMiddlewares.map((d) => [d.type.toLowerCase(), d]));

/** A type's factory, for a middleware of `provider` (internal types only for their providers). */
export function middlewareDefinition(
  type: string,
  provider = '',
): MiddlewareDefinition | undefined {
  const lower = type.toLowerCase();
  const def = byType.get(lower);
  if (def !== undefined) return def;
  const internal = internalByType.get(lower);
  return internal?.providers?.includes(provider) === true ? internal : undefined;
}

export function middlewareDefinitions(): readonly MiddlewareDefinition[] {
  return definitions;
}

/** The internal types' factories (never in middlewareTypes or the public list). */
export function internalMiddlewareDefinitions(): readonly MiddlewareDefinition[] {
  return gatewayMiddlewares;
}

export function middlewareTypes(): string[] {
  return [...definitions.map((d) => d.type), 'chain'].sort();
}
