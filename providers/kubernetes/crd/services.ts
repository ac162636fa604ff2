/*
 * HTTP services: a reference to a Kubernetes Service (a load balancer over
 * its endpoints, with the options written on the reference) or to a
 * TraefikService, and the TraefikServices themselves — after Traefik's
 * configBuilder (pkg/provider/kubernetes/crd/kubernetes_http.go:
 * nameAndService, buildServersLB, fullServiceName, buildServicesLB,
 * buildMirroring, buildFailover).
 */
import type { ServiceConfig } from '../../../src/config/dynamic.js';
import { resolveServiceBackend, serverUrls } from '../backends.js';
import { CRD_PROVIDER } from '../objects.js';
import {
  Refused,
  SEPARATOR,
  arr,
  bool,
  checkNamespace,
  int,
  isObj,
  normalize,
  obj,
  optObj,
  port as readPort,
  put,
  reqStr,
  sourceOf,
  str,
  attempt,
  warn,
  type Ctx,
} from './context.js';

/** Services built for one reference, committed only when the whole unit translates. */
export type ServiceMap = Record<string, ServiceConfig>;

const STRATEGIES = ['wrr', 'p2c', 'hrw', 'leasttime'];
const SCHEMES = ['http', 'https', 'h2c'];

/**
 * Traefik's fullServiceName: `<ns>-<name>-<port>` for a Kubernetes Service,
 * `<ns>-<name>` for a TraefikService, and `name@provider` kept for another
 * provider's service (`name@kubernetescrd` is this provider's own).
 */
export function fullServiceName(
  ns: string,
  name: string,
  port: number | string | undefined,
): string {
  if (port !== undefined && port !== 0 && port !== '') return normalize(`${ns}-${name}-${port}`);
  if (!name.includes(SEPARATOR)) return normalize(`${ns}-${name}`);
  const parts = name.split(SEPARATOR);
  const provider = parts.pop()!;
  const base = parts.join(SEPARATOR);
  if (provider === CRD_PROVIDER) return normalize(`${ns}-${base}`);
  return `${normalize(base)}${SEPARATOR}${provider}`;
}

/** Traefik's makeServersTransportKey (HTTP and TCP alike). */
export function serversTransportKey(
  ctx: Ctx,
  parentNs: string,
  value: unknown,
  field: string,
): string | undefined {
  const name = str(value, field);
  if (name === undefined || name === '') return undefined;
  if (name.includes(SEPARATOR)) {
    if (!ctx.opts.allowCrossNamespace && name.endsWith(`${SEPARATOR}${CRD_PROVIDER}`)) {
      throw new Refused(
        field,
        `serversTransport reference "${name}": the namespace-name@${CRD_PROVIDER} form is refused while allowCrossNamespace is off`,
      );
    }
    return name;
  }
  return normalize(`${parentNs}-${name}`);
}

/** The sticky cookie of a reference or a weighted TraefikService, Traefik's names kept. */
function sticky(value: unknown, field: string): Record<string, unknown> | undefined {
  const s = optObj(value, field);
  if (s === undefined) return undefined;
  const cookie = optObj(s.cookie, `${field}.cookie`);
  return cookie === undefined ? undefined : { cookie: { ...cookie } };
}

/**
 * A Kubernetes Service's port by name or number. Traefik refuses a reference
 * without one ("service port not defined"); Portico takes the Service's only
 * port then, as Traefik's own documentation examples assume (several ports:
 * refused, naming them).
 */
function optionalPort(value: unknown, field: string): number | string | undefined {
  const p = readPort(value, field);
  if (p === 0 || p === '') throw new Refused(field, 'service port not defined');
  return p;
}

/** Traefik's parseServiceProtocol: http, https or h2c, or empty for the port's default. */
function scheme(value: unknown, field: string): string | undefined {
  const s = str(value, field);
  if (s === undefined || s === '') return undefined;
  if (!SCHEMES.includes(s)) throw new Refused(field, `invalid scheme "${s}" specified`);
  return s;
}

function strategy(ctx: Ctx, value: unknown, field: string): string | undefined {
  const s = str(value, field);
  if (s === undefined || s === '') return undefined;
  if (STRATEGIES.includes(s)) return s;
  if (s === 'RoundRobin') {
    warn(ctx, field, 'RoundRobin is a deprecated name of wrr');
    return 'wrr';
  }
  throw new Refused(field, `load-balancer strategy ${s} is not supported`);
}

