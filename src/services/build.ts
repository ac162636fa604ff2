/*
 * Services as runtime objects: a load balancer over servers
 * (load-balancer.ts), or a composite over other services: weighted and
 * failover here, mirroring in mirroring.ts. Built by the compiler from
 * validated config; the state that must survive swaps (health, pools,
 * round-robin position) comes from the StateRegistry.
 */
import type { FailoverConfig, ServiceConfig, WeightedConfig } from '../config/dynamic.js';
import { stableKey } from '../config/objects.js';
import type { RequestContext } from '../kernel/context.js';
import { ConfigElementError } from '../kernel/errors.js';
import { sendStatus } from '../kernel/status.js';
import { buildLoadBalancer } from './load-balancer.js';
import { buildMirroring } from './mirroring.js';
import { discardMirrorBody, type ServiceBuildContext, type ServiceRuntime } from './runtime.js';
import { createStickyCookie, serverKey } from './sticky.js';
import { SmoothWeightedRoundRobin } from './wrr.js';

export { MIRROR_BUFFER_BYTES, MIRROR_LAG_BYTES } from './mirroring.js';
export {
  discardMirrorBody,
  type MirrorBody,
  type ServiceBuildContext,
  type ServiceRuntime,
} from './runtime.js';

/**
 * A weighted child with `status`: answers that status and names no service
 * (Traefik's WRRService.Status, which its Gateway API provider uses so that a
 * share of traffic for an invalid backendRef gets the 500 the spec requires).
 */
function statusChild(name: string, status: number): ServiceRuntime {
  return {
    name,
    type: 'loadBalancer',
    isUp: () => true,
    serverStatus: () => ({}),
    handle(rc) {
      rc.serviceName = name;
      sendStatus(rc.writer, status);
    },
    mirror(_rc, body) {
      discardMirrorBody(body);
    },
  };
}

function buildWeighted(
  name: string,
  cfg: WeightedConfig,
  ctx: ServiceBuildContext,
): ServiceRuntime {
  const children = (cfg.services ?? []).map((s) => ({
    child: s.status !== undefined ? statusChild(s.name, s.status) : ctx.child(s.name),
    weight: s.weight ?? 1,
  }));
  const checkHealth = cfg.healthCheck !== undefined;
  const wrr = ctx.state.acquire(
    `wrr:${name}:${stableKey(cfg.services)}`,
    () =>
      new SmoothWeightedRoundRobin(children.map((c) => ({ item: c.child.name, weight: c.weight }))),
  );
  const byName = new Map(children.map((c) => [c.child.name, c.child]));
  const byKey = new Map(children.map((c) => [serverKey(c.child.name), c.child]));
  const up = (n: string): boolean => !checkHealth || byName.get(n)!.isUp();
  const sticky = cfg.sticky?.cookie ? createStickyCookie(cfg.sticky.cookie, name) : undefined;
  const pick = (rc: RequestContext | null): ServiceRuntime | undefined => {
    if (sticky !== undefined && rc !== null) {
      const wanted = sticky.read(rc.req.headers.cookie);
      const c = wanted !== undefined ? byKey.get(wanted) : undefined;
      if (c !== undefined && up(c.name)) return c;
    }
    const n = wrr.next(up);
    const child = n === undefined ? undefined : byName.get(n);
    if (child !== undefined && sticky !== undefined && rc !== null) {
      const cookie = sticky.serialize(serverKey(child.name));
      (rc.responseHeaderHooks ??= []).push((_c, _s, headers) => headers.push('set-cookie', cookie));
    }
    return child;
  };
  return {
    name,
    type: 'weighted',
    isUp: () => children.some((c) => c.child.isUp()),
    serverStatus: () => Object.assign({}, ...children.map((c) => c.child.serverStatus())),
    handle(rc) {
      rc.serviceName = name;
      const child = pick(rc);
      if (child === undefined) sendStatus(rc.writer, 503);
      else child.handle(rc);
    },
    mirror(rc, body) {
      const child = pick(null);
      if (child === undefined) discardMirrorBody(body);
      else child.mirror(rc, body);
    },
  };
}

function buildFailover(
  name: string,
  cfg: FailoverConfig,
  ctx: ServiceBuildContext,
): ServiceRuntime {
  const main = ctx.child(cfg.service);
  const fallback = ctx.child(cfg.fallback);
  const current = (): ServiceRuntime => (main.isUp() ? main : fallback);
  return {
    name,
    type: 'failover',
    isUp: () => main.isUp() || fallback.isUp(),
    serverStatus: () => ({ ...main.serverStatus(), ...fallback.serverStatus() }),
    handle(rc) {
      rc.serviceName = name;
      current().handle(rc);
    },
    mirror(rc, body) {
      current().mirror(rc, body);
    },
  };
}

export function buildService(
  name: string,
  cfg: ServiceConfig,
  ctx: ServiceBuildContext,
): ServiceRuntime {
  if (cfg.loadBalancer) return buildLoadBalancer(name, cfg.loadBalancer, ctx);
  if (cfg.weighted) return buildWeighted(name, cfg.weighted, ctx);
  if (cfg.mirroring) return buildMirroring(name, cfg.mirroring, ctx);
  if (cfg.failover) return buildFailover(name, cfg.failover, ctx);
  throw new ConfigElementError(
    'a service needs one of loadBalancer, weighted, mirroring or failover',
  );
}
