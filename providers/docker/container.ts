/*
 * One container's contribution to the Docker provider's configuration, as
 * Traefik's pkg/provider/docker/config.go builds it per container: filtering
 * (`enable`, constraints, running state, health), then services
 * (buildServiceConfiguration: the labelled ones or a default one, the
 * container as the server) and routers (buildRouterConfiguration: the
 * labelled ones or a default one, with the default rule); TCP and UDP as
 * buildTCPServiceConfiguration / buildUDPServiceConfiguration and
 * BuildTCPRouterConfiguration / BuildUDPRouterConfiguration do: a default
 * service named after the container when none is labelled, the container's
 * address and port as the one server, routers linked to the only service, no
 * default rule. Pure: no I/O.
 */
import type {
  MiddlewareConfig,
  RouterConfig,
  ServerConfig,
  ServiceConfig,
  TcpMiddlewareConfig,
  TcpRouterConfig,
  TcpServerConfig,
  TcpServiceConfig,
  UdpRouterConfig,
  UdpServiceConfig,
} from '../../src/config/dynamic.js';
import { decodeLabels, parseLabelBool, type DecodedLabels } from '../../src/config/labels.js';
import { setKey } from '../../src/config/objects.js';
import type { Contribution } from './merge.js';
import {
  containerName,
  serviceNameOf,
  type ContainerInfo,
  type ContainerNetwork,
  type DockerBuildOptions,
  type LabelDiagnostic,
} from './model.js';

/** What the default rule template is given (Traefik's template model). */
export interface TemplateModel {
  Name: string;
  ContainerName: string;
  Labels: Record<string, string>;
}

export type Template = (model: TemplateModel) => string;

/** A filter over a container's labels (the provider's `constraints`). */
export type Predicate = (labels: Record<string, string>) => boolean;

/** What every container of one build shares. */
export interface BuildContext {
  /** every container of the build (a `container:<ref>` network mode is looked up here) */
  containers: readonly ContainerInfo[];
  opts: DockerBuildOptions;
  prefixes: readonly string[];
  exposedByDefault: boolean;
  /** the compiled default rule, or why it could not be compiled */
  template: Template | undefined;
  templateError: string | undefined;
  constraints: Predicate | undefined;
}

export interface ContainerResult {
  /** undefined when the container is left out */
  contribution?: Contribution;
  /** label diagnostics to report (none when the container is silently left out) */
  diagnostics: LabelDiagnostic[];
}

/** Per-container facts the service and router builders share. */
interface ContainerScope {
  c: ContainerInfo;
  cname: string;
  prefix: string;
  network: string | undefined;
  serveTraffic: boolean;
  ctx: BuildContext;
  diag: (key: string, value: string, message: string, level: 'error' | 'warning') => void;
}

/**
 * Translates one container. Diagnostics are collected and returned only when
 * the container is considered at all: a disabled, filtered or stopped one is
 * left out without a word, as in Traefik.
 */
