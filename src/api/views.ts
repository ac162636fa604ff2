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
import type { RoutingTable } from '../table/table.js';
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

function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export function entryPointView(ep: EntryPointConfig): Json {
  const t = ep.transport.respondingTimeouts;
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
  const zero = { total: 0, warnings: 0, errors: 0 };
  const certs = certificateViews(state);
  return {
    http: {
      routers: countStatus([...table.routers.values()]),
      services: countStatus(serviceViews(state) as { status: string }[]),
      middlewares: countStatus([...table.middlewares.values()]),
    },
    tcp: { routers: zero, services: zero, middlewares: zero },
    udp: { routers: zero, services: zero },
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
  return {
    routers: byName(routerViews(state)),
    middlewares: byName(middlewareViews(state)),
    services: byName(serviceViews(state)),
  };
}
