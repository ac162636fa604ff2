/*
 * Aggregate: keeps the last snapshot of each provider, throttles bursts
 * (latest wins), skips configurations equal to the last one, qualifies every
 * name with its provider (`who@docker`) and merges them into one dynamic
 * configuration. Mirrors Traefik's configuration watcher, with a short window
 * so a change is live end to end well within 2 s.
 */
import type {
  DynamicConfig,
  ElementError,
  HttpConfig,
  MiddlewareConfig,
  ServiceConfig,
  TcpConfig,
  TcpServiceConfig,
  UdpConfig,
  UdpServiceConfig,
} from './dynamic.js';
import type { ProviderSnapshot } from './provider.js';
import { setKey } from './objects.js';
import { stableKey } from './objects.js';
import { validateDynamic } from './validate.js';

function qualifyName(name: string, provider: string): string {
  return name.includes('@') ? name : `${name}@${provider}`;
}

/** The references every service kind can hold: a servers transport, and weighted children. */
interface SharedServiceRefs {
  /** UDP load balancers have no servers transport: any object, read as possibly having one */
  loadBalancer?: object | undefined;
  weighted?: { services?: { name: string }[] | undefined } | undefined;
}

/** `s` with its servers transport and weighted children qualified with `p` (HTTP, TCP, UDP). */
function qualifySharedRefs<T extends SharedServiceRefs>(s: T, p: string): T {
  const out: T = { ...s };
  const lb = s.loadBalancer as { serversTransport?: string } | undefined;
  if (lb?.serversTransport) {
    out.loadBalancer = { ...lb, serversTransport: qualifyName(lb.serversTransport, p) };
  }
  if (s.weighted) {
    out.weighted = {
      ...s.weighted,
      services: s.weighted.services?.map((w) => ({ ...w, name: qualifyName(w.name, p) })),
    };
  }
  return out;
}

function qualifyService(s: ServiceConfig, p: string): ServiceConfig {
  const out = qualifySharedRefs(s, p);
  if (s.mirroring) {
    out.mirroring = {
      ...s.mirroring,
      service: qualifyName(s.mirroring.service, p),
      mirrors: s.mirroring.mirrors?.map((m) => ({ ...m, name: qualifyName(m.name, p) })),
    };
  }
  if (s.failover) {
    out.failover = {
      ...s.failover,
      service: qualifyName(s.failover.service, p),
      fallback: qualifyName(s.failover.fallback, p),
    };
  }
  return out;
}

function qualifyMiddleware(m: MiddlewareConfig, p: string): MiddlewareConfig {
  const out: MiddlewareConfig = {};
  for (const [type, options] of Object.entries(m)) {
    const t = type.toLowerCase();
    if (t === 'chain' && options && typeof options === 'object') {
      const list = (options as { middlewares?: unknown }).middlewares;
      out[type] = Array.isArray(list)
        ? { ...options, middlewares: list.map((n) => qualifyName(String(n), p)) }
        : options;
    } else if (
      t === 'errors' &&
      options &&
      typeof options === 'object' &&
      typeof (options as { service?: unknown }).service === 'string'
    ) {
      out[type] = { ...options, service: qualifyName((options as { service: string }).service, p) };
    } else {
      out[type] = options;
    }
  }
  return out;
}

/** TLS options are qualified like other names, except `default`, which Traefik refers to bare. */
function qualifyTlsOptions(name: string, provider: string): string {
  return name === 'default' ? name : qualifyName(name, provider);
}

/**
 * A router with its references qualified: its service, middlewares and TLS options (HTTP, TCP
 * and UDP routers alike; a field the router does not have stays absent).
 */
export function qualifyRouter<
  R extends { service?: unknown; middlewares?: string[]; tls?: { options?: string } },
>(r: R, p: string): R {
  return {
    ...r,
    service: typeof r.service === 'string' ? qualifyName(r.service, p) : r.service,
    ...(r.middlewares ? { middlewares: r.middlewares.map((m) => qualifyName(m, p)) } : {}),
    ...(r.tls?.options ? { tls: { ...r.tls, options: qualifyTlsOptions(r.tls.options, p) } } : {}),
  };
}

/** The elements of one section under their qualified names, each passed through `f`. */
function qualifyEach<T>(
  elements: Record<string, T> | undefined,
  p: string,
  f: (element: T, p: string) => T = (element) => element,
): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [name, element] of Object.entries(elements ?? {}))
    out[qualifyName(name, p)] = f(element, p);
  return out;
}

/** Qualifies every element name and every reference that has no `@provider` with the snapshot's provider. */
export function qualify(snapshot: ProviderSnapshot): HttpConfig {
  const p = snapshot.provider;
  const http = snapshot.config.http ?? {};
  return {
    routers: qualifyEach(http.routers, p, qualifyRouter),
    services: qualifyEach(http.services, p, qualifyService),
    middlewares: qualifyEach(http.middlewares, p, qualifyMiddleware),
    serversTransports: qualifyEach(http.serversTransports, p),
  };
}

function qualifyTcpService(s: TcpServiceConfig, p: string): TcpServiceConfig {
  return qualifySharedRefs(s, p);
}

function qualifyUdpService(s: UdpServiceConfig, p: string): UdpServiceConfig {
  return s.weighted ? qualifySharedRefs(s, p) : s;
}

