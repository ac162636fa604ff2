/*
 * The TCP side of compile (Traefik's pkg/server/router/tcp/manager.go and
 * pkg/server/service/tcp): servers transports, services, middlewares and
 * routers of `tcp.*` → per-entrypoint TCP routes for the connection layer.
 * Like the HTTP managers it never throws for a bad element: the element is
 * recorded (status disabled + reason, naming the field) and the others are
 * built.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type {
  ElementError,
  TcpConfig,
  TcpMiddlewareConfig,
  TcpRouterConfig,
  TcpServersTransportConfig,
  TcpServiceConfig,
} from '../config/dynamic.js';
import type { EntryPointConfig } from '../config/static-types.js';
import { tryParseGoDuration } from '../kernel/duration.js';
import type { StateRegistry } from '../kernel/state.js';
import { stableKey } from '../config/objects.js';
import { createTcpHealthChecker } from '../tcp/health.js';
import { observeTcp, type StreamSinks } from '../observability/observe-tcp.js';
import { compileIpMatcher } from '../kernel/ip-match.js';
import { buildTcpRule, tcpRuleProblem, type BuiltTcpRule } from '../rules/tcp.js';
import type { TcpDialOptions } from '../tcp/proxy.js';
import {
  tcpInFlightConn,
  tcpIpAllowList,
  tcpLoadBalancer,
  tcpWeighted,
  type TcpMiddleware,
} from '../tcp/service.js';
import {
  byTcpPriority,
  type TcpEntryPointRoutes,
  type TcpHandler,
  type TcpServiceRuntime,
} from '../tcp/types.js';
import type { MiddlewareInfo, RouterInfo, ServiceInfo } from '../table/table.js';
import { loadCA } from '../proxy/transport.js';
import { DEFAULT_TLS_OPTIONS, type TlsOptionsSet } from '../tls/options.js';
import type { HostClaim } from '../tls/selection.js';
import { CycleError, errorMessage, providerOf } from './elements.js';
import { defaultEntryPoints, tlsOptionsName, tlsOptionsProblem } from './router-manager.js';

/** Traefik's tcpServersTransport defaults (static configuration). */
const DEFAULT_DIAL: Omit<TcpDialOptions, 'tls'> = {
  dialTimeoutMs: 30_000,
  dialKeepAliveMs: 15_000,
  terminationDelayMs: 100,
  proxyProtocol: undefined,
};

export interface TcpTables {
  entryPoints: Map<string, TcpEntryPointRoutes>;
  routers: Map<string, RouterInfo>;
  services: Map<string, ServiceInfo>;
  middlewares: Map<string, MiddlewareInfo>;
  /** SNI names TLS-terminating TCP routers claim, for TLS options */
  tlsClaims: HostClaim[];
  /** the services built, by name: health and serverStatus for the API */
  serviceRuntimes: Map<string, TcpServiceRuntime>;
}

interface Transport {
  base: Omit<TcpDialOptions, 'tls'>;
  tls: NonNullable<TcpDialOptions['tls']>;
}

function pemOrFile(entry: string): string {
  return entry.includes('-----BEGIN') ? entry : readFileSync(entry, 'utf8');
}

function durationMs(value: string | number | undefined, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  const ms = tryParseGoDuration(value);
  if (ms === undefined) throw new Error(`${field}: ${JSON.stringify(value)} is not a duration`);
  return ms;
}

