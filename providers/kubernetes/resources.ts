/*
 * The resources the providers watch: for each, where it lives in the API
 * (group, version, plural, scope — the watch path comes from these) and how
 * it is listed through @kubernetes/client-node's typed clients (an
 * informer's list must apply the same label selector as its watch).
 *
 * Traefik's CRD kinds are served under two groups, traefik.io (Traefik's
 * own, so manifests load unchanged) and portico.io (the same kinds under
 * Portico's name); both are watched, and a group whose CRDs are not
 * installed is simply absent (the watch set retries it now and then).
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  NetworkingV1Api,
  type KubeConfig,
} from '@kubernetes/client-node';
import {
  CRD_KINDS,
  CRD_VERSION,
  GATEWAY_GROUP,
  PORTICO_GROUP,
  TRAEFIK_GROUP,
  type KubeObject,
  type ResourceKind,
} from './objects.js';

export interface ListAnswer {
  metadata?: { resourceVersion?: string };
  items: KubeObject[];
}

export interface ResourceDef {
  kind: ResourceKind;
  /** '' for the core group */
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
  /** whether `labelSelector` applies (the provider's own objects, not Services or Secrets) */
  selectable: boolean;
}

/** The API path of a collection: all namespaces when `namespace` is undefined. */
export function collectionPath(def: ResourceDef, namespace?: string): string {
  const base = def.group === '' ? `/api/${def.version}` : `/apis/${def.group}/${def.version}`;
  return def.namespaced && namespace !== undefined
    ? `${base}/namespaces/${encodeURIComponent(namespace)}/${def.plural}`
    : `${base}/${def.plural}`;
}

export function resourceName(def: ResourceDef): string {
  return def.group === '' ? def.plural : `${def.plural}.${def.group}`;
}

const core = (kind: ResourceKind, plural: string, namespaced = true): ResourceDef => ({
  kind,
  group: '',
  version: 'v1',
  plural,
  namespaced,
  selectable: false,
});

export const SERVICE = core('Service', 'services');
export const SECRET = core('Secret', 'secrets');
export const CONFIG_MAP = core('ConfigMap', 'configmaps');
export const NODE = core('Node', 'nodes', false);
/** for Gateway listeners' allowedRoutes.namespaces.selector (namespace labels) */
export const NAMESPACE = core('Namespace', 'namespaces', false);
export const ENDPOINT_SLICE: ResourceDef = {
  kind: 'EndpointSlice',
  group: 'discovery.k8s.io',
  version: 'v1',
  plural: 'endpointslices',
  namespaced: true,
  selectable: false,
};
export const INGRESS: ResourceDef = {
  kind: 'Ingress',
  group: 'networking.k8s.io',
  version: 'v1',
  plural: 'ingresses',
  namespaced: true,
  selectable: true,
};
export const INGRESS_CLASS: ResourceDef = {
  kind: 'IngressClass',
  group: 'networking.k8s.io',
  version: 'v1',
  plural: 'ingressclasses',
  namespaced: false,
  selectable: false,
};

/** Every CRD kind in both groups, traefik.io first. */
export const CRD_RESOURCES: readonly ResourceDef[] = [TRAEFIK_GROUP, PORTICO_GROUP].flatMap(
  (group) =>
    CRD_KINDS.map((kind) => ({
      kind,
      group,
      version: CRD_VERSION,
      plural: `${kind.toLowerCase()}s`,
      namespaced: true,
      selectable: true,
    })),
);

const gateway = (
  kind: ResourceKind,
  plural: string,
  version = 'v1',
  namespaced = true,
): ResourceDef => ({
  kind,
  group: GATEWAY_GROUP,
  version,
  plural,
  namespaced,
  // Traefik's labelSelector selects GatewayClasses only
  selectable: kind === 'GatewayClass',
});

/** Gateway API, the versions Traefik reads (Gateway API v1.5 standard channel). */
export const GATEWAY_CLASS = gateway('GatewayClass', 'gatewayclasses', 'v1', false);
export const GATEWAY_RESOURCES: readonly ResourceDef[] = [
  GATEWAY_CLASS,
  gateway('Gateway', 'gateways'),
  gateway('HTTPRoute', 'httproutes'),
  gateway('GRPCRoute', 'grpcroutes'),
  gateway('TLSRoute', 'tlsroutes'),
  gateway('ReferenceGrant', 'referencegrants', 'v1beta1'),
];
/** experimental channel only (providers.kubernetesGateway.experimentalChannel) */
export const TCP_ROUTE = gateway('TCPRoute', 'tcproutes', 'v1alpha2');

/** Lists a collection with the typed clients (the same selector the watch uses). */
export function listerFor(
  kc: KubeConfig,
  def: ResourceDef,
  namespace: string | undefined,
  labelSelector: string | undefined,
): () => Promise<ListAnswer> {
  const sel = def.selectable && labelSelector ? { labelSelector } : {};
  const ns = def.namespaced ? namespace : undefined;
  if (def.group === TRAEFIK_GROUP || def.group === PORTICO_GROUP || def.group === GATEWAY_GROUP) {
    const api = kc.makeApiClient(CustomObjectsApi);
    const base = { group: def.group, version: def.version, plural: def.plural, ...sel };
    if (!def.namespaced) return async () => (await api.listClusterCustomObject(base)) as ListAnswer;
    return async () =>
      (ns === undefined
        ? await api.listClusterCustomObject(base)
        : await api.listNamespacedCustomObject({ ...base, namespace: ns })) as ListAnswer;
  }
  const typed = typedLister(kc, def);
  return async () => (await typed(ns, sel)) as unknown as ListAnswer;
}

type Sel = { labelSelector?: string };
type Lister = (namespace: string | undefined, sel: Sel) => Promise<unknown>;

function typedLister(kc: KubeConfig, def: ResourceDef): Lister {
  const corev1 = (): CoreV1Api => kc.makeApiClient(CoreV1Api);
  switch (def.kind) {
    case 'Service': {
      const api = corev1();
      return (namespace, sel) =>
        namespace === undefined
          ? api.listServiceForAllNamespaces(sel)
          : api.listNamespacedService({ namespace, ...sel });
    }
    case 'Secret': {
      const api = corev1();
      return (namespace, sel) =>
        namespace === undefined
          ? api.listSecretForAllNamespaces(sel)
          : api.listNamespacedSecret({ namespace, ...sel });
    }
    case 'ConfigMap': {
      const api = corev1();
      return (namespace, sel) =>
        namespace === undefined
          ? api.listConfigMapForAllNamespaces(sel)
          : api.listNamespacedConfigMap({ namespace, ...sel });
    }
    case 'Node': {
      const api = corev1();
      return (_namespace, sel) => api.listNode(sel);
    }
    case 'Namespace': {
      const api = corev1();
      return (_namespace, sel) => api.listNamespace(sel);
    }
    case 'EndpointSlice': {
      const api = kc.makeApiClient(DiscoveryV1Api);
      return (namespace, sel) =>
        namespace === undefined
          ? api.listEndpointSliceForAllNamespaces(sel)
          : api.listNamespacedEndpointSlice({ namespace, ...sel });
    }
    case 'Ingress': {
      const api = kc.makeApiClient(NetworkingV1Api);
      return (namespace, sel) =>
        namespace === undefined
          ? api.listIngressForAllNamespaces(sel)
          : api.listNamespacedIngress({ namespace, ...sel });
    }
    case 'IngressClass': {
      const api = kc.makeApiClient(NetworkingV1Api);
      return (_namespace, sel) => api.listIngressClass(sel);
    }
    default:
      throw new Error(`kubernetes: no lister for ${def.kind}`);
  }
}
