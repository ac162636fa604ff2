/*
 * The static (install) configuration, with Traefik's names. It is read once at
 * start from a YAML file, CLI flags and PORTICO_* variables (see static.ts), and
 * normalised here: every duration is in milliseconds, every default filled in.
 */

export interface RespondingTimeouts {
  /** whole request read (Traefik readTimeout, default 60 s); 0 = none */
  readTimeoutMs: number;
  /** headers must arrive within this (slow-loris guard; Portico addition, default 10 s) */
  readHeaderTimeoutMs: number;
  /** response write deadline, 0 = none (Traefik writeTimeout default 0) */
  writeTimeoutMs: number;
  /** keep-alive idle time between requests (Traefik idleTimeout, default 180 s) */
  idleTimeoutMs: number;
}

/** Traefik's types.Domain: a certificate's main name and its other names */
export interface TlsDomain {
  main: string;
  sans: string[];
}

export interface EntryPointConfig {
  name: string;
  /** as written, e.g. ":8000", "127.0.0.1:8000", "[::1]:8000" */
  address: string;
  /** parsed: host '' means all interfaces */
  host: string;
  port: number;
  forwardedHeaders: {
    /** IPs/CIDRs whose X-Forwarded-* headers are kept; others' are replaced */
    trustedIPs: string[];
    insecure: boolean;
  };
  /**
   * set: connections may start with a PROXY protocol header (v1 or v2). Senders in trustedIPs
   * (every sender when insecure) give the client address; others' headers are read and dropped.
   */
  proxyProtocol?: { trustedIPs: string[]; insecure: boolean };
  transport: {
    respondingTimeouts: RespondingTimeouts;
    lifeCycle: { graceTimeOutMs: number; requestAcceptGraceTimeoutMs: number };
    keepAliveMaxRequests: number;
  };
  http: {
    /**
     * set: TLS is terminated here and every router on this entrypoint is an HTTPS router.
     * Routers without tls of their own get these (Traefik's model, src/routing/models.ts);
     * domains, when set, are the certificates ordered for them instead of their Host names
     */
    tls?: { options?: string; certResolver?: string; domains?: TlsDomain[] };
    /** entryPoints.<n>.http.redirections.entryPoint: every request is redirected to another entrypoint */
    redirect?: {
      to: string;
      toOrigin: string;
      scheme: string;
      permanent: boolean;
      priority: number;
    };
    middlewares: string[];
    /** request header bytes limit; larger requests get 431 (default 1 MiB like Traefik? Portico: 32 KiB) */
    maxHeaderBytes: number;
    sanitizePath: boolean;
    encodedCharacters: {
      allowEncodedSlash: boolean;
      allowEncodedBackSlash: boolean;
      allowEncodedNullCharacter: boolean;
      allowEncodedSemicolon: boolean;
      allowEncodedPercent: boolean;
      allowEncodedQuestionMark: boolean;
      allowEncodedHash: boolean;
    };
  };
  asDefault: boolean;
  /**
   * set on a UDP entrypoint (address `.../udp`, Traefik's GetProtocol): it takes only UDP
   * routers, and none of the TCP/HTTP options apply. timeoutMs: Traefik's udp.timeout, how long
   * a client session may stay silent (both ways) before it is closed (default 3 s, > 0)
   */
  udp?: { timeoutMs: number };
}

export interface FileProviderConfig {
  filename?: string;
  directory?: string;
  watch: boolean;
}

export interface DockerProviderConfig {
  /** unix:///path or tcp://host:port; undefined = DOCKER_HOST, else the default socket */
  endpoint?: string;
  exposedByDefault: boolean;
  defaultRule: string;
  network?: string;
  constraints?: string;
  watch: boolean;
  allowEmptyServices: boolean;
  tls: { ca?: string; cert?: string; key?: string; insecureSkipVerify: boolean };
}

/**
 * The API client's options, alike in all four Kubernetes providers of Traefik
 * (endpoint, token, certAuthFilePath, throttleDuration).
 */
export interface KubernetesClientConfig {
  /** http:// or https:// URL of the API server; undefined = in-cluster, else the kubeconfig */
  endpoint?: string;
  /**
   * bearer token, or the path of a file holding it (Traefik's FileOrContent: a path that
   * exists is read, by the provider, so a rotated service account token is picked up)
   */
  token?: string;
  /** absolute path of the API server's CA certificate */
  certAuthFilePath?: string;
  /** wait this long after a change before building a snapshot; 0 = every change (Traefik default) */
  throttleDurationMs: number;
}

/**
 * What both Kubernetes providers share (Traefik's ingress.Provider and
 * crd.Provider, issue 14 item 1). Defaults are Traefik's zero values: neither
 * provider has a SetDefaults.
 */
