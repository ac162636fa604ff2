/*
 * The `spec` of each of Traefik's CRD kinds (traefik.io/v1alpha1), written
 * with the configuration schema's builders and, wherever Traefik's Kubernetes
 * object carries the same options as the file provider, built from the very
 * schema objects the file provider validates with (http.ts, tls.ts,
 * middlewares/): adding an option there adds it here. What only Kubernetes
 * has — references to other objects by name/namespace, Secrets and
 * ConfigMaps instead of file paths, IngressRoute's routes — is written here,
 * after Traefik's own CRD definitions
 * (docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml).
 * docs/kubernetes-crds.md lists where the two shapes differ and why.
 */
import {
  Any,
  Arr,
  Bool,
  Duration,
  Int,
  Map,
  NumText,
  Obj,
  OneOf,
  Str,
  StrList,
  fieldsOf,
  hintOf,
  itemsOf,
  requiredOf,
  type TSchema,
} from './core.js';
import {
  Failover,
  HealthCheck,
  LoadBalancer,
  Mirroring,
  PassiveHealthCheck,
  Router,
  RouterTls,
  ServersTransport,
  StickyCookie,
} from './http.js';
import { TlsOptions, TlsStore } from './tls.js';
import { middlewareSchemas } from './middlewares/index.js';

/** An object schema like `base`, with fields left out, added or replaced. */
function reshape(
  base: TSchema,
  change: {
    omit?: readonly string[];
    add?: Record<string, TSchema>;
    required?: readonly string[];
    description?: string;
  } = {},
): TSchema {
  const fields = { ...fieldsOf(base) };
  for (const k of change.omit ?? []) delete fields[k];
  Object.assign(fields, change.add ?? {});
  const required = (change.required ?? requiredOf(base)).filter((k) => k in fields);
  const description =
    change.description ?? (base as unknown as { description?: string }).description;
  return Obj(fields, {
    required,
    ...(description !== undefined ? { description } : {}),
  });
}

function field(base: TSchema, name: string): TSchema {
  const f = fieldsOf(base)[name];
  if (f === undefined) throw new Error(`crd specs: the schema has no field ${name}`);
  return f;
}

/* ------------------------------------------------------------ references */

/** A reference to another object by name; namespace defaults to the referring object's. */
function ref(kind: string): TSchema {
  return Obj(
    {
      name: Str({ description: `name of the ${kind}` }),
      namespace: Str({
        description: `namespace of the ${kind} (default: the referring object's; another one needs allowCrossNamespace)`,
      }),
    },
    {
      required: ['name'],
      description: `a reference to ${/^[AEIOU]/.test(kind) ? 'an' : 'a'} ${kind}`,
    },
  );
}

const MiddlewareRef = ref('Middleware');
const MiddlewareTCPRef = ref('MiddlewareTCP');

const SecretName = (description: string) => Str({ description });

/** Certificates from Secrets and ConfigMaps of the object's namespace, instead of files. */
const RootCA = Obj(
  {
    secret: Str({ description: 'name of a Secret whose tls.ca or ca.crt is a CA bundle' }),
    configMap: Str({ description: 'name of a ConfigMap whose tls.ca or ca.crt is a CA bundle' }),
  },
  { description: 'a CA bundle from a Secret or a ConfigMap (one of the two)' },
);
// Traefik says it with a CEL rule; maxProperties says the same without one
const RootCAOne: TSchema = { ...RootCA, maxProperties: 1 };

const transportTls = {
  rootCAs: Arr(RootCAOne, { description: 'CAs that verify the servers' }),
  rootCAsSecrets: StrList({ description: 'deprecated in Traefik: use rootCAs (names of Secrets)' }),
  certificatesSecrets: StrList({
    description: 'names of kubernetes.io/tls Secrets presented as client certificates',
  }),
};

/* -------------------------------------------------------- HTTP services */

const K8sStickyCookie = reshape(StickyCookie, {
  add: {
    // Portico matches these ignoring case; Traefik's CRD lists both spellings
    sameSite: OneOf(['none', 'lax', 'strict', 'None', 'Lax', 'Strict'], {
      description: 'SameSite attribute',
    }),
  },
});

const K8sSticky = Obj({ cookie: K8sStickyCookie }, { description: 'sticky sessions' });

/**
 * A Kubernetes Service or a TraefikService an HTTP route (or a TraefikService,
 * or an errors middleware) sends requests to: Traefik's LoadBalancerSpec, with
 * the load balancer options of the file provider's services.
 */
