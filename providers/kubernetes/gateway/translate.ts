/*
 * The Gateway API translator (issue 15 items 1 and 2): GatewayClasses,
 * Gateways, HTTPRoutes, GRPCRoutes, TLSRoutes and (experimental channel)
 * TCPRoutes → Portico's dynamic configuration, plus the status the spec
 * asks for, as data (model.ts). Pure: no I/O, nothing throws, one broken
 * object never takes another down.
 *
 * Route attachment follows Traefik's loadHTTPRoutes
 * (pkg/provider/kubernetes/gateway/httproute.go): each parentRef naming one
 * of our Gateways gets one status entry; for each listener of that Gateway
 * the parentRef targets (sectionName, port), the route must be allowed
 * (allowedRoutes kinds and namespaces: else NotAllowedByListeners) and share
 * a hostname (else NoMatchingListenerHostname); it then counts in the
 * listener's attachedRoutes and, when the listener is valid, is served.
 * ResolvedRefs reports the first backend problem. A route whose rules all
 * use unsupported values is not Accepted (UnsupportedValue); one with some
 * is Accepted with a PartiallyInvalid condition (Gateway API v1.2+).
 */
import { asArray, asRecord } from '../backends.js';
import type { ClusterView, KubeDiagnostic, KubeObject } from '../objects.js';
import {
  allowsRoute,
  condition,
  generationOf,
  idOf,
  matchesListener,
  matchingHostnames,
  parentRefOf,
  refersToGateway,
  routeHostnames,
  type Acc,
  type GwGateway,
} from './common.js';
import { buildHttpRoute, type RouteBuild } from './http.js';
import { buildL4Route } from './l4.js';
import { gatewayAddresses, gatewayStatus, loadGateways, ourClasses } from './listeners.js';
import type {
  Condition,
  GatewayProviderOptions,
  GatewayTranslation,
  RouteKind,
  RouteParentStatus,
  RouteStatus,
} from './model.js';

export function translateGateway(
  view: ClusterView,
  opts: GatewayProviderOptions,
): GatewayTranslation {
  const acc: Acc = {
    view,
    config: {
      http: { routers: {}, services: {}, middlewares: {} },
      tcp: { routers: {}, services: {} },
    },
    diagnostics: [],
  };
  const { classes, status: gatewayClasses } = ourClasses(acc, opts);
  const gateways = loadGateways(acc, opts, classes);
  for (const g of gateways) refuseFrontendValidation(acc, g.gateway, g.object);
  const routes: RouteStatus[] = [];
  const kinds: RouteKind[] = ['HTTPRoute', 'GRPCRoute', 'TLSRoute'];
  if (opts.experimentalChannel) kinds.push('TCPRoute');
  for (const kind of kinds)
    for (const object of view.list(kind)) {
      try {
        const s = attachRoute(
          acc,
          opts,
          kind,
          object,
          gateways.map((g) => g.gateway),
        );
        if (s !== undefined) routes.push(s);
      } catch (err) {
        const id = idOf(object);
        acc.diagnostics.push({
          kind,
          ...(id?.namespace !== undefined ? { namespace: id.namespace } : {}),
          name: id?.name ?? '',
          field: 'spec',
          message: `cannot translate: ${(err as Error).message}`,
          level: 'error',
        });
      }
    }
  // Traefik (loadTLSRoutes): with TLS routers on an entrypoint, a TLS connection
  // that is neither HTTP nor matched by SNI is closed rather than left to hang
  if (Object.keys(acc.config.tcp.routers ?? {}).some((n) => n.startsWith('tlsroute-'))) {
    acc.config.tcp.routers!['deny-unknown-host'] = {
      rule: 'HostSNI(`*`) && !ALPN(`h2`) && !ALPN(`http/1.1`)',
      priority: 1,
      service: 'deny-unknown-host',
      tls: {},
    };
    acc.config.tcp.services!['deny-unknown-host'] = { loadBalancer: { servers: [] } };
  }
  const addresses = gatewayAddresses(acc, opts);
  return {
    config: acc.config,
    diagnostics: dedupe(acc.diagnostics),
    status: {
      gatewayClasses,
      gateways: gateways.map((g) => gatewayStatus(g.gateway, g.object, addresses)),
      routes,
    },
  };
}

/**
 * spec.tls.frontend (client certificates asked of the clients, GEP-91) is not
 * implemented: serving its terminating listeners without it would let in
 * clients the Gateway means to refuse, so they are not served (fail closed),
 * their Programmed condition and a diagnostic say why, and its plain HTTP
 * and passthrough listeners serve as usual.
 */
function refuseFrontendValidation(acc: Acc, gateway: GwGateway, object: KubeObject): void {
  const frontend = asRecord(asRecord(asRecord(object.spec)?.tls)?.frontend);
  if (frontend === undefined || Object.keys(frontend).length === 0) return;
  const generation = generationOf(object);
  const message =
    'frontend client certificate validation (spec.tls.frontend) is not supported by Portico: ' +
    'this listener is not served rather than served without it';
  let refused = 0;
  for (const l of gateway.listeners) {
    const terminates =
      l.protocol === 'HTTPS' ||
      (l.protocol === 'TLS' && (l.tlsMode ?? 'Terminate') === 'Terminate');
    if (!terminates) continue;
    refused++;
    l.attached = false;
    l.status.conditions = [
      ...l.status.conditions.filter((c) => c.type !== 'Programmed'),
      condition('Programmed', false, 'Invalid', message, generation),
    ];
  }
  if (refused > 0)
    acc.diagnostics.push({
      kind: 'Gateway',
      namespace: gateway.namespace,
      name: gateway.name,
      field: 'spec.tls.frontend',
      message: `not supported by Portico: its ${refused} TLS-terminating listener(s) are not served (fail closed) rather than served without client certificates`,
      level: 'error',
    });
}