function buildTransport(t: TcpServersTransportConfig): Transport {
  const tlsCfg = t.tls ?? {};
  return {
    base: {
      dialTimeoutMs: durationMs(t.dialTimeout, DEFAULT_DIAL.dialTimeoutMs, 'dialTimeout'),
      dialKeepAliveMs: durationMs(t.dialKeepAlive, DEFAULT_DIAL.dialKeepAliveMs, 'dialKeepAlive'),
      terminationDelayMs: durationMs(
        t.terminationDelay,
        DEFAULT_DIAL.terminationDelayMs,
        'terminationDelay',
      ),
      proxyProtocol:
        t.proxyProtocol === undefined ? undefined : ((t.proxyProtocol.version ?? 2) as 1 | 2),
    },
    tls: {
      serverName: tlsCfg.serverName,
      insecureSkipVerify: tlsCfg.insecureSkipVerify ?? false,
      ca: tlsCfg.rootCAs && tlsCfg.rootCAs.length > 0 ? tlsCfg.rootCAs.map(loadCA) : undefined,
      certificates: (tlsCfg.certificates ?? []).map((c) => ({
        cert: pemOrFile(c.certFile),
        key: pemOrFile(c.keyFile),
      })),
    },
  };
}

function elementInfo(name: string, type: string): ServiceInfo {
  return { name, provider: providerOf(name), type, status: 'enabled', errors: [], usedBy: [] };
}

