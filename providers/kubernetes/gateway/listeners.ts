/*
 * GatewayClasses and Gateways (issue 15 item 1): which classes are ours, each
 * listener of their Gateways mapped to an entrypoint by port, its TLS
 * certificates, the routes it allows, and the conditions the spec asks for
 * on the class, the Gateway and each listener. Mirrors Traefik's
 * loadGatewayListeners / makeGatewayStatus
 * (pkg/provider/kubernetes/gateway/kubernetes.go) and its reasons, with the
 * listener conditions completed as Gateway API v1 defines them (Accepted,
 * Programmed, ResolvedRefs and Conflicted on every listener).
 */
import { asArray, asPort, asRecord, asString } from '../backends.js';
import { GATEWAY_CONTROLLERS, GATEWAY_GROUP, type KubeObject } from '../objects.js';
import {
  condition,
  generationOf,
  idOf,
  labelSelector,
  namespaceLabels,
  str,
  type Acc,
  type GwGateway,
  type GwListener,
} from './common.js';
import type {
  Condition,
  GatewayClassStatus,
  GatewayProviderOptions,
  GatewayStatus,
  RouteKind,
} from './model.js';
import {
  checkListenerTls,
  type CertificateFiles,
  type ListenerCheck,
  type ListenerProblems,
} from './listener-tls.js';

/** The GatewayClasses whose controllerName is ours: name → controllerName; their status. */
export function ourClasses(
  acc: Acc,
  opts: GatewayProviderOptions,
): { classes: Map<string, string>; status: GatewayClassStatus[] } {
  const controllers = opts.controllerNames ?? GATEWAY_CONTROLLERS;
  const classes = new Map<string, string>();
  const status: GatewayClassStatus[] = [];
  for (const gc of acc.view.list('GatewayClass')) {
    const id = idOf(gc);
    const spec = asRecord(gc.spec);
    const controller = asString(spec?.controllerName);
    if (id === undefined || controller === undefined || !controllers.includes(controller)) continue;
    classes.set(id.name, controller);
    const gen = generationOf(gc);
    // Portico defines no parameters kind: a class that asks for one cannot be honoured
    // (GatewayClass reason InvalidParameters, gateway-api apis/v1/gatewayclass_types.go)
    const accepted =
      spec?.parametersRef === undefined || spec.parametersRef === null
        ? condition('Accepted', true, 'Accepted', 'Handled by Portico controller', gen)
        : condition(
            'Accepted',
            false,
            'InvalidParameters',
            'parametersRef is not supported: this controller defines no parameters kind',
            gen,
          );
    if (accepted.status === 'False')
      acc.diagnostics.push({
        kind: 'GatewayClass',
        name: id.name,
        field: 'spec.parametersRef',
        message: accepted.message,
        level: 'warning',
      });
    status.push({ name: id.name, conditions: [accepted] });
  }
  return { classes, status };
}

const KINDS_BY_PROTOCOL: Record<string, RouteKind[]> = {
  HTTP: ['HTTPRoute', 'GRPCRoute'],
  HTTPS: ['HTTPRoute', 'GRPCRoute'],
  TLS: ['TLSRoute'],
  TCP: ['TCPRoute'],
};

/** Traefik's entryPointName: the first entrypoint on the port; HTTP needs one without http.tls. */
function entryPointFor(
  opts: GatewayProviderOptions,
  port: number,
  protocol: string,
): string | undefined {
  for (const [name, ep] of Object.entries(opts.entryPoints)) {
    if (ep.port !== port) continue;
    if (protocol === 'HTTP' && ep.httpTls) continue;
    return name;
  }
  return undefined;
}

