/* One middleware type's entry in the schema: its Traefik type key, one line for docs and the dashboard, its options. */
import type { TSchema } from '../core.js';

export interface MiddlewareSchema<T extends TSchema = TSchema> {
  /** the type key as written in Traefik's dynamic configuration, e.g. `stripPrefix` */
  type: string;
  /** one line for the docs and the dashboard */
  description: string;
  options: T;
  /** false for Traefik types Portico accepts in configuration but does not run (yet) */
  implemented: boolean;
}

export function middleware<T extends TSchema>(
  type: string,
  description: string,
  options: T,
  implemented = true,
): MiddlewareSchema<T> {
  return { type, description, options, implemented };
}
