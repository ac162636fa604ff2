/*
 * Merging per-container contributions into one configuration, as Traefik's
 * pkg/provider/configuration.go does: an element defined alike by several
 * containers (replicas of one compose service) is kept once, a service's
 * servers are the union of theirs, and an element they define differently is
 * left out with an error naming the containers. TCP and UDP elements merge
 * the same way (TCPServersLoadBalancer.Merge: servers deduplicated by address).
 */
import type {
  DynamicConfig,
  ElementError,
  MiddlewareConfig,
  RouterConfig,
  ServiceConfig,
  TcpConfig,
  UdpConfig,
} from '../../src/config/dynamic.js';
import { setKey, stableKey } from '../../src/config/objects.js';
import { PROVIDER } from './model.js';

/** What one container adds to the configuration, before merging. */
export interface Contribution {
  container: string;
  routers: Record<string, RouterConfig>;
  services: Record<string, ServiceConfig>;
  middlewares: Record<string, MiddlewareConfig>;
  /** set when the container has tcp routers, services or middlewares */
  tcp?: Required<Pick<TcpConfig, 'routers' | 'services' | 'middlewares'>>;
  /** set when the container has udp routers or services */
  udp?: Required<UdpConfig>;
}

type Kind = ElementError['kind'];

/** Every section merged, where it lives in a contribution and in the result. */
const SECTIONS: { proto: 'http' | 'tcp' | 'udp'; section: string; kind: Kind; noun: string }[] = [
  { proto: 'http', section: 'routers', kind: 'router', noun: 'router' },
  { proto: 'http', section: 'services', kind: 'service', noun: 'service' },
  { proto: 'http', section: 'middlewares', kind: 'middleware', noun: 'middleware' },
  { proto: 'tcp', section: 'routers', kind: 'tcpRouter', noun: 'tcp router' },
  { proto: 'tcp', section: 'services', kind: 'tcpService', noun: 'tcp service' },
  { proto: 'tcp', section: 'middlewares', kind: 'tcpMiddleware', noun: 'tcp middleware' },
  { proto: 'udp', section: 'routers', kind: 'udpRouter', noun: 'udp router' },
  { proto: 'udp', section: 'services', kind: 'udpService', noun: 'udp service' },
];

const isService = (kind: Kind) =>
  kind === 'service' || kind === 'tcpService' || kind === 'udpService';

type Sections = Record<string, Record<string, unknown>>;

function sectionsOf(c: Contribution, proto: 'http' | 'tcp' | 'udp'): Sections | undefined {
  if (proto === 'http') return c as unknown as Sections;
  return c[proto] as Sections | undefined;
}

export function merge(
  contributions: readonly Contribution[],
  errors: ElementError[],
): DynamicConfig {
  const out: Record<'http' | 'tcp' | 'udp', Sections> = {
    http: { routers: {}, services: {}, middlewares: {} },
    tcp: { routers: {}, services: {}, middlewares: {} },
    udp: { routers: {}, services: {} },
  };
  for (const { proto, section, kind, noun } of SECTIONS) {
    const target = out[proto][section]!;
    const origins = new Map<string, { container: string; fingerprint: string }[]>();
    const conflicted = new Set<string>();
    for (const contribution of contributions) {
      for (const [name, value] of Object.entries(
        sectionsOf(contribution, proto)?.[section] ?? {},
      )) {
        const fingerprint = stableKey(withoutServers(kind, value));
        const seen = origins.get(name);
        if (!seen) {
          origins.set(name, [{ container: contribution.container, fingerprint }]);
          setKey(target, name, structuredClone(value));
          continue;
        }
        seen.push({ container: contribution.container, fingerprint });
        if (seen[0]!.fingerprint !== fingerprint) {
          conflicted.add(name);
          continue;
        }
        if (isService(kind)) addServers(target[name] as ServiceLike, value as ServiceLike);
      }
    }
    for (const name of conflicted) {
      delete target[name];
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
        message: `${noun} "${name}" is defined differently by containers ${agreeing.join(', ')} and ${differing.join(', ')}; it is left out until they agree`,
      });
    }
  }
  const config: DynamicConfig = { http: out.http as DynamicConfig['http'] };
  // tcp and udp only when a container has any: most Docker setups are http only
  if (contributions.some((c) => c.tcp)) config.tcp = out.tcp as DynamicConfig['tcp'];
  if (contributions.some((c) => c.udp)) config.udp = out.udp as DynamicConfig['udp'];
  return config;
}

/** A service of any protocol, as far as merging servers goes. */
interface ServiceLike {
  loadBalancer?: { servers?: ({ url?: string; address?: string } & Record<string, unknown>)[] };
}

/** Replicas differ only in their server: compare load balancers without servers (Traefik's Mergeable). */
function withoutServers(kind: Kind, value: unknown): unknown {
  if (!isService(kind)) return value;
  const svc = value as ServiceConfig;
  if (!svc.loadBalancer) return svc;
  const { servers: _servers, ...lb } = svc.loadBalancer;
  return { ...svc, loadBalancer: lb };
}

/** Appends the servers `target` lacks, by url (http) or address (tcp, udp). */
function addServers(target: ServiceLike, from: ServiceLike): void {
  const lb = target.loadBalancer;
  if (!lb || !from.loadBalancer?.servers) return;
  lb.servers ??= [];
  const id = (s: { url?: string; address?: string }) => s.url ?? s.address;
  const known = new Set(lb.servers.map(id));
  for (const s of from.loadBalancer.servers) {
    if (!known.has(id(s))) {
      lb.servers.push({ ...s });
      known.add(id(s));
    }
  }
}