export function buildContainer(c: ContainerInfo, ctx: BuildContext): ContainerResult {
  const { opts, prefixes } = ctx;
  const cname = containerName(c);
  const pending: LabelDiagnostic[] = [];
  const diag = (key: string, value: string, message: string, level: 'error' | 'warning') =>
    pending.push({ container: cname, key, value, message, level });
  const leftOut = (report: boolean): ContainerResult => ({ diagnostics: report ? pending : [] });

  const decoded = decodeLabels(c.labels, {
    prefixes,
    providerKeys: ['enable', 'docker'],
    serversTransports: false,
  });
  const prefix = decoded.prefix ?? prefixes[0] ?? 'traefik';

  const settings = providerSettings(decoded.extra, ctx, diag);
  if (settings === 'invalid') return leftOut(true);
  if (!settings.enable) return leftOut(false);
  if (ctx.constraints && !ctx.constraints(c.labels)) return leftOut(false);

  const running = c.state.status === 'running';
  const ownLabels = Object.keys(c.labels).filter((k) => {
    const lower = k.toLowerCase();
    return prefixes.some((p) => lower.startsWith(p.toLowerCase() + '.'));
  });
  // allowEmptyServices: a *labelled* service whose containers are all stopped answers 503, not 404
  // (an unlabelled stopped container stays out even with exposedByDefault)
  const keepStopped = opts.allowEmptyServices === true && ownLabels.length > 0;
  if (!running && !settings.allowNonRunning && !keepStopped) return leftOut(false);
  const health = c.state.health ?? '';
  const healthy = health === '' || health === 'none' || health === 'healthy';
  // Traefik keeps a container with a health check out until it is healthy (starting included)
  if (!healthy && !opts.allowEmptyServices) return leftOut(false);

  for (const issue of decoded.issues) diag(issue.key, issue.value, issue.message, issue.level);

  const { declared } = decoded;
  const hasTcp = declared.tcpRouter.length + declared.tcpService.length > 0;
  const hasUdp = declared.udpRouter.length + declared.udpService.length > 0;
  // like Traefik: a container with tcp/udp routers or services and no http
  // labels gets no invented HTTP router or service
  const onlyOtherProtocols =
    (hasTcp || hasUdp) &&
    declared.router.length + declared.service.length + declared.middleware.length === 0;

  const scope: ContainerScope = {
    c,
    cname,
    prefix,
    network: settings.network,
    serveTraffic: running && healthy,
    ctx,
    diag,
  };
  const serviceName = serviceNameOf(c);
  const other: Pick<Contribution, 'tcp' | 'udp'> = {};
  if (hasTcp || declared.tcpMiddleware.length > 0)
    other.tcp = buildTcp(scope, decoded, serviceName);
  if (hasUdp) other.udp = buildUdp(scope, decoded, serviceName);
  if (onlyOtherProtocols) {
    return {
      contribution: { container: cname, routers: {}, services: {}, middlewares: {}, ...other },
      diagnostics: pending,
    };
  }
  const declaredServices = decoded.declared.service;
  const services = buildServices(scope, decoded.http.services, declaredServices, serviceName);
  const allServiceNames = declaredServices.length > 0 ? declaredServices : [serviceName];
  const routers = buildRouters(
    scope,
    decoded.http.routers,
    decoded.declared.router.length > 0,
    allServiceNames,
    serviceName,
  );
  const middlewares: Record<string, MiddlewareConfig> = { ...decoded.http.middlewares };
  return {
    contribution: { container: cname, routers, services, middlewares, ...other },
    diagnostics: pending,
  };
}

/* ------------------------------------------------------------- tcp and udp */

/** TCP: the labelled services or a default one, the container as their server; routers linked. */
function buildTcp(
  scope: ContainerScope,
  decoded: DecodedLabels,
  serviceName: string,
): NonNullable<Contribution['tcp']> {
  const declared = decoded.declared.tcpService;
  const entries = Object.entries(decoded.tcp.services);
  if (declared.length === 0) entries.push([serviceName, { loadBalancer: {} }]);
  const services: Record<string, TcpServiceConfig> = {};
  for (const [name, svc] of entries) {
    const { server, ...rest } = svc.loadBalancer ?? {};
    const out: TcpServiceConfig = { loadBalancer: { ...rest, servers: [] } };
    if (scope.serveTraffic) {
      const base = `${scope.prefix}.tcp.services.${name}.loadbalancer`;
      const address = serverAddress(scope, base, server?.port, 'tcp');
      if (address === undefined) continue;
      const entry: TcpServerConfig = { address };
      if (server?.tls !== undefined) entry.tls = server.tls;
      out.loadBalancer!.servers = [entry];
    }
    setKey(services, name, out);
  }
  const serviceNames = declared.length > 0 ? declared : [serviceName];
  const routers: Record<string, TcpRouterConfig> = {};
  for (const [name, r] of Object.entries(decoded.tcp.routers)) {
    const router = { ...r } as Partial<TcpRouterConfig>;
    if (router.rule === undefined || router.rule === '') {
      // Traefik drops it ("Empty rule"): a TCP router has no default rule
      scope.diag(
        `${scope.prefix}.tcp.routers.${name}.rule`,
        '',
        'a tcp router needs a rule (HostSNI(`*`) for plain tcp); the router is left out',
        'error',
      );
      continue;
    }
    const service = linkService(scope, 'tcp', name, router.service, serviceNames);
    if (service === undefined) continue;
    setKey(routers, name, { ...router, rule: router.rule, service });
  }
  return {
    routers,
    services,
    middlewares: decoded.tcp.middlewares as Record<string, TcpMiddlewareConfig>,
  };
}

