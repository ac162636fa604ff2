/*
 * The UDP side of compile (Traefik's pkg/server/router/udp/router.go and
 * pkg/server/service/udp/service.go): services and routers of `udp.*` → the
 * one router serving each UDP entrypoint. Like the other managers it never
 * throws for a bad element: the element is recorded (status + reason, naming
 * the field) and the others are built.
 *
 * UDP routers have no rule, so an entrypoint has one router: with several,
 * Traefik takes the first that builds in descending name order and logs a
 * warning; Portico does the same and puts the warning on the routers left out.
 */
import type { Logger } from 'pino';
import type { ElementError, UdpConfig, UdpServiceConfig } from '../config/dynamic.js';
import type { EntryPointConfig } from '../config/static-types.js';
import type { RouterInfo, ServiceInfo } from '../table/table.js';
import { parseUdpAddress, udpLoadBalancer, udpProxy, udpWeighted } from '../udp/service.js';
import type { UdpHandler, UdpRoute } from '../udp/types.js';
import { observeUdp } from '../observability/observe-udp.js';
import type { StreamSinks } from '../observability/observe-tcp.js';
import { CycleError, errorMessage, providerOf } from './elements.js';

export interface UdpTables {
  /** the router serving each UDP entrypoint (entrypoints without one are absent) */
  entryPoints: Map<string, UdpRoute>;
  routers: Map<string, RouterInfo>;
  services: Map<string, ServiceInfo>;
}

/** `udp.*` → the route of each UDP entrypoint, and the views for the API. */
export function buildUdp(
  config: UdpConfig | undefined,
  opts: {
    entryPoints: Record<string, EntryPointConfig>;
    logger: Logger;
    errors: ElementError[];
    /** metrics and access log of sessions (src/observability/observe-udp.ts); undefined: neither is on */
    streams?: StreamSinks | undefined;
  },
): UdpTables {
  const { logger: log, errors } = opts;
  const out: UdpTables = { entryPoints: new Map(), routers: new Map(), services: new Map() };
  const cfg = config ?? {};
  const udpEntryPoints = Object.values(opts.entryPoints)
    .filter((ep) => ep.udp !== undefined)
    .map((ep) => ep.name);

  // --- services
  const serviceConfigs = cfg.services ?? {};
  const built = new Map<string, UdpHandler | Error>();
  const building = new Set<string>();
  const buildService = (name: string): UdpHandler => {
    const done = built.get(name);
    if (done instanceof Error) throw done;
    if (done !== undefined) return done;
    const c: UdpServiceConfig | undefined = serviceConfigs[name];
    if (c === undefined) throw new Error(`the udp service "${name}" does not exist`);
    if (building.has(name)) throw new CycleError(`cycle through udp service "${name}"`);
    building.add(name);
    const info: ServiceInfo = {
      name,
      provider: providerOf(name),
      type: c.loadBalancer ? 'loadbalancer' : 'weighted',
      status: 'enabled',
      errors: [],
      usedBy: [],
    };
    out.services.set(name, info);
    try {
      let handler: UdpHandler;
      if (c.loadBalancer !== undefined) {
        const servers: UdpHandler[] = [];
        (c.loadBalancer.servers ?? []).forEach((s, i) => {
          const target = parseUdpAddress(s.address);
          if (target === undefined) {
            // Traefik logs the server and leaves it out; the service serves with the others
            const message = `${JSON.stringify(s.address)} is not host:port (a port from 1 to 65535; [brackets] around ipv6)`;
            info.errors.push(`loadBalancer.servers[${i}].address: ${message}`);
            if (info.status === 'enabled') info.status = 'warning';
            errors.push({
              kind: 'udpService',
              name,
              field: `loadBalancer.servers[${i}].address`,
              message,
            });
            return;
          }
          servers.push(udpProxy(target, log, name));
        });
        handler = udpLoadBalancer(servers);
      } else {
        const refs = c.weighted?.services ?? [];
        const children = refs.map((ref) => ({
          handler: buildService(ref.name),
          weight: ref.weight ?? 1,
        }));
        for (const ref of refs) out.services.get(ref.name)?.usedBy.push(name);
        handler = udpWeighted(children);
      }
      built.set(name, handler);
      return handler;
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      built.set(name, e);
      info.status = 'disabled';
      info.errors.push(e.message);
      errors.push({ kind: 'udpService', name, message: e.message });
      throw e;
    } finally {
      building.delete(name);
    }
  };

  // --- routers
  const candidates = new Map<string, { name: string; handler: UdpHandler }[]>();
  for (const [name, r] of Object.entries(cfg.routers ?? {})) {
    const info: RouterInfo = {
      name,
      provider: providerOf(name),
      rule: '',
      priority: 0,
      // Traefik: a udp router without entryPoints listens on every udp entrypoint
      entryPoints: r.entryPoints && r.entryPoints.length > 0 ? r.entryPoints : udpEntryPoints,
      middlewares: [],
      service: r.service,
      status: 'enabled',
      errors: [],
    };
    out.routers.set(name, info);
    const routerFail = (field: string, message: string): void => {
      info.status = 'disabled';
      info.errors.push(`${field}: ${message}`);
      errors.push({ kind: 'udpRouter', name, field, message });
    };
    const eps = info.entryPoints.filter((ep) => {
      const known = opts.entryPoints[ep];
      if (known?.udp !== undefined) return true;
      info.errors.push(
        known === undefined
          ? `entryPoint "${ep}" doesn't exist`
          : `entryPoint "${ep}" is not a udp entrypoint (its address has no /udp)`,
      );
      info.status = 'warning';
      return false;
    });
    if (eps.length === 0) {
      routerFail('entryPoints', 'no valid entryPoint for this router');
      continue;
    }
    let handler: UdpHandler;
    try {
      handler = buildService(r.service);
      out.services.get(r.service)?.usedBy.push(name);
    } catch (err) {
      routerFail('service', errorMessage(err));
      continue;
    }
    for (const ep of eps) {
      const list = candidates.get(ep) ?? [];
      list.push({
        name,
        handler: observeUdp(handler, { router: name, service: r.service }, opts.streams),
      });
      candidates.set(ep, list);
    }
  }
  for (const [ep, list] of candidates) {
    // Traefik sorts the names in descending order and takes the first router that built
    list.sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
    const chosen = list[0]!;
    out.entryPoints.set(ep, { router: chosen.name, handler: chosen.handler });
    for (const other of list.slice(1)) {
      const info = out.routers.get(other.name)!;
      info.errors.push(
        `entryPoint "${ep}": router "${chosen.name}" takes its datagrams (one udp router per entrypoint)`,
      );
      if (info.status === 'enabled') info.status = 'warning';
    }
  }
  // services nobody uses are still built, so that their errors show
  for (const name of Object.keys(serviceConfigs)) {
    try {
      buildService(name);
    } catch {
      // recorded on the service
    }
  }
  return out;
}

