/*
 * The router manager (Traefik's pkg/server/router/router.go): checks each
 * router (rule, priority, entrypoints, TLS options), wraps its service in its
 * middlewares and then in its entrypoint's middlewares, and files the result
 * under each entrypoint it is served on. A router that cannot be served is
 * recorded (status disabled + reason) and the next one is built; problems
 * that leave it partly served are warnings.
 */
import type { ElementError, RouterConfig } from '../config/dynamic.js';
import type { EntryPointConfig } from '../config/static-types.js';
import { buildRule } from '../rules/index.js';
import type { Handler } from '../kernel/context.js';
import type { Middleware } from '../../middlewares/types.js';
import type { ServiceRuntime } from '../services/build.js';
import { DEFAULT_TLS_OPTIONS, type TlsOptionsSet } from '../tls/options.js';
import type { HostClaim } from '../tls/selection.js';
import {
  byPriority,
  type CompiledRoute,
  type EntryPointRoutes,
  type MiddlewareInfo,
  type RouterInfo,
  type ServiceInfo,
} from '../table/table.js';
import { errorMessage, providerOf } from './elements.js';

/** Traefik reserves the top of the range for internal routers. */
export const MAX_USER_PRIORITY = Number.MAX_SAFE_INTEGER - 1000;

/** The entrypoints a router without `entryPoints` is served on: the `asDefault` ones, else all but `traefik`. */
export function defaultEntryPoints(entryPoints: readonly EntryPointConfig[]): string[] {
  return entryPoints.some((e) => e.asDefault)
    ? entryPoints.filter((e) => e.asDefault).map((e) => e.name)
    : entryPoints.filter((e) => e.name !== 'traefik').map((e) => e.name);
}

export interface EntryPointChains {
  /** the wrappers of `entryPoints.<name>.http.middlewares`, per entrypoint */
  chains: Map<string, Middleware[]>;
  /** entrypoints whose middlewares cannot be built: their routers are not served there */
  errors: Map<string, string>;
}

/** Entrypoint middlewares come from the static configuration, so they must name their provider. */
export function buildEntryPointChains(
  entryPoints: readonly EntryPointConfig[],
  middlewares: { build(name: string): Middleware[] },
): EntryPointChains {
  const chains = new Map<string, Middleware[]>();
  const errors = new Map<string, string>();
  for (const ep of entryPoints) {
    try {
      chains.set(
        ep.name,
        ep.http.middlewares.flatMap((m) => {
          if (!m.includes('@'))
            throw new Error(
              `entrypoint middleware "${m}" must be qualified with its provider (name@provider)`,
            );
          return middlewares.build(m);
        }),
      );
    } catch (err) {
      errors.set(ep.name, errorMessage(err));
    }
  }
  return { chains, errors };
}

