import type {
  MirroringConfig,
  RouterConfig,
  ServiceConfig,
  ServersTransportConfig,
  WeightedConfig,
} from './schema/http.js';
import type { TlsCertificateConfig, TlsOptionsConfig, TlsStoreConfig } from './schema/tls.js';

/*
 * The dynamic configuration: Traefik's shape (http.routers, http.services,
 * http.middlewares, http.serversTransports, tls), so a Traefik file-provider
 * YAML loads unchanged. Providers emit it; names are qualified `name@provider`
 * once the aggregator merges providers.
 */

export interface DynamicConfig {
  http?: HttpConfig;
  tls?: TlsConfig;
  /** tcp/udp are accepted and reported as not yet supported, never silently dropped. */
  tcp?: unknown;
  udp?: unknown;
}

export interface HttpConfig {
  routers?: Record<string, RouterConfig>;
  services?: Record<string, ServiceConfig>;
  middlewares?: Record<string, MiddlewareConfig>;
  serversTransports?: Record<string, ServersTransportConfig>;
}

/*
 * The elements' types are derived from their schemas (src/config/schema/),
 * as they are after validation: field names canonical, lists as arrays,
 * durations as written (string or seconds).
 */
export type {
  RouterConfig,
  RouterTlsConfig,
  ServiceConfig,
  ServerConfig,
  StickyCookieConfig,
  StickyConfig,
  HealthCheckConfig,
  PassiveHealthCheckConfig,
  LoadBalancerConfig,
  WeightedConfig,
  MirroringConfig,
  FailoverConfig,
  ServersTransportConfig,
  ForwardingTimeouts,
} from './schema/http.js';
export type { TlsCertificateConfig, TlsOptionsConfig, TlsStoreConfig } from './schema/tls.js';

export type WeightedServiceRef = NonNullable<WeightedConfig['services']>[number];
export type MirrorRef = NonNullable<MirroringConfig['mirrors']>[number];

/**
 * One key: the middleware type (e.g. `stripPrefix`), its value the options.
 * The options are decoded by the middleware's factory with its schema
 * (src/config/schema/middlewares/), so here they are still as written.
 */
export type MiddlewareConfig = Record<string, unknown>;

export interface TlsConfig {
  certificates?: TlsCertificateConfig[];
  options?: Record<string, TlsOptionsConfig>;
  stores?: Record<string, TlsStoreConfig>;
}

/** Where an element came from, for error messages: provider and, for files, file and line. */
export interface Origin {
  provider: string;
  file?: string;
  line?: number;
}

/** An error attached to a configuration element; never thrown past validate/compile. */
export interface ElementError {
  kind: 'router' | 'service' | 'middleware' | 'serversTransport' | 'tls' | 'provider';
  /** qualified name, `name@provider` */
  name: string;
  /** dotted path of the offending field inside the element, e.g. `loadBalancer.servers[0].url` */
  field?: string;
  message: string;
}
