/*
 * A main Ingress's routers, services and middlewares (with its canary's),
 * and the provider's global default backend.
 */
import type {
  MiddlewareConfig,
  RouterConfig,
  ServiceConfig,
  StickyConfig,
} from '../../../src/config/dynamic.js';
import { asArray, asRecord, resolveServiceBackend, serverUrls, shown } from '../backends.js';
import { type IngressBackendRef, readBackendRef } from '../ingress/backend.js';
import { DEFAULT_BACKEND_PRIORITY, normalizeName } from '../ingress/rules.js';
import { collectCertificates } from '../ingress/tls.js';
import type { KubeObject } from '../objects.js';
import { usesHostVar, withHost } from './auth.js';
import { type Canary, canaryRule, nonCanaryRule, pathKey } from './canary.js';
import {
  badValue,
  type IngressCtx,
  type IngressPlan,
  MAX_MESSAGE,
  settleOutcomes,
  type State,
} from './context.js';
import { buildRule, exactPriority, type RulePath, rulePaths, tlsHosts } from './paths.js';
import { planIngress } from './plan.js';

/** The servers of a backend; none (503, reported) when the Service cannot be resolved, as nginx answers. */
function buildService(
  state: State,
  c: IngressCtx,
  ref: IngressBackendRef,
  at: string,
  scheme: string,
  nativeLB: boolean,
): ServiceConfig | undefined {
  const resolve = (port: number | string) =>
    resolveServiceBackend(
      state.view,
      { namespace: c.namespace, name: ref.name, port, nativeLB },
      {
        allowEmptyServices: true,
        allowExternalNameServices: state.opts.disableSvcExternalName !== true,
        nativeLBByDefault: false,
        disableClusterScopeResources: state.opts.disableClusterScopeResources === true,
      },
    );
  let res = resolve(ref.port);
  if (!res.ok && res.field === 'port' && ref.altPort !== undefined) res = resolve(ref.altPort);
  if (!res.ok) {
    // ingress-nginx (and Traefik's provider) keep the location and answer 503
    c.report(
      res.field === 'port' ? `${at}.service.port` : `${at}.service.name`,
      `${res.message}; the path answers 503, as ingress-nginx does`,
      'warning',
    );
    return { loadBalancer: { servers: [] } };
  }
  return { loadBalancer: { servers: serverUrls(res.backend, scheme).map((url) => ({ url })) } };
}

/** What serving one main Ingress's paths needs, shared by the steps below. */
interface Serving {
  state: State;
  c: IngressCtx;
  plan: IngressPlan;
  tls: { any: boolean; hosts: Set<string> };
  /** the Ingress's serversTransport, used when plan.transport is set */
  transportName: string;
}

export function translateMain(
  state: State,
  c: IngressCtx,
  ingress: KubeObject,
  regexHosts: Set<string>,
  canaries: Map<string, Canary>,
): void {
  const spec = asRecord(ingress.spec);
  if (spec === undefined) {
    c.report('spec', 'spec is missing or not an object');
    return;
  }
  const paths = rulePaths(c, spec);
  const anyRegexHost = paths.some((p) => regexHosts.has(p.host));
  const plan = planIngress(c, state.view, state.opts, anyRegexHost);
  settleOutcomes(c);
  if (c.blocked) return;
  if (plan.middlewares.some(([, m]) => usesHostVar(m))) {
    const bad = paths.find((p) => p.host === '' || p.host.startsWith('*.'));
    if (
      bad !== undefined ||
      plan.aliases.length > 0 ||
      (paths.length === 0 && spec.defaultBackend !== undefined)
    ) {
      badValue(
        c,
        'auth-url',
        '$host needs every rule to have one host that is not a wildcard (no server-alias)',
      );
      return;
    }
  }

  for (const p of collectCertificates(state.view, c.namespace, spec, state.certs))
    c.report(p.index < 0 ? 'spec.tls' : `spec.tls[${p.index}].secretName`, p.message);
  const tls = tlsHosts(spec);

  const transportName = normalizeName(`${c.namespace}-${c.name}`);
  if (plan.transport !== undefined) state.transports[transportName] = plan.transport;
  const s: Serving = { state, c, plan, tls, transportName };
  serveDefaultBackend(s, spec, paths);
  for (const rp of paths) servePath(s, rp, regexHosts, canaries);
}

/** A service with the Ingress's affinity and serversTransport. */
function shapeService(
  s: Serving,
  svc: ServiceConfig,
  sticky: StickyConfig | undefined,
): ServiceConfig {
  const lb = svc.loadBalancer!;
  if (sticky !== undefined) lb.sticky = sticky;
  if (s.plan.transport !== undefined) lb.serversTransport = s.transportName;
  return svc;
}

