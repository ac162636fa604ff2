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

export interface RouterTlsConfig {
  certResolver?: string;
  options?: string;
  domains?: { main?: string; sans?: string[] }[];
}

export interface RouterConfig {
  rule: string;
  ruleSyntax?: string;
  entryPoints?: string[];
  middlewares?: string[];
  service: string;
  priority?: number;
  tls?: RouterTlsConfig;
}

export interface ServiceConfig {
  loadBalancer?: LoadBalancerConfig;
  weighted?: WeightedConfig;
  mirroring?: MirroringConfig;
  failover?: FailoverConfig;
}

export interface ServerConfig {
  url: string;
  weight?: number;
  preservePath?: boolean;
}

export interface StickyCookieConfig {
  name?: string;
  secure?: boolean;
  httpOnly?: boolean;
  sameSite?: 'none' | 'lax' | 'strict' | '';
  maxAge?: number;
  path?: string;
  domain?: string;
}

export interface StickyConfig {
  cookie?: StickyCookieConfig;
}

export interface HealthCheckConfig {
  scheme?: string;
  mode?: 'http' | 'grpc';
  path?: string;
  method?: string;
  status?: number;
  port?: number;
  interval?: string | number;
  unhealthyInterval?: string | number;
  timeout?: string | number;
  hostname?: string;
  followRedirects?: boolean;
  headers?: Record<string, string>;
}

export interface PassiveHealthCheckConfig {
  failureWindow?: string | number;
  maxFailedAttempts?: number;
}

export interface LoadBalancerConfig {
  servers?: ServerConfig[];
  strategy?: string;
  sticky?: StickyConfig;
  healthCheck?: HealthCheckConfig;
  passiveHealthCheck?: PassiveHealthCheckConfig;
  passHostHeader?: boolean;
  responseForwarding?: { flushInterval?: string | number };
  serversTransport?: string;
}

export interface WeightedServiceRef {
  name: string;
  weight?: number;
}

export interface WeightedConfig {
  services?: WeightedServiceRef[];
  sticky?: StickyConfig;
  healthCheck?: Record<string, never>;
}

export interface MirrorRef {
  name: string;
  percent?: number;
}

export interface MirroringConfig {
  service: string;
  mirrors?: MirrorRef[];
  mirrorBody?: boolean;
  maxBodySize?: number;
  healthCheck?: Record<string, never>;
}

export interface FailoverConfig {
  service: string;
  fallback: string;
  healthCheck?: Record<string, never>;
}

/** One key: the middleware type (e.g. `stripPrefix`), its value the options. */
export type MiddlewareConfig = Record<string, unknown>;

export interface ForwardingTimeouts {
  dialTimeout?: string | number;
  responseHeaderTimeout?: string | number;
  idleConnTimeout?: string | number;
}

export interface ServersTransportConfig {
  serverName?: string;
  insecureSkipVerify?: boolean;
  rootCAs?: string[];
  maxIdleConnsPerHost?: number;
  disableHTTP2?: boolean;
  forwardingTimeouts?: ForwardingTimeouts;
}

export interface TlsCertificateConfig {
  certFile: string;
  keyFile: string;
  stores?: string[];
  /** set by the ACME manager only (internal provider): the resolver that issued the certificate */
  resolver?: string;
}

export interface TlsConfig {
  certificates?: TlsCertificateConfig[];
  options?: Record<string, unknown>;
  stores?: Record<string, unknown>;
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
