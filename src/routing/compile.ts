/*
 * compile(): validated, qualified dynamic configuration → immutable RoutingTable.
 * Never touches sockets and never throws for a bad element: each broken router,
 * service or middleware is recorded with its reason and left out, and
 * everything else is built (Traefik's runtime model: status + error[]).
 */
import type { Logger } from 'pino';
import type { DynamicConfig, ElementError, ServersTransportConfig } from '../config/dynamic.js';
import type { EntryPointConfig, ServersTransportDefaults } from '../config/static-types.js';
import { buildRule } from '../rules/index.js';
import type { Handler } from '../kernel/context.js';
import { middlewareDefinition } from '../../middlewares/registry.js';
import type { Middleware } from '../../middlewares/types.js';
import { buildService, discardMirrorBody, type ServiceRuntime } from '../services/build.js';
import { parseGoDuration } from '../kernel/duration.js';
import { transportKey, type TransportSettings } from '../proxy/transport.js';
import type { StateRegistry } from '../kernel/state.js';
import { buildCertificateStore, type KeyPair } from '../tls/store.js';
import { buildTlsOptions, DEFAULT_TLS_OPTIONS, type TlsOptionsSet } from '../tls/options.js';
import { buildTlsSelection, type HostClaim } from '../tls/selection.js';
import { ACME_TLS_ALPN_SERVICE } from '../tls/acme/challenges.js';
import {
  byPriority,
  type CompiledRoute,
  type EntryPointRoutes,
  type MiddlewareInfo,
  type RouterInfo,
  type RoutingTable,
  type ServiceInfo,
} from './table.js';

/** Traefik reserves the top of the range for internal routers. */
const MAX_USER_PRIORITY = Number.MAX_SAFE_INTEGER - 1000;

export interface CompileOptions {
  entryPoints: Record<string, EntryPointConfig>;
  transportDefaults: ServersTransportDefaults;
  state: StateRegistry;
  logger: Logger;
  /** errors found before compiling (providers, validation); carried into the table */
  errors?: ElementError[];
  version?: number;
  /** names of the configured certificatesResolvers */
  certResolvers?: string[];
  /** the default TLS certificate; with it, the table carries a certificate store */
  defaultCertificate?: KeyPair | undefined;
  /** handlers for `name@internal` services (api, dashboard, ping, noop) */
  internalServices?: ReadonlyMap<string, Handler>;
}

function providerOf(name: string): string {
  const at = name.lastIndexOf('@');
  return at === -1 ? '' : name.slice(at + 1);
}

class CycleError extends Error {}

/** The option set a TLS router uses on an entrypoint: its own, else the entrypoint's, else `default`. */
function tlsOptionsName(
  router: string | undefined,
  entryPoint: string | undefined,
  provider: string,
): string {
  const name = router ?? entryPoint ?? DEFAULT_TLS_OPTIONS;
  // the entrypoint's reference comes from the static configuration: qualify it like the router's own
  return name === DEFAULT_TLS_OPTIONS || name.includes('@') || provider === ''
    ? name
    : `${name}@${provider}`;
}

/** Why a router cannot use the option set `name`, or undefined when it can. */
function tlsOptionsProblem(set: TlsOptionsSet, name: string): string | undefined {
  if (set.options.has(name)) return undefined;
  const why = set.invalid.get(name);
  return why === undefined
    ? `the TLS options "${name}" do not exist`
    : `the TLS options "${name}" are invalid (${why})`;
}