/** UDP: as TCP, without rules. */
function buildUdp(
  scope: ContainerScope,
  decoded: DecodedLabels,
  serviceName: string,
): NonNullable<Contribution['udp']> {
  const declared = decoded.declared.udpService;
  const entries = Object.entries(decoded.udp.services);
  if (declared.length === 0) entries.push([serviceName, { loadBalancer: {} }]);
  const services: Record<string, UdpServiceConfig> = {};
  for (const [name, svc] of entries) {
    const out: UdpServiceConfig = { loadBalancer: { servers: [] } };
    if (scope.serveTraffic) {
      const base = `${scope.prefix}.udp.services.${name}.loadbalancer`;
      const address = serverAddress(scope, base, svc.loadBalancer?.server?.port, 'udp');
      if (address === undefined) continue;
      out.loadBalancer!.servers = [{ address }];
    }
    setKey(services, name, out);
  }
  const serviceNames = declared.length > 0 ? declared : [serviceName];
  const routers: Record<string, UdpRouterConfig> = {};
  for (const [name, r] of Object.entries(decoded.udp.routers)) {
    const router = { ...r } as Partial<UdpRouterConfig>;
    const service = linkService(scope, 'udp', name, router.service, serviceNames);
    if (service === undefined) continue;
    setKey(routers, name, { ...router, service });
  }
  return { routers, services };
}

/** The router's service: as labelled, else the container's only one (Traefik links it automatically). */
function linkService(
  scope: ContainerScope,
  proto: 'tcp' | 'udp',
  router: string,
  service: string | undefined,
  serviceNames: readonly string[],
): string | undefined {
  if (service !== undefined && service !== '') return service;
  if (serviceNames.length === 1) return serviceNames[0];
  scope.diag(
    `${scope.prefix}.${proto}.routers.${router}.service`,
    '',
    `${proto} router cannot be linked automatically: the container defines ${serviceNames.length} ${proto} services (${serviceNames.join(', ')}); name one`,
    'error',
  );
  return undefined;
}

/** `ip:port` of the container (Traefik addServerTCP/UDP: net.JoinHostPort), or undefined after a diagnostic. */
function serverAddress(
  scope: ContainerScope,
  base: string,
  port: number | undefined,
  proto: 'tcp' | 'udp',
): string | undefined {
  return containerHostPort(
    scope,
    base,
    port,
    port ?? pickPortFor(scope.c, proto),
    'port is missing: the container exposes no port; set this label',
  );
}

/**
 * `ip:port` of the container for one server of an HTTP, TCP or UDP service (`[ip]:port` for
 * IPv6): `chosen` is the label's port or the one picked from the exposed ports. Undefined
 * after an error diagnostic when there is no port or no address; address warnings are passed on.
 */
function containerHostPort(
  scope: ContainerScope,
  base: string,
  labelPort: number | undefined,
  chosen: number | undefined,
  noPortMessage: string,
): string | undefined {
  const { c, prefix, network, ctx, diag } = scope;
  if (chosen === undefined) {
    diag(`${base}.server.port`, '', noPortMessage, 'error');
    return undefined;
  }
  const warnings: string[] = [];
  const ip = pickAddress(c, network, ctx.containers, (m) => warnings.push(m));
  for (const w of warnings) {
    diag(network ? `${prefix}.docker.network` : `${base}.server.port`, network ?? '', w, 'warning');
  }
  if (!ip) {
    diag(
      `${base}.server.port`,
      String(labelPort ?? ''),
      'no IP address found for the container on any network; the server is left out',
      'error',
    );
    return undefined;
  }
  return ip.includes(':') ? `[${ip}]:${chosen}` : `${ip}:${chosen}`;
}

/**
 * The lowest exposed port of the protocol, else the lowest of any. Traefik
 * takes the lowest of all (getPort); preferring the protocol's own keeps a
 * DNS container's 9153/tcp metrics port from being its UDP server.
 */
export function pickPortFor(c: ContainerInfo, proto: 'tcp' | 'udp'): number | undefined {
  const own = c.ports.filter((p) => p.protocol === proto).map((p) => p.port);
  const all = own.length > 0 ? own : c.ports.map((p) => p.port);
  return all.length > 0 ? Math.min(...all) : undefined;
}

