/*
 * What the Kubernetes providers read, as plain data: the objects the watch
 * caches hold (exactly as the API server sent them, so every field is hostile
 * input and is checked where it is read), the view the pure translators get,
 * and the diagnostics they give back. The translators (ingress/, crd/,
 * backends.ts) depend on this file only, never on the client or the watches,
 * so `portico check --kubernetes` can run them on manifests read from files.
 */

/** The kinds the providers watch; the key of each cache. */
export type ResourceKind =
  | 'Ingress'
  | 'IngressClass'
  | 'Service'
  | 'EndpointSlice'
  | 'Secret'
  | 'ConfigMap'
  | 'Node'
  | 'IngressRoute'
  | 'IngressRouteTCP'
  | 'IngressRouteUDP'
  | 'Middleware'
  | 'MiddlewareTCP'
  | 'TLSOption'
  | 'TLSStore'
  | 'ServersTransport'
  | 'ServersTransportTCP'
  | 'TraefikService'
  | 'GatewayClass'
  | 'Gateway'
  | 'HTTPRoute'
  | 'GRPCRoute'
  | 'TLSRoute'
  | 'TCPRoute'
  | 'ReferenceGrant'
  | 'BackendTLSPolicy'
  | 'Namespace';

export interface ObjectMeta {
  name: string;
  /** absent on cluster-scoped kinds (IngressClass, Node) */
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/**
 * One object as the API server sent it. `apiVersion`/`kind` are absent on
 * listed built-in objects (kubernetes#3030) and present on watched ones; the
 * cache key tells the kind, so never rely on `kind` here. For custom
 * resources `apiVersion` tells the group (traefik.io or portico.io).
 */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: unknown;
  /** Secret, ConfigMap: base64 values (Secret) or text (ConfigMap) */
  data?: Record<string, string>;
  /** Secret given as text in a manifest read from a file (`portico check`) */
  stringData?: Record<string, string>;
  /** Secret */
  type?: string;
  /** EndpointSlice: endpoints, ports and addressType sit at the top level */
  endpoints?: unknown;
  ports?: unknown;
  addressType?: string;
}

/**
 * A consistent read of every cache at one instant (the providers build one
 * per snapshot). Namespaces filtering (`providers.*.namespaces`) is already
 * applied: objects outside the watched namespaces are never in the view.
 */
export interface ClusterView {
  get(kind: ResourceKind, namespace: string | undefined, name: string): KubeObject | undefined;
  /** every object of a kind, in the namespace when given, sorted by namespace then name */
  list(kind: ResourceKind, namespace?: string): KubeObject[];
  /** the EndpointSlices labelled `kubernetes.io/service-name=<service>` in the namespace */
  endpointSlicesFor(namespace: string, service: string): KubeObject[];
}

/**
 * Why an object (or a part of it) could not be translated. `field` is the
 * path inside the object (`spec.rules[0].http.paths[1].backend.service.port`);
 * the rest of the object, and every other object, still serve.
 */
export interface KubeDiagnostic {
  kind: string;
  namespace?: string;
  name: string;
  field: string;
  message: string;
  level: 'error' | 'warning';
}

/** `Ingress apps/web`: how logs, the API and the dashboard name an object. */
export function objectRef(d: Pick<KubeDiagnostic, 'kind' | 'namespace' | 'name'>): string {
  return d.namespace !== undefined ? `${d.kind} ${d.namespace}/${d.name}` : `${d.kind} ${d.name}`;
}

/** Traefik's CRD kinds (traefik.io/v1alpha1, and the same in portico.io). */
export const CRD_KINDS = [
  'IngressRoute',
  'IngressRouteTCP',
  'IngressRouteUDP',
  'Middleware',
  'MiddlewareTCP',
  'TLSOption',
  'TLSStore',
  'ServersTransport',
  'ServersTransportTCP',
  'TraefikService',
] as const satisfies readonly ResourceKind[];

/** Traefik's CRD group, and Portico's own group carrying the same kinds. */
export const TRAEFIK_GROUP = 'traefik.io';
export const PORTICO_GROUP = 'portico.io';
export const CRD_VERSION = 'v1alpha1';

/** IngressClass `spec.controller` values the Ingress provider takes as its own. */
export const INGRESS_CONTROLLERS = [
  'traefik.io/ingress-controller',
  'portico.io/ingress-controller',
];

/** Provider names, as Traefik qualifies elements (`name@kubernetes`, `ns-name@kubernetescrd`). */
export const INGRESS_PROVIDER = 'kubernetes';
export const CRD_PROVIDER = 'kubernetescrd';
export const GATEWAY_PROVIDER = 'kubernetesgateway';
export const NGINX_PROVIDER = 'kubernetesingressnginx';

/** Gateway API: its group, and the GatewayClass controllerName values taken as ours. */
export const GATEWAY_GROUP = 'gateway.networking.k8s.io';
export const GATEWAY_CONTROLLERS = [
  'traefik.io/gateway-controller',
  'portico.io/gateway-controller',
];

/** A small in-memory view over arrays of objects (manifests from files, tests). */
export function viewOf(objects: Partial<Record<ResourceKind, KubeObject[]>>): ClusterView {
  const key = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  const sorted = new Map<ResourceKind, KubeObject[]>();
  for (const [kind, list] of Object.entries(objects) as [ResourceKind, KubeObject[]][]) {
    sorted.set(
      kind,
      [...list].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)),
    );
  }
  return {
    get: (kind, namespace, name) =>
      sorted
        .get(kind)
        ?.find(
          (o) => o.metadata.name === name && (o.metadata.namespace ?? undefined) === namespace,
        ),
    list: (kind, namespace) =>
      (sorted.get(kind) ?? []).filter(
        (o) => namespace === undefined || o.metadata.namespace === namespace,
      ),
    endpointSlicesFor: (namespace, service) =>
      (sorted.get('EndpointSlice') ?? []).filter(
        (o) =>
          o.metadata.namespace === namespace &&
          o.metadata.labels?.['kubernetes.io/service-name'] === service,
      ),
  };
}