/** The option set a TLS router uses on an entrypoint: its own, else the entrypoint's, else `default`. */
export function tlsOptionsName(
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
export function tlsOptionsProblem(set: TlsOptionsSet, name: string): string | undefined {
  if (set.options.has(name)) return undefined;
  const why = set.invalid.get(name);
  return why === undefined
    ? `the TLS options "${name}" do not exist`
    : `the TLS options "${name}" are invalid (${why})`;
}

export interface RouterManagerOptions {
  configs: Record<string, RouterConfig>;
  entryPoints: Record<string, EntryPointConfig>;
  /** names of the configured certificatesResolvers */
  certResolvers: readonly string[];
  services: { build(name: string): ServiceRuntime };
  middlewares: { buildChain(names: readonly string[]): Middleware[] };
  entryPointChains: EntryPointChains;
  tlsOptions: TlsOptionsSet;
  /** for `usedBy` */
  serviceInfos: ReadonlyMap<string, ServiceInfo>;
  middlewareInfos: ReadonlyMap<string, MiddlewareInfo>;
  /** the table's router views, filled in */
  infos: Map<string, RouterInfo>;
  /** the table's element errors, appended to */
  errors: ElementError[];
}

export interface RouterTables {
  /** per entrypoint, the routers served on connections without TLS */
  entryPoints: Map<string, EntryPointRoutes>;
  /** per entrypoint, the routers served on TLS connections (routers with `tls`, or every router of an entrypoint with `http.tls`) */
  tlsEntryPoints: Map<string, EntryPointRoutes>;
  /** the SNI names TLS routers claim, with their option set */
  tlsClaims: HostClaim[];
}

interface EntryPointSlot {
  exact: Map<string, CompiledRoute[]>;
  any: CompiledRoute[];
}

/** A router that passed its checks: what it matches and where. */
interface CheckedRouter {
  rule: ReturnType<typeof buildRule>;
  priority: number;
  entryPoints: string[];
}

export class RouterManager {
  private readonly slots = new Map<string, EntryPointSlot>();
  private readonly tlsSlots = new Map<string, EntryPointSlot>();
  private readonly tlsClaims: HostClaim[] = [];
  private readonly defaults: string[];

  constructor(private readonly opts: RouterManagerOptions) {
    const all = Object.values(opts.entryPoints);
    this.defaults = defaultEntryPoints(all);
    for (const ep of all) {
      this.slots.set(ep.name, { exact: new Map(), any: [] });
      this.tlsSlots.set(ep.name, { exact: new Map(), any: [] });
    }
  }

  /** Builds every router, then the per-entrypoint tables in priority order. */
  build(): RouterTables {
    for (const [name, r] of Object.entries(this.opts.configs)) this.buildRouter(name, r);
    // each list once: findRoute walks a host's list and the any-host list together (issue 11:
    // merging them here cost hosts × catch-alls)
    const sorted = (slots: Map<string, EntryPointSlot>): Map<string, EntryPointRoutes> => {
      const out = new Map<string, EntryPointRoutes>();
      for (const [ep, slot] of slots) {
        for (const list of slot.exact.values()) list.sort(byPriority);
        out.set(ep, { byHost: slot.exact, any: slot.any.sort(byPriority) });
      }
      return out;
    };
    return {
      entryPoints: sorted(this.slots),
      tlsEntryPoints: sorted(this.tlsSlots),
      tlsClaims: this.tlsClaims,
    };
  }

  private buildRouter(name: string, r: RouterConfig): void {
    const info: RouterInfo = {
      name,
      provider: providerOf(name),
      rule: r.rule,
      priority: 0,
      entryPoints: r.entryPoints && r.entryPoints.length > 0 ? r.entryPoints : this.defaults,
      middlewares: r.middlewares ?? [],
      service: r.service,
      status: 'enabled',
      errors: [],
    };
    this.opts.infos.set(name, info);
    try {
      const checked = this.check(r, info);
      if (checked === undefined) return;
      const handler = this.buildHandler(name, r, info);
      if (handler === undefined) return;
      this.attach(name, r, info, checked, handler);
    } catch (err) {
      this.fail(info, `internal error: ${errorMessage(err)}`);
    }
  }

  private fail(info: RouterInfo, message: string, field?: string): void {
    info.status = 'disabled';
    info.errors.push(field ? `${field}: ${message}` : message);
    this.opts.errors.push({
      kind: 'router',
      name: info.name,
      ...(field ? { field } : {}),
      message,
    });
  }

  /** A problem that leaves the router served: recorded, status warning. */
  private warn(info: RouterInfo, ...messages: string[]): void {
    info.errors.push(...messages);
    if (info.status === 'enabled') info.status = 'warning';
  }

  /** Rule syntax, rule, priority and entrypoints; undefined when the router fails. */
  private check(r: RouterConfig, info: RouterInfo): CheckedRouter | undefined {
    if (r.ruleSyntax !== undefined && r.ruleSyntax !== 'v3') {
      this.fail(
        info,
        `ruleSyntax ${r.ruleSyntax} is not supported; only v3 rules are`,
        'ruleSyntax',
      );
      return undefined;
    }
    if (
      r.tls?.certResolver !== undefined &&
      !this.opts.certResolvers.includes(r.tls.certResolver)
    ) {
      // like Traefik: the router serves with the certificates the store has; the resolver error is a warning
      this.warn(info, `the certificate resolver "${r.tls.certResolver}" does not exist`);
    }
    let rule;
    try {
      rule = buildRule(r.rule);
    } catch (err) {
      this.fail(info, `error while parsing rule ${r.rule}: ${errorMessage(err)}`, 'rule');
      return undefined;
    }
    const priority = r.priority !== undefined && r.priority !== 0 ? r.priority : rule.priority;
    if (priority > MAX_USER_PRIORITY && info.provider !== 'internal') {
      this.fail(
        info,
        `the router priority ${priority} exceeds the max user-defined priority ${MAX_USER_PRIORITY}`,
        'priority',
      );
      return undefined;
    }
    info.priority = priority;
    const entryPoints = info.entryPoints.filter((ep) => this.servesOn(ep, info));
    if (entryPoints.length === 0) {
      this.fail(info, 'no valid entryPoint for this router', 'entryPoints');
      return undefined;
    }
    return { rule, priority, entryPoints };
  }

  /** Whether the router can be served on `ep`; a warning when not. */
  private servesOn(ep: string, info: RouterInfo): boolean {
    if (!this.slots.has(ep)) {
      this.warn(info, `entryPoint "${ep}" doesn't exist`);
      return false;
    }
    // as in Traefik, any entrypoint serves TLS routers: it terminates TLS for the connections
    // that start with a ClientHello (src/server/connection.ts)
    return true;
  }

  /** The service wrapped in the router's middlewares; undefined when either fails. */
  private buildHandler(name: string, r: RouterConfig, info: RouterInfo): Handler | undefined {
    let chain: Middleware[];
    try {
      chain = this.opts.middlewares.buildChain(info.middlewares);
    } catch (err) {
      this.fail(info, errorMessage(err), 'middlewares');
      return undefined;
    }
    let service: ServiceRuntime;
    try {
      if (!r.service) throw new Error('the service is missing on the router');
      service = this.opts.services.build(r.service);
    } catch (err) {
      this.fail(info, errorMessage(err), 'service');
      return undefined;
    }
    this.opts.serviceInfos.get(r.service)?.usedBy.push(name);
    for (const m of info.middlewares) this.opts.middlewareInfos.get(m)?.usedBy.push(name);
    return wrap(service.handle, chain);
  }

  /**
   * Files the router under each entrypoint it passed the checks for, wrapped in that
   * entrypoint's middlewares, and records the SNI names it claims for TLS options.
   */
  private attach(
    name: string,
    r: RouterConfig,
    info: RouterInfo,
    { rule, priority, entryPoints }: CheckedRouter,
    handler: Handler,
  ): void {
    const optionProblems: string[] = [];
    let served = 0;
    for (const ep of entryPoints) {
      const epErr = this.opts.entryPointChains.errors.get(ep);
      if (epErr !== undefined) {
        this.warn(info, `entryPoint "${ep}": ${epErr}`);
        continue;
      }
      const epTls = this.opts.entryPoints[ep]?.http.tls;
      if (r.tls !== undefined || epTls !== undefined) {
        // a router's own tls is kept whole (Traefik's model applies only to routers without one)
        const optName = tlsOptionsName(
          r.tls !== undefined ? r.tls.options : undefined,
          r.tls !== undefined ? undefined : epTls?.options,
          info.provider,
        );
        const problem = tlsOptionsProblem(this.opts.tlsOptions, optName);
        if (problem !== undefined) {
          // fail closed: options may require client certificates, never serve without them
          optionProblems.push(`entryPoint "${ep}": ${problem}`);
          continue;
        }
        if (rule.hosts !== null)
          this.tlsClaims.push({
            entryPoint: ep,
            router: name,
            hosts: rule.hosts,
            options: optName,
          });
        else if (optName !== DEFAULT_TLS_OPTIONS)
          this.warn(
            info,
            `no domain found in rule ${r.rule}: the TLS options "${optName}" apply only to SNI names other routers claim; handshakes for other names use the default options`,
          );
      }
      served++;
      const h = wrap(handler, this.opts.entryPointChains.chains.get(ep) ?? []);
      const slots = r.tls !== undefined || epTls !== undefined ? this.tlsSlots : this.slots;
      this.file(slots.get(ep)!, rule.hosts, { name, priority, matcher: rule.matcher, handler: h });
    }
    if (optionProblems.length > 0) {
      if (served === 0) this.fail(info, optionProblems.join('; '), 'tls.options');
      else this.warn(info, ...optionProblems);
    }
  }

  /** Under each exact host the rule pins, or with the any-host routers. */
  private file(slot: EntryPointSlot, hosts: readonly string[] | null, route: CompiledRoute): void {
    if (hosts === null) slot.any.push(route);
    else
      for (const host of hosts) {
        let list = slot.exact.get(host);
        if (list === undefined) slot.exact.set(host, (list = []));
        list.push(route);
      }
  }
}

/** `handler` wrapped in `chain`, the first middleware outermost. */
function wrap(handler: Handler, chain: readonly Middleware[]): Handler {
  let h = handler;
  for (let i = chain.length - 1; i >= 0; i--) h = chain[i]!(h);
  return h;
}
