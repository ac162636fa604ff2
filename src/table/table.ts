/*
 * The immutable routing table and its lookup. Per entrypoint, routers whose
 * rule pins an exact host are found through a Map (so 10,000 host routes cost
 * what 10 do); the routers that can match any host form one list. A request
 * for an indexed host walks its host's list and the any-host list together,
 * in priority order, as if they were one list. (They used to be merged into
 * every host's list when the table was built: hosts × catch-alls entries, so
 * 50,000 host routers and 1,000 path-only ones made 50 million, issue 11.)
 *
 * The table is the contract between the layer that builds it (src/routing/)
 * and the ones that read it (the entrypoints in src/server/, the metrics in
 * src/observability/, the API), so it lives below all of them.
 */
import type { Handler, RequestContext } from '../kernel/context.js';
import type { ElementError } from '../config/dynamic.js';
import type { ServiceRuntime } from '../services/build.js';
import type { CertificateStore } from '../tls/store.js';
import type { TlsSelection } from '../tls/selection.js';
import type { TcpEntryPointRoutes, TcpServiceRuntime } from '../tcp/types.js';
import type { UdpRoute } from '../udp/types.js';

export interface CompiledRoute {
  name: string;
  priority: number;
  matcher: (ctx: RequestContext) => boolean;
  handler: Handler;
}

export interface EntryPointRoutes {
  /** exact host → the routers naming it, by priority (the any-host routers are not repeated here) */
  byHost: Map<string, CompiledRoute[]>;
  /** the routers that can match any host, by priority */
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
  /** per entrypoint, the routers for connections without TLS */
  readonly entryPoints: ReadonlyMap<string, EntryPointRoutes>;
  /**
   * per entrypoint, the routers for TLS connections: routers with `tls`, and every router of an
   * entrypoint with `http.tls` (Traefik keeps HTTP and HTTPS routers apart the same way)
   */
  readonly tlsEntryPoints: ReadonlyMap<string, EntryPointRoutes>;
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
  /** TCP routers (`tcp.*`): the routes per entrypoint, and the views for the API */
  readonly tcp?: TcpTable | undefined;
  /** UDP routers (`udp.*`): the router serving each UDP entrypoint, and the views for the API */
  readonly udp?: UdpTable | undefined;
}

export interface UdpTable {
  readonly entryPoints: ReadonlyMap<string, UdpRoute>;
  readonly routers: ReadonlyMap<string, RouterInfo>;
  readonly services: ReadonlyMap<string, ServiceInfo>;
}

export interface TcpTable {
  readonly entryPoints: ReadonlyMap<string, TcpEntryPointRoutes>;
  readonly routers: ReadonlyMap<string, RouterInfo>;
  readonly services: ReadonlyMap<string, ServiceInfo>;
  readonly middlewares: ReadonlyMap<string, MiddlewareInfo>;
  /** per service: up/down and each server's status (health checks), for the API */
  readonly serviceRuntimes?: ReadonlyMap<string, TcpServiceRuntime>;
}

export function findRoute(
  routes: EntryPointRoutes,
  ctx: RequestContext,
): CompiledRoute | undefined {
  const any = routes.any;
  const exact = routes.byHost.get(ctx.host);
  if (exact === undefined) {
    for (let i = 0; i < any.length; i++) {
      const r = any[i]!;
      if (r.matcher(ctx)) return r;
    }
    return undefined;
  }
  // both lists are sorted by byPriority: take the head that sorts first, as a merged list would
  let i = 0;
  let j = 0;
  while (i < exact.length || j < any.length) {
    const r =
      j === any.length || (i < exact.length && byPriority(exact[i]!, any[j]!) <= 0)
        ? exact[i++]!
        : any[j++]!;
    if (r.matcher(ctx)) return r;
  }
  return undefined;
}

/** The routes a request for `host` tries, in order (findRoute's walk as a list, for explain). */
export function routesFor(
  routes: { byHost: ReadonlyMap<string, CompiledRoute[]>; any: CompiledRoute[] },
  host: string,
): CompiledRoute[] {
  const exact = routes.byHost.get(host);
  return exact === undefined ? routes.any : exact.concat(routes.any).sort(byPriority);
}

/** Descending priority; ties broken by name so that every worker orders alike. */
export function byPriority(a: CompiledRoute, b: CompiledRoute): number {
  return b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}
