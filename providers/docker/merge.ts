/*
 * Merging per-container contributions into one configuration, as Traefik's
 * pkg/provider/configuration.go does: an element defined alike by several
 * containers (replicas of one compose service) is kept once, a service's
 * servers are the union of theirs, and an element they define differently is
 * left out with an error naming the containers.
 */
import type {
  DynamicConfig,
  ElementError,
  MiddlewareConfig,
  RouterConfig,
  ServiceConfig,
} from '../../src/config/dynamic.js';
import { stableKey } from '../../src/config/objects.js';
import { PROVIDER } from './model.js';

/** What one container adds to the configuration, before merging. */
export interface Contribution {
  container: string;
  routers: Record<string, RouterConfig>;
  services: Record<string, ServiceConfig>;
  middlewares: Record<string, MiddlewareConfig>;
}

export function merge(
  contributions: readonly Contribution[],
  errors: ElementError[],
): DynamicConfig {
  const http = {
    routers: {} as Record<string, RouterConfig>,
    services: {} as Record<string, ServiceConfig>,
    middlewares: {} as Record<string, MiddlewareConfig>,
  };
  const kinds = [
    ['routers', 'router'],
    ['services', 'service'],
    ['middlewares', 'middleware'],
  ] as const;
  for (const [section, kind] of kinds) {
    const origins = new Map<string, { container: string; fingerprint: string }[]>();
    const conflicted = new Set<string>();
    for (const contribution of contributions) {
      for (const [name, value] of Object.entries(contribution[section])) {
        const fingerprint = stableKey(withoutServers(kind, value));
        const seen = origins.get(name);
        if (!seen) {
          origins.set(name, [{ container: contribution.container, fingerprint }]);
          (http[section] as Record<string, unknown>)[name] = structuredClone(value);
          continue;
        }
        seen.push({ container: contribution.container, fingerprint });
        if (seen[0]!.fingerprint !== fingerprint) {
          conflicted.add(name);
          continue;
        }
        if (kind === 'service') addServers(http.services[name]!, value as ServiceConfig);
      }
    }
    for (const name of conflicted) {
      delete (http[section] as Record<string, unknown>)[name];
      const first = origins.get(name)![0]!;
      const differing = origins
        .get(name)!
        .filter((o) => o.fingerprint !== first.fingerprint)
        .map((o) => `"${o.container}"`);
      const agreeing = origins
        .get(name)!
        .filter((o) => o.fingerprint === first.fingerprint)
        .map((o) => `"${o.container}"`);
      errors.push({
        kind,
        name: `${name}@${PROVIDER}`,
        message: `${kind} "${name}" is defined differently by containers ${agreeing.join(', ')} and ${differing.join(', ')}; it is left out until they agree`,
      });
    }
  }
  return { http };
}

/** Replicas differ only in their server: compare load balancers without servers (Traefik's Mergeable). */
function withoutServers(kind: string, value: unknown): unknown {
  if (kind !== 'service') return value;
  const svc = value as ServiceConfig;
  if (!svc.loadBalancer) return svc;
  const { servers: _servers, ...lb } = svc.loadBalancer;
  return { ...svc, loadBalancer: lb };
}

function addServers(target: ServiceConfig, from: ServiceConfig): void {
  const lb = target.loadBalancer;
  if (!lb || !from.loadBalancer?.servers) return;
  lb.servers ??= [];
  const known = new Set(lb.servers.map((s) => s.url));
  for (const s of from.loadBalancer.servers) {
    if (!known.has(s.url)) {
      lb.servers.push({ ...s });
      known.add(s.url);
    }
  }
}
