/*
 * The TCP service manager (Traefik's pkg/server/service/tcp/service.go):
 * builds a `tcp.services` entry the first time a router or a parent service
 * asks for it, remembers the result or the failure, and detects services
 * that refer back to themselves. A failure is recorded on the service
 * (status disabled + reason) once; every caller gets the same error.
 */
import type { Logger } from 'pino';
import type {
  ElementError,
  TcpServersTransportConfig,
  TcpServiceConfig,
} from '../config/dynamic.js';
import { stableKey } from '../config/objects.js';
import type { StateRegistry } from '../kernel/state.js';
import type { ServiceInfo } from '../table/table.js';
import {
  createTcpHealthChecker,
  type TcpHealthChecker,
  type TcpHealthTarget,
} from '../tcp/health.js';
import { tcpLoadBalancer, tcpWeighted } from '../tcp/service.js';
import type { TcpServiceRuntime } from '../tcp/types.js';
import {
  BuildOnce,
  buildEach,
  disableElement,
  elementView,
  type ElementView,
} from './element-views.js';
import type { TcpTransportSet } from './tcp-transports.js';

type LoadBalancerConfig = NonNullable<TcpServiceConfig['loadBalancer']>;
type WeightedConfig = NonNullable<TcpServiceConfig['weighted']>;

export interface TcpServiceManagerOptions {
  configs: Record<string, TcpServiceConfig>;
  /** the configured servers transports, as written: part of a health checker's key */
  transportConfigs: Record<string, TcpServersTransportConfig> | undefined;
  transports: TcpTransportSet;
  /** health checkers live here, so that a reload leaving a service as it was keeps them */
  state: StateRegistry;
  logger: Logger;
  /** the table's TCP service views, filled in as services are built */
  infos: Map<string, ServiceInfo>;
  /** the services built, by name: health and serverStatus for the API */
  runtimes: Map<string, TcpServiceRuntime>;
  /** the table's element errors, appended to */
  errors: ElementError[];
}

export class TcpServiceManager {
  private readonly once = new BuildOnce<TcpServiceRuntime>('service');

  constructor(private readonly opts: TcpServiceManagerOptions) {}

  /** The runtime of `name`, built once; throws (a CycleError for loops) when it cannot be built. */
  build(name: string): TcpServiceRuntime {
    const c: TcpServiceConfig | undefined = this.opts.configs[name];
    if (c === undefined) throw new Error(`the service "${name}" does not exist`);
    let info: ElementView | undefined;
    return this.once.get(
      name,
      () => {
        info = elementView(this.opts.infos, name, c.loadBalancer ? 'loadbalancer' : 'weighted');
        const runtime =
          c.loadBalancer !== undefined
            ? this.loadBalancer(name, c.loadBalancer)
            : this.weighted(name, c.weighted);
        this.opts.runtimes.set(name, runtime);
        return runtime;
      },
      (e) =>
        disableElement(info!, this.opts.errors, { kind: 'tcpService', name, message: e.message }),
    );
  }

  /** Builds the services nobody uses too, so that their errors show. */
  buildAll(): void {
    buildEach(Object.keys(this.opts.configs), (name) => this.build(name));
  }

  private loadBalancer(name: string, lb: LoadBalancerConfig): TcpServiceRuntime {
    const transport = this.opts.transports.resolve(lb.serversTransport);
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
    const health = this.healthChecker(name, lb, servers);
    const isUp = (address: string): boolean => health?.isUp(address) ?? true;
    return {
      handler: tcpLoadBalancer(servers, this.opts.logger, name, isUp),
      checked: health !== undefined,
      isUp: () => servers.some((s) => isUp(s.address)),
      serverStatus: () => {
        const status: Record<string, 'UP' | 'DOWN'> = {};
        for (const s of servers) status[s.address] = isUp(s.address) ? 'UP' : 'DOWN';
        return status;
      },
    };
  }

  /** The service's health checker (none without healthCheck), kept across reloads. */
  private healthChecker(
    name: string,
    lb: LoadBalancerConfig,
    servers: readonly TcpHealthTarget[],
  ): TcpHealthChecker | undefined {
    const hc = lb.healthCheck;
    if (hc === undefined) return undefined;
    const { state, logger, transportConfigs } = this.opts;
    // the key holds everything that shapes the probes: a reload that changes none of it
    // keeps the checker and what it knows (as the HTTP checkers, src/services/load-balancer.ts)
    const key = stableKey({
      servers: lb.servers,
      hc,
      transport: lb.serversTransport === undefined ? null : transportConfigs?.[lb.serversTransport],
    });
    return state.acquire(
      `tcp-health:${name}:${key}`,
      () => {
        const checker = createTcpHealthChecker({ service: name, servers, config: hc, logger });
        checker.start();
        return checker;
      },
      (checker) => checker.close(),
    );
  }

  private weighted(name: string, w: WeightedConfig | undefined): TcpServiceRuntime {
    const refs = w?.services ?? [];
    const checked = w?.healthCheck !== undefined;
    const children = refs.map((ref) => {
      const child = this.build(ref.name);
      // Traefik: a parent with healthCheck needs it on every child (RegisterStatusUpdater)
      if (checked && !child.checked)
        throw new Error(
          `healthCheck is set but the child service "${ref.name}" has no healthCheck`,
        );
      return { handler: child.handler, weight: ref.weight ?? 1, isUp: child.isUp };
    });
    for (const ref of refs) this.opts.infos.get(ref.name)?.usedBy.push(name);
    return {
      handler: tcpWeighted(children, checked),
      checked,
      isUp: () => children.some((ch) => ch.weight > 0 && ch.isUp()),
      serverStatus: () => ({}),
    };
  }
}