/** The provider's own labels: `enable`, `docker.network`, `docker.allownonrunning`. */
function providerSettings(
  extra: Record<string, { key: string; value: string }>,
  ctx: BuildContext,
  diag: ContainerScope['diag'],
): { enable: boolean; network: string | undefined; allowNonRunning: boolean } | 'invalid' {
  let enable = ctx.exposedByDefault;
  const enableLabel = extra['enable'];
  if (enableLabel) {
    const b = parseLabelBool(enableLabel.value);
    if (b === undefined) {
      diag(
        enableLabel.key,
        enableLabel.value,
        'expected true or false; the container is left out until this is fixed',
        'error',
      );
      return 'invalid';
    }
    enable = b;
  }
  if (!enable) return { enable, network: undefined, allowNonRunning: false };

  let network = ctx.opts.network;
  let allowNonRunning = false;
  for (const [path, { key, value }] of Object.entries(extra)) {
    if (path === 'enable') continue;
    if (path === 'docker.network') network = value;
    else if (path === 'docker.allownonrunning') {
      const b = parseLabelBool(value);
      if (b === undefined) diag(key, value, `expected true or false, got "${value}"`, 'error');
      else allowNonRunning = b;
    } else {
      diag(key, value, 'unknown label; known: docker.network, docker.allownonrunning', 'error');
    }
  }
  return { enable, network, allowNonRunning };
}

/** Services: the labelled ones, or a default one named after the container. */
function buildServices(
  scope: ContainerScope,
  labelled: Record<string, unknown>,
  declared: readonly string[],
  serviceName: string,
): Record<string, ServiceConfig> {
  const services: Record<string, ServiceConfig> = {};
  const entries = Object.entries(labelled);
  if (declared.length === 0) entries.push([serviceName, { loadBalancer: {} }]);
  for (const [name, svc] of entries) {
    const built = buildService(scope, name, svc as Record<string, unknown>);
    if (built) services[name] = built;
  }
  return services;
}

/** Routers: the labelled ones, or a default one when the service is unambiguous. */
function buildRouters(
  scope: ContainerScope,
  labelled: Record<string, unknown>,
  anyDeclared: boolean,
  allServiceNames: readonly string[],
  serviceName: string,
): Record<string, RouterConfig> {
  const { c, cname, prefix, ctx, diag } = scope;
  const routers: Record<string, RouterConfig> = {};
  const entries = Object.entries(labelled);
  if (!anyDeclared) {
    if (allServiceNames.length > 1) {
      diag(
        `${prefix}.http.routers`,
        '',
        `no default router: the container defines ${allServiceNames.length} services (${allServiceNames.join(', ')}); add a router label naming one`,
        'warning',
      );
    } else entries.push([serviceName, {}]);
  }
  for (const [name, r] of entries) {
    const router: Record<string, unknown> = { ...(r as Record<string, unknown>) };
    if (router.rule === undefined || router.rule === '') {
      const ruleKey = `${prefix}.http.routers.${name}.rule`;
      if (!ctx.template) {
        diag(
          ruleKey,
          '',
          `no rule, and the default rule cannot be used: ${ctx.templateError}`,
          'error',
        );
        continue;
      }
      const rule = ctx.template({ Name: serviceName, ContainerName: cname, Labels: c.labels });
      if (rule === '') {
        diag(ruleKey, '', 'no rule, and the default rule renders empty', 'error');
        continue;
      }
      router.rule = rule;
    }
    if (router.service === undefined || router.service === '') {
      if (allServiceNames.length > 1) {
        diag(
          `${prefix}.http.routers.${name}.service`,
          '',
          `router cannot be linked automatically: the container defines ${allServiceNames.length} services (${allServiceNames.join(', ')}); name one`,
          'error',
        );
        continue;
      }
      router.service = allServiceNames[0]!;
    }
    // key order as in the file provider, for readable snapshots
    routers[name] = orderRouter(router);
  }
  return routers;
}