/** A path's plain and `-tls` routers, with the plan's middlewares named after the router. */
function serveRouters(
  s: Serving,
  rp: RulePath,
  routerKey: string,
  rule: string,
  service: string,
  priority?: number,
): void {
  const { state, plan, tls } = s;
  const mws: string[] = [];
  const add = (suffix: string, config: MiddlewareConfig) => {
    const name = `${routerKey}-${suffix}`;
    state.middlewares[name] = config;
    mws.push(name);
  };
  for (const [suffix, config] of plan.middlewares) add(suffix, withHost(config, rp.host));
  if (plan.rewrite !== undefined && rp.path !== '' && plan.rewrite !== rp.path) {
    // nginx `rewrite "(?i)path" target break`: the whole path becomes the target
    // (rewrite-target makes every path of the host a regex location, so the path is one here)
    const re = `(?is)^(?:${rp.path}).*`;
    add('rewrite-target', { replacePathRegex: { regex: re, replacement: plan.rewrite } });
  }
  const hasTls =
    tls.hosts.has(rp.host) ||
    (tls.any && tls.hosts.size === 0) ||
    (rp.host.includes('.') && tls.hosts.has(`*.${rp.host.slice(rp.host.indexOf('.') + 1)}`));
  const redirect = plan.forceSslRedirect || (hasTls && plan.sslRedirect !== false);
  const plain: RouterConfig = { rule, service };
  const secure: RouterConfig = { rule, service, tls: {} };
  if (priority !== undefined) plain.priority = secure.priority = priority;
  if (state.opts.httpEntryPoints?.length) plain.entryPoints = [...state.opts.httpEntryPoints];
  if (state.opts.httpsEntryPoints?.length) secure.entryPoints = [...state.opts.httpsEntryPoints];
  if (redirect) {
    const name = `${routerKey}-redirect-scheme`;
    state.middlewares[name] = { redirectScheme: { scheme: 'https', permanent: true } };
    plain.middlewares = [name];
  } else if (mws.length > 0) plain.middlewares = [...mws];
  if (mws.length > 0) secure.middlewares = [...mws];
  state.routers[routerKey] = plain;
  state.routers[`${routerKey}-tls`] = secure;
}

/** spec.defaultBackend, served only by an Ingress without rules. */
function serveDefaultBackend(s: Serving, spec: Record<string, unknown>, paths: RulePath[]): void {
  const { state, c, plan } = s;
  const def = spec.defaultBackend;
  if (def === undefined || def === null) return;
  if (paths.length > 0 || asArray(spec.rules).length > 0) {
    c.report(
      'spec.defaultBackend',
      'ignored: only an Ingress without rules serves its default backend here',
      'warning',
    );
    return;
  }
  const ref = readBackendRef(def, 'spec.defaultBackend', c.namespace);
  if ('message' in ref) {
    c.report(ref.field, ref.message);
    return;
  }
  const svc = buildService(state, c, ref, 'spec.defaultBackend', plan.scheme, plan.nativeLB);
  if (svc === undefined) return;
  const name = normalizeName(`${c.namespace}-${c.name}-${ref.name}-${String(ref.port)}`);
  state.services[name] = shapeService(s, svc, plan.sticky);
  serveRouters(
    s,
    {
      host: '',
      path: '',
      pathType: undefined,
      backend: def,
      at: 'spec.defaultBackend',
      i: 0,
      j: 0,
    },
    normalizeName(`${c.namespace}-${c.name}-default-backend`),
    'PathPrefix("/")',
    name,
    DEFAULT_BACKEND_PRIORITY,
  );
}

/** One rule path: its service, its canary's if any, and its routers. */
function servePath(
  s: Serving,
  rp: RulePath,
  regexHosts: Set<string>,
  canaries: Map<string, Canary>,
): void {
  const { state, c, plan } = s;
  const ref = readBackendRef(rp.backend, `${rp.at}.backend`, c.namespace);
  if ('message' in ref) {
    c.report(ref.field, ref.message);
    return;
  }
  const rule = buildRule(rp, regexHosts.has(rp.host), plan.aliases);
  if (typeof rule === 'object') {
    c.report(`${rp.at}.path`, `${rule.error}; the path is skipped`);
    return;
  }
  const svc = buildService(state, c, ref, `${rp.at}.backend`, plan.scheme, plan.nativeLB);
  if (svc === undefined) return;
  const portName = ref.altPort ?? String(ref.port);
  const serviceName = normalizeName(`${c.namespace}-${c.name}-${ref.name}-${portName}`);
  state.services[serviceName] = shapeService(s, svc, plan.sticky);
  const routerKey = normalizeName(`${c.namespace}-${c.name}-rule-${rp.i}-path-${rp.j}`);

  let target = serviceName;
  const priority = exactPriority(rp, regexHosts.has(rp.host), plan.aliases);
  const cn = canaries.get(pathKey(c.namespace, rp.host, rp.path));
  if (cn !== undefined) {
    // a canary router beats its main one, and only it: one above the main's priority (an explicit
    // priority, since a longer rule could otherwise outrank a more specific path of the host)
    const canaryPriority = (priority ?? Buffer.byteLength(rule, 'utf8')) + 1;
    target = serveCanary(s, rp, cn, { serviceName, routerKey, rule, priority: canaryPriority });
  }
  serveRouters(s, rp, routerKey, rule, target, priority);
}

