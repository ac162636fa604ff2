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
  /**
   * Set for internal types: only the configuration these providers emit may
   * use them (Traefik's `file:"-" label:"-" kv:"-"` middlewares, e.g. the
   * Gateway API filters). They are kept out of middlewareSchemas, so files,
   * labels, CRDs, the JSON Schema and the docs never see them.
   */
  providers?: readonly string[];
}

export function middleware<T extends TSchema>(
  type: string,
  description: string,
  options: T,
  implemented = true,
): MiddlewareSchema<T> {
  return { type, description, options, implemented };
}
