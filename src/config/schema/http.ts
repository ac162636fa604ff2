/*
 * Routers, services and servers transports of the dynamic configuration
 * (`http.*`), in Traefik v3's shape and with its defaults. The element types
 * of src/config/dynamic.ts are derived from these.
 */
import {
  Arr,
  AsText,
  Bool,
  Duration,
  Int,
  Map,
  Obj,
  OneOf,
  Str,
  StrList,
  Url,
  type Static,
} from './core.js';

/* ----------------------------------------------------------------- routers */

export const RouterTls = Obj(
  {
    certResolver: Str({
      description: 'certificate resolver that obtains certificates for this router',
    }),
    options: Str({ description: 'TLS options to use (name in tls.options)', default: 'default' }),
    domains: Arr(
      Obj({
        main: Str({ description: 'main domain of the certificate' }),
        sans: StrList({ description: 'subject alternative names' }),
      }),
      { description: 'domains to request certificates for (otherwise taken from the rule)' },
    ),
  },
  {
    description: 'terminate TLS for this router; `tls: {}` uses the default certificate',
    // `tls: {}` alone means "terminate TLS with the default certificate"
    allowEmpty: true,
  },
);

export const Router = Obj(
  {
    rule: Str({ description: 'the rule requests must match, e.g. Host(`example.com`)' }),
    ruleSyntax: AsText(
      OneOf(['v2', 'v3'], { description: 'rule language version', default: 'v3' }),
    ),
    entryPoints: StrList({ description: 'entry points this router listens on (default: all)' }),
    middlewares: StrList({ description: 'middlewares applied in order, by name' }),
    service: Str({ description: 'the service requests go to, by name' }),
    priority: Int({ description: 'higher wins; default is the rule length' }),
    tls: RouterTls,
    observability: Obj(
      {
        accessLogs: Bool({ description: 'write access log lines for this router', default: true }),
        metrics: Bool({ description: 'record metrics for this router', default: true }),
        tracing: Bool({ description: 'trace requests of this router', default: true }),
        traceVerbosity: Str({ description: 'minimal or detailed', default: 'minimal' }),
      },
      { description: 'per-router observability switches' },
    ),
  },
  { required: ['rule', 'service'], description: 'an HTTP router' },
);

/* ---------------------------------------------------------------- services */

export const StickyCookie = Obj(
  {
    name: Str({ description: 'cookie name (default: a hash of the service name)' }),
    secure: Bool({ description: 'Secure attribute', default: false }),
    httpOnly: Bool({ description: 'HttpOnly attribute', default: false }),
    sameSite: OneOf(['none', 'lax', 'strict', ''], { description: 'SameSite attribute' }),
    maxAge: Int({ description: 'Max-Age in seconds (0: a session cookie)', default: 0 }),
    path: Str({ description: 'Path attribute', default: '/' }),
    domain: Str({ description: 'Domain attribute' }),
  },
  {
    description: 'sticky sessions through a cookie; `cookie: {}` turns them on with defaults',
    // `cookie: {}` (or `cookie: true` as labels write it) turns stickiness on with defaults
    allowEmpty: true,
  },
);

export const Sticky = Obj(
  { cookie: StickyCookie },
  { description: 'sticky sessions', allowEmpty: true },
);

export const HealthCheck = Obj(
  {
    scheme: Str({ description: 'scheme of the probe (default: the server URL scheme)' }),
    mode: OneOf(['http', 'grpc'], { description: 'http or grpc health checking', default: 'http' }),
    path: Str({ description: 'path probed', startsWith: '/' }),
    method: Str({ description: 'method of the probe', default: 'GET' }),
    status: Int({ description: 'expected status (default: any 2xx or 3xx)', min: 100, max: 599 }),
    port: Int({ description: 'port probed (default: the server port)', min: 1, max: 65535 }),
    interval: Duration({
      description: 'time between probes of a healthy server',
      default: '30s',
      min: 0,
    }),
    unhealthyInterval: Duration({
      description: 'time between probes of an unhealthy server (default: interval)',
      min: 0,
    }),
    timeout: Duration({ description: 'probe timeout', default: '5s', min: 0 }),
    hostname: Str({ description: 'Host header of the probe' }),
    followRedirects: Bool({ description: 'follow redirects', default: true }),
    headers: Map(Str(), { description: 'headers sent with the probe' }),
  },
  { required: ['path'], description: 'active health checks of the servers' },
);