/** A labelled service with the container as its one server (Traefik: addServer). */
function buildService(
  scope: ContainerScope,
  name: string,
  svc: Record<string, unknown>,
): ServiceConfig | undefined {
  const { prefix, diag } = scope;
  const lb = svc.loadBalancer as Record<string, unknown> | undefined;
  if (!lb) return svc as ServiceConfig;
  const { server, servers, ...rest } = lb as {
    server?: Record<string, unknown>;
    servers?: Record<string, unknown>[];
  };
  const base = `${prefix}.http.services.${name}.loadbalancer`;
  const described = [...(server ? [server] : []), ...(servers ?? [])];
  if (described.length > 1) {
    diag(
      `${base}.servers`,
      '',
      'labels describe one server per container (loadbalancer.server.*); the container is the server',
      'error',
    );
    return undefined;
  }
  const out: ServiceConfig = { loadBalancer: { ...rest } };
  if (!scope.serveTraffic) {
    out.loadBalancer!.servers = [];
    return out;
  }
  const s = described[0] ?? {};
  const url = serverUrl(scope, base, s);
  if (url === undefined) return undefined;
  const entry: ServerConfig = { url };
  if (s.weight !== undefined) entry.weight = s.weight as number;
  if (s.preservePath !== undefined) entry.preservePath = s.preservePath as boolean;
  out.loadBalancer!.servers = [entry];
  return out;
}

/** The server's URL: the `url` label, or scheme, the container's address and port. */
function serverUrl(
  scope: ContainerScope,
  base: string,
  s: Record<string, unknown>,
): string | undefined {
  if (typeof s.url === 'string') {
    if (s.port !== undefined || s.scheme !== undefined) {
      scope.diag(
        `${base}.server.url`,
        s.url,
        'defining scheme or port is not allowed when url is defined',
        'error',
      );
      return undefined;
    }
    return s.url;
  }
  const labelPort = s.port as number | undefined;
  const hostPort = containerHostPort(
    scope,
    base,
    labelPort,
    labelPort ?? pickPort(scope.c),
    'port is missing: the container exposes no TCP port; set this label',
  );
  return hostPort && `${(s.scheme as string | undefined) ?? 'http'}://${hostPort}`;
}

/* ---------------------------------------------------------------- address */

/** The network, else host mode, else a shared container's network, else the first with an address. */
export function pickAddress(
  c: ContainerInfo,
  network: string | undefined,
  all: readonly ContainerInfo[],
  warn: (message: string) => void,
  depth = 0,
): string | undefined {
  const addrOf = (n: ContainerNetwork) => n.ipAddress || n.ipv6Address || undefined;
  if (network) {
    const chosen = c.networks.find((n) => n.name === network);
    if (chosen && addrOf(chosen)) return addrOf(chosen);
    if (!chosen && c.networks.length > 0) {
      warn(
        `network "${network}" not found on the container (it has: ${c.networks.map((n) => n.name).join(', ')}); maybe the compose project prefix is missing; using the first network`,
      );
    }
  }
  const mode = c.networkMode ?? '';
  if (mode === 'host') return '127.0.0.1';
  if (mode.startsWith('container:') && depth < 3) {
    const ref = mode.slice('container:'.length);
    const target = all.find(
      (o) => o.id === ref || o.id.startsWith(ref) || containerName(o) === ref,
    );
    if (!target) {
      warn(`shares the network of container "${ref}", which is not in the list`);
      return undefined;
    }
    return pickAddress(target, network, all, warn, depth + 1);
  }
  for (const n of c.networks) {
    const addr = addrOf(n);
    if (addr) return addr;
  }
  return undefined;
}

/** Label port, else the only or lowest exposed TCP port (UDP ports cannot serve HTTP). */
export function pickPort(c: ContainerInfo): number | undefined {
  const tcp = c.ports.filter((p) => p.protocol === 'tcp').map((p) => p.port);
  return tcp.length > 0 ? Math.min(...tcp) : undefined;
}

const ROUTER_ORDER = [
  'entryPoints',
  'rule',
  'ruleSyntax',
  'priority',
  'middlewares',
  'service',
  'tls',
  'observability',
];

function orderRouter(router: Record<string, unknown>): RouterConfig {
  const out: Record<string, unknown> = {};
  for (const k of ROUTER_ORDER) if (router[k] !== undefined) out[k] = router[k];
  return out as unknown as RouterConfig;
}
