/*
 * The static options of the four Kubernetes providers, as Traefik v3 declares
 * them (pkg/provider/kubernetes/{ingress,crd,gateway,ingress-nginx}/kubernetes.go):
 * one group each for src/config/schema/static.ts. The providers share the API
 * client's options (endpoint, token, certAuthFilePath, throttleDuration); the
 * Ingress and CRD providers also share the options of kubernetesCommon()
 * (issue 14 item 1). Values are checked and built in
 * src/config/static-build-kubernetes.ts; which Traefik options are refused and
 * which are accepted with a warning is said in docs/static-configuration.md
 * ("Kubernetes providers").
 */
import { bool, duration, group, int, list, path, str } from './static-builders.js';

/** the API client's options, alike in every Kubernetes provider of Traefik */
const endpoint = () =>
  str(
    'Kubernetes API server URL, http:// or https:// (e.g. kubectl proxy); default: in-cluster (KUBERNETES_SERVICE_HOST), else the kubeconfig',
  );
const token = () => str('bearer token, or the path of a file holding it (not needed in-cluster)');
const certAuthFilePath = () => path('CA certificate of the API server (not needed in-cluster)');
const throttleDuration = () =>
  duration(
    'wait this long after a change before building a new configuration; 0 = every change',
    '0s',
  );
const namespaces = () => list('comma-separated namespaces to watch', '(all)');
const nativeLBByDefault = () =>
  bool(
    "send to the Service's ClusterIP instead of its endpoints, unless the service says otherwise",
    'false',
  );

// The options both Kubernetes providers share (Traefik's ingress.Provider and crd.Provider
// declare each one alike, issue 14 item 1); `what` names the objects the provider reads
function kubernetesCommon(what: string) {
  return {
    endpoint: endpoint(),
    token: token(),
    certAuthFilePath: certAuthFilePath(),
    namespaces: namespaces(),
    labelSelector: str(
      `Kubernetes label selector the ${what} must match (app=web,tier in (a,b),!canary)`,
    ),
    ingressClass: str(
      `class of the ${what} to handle: IngressClass name or kubernetes.io/ingress.class value (unset: no class, an empty one or "traefik")`,
    ),
    throttleDuration: throttleDuration(),
    allowEmptyServices: bool(
      'keep services without a ready endpoint (503 instead of 404)',
      'false',
    ),
    allowExternalNameServices: bool('allow services of type ExternalName', 'false'),
    nativeLBByDefault: nativeLBByDefault(),
    // Traefik's chart sets it with rbac.namespaced (a Role instead of a ClusterRole)
    disableClusterScopeResources: bool(
      `read no cluster-scope objects (IngressClasses, Nodes), for namespaced RBAC: ${what} naming an IngressClass are ignored, nodePortLB services refused`,
      'false',
    ),
  };
}

export const KUBERNETES_INGRESS = group(
  {
    ...kubernetesCommon('Ingresses'),
    ingressEndpoint: group({
      ip: str('IP address written to the status.loadBalancer of the Ingresses'),
      hostname: str('hostname written to the status.loadBalancer of the Ingresses'),
      publishedService: str(
        'namespace/name of the Service whose address is copied to the status of the Ingresses',
      ),
    }),
    disableIngressClassLookup: bool('deprecated: use disableClusterScopeResources'),
    strictPrefixMatching: bool(
      'pathType Prefix matches whole path segments (/foo matches /foo/bar, not /foobar), as the Ingress specification says',
      'false',
    ),
  },
  {
    section: 'Kubernetes Ingress provider: Ingress objects become routes',
    unsupported: ['reportNodeInternalIPs', 'crossProviderNamespaces'],
  },
);

export const KUBERNETES_CRD = group(
  {
    ...kubernetesCommon('IngressRoutes'),
    allowCrossNamespace: bool(
      'allow references to middlewares, services and TLS options in other namespaces',
      'false',
    ),
  },
  {
    section: "Kubernetes CRD provider: Traefik's IngressRoute, Middleware, ... objects",
    unsupported: ['crossProviderNamespaces'],
  },
);