/** A load balancer over the servers of the Kubernetes Service `spec` names (buildServersLB). */
function serversLB(
  ctx: Ctx,
  ns: string,
  spec: Record<string, unknown>,
  field: string,
): ServiceConfig {
  const name = reqStr(spec.name, `${field}.name`);
  const port = optionalPort(spec.port, `${field}.port`);
  const lb: Record<string, unknown> = {};
  put(lb, 'strategy', strategy(ctx, spec.strategy, `${field}.strategy`));
  const nativeLB = bool(spec.nativeLB, `${field}.nativeLB`);
  const nodePortLB = bool(spec.nodePortLB, `${field}.nodePortLB`);
  const result = resolveServiceBackend(
    ctx.view,
    {
      namespace: ns,
      name,
      ...(port !== undefined ? { port } : {}),
      ...(nativeLB !== undefined ? { nativeLB } : {}),
      ...(nodePortLB !== undefined ? { nodePortLB } : {}),
    },
    {
      allowExternalNameServices: ctx.opts.allowExternalNameServices,
      allowEmptyServices: ctx.opts.allowEmptyServices,
      nativeLBByDefault: ctx.opts.nativeLBByDefault,
    },
  );
  if (!result.ok) {
    throw new Refused(result.field ? `${field}.${result.field}` : field, result.message);
  }
  const healthCheck = optObj(spec.healthCheck, `${field}.healthCheck`);
  if (healthCheck !== undefined && result.backend.source !== 'externalName') {
    throw new Refused(
      `${field}.healthCheck`,
      `healthCheck allowed only for ExternalName services: ${ns}/${name}`,
    );
  }
  lb.servers = serverUrls(result.backend, scheme(spec.scheme, `${field}.scheme`)).map((url) => ({
    url,
  }));
  put(lb, 'healthCheck', healthCheck);
  put(lb, 'passiveHealthCheck', optObj(spec.passiveHealthCheck, `${field}.passiveHealthCheck`));
  put(lb, 'passHostHeader', bool(spec.passHostHeader, `${field}.passHostHeader`));
  const rf = optObj(spec.responseForwarding, `${field}.responseForwarding`);
  if (rf !== undefined && rf.flushInterval !== undefined && rf.flushInterval !== '') {
    lb.responseForwarding = { flushInterval: rf.flushInterval };
  }
  put(lb, 'sticky', sticky(spec.sticky, `${field}.sticky`));
  put(
    lb,
    'serversTransport',
    serversTransportKey(ctx, ns, spec.serversTransport, `${field}.serversTransport`),
  );
  if (arr(spec.middlewares, `${field}.middlewares`).length > 0) {
    // Traefik v3.6 runs middlewares on a service; Portico's services have none yet, and
    // dropping them could leave a service without the auth it was given: refused
    throw new Refused(
      `${field}.middlewares`,
      'middlewares on a service are not supported by Portico yet; put them on the route',
    );
  }
  return { loadBalancer: lb } as ServiceConfig;
}

/**
 * The name a reference resolves to and, for a Kubernetes Service, the load
 * balancer to add under that name (Traefik's nameAndService).
 */
export function nameAndService(
  ctx: Ctx,
  parentNs: string,
  value: unknown,
  field: string,
): { name: string; service?: ServiceConfig } {
  const spec = obj(value, field);
  const name = reqStr(spec.name, `${field}.name`);
  let ns = str(spec.namespace, `${field}.namespace`) ?? '';
  if (!name.includes(SEPARATOR)) {
    ns = ns || parentNs;
    checkNamespace(ctx, parentNs, ns, `${field}.namespace`, `service ${ns}/${name}`);
  }
  const kind = str(spec.kind, `${field}.kind`) ?? '';
  if (kind === '' || kind === 'Service') {
    const service = serversLB(ctx, ns, spec, field);
    return { name: fullServiceName(ns, name, readPort(spec.port, `${field}.port`)), service };
  }
  if (kind === 'TraefikService') return { name: fullServiceName(ns, name, undefined) };
  throw new Refused(`${field}.kind`, `unsupported service kind ${kind}`);
}