export const PassiveHealthCheck = Obj(
  {
    failureWindow: Duration({
      description: 'window in which failures are counted',
      default: '10s',
      min: 0,
    }),
    maxFailedAttempts: Int({
      description: 'failures in the window that mark a server unhealthy',
      default: 1,
      min: 1,
    }),
  },
  { description: 'mark servers unhealthy from failed requests' },
);

export const Server = Obj(
  {
    url: Url({ description: 'server URL (http, https or h2c)' }),
    weight: Int({ description: 'relative weight', default: 1, min: 0 }),
    preservePath: Bool({
      description: 'keep the URL path as a prefix of forwarded paths',
      default: false,
    }),
  },
  { required: ['url'] },
);

const loadBalancerFields = {
  servers: Arr(Server, { description: 'the servers' }),
  strategy: AsText(
    OneOf(['wrr', 'p2c', 'hrw', 'leasttime'], {
      description: 'how a server is chosen',
      default: 'wrr',
    }),
  ),
  sticky: Sticky,
  healthCheck: HealthCheck,
  passiveHealthCheck: PassiveHealthCheck,
  passHostHeader: Bool({ description: "forward the client's Host header", default: true }),
  responseForwarding: Obj(
    {
      flushInterval: Duration({
        description: 'how often the response is flushed; negative: after every write',
        default: '100ms',
      }),
    },
    { description: 'response streaming' },
  ),
  serversTransport: Str({ description: 'servers transport to use, by name' }),
};

export const LoadBalancer = Obj(loadBalancerFields, { description: 'load-balances over servers' });

/** Composite services only take an empty `healthCheck: {}` (propagate child status). */
const EmptyHealthCheck = Obj(
  {},
  { description: "propagate the children's health to parents", allowEmpty: true },
);

export const Weighted = Obj(
  {
    services: Arr(
      Obj(
        {
          name: Str({ description: 'service name' }),
          weight: Int({ description: 'relative weight', min: 0 }),
          status: Int({
            description:
              "answer this status instead of calling the service (Traefik's WRRService.Status: Gateway API's 500 for invalid backends)",
            min: 100,
            max: 599,
          }),
        },
        { required: ['name'] },
      ),
      { nonEmpty: true, description: 'the weighted services' },
    ),
    sticky: Sticky,
    healthCheck: EmptyHealthCheck,
  },
  { required: ['services'], description: 'splits traffic between services by weight' },
);

export const Mirroring = Obj(
  {
    service: Str({ description: 'the main service, whose answer is returned' }),
    mirrors: Arr(
      Obj(
        {
          name: Str({ description: 'service name' }),
          percent: Int({ description: 'share of requests copied', min: 0, max: 100 }),
        },
        { required: ['name'] },
      ),
      { description: 'services that get a copy of requests' },
    ),
    mirrorBody: Bool({ description: 'copy request bodies too', default: true }),
    maxBodySize: Int({
      description: 'largest body copied, in bytes (-1: no limit)',
      default: -1,
      min: -1,
    }),
    healthCheck: EmptyHealthCheck,
  },
  { required: ['service'], description: 'sends copies of requests to other services' },
);

export const Failover = Obj(
  {
    service: Str({ description: 'the main service' }),
    fallback: Str({ description: 'the service used while the main one is down' }),
    healthCheck: EmptyHealthCheck,
    errors: Obj(
      {
        status: StrList({ description: 'statuses that count as a failure ("500-599")' }),
        maxRequestBodyBytes: Int({ description: 'largest body kept for the fallback', min: -1 }),
      },
      { description: 'fail over on these answers of the main service too' },
    ),
  },
  {
    required: ['service', 'fallback'],
    description: 'falls back to another service when unhealthy',
  },
);

export const SERVICE_TYPES = ['loadBalancer', 'weighted', 'mirroring', 'failover'] as const;

export const Service = Obj(
  { loadBalancer: LoadBalancer, weighted: Weighted, mirroring: Mirroring, failover: Failover },
  { description: 'a service: exactly one of loadBalancer, weighted, mirroring, failover' },
);