/** The TLS-ALPN-01 responder the ACME manager publishes as an internal service, if any. */
function acmeTlsAlpnAddress(config: DynamicConfig): { host: string; port: number } | undefined {
  const url =
    config.http?.services?.[`${ACME_TLS_ALPN_SERVICE}@internal`]?.loadBalancer?.servers?.[0]?.url;
  if (url === undefined) return undefined;
  try {
    const u = new URL(url);
    return { host: u.hostname, port: Number(u.port) };
  } catch {
    return undefined;
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function compile(config: DynamicConfig, opts: CompileOptions): RoutingTable {
  const started = performance.now();
  const http = config.http ?? {};
  const routersCfg = http.routers ?? {};
  const servicesCfg = http.services ?? {};
  const middlewaresCfg = http.middlewares ?? {};
  const transportsCfg = http.serversTransports ?? {};
  const errors: ElementError[] = [...(opts.errors ?? [])];

  const routers = new Map<string, RouterInfo>();
  const services = new Map<string, ServiceInfo>();
  const middlewares = new Map<string, MiddlewareInfo>();
  const serviceRuntimes = new Map<string, ServiceRuntime>();
  const serviceFailures = new Map<string, string>();
  const middlewareBuilt = new Map<string, Middleware[]>();
  const middlewareFailures = new Map<string, string>();

  for (const e of opts.errors ?? []) {
    // elements the validator already threw out still show up, disabled, with their reason
    if (e.kind === 'service' && !services.has(e.name)) {
      services.set(e.name, {
        name: e.name,
        provider: providerOf(e.name),
        type: 'unknown',
        status: 'disabled',
        errors: [],
        usedBy: [],
      });
    }
    if (e.kind === 'service')
      services.get(e.name)!.errors.push(e.field ? `${e.field}: ${e.message}` : e.message);
  }

  // --- transports -----------------------------------------------------------
  const d = opts.transportDefaults;
  const defaultTransport: TransportSettings = {
    name: 'default@internal',
    key: '',
    dialTimeoutMs: d.forwardingTimeouts.dialTimeoutMs,
    responseHeaderTimeoutMs: d.forwardingTimeouts.responseHeaderTimeoutMs,
    idleConnTimeoutMs: d.forwardingTimeouts.idleConnTimeoutMs,
    maxConnsPerHost: d.maxIdleConnsPerHost,
    insecureSkipVerify: d.insecureSkipVerify,
    rootCAs: d.rootCAs,
    serverName: undefined,
  };
  defaultTransport.key = transportKey(defaultTransport);
  const transports = new Map<string, TransportSettings>();
  const transportFailures = new Map<string, string>();
  for (const [name, t] of Object.entries(transportsCfg) as [string, ServersTransportConfig][]) {
    try {
      const ft = t.forwardingTimeouts ?? {};
      const s: TransportSettings = {
        name,
        key: '',
        dialTimeoutMs: parseGoDuration(ft.dialTimeout, defaultTransport.dialTimeoutMs),
        responseHeaderTimeoutMs: parseGoDuration(
          ft.responseHeaderTimeout,
          defaultTransport.responseHeaderTimeoutMs,
        ),
        idleConnTimeoutMs: parseGoDuration(ft.idleConnTimeout, defaultTransport.idleConnTimeoutMs),
        maxConnsPerHost: t.maxIdleConnsPerHost ?? defaultTransport.maxConnsPerHost,
        insecureSkipVerify: t.insecureSkipVerify ?? defaultTransport.insecureSkipVerify,
        rootCAs: t.rootCAs ?? defaultTransport.rootCAs,
        serverName: t.serverName,
      };
      s.key = transportKey(s);
      transports.set(name, s);
    } catch (err) {
      transportFailures.set(name, errorMessage(err));
      errors.push({ kind: 'serversTransport', name, message: errorMessage(err) });
    }
  }

  // --- services (lazy, memoised, with cycle detection) ------------------------
  const building = new Set<string>();
  const resolveService = (name: string): ServiceRuntime => {
    const built = serviceRuntimes.get(name);
    if (built !== undefined) return built;
    const failed = serviceFailures.get(name);
    if (failed !== undefined) throw new Error(failed);
    const internal = opts.internalServices?.get(name);
    if (internal !== undefined) {
      const rt: ServiceRuntime = {
        name,
        type: 'loadBalancer',
        handle: internal,
        isUp: () => true,
        serverStatus: () => ({}),
        // internal services take no copies; a streamed copy is released at once
        mirror: (_rc, body) => discardMirrorBody(body),
      };
      serviceRuntimes.set(name, rt);
      return rt;
    }
    const cfg = servicesCfg[name];
    if (cfg === undefined) throw new Error(`the service "${name}" does not exist`);
    if (building.has(name)) throw new CycleError(`service cycle through "${name}"`);
    building.add(name);
    const info: ServiceInfo = services.get(name) ?? {
      name,
      provider: providerOf(name),
      type: Object.keys(cfg)[0] ?? 'unknown',
      status: 'enabled',
      errors: [],
      usedBy: [],
    };
    services.set(name, info);
    try {
      const rt = buildService(name, cfg, {
        state: opts.state,
        logger: opts.logger,
        entryPointPort: (ctx) => opts.entryPoints[ctx.entryPoint]?.port ?? 0,
        transport: (t) => {
          if (t === undefined || t === 'default@internal') return defaultTransport;
          const found = transports.get(t);
          if (found !== undefined) return found;
          const why = transportFailures.get(t);
          throw new Error(
            why
              ? `serversTransport "${t}" is invalid: ${why}`
              : `serversTransport "${t}" does not exist`,
          );
        },
        child: (childName) => {
          try {
            return resolveService(childName);
          } catch (err) {
            if (err instanceof CycleError) throw err;
            throw new Error(`child service "${childName}": ${errorMessage(err)}`, { cause: err });
          }
        },
      });
      serviceRuntimes.set(name, rt);
      return rt;
    } catch (err) {
      const message = errorMessage(err);
      serviceFailures.set(name, message);
      info.status = 'disabled';
      info.errors.push(message);
      errors.push({ kind: 'service', name, field: (err as { field?: string }).field, message });
      throw err;
    } finally {
      building.delete(name);
    }
  };

  // --- middlewares (chains resolved here, cycles detected) --------------------
  const resolving = new Set<string>();
  const resolveMiddleware = (name: string): Middleware[] => {
    const built = middlewareBuilt.get(name);
    if (built !== undefined) return built;
    const failed = middlewareFailures.get(name);
    if (failed !== undefined) throw new Error(`middleware "${name}": ${failed}`);
    const cfg = middlewaresCfg[name];
    if (cfg === undefined) throw new Error(`middleware "${name}" does not exist`);
    if (resolving.has(name)) throw new CycleError(`middleware cycle through "${name}"`);
    const types = Object.keys(cfg);
    const type = types[0] ?? '';
    const info: MiddlewareInfo = middlewares.get(name) ?? {
      name,
      provider: providerOf(name),
      type,
      status: 'enabled',
      errors: [],
      usedBy: [],
    };
    middlewares.set(name, info);
    resolving.add(name);
    try {
      if (types.length !== 1)
        throw new Error(
          `a middleware must have exactly one type, found: ${types.join(', ') || 'none'}`,
        );
      let list: Middleware[];
      if (type.toLowerCase() === 'chain') {
        const members = (cfg[type] as { middlewares?: unknown } | null)?.middlewares;
        if (!Array.isArray(members))
          throw new Error('chain.middlewares must be a list of middleware names');
        list = members.flatMap((m) => resolveMiddleware(String(m)));
      } else {
        const def = middlewareDefinition(type);
        if (def === undefined) throw new Error(`unknown middleware type "${type}"`);
        try {
          list = [
            def.create(cfg[type], {
              name,
              state: opts.state,
              logger: opts.logger.child({ middleware: name }),
              service: (svc) =>
                resolveService(svc.includes('@') ? svc : `${svc}@${providerOf(name)}`),
            }),
          ];
        } catch (err) {
          const field = (err as { field?: string }).field;
          throw new Error(
            `${type}${field ? '.' + field : ''}: ${errorMessage(err).replace(`${field}: `, '')}`,
            { cause: err },
          );
        }
      }
      middlewareBuilt.set(name, list);
      return list;
    } catch (err) {
      const message = errorMessage(err);
      if (!(err instanceof CycleError) || !middlewareFailures.has(name)) {
        middlewareFailures.set(name, message);
        info.status = 'disabled';
        info.errors.push(message);
        errors.push({ kind: 'middleware', name, message });
      }
      throw err;
    } finally {
      resolving.delete(name);
    }
  };

  // --- routers ------------------------------------------------------------------
  const allEntryPoints = Object.values(opts.entryPoints);
  const defaults = allEntryPoints.some((e) => e.asDefault)
    ? allEntryPoints.filter((e) => e.asDefault).map((e) => e.name)
    : allEntryPoints.filter((e) => e.name !== 'traefik').map((e) => e.name);
  const perEntryPoint = new Map<
    string,
    { exact: Map<string, CompiledRoute[]>; any: CompiledRoute[] }
  >();
  for (const ep of allEntryPoints) perEntryPoint.set(ep.name, { exact: new Map(), any: [] });
  const epMiddlewares = new Map<string, Middleware[]>();
  const epMiddlewareErrors = new Map<string, string>();
  for (const ep of allEntryPoints) {
    try {
      epMiddlewares.set(
        ep.name,
        ep.http.middlewares.flatMap((m) => {
          if (!m.includes('@'))
            throw new Error(
              `entrypoint middleware "${m}" must be qualified with its provider (name@provider)`,
            );
          return resolveMiddleware(m);
        }),
      );
    } catch (err) {
      epMiddlewareErrors.set(ep.name, errorMessage(err));
    }
  }

  const tlsOptions = buildTlsOptions(config.tls?.options);
  errors.push(...tlsOptions.errors);
  const tlsClaims: HostClaim[] = [];

  for (const [name, r] of Object.entries(routersCfg)) {
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
    routers.set(name, info);
    const fail = (message: string, field?: string): void => {
      info.status = 'disabled';
      info.errors.push(field ? `${field}: ${message}` : message);
      errors.push({ kind: 'router', name, ...(field ? { field } : {}), message });
    };
    try {
      if (r.ruleSyntax !== undefined && r.ruleSyntax !== 'v3') {
        fail(`ruleSyntax ${r.ruleSyntax} is not supported; only v3 rules are`, 'ruleSyntax');
        continue;
      }
      if (
        r.tls?.certResolver !== undefined &&
        !(opts.certResolvers ?? []).includes(r.tls.certResolver)
      ) {
        // like Traefik: the router serves with the certificates the store has; the resolver error is a warning
        info.errors.push(`the certificate resolver "${r.tls.certResolver}" does not exist`);
        info.status = 'warning';
      }
      let rule;
      try {
        rule = buildRule(r.rule);
      } catch (err) {
        fail(`error while parsing rule ${r.rule}: ${errorMessage(err)}`, 'rule');
        continue;
      }
      const priority = r.priority !== undefined && r.priority !== 0 ? r.priority : rule.priority;
      if (priority > MAX_USER_PRIORITY && info.provider !== 'internal') {
        fail(
          `the router priority ${priority} exceeds the max user-defined priority ${MAX_USER_PRIORITY}`,
          'priority',
        );
        continue;
      }
      info.priority = priority;
      const eps = info.entryPoints.filter((ep) => {
        if (!perEntryPoint.has(ep)) {
          info.errors.push(`entryPoint "${ep}" doesn't exist`);
          info.status = 'warning';
          return false;
        }
        // a TLS router needs an entrypoint that terminates TLS; a plain router on such an
        // entrypoint becomes an HTTPS router (Traefik's entrypoint-level tls)
        if (r.tls !== undefined && opts.entryPoints[ep]?.http.tls === undefined) {
          info.errors.push(
            `entryPoint "${ep}" does not terminate TLS (set entryPoints.${ep}.http.tls): the router is not served there`,
          );
          info.status = 'warning';
          return false;
        }
        return true;
      });
      if (eps.length === 0) {
        fail('no valid entryPoint for this router', 'entryPoints');
        continue;
      }
      let chain: Middleware[];
      try {
        chain = info.middlewares.flatMap((m) => resolveMiddleware(m));
      } catch (err) {
        fail(errorMessage(err), 'middlewares');
        continue;
      }
      let service: ServiceRuntime;
      try {
        if (!r.service) throw new Error('the service is missing on the router');
        service = resolveService(r.service);
      } catch (err) {
        fail(errorMessage(err), 'service');
        continue;
      }
      services.get(r.service)?.usedBy.push(name);
      for (const m of info.middlewares) middlewares.get(m)?.usedBy.push(name);
      let handler: Handler = service.handle;
      for (let i = chain.length - 1; i >= 0; i--) handler = chain[i]!(handler);
      const optionProblems: string[] = [];
      let served = 0;
      for (const ep of eps) {
        const epErr = epMiddlewareErrors.get(ep);
        if (epErr !== undefined) {
          info.errors.push(`entryPoint "${ep}": ${epErr}`);
          info.status = info.status === 'enabled' ? 'warning' : info.status;
          continue;
        }
        const epTls = opts.entryPoints[ep]?.http.tls;
        if (r.tls !== undefined || epTls !== undefined) {
          const optName = tlsOptionsName(r.tls?.options, epTls?.options, info.provider);
          const problem = tlsOptionsProblem(tlsOptions, optName);
          if (problem !== undefined) {
            // fail closed: options may require client certificates, never serve without them
            optionProblems.push(`entryPoint "${ep}": ${problem}`);
            continue;
          }
          if (rule.hosts !== null)
            tlsClaims.push({ entryPoint: ep, router: name, hosts: rule.hosts, options: optName });
          else if (optName !== DEFAULT_TLS_OPTIONS) {
            info.errors.push(
              `no domain found in rule ${r.rule}: the TLS options "${optName}" apply only to SNI names other routers claim; handshakes for other names use the default options`,
            );
            info.status = info.status === 'enabled' ? 'warning' : info.status;
          }
        }
        served++;
        let h = handler;
        const epChain = epMiddlewares.get(ep) ?? [];
        for (let i = epChain.length - 1; i >= 0; i--) h = epChain[i]!(h);
        const route: CompiledRoute = { name, priority, matcher: rule.matcher, handler: h };
        const slot = perEntryPoint.get(ep)!;
        if (rule.hosts === null) slot.any.push(route);
        else
          for (const host of rule.hosts) {
            let list = slot.exact.get(host);
            if (list === undefined) slot.exact.set(host, (list = []));
            list.push(route);
          }
      }
      if (optionProblems.length > 0) {
        if (served === 0) fail(optionProblems.join('; '), 'tls.options');
        else {
          info.errors.push(...optionProblems);
          info.status = info.status === 'enabled' ? 'warning' : info.status;
        }
      }
    } catch (err) {
      fail(`internal error: ${errorMessage(err)}`);
    }
  }

  // services nobody uses are still built, so that their errors and health show
  for (const name of Object.keys(servicesCfg)) {
    try {
      resolveService(name);
    } catch {
      // recorded on the service already
    }
  }
  for (const name of Object.keys(middlewaresCfg)) {
    try {
      resolveMiddleware(name);
    } catch {
      // recorded on the middleware already
    }
  }

  // each list once: findRoute walks a host's list and the any-host list together (issue 11:
  // merging them here cost hosts × catch-alls)
  const entryPoints = new Map<string, EntryPointRoutes>();
  for (const [ep, slot] of perEntryPoint) {
    for (const list of slot.exact.values()) list.sort(byPriority);
    entryPoints.set(ep, { byHost: slot.exact, any: slot.any.sort(byPriority) });
  }

  let certificates;
  let tls;
  if (opts.defaultCertificate !== undefined) {
    certificates = buildCertificateStore(config.tls?.certificates ?? [], {
      defaultCertificate: opts.defaultCertificate,
      logger: opts.logger,
    });
    errors.push(...certificates.errors);
    const built = buildTlsSelection(tlsOptions.options, tlsClaims, acmeTlsAlpnAddress(config));
    tls = built.selection;
    for (const [router, messages] of built.warnings) {
      const info = routers.get(router);
      if (info === undefined) continue;
      info.errors.push(...messages);
      if (info.status === 'enabled') info.status = 'warning';
    }
  }

  return {
    version: opts.version ?? 0,
    certificates,
    tls,
    entryPoints,
    routers,
    services,
    serviceRuntimes,
    middlewares,
    errors,
    compileMs: performance.now() - started,
  };
}
