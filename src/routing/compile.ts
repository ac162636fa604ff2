/*
 * compile(): validated, qualified dynamic configuration → immutable RoutingTable.
 * Never touches sockets and never throws for a bad element: each broken router,
 * service or middleware is recorded with its reason and left out, and
 * everything else is built (Traefik's runtime model: status + error[]).
 *
 * The steps follow Traefik's managers: serversTransports (transports.ts), the
 * service manager (service-manager.ts), the middleware builder
 * (middleware-builder.ts) and the router manager (router-manager.ts). They
 * share the table's views and error list, so errors appear in the order the
 * elements are met.
 */
import type { Logger } from 'pino';
import type { DynamicConfig, ElementError } from '../config/dynamic.js';
import type { EntryPointConfig, ServersTransportDefaults } from '../config/static-types.js';
import type { Handler } from '../kernel/context.js';
import type { StateRegistry } from '../kernel/state.js';
import { buildCertificateStore, type CertificateStore, type KeyPair } from '../tls/store.js';
import { buildTlsOptions, type TlsOptionsSet } from '../tls/options.js';
import { buildTlsSelection, type HostClaim, type TlsSelection } from '../tls/selection.js';
import { ACME_TLS_ALPN_SERVICE } from '../tls/acme/challenges.js';
import type { MiddlewareInfo, RouterInfo, RoutingTable, ServiceInfo } from '../table/table.js';
import { buildTransports } from './transports.js';
import { recordRejectedServices, ServiceManager } from './service-manager.js';
import { MiddlewareBuilder } from './middleware-builder.js';
import { buildEntryPointChains, RouterManager } from './router-manager.js';
import { buildTcp } from './tcp-manager.js';
import type { StreamSinks } from '../observability/observe-tcp.js';
import { buildUdp, explainUdpEntryPoints, tcpEntryPoints } from './udp-manager.js';

export interface CompileOptions {
  entryPoints: Record<string, EntryPointConfig>;
  transportDefaults: ServersTransportDefaults;
  state: StateRegistry;
  logger: Logger;
  /** errors found before compiling (providers, validation); carried into the table */
  errors?: ElementError[];
  version?: number;
  /** names of the configured certificatesResolvers */
  certResolvers?: string[];
  /** the default TLS certificate; with it, the table carries a certificate store */
  defaultCertificate?: KeyPair | undefined;
  /** handlers for `name@internal` services (api, dashboard, ping, noop) */
  internalServices?: ReadonlyMap<string, Handler>;
  /** where TCP connections and UDP sessions are reported (metrics, access log) */
  streams?: StreamSinks | undefined;
}

/** The TLS-ALPN-01 responder the ACME manager publishes as an internal service, if any. */
function acmeTlsAlpnAddress(config: DynamicConfig): { host: string; port: number } | undefined {
  const url =
    config.http?.services?.[`${ACME_TLS_ALPN_SERVICE}@internal`]?.loadBalancer?.servers?.[0]?.url;
  if (url === undefined) return undefined;
  try {
    const u = new URL(url);
    return { host: u.hostname, port: Number(u.port) };
  } catch {
    return undefined;
  }
}

/**
 * The certificate store and the per-SNI TLS options, for tables served on TLS
 * entrypoints; the selection's warnings go on the routers they concern.
 */
function buildTls(
  config: DynamicConfig,
  opts: CompileOptions & { defaultCertificate: KeyPair },
  tlsOptions: TlsOptionsSet,
  claims: HostClaim[],
  routers: ReadonlyMap<string, RouterInfo>,
  errors: ElementError[],
): { certificates: CertificateStore; tls: TlsSelection } {
  // the `default` TLS store may replace the generated default certificate (issue 13 item 2)
  const certificates = buildCertificateStore(config.tls?.certificates ?? [], {
    defaultCertificate: opts.defaultCertificate,
    stores: config.tls?.stores,
    certResolvers: opts.certResolvers,
    logger: opts.logger,
  });
  errors.push(...certificates.errors);
  const built = buildTlsSelection(tlsOptions.options, claims, acmeTlsAlpnAddress(config));
  for (const [router, messages] of built.warnings) {
    const info = routers.get(router);
    if (info === undefined) continue;
    info.errors.push(...messages);
    if (info.status === 'enabled') info.status = 'warning';
  }
  return { certificates, tls: built.selection };
}

export function compile(config: DynamicConfig, opts: CompileOptions): RoutingTable {
  const started = performance.now();
  // HTTP and TCP routers live on the TCP entrypoints only, UDP routers on the UDP ones (Traefik)
  const entryPoints = tcpEntryPoints(opts.entryPoints);
  const http = config.http ?? {};
  const errors: ElementError[] = [...(opts.errors ?? [])];
  const routers = new Map<string, RouterInfo>();
  const services = new Map<string, ServiceInfo>();
  const middlewares = new Map<string, MiddlewareInfo>();
  recordRejectedServices(opts.errors ?? [], services);

  const transports = buildTransports(http.serversTransports ?? {}, opts.transportDefaults, errors);
  const serviceManager = new ServiceManager({
    configs: http.services ?? {},
    internal: opts.internalServices,
    transports,
    entryPoints,
    state: opts.state,
    logger: opts.logger,
    infos: services,
    errors,
  });
  const middlewareBuilder = new MiddlewareBuilder({
    configs: http.middlewares ?? {},
    services: serviceManager,
    state: opts.state,
    logger: opts.logger,
    infos: middlewares,
    errors,
  });
  const entryPointChains = buildEntryPointChains(Object.values(entryPoints), middlewareBuilder);
  const tlsOptions = buildTlsOptions(config.tls?.options);
  errors.push(...tlsOptions.errors);
  const built = new RouterManager({
    configs: http.routers ?? {},
    entryPoints,
    certResolvers: opts.certResolvers ?? [],
    services: serviceManager,
    middlewares: middlewareBuilder,
    entryPointChains,
    tlsOptions,
    serviceInfos: services,
    middlewareInfos: middlewares,
    infos: routers,
    errors,
  }).build();

  // services and middlewares nobody uses are still built, so that their errors and health show
  serviceManager.buildAll();
  middlewareBuilder.buildAll();

  const tcp = buildTcp(config.tcp, {
    entryPoints,
    tlsOptions,
    logger: opts.logger,
    errors,
    state: opts.state,
    streams: opts.streams,
  });
  const udp = buildUdp(config.udp, {
    entryPoints: opts.entryPoints,
    logger: opts.logger,
    errors,
    streams: opts.streams,
  });
  explainUdpEntryPoints(opts.entryPoints, routers.values(), 'router', errors);
  explainUdpEntryPoints(opts.entryPoints, tcp.routers.values(), 'tcpRouter', errors);

  const withTls =
    opts.defaultCertificate === undefined
      ? undefined
      : buildTls(
          config,
          { ...opts, defaultCertificate: opts.defaultCertificate },
          tlsOptions,
          [...built.tlsClaims, ...tcp.tlsClaims],
          new Map([...routers, ...tcp.routers]),
          errors,
        );

  return {
    version: opts.version ?? 0,
    certificates: withTls?.certificates,
    tls: withTls?.tls,
    entryPoints: built.entryPoints,
    tlsEntryPoints: built.tlsEntryPoints,
    tcp,
    udp,
    routers,
    services,
    serviceRuntimes: serviceManager.runtimes,
    middlewares,
    errors,
    compileMs: performance.now() - started,
  };
}