function serviceRefFields(): Record<string, TSchema> {
  const lb = fieldsOf(LoadBalancer);
  return {
    name: Str({ description: 'name of the Kubernetes Service or TraefikService' }),
    namespace: Str({
      description:
        "namespace of the service (default: the referring object's; another one needs allowCrossNamespace)",
    }),
    kind: OneOf(['Service', 'TraefikService'], {
      description: 'a Kubernetes Service (default) or a TraefikService',
    }),
    port: NumText({ description: 'port of the Kubernetes Service, by number or name' }),
    scheme: Str({
      description: 'http, https or h2c (default: https for port 443, http otherwise)',
    }),
    strategy: OneOf(['wrr', 'p2c', 'hrw', 'leasttime', 'RoundRobin'], {
      description: 'how a server is chosen (RoundRobin: deprecated name of wrr)',
    }),
    weight: Int({ description: 'relative weight inside a weighted TraefikService', min: 0 }),
    passHostHeader: lb.passHostHeader!,
    responseForwarding: lb.responseForwarding!,
    serversTransport: Str({
      description: 'name of a ServersTransport of the same namespace (Kubernetes Services only)',
    }),
    sticky: K8sSticky,
    healthCheck: reshape(HealthCheck, {
      required: [],
      description: 'active health checks (ExternalName services)',
    }),
    passiveHealthCheck: PassiveHealthCheck,
    nativeLB: Bool({
      description: "send to the Service's ClusterIP instead of the ready endpoints",
    }),
    nodePortLB: Bool({ description: "send to the nodes' NodePort (NodePort Services)" }),
    middlewares: Arr(MiddlewareRef, { description: 'middlewares applied to this service' }),
  };
}

const ServiceRef = Obj(serviceRefFields(), {
  required: ['name'],
  description: 'a Kubernetes Service or a TraefikService',
});

const mirrorFields: Record<string, TSchema> = {
  ...serviceRefFields(),
  percent: field(itemsOf(field(Mirroring, 'mirrors')), 'percent'),
};
const MirrorRef = Obj(mirrorFields, { required: ['name'] });

const mirroringFields: Record<string, TSchema> = {
  ...serviceRefFields(),
  mirrors: Arr(MirrorRef, { description: 'services that get a copy of requests' }),
  mirrorBody: field(Mirroring, 'mirrorBody'),
  maxBodySize: field(Mirroring, 'maxBodySize'),
};

/* ------------------------------------------------------------ Middleware */

/** As Traefik reads it (pkg/provider/kubernetes/crd/kubernetes.go, loadAuthCredentials). */
const authFields = (format: string, basicAuthType: boolean) => ({
  secret: SecretName(
    `name of a Secret of the same namespace holding the users: ${basicAuthType ? 'type kubernetes.io/basic-auth (username and password keys), or ' : ''}exactly one key with ${format} lines`,
  ),
});

/**
 * Where Traefik's Middleware spec differs from the file provider's option
 * (pkg/provider/kubernetes/crd/traefikio/v1alpha1/middleware.go): Secrets
 * instead of user lists and PEM files, references instead of names.
 */
const middlewareOverrides: Record<string, (options: TSchema) => TSchema> = {
  basicAuth: (o) =>
    reshape(o, {
      omit: ['users', 'usersFile'],
      add: authFields('htpasswd', true),
    }),
  digestAuth: (o) =>
    reshape(o, { omit: ['users', 'usersFile'], add: authFields('htdigest', false) }),
  forwardAuth: (o) =>
    reshape(o, {
      add: {
        tls: Obj(
          {
            caSecret: SecretName(
              'name of a Secret whose tls.ca or ca.crt (or only key) verifies the auth server',
            ),
            certSecret: SecretName(
              'name of a kubernetes.io/tls Secret presented to the auth server',
            ),
            insecureSkipVerify: field(field(o, 'tls'), 'insecureSkipVerify'),
            caOptional: field(field(o, 'tls'), 'caOptional'),
          },
          { description: 'client TLS towards an https address' },
        ),
      },
    }),
  chain: (o) =>
    reshape(o, {
      add: { middlewares: Arr(MiddlewareRef, { description: 'the middlewares, in order' }) },
    }),
  errors: (o) =>
    reshape(o, {
      add: { service: reshape(ServiceRef, { description: 'the service that serves the pages' }) },
    }),
  plugin: () =>
    Map(Any(), {
      description: "plugin name to its options (Portico does not run Traefik's plugins)",
    }),
};

