/*
 * The JSON the API returns, in Traefik's shapes (pkg/api): a router is its
 * dynamic configuration plus `name`, `provider`, `status`, `using` and
 * `error[]`; a service adds `usedBy`, `serverStatus` and `type`; a middleware
 * its `type` and `usedBy`.
 *
 * Each element is redacted here, before the list criteria (search, sortBy)
 * see it, so that a search cannot be used to guess a secret a character at a
 * time; the handler redacts every answer once more on its way out. Unlike
 * Traefik's API, which returns configurations as they are, Portico masks
 * secrets with Traefik's log redactor's "xxxx" (src/config/redact.ts): the
 * API is often exposed further than the configuration files are.
 */
import { redact } from '../config/redact.js';
import type { EntryPointConfig, StaticConfig } from '../config/static-types.js';
import type { ElementError } from '../config/dynamic.js';
import type { RoutingTable, RouterInfo, ServiceInfo } from '../table/table.js';
import type { ControlState, ProviderDiagnostic } from './state.js';

type Json = Record<string, unknown>;

function providerOf(name: string): string {
  const at = name.lastIndexOf('@');
  return at === -1 ? '' : name.slice(at + 1);
}

function errorsOf(list: string[]): { error?: string[] } {
  return list.length > 0 ? { error: [...list] } : {};
}

export function routerViews(state: ControlState): Json[] {
  const table = state.table();
  const cfg = state.config().http?.routers ?? {};
  const out: Json[] = [];
  for (const info of table.routers.values()) {
    const raw = (cfg[info.name] ?? {}) as unknown as Json;
    const using = [...table.entryPoints.keys()].filter(
      (ep) =>
        routesOf(table.entryPoints.get(ep)!).has(info.name) ||
        (table.tlsEntryPoints.has(ep) && routesOf(table.tlsEntryPoints.get(ep)!).has(info.name)),
    );
    out.push(
      redact({
        ...raw,
        entryPoints: info.entryPoints,
        ...(info.middlewares.length > 0 ? { middlewares: info.middlewares } : {}),
        service: info.service,
        rule: info.rule,
        priority: info.priority,
        status: info.status,
        ...errorsOf(info.errors),
        using,
        name: info.name,
        provider: info.provider,
      }),
    );
  }
  return out;
}

const routeNames = new WeakMap<object, Set<string>>();

/** names of the routers an entrypoint serves (cached per immutable table entry) */
function routesOf(routes: {
  byHost: ReadonlyMap<string, { name: string }[]>;
  any: { name: string }[];
}): Set<string> {
  let names = routeNames.get(routes);
  if (names === undefined) {
    names = new Set(routes.any.map((r) => r.name));
    for (const list of routes.byHost.values()) for (const r of list) names.add(r.name);
    routeNames.set(routes, names);
  }
  return names;
}

export function serviceViews(state: ControlState): Json[] {
  const table = state.table();
  const cfg = state.config().http?.services ?? {};
  const usedBy = new Map<string, string[]>();
  for (const r of table.routers.values()) {
    if (!r.service) continue;
    const list = usedBy.get(r.service) ?? [];
    list.push(r.name);
    usedBy.set(r.service, list);
  }
  const out: Json[] = [];
  const seen = new Set<string>();
  for (const info of table.services.values()) {
    seen.add(info.name);
    const rt = table.serviceRuntimes.get(info.name);
    const serverStatus = rt?.serverStatus() ?? {};
    out.push(
      redact({
        ...(cfg[info.name] as Json | undefined),
        status: info.status,
        ...errorsOf(info.errors),
        usedBy: [...new Set([...info.usedBy, ...(usedBy.get(info.name) ?? [])])].sort(),
        ...(Object.keys(serverStatus).length > 0 ? { serverStatus } : {}),
        name: info.name,
        provider: info.provider,
        type: info.type.toLowerCase(),
      }),
    );
  }
  // internal services (api, ping, redirects, acme challenges) have a runtime but no configuration
  for (const [name, rt] of table.serviceRuntimes) {
    if (seen.has(name)) continue;
    out.push({
      status: 'enabled',
      usedBy: (usedBy.get(name) ?? []).sort(),
      name,
      provider: providerOf(name),
      ...(rt.type === 'loadBalancer' && providerOf(name) === 'internal' ? {} : { type: rt.type }),
    });
  }
  return out;
}

