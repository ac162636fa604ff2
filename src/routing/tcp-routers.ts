/*
 * The TCP router manager (Traefik's pkg/server/router/tcp/manager.go): each
 * `tcp.routers` entry → its rule, its handler (service wrapped in its
 * middlewares, observed), and a route on every entrypoint it names, plain or
 * TLS (passthrough or terminated). A router that cannot be built is recorded
 * (status disabled + reason, naming the field) and left out of the routes.
 */
import type { ElementError, TcpRouterConfig } from '../config/dynamic.js';
import { observeTcp, type StreamSinks } from '../observability/observe-tcp.js';
import { buildTcpRule, tcpRuleProblem, type BuiltTcpRule } from '../rules/tcp.js';
import type { MiddlewareInfo, RouterInfo, ServiceInfo } from '../table/table.js';
import { byTcpPriority, type TcpEntryPointRoutes, type TcpHandler } from '../tcp/types.js';
import type { TlsOptionsSet } from '../tls/options.js';
import type { HostClaim } from '../tls/selection.js';
import { errorMessage, providerOf } from './elements.js';
import { tlsOptionsName, tlsOptionsProblem } from './router-manager.js';
import type { TcpMiddlewareBuilder } from './tcp-middlewares.js';
import type { TcpServiceManager } from './tcp-services.js';

export interface TcpRouterManagerOptions {
  /** the routes of every (non-UDP) entrypoint, filled in as routers are built */
  entryPoints: Map<string, TcpEntryPointRoutes>;
  /** the entrypoints of a router that names none */
  defaultEntryPoints: string[];
  tlsOptions: TlsOptionsSet;
  services: TcpServiceManager;
  middlewares: TcpMiddlewareBuilder;
  /** metrics and access log of connections; undefined: neither is on */
  streams: StreamSinks | undefined;
  /** the table's views, filled in (routers) or marked used (services, middlewares) */
  infos: Map<string, RouterInfo>;
  serviceInfos: Map<string, ServiceInfo>;
  middlewareInfos: Map<string, MiddlewareInfo>;
  /** SNI names TLS-terminating routers claim, appended to */
  tlsClaims: HostClaim[];
  /** the table's element errors, appended to */
  errors: ElementError[];
}

/** How a router answers TLS: undefined for a plain TCP router. */
interface RouterTls {
  mode: 'passthrough' | 'terminate';
  options: string;
}

/** A router's failure: the field at fault and why. */
class RouterFailure extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export class TcpRouterManager {
  constructor(private readonly opts: TcpRouterManagerOptions) {}

  /** Builds every router, then orders each entrypoint's routes by priority. */
  buildAll(routers: Record<string, TcpRouterConfig>): void {
    for (const [name, r] of Object.entries(routers)) this.build(name, r);
    for (const routes of this.opts.entryPoints.values()) {
      routes.plain.sort(byTcpPriority);
      routes.tls.sort(byTcpPriority);
    }
  }

  /** Builds one router and adds its routes; a failure is recorded on the router. */
  build(name: string, r: TcpRouterConfig): void {
    const info: RouterInfo = {
      name,
      provider: providerOf(name),
      rule: r.rule,
      priority: 0,
      entryPoints:
        r.entryPoints && r.entryPoints.length > 0 ? r.entryPoints : this.opts.defaultEntryPoints,
      middlewares: r.middlewares ?? [],
      service: r.service,
      status: 'enabled',
      errors: [],
    };
    this.opts.infos.set(name, info);
    try {
      const rule = this.rule(r);
      info.priority = r.priority !== undefined && r.priority !== 0 ? r.priority : rule.priority;
      const inner = this.handler(info);
      const tls = this.tls(r, info.provider);
      const handler = observeTcp(
        inner,
        { router: name, service: r.service, tlsMode: tls?.mode },
        this.opts.streams,
      );
      this.place(info, rule, tls, handler);
    } catch (err) {
      if (!(err instanceof RouterFailure)) throw err;
      this.fail(info, err.field, err.message);
    }
  }

  private fail(info: RouterInfo, field: string, message: string): void {
    info.status = 'disabled';
    info.errors.push(`${field}: ${message}`);
    this.opts.errors.push({ kind: 'tcpRouter', name: info.name, field, message });
  }

  /** The parsed rule, refused when it cannot serve this router (e.g. HostSNI without tls). */
  private rule(r: TcpRouterConfig): BuiltTcpRule {
    let rule: BuiltTcpRule;
    try {
      rule = buildTcpRule(r.rule);
    } catch (err) {
      throw new RouterFailure('rule', `error while parsing rule ${r.rule}: ${errorMessage(err)}`);
    }
    const problem = tcpRuleProblem(rule, r.tls !== undefined);
    if (problem !== undefined) throw new RouterFailure('rule', problem);
    return rule;
  }

  /** The router's service wrapped in its middlewares (the first one outermost). */
  private handler(info: RouterInfo): TcpHandler {
    let handler: TcpHandler;
    try {
      handler = this.opts.services.build(info.service).handler;
      this.opts.serviceInfos.get(info.service)?.usedBy.push(info.name);
    } catch (err) {
      throw new RouterFailure('service', errorMessage(err));
    }
    try {
      const chain = info.middlewares.map((m) => {
        const built = this.opts.middlewares.build(m);
        this.opts.middlewareInfos.get(m)?.usedBy.push(info.name);
        return built;
      });
      for (let i = chain.length - 1; i >= 0; i--) handler = chain[i]!(handler);
    } catch (err) {
      throw new RouterFailure('middlewares', errorMessage(err));
    }
    return handler;
  }

  /** The router's TLS mode and options name; the options must exist when Portico terminates. */
  private tls(r: TcpRouterConfig, provider: string): RouterTls | undefined {
    if (r.tls === undefined) return undefined;
    const passthrough = r.tls.passthrough === true;
    const options = tlsOptionsName(r.tls.options, undefined, provider);
    if (!passthrough) {
      const problem = tlsOptionsProblem(this.opts.tlsOptions, options);
      if (problem !== undefined) throw new RouterFailure('tls.options', problem);
    }
    return { mode: passthrough ? 'passthrough' : 'terminate', options };
  }

  /** Adds the router's route to each entrypoint it names; unknown ones are warnings. */
  private place(
    info: RouterInfo,
    rule: BuiltTcpRule,
    tls: RouterTls | undefined,
    handler: TcpHandler,
  ): void {
    let served = 0;
    for (const ep of info.entryPoints) {
      const routes = this.opts.entryPoints.get(ep);
      if (routes === undefined) {
        info.errors.push(`entryPoint "${ep}" doesn't exist`);
        if (info.status === 'enabled') info.status = 'warning';
        continue;
      }
      served++;
      const route = {
        name: info.name,
        priority: info.priority,
        rule,
        tls: tls === undefined ? undefined : { mode: tls.mode, options: tls.options },
        handler,
      };
      (tls !== undefined ? routes.tls : routes.plain).push(route);
      if (tls?.mode === 'terminate' && rule.hosts !== null)
        this.opts.tlsClaims.push({
          entryPoint: ep,
          router: info.name,
          hosts: rule.hosts,
          options: tls.options,
        });
    }
    if (served === 0) this.fail(info, 'entryPoints', 'no valid entryPoint for this router');
  }
}
