/*
 * The UDP side of compile (Traefik's pkg/server/router/udp/router.go and
 * pkg/server/service/udp/service.go): services and routers of `udp.*` → the
 * one router serving each UDP entrypoint. Like the other managers it never
 * throws for a bad element: the element is recorded (status + reason, naming
 * the field) and the others are built. The services are udp-services.ts's
 * job, the routers (and the one-router-per-entrypoint choice) udp-routers.ts's.
 */
import type { Logger } from 'pino';
import type { ElementError, UdpConfig } from '../config/dynamic.js';
import type { EntryPointConfig } from '../config/static-types.js';
import type { RouterInfo, ServiceInfo } from '../table/table.js';
import type { UdpRoute } from '../udp/types.js';
import type { StreamSinks } from '../observability/observe-tcp.js';
import { UdpRouterManager } from './udp-routers.js';
import { UdpServiceManager } from './udp-services.js';

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
  const { errors } = opts;
  const routers = new Map<string, RouterInfo>();
  const serviceInfos = new Map<string, ServiceInfo>();
  const cfg = config ?? {};
  const services = new UdpServiceManager({
    configs: cfg.services ?? {},
    logger: opts.logger,
    infos: serviceInfos,
    errors,
  });
  const entryPoints = new UdpRouterManager({
    entryPoints: opts.entryPoints,
    services,
    streams: opts.streams,
    infos: routers,
    serviceInfos,
    errors,
  }).buildAll(cfg.routers ?? {});
  // services nobody uses are still built, so that their errors show
  services.buildAll();
  return { entryPoints, routers, services: serviceInfos };
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
