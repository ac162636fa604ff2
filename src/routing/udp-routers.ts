/*
 * The UDP router manager (Traefik's pkg/server/router/udp/router.go): each
 * `udp.routers` entry → its service, observed, offered to every UDP
 * entrypoint it names. UDP routers have no rule, so an entrypoint has one
 * router: with several, Traefik takes the first that builds in descending
 * name order and logs a warning; Portico does the same and puts the warning
 * on the routers left out.
 */
import type { ElementError, UdpRouterConfig } from '../config/dynamic.js';
import type { EntryPointConfig } from '../config/static-types.js';
import type { StreamSinks } from '../observability/observe-tcp.js';
import { observeUdp } from '../observability/observe-udp.js';
import type { RouterInfo, ServiceInfo } from '../table/table.js';
import type { UdpHandler, UdpRoute } from '../udp/types.js';
import { errorMessage, providerOf } from './elements.js';
import type { UdpServiceManager } from './udp-services.js';

export interface UdpRouterManagerOptions {
  entryPoints: Record<string, EntryPointConfig>;
  services: UdpServiceManager;
  /** metrics and access log of sessions; undefined: neither is on */
  streams: StreamSinks | undefined;
  /** the table's router views, filled in; the service views, marked used */
  infos: Map<string, RouterInfo>;
  serviceInfos: Map<string, ServiceInfo>;
  /** the table's element errors, appended to */
  errors: ElementError[];
}

export class UdpRouterManager {
  /** the routers that built, per UDP entrypoint, in configuration order */
  private readonly candidates = new Map<string, { name: string; handler: UdpHandler }[]>();
  private readonly udpEntryPoints: string[];

  constructor(private readonly opts: UdpRouterManagerOptions) {
    this.udpEntryPoints = Object.values(opts.entryPoints)
      .filter((ep) => ep.udp !== undefined)
      .map((ep) => ep.name);
  }

  /** Builds every router, then the one route of each UDP entrypoint. */
  buildAll(routers: Record<string, UdpRouterConfig>): Map<string, UdpRoute> {
    for (const [name, r] of Object.entries(routers)) this.build(name, r);
    return this.choose();
  }

  /** Builds one router and offers it to its entrypoints; a failure is recorded on the router. */
  private build(name: string, r: UdpRouterConfig): void {
    const info: RouterInfo = {
      name,
      provider: providerOf(name),
      rule: '',
      priority: 0,
      // Traefik: a udp router without entryPoints listens on every udp entrypoint
      entryPoints: r.entryPoints && r.entryPoints.length > 0 ? r.entryPoints : this.udpEntryPoints,
      middlewares: [],
      service: r.service,
      status: 'enabled',
      errors: [],
    };
    this.opts.infos.set(name, info);
    const eps = this.knownEntryPoints(info);
    if (eps.length === 0) {
      this.fail(info, 'entryPoints', 'no valid entryPoint for this router');
      return;
    }
    let handler: UdpHandler;
    try {
      handler = this.opts.services.build(r.service);
      this.opts.serviceInfos.get(r.service)?.usedBy.push(name);
    } catch (err) {
      this.fail(info, 'service', errorMessage(err));
      return;
    }
    for (const ep of eps) {
      const list = this.candidates.get(ep) ?? [];
      list.push({
        name,
        handler: observeUdp(handler, { router: name, service: r.service }, this.opts.streams),
      });
      this.candidates.set(ep, list);
    }
  }

  /** The router's entrypoints that are UDP ones; the others are warnings on the router. */
  private knownEntryPoints(info: RouterInfo): string[] {
    return info.entryPoints.filter((ep) => {
      const known = this.opts.entryPoints[ep];
      if (known?.udp !== undefined) return true;
      info.errors.push(
        known === undefined
          ? `entryPoint "${ep}" doesn't exist`
          : `entryPoint "${ep}" is not a udp entrypoint (its address has no /udp)`,
      );
      info.status = 'warning';
      return false;
    });
  }

  private fail(info: RouterInfo, field: string, message: string): void {
    info.status = 'disabled';
    info.errors.push(`${field}: ${message}`);
    this.opts.errors.push({ kind: 'udpRouter', name: info.name, field, message });
  }

  /** One router per entrypoint; the others get a warning naming the one chosen. */
  private choose(): Map<string, UdpRoute> {
    const chosenRoutes = new Map<string, UdpRoute>();
    for (const [ep, list] of this.candidates) {
      // Traefik sorts the names in descending order and takes the first router that built
      list.sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
      const chosen = list[0]!;
      chosenRoutes.set(ep, { router: chosen.name, handler: chosen.handler });
      for (const other of list.slice(1)) {
        const info = this.opts.infos.get(other.name)!;
        info.errors.push(
          `entryPoint "${ep}": router "${chosen.name}" takes its datagrams (one udp router per entrypoint)`,
        );
        if (info.status === 'enabled') info.status = 'warning';
      }
    }
    return chosenRoutes;
  }
}