/** A weighted service over `services` (a TraefikService's, or a route's several services). */
export function weighted(
  ctx: Ctx,
  ns: string,
  services: unknown,
  stickyValue: unknown,
  field: string,
  out: ServiceMap,
): ServiceConfig {
  const refs = arr(services, `${field}.services`).map((s, i) => {
    const f = `${field}.services[${i}]`;
    const r = nameAndService(ctx, ns, s, f);
    if (r.service) out[r.name] = r.service;
    return { name: r.name, weight: int(obj(s, f).weight, `${f}.weight`) ?? 1 };
  });
  const w: Record<string, unknown> = { services: refs };
  put(w, 'sticky', sticky(stickyValue, `${field}.sticky`));
  return { weighted: w } as ServiceConfig;
}

function mirroring(
  ctx: Ctx,
  ns: string,
  spec: Record<string, unknown>,
  field: string,
  out: ServiceMap,
) {
  const main = nameAndService(ctx, ns, spec, field);
  if (main.service) out[main.name] = main.service;
  const mirrors = arr(spec.mirrors, `${field}.mirrors`).map((m, i) => {
    const f = `${field}.mirrors[${i}]`;
    const r = nameAndService(ctx, ns, m, f);
    if (r.service) out[r.name] = r.service;
    const ref: Record<string, unknown> = { name: r.name };
    put(ref, 'percent', int(obj(m, f).percent, `${f}.percent`));
    return ref;
  });
  const m: Record<string, unknown> = { service: main.name, mirrors };
  put(m, 'mirrorBody', bool(spec.mirrorBody, `${field}.mirrorBody`));
  put(m, 'maxBodySize', int(spec.maxBodySize, `${field}.maxBodySize`));
  return { mirroring: m } as ServiceConfig;
}

function failover(
  ctx: Ctx,
  ns: string,
  spec: Record<string, unknown>,
  field: string,
  out: ServiceMap,
) {
  const main = nameAndService(ctx, ns, spec.service, `${field}.service`);
  const fallback = nameAndService(ctx, ns, spec.fallback, `${field}.fallback`);
  if (main.service) out[main.name] = main.service;
  if (fallback.service) out[fallback.name] = fallback.service;
  const f: Record<string, unknown> = { service: main.name, fallback: fallback.name };
  put(f, 'errors', optObj(spec.errors, `${field}.errors`));
  return { failover: f } as ServiceConfig;
}

/** Every TraefikService, as `<ns>-<name>` (Traefik's buildTraefikService). */
export function translateTraefikServices(ctx: Ctx): void {
  for (const o of ctx.objects.get('TraefikService') ?? []) {
    const src = sourceOf('TraefikService', o);
    const id = normalize(`${src.namespace}-${src.name}`);
    attempt(ctx, src, 'spec', () => {
      const spec = obj(o.spec, 'spec');
      const out: ServiceMap = {};
      let service: ServiceConfig;
      if (spec.weighted !== undefined && spec.weighted !== null) {
        const w = obj(spec.weighted, 'spec.weighted');
        service = weighted(ctx, src.namespace, w.services, w.sticky, 'spec.weighted', out);
      } else if (isObj(spec.mirroring)) {
        service = mirroring(ctx, src.namespace, spec.mirroring, 'spec.mirroring', out);
      } else if (spec.highestRandomWeight !== undefined && spec.highestRandomWeight !== null) {
        throw new Refused(
          'spec.highestRandomWeight',
          'highestRandomWeight services are not supported by Portico yet (a load balancer can use strategy: hrw over its servers)',
        );
      } else if (isObj(spec.failover)) {
        service = failover(ctx, src.namespace, spec.failover, 'spec.failover', out);
      } else {
        throw new Refused('spec', 'unspecified service type: weighted, mirroring or failover');
      }
      out[id] = service;
      commitServices(ctx, out, { ...src, field: 'spec' });
    });
  }
}

/** Adds services to the configuration, remembering where each came from. */
export function commitServices(
  ctx: Ctx,
  services: ServiceMap,
  origin: { kind: string; namespace: string; name: string; field: string },
): void {
  for (const [name, s] of Object.entries(services)) {
    ctx.config.http.services[name] = s;
    ctx.origins.set(`http.services/${name}`, origin);
  }
}
