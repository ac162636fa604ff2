/*
 * TCP routers, services, middlewares and servers transports of the dynamic
 * configuration (`tcp.*`), in Traefik v3's shape and with its defaults
 * (pkg/config/dynamic/tcp_config.go, tcp_middlewares.go). The element types
 * of src/config/dynamic.ts are derived from these; the rule language is
 * src/rules/tcp.ts.
 */
import {
  Arr,
  AsText,
  Bool,
  Duration,
  Int,
  Obj,
  OneOf,
  Str,
  StrList,
  type Static,
  type TSchema,
} from './core.js';
import { CertFiles } from './http.js';

/* ----------------------------------------------------------------- routers */

const Domains = Arr(
  Obj({
    main: Str({ description: 'main domain of the certificate' }),
    sans: StrList({ description: 'subject alternative names' }),
  }),
  { description: 'domains to request certificates for (otherwise taken from HostSNI)' },
);

export const TcpRouterTls = Obj(
  {
    passthrough: Bool({
      description:
        'forward the TLS connection as it is (routed on the ClientHello SNI), the server terminates TLS',
      default: false,
    }),
    options: Str({ description: 'TLS options to use (name in tls.options)', default: 'default' }),
    certResolver: Str({
      description: 'certificate resolver that obtains certificates for this router',
    }),
    domains: Domains,
  },
  {
    description:
      'TLS for this router: terminated by Portico, or passed through; `tls: {}` terminates',
    allowEmpty: true,
  },
);

export const TcpRouter = Obj(
  {
    entryPoints: StrList({ description: 'entry points this router listens on (default: all)' }),
    rule: Str({
      description:
        'the rule connections must match: HostSNI, HostSNIRegexp, ClientIP, ALPN; HostSNI(`*`) for plain TCP',
    }),
    ruleSyntax: AsText(
      OneOf(['v2', 'v3'], {
        description: 'rule language version (deprecated in Traefik)',
        default: 'v3',
      }),
    ),
    priority: Int({
      description: 'higher wins; default is the rule length (-1 for HostSNI(`*`))',
    }),
    middlewares: StrList({ description: 'tcp middlewares applied in order, by name' }),
    service: Str({ description: 'the tcp service connections go to, by name' }),
    tls: TcpRouterTls,
  },
  { required: ['rule', 'service'], description: 'a TCP router' },
);

/* ---------------------------------------------------------------- services */

export const ProxyProtocol = Obj(
  {
    version: Int({
      description: 'PROXY protocol version sent (1 or 2)',
      default: 2,
      min: 1,
      max: 2,
    }),
  },
  {
    description: 'send a PROXY protocol header to the servers; `proxyProtocol: {}` sends version 2',
    allowEmpty: true,
  },
);

export const TcpServer = Obj(
  {
    address: Str({ description: 'host:port of the server ([ipv6]:port)' }),
    tls: Bool({ description: 'connect to the server with TLS', default: false }),
  },
  { required: ['address'] },
);

export const TcpHealthCheck = Obj(
  {
    port: Int({ description: 'port probed (default: the server port)', min: 1, max: 65535 }),
    send: Str({ description: 'payload sent once connected' }),
    expect: Str({ description: 'the answer expected to the payload' }),
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
  },
  {
    description: 'active health checks (a connection, optionally send/expect)',
    allowEmpty: true,
  },
);

const tcpLoadBalancerFields = {
  serversTransport: Str({ description: 'tcp servers transport to use, by name' }),
  proxyProtocol: {
    ...ProxyProtocol,
    description: 'deprecated: set proxyProtocol on a servers transport instead',
  } as typeof ProxyProtocol,
  terminationDelay: Int({
    description:
      'deprecated: milliseconds before closing after one side closed (default 100; negative: never); set it on a servers transport instead',
  }),
  healthCheck: TcpHealthCheck,
};

export const TcpLoadBalancer = Obj(
  { servers: Arr(TcpServer, { description: 'the servers' }), ...tcpLoadBalancerFields },
  { description: 'load-balances connections over servers (round robin)' },
);

/** Composite services only take an empty `healthCheck: {}` (propagate child status). */
const EmptyHealthCheck = Obj(
  {},
  { description: "propagate the children's health to parents", allowEmpty: true },
);

const WeightedRefs = Arr(
  Obj(
    {
      name: Str({ description: 'service name' }),
      weight: Int({ description: 'relative weight', default: 1, min: 0 }),
    },
    { required: ['name'] },
  ),
  { nonEmpty: true, description: 'the weighted services' },
);

export const TcpWeighted = Obj(
  { services: WeightedRefs, healthCheck: EmptyHealthCheck },
  { required: ['services'], description: 'splits connections between tcp services by weight' },
);

export const TCP_SERVICE_TYPES = ['loadBalancer', 'weighted'] as const;

export const TcpService = Obj(
  { loadBalancer: TcpLoadBalancer, weighted: TcpWeighted },
  { description: 'a tcp service: exactly one of loadBalancer, weighted' },
);

export const TcpServiceElement: TSchema = { ...TcpService, minProperties: 1, maxProperties: 1 };

/* ------------------------------------------------------------- middlewares */

const SourceRange = Obj(
  {
    sourceRange: StrList({
      description: 'the client addresses allowed: IPs or CIDR ranges (10.0.0.0/8, ::1)',
    }),
  },
  { required: ['sourceRange'] },
);

export const TcpIpAllowList = {
  ...SourceRange,
  description: 'accept connections from these clients only',
} as typeof SourceRange;
export const TcpIpWhiteList = {
  ...SourceRange,
  description: 'deprecated name of ipAllowList (same options and behaviour)',
} as typeof SourceRange;

