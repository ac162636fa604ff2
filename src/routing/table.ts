/*
 * The immutable routing table and its lookup. Per entrypoint, routers whose
 * rule pins an exact host are found through a Map (so 10,000 host routes cost
 * what 10 do); the routers that can match any host are merged into every
 * host's list by priority, and form the fallback list for unknown hosts.
 */
import type { Handler, RequestContext } from '../server/context.js';
import type { ElementError } from '../config/dynamic.js';
import type { ServiceRuntime } from '../services/build.js';
import type { CertificateStore } from '../tls/store.js';
import type { TlsSelection } from '../tls/selection.js';

export interface CompiledRoute {
  name: string;
  priority: number;
  matcher: (ctx: RequestContext) => boolean;
  handler: Handler;
}

export interface EntryPointRoutes {
  byHost: Map<string, CompiledRoute[]>;
  any: CompiledRoute[];
}

export type ElementStatus = 'enabled' | 'warning' | 'disabled';

export interface RouterInfo {
  name: string;
  provider: string;
  rule: string;
  priority: number;
  entryPoints: string[];
  middlewares: string[];
  service: string;
  status: ElementStatus;
  errors: string[];
}

export interface ServiceInfo {
  name: string;
  provider: string;
  type: string;
  status: ElementStatus;
  errors: string[];
  usedBy: string[];
}

export interface MiddlewareInfo {
  name: string;
  provider: string;
  type: string;
  status: ElementStatus;
  errors: string[];
  usedBy: string[];
}

export interface RoutingTable {
  readonly version: number;
  readonly entryPoints: ReadonlyMap<string, EntryPointRoutes>;
  readonly routers: ReadonlyMap<string, RouterInfo>;
  readonly services: ReadonlyMap<string, ServiceInfo>;
  readonly serviceRuntimes: ReadonlyMap<string, ServiceRuntime>;
  readonly middlewares: ReadonlyMap<string, MiddlewareInfo>;
  /** every element error: provider problems, validation and compile failures */
  readonly errors: readonly ElementError[];
  readonly compileMs: number;
  /** certificates for the TLS entrypoints (undefined when none terminates TLS) */
  readonly certificates: CertificateStore | undefined;
  /** TLS options per entrypoint and SNI name (with `certificates`) */
  readonly tls?: TlsSelection | undefined;
}

export function findRoute(
  routes: EntryPointRoutes,
  ctx: RequestContext,
): CompiledRoute | undefined {
  const list = routes.byHost.get(ctx.host) ?? routes.any;
  for (let i = 0; i < list.length; i++) {
    const r = list[i]!;
    if (r.matcher(ctx)) return r;
  }
  return undefined;
}

/** Descending priority; ties broken by name so that every worker orders alike. */
export function byPriority(a: CompiledRoute, b: CompiledRoute): number {
  return b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}