// Traefik's gateway.Provider (issue 15 item 1), in its order; its SetDefaults sets only qps
// and burst, the API client's rate limit, which Portico's watches do not need (accepted and
// ignored: static-tree.ts IGNORABLE)
export const KUBERNETES_GATEWAY = group(
  {
    endpoint: endpoint(),
    token: token(),
    certAuthFilePath: certAuthFilePath(),
    namespaces: namespaces(),
    labelSelector: str(
      'Kubernetes label selector the GatewayClasses must match (Gateways and routes are not filtered)',
    ),
    throttleDuration: throttleDuration(),
    experimentalChannel: bool(
      'read the experimental channel kinds too (TCPRoute, TLSRoute); their CRDs must be installed',
      'false',
    ),
    statusAddress: group(
      {
        ip: str('IP address written to the status.addresses of the Gateways'),
        hostname: str('hostname written to the status.addresses of the Gateways (when no ip)'),
        service: group({
          namespace: str(
            'namespace of the Service whose load-balancer addresses are copied to the status of the Gateways (when no ip or hostname)',
          ),
          name: str('name of that Service'),
        }),
      },
      { note: 'the first of ip, hostname and service that is set is used, as in Traefik' },
    ),
    nativeLBByDefault: nativeLBByDefault(),
  },
  {
    section: 'Kubernetes Gateway API provider: GatewayClass, Gateway, HTTPRoute, ... objects',
    unsupported: ['qps', 'burst', 'crossProviderNamespaces'],
  },
);

// Traefik's ingressnginx.Provider (issue 15 item 4) with its SetDefaults; the options of
// nginx's ConfigMap that Portico does not implement are `unsupported` (a few of them ignored
// with a warning: static-tree.ts IGNORABLE)
export const KUBERNETES_INGRESS_NGINX = group(
  {
    endpoint: endpoint(),
    token: token(),
    certAuthFilePath: certAuthFilePath(),
    throttleDuration: throttleDuration(),
    globalAuthURL: str(
      'external authentication URL (http:// or https://) for every Ingress; an auth-url annotation takes precedence',
    ),
    watchNamespace: str('the one namespace to watch', '(all)'),
    ingressClass: str(
      'IngressClass name (with ingressClassByName) and kubernetes.io/ingress.class value handled',
      'nginx',
    ),
    controllerClass: str('spec.controller of the IngressClasses handled', 'k8s.io/ingress-nginx'),
    watchIngressWithoutClass: bool(
      'also handle Ingresses with neither an IngressClass nor the class annotation',
      'false',
    ),
    ingressClassByName: bool(
      'also handle the IngressClass named ingressClass, whatever its controller',
      'false',
    ),
    publishService: str(
      'namespace/name of the Service whose address is copied to the status of the Ingresses',
    ),
    publishStatusAddress: list(
      'IP addresses or DNS names written to the status of the Ingresses (instead of publishService)',
      '(none)',
    ),
    defaultBackendService: str(
      'namespace/name of the Service answering requests no Ingress matches (catch-all)',
    ),
    disableSvcExternalName: bool('refuse services of type ExternalName', 'false'),
    // Traefik's *dynamic.IPStrategy: its zero value changes nothing, and Traefik's Helm chart
    // writes those zeros by default; anything else is refused until the provider applies it
    ipAllowListStrategy: group({
      depth: int(
        'not supported yet, only 0: the Nth X-Forwarded-For address from the right as the client IP of allow lists',
        '0',
        0,
      ),
      excludedIPs: list('not supported yet, only empty', '(none)'),
      ipv6Subnet: int('not supported yet, only 0', '0', 0, 128),
    }),
    httpEntryPoint: str('entry point of the HTTP routers', '(every entry point without TLS)'),
    httpsEntryPoint: str('entry point of the HTTPS routers (TLS Ingresses)'),
    proxyBodySize: int(
      'largest request body in bytes (nginx client_max_body_size); 0 = no limit; the proxy-body-size annotation overrides it',
      '1048576',
      0,
    ),
    proxyConnectTimeout: int(
      'upstream connect timeout in seconds; the proxy-connect-timeout annotation overrides it',
      '60',
      0,
    ),
    proxyReadTimeout: int(
      'upstream read timeout in seconds, between two reads; the proxy-read-timeout annotation overrides it',
      '60',
      0,
    ),
    proxySendTimeout: int(
      'upstream send timeout in seconds, between two writes; the proxy-send-timeout annotation overrides it',
      '60',
      0,
    ),
    allowCrossNamespaceResources: bool(
      'annotations may name Secrets and ConfigMaps in other namespaces',
      'false',
    ),
    allowSnippetAnnotations: bool(
      'must be false: Portico never renders snippet annotations (IngressNightmare, CVE-2025-1974)',
      'false',
    ),
    strictValidatePathType: bool(
      'refuse an Ingress whose Exact or Prefix path has regular expression characters',
      'true',
    ),
  },
  {
    section: 'Kubernetes Ingress NGINX provider: Ingresses of class nginx with their annotations',
    unsupported: [
      'watchNamespaceSelector',
      'proxyRequestBuffering',
      'clientBodyBufferSize',
      'proxyBuffering',
      'proxyBufferSize',
      'proxyBuffersNumber',
      'proxyNextUpstream',
      'proxyNextUpstreamTries',
      'proxyNextUpstreamTimeout',
      'customHTTPErrors',
      'upstreamKeepaliveTimeout',
      'globalAllowedResponseHeaders',
    ],
  },
);