export function buildTcp(
  config: TcpConfig | undefined,
  opts: {
    entryPoints: Record<string, EntryPointConfig>;
    tlsOptions: TlsOptionsSet;
    logger: Logger;
    errors: ElementError[];
    /** health checkers live here, so that a reload leaving a service as it was keeps them */
    state: StateRegistry;
    /** metrics and access log of connections (src/observability/observe-tcp.ts); undefined: neither is on */
    streams?: StreamSinks | undefined;
  },
): TcpTables {
  const log = opts.logger;
  const errors = opts.errors;
  const out: TcpTables = {
    entryPoints: new Map(),
    routers: new Map(),
    services: new Map(),
    middlewares: new Map(),
    tlsClaims: [],
    serviceRuntimes: new Map(),
  };
  for (const ep of Object.keys(opts.entryPoints)) out.entryPoints.set(ep, { plain: [], tls: [] });
  const cfg = config ?? {};

  // --- servers transports
  const transports = new Map<string, Transport | Error>();
  const transportFor = (name: string | undefined): Transport => {
    if (name === undefined)
      return {
        base: DEFAULT_DIAL,
        tls: { serverName: undefined, insecureSkipVerify: false, ca: undefined, certificates: [] },
      };
    const t = transports.get(name);
    if (t === undefined) throw new Error(`servers transport "${name}" does not exist`);
    if (t instanceof Error) throw new Error(`servers transport "${name}" is invalid: ${t.message}`);
    return t;
  };
  for (const [name, t] of Object.entries(cfg.serversTransports ?? {})) {
    try {
      transports.set(name, buildTransport(t));
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      transports.set(name, e);
      errors.push({ kind: 'tcpServersTransport', name, message: e.message });
    }
  }

  // --- services
  const built = new Map<string, TcpServiceRuntime | Error>();
  const building = new Set<string>();
  const serviceConfigs = cfg.services ?? {};
  const fail = (info: { status: string; errors: string[] }, message: string): void => {
    info.status = 'disabled';
    info.errors.push(message);
  };
  const buildService = (name: string): TcpServiceRuntime => {
    const done = built.get(name);
    if (done instanceof Error) throw done;
    if (done !== undefined) return done;
    const c: TcpServiceConfig | undefined = serviceConfigs[name];
    if (c === undefined) throw new Error(`the service "${name}" does not exist`);
    if (building.has(name)) throw new CycleError(`cycle through service "${name}"`);
    building.add(name);
    const info = elementInfo(name, c.loadBalancer ? 'loadbalancer' : 'weighted');
    out.services.set(name, info);
    try {
      let runtime: TcpServiceRuntime;
      if (c.loadBalancer !== undefined) {
        const lb = c.loadBalancer;
        const transport = transportFor(lb.serversTransport);
        const base = {
          ...transport.base,
          // the deprecated service-level fields still apply, as in Traefik
          ...(lb.terminationDelay !== undefined ? { terminationDelayMs: lb.terminationDelay } : {}),
          ...(lb.proxyProtocol !== undefined
            ? { proxyProtocol: (lb.proxyProtocol.version ?? 2) as 1 | 2 }
            : {}),
        };
        const servers = (lb.servers ?? []).map((s) => ({
          address: s.address,
          dial: { ...base, tls: s.tls === true ? transport.tls : undefined },
        }));
        const hc = lb.healthCheck;
        // the key holds everything that shapes the probes: a reload that changes none of it
        // keeps the checker and what it knows (as the HTTP checkers, src/services/load-balancer.ts)
        const health =
          hc === undefined
            ? undefined
            : opts.state.acquire(
                `tcp-health:${name}:${stableKey({
                  servers: lb.servers,
                  hc,
                  transport:
                    lb.serversTransport === undefined
                      ? null
                      : cfg.serversTransports?.[lb.serversTransport],
                })}`,
                () => {
                  const checker = createTcpHealthChecker({
                    service: name,
                    servers,
                    config: hc,
                    logger: log,
                  });
                  checker.start();
                  return checker;
                },
                (checker) => checker.close(),
              );
        const isUp = (address: string): boolean => health?.isUp(address) ?? true;
        runtime = {
          handler: tcpLoadBalancer(servers, log, name, isUp),
          checked: health !== undefined,
          isUp: () => servers.some((s) => isUp(s.address)),
          serverStatus: () => {
            const status: Record<string, 'UP' | 'DOWN'> = {};
            for (const s of servers) status[s.address] = isUp(s.address) ? 'UP' : 'DOWN';
            return status;
          },
        };
      } else {
        const refs = c.weighted?.services ?? [];
        const checked = c.weighted?.healthCheck !== undefined;
        const children = refs.map((ref) => {
          const child = buildService(ref.name);
          // Traefik: a parent with healthCheck needs it on every child (RegisterStatusUpdater)
          if (checked && !child.checked)
            throw new Error(
              `healthCheck is set but the child service "${ref.name}" has no healthCheck`,
            );
          return { handler: child.handler, weight: ref.weight ?? 1, isUp: child.isUp };
        });
        for (const ref of refs) out.services.get(ref.name)?.usedBy.push(name);
        runtime = {
          handler: tcpWeighted(children, checked),
          checked,
          isUp: () => children.some((ch) => ch.weight > 0 && ch.isUp()),
          serverStatus: () => ({}),
        };
      }
      out.serviceRuntimes.set(name, runtime);
      built.set(name, runtime);
      return runtime;
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      built.set(name, e);
      fail(info, e.message);
      errors.push({ kind: 'tcpService', name, message: e.message });
      throw e;
    } finally {
      building.delete(name);
    }
  };

  // --- middlewares
  const middlewareConfigs = cfg.middlewares ?? {};
  const middlewares = new Map<string, TcpMiddleware | Error>();
  const buildMiddleware = (name: string): TcpMiddleware => {
    const done = middlewares.get(name);
    if (done instanceof Error) throw new Error(`middleware "${name}": ${done.message}`);
    if (done !== undefined) return done;
    const c: TcpMiddlewareConfig | undefined = middlewareConfigs[name];
    if (c === undefined) throw new Error(`middleware "${name}" does not exist`);
    const type = Object.keys(c)[0] ?? '';
    const info: MiddlewareInfo = { ...elementInfo(name, type) };
    out.middlewares.set(name, info);
    try {
      let m: TcpMiddleware;
      const allow = c.ipAllowList ?? c.ipWhiteList;
      if (allow !== undefined) m = tcpIpAllowList(compileIpMatcher(allow.sourceRange ?? []));
      else if (c.inFlightConn !== undefined) m = tcpInFlightConn(c.inFlightConn.amount ?? 0);
      else throw new Error(`unknown tcp middleware type "${type}"`);
      middlewares.set(name, m);
      return m;
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      middlewares.set(name, e);
      fail(info, e.message);
      errors.push({ kind: 'tcpMiddleware', name, message: e.message });
      throw new Error(`middleware "${name}": ${e.message}`);
    }
  };

  // --- routers
  const defaults = defaultEntryPoints(Object.values(opts.entryPoints));
  for (const [name, r] of Object.entries(cfg.routers ?? {}) as [string, TcpRouterConfig][]) {
    const info: RouterInfo = {
      name,
      provider: providerOf(name),
      rule: r.rule,
      priority: 0,
      entryPoints: r.entryPoints && r.entryPoints.length > 0 ? r.entryPoints : defaults,
      middlewares: r.middlewares ?? [],
      service: r.service,
      status: 'enabled',
      errors: [],
    };
    out.routers.set(name, info);
    const routerFail = (field: string, message: string): void => {
      fail(info, `${field}: ${message}`);
      errors.push({ kind: 'tcpRouter', name, field, message });
    };
    let rule: BuiltTcpRule;
    try {
      rule = buildTcpRule(r.rule);
    } catch (err) {
      routerFail('rule', `error while parsing rule ${r.rule}: ${errorMessage(err)}`);
      continue;
    }
    const tls = r.tls !== undefined;
    const problem = tcpRuleProblem(rule, tls);
    if (problem !== undefined) {
      routerFail('rule', problem);
      continue;
    }
    info.priority = r.priority !== undefined && r.priority !== 0 ? r.priority : rule.priority;
    let handler: TcpHandler;
    try {
      handler = buildService(r.service).handler;
      out.services.get(r.service)?.usedBy.push(name);
    } catch (err) {
      routerFail('service', errorMessage(err));
      continue;
    }
    try {
      const chain = info.middlewares.map((m) => {
        const built = buildMiddleware(m);
        out.middlewares.get(m)?.usedBy.push(name);
        return built;
      });
      for (let i = chain.length - 1; i >= 0; i--) handler = chain[i]!(handler);
    } catch (err) {
      routerFail('middlewares', errorMessage(err));
      continue;
    }
    const passthrough = r.tls?.passthrough === true;
    const optName = tls
      ? tlsOptionsName(r.tls?.options, undefined, info.provider)
      : DEFAULT_TLS_OPTIONS;
    if (tls && !passthrough) {
      const optProblem = tlsOptionsProblem(opts.tlsOptions, optName);
      if (optProblem !== undefined) {
        routerFail('tls.options', optProblem);
        continue;
      }
    }
    handler = observeTcp(
      handler,
      {
        router: name,
        service: r.service,
        tlsMode: tls ? (passthrough ? 'passthrough' : 'terminate') : undefined,
      },
      opts.streams,
    );
    let served = 0;
    for (const ep of info.entryPoints) {
      const routes = out.entryPoints.get(ep);
      if (routes === undefined) {
        info.errors.push(`entryPoint "${ep}" doesn't exist`);
        if (info.status === 'enabled') info.status = 'warning';
        continue;
      }
      served++;
      const route = {
        name,
        priority: info.priority,
        rule,
        tls: tls
          ? {
              mode: passthrough ? ('passthrough' as const) : ('terminate' as const),
              options: optName,
            }
          : undefined,
        handler,
      };
      (tls ? routes.tls : routes.plain).push(route);
      if (tls && !passthrough && rule.hosts !== null)
        out.tlsClaims.push({ entryPoint: ep, router: name, hosts: rule.hosts, options: optName });
    }
    if (served === 0) routerFail('entryPoints', 'no valid entryPoint for this router');
  }
  for (const routes of out.entryPoints.values()) {
    routes.plain.sort(byTcpPriority);
    routes.tls.sort(byTcpPriority);
  }
  // services nobody uses are still built, so that their errors show
  for (const name of Object.keys(serviceConfigs)) {
    try {
      buildService(name);
    } catch {
      // recorded on the service
    }
  }
  for (const name of Object.keys(middlewareConfigs)) {
    try {
      buildMiddleware(name);
    } catch {
      // recorded on the middleware
    }
  }
  return out;
}
