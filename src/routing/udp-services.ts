/*
 * The UDP service manager (Traefik's pkg/server/service/udp/service.go):
 * builds a `udp.services` entry the first time a router or a parent service
 * asks for it, remembers the result or the failure, and detects services
 * that refer back to themselves. A failure is recorded on the service
 * (status disabled + reason) once; every caller gets the same error.
 */
import type { Logger } from 'pino';
import type { ElementError, UdpServiceConfig } from '../config/dynamic.js';
import type { ServiceInfo } from '../table/table.js';
import { parseUdpAddress, udpLoadBalancer, udpProxy, udpWeighted } from '../udp/service.js';
import type { UdpHandler } from '../udp/types.js';
import {
  BuildOnce,
  buildEach,
  disableElement,
  elementView,
  type ElementView,
} from './element-views.js';

type LoadBalancerConfig = NonNullable<UdpServiceConfig['loadBalancer']>;
type WeightedConfig = NonNullable<UdpServiceConfig['weighted']>;

export interface UdpServiceManagerOptions {
  configs: Record<string, UdpServiceConfig>;
  logger: Logger;
  /** the table's UDP service views, filled in as services are built */
  infos: Map<string, ServiceInfo>;
  /** the table's element errors, appended to */
  errors: ElementError[];
}

export class UdpServiceManager {
  private readonly once = new BuildOnce<UdpHandler>('udp service');

  constructor(private readonly opts: UdpServiceManagerOptions) {}

  /** The handler of `name`, built once; throws (a CycleError for loops) when it cannot be built. */
  build(name: string): UdpHandler {
    const c: UdpServiceConfig | undefined = this.opts.configs[name];
    if (c === undefined) throw new Error(`the udp service "${name}" does not exist`);
    let info: ElementView | undefined;
    return this.once.get(
      name,
      () => {
        info = elementView(this.opts.infos, name, c.loadBalancer ? 'loadbalancer' : 'weighted');
        return c.loadBalancer !== undefined
          ? this.loadBalancer(name, c.loadBalancer, info)
          : this.weighted(name, c.weighted);
      },
      (e) =>
        disableElement(info!, this.opts.errors, { kind: 'udpService', name, message: e.message }),
    );
  }

  /** Builds the services nobody uses too, so that their errors show. */
  buildAll(): void {
    buildEach(Object.keys(this.opts.configs), (name) => this.build(name));
  }

  private loadBalancer(name: string, lb: LoadBalancerConfig, info: ElementView): UdpHandler {
    const servers: UdpHandler[] = [];
    (lb.servers ?? []).forEach((s, i) => {
      const target = parseUdpAddress(s.address);
      if (target === undefined) {
        // Traefik logs the server and leaves it out; the service serves with the others
        const field = `loadBalancer.servers[${i}].address`;
        const message = `${JSON.stringify(s.address)} is not host:port (a port from 1 to 65535; [brackets] around ipv6)`;
        info.errors.push(`${field}: ${message}`);
        if (info.status === 'enabled') info.status = 'warning';
        this.opts.errors.push({ kind: 'udpService', name, field, message });
        return;
      }
      servers.push(udpProxy(target, this.opts.logger, name));
    });
    return udpLoadBalancer(servers);
  }

  private weighted(name: string, w: WeightedConfig | undefined): UdpHandler {
    const refs = w?.services ?? [];
    const children = refs.map((ref) => ({
      handler: this.build(ref.name),
      weight: ref.weight ?? 1,
    }));
    for (const ref of refs) this.opts.infos.get(ref.name)?.usedBy.push(name);
    return udpWeighted(children);
  }
}