/** The entrypoints HTTP and TCP routers may use: every one but the UDP ones. */
export function tcpEntryPoints(
  entryPoints: Record<string, EntryPointConfig>,
): Record<string, EntryPointConfig> {
  const out: Record<string, EntryPointConfig> = {};
  for (const [name, ep] of Object.entries(entryPoints)) if (ep.udp === undefined) out[name] = ep;
  return out;
}

/**
 * HTTP and TCP routers were built without the UDP entrypoints, so one naming a UDP entrypoint
 * was told it "doesn't exist" (Traefik's words, as its router managers only know the TCP
 * entrypoints); say what it is instead, on the router and on its entryPoints error.
 */
export function explainUdpEntryPoints(
  entryPoints: Record<string, EntryPointConfig>,
  routers: Iterable<RouterInfo>,
  kind: 'router' | 'tcpRouter',
  errors: ElementError[],
): void {
  for (const info of routers) {
    const udp = info.entryPoints.filter((ep) => entryPoints[ep]?.udp !== undefined);
    if (udp.length === 0) continue;
    const what = kind === 'router' ? 'http' : 'tcp';
    for (const ep of udp) {
      const text = `entryPoint "${ep}" is a udp entrypoint; ${what} routers cannot use it`;
      const at = info.errors.indexOf(`entryPoint "${ep}" doesn't exist`);
      if (at >= 0) info.errors[at] = text;
      else info.errors.push(text);
    }
    const e = errors.find(
      (x) => x.kind === kind && x.name === info.name && x.field === 'entryPoints',
    );
    if (e !== undefined) e.message = `${e.message} (${udp.map((ep) => `"${ep}"`).join(', ')}: udp)`;
  }
}