/** The tcp section of a snapshot with every name and reference qualified, as qualify() does for http. */
export function qualifyTcp(snapshot: ProviderSnapshot): Required<TcpConfig> {
  const p = snapshot.provider;
  const tcp = snapshot.config.tcp ?? {};
  return {
    routers: qualifyEach(tcp.routers, p, qualifyRouter),
    services: qualifyEach(tcp.services, p, qualifyTcpService),
    middlewares: qualifyEach(tcp.middlewares, p),
    serversTransports: qualifyEach(tcp.serversTransports, p),
  };
}

/** The udp section of a snapshot with every name and reference qualified. */
export function qualifyUdp(snapshot: ProviderSnapshot): Required<UdpConfig> {
  const p = snapshot.provider;
  const udp = snapshot.config.udp ?? {};
  return {
    routers: qualifyEach(udp.routers, p, qualifyRouter),
    services: qualifyEach(udp.services, p, qualifyUdpService),
  };
}

export interface MergedConfig {
  config: DynamicConfig;
  errors: ElementError[];
}

/**
 * Validates each snapshot (which also canonicalises field names, so `Service:`
 * and `service:` mean the same), qualifies it with its provider and merges them;
 * names cannot collide across providers since each carries its own suffix.
 */
export function mergeSnapshots(snapshots: Iterable<ProviderSnapshot>): MergedConfig {
  const http: Required<HttpConfig> = {
    routers: {},
    services: {},
    middlewares: {},
    serversTransports: {},
  };
  const tcp: Required<TcpConfig> = {
    routers: {},
    services: {},
    middlewares: {},
    serversTransports: {},
  };
  const udp: Required<UdpConfig> = { routers: {}, services: {} };
  const errors: ElementError[] = [];
  const tls: NonNullable<DynamicConfig['tls']> = {};
  const defaultOptionsFrom: string[] = [];
  for (const raw of snapshots) {
    const validated = validateDynamic(raw.config, raw.provider);
    errors.push(...validated.errors);
    const snap: ProviderSnapshot = { ...raw, config: validated.config };
    const q = qualify(snap);
    Object.assign(http.routers, q.routers);
    Object.assign(http.services, q.services);
    Object.assign(http.middlewares, q.middlewares);
    Object.assign(http.serversTransports, q.serversTransports);
    if (snap.config.tcp) {
      const t = qualifyTcp(snap);
      Object.assign(tcp.routers, t.routers);
      Object.assign(tcp.services, t.services);
      Object.assign(tcp.middlewares, t.middlewares);
      Object.assign(tcp.serversTransports, t.serversTransports);
    }
    if (snap.config.udp) {
      const u = qualifyUdp(snap);
      Object.assign(udp.routers, u.routers);
      Object.assign(udp.services, u.services);
    }
    if (snap.config.tls?.certificates)
      tls.certificates = [...(tls.certificates ?? []), ...snap.config.tls.certificates];
    for (const [name, o] of Object.entries(snap.config.tls?.options ?? {})) {
      const q = qualifyTlsOptions(name, raw.provider);
      if (q === 'default') defaultOptionsFrom.push(raw.provider);
      // one object, added to: a copy per option would be quadratic in the number of options
      setKey((tls.options ??= {}) as Record<string, unknown>, q, o);
    }
    if (snap.config.tls?.stores) tls.stores = { ...tls.stores, ...snap.config.tls.stores };
    errors.push(...snap.errors);
  }
  if (defaultOptionsFrom.length > 1) {
    // Traefik drops it too: which provider's `default` wins would depend on snapshot order
    delete tls.options!.default;
    errors.push({
      kind: 'tls',
      name: 'tls.options.default',
      message: `the default TLS options are defined by several providers (${defaultOptionsFrom.join(', ')}); the built-in defaults are used`,
    });
  }
  const config: DynamicConfig = { http };
  if (Object.keys(tls).length > 0) config.tls = tls;
  // tcp and udp only when a provider has any: most configurations are http only
  if (Object.values(tcp).some((m) => Object.keys(m).length > 0)) config.tcp = tcp;
  if (Object.values(udp).some((m) => Object.keys(m).length > 0)) config.udp = udp;
  return { config, errors };
}

export interface AggregatorOptions {
  throttleMs: number;
  onConfig: (merged: MergedConfig) => void;
}

/** Collects provider snapshots and calls onConfig with the merged result, throttled and de-duplicated. */
export class Aggregator {
  private readonly latest = new Map<string, ProviderSnapshot>();
  private readonly lastKeys = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private lastMergedKey = '';

  constructor(private readonly opts: AggregatorOptions) {}

  update(snapshot: ProviderSnapshot): void {
    const key = stableKey([snapshot.config, snapshot.errors]);
    if (this.lastKeys.get(snapshot.provider) === key) return;
    this.lastKeys.set(snapshot.provider, key);
    this.latest.set(snapshot.provider, snapshot);
    if (this.timer !== undefined) return;
    // the first change opens a window; later changes in it replace earlier ones (latest wins)
    this.timer = setTimeout(() => this.flush(), this.opts.throttleMs);
  }

  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const merged = mergeSnapshots(this.latest.values());
    const key = stableKey(merged);
    if (key === this.lastMergedKey) return;
    this.lastMergedKey = key;
    this.opts.onConfig(merged);
  }

  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