export function middlewareViews(state: ControlState): Json[] {
  const table = state.table();
  const cfg = state.config().http?.middlewares ?? {};
  const out: Json[] = [];
  for (const info of table.middlewares.values()) {
    out.push(
      redact({
        ...cfg[info.name],
        status: info.status,
        ...errorsOf(info.errors),
        usedBy: [...info.usedBy].sort(),
        name: info.name,
        provider: info.provider,
        type: info.type.toLowerCase(),
      }),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------
// TCP and UDP (issue 13 item 8): Traefik's pkg/api/handler_tcp.go and handler_udp.go

/** The UDP part of the table, as far as the API reads it (UDP routing may not be compiled in). */
interface UdpInfos {
  readonly routers?: ReadonlyMap<string, RouterInfo>;
  readonly services?: ReadonlyMap<string, ServiceInfo>;
}

function udpOf(table: RoutingTable): UdpInfos | undefined {
  return (table as RoutingTable & { readonly udp?: UdpInfos }).udp;
}

/** `address: ":53/udp"` (Traefik's GetProtocol): a UDP entrypoint carries `udp` options */
function udpOptions(ep: EntryPointConfig): { timeoutMs: number } | undefined {
  return (ep as EntryPointConfig & { udp?: { timeoutMs: number } }).udp;
}

function isUdpEntryPoint(ep: EntryPointConfig): boolean {
  return (
    (ep as EntryPointConfig & { udp?: unknown }).udp !== undefined || /\/udp$/i.test(ep.address)
  );
}

/**
 * Traefik's `using`: the router's entrypoints that exist for its protocol
 * (runtime.GetTCPRoutersByEntryPoints fills it before any router is built,
 * so a router with a bad rule still shows where it would serve); omitted
 * when empty (`omitempty`).
 */
function usingOf(
  sc: StaticConfig,
  entryPoints: readonly string[],
  udp: boolean,
): { using?: string[] } {
  const using = entryPoints.filter((ep) => {
    const cfg = sc.entryPoints[ep];
    return cfg !== undefined && isUdpEntryPoint(cfg) === udp;
  });
  return using.length > 0 ? { using } : {};
}

function usedByOf(list: readonly string[]): { usedBy?: string[] } {
  return list.length > 0 ? { usedBy: [...new Set(list)].sort() } : {};
}

/** the dynamic configuration of a tcp router, with Traefik's always-written `tls.passthrough` */
function tcpRouterConfig(raw: Json | undefined): Json {
  if (raw === undefined) return {};
  const tls = raw.tls as Json | undefined;
  if (tls === undefined || tls === null) return { ...raw };
  // RouterTCPTLSConfig.Passthrough has no omitempty: `tls: {}` reads {"passthrough": false}
  return {
    ...raw,
    tls: { passthrough: tls.passthrough === true, ...withoutKey(tls, 'passthrough') },
  };
}

function withoutKey(obj: Json, key: string): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(obj)) if (k !== key) out[k] = v;
  return out;
}

export function tcpRouterViews(state: ControlState): Json[] {
  const routers = state.table().tcp?.routers;
  if (routers === undefined) return [];
  const sc = state.opts.staticConfig;
  const cfg = state.config().tcp?.routers ?? {};
  const out: Json[] = [];
  for (const info of routers.values()) {
    out.push(
      redact({
        ...tcpRouterConfig(cfg[info.name] as unknown as Json | undefined),
        entryPoints: info.entryPoints,
        ...(info.middlewares.length > 0 ? { middlewares: info.middlewares } : {}),
        service: info.service,
        rule: info.rule,
        // the default priority is the rule's (Traefik writes it into the router's configuration)
        ...(info.priority !== 0 ? { priority: info.priority } : {}),
        status: info.status,
        ...errorsOf(info.errors),
        ...usingOf(sc, info.entryPoints, false),
        name: info.name,
        provider: info.provider || providerOf(info.name),
        // int64 priorities do not survive JSON numbers in browsers: Traefik 3.6.10 adds the string
        ...(info.priority !== 0 ? { priorityStr: String(info.priority) } : {}),
      }),
    );
  }
  return out;
}

/**
 * Traefik's usedBy (runtime.PopulateUsedBy): every router naming the element, whether or not it
 * could be built, sorted. Traefik leaves it empty for TCP middlewares; Portico fills it as for HTTP.
 */
function usedByRouters(
  routers: ReadonlyMap<string, RouterInfo> | undefined,
  uses: (r: RouterInfo) => readonly string[],
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of routers?.values() ?? []) {
    for (const name of uses(r)) {
      const list = out.get(name) ?? [];
      list.push(r.name);
      out.set(name, list);
    }
  }
  return out;
}