function dedupe(list: KubeDiagnostic[]): KubeDiagnostic[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    const k = JSON.stringify([d.kind, d.namespace, d.name, d.field, d.message, d.level]);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function merge(acc: Acc, b: RouteBuild): void {
  Object.assign(acc.config.http.routers!, b.http.routers);
  Object.assign(acc.config.http.services!, b.http.services);
  Object.assign(acc.config.http.middlewares!, b.http.middlewares);
  Object.assign(acc.config.tcp.routers!, b.tcp.routers);
  Object.assign(acc.config.tcp.services!, b.tcp.services);
}

const REASON_TEXT: Record<string, string> = {
  NoMatchingParent: 'no listener of the Gateway matches the parentRef (sectionName, port)',
  NotAllowedByListeners:
    'the listeners do not allow this route (allowedRoutes kinds or namespaces)',
  NoMatchingListenerHostname: 'no hostname in common with the listeners',
};

function attachRoute(
  acc: Acc,
  opts: GatewayProviderOptions,
  kind: RouteKind,
  object: KubeObject,
  gateways: GwGateway[],
): RouteStatus | undefined {
  const id = idOf(object);
  if (id === undefined) return undefined;
  const spec = asRecord(object.spec) ?? {};
  const generation = generationOf(object);
  const route = { kind, namespace: id.namespace, name: id.name, generation, spec };
  const hostnamesOfRoute = kind === 'TCPRoute' ? [] : routeHostnames(spec);
  const parents: RouteParentStatus[] = [];
  for (const [pi, rawRef] of asArray(spec.parentRefs).entries()) {
    const ref = parentRefOf(rawRef);
    if (ref === undefined || !refersToGateway(ref)) continue;
    const gwNamespace =
      ref.namespace !== undefined && ref.namespace !== '' ? ref.namespace : id.namespace;
    const gateway = gateways.find((g) => g.namespace === gwNamespace && g.name === ref.name);
    if (gateway === undefined) continue; // not ours: another controller reports it

    let accepted: Condition = condition('Accepted', false, 'NoMatchingParent', '', generation);
    let resolved: Condition | undefined;
    let build: RouteBuild | undefined;
    const diagnostics: KubeDiagnostic[] = [];
    for (const listener of gateway.listeners) {
      let ok = matchesListener(listener, ref);
      if (ok && !allowsRoute(listener, id.namespace, kind)) {
        if (accepted.status === 'False') accepted.reason = 'NotAllowedByListeners';
        ok = false;
      }
      const { hostnames, ok: hostOk } = matchingHostnames(listener.hostname, hostnamesOfRoute);
      if (ok && !hostOk) {
        if (accepted.status === 'False') accepted.reason = 'NoMatchingListenerHostname';
        ok = false;
      }
      if (ok) listener.status.attachedRoutes++;
      // built for every listener, as Traefik does, so ResolvedRefs is reported even unattached
      const b =
        kind === 'HTTPRoute' || kind === 'GRPCRoute'
          ? buildHttpRoute(acc, opts, { ...route, kind }, listener, hostnames)
          : buildL4Route(acc, opts, { ...route, kind }, listener, hostnames);
      build ??= b;
      diagnostics.push(...b.diagnostics);
      if (resolved === undefined || resolved.status === 'True') resolved = b.resolvedRefs;
      if (ok && listener.attached) {
        merge(acc, b);
        build = b;
        accepted = condition('Accepted', true, 'Accepted', 'Route accepted', generation);
      }
    }
    acc.diagnostics.push(...diagnostics);
    if (accepted.status === 'False') {
      accepted.message = REASON_TEXT[accepted.reason] ?? '';
      acc.diagnostics.push({
        kind,
        namespace: id.namespace,
        name: id.name,
        field: `spec.parentRefs[${pi}]`,
        message: `not attached to Gateway ${gateway.namespace}/${gateway.name}: ${accepted.reason}: ${accepted.message}`,
        level: 'warning',
      });
    }
    const conditions: Condition[] = [accepted];
    if (build !== undefined && build.invalid.length > 0) {
      const what = build.invalid.map((x) => `${x.field}: ${x.message}`).join('; ');
      // every match of every rule unusable: the route is refused; otherwise the rest serves
      if (build.served === 0 && accepted.status === 'True')
        conditions[0] = condition('Accepted', false, 'UnsupportedValue', what, generation);
      else
        conditions.push(
          condition(
            'PartiallyInvalid',
            true,
            'UnsupportedValue',
            `Dropped Rule(s): ${what}`,
            generation,
          ),
        );
    }
    conditions.splice(
      1,
      0,
      resolved ?? condition('ResolvedRefs', true, 'ResolvedRefs', '', generation),
    );
    parents.push({ parentRef: ref, controllerName: gateway.controllerName, conditions });
  }
  if (parents.length === 0) return undefined;
  return { kind, namespace: id.namespace, name: id.name, parents };
}