/** The Gateways of our classes, their listeners ready for routes, and TLS certificates into the config. */
export function loadGateways(
  acc: Acc,
  opts: GatewayProviderOptions,
  classes: Map<string, string>,
): { gateway: GwGateway; object: KubeObject }[] {
  const out: { gateway: GwGateway; object: KubeObject }[] = [];
  const certs: CertificateFiles = new Map();
  for (const gw of acc.view.list('Gateway')) {
    const id = idOf(gw);
    const spec = asRecord(gw.spec);
    const className = asString(spec?.gatewayClassName);
    if (id === undefined || className === undefined) continue;
    const controllerName = classes.get(className);
    if (controllerName === undefined) continue;
    const gateway: GwGateway = { ...id, controllerName, listeners: [] };
    try {
      loadListeners(acc, opts, gw, gateway, certs);
    } catch (err) {
      // a bug must not take the other Gateways down
      acc.diagnostics.push({
        kind: 'Gateway',
        ...id,
        field: 'spec',
        message: `cannot translate: ${(err as Error).message}`,
        level: 'error',
      });
    }
    out.push({ gateway, object: gw });
  }
  const sorted = [...certs.keys()].sort();
  if (sorted.length > 0)
    acc.config.tls = { ...acc.config.tls, certificates: sorted.map((k) => certs.get(k)!) };
  return out;
}

/** What a Gateway's listeners are checked against together. */
interface GatewayListeners {
  /** listener names seen so far */
  names: Set<string>;
  /** protocol families by port */
  byPort: Map<number, Set<string>>;
  /** how many listeners have each protocol|hostname|port */
  byKey: Map<string, number>;
  /** the config's certificates, shared by all Gateways */
  certs: CertificateFiles;
}

function loadListeners(
  acc: Acc,
  opts: GatewayProviderOptions,
  gw: KubeObject,
  gateway: GwGateway,
  certs: CertificateFiles,
): void {
  const gen = generationOf(gw);
  const spec = asRecord(gw.spec) ?? {};
  const rawListeners = asArray(spec.listeners);
  const shared: GatewayListeners = { names: new Set(), certs, ...listenerConflicts(rawListeners) };
  for (const [i, raw] of rawListeners.entries()) {
    const lc = newListenerCheck(acc, opts, gateway, i, asRecord(raw));
    gateway.listeners.push(lc.listener);
    try {
      checkListener(lc, shared);
    } catch (err) {
      lc.fail('accepted', 'Invalid', `cannot translate: ${(err as Error).message}`, '');
    }
    settleListener(lc.listener, lc.problems, gen);
  }
}

/**
 * Ports shared by listeners of incompatible protocols (spec: ProtocolConflict),
 * and listeners with the same port, protocol and hostname (HostnameConflict).
 */
function listenerConflicts(rawListeners: unknown[]): Pick<GatewayListeners, 'byPort' | 'byKey'> {
  const family = (p: string) => (p === 'HTTPS' || p === 'TLS' ? 'tls' : p);
  const byPort = new Map<number, Set<string>>();
  const byKey = new Map<string, number>();
  for (const raw of rawListeners) {
    const l = asRecord(raw);
    const port = asPort(l?.port);
    const protocol = asString(l?.protocol);
    if (port === undefined || protocol === undefined) continue;
    (byPort.get(port) ?? byPort.set(port, new Set()).get(port)!).add(family(protocol));
    const key = `${protocol}|${asString(l?.hostname) ?? ''}|${port}`;
    byKey.set(key, (byKey.get(key) ?? 0) + 1);
  }
  return { byPort, byKey };
}

/** A listener as written, nothing allowed yet, with its problem recorder. */
function newListenerCheck(
  acc: Acc,
  opts: GatewayProviderOptions,
  gateway: GwGateway,
  i: number,
  l: Record<string, unknown> | undefined,
): ListenerCheck {
  const f = `spec.listeners[${i}]`;
  const name = str(l?.name) ?? `listener-${i}`;
  const hostname = str(l?.hostname)?.toLowerCase();
  const listener: GwListener = {
    gatewayNamespace: gateway.namespace,
    gatewayName: gateway.name,
    controllerName: gateway.controllerName,
    name,
    port: asPort(l?.port) ?? 0,
    protocol: asString(l?.protocol) ?? '',
    ...(hostname !== undefined ? { hostname } : {}),
    allowedKinds: [],
    allowsNamespace: () => false,
    attached: false,
    status: { name, supportedKinds: [], attachedRoutes: 0, conditions: [] },
  };
  const problems: ListenerProblems = {};
  const fail: ListenerCheck['fail'] = (which, reason, message, field) => {
    problems[which] ??= [reason, message];
    acc.diagnostics.push({
      kind: 'Gateway',
      namespace: gateway.namespace,
      name: gateway.name,
      field: `${f}${field}`,
      message,
      level: 'error',
    });
  };
  return { acc, opts, gateway, l, listener, problems, fail };
}