/**
 * The services as labels describe them: `server.*` is Traefik's label form
 * of servers[0], and a label server may give `port` and `scheme` instead of
 * a url (the provider builds the url from the container's address).
 */
export const LabelServer = Obj({
  url: Str({ description: 'server URL' }),
  port: Int({ description: 'container port', min: 1, max: 65535 }),
  scheme: Str({ description: 'http, https or h2c', default: 'http' }),
  weight: Int({ description: 'relative weight', min: 0 }),
  preservePath: Bool({ description: 'keep the URL path as a prefix of forwarded paths' }),
});

export const LabelService = Obj({
  loadBalancer: Obj({
    ...loadBalancerFields,
    server: LabelServer,
    servers: Arr(LabelServer),
  }),
  weighted: Weighted,
  mirroring: Mirroring,
  failover: Failover,
});

/* ---------------------------------------------------------- servers transports */

const CertFiles = Obj(
  {
    certFile: Str({ description: 'certificate (PEM file path or content)' }),
    keyFile: Str({ description: 'private key (PEM file path or content)' }),
  },
  { required: ['certFile', 'keyFile'] },
);

export const ServersTransport = Obj(
  {
    serverName: Str({ description: 'SNI sent to the servers' }),
    insecureSkipVerify: Bool({ description: "don't verify server certificates", default: false }),
    rootCAs: StrList({ description: 'CA certificates that verify the servers' }),
    certificates: Arr(CertFiles, { description: 'client certificates presented to the servers' }),
    maxIdleConnsPerHost: Int({
      description: 'idle connections kept per server (-1: none)',
      default: 200,
      min: -1,
    }),
    disableHTTP2: Bool({ description: 'never use HTTP/2 towards the servers', default: false }),
    peerCertURI: Str({ description: 'URI SAN the server certificate must carry' }),
    cipherSuites: StrList({ description: 'TLS cipher suites offered' }),
    minVersion: Str({ description: 'lowest TLS version, e.g. VersionTLS12' }),
    maxVersion: Str({ description: 'highest TLS version' }),
    forwardingTimeouts: Obj(
      {
        dialTimeout: Duration({ description: 'connect timeout', default: '30s', min: 0 }),
        responseHeaderTimeout: Duration({
          description: 'time to wait for the response head (0: no limit)',
          default: '0s',
          min: 0,
        }),
        idleConnTimeout: Duration({
          description: 'idle connection lifetime',
          default: '90s',
          min: 0,
        }),
        readIdleTimeout: Duration({ description: 'HTTP/2 ping after this idle time', min: 0 }),
        pingTimeout: Duration({
          description: 'HTTP/2 ping answer timeout',
          default: '15s',
          min: 0,
        }),
      },
      { description: 'timeouts towards the servers' },
    ),
    spiffe: Obj(
      {
        ids: StrList({ description: 'SPIFFE IDs accepted' }),
        trustDomain: Str({ description: 'SPIFFE trust domain accepted' }),
      },
      { description: 'SPIFFE verification of the servers' },
    ),
  },
  { description: 'how Portico connects to the servers of a load balancer' },
);

export type RouterConfig = Static<typeof Router>;
export type RouterTlsConfig = Static<typeof RouterTls>;
export type ServiceConfig = Static<typeof Service>;
export type ServerConfig = Static<typeof Server>;
export type StickyCookieConfig = Static<typeof StickyCookie>;
export type StickyConfig = Static<typeof Sticky>;
/** `path` is optional here: health checks also come from labels, checked for it later. */
export type HealthCheckConfig = Omit<Static<typeof HealthCheck>, 'path'> & { path?: string };
export type PassiveHealthCheckConfig = Static<typeof PassiveHealthCheck>;
export type LoadBalancerConfig = Static<typeof LoadBalancer>;
export type WeightedConfig = Static<typeof Weighted>;
export type MirroringConfig = Static<typeof Mirroring>;
export type FailoverConfig = Static<typeof Failover>;
export type ServersTransportConfig = Static<typeof ServersTransport>;
export type ForwardingTimeouts = NonNullable<ServersTransportConfig['forwardingTimeouts']>;
export type LabelServerConfig = Static<typeof LabelServer>;
export { CertFiles };
