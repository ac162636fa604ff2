/*
 * The TCP side of compile (Traefik's pkg/server/router/tcp/manager.go and
 * pkg/server/service/tcp): servers transports, services, middlewares and
 * routers of `tcp.*` → per-entrypoint TCP routes for the connection layer.
 * Like the HTTP managers it never throws for a bad element: the element is
 * recorded (status disabled + reason, naming the field) and the others are
 * built. Each step has its file, as for HTTP: tcp-transports.ts,
 * tcp-services.ts, tcp-middlewares.ts, tcp-routers.ts.
 */
import type { Logger } from 'pino';
import type { ElementError, TcpConfig } from '../config/dynamic.js';
import type { EntryPointConfig } from '../config/static-types.js';
import type { StateRegistry } from '../kernel/state.js';
import type { StreamSinks } from '../observability/observe-tcp.js';
import type { MiddlewareInfo, RouterInfo, ServiceInfo } from '../table/table.js';
import type { TcpEntryPointRoutes, TcpServiceRuntime } from '../tcp/types.js';
import type { TlsOptionsSet } from '../tls/options.js';
import type { HostClaim } from '../tls/selection.js';
import { defaultEntryPoints } from './router-manager.js';
import { TcpMiddlewareBuilder } from './tcp-middlewares.js';
import { TcpRouterManager } from './tcp-routers.js';
import { TcpServiceManager } from './tcp-services.js';
import { TcpTransportSet } from './tcp-transports.js';

export interface TcpTables {
  entryPoints: Map<string, TcpEntryPointRoutes>;
  routers: Map<string, RouterInfo>;
  services: Map<string, ServiceInfo>;
  middlewares: Map<string, MiddlewareInfo>;
  /** SNI names TLS-terminating TCP routers claim, for TLS options */
  tlsClaims: HostClaim[];
  /** the services built, by name: health and serverStatus for the API */
  serviceRuntimes: Map<string, TcpServiceRuntime>;
}

export function buildTcp(
  config: TcpConfig | undefined,
  opts: {
    entryPoints: Record<string, EntryPointConfig>;
    tlsOptions: TlsOptionsSet;
    logger: Logger;
    errors: ElementError[];
    /** health checkers live here, so that a reload leaving a service as it was keeps them */
    state: StateRegistry;
    /** metrics and access log of connections (src/observability/observe-tcp.ts); undefined: neither is on */
    streams?: StreamSinks | undefined;
  },
): TcpTables {
  const { errors } = opts;
  const out: TcpTables = {
    entryPoints: new Map(),
    routers: new Map(),
    services: new Map(),
    middlewares: new Map(),
    tlsClaims: [],
    serviceRuntimes: new Map(),
  };
  for (const ep of Object.keys(opts.entryPoints)) out.entryPoints.set(ep, { plain: [], tls: [] });
  const cfg = config ?? {};

  const services = new TcpServiceManager({
    configs: cfg.services ?? {},
    transportConfigs: cfg.serversTransports,
    transports: new TcpTransportSet(cfg.serversTransports ?? {}, errors),
    state: opts.state,
    logger: opts.logger,
    infos: out.services,
    runtimes: out.serviceRuntimes,
    errors,
  });
  const middlewares = new TcpMiddlewareBuilder({
    configs: cfg.middlewares ?? {},
    infos: out.middlewares,
    errors,
  });
  new TcpRouterManager({
    entryPoints: out.entryPoints,
    defaultEntryPoints: defaultEntryPoints(Object.values(opts.entryPoints)),
    tlsOptions: opts.tlsOptions,
    services,
    middlewares,
    streams: opts.streams,
    infos: out.routers,
    serviceInfos: out.services,
    middlewareInfos: out.middlewares,
    tlsClaims: out.tlsClaims,
    errors,
  }).buildAll(cfg.routers ?? {});
  // services and middlewares nobody uses are still built, so that their errors show
  services.buildAll();
  middlewares.buildAll();
  return out;
}