export const MiddlewareSpec: TSchema = {
  ...Obj(
    Object.fromEntries(
      middlewareSchemas.map((m) => {
        let options = middlewareOverrides[m.type]?.(m.options) ?? m.options;
        const removed = hintOf(m.options).removed;
        if (removed) {
          // Traefik's CRD still has them (deprecated); accepting them lets Portico's
          // translator name where to go instead, rather than kubectl's "unknown field"
          const kept = Object.entries(removed).map(([k, why]) => [k, Any({ description: why })]);
          options = reshape(options, { add: Object.fromEntries(kept) });
        }
        return [m.type, { ...options, description: m.description }];
      }),
    ),
    { description: 'a middleware: one of the types below with its options' },
  ),
  // two types in one object: Traefik fails it when building the router, `kubectl apply` does here
  maxProperties: 1,
};

export const MiddlewareTCPSpec: TSchema = {
  ...Obj(
    {
      inFlightConn: Obj(
        { amount: Int({ description: 'maximum simultaneous connections per client IP', min: 0 }) },
        { description: 'limits simultaneous connections' },
      ),
      ipAllowList: Obj(
        { sourceRange: StrList({ description: 'allowed IPs and CIDRs' }) },
        { description: 'lets through only clients whose IP is in sourceRange' },
      ),
      ipWhiteList: Obj(
        { sourceRange: StrList({ description: 'allowed IPs and CIDRs' }) },
        { description: 'deprecated name of ipAllowList' },
      ),
    },
    { description: 'a TCP middleware: one of the types below' },
  ),
  maxProperties: 1,
};

/* ---------------------------------------------------------- TraefikService */

export const TraefikServiceSpec = Obj(
  {
    weighted: Obj(
      {
        services: Arr(ServiceRef, { description: 'the weighted services' }),
        sticky: K8sSticky,
      },
      { description: 'splits traffic between services by weight' },
    ),
    mirroring: Obj(mirroringFields, {
      required: ['name'],
      description: 'sends copies of requests to other services; answers from the main one',
    }),
    failover: Obj(
      {
        service: ServiceRef,
        fallback: ServiceRef,
        errors: field(Failover, 'errors'),
      },
      {
        required: ['service', 'fallback'],
        description: 'falls back to another service when the main one is unhealthy',
      },
    ),
    highestRandomWeight: Obj(
      { services: Arr(ServiceRef, { description: 'the services' }) },
      { description: 'chooses a service by highest random weight (rendezvous hashing)' },
    ),
  },
  { description: 'a service made of other services' },
);

/* ----------------------------------------------------------- IngressRoute */

const routeTlsFields = {
  secretName: SecretName('name of a kubernetes.io/tls Secret with the certificate'),
  options: ref('TLSOption'),
  store: ref('TLSStore'),
  certResolver: field(RouterTls, 'certResolver'),
  domains: field(RouterTls, 'domains'),
};

/**
 * An unset switch is inherited from the entry points (Traefik's
 * routing/observability.md), which is why no default is written here.
 */
const inherited = "(default: the entry points' setting)";
const routerObservability = reshape(field(Router, 'observability'), {
  add: {
    accessLogs: Bool({ description: `write access log lines for this router ${inherited}` }),
    metrics: Bool({ description: `record metrics for this router ${inherited}` }),
    tracing: Bool({ description: `trace requests of this router ${inherited}` }),
    traceVerbosity: OneOf(['minimal', 'detailed'], {
      description: `minimal or detailed ${inherited}`,
    }),
  },
});

export const IngressRouteSpec = Obj(
  {
    entryPoints: field(Router, 'entryPoints'),
    ingressClassName: Str({ description: 'the IngressClass this object belongs to' }),
    parentRefs: Arr(ref('IngressRoute'), {
      description: "parent IngressRoutes whose routers this one's are children of",
    }),
    routes: Arr(
      Obj(
        {
          match: field(Router, 'rule'),
          kind: OneOf(['Rule'], { description: 'Rule (the only kind)' }),
          priority: field(Router, 'priority'),
          syntax: Str({ description: 'rule syntax, v3 or v2 (deprecated in Traefik)' }),
          middlewares: Arr(MiddlewareRef, { description: 'middlewares applied in order' }),
          services: Arr(ServiceRef, {
            description: 'where requests go: Kubernetes Services and TraefikServices',
          }),
          observability: routerObservability,
        },
        { required: ['match'], description: 'an HTTP router' },
      ),
      { description: 'the routes' },
    ),
    tls: Obj(routeTlsFields, { description: 'terminate TLS for these routes' }),
  },
  { required: ['routes'], description: 'HTTP routers and the services they send to' },
);

const tcpServiceFields = {
  name: Str({ description: 'name of the Kubernetes Service' }),
  namespace: Str({ description: "namespace of the Service (default: the IngressRoute's)" }),
  port: NumText({ description: 'port of the Service, by number or name' }),
  weight: Int({ description: 'relative weight', min: 0 }),
  nativeLB: Bool({ description: "send to the Service's ClusterIP instead of the endpoints" }),
  nodePortLB: Bool({ description: "send to the nodes' NodePort (NodePort Services)" }),
};