/** attached and the four listener conditions Gateway API v1 defines, from the problems found. */
function settleListener(
  listener: GwListener,
  problems: ListenerProblems,
  gen: number | undefined,
): void {
  const ok = (p: [string, string] | undefined) => p === undefined;
  listener.attached = ok(problems.accepted) && ok(problems.resolvedRefs) && ok(problems.conflicted);
  const conds: Condition[] = [
    problems.accepted
      ? condition('Accepted', false, ...problems.accepted, gen)
      : condition('Accepted', true, 'Accepted', 'No error found', gen),
    listener.attached
      ? condition('Programmed', true, 'Programmed', 'No error found', gen)
      : condition('Programmed', false, 'Invalid', 'The listener is not valid', gen),
    problems.resolvedRefs
      ? condition('ResolvedRefs', false, ...problems.resolvedRefs, gen)
      : condition('ResolvedRefs', true, 'ResolvedRefs', 'No error found', gen),
    problems.conflicted
      ? { ...condition('Conflicted', true, ...problems.conflicted, gen) }
      : condition('Conflicted', false, 'NoConflicts', 'No conflict found', gen),
  ];
  listener.status.conditions = conds;
}

function checkListener(lc: ListenerCheck, shared: GatewayListeners): void {
  const { l, listener, fail, opts } = lc;
  const { name, port, protocol } = listener;
  if (str(l?.name) === undefined) fail('accepted', 'Invalid', 'listener has no name', '.name');
  else if (shared.names.has(name))
    fail(
      'conflicted',
      'HostnameConflict',
      `listener name ${JSON.stringify(name)} is used twice`,
      '.name',
    );
  shared.names.add(name);
  if (port === 0) {
    fail('accepted', 'PortUnavailable', 'listener port must be 1-65535', '.port');
    return;
  }
  const supported = KINDS_BY_PROTOCOL[protocol];
  if (supported === undefined || (protocol === 'TCP' && !opts.experimentalChannel)) {
    fail(
      'accepted',
      'UnsupportedProtocol',
      protocol === 'TCP'
        ? 'protocol "TCP" requires the experimental channel support to be enabled (experimentalChannel)'
        : `unsupported listener protocol ${JSON.stringify(protocol)}`,
      '.protocol',
    );
    return;
  }
  const ep = entryPointFor(opts, port, protocol);
  if (ep === undefined)
    fail(
      'accepted',
      'PortUnavailable',
      `no matching entryPoint for port ${port} and protocol ${JSON.stringify(protocol)}`,
      '.port',
    );
  else listener.epName = ep;

  allowRouteNamespaces(lc);
  allowRouteKinds(lc, supported);

  if ((shared.byPort.get(port)?.size ?? 0) > 1)
    fail(
      'conflicted',
      'ProtocolConflict',
      `port ${port} is used by listeners of incompatible protocols`,
      '.protocol',
    );
  else if ((shared.byKey.get(`${protocol}|${asString(l?.hostname) ?? ''}|${port}`) ?? 0) > 1)
    fail(
      'conflicted',
      'HostnameConflict',
      'a listener with the same protocol, port and hostname already exists',
      '.hostname',
    );

  checkListenerTls(lc, shared.certs);
}

/** allowedRoutes.namespaces (default: Same). */
function allowRouteNamespaces(lc: ListenerCheck): void {
  const { acc, gateway, listener, fail } = lc;
  const nsSpec = asRecord(asRecord(lc.l?.allowedRoutes)?.namespaces);
  const from = asString(nsSpec?.from) ?? 'Same';
  if (from === 'All') listener.allowsNamespace = () => true;
  else if (from === 'Same') listener.allowsNamespace = (ns) => ns === gateway.namespace;
  else if (from === 'Selector') {
    const sel = labelSelector(nsSpec?.selector);
    if (!sel.ok || nsSpec?.selector === undefined) {
      fail(
        'resolvedRefs',
        'InvalidRouteNamespacesSelector',
        `invalid route namespaces selector: ${sel.ok ? 'selector is missing' : sel.message}`,
        '.allowedRoutes.namespaces.selector',
      );
    } else {
      const view = acc.view;
      listener.allowsNamespace = (ns) => sel.matches(namespaceLabels(view, ns));
    }
  } else
    fail(
      'accepted',
      'UnsupportedValue',
      `allowedRoutes.namespaces.from ${JSON.stringify(from)} is not All, Same or Selector`,
      '.allowedRoutes.namespaces.from',
    );
}