export interface KubernetesCommonConfig extends KubernetesClientConfig {
  /** namespaces to watch; [] = all */
  namespaces: string[];
  /** Kubernetes label selector as written, syntax checked (label-selector.ts parses it) */
  labelSelector?: string;
  /** IngressClass name / kubernetes.io/ingress.class value to handle; undefined = Traefik's default */
  ingressClass?: string;
  /** keep services that have no ready endpoint (they answer 503 instead of the router 404ing) */
  allowEmptyServices: boolean;
  allowExternalNameServices: boolean;
  /** use the Service's ClusterIP rather than its endpoints unless a service says otherwise */
  nativeLBByDefault: boolean;
  /**
   * no cluster-scope objects are read (IngressClasses, Nodes: namespaced RBAC): objects naming
   * an IngressClass are ignored, nodePortLB services refused. On the Ingress provider the
   * deprecated disableIngressClassLookup sets it too
   */
  disableClusterScopeResources: boolean;
}

/** providers.kubernetesIngress */
export interface KubernetesIngressProviderConfig extends KubernetesCommonConfig {
  /**
   * what the Ingresses' status.loadBalancer says: an address, or (publishedService,
   * "namespace/name") the one of a Service; undefined = status is not written
   */
  ingressEndpoint?: { ip?: string; hostname?: string; publishedService?: string };
  /** Prefix paths match whole path segments, as the Ingress specification says */
  strictPrefixMatching: boolean;
}

/** providers.kubernetesCRD */
export interface KubernetesCrdProviderConfig extends KubernetesCommonConfig {
  /** references to objects in other namespaces are allowed (Traefik default: refused) */
  allowCrossNamespace: boolean;
}

/**
 * providers.kubernetesGateway (issue 15 item 1): Traefik's gateway.Provider.
 * Its qps and burst (the API client's rate limit) are accepted and ignored;
 * crossProviderNamespaces is refused.
 */
export interface KubernetesGatewayProviderConfig extends KubernetesClientConfig {
  /** namespaces to watch; [] = all */
  namespaces: string[];
  /** label selector the GatewayClasses must match, as written (syntax checked); Gateways and routes are not filtered */
  labelSelector?: string;
  /** use the Service's ClusterIP rather than its endpoints unless a service says otherwise */
  nativeLBByDefault: boolean;
  /** experimental channel kinds (TCPRoute, TLSRoute) are read too */
  experimentalChannel: boolean;
  /**
   * what the Gateways' status.addresses say. Traefik uses the first set of: ip, hostname,
   * the load-balancer addresses of service (both fields present, checked at load);
   * undefined = no addresses are written
   */
  statusAddress?: { ip?: string; hostname?: string; service?: { namespace: string; name: string } };
}

/**
 * providers.kubernetesIngressNGINX (issue 15 item 4): Traefik's
 * ingressnginx.Provider with its SetDefaults. allowSnippetAnnotations is not
 * here: true is refused at load (Portico never renders snippets).
 */
export interface KubernetesIngressNginxProviderConfig extends KubernetesClientConfig {
  /** the one namespace watched; undefined = all */
  watchNamespace?: string;
  /** IngressClass name (with ingressClassByName) and kubernetes.io/ingress.class value handled (default nginx) */
  ingressClass: string;
  /** spec.controller of the IngressClasses handled (default k8s.io/ingress-nginx) */
  controllerClass: string;
  /** also handle Ingresses with neither an IngressClass nor the class annotation */
  watchIngressWithoutClass: boolean;
  /** also handle the IngressClass named ingressClass, whatever its controller */
  ingressClassByName: boolean;
  /** "namespace/name" (checked) of the Service whose address goes to the Ingresses' status */
  publishService?: string;
  /** IP addresses or DNS names (checked) for the Ingresses' status; when set, used instead of publishService */
  publishStatusAddress: string[];
  /** "namespace/name" (checked) of the catch-all Service */
  defaultBackendService?: string;
  /** services of type ExternalName are refused */
  disableSvcExternalName: boolean;
  /**
   * entry point (configured, not UDP: checked; the configured spelling) of the HTTP
   * routers; undefined = Traefik's every entry point without TLS
   */
  httpEntryPoint?: string;
  /** entry point of the HTTPS routers; undefined = none (Traefik) */
  httpsEntryPoint?: string;
  /** http:// or https:// URL (checked) of the external authentication for every Ingress */
  globalAuthURL?: string;
  /** largest request body, in bytes (default 1048576, nginx's 1m); 0 = no limit */
  proxyBodySize: number;
  /** upstream connect timeout, in seconds (Traefik's unit; default 60) */
  proxyConnectTimeout: number;
  /** upstream read timeout between two reads, in seconds (default 60) */
  proxyReadTimeout: number;
  /** upstream send timeout between two writes, in seconds (default 60) */
  proxySendTimeout: number;
  /** annotations may name Secrets and ConfigMaps in other namespaces */
  allowCrossNamespaceResources: boolean;
  /** an Ingress whose Exact or Prefix path has regular expression characters is refused (default true) */
  strictValidatePathType: boolean;
}

/** what happens to one access-log field or header: Traefik's keep | drop | redact */
export type AccessLogFieldMode = 'keep' | 'drop' | 'redact';