/** what the API reads of a TCP service's runtime (src/tcp/types.ts TcpServiceRuntime) */
interface ServerStatusSource {
  serverStatus(): Record<string, string>;
}

function elementViews(
  infos: ReadonlyMap<string, ServiceInfo> | undefined,
  cfg: Record<string, unknown>,
  usedBy: ReadonlyMap<string, string[]>,
  runtimes?: ReadonlyMap<string, ServerStatusSource>,
): Json[] {
  if (infos === undefined) return [];
  const out: Json[] = [];
  for (const info of infos.values()) {
    const serverStatus = runtimes?.get(info.name)?.serverStatus() ?? {};
    out.push(
      redact({
        ...(cfg[info.name] as Json | undefined),
        status: info.status,
        ...errorsOf(info.errors),
        ...usedByOf(usedBy.get(info.name) ?? []),
        name: info.name,
        provider: info.provider || providerOf(info.name),
        type: info.type.toLowerCase(),
        // Traefik's GetAllStatus: omitted when empty (weighted services)
        ...(Object.keys(serverStatus).length > 0 ? { serverStatus } : {}),
      }),
    );
  }
  return out;
}

/**
 * TCP services with Traefik's `serverStatus`: every server UP when the load balancer is built
 * (pkg/server/service/tcp/service.go), then what its health check finds.
 */
export function tcpServiceViews(state: ControlState): Json[] {
  const tcp = state.table().tcp;
  const runtimes: ReadonlyMap<string, ServerStatusSource> | undefined = tcp?.serviceRuntimes;
  return elementViews(
    tcp?.services,
    state.config().tcp?.services ?? {},
    usedByRouters(tcp?.routers, (r) => (r.service ? [r.service] : [])),
    runtimes,
  );
}

export function tcpMiddlewareViews(state: ControlState): Json[] {
  const tcp = state.table().tcp;
  return elementViews(
    tcp?.middlewares,
    state.config().tcp?.middlewares ?? {},
    usedByRouters(tcp?.routers, (r) => r.middlewares),
  );
}

export function udpRouterViews(state: ControlState): Json[] {
  const routers = udpOf(state.table())?.routers;
  if (routers === undefined) return [];
  const sc = state.opts.staticConfig;
  const cfg = state.config().udp?.routers ?? {};
  const out: Json[] = [];
  for (const info of routers.values()) {
    // a UDP router has no rule, priority nor middlewares (Traefik's dynamic.UDPRouter)
    out.push(
      redact({
        ...(cfg[info.name] as unknown as Json | undefined),
        entryPoints: info.entryPoints,
        service: info.service,
        status: info.status,
        ...errorsOf(info.errors),
        ...usingOf(sc, info.entryPoints, true),
        name: info.name,
        provider: info.provider || providerOf(info.name),
      }),
    );
  }
  return out;
}

export function udpServiceViews(state: ControlState): Json[] {
  const udp = udpOf(state.table());
  return elementViews(
    udp?.services,
    state.config().udp?.services ?? {},
    usedByRouters(udp?.routers, (r) => (r.service ? [r.service] : [])),
  );
}

