import type {
  MirroringConfig,
  RouterConfig,
  ServiceConfig,
  ServersTransportConfig,
  WeightedConfig,
} from './schema/http.js';
import type { TlsCertificateConfig, TlsOptionsConfig, TlsStoreConfig } from './schema/tls.js';
import type {
  TcpMiddlewareConfig,
  TcpRouterConfig,
  TcpServersTransportConfig,
  TcpServiceConfig,
  TcpWeightedConfig,
} from './schema/tcp.js';
import type { UdpRouterConfig, UdpServiceConfig, UdpWeightedConfig } from './schema/udp.js';

/*
 * The dynamic configuration: Traefik's shape (http.routers, http.services,
 * http.middlewares, http.serversTransports, tls, tcp.*, udp.*), so a Traefik
 * file-provider YAML loads unchanged. Providers emit it; names are qualified
 * `name@provider` once the aggregator merges providers.
 */

export interface DynamicConfig {
  http?: HttpConfig;
  tls?: TlsConfig;
  tcp?: TcpConfig;
  udp?: UdpConfig;
}

export interface TcpConfig {
  routers?: Record<string, TcpRouterConfig>;
  services?: Record<string, TcpServiceConfig>;
  middlewares?: Record<string, TcpMiddlewareConfig>;
  serversTransports?: Record<string, TcpServersTransportConfig>;
}

/** UDP routers have no rule (Traefik): a router takes every datagram of its entry points. */
export interface UdpConfig {
  routers?: Record<string, UdpRouterConfig>;
  services?: Record<string, UdpServiceConfig>;
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
export type {
  TcpRouterConfig,
  TcpRouterTlsConfig,
  TcpServiceConfig,
  TcpServerConfig,
  TcpLoadBalancerConfig,
  TcpWeightedConfig,
  TcpHealthCheckConfig,
  ProxyProtocolConfig,
  TcpMiddlewareConfig,
  TcpIpAllowListConfig,
  TcpInFlightConnConfig,
  TcpServersTransportConfig,
  TcpServersTransportTlsConfig,
} from './schema/tcp.js';
export type {
  UdpRouterConfig,
  UdpServiceConfig,
  UdpServerConfig,
  UdpLoadBalancerConfig,
  UdpWeightedConfig,
} from './schema/udp.js';

export type WeightedServiceRef = NonNullable<WeightedConfig['services']>[number];
export type MirrorRef = NonNullable<MirroringConfig['mirrors']>[number];
export type TcpWeightedServiceRef = TcpWeightedConfig['services'][number];
export type UdpWeightedServiceRef = UdpWeightedConfig['services'][number];

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
  /** tcp and udp elements have kinds of their own: an http router and a tcp router may share a name */
  kind:
    | 'router'
    | 'service'
    | 'middleware'
    | 'serversTransport'
    | 'tls'
    | 'provider'
    | 'tcpRouter'
    | 'tcpService'
    | 'tcpMiddleware'
    | 'tcpServersTransport'
    | 'udpRouter'
    | 'udpService';
  /** qualified name, `name@provider` */
  name: string;
  /** dotted path of the offending field inside the element, e.g. `loadBalancer.servers[0].url` */
  field?: string;
  message: string;
}