export interface AccessLogFilters {
  /** inclusive [from, to] status ranges ("200", "300-302") */
  statusCodes: [number, number][];
  /** log requests the retry middleware retried */
  retryAttempts: boolean;
  /** log requests that took longer than this; 0 = off */
  minDurationMs: number;
}

export interface AccessLogFields {
  /** for every JSON field not in `names` (Traefik default keep) */
  defaultMode: AccessLogFieldMode;
  /** by Traefik field name (ClientUsername, ...) */
  names: Record<string, AccessLogFieldMode>;
  headers: {
    /** for every header not in `names` (Traefik default drop) */
    defaultMode: AccessLogFieldMode;
    /** by header name, case-insensitive; the spelling given is the one logged */
    names: Record<string, AccessLogFieldMode>;
  };
}

export interface AccessLogConfig {
  filePath?: string;
  format: 'json' | 'common';
  bufferingSize: number;
  /** a line is written when any configured filter matches; absent = every request */
  filters?: AccessLogFilters;
  /** JSON only; absent = Traefik's defaults (all fields, no headers) */
  fields?: AccessLogFields;
}

/** metrics.prometheus (Traefik's names); see docs/metrics.md */
export interface PrometheusConfig {
  /** request duration histogram upper bounds, in seconds, ascending */
  buckets: number[];
  addEntryPointsLabels: boolean;
  addRoutersLabels: boolean;
  addServicesLabels: boolean;
  /** entry point serving /metrics */
  entryPoint: string;
  /** no /metrics router: the user routes to the `prometheus@internal` service */
  manualRouting: boolean;
}

export interface MetricsConfig {
  prometheus?: PrometheusConfig;
  /** also count requests served by internal routers (api, ping, /metrics) */
  addInternals: boolean;
}

export interface ServersTransportDefaults {
  insecureSkipVerify: boolean;
  maxIdleConnsPerHost: number;
  rootCAs: string[];
  forwardingTimeouts: {
    dialTimeoutMs: number;
    responseHeaderTimeoutMs: number;
    idleConnTimeoutMs: number;
  };
}

/** certificatesResolvers.<name>.acme.dnsChallenge (docs/acme.md, "DNS-01") */
export interface DnsChallengeConfig {
  /** lego's provider name: rfc2136, exec, httpreq, cloudflare, route53, ... */
  provider: string;
  /** recursive nameservers for the propagation check, host:port; empty: the system's */
  resolvers: string[];
  /**
   * Traefik's `propagation` block (the deprecated delayBeforeCheck and
   * disablePropagationCheck fill it in); absent: lego's default checks
   */
  propagation?: {
    delayBeforeChecksMs: number;
    disableChecks: boolean;
    requireAllRNS: boolean;
    disableANSChecks: boolean;
  };
}

export interface AcmeResolverConfig {
  email: string;
  caServer: string;
  /** absolute path of an acme.json, or a redis:// URL */
  storage: string;
  keyType: 'EC256' | 'EC384' | 'RSA2048' | 'RSA4096' | 'RSA8192';
  /** files or PEM, trusted for the caServer's HTTPS */
  caCertificates: string[];
  /** HTTP-01 on this entrypoint (used when both challenges are configured) */
  httpChallenge?: { entryPoint: string };
  /** TLS-ALPN-01, answered on every TLS entrypoint */
  tlsChallenge?: Record<string, never>;
  /** DNS-01 through a DNS provider (wildcards; the names the other challenges cannot answer) */
  dnsChallenge?: DnsChallengeConfig;
  eab?: { kid: string; hmacEncoded: string };
}

export interface StaticConfig {
  /** certificatesResolvers.<name>.acme */
  certificatesResolvers?: Record<string, AcmeResolverConfig>;
  entryPoints: Record<string, EntryPointConfig>;
  providers: {
    providersThrottleDurationMs: number;
    file?: FileProviderConfig;
    docker?: DockerProviderConfig;
    kubernetesIngress?: KubernetesIngressProviderConfig;
    kubernetesCRD?: KubernetesCrdProviderConfig;
    kubernetesGateway?: KubernetesGatewayProviderConfig;
    kubernetesIngressNGINX?: KubernetesIngressNginxProviderConfig;
  };
  log: {
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
    format: 'json' | 'common';
    filePath?: string;
  };
  accessLog?: AccessLogConfig;
  api?: { insecure: boolean; dashboard: boolean };
  ping?: { entryPoint: string };
  /** set when any metrics option is (Prometheus export; the dashboard's traffic needs only `api`) */
  metrics?: MetricsConfig;
  serversTransport: ServersTransportDefaults;
  /** Portico: worker processes; 0 = run in this process (no cluster), default = cores */
  workers: number;
  /** Portico: built-in demo upstream + quickstart dynamic config */
  quickstart: boolean;
  /**
   * Internal, not an option: the default TLS certificate, generated at start by the
   * primary and carried to the workers so every worker presents the same one.
   */
  defaultCertificate?: { cert: string; key: string };
  /** absolute path of the configuration file that was read, if any */
  configFile?: string;
}
