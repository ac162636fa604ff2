/*
 * Every middleware type Portico knows, by its Traefik type key (case-insensitive
 * lookup, as Traefik's decoder is). `chain` is resolved by the compiler itself
 * because it refers to other middlewares.
 */
import type { MiddlewareDefinition } from './types.js';
import { addPrefix } from './add-prefix.js';
import { stripPrefix } from './strip-prefix.js';
import { authMiddlewares } from './group-auth.js';
import { trafficMiddlewares } from './group-traffic.js';
import { pathsMiddlewares } from './group-paths.js';
import { responseMiddlewares } from './group-response.js';

const definitions: MiddlewareDefinition[] = [
  addPrefix,
  stripPrefix,
  ...authMiddlewares,
  ...trafficMiddlewares,
  ...pathsMiddlewares,
  ...responseMiddlewares,
];

const byType = new Map(definitions.map((d) => [d.type.toLowerCase(), d]));

export function middlewareDefinition(type: string): MiddlewareDefinition | undefined {
  return byType.get(type.toLowerCase());
}

export function middlewareDefinitions(): readonly MiddlewareDefinition[] {
  return definitions;
}

export function middlewareTypes(): string[] {
  return [...definitions.map((d) => d.type), 'chain'].sort();
}
