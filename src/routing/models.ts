/*
 * Entrypoint TLS as Traefik applies it (pkg/server/aggregator.go applyModel):
 * `entryPoints.<n>.http.tls` is a model for the routers on that entrypoint.
 * A router without `tls` gets the entrypoint's (options, certResolver,
 * domains), so it becomes an HTTPS router there and its Host names, or the
 * entrypoint's domains when set, are ordered from that resolver (the ACME
 * manager orders tls.domains before Host names); a router with its own `tls`
 * keeps it whole. A router listed on
 * several entrypoints is split per entrypoint with a model, named
 * `<entrypoint>-<name>` as in Traefik, and keeps its name on the others.
 *
 * Applied to the merged configuration before it is compiled and before the
 * ACME manager reads it, so both see the same routers.
 */
import type { DynamicConfig, RouterConfig } from '../config/dynamic.js';
import type { EntryPointConfig } from '../config/static-types.js';
import { defaultEntryPoints } from './router-manager.js';

export function applyEntryPointTls(
  config: DynamicConfig,
  entryPoints: Record<string, EntryPointConfig>,
): DynamicConfig {
  const all = Object.values(entryPoints);
  const routers = config.http?.routers;
  if (routers === undefined || !all.some((e) => e.http.tls !== undefined)) return config;
  const defaults = defaultEntryPoints(all);
  const out: Record<string, RouterConfig> = {};
  for (const [name, r] of Object.entries(routers)) {
    const eps = r.entryPoints && r.entryPoints.length > 0 ? r.entryPoints : defaults;
    const rest: string[] = [];
    for (const ep of eps) {
      const model = entryPoints[ep]?.http.tls;
      if (model === undefined) {
        rest.push(ep);
        continue;
      }
      const tls =
        r.tls ??
        ({
          ...(model.options !== undefined ? { options: model.options } : {}),
          ...(model.certResolver !== undefined ? { certResolver: model.certResolver } : {}),
          // a copy per router: the static configuration is shared by every table built from it
          ...(model.domains !== undefined
            ? { domains: model.domains.map((d) => ({ main: d.main, sans: [...d.sans] })) }
            : {}),
        } as NonNullable<RouterConfig['tls']>);
      out[eps.length > 1 ? `${ep}-${name}` : name] = { ...r, entryPoints: [ep], tls };
    }
    if (rest.length > 0) out[name] = { ...r, entryPoints: rest };
  }
  return { ...config, http: { ...config.http, routers: out } };
}