export const TcpInFlightConn = Obj(
  {
    amount: Int({
      description: 'simultaneous connections allowed per client IP; more are closed',
      min: 0,
    }),
  },
  { required: ['amount'], description: 'limits simultaneous connections per client IP' },
);

export const TCP_MIDDLEWARE_TYPES = ['ipAllowList', 'ipWhiteList', 'inFlightConn'] as const;

export const TcpMiddleware = Obj(
  { ipAllowList: TcpIpAllowList, ipWhiteList: TcpIpWhiteList, inFlightConn: TcpInFlightConn },
  { description: 'a tcp middleware: exactly one of ipAllowList, ipWhiteList, inFlightConn' },
);

export const TcpMiddlewareElement: TSchema = {
  ...TcpMiddleware,
  minProperties: 1,
  maxProperties: 1,
};

/* ------------------------------------------------------- servers transports */

export const TcpServersTransportTls = Obj(
  {
    serverName: Str({ description: 'SNI sent to the servers' }),
    insecureSkipVerify: Bool({ description: "don't verify server certificates", default: false }),
    rootCAs: StrList({ description: 'CA certificates that verify the servers' }),
    certificates: Arr(CertFiles, { description: 'client certificates presented to the servers' }),
    peerCertURI: Str({ description: 'URI SAN the server certificate must carry (deprecated)' }),
    spiffe: Obj(
      {
        ids: StrList({ description: 'SPIFFE IDs accepted' }),
        trustDomain: Str({ description: 'SPIFFE trust domain accepted' }),
      },
      { description: 'SPIFFE verification of the servers', allowEmpty: true },
    ),
  },
  { description: 'TLS towards servers marked `tls: true`', allowEmpty: true },
);

export const TcpServersTransport = Obj(
  {
    dialTimeout: Duration({
      description: 'connect timeout (0: none)',
      default: '30s',
      min: 0,
    }),
    dialKeepAlive: Duration({
      description: 'TCP keep-alive probe interval (0: default of 15s; negative: off)',
      default: '15s',
    }),
    terminationDelay: Duration({
      description:
        'after one side closed its writing half, time before closing the other (negative: never)',
      default: '100ms',
    }),
    proxyProtocol: ProxyProtocol,
    tls: TcpServersTransportTls,
  },
  { description: 'how Portico connects to the servers of a tcp load balancer' },
);

/* ------------------------------------------------------------------ labels */

/*
 * TCP services as Docker labels write them (Traefik's label tags): one server
 * per container, `server.port` and `server.tls` (the address is the
 * container's), no weighted services and no servers transports.
 */
export const LabelTcpServer = Obj(
  {
    port: Int({ description: 'container port', min: 1, max: 65535 }),
    tls: Bool({ description: 'connect to the server with TLS', default: false }),
  },
  {
    removed: {
      address:
        "the address is the container's; set loadbalancer.server.port (Traefik has no address label)",
    },
  },
);

export const LabelTcpService = Obj(
  {
    loadBalancer: Obj(
      { server: LabelTcpServer, ...tcpLoadBalancerFields },
      {
        removed: {
          servers: 'labels describe one server per container: loadbalancer.server.port (and .tls)',
        },
      },
    ),
  },
  {
    removed: {
      weighted: 'weighted tcp services cannot be defined with labels (as in Traefik); use a file',
    },
  },
);

/* ------------------------------------------------------------ deprecations */

export interface Deprecation {
  field: string;
  message: string;
}

/**
 * The fields Traefik v3 still accepts but deprecates, for a validated element:
 * the caller logs them (Traefik warns when it builds the element).
 */
export function tcpDeprecations(kind: 'service' | 'middleware', element: unknown): Deprecation[] {
  const out: Deprecation[] = [];
  if (typeof element !== 'object' || element === null) return out;
  const e = element as Record<string, Record<string, unknown> | undefined>;
  if (kind === 'service') {
    for (const field of ['proxyProtocol', 'terminationDelay']) {
      if (e.loadBalancer?.[field] !== undefined) {
        out.push({
          field: `loadBalancer.${field}`,
          message: `deprecated (as in Traefik v3): set ${field} on a tcp serversTransport and name it in loadBalancer.serversTransport`,
        });
      }
    }
  } else if (e.ipWhiteList !== undefined) {
    out.push({ field: 'ipWhiteList', message: 'deprecated (as in Traefik v3): use ipAllowList' });
  }
  return out;
}

export type TcpRouterConfig = Static<typeof TcpRouter>;
export type TcpRouterTlsConfig = Static<typeof TcpRouterTls>;
export type TcpServiceConfig = Static<typeof TcpService>;
export type TcpServerConfig = Static<typeof TcpServer>;
export type TcpLoadBalancerConfig = Static<typeof TcpLoadBalancer>;
export type TcpWeightedConfig = Static<typeof TcpWeighted>;
export type TcpHealthCheckConfig = Static<typeof TcpHealthCheck>;
export type ProxyProtocolConfig = Static<typeof ProxyProtocol>;
export type TcpMiddlewareConfig = Static<typeof TcpMiddleware>;
export type TcpIpAllowListConfig = Static<typeof TcpIpAllowList>;
export type TcpInFlightConnConfig = Static<typeof TcpInFlightConn>;
export type TcpServersTransportConfig = Static<typeof TcpServersTransport>;
export type TcpServersTransportTlsConfig = Static<typeof TcpServersTransportTls>;
