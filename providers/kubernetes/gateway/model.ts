/*
 * The Gateway API provider's contract (issue 15): what the pure translator
 * takes and gives back. The translator turns GatewayClasses, Gateways and
 * routes into Portico's dynamic configuration AND into the status the spec
 * requires (conditions per GatewayClass, Gateway, listener and route parent),
 * as data; the status writer (status.ts) puts that data on the objects, from
 * the Lease holder only. Nothing here talks to the API server.
 */
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import type { KubeDiagnostic } from '../objects.js';

/** providers.kubernetesGateway, as the translator needs it */
export interface GatewayProviderOptions {
  /**
   * Portico's entrypoints: a listener attaches to the entrypoint whose address
   * has the listener's port (Traefik's rule); an HTTP listener needs one
   * without `http.tls`.
   */
  entryPoints: Record<string, { port: number; httpTls: boolean }>;
  /** TCPRoute (and other experimental-channel kinds) are read only when set */
  experimentalChannel: boolean;
  /** GatewayClass spec.controllerName values taken as ours (default GATEWAY_CONTROLLERS) */
  controllerNames?: readonly string[];
  /** the Gateway status addresses (Traefik's statusAddress) */
  statusAddress?: {
    ip?: string;
    hostname?: string;
    service?: { namespace: string; name: string };
  };
  nativeLBByDefault: boolean;
}

/** metav1.Condition without lastTransitionTime (the writer keeps or sets it). */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
}

export interface ParentRef {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface GatewayClassStatus {
  name: string;
  conditions: Condition[];
}

export interface ListenerStatus {
  name: string;
  supportedKinds: { group?: string; kind: string }[];
  attachedRoutes: number;
  conditions: Condition[];
}

export interface GatewayStatus {
  namespace: string;
  name: string;
  addresses: { type: 'IPAddress' | 'Hostname'; value: string }[];
  conditions: Condition[];
  listeners: ListenerStatus[];
}

export type RouteKind = 'HTTPRoute' | 'GRPCRoute' | 'TLSRoute' | 'TCPRoute';

export interface RouteParentStatus {
  parentRef: ParentRef;
  /** ours: a writer only replaces the entries with its own controllerName */
  controllerName: string;
  conditions: Condition[];
}

export interface RouteStatus {
  kind: RouteKind;
  namespace: string;
  name: string;
  parents: RouteParentStatus[];
}

/** Everything the status writer puts on the objects, for one translation. */
export interface GatewayStatusReport {
  gatewayClasses: GatewayClassStatus[];
  gateways: GatewayStatus[];
  routes: RouteStatus[];
}

export interface GatewayTranslation {
  config: DynamicConfig;
  diagnostics: KubeDiagnostic[];
  status: GatewayStatusReport;
}