/** allowedRoutes.kinds: the supported ones are kept, the others are InvalidRouteKinds. */
function allowRouteKinds(lc: ListenerCheck, supported: RouteKind[]): void {
  const { listener, fail } = lc;
  const kinds = asRecord(lc.l?.allowedRoutes)?.kinds;
  if (Array.isArray(kinds) && kinds.length > 0) {
    for (const [k, rawKind] of kinds.entries()) {
      const rk = asRecord(rawKind);
      const kind = asString(rk?.kind) ?? '';
      const group = asString(rk?.group) ?? GATEWAY_GROUP;
      if (group === GATEWAY_GROUP && (supported as string[]).includes(kind)) {
        if (!listener.allowedKinds.includes(kind)) listener.allowedKinds.push(kind);
      } else
        fail(
          'resolvedRefs',
          'InvalidRouteKinds',
          `listener protocol ${JSON.stringify(listener.protocol)} does not support RouteGroupKind ${group}/${kind}`,
          `.allowedRoutes.kinds[${k}]`,
        );
    }
  } else listener.allowedKinds = [...supported];
  listener.status.supportedKinds = listener.allowedKinds.map((kind) => ({
    group: GATEWAY_GROUP,
    kind,
  }));
}

/** The addresses Traefik's statusAddress gives every Gateway. */
export function gatewayAddresses(
  acc: Acc,
  opts: GatewayProviderOptions,
): GatewayStatus['addresses'] {
  const sa = opts.statusAddress;
  if (sa === undefined) return [];
  if (sa.ip !== undefined && sa.ip !== '') return [{ type: 'IPAddress', value: sa.ip }];
  if (sa.hostname !== undefined && sa.hostname !== '')
    return [{ type: 'Hostname', value: sa.hostname }];
  if (sa.service === undefined) return [];
  const svc = acc.view.get('Service', sa.service.namespace, sa.service.name);
  const out: GatewayStatus['addresses'] = [];
  for (const raw of asArray(asRecord(asRecord(asRecord(svc?.status)?.loadBalancer))?.ingress)) {
    const a = asRecord(raw);
    const ip = str(a?.ip);
    const host = str(a?.hostname);
    if (ip !== undefined) out.push({ type: 'IPAddress', value: ip });
    else if (host !== undefined) out.push({ type: 'Hostname', value: host });
  }
  return out;
}

/** The Gateway's own conditions from its listeners' (Traefik's makeGatewayStatus, v1 reasons). */
export function gatewayStatus(
  g: GwGateway,
  object: KubeObject,
  addresses: GatewayStatus['addresses'],
): GatewayStatus {
  const gen = generationOf(object);
  const invalid = g.listeners.filter((l) => !l.attached).length;
  const none = g.listeners.length === 0 || invalid === g.listeners.length;
  const conditions: Condition[] =
    invalid === 0 && g.listeners.length > 0
      ? [
          condition('Accepted', true, 'Accepted', 'Gateway successfully scheduled', gen),
          condition('Programmed', true, 'Programmed', 'Gateway successfully scheduled', gen),
        ]
      : none
        ? [
            condition('Accepted', false, 'ListenersNotValid', 'All Listeners must be valid', gen),
            condition('Programmed', false, 'Invalid', 'No valid listener', gen),
          ]
        : [
            condition(
              'Accepted',
              true,
              'ListenersNotValid',
              `${invalid} listener(s) not valid`,
              gen,
            ),
            condition('Programmed', true, 'Programmed', 'Valid listeners are programmed', gen),
          ];
  return {
    namespace: g.namespace,
    name: g.name,
    addresses,
    conditions,
    listeners: g.listeners.map((l) => l.status),
  };
}