function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export function entryPointView(ep: EntryPointConfig): Json {
  const t = ep.transport.respondingTimeouts;
  const udp = udpOptions(ep);
  return {
    address: ep.address,
    transport: {
      lifeCycle: {
        requestAcceptGraceTimeout: goDuration(ep.transport.lifeCycle.requestAcceptGraceTimeoutMs),
        graceTimeOut: goDuration(ep.transport.lifeCycle.graceTimeOutMs),
      },
      respondingTimeouts: {
        readTimeout: goDuration(t.readTimeoutMs),
        writeTimeout: goDuration(t.writeTimeoutMs),
        idleTimeout: goDuration(t.idleTimeoutMs),
      },
      keepAliveMaxRequests: ep.transport.keepAliveMaxRequests,
    },
    forwardedHeaders: {
      ...(ep.forwardedHeaders.insecure ? { insecure: true } : {}),
      ...(ep.forwardedHeaders.trustedIPs.length > 0
        ? { trustedIPs: ep.forwardedHeaders.trustedIPs }
        : {}),
    },
    http: {
      ...(ep.http.redirect
        ? {
            redirections: {
              entryPoint: {
                to: ep.http.redirect.to,
                scheme: ep.http.redirect.scheme,
                permanent: ep.http.redirect.permanent,
                priority: ep.http.redirect.priority,
              },
            },
          }
        : {}),
      ...(ep.http.middlewares.length > 0 ? { middlewares: ep.http.middlewares } : {}),
      ...(ep.http.tls ? { tls: ep.http.tls } : {}),
      maxHeaderBytes: ep.http.maxHeaderBytes,
    },
    ...(ep.asDefault ? { asDefault: true } : {}),
    // Traefik's UDPConfig: how long a silent UDP session lives (UDP entrypoints only)
    ...(udp ? { udp: { timeout: goDuration(udp.timeoutMs) } } : {}),
    name: ep.name,
  };
}

export function entryPointViews(sc: StaticConfig): Json[] {
  return Object.values(sc.entryPoints).map(entryPointView);
}

function countStatus(items: { status: string }[]): {
  total: number;
  warnings: number;
  errors: number;
} {
  return {
    total: items.length,
    warnings: items.filter((i) => i.status === 'warning').length,
    errors: items.filter((i) => i.status === 'disabled').length,
  };
}

const PROVIDER_TITLES: Record<string, string> = {
  file: 'File',
  docker: 'Docker',
  internal: 'Internal',
  kubernetescrd: 'KubernetesCRD',
  kubernetesingress: 'KubernetesIngress',
};

export function overview(state: ControlState): Json {
  const table = state.table();
  const sc = state.opts.staticConfig;
  const udp = udpOf(table);
  const certs = certificateViews(state);
  return {
    http: {
      routers: countStatus([...table.routers.values()]),
      services: countStatus(serviceViews(state) as { status: string }[]),
      middlewares: countStatus([...table.middlewares.values()]),
    },
    tcp: {
      routers: countStatus([...(table.tcp?.routers.values() ?? [])]),
      services: countStatus([...(table.tcp?.services.values() ?? [])]),
      middlewares: countStatus([...(table.tcp?.middlewares.values() ?? [])]),
    },
    udp: {
      routers: countStatus([...(udp?.routers?.values() ?? [])]),
      services: countStatus([...(udp?.services?.values() ?? [])]),
    },
    features: {
      tracing: '',
      metrics: (sc as { metrics?: { prometheus?: unknown } }).metrics?.prometheus
        ? 'Prometheus'
        : '',
      accessLog: sc.accessLog !== undefined,
    },
    providers: [...state.providers.keys()]
      .filter((p) => p !== 'internal')
      .map((p) => PROVIDER_TITLES[p] ?? p),
    certificates: countStatus(certs as { status: string }[]),
  };
}

