/*
 * What the label decoder (labels.ts) gives back: the elements in Traefik's
 * dynamic-configuration shape as labels describe them (servers still by port),
 * the names declared, the caller's own keys, and every issue as data.
 */
import type { LabelElementKind, LabelIssue } from './label-keys.js';

/** A server as labels describe it: `port`/`scheme` are turned into a `url` by the provider. */
export interface LabelServer {
  url?: string;
  port?: number;
  scheme?: string;
  weight?: number;
  preservePath?: boolean;
}

export interface LabelRouter {
  rule?: string;
  ruleSyntax?: string;
  entryPoints?: string[];
  middlewares?: string[];
  service?: string;
  priority?: number;
  tls?: {
    certResolver?: string;
    options?: string;
    domains?: { main?: string; sans?: string[] }[];
  };
  observability?: Record<string, unknown>;
}

export interface LabelService {
  loadBalancer?: Record<string, unknown> & { servers?: LabelServer[] };
  weighted?: Record<string, unknown>;
  mirroring?: Record<string, unknown>;
  failover?: Record<string, unknown>;
}

export interface LabelHttp {
  routers: Record<string, LabelRouter>;
  services: Record<string, LabelService>;
  middlewares: Record<string, Record<string, unknown>>;
  serversTransports: Record<string, Record<string, unknown>>;
}

/** TCP elements as labels give them: a service's `server` still holds a port, not an address. */
export interface LabelTcp {
  routers: Record<string, Record<string, unknown>>;
  services: Record<
    string,
    { loadBalancer?: Record<string, unknown> & { server?: LabelTcpServer } }
  >;
  middlewares: Record<string, Record<string, unknown>>;
}

export interface LabelTcpServer {
  port?: number;
  tls?: boolean;
}

export interface LabelUdp {
  routers: Record<string, Record<string, unknown>>;
  services: Record<string, { loadBalancer?: { server?: { port?: number } } }>;
}

export interface DecodedLabels {
  /** elements whose every key decoded; names unqualified, references kept as written */
  http: LabelHttp;
  tcp: LabelTcp;
  udp: LabelUdp;
  /** every element name declared, decoded or left out, per kind (first spelling) */
  declared: Record<LabelElementKind, string[]>;
  /**
   * keys under the prefix that belong to the caller (`providerKeys`), by their
   * lower-cased path after the prefix, e.g. `enable`, `docker.network`
   */
  extra: Record<string, { key: string; value: string }>;
  /** the prefix the labels use (first one found), for messages about keys not written */
  prefix: string | undefined;
  issues: LabelIssue[];
}

export interface DecodeLabelsOptions {
  /** accepted roots in precedence order, e.g. `['portico', 'traefik']` */
  prefixes: readonly string[];
  /** first path segments after the prefix that the caller decodes itself, e.g. `enable`, `docker` */
  providerKeys?: readonly string[];
  /** whether servers transports may be defined (Traefik's Docker labels cannot) */
  serversTransports?: boolean;
}