/**
 * The canary's service (with a weighted one when canary-weight is set) and
 * its header/cookie routers; returns the service the main router targets.
 */
function serveCanary(
  s: Serving,
  rp: RulePath,
  cn: Canary,
  main: { serviceName: string; routerKey: string; rule: string; priority: number },
): string {
  const { state, plan } = s;
  const { serviceName, routerKey, rule } = main;
  cn.used = true;
  const cref = readBackendRef(cn.backend, `${cn.at}.backend`, cn.namespace);
  const csvc =
    'message' in cref
      ? (cn.ctx.report(cref.field, cref.message), undefined)
      : buildService(state, cn.ctx, cref, `${cn.at}.backend`, plan.scheme, plan.nativeLB);
  if (csvc === undefined) return serviceName;
  let target = serviceName;
  const canaryName = `${serviceName}-canary`;
  state.services[canaryName] = shapeService(s, csvc, cn.sticky);
  if (cn.weight > 0) {
    const wrr = `${serviceName}-wrr`;
    state.services[wrr] = {
      weighted: {
        services: [
          { name: serviceName, weight: cn.weightTotal - cn.weight },
          { name: canaryName, weight: cn.weight },
        ],
      },
    };
    target = wrr;
  }
  if (cn.header !== undefined || cn.cookie !== undefined)
    serveRouters(s, rp, `${routerKey}-canary`, canaryRule(rule, cn), canaryName, main.priority);
  const non = nonCanaryRule(rule, cn);
  if (non !== undefined)
    serveRouters(s, rp, `${routerKey}-non-canary`, non, serviceName, main.priority);
  return target;
}

/** Traefik's defaultBackendService: `default-backend` (+ `-tls`) routers, lowest priority, to the Service's only port. */
export function globalDefaultBackend(state: State, ref: string): void {
  const [namespace, name, ...rest] = ref.split('/');
  const report = (message: string) =>
    state.diagnostics.push({
      kind: 'Service',
      ...(namespace !== undefined && name !== undefined ? { namespace } : {}),
      name: name ?? ref,
      field: 'defaultBackendService',
      message: message.slice(0, MAX_MESSAGE),
      level: 'error',
    });
  if (
    namespace === undefined ||
    namespace === '' ||
    name === undefined ||
    name === '' ||
    rest.length > 0
  ) {
    report(`defaultBackendService ${shown(ref)} must be namespace/name`);
    return;
  }
  const res = resolveServiceBackend(
    state.view,
    { namespace, name },
    {
      allowEmptyServices: true,
      allowExternalNameServices: state.opts.disableSvcExternalName !== true,
      nativeLBByDefault: false,
      disableClusterScopeResources: state.opts.disableClusterScopeResources === true,
    },
  );
  if (!res.ok) {
    report(`defaultBackendService: ${res.message}`);
    return;
  }
  state.services[NGINX_DEFAULT_BACKEND] = {
    loadBalancer: { servers: serverUrls(res.backend, 'http').map((url) => ({ url })) },
  };
  const plain: RouterConfig = {
    rule: 'PathPrefix("/")',
    priority: DEFAULT_BACKEND_PRIORITY,
    service: NGINX_DEFAULT_BACKEND,
  };
  const secure: RouterConfig = { ...plain, tls: {} };
  if (state.opts.httpEntryPoints?.length) plain.entryPoints = [...state.opts.httpEntryPoints];
  if (state.opts.httpsEntryPoints?.length) secure.entryPoints = [...state.opts.httpsEntryPoints];
  state.routers[NGINX_DEFAULT_BACKEND] = plain;
  state.routers[`${NGINX_DEFAULT_BACKEND}-tls`] = secure;
}

const NGINX_DEFAULT_BACKEND = 'default-backend';