export const IngressRouteTCPSpec = Obj(
  {
    entryPoints: field(Router, 'entryPoints'),
    ingressClassName: Str({ description: 'the IngressClass this object belongs to' }),
    routes: Arr(
      Obj(
        {
          match: Str({ description: 'the TCP rule, e.g. HostSNI(`example.com`)' }),
          priority: field(Router, 'priority'),
          syntax: OneOf(['v3', 'v2'], { description: 'rule syntax (v2 is deprecated)' }),
          middlewares: Arr(MiddlewareTCPRef, { description: 'TCP middlewares applied in order' }),
          services: Arr(
            Obj(
              {
                ...tcpServiceFields,
                proxyProtocol: Obj(
                  { version: Int({ description: 'PROXY protocol version', min: 1, max: 2 }) },
                  { description: 'send a PROXY protocol header to the servers' },
                ),
                serversTransport: Str({ description: 'name of a ServersTransportTCP' }),
                terminationDelay: Int({
                  description: 'deprecated in Traefik: ms before closing the other side',
                }),
                tls: Bool({ description: 'connect to the servers with TLS' }),
              },
              { required: ['name', 'port'] },
            ),
            { description: 'the Kubernetes Services connections go to' },
          ),
        },
        { required: ['match'], description: 'a TCP router' },
      ),
      { description: 'the routes' },
    ),
    tls: Obj(
      {
        ...routeTlsFields,
        passthrough: Bool({ description: 'pass TLS through to the servers, undecrypted' }),
      },
      { description: 'TLS for these routes' },
    ),
  },
  { required: ['routes'], description: 'TCP routers and the services they send to' },
);

export const IngressRouteUDPSpec = Obj(
  {
    entryPoints: field(Router, 'entryPoints'),
    ingressClassName: Str({ description: 'the IngressClass this object belongs to' }),
    routes: Arr(
      Obj({
        services: Arr(Obj(tcpServiceFields, { required: ['name', 'port'] }), {
          description: 'the Kubernetes Services datagrams go to',
        }),
      }),
      { description: 'the routes' },
    ),
  },
  { required: ['routes'], description: 'UDP routers and the services they send to' },
);

/* ------------------------------------------------------- TLS and transports */

export const TLSOptionSpec = reshape(TlsOptions, {
  add: {
    clientAuth: Obj(
      {
        secretNames: StrList({
          description: 'names of Secrets (tls.ca or ca.crt) with the CAs that verify clients',
        }),
        clientAuthType: OneOf(
          [
            'NoClientCert',
            'RequestClientCert',
            'RequireAnyClientCert',
            'VerifyClientCertIfGiven',
            'RequireAndVerifyClientCert',
          ],
          { description: 'whether and how client certificates are asked for and checked' },
        ),
      },
      { description: 'client certificate authentication' },
    ),
  },
});

const SecretCert = Obj(
  { secretName: SecretName('name of a kubernetes.io/tls Secret') },
  { required: ['secretName'] },
);

export const TLSStoreSpec = reshape(TlsStore, {
  add: {
    certificates: Arr(SecretCert, { description: 'certificates served by SNI' }),
    defaultCertificate: reshape(SecretCert, {
      description: 'the certificate served when no other matches',
    }),
  },
});

export const ServersTransportSpec = reshape(ServersTransport, {
  omit: ['rootCAs', 'certificates'],
  add: transportTls,
});

export const ServersTransportTCPSpec = Obj(
  {
    dialTimeout: Duration({ description: 'connect timeout', default: '30s', min: 0 }),
    dialKeepAlive: Duration({ description: 'TCP keep-alive interval', default: '15s' }),
    terminationDelay: Duration({
      description: 'time before closing the other side after one side closed',
      default: '100ms',
    }),
    proxyProtocol: Obj(
      { version: Int({ description: 'PROXY protocol version', min: 1, max: 2 }) },
      { description: 'send a PROXY protocol header to the servers' },
    ),
    tls: Obj(
      {
        serverName: field(ServersTransport, 'serverName'),
        insecureSkipVerify: field(ServersTransport, 'insecureSkipVerify'),
        peerCertURI: field(ServersTransport, 'peerCertURI'),
        spiffe: field(ServersTransport, 'spiffe'),
        ...transportTls,
      },
      { description: 'connect to the servers with TLS' },
    ),
  },
  { description: 'how Portico connects to the servers of a TCP service' },
);