export function providerViews(state: ControlState): Json[] {
  return [...state.providers.values()].map((p) => {
    let diagnostics: ProviderDiagnostic[] = [];
    let connected: boolean | undefined;
    try {
      diagnostics = p.probe?.diagnostics?.() ?? [];
      connected = p.probe?.connected?.();
    } catch {
      // a provider that cannot answer shows no diagnostics rather than failing the API
    }
    const hasErrors = p.errors.length > 0 || diagnostics.some((d) => d.level === 'error');
    return {
      name: p.name,
      status: connected === false ? 'disconnected' : hasErrors ? 'error' : 'ok',
      ...(connected !== undefined ? { connected } : {}),
      lastUpdate: p.lastUpdate ?? null,
      lastChange: p.lastChange ?? null,
      snapshots: p.snapshots,
      routers: p.routers,
      services: p.services,
      middlewares: p.middlewares,
      // only for providers with TCP or UDP elements, so HTTP-only answers keep their shape
      ...(Object.values(p.tcp).some((n) => n > 0) ? { tcp: { ...p.tcp } } : {}),
      ...(Object.values(p.udp).some((n) => n > 0) ? { udp: { ...p.udp } } : {}),
      errors: p.errors.map(errorView),
      diagnostics,
    };
  });
}

export function errorView(e: ElementError): Json {
  return { kind: e.kind, name: e.name, ...(e.field ? { field: e.field } : {}), message: e.message };
}

/** certificates close to expiry are a warning (30 days, Let's Encrypt's renewal window), expired ones an error */
const WARN_DAYS = 30;

export function certificateViews(state: ControlState): Json[] {
  const table: RoutingTable = state.table();
  const now = Date.now();
  const acme = state.acmeStatus();
  const out: Json[] = [];
  const covered = new Set<string>();
  for (const c of table.certificates?.list() ?? []) {
    const daysLeft = Math.floor((c.notAfter.getTime() - now) / 86_400_000);
    const domainStatus = c.resolver
      ? acme[c.resolver]?.find((d) => c.domains.includes(d.domain))
      : undefined;
    for (const n of c.domains) covered.add(n);
    out.push({
      domains: c.domains,
      // OpenSSL prints one key=value per line
      issuer: c.issuer.split('\n').join(', '),
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
      daysLeft,
      source: c.source,
      ...(c.resolver ? { resolver: c.resolver } : {}),
      status: daysLeft < 0 ? 'disabled' : daysLeft < WARN_DAYS ? 'warning' : 'enabled',
      ...(domainStatus?.lastError
        ? {
            lastError: domainStatus.lastError,
            lastErrorAt: domainStatus.lastErrorAt?.toISOString(),
          }
        : {}),
    });
  }
  // domains a resolver could not get a certificate for yet: operators must see why
  for (const [resolver, domains] of Object.entries(acme)) {
    for (const d of domains) {
      if (covered.has(d.domain) || d.notAfter !== undefined) continue;
      out.push({
        domains: [d.domain, ...d.sans],
        source: 'acme',
        resolver,
        status: d.lastError ? 'disabled' : 'warning',
        ...(d.lastError ? { lastError: d.lastError } : { pending: true }),
        ...(d.lastErrorAt ? { lastErrorAt: d.lastErrorAt.toISOString() } : {}),
        ...(d.nextAttempt ? { nextAttempt: d.nextAttempt.toISOString() } : {}),
        failures: d.failures,
      });
    }
  }
  return out;
}

export function rawData(state: ControlState): Json {
  const byName = (list: Json[]): Json => {
    const out: Json = {};
    for (const item of list) out[item.name as string] = item;
    return out;
  };
  // Traefik's RunTimeRepresentation: the tcp and udp maps are omitted when empty
  const optional = (key: string, list: Json[]): Json =>
    list.length > 0 ? { [key]: byName(list) } : {};
  return {
    routers: byName(routerViews(state)),
    middlewares: byName(middlewareViews(state)),
    services: byName(serviceViews(state)),
    ...optional('tcpRouters', tcpRouterViews(state)),
    ...optional('tcpMiddlewares', tcpMiddlewareViews(state)),
    ...optional('tcpServices', tcpServiceViews(state)),
    ...optional('udpRouters', udpRouterViews(state)),
    ...optional('udpServices', udpServiceViews(state)),
  };
}
