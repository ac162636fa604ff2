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
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { asArray, asPort, asRecord, asString } from '../backends.js';
import { GATEWAY_CONTROLLERS, GATEWAY_GROUP, type KubeObject } from '../objects.js';
import {
  condition,
  generationOf,
  idOf,
  labelSelector,
  namespaceLabels,
  referenceGranted,
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

/** The problem with a certificate Secret, or its PEM pair. */
function loadCertificate(
  secret: KubeObject | undefined,
  id: string,
): { cert: string; key: string } | { error: string } {
  if (secret === undefined) return { error: `secret ${id} not found` };
  const read = (k: string): string | undefined => {
    const s = asString(asRecord(secret.stringData)?.[k]);
    if (s !== undefined) return s;
    const b64 = asString(asRecord(secret.data)?.[k]);
    return b64 !== undefined ? Buffer.from(b64, 'base64').toString('utf8') : undefined;
  };
  const cert = read('tls.crt');
  const key = read('tls.key');
  const missing = [
    cert === undefined || cert === '' ? 'tls.crt' : '',
    key === undefined || key === '' ? 'tls.key' : '',
  ].filter((x) => x !== '');
  if (missing.length > 0)
    return { error: `secret ${id} is missing TLS data entries: ${missing.join(', ')}` };
  try {
    new X509Certificate(cert!);
    createPrivateKey(key!);
  } catch (err) {
    return { error: `secret ${id} holds no valid certificate and key: ${(err as Error).message}` };
  }
  return { cert: cert!, key: key! };
}

interface ListenerProblems {
  accepted?: [reason: string, message: string];
  resolvedRefs?: [reason: string, message: string];
  conflicted?: [reason: string, message: string];
}

/** The Gateways of our classes, their listeners ready for routes, and TLS certificates into the config. */
export function loadGateways(
  acc: Acc,
  opts: GatewayProviderOptions,
  classes: Map<string, string>,
): { gateway: GwGateway; object: KubeObject }[] {
  const out: { gateway: GwGateway; object: KubeObject }[] = [];
  const certs = new Map<string, { certFile: string; keyFile: string }>();
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

function loadListeners(
  acc: Acc,
  opts: GatewayProviderOptions,
  gw: KubeObject,
  gateway: GwGateway,
  certs: Map<string, { certFile: string; keyFile: string }>,
): void {
  const gen = generationOf(gw);
  const spec = asRecord(gw.spec) ?? {};
  const rawListeners = asArray(spec.listeners);
  const diag = (field: string, message: string, level: 'error' | 'warning' = 'error') =>
    acc.diagnostics.push({
      kind: 'Gateway',
      namespace: gateway.namespace,
      name: gateway.name,
      field,
      message,
      level,
    });

  // ports shared by listeners of incompatible protocols (spec: ProtocolConflict), and
  // listeners with the same port, protocol and hostname (HostnameConflict)
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

  const names = new Set<string>();
  for (const [i, raw] of rawListeners.entries()) {
    const f = `spec.listeners[${i}]`;
    const l = asRecord(raw);
    const name = str(l?.name) ?? `listener-${i}`;
    const port = asPort(l?.port) ?? 0;
    const protocol = asString(l?.protocol) ?? '';
    const hostname = str(l?.hostname)?.toLowerCase();
    const listener: GwListener = {
      gatewayNamespace: gateway.namespace,
      gatewayName: gateway.name,
      controllerName: gateway.controllerName,
      name,
      port,
      protocol,
      ...(hostname !== undefined ? { hostname } : {}),
      allowedKinds: [],
      allowsNamespace: () => false,
      attached: false,
      status: { name, supportedKinds: [], attachedRoutes: 0, conditions: [] },
    };
    gateway.listeners.push(listener);
    const problems: ListenerProblems = {};
    const fail = (
      which: keyof ListenerProblems,
      reason: string,
      message: string,
      field: string,
    ): void => {
      problems[which] ??= [reason, message];
      diag(`${f}${field}`, message);
    };
    try {
      checkListener();
    } catch (err) {
      fail('accepted', 'Invalid', `cannot translate: ${(err as Error).message}`, '');
    }
    const ok = (p: [string, string] | undefined) => p === undefined;
    listener.attached =
      ok(problems.accepted) && ok(problems.resolvedRefs) && ok(problems.conflicted);
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

    function checkListener(): void {
      if (str(l?.name) === undefined) fail('accepted', 'Invalid', 'listener has no name', '.name');
      else if (names.has(name))
        fail(
          'conflicted',
          'HostnameConflict',
          `listener name ${JSON.stringify(name)} is used twice`,
          '.name',
        );
      names.add(name);
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

      // allowedRoutes.namespaces (default: Same)
      const allowed = asRecord(l?.allowedRoutes);
      const nsSpec = asRecord(allowed?.namespaces);
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

      // allowedRoutes.kinds: the supported ones are kept, the others are InvalidRouteKinds
      const kinds = allowed?.kinds;
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
              `listener protocol ${JSON.stringify(protocol)} does not support RouteGroupKind ${group}/${kind}`,
              `.allowedRoutes.kinds[${k}]`,
            );
        }
      } else listener.allowedKinds = [...supported];
      listener.status.supportedKinds = listener.allowedKinds.map((kind) => ({
        group: GATEWAY_GROUP,
        kind,
      }));

      if ((byPort.get(port)?.size ?? 0) > 1)
        fail(
          'conflicted',
          'ProtocolConflict',
          `port ${port} is used by listeners of incompatible protocols`,
          '.protocol',
        );
      else if ((byKey.get(`${protocol}|${asString(l?.hostname) ?? ''}|${port}`) ?? 0) > 1)
        fail(
          'conflicted',
          'HostnameConflict',
          'a listener with the same protocol, port and hostname already exists',
          '.hostname',
        );

      const tls = l?.tls;
      if (protocol === 'HTTP' || protocol === 'TCP') {
        if (tls !== undefined && tls !== null)
          fail(
            'accepted',
            'InvalidTLSConfiguration',
            'TLS configuration must not be defined when using HTTP or TCP protocol',
            '.tls',
          );
        return;
      }
      // HTTPS and TLS
      const t = asRecord(tls);
      if (t === undefined) {
        fail(
          'accepted',
          'InvalidTLSConfiguration',
          `no TLS configuration for listener ${name}:${port} and protocol ${JSON.stringify(protocol)}`,
          '.tls',
        );
        return;
      }
      const mode = asString(t.mode) ?? 'Terminate';
      listener.tlsMode = mode;
      if (mode !== 'Terminate' && mode !== 'Passthrough') {
        fail(
          'accepted',
          'UnsupportedValue',
          `tls.mode ${JSON.stringify(mode)} is not Terminate or Passthrough`,
          '.tls.mode',
        );
        return;
      }
      if (mode === 'Passthrough') {
        if (protocol === 'HTTPS')
          fail(
            'accepted',
            'UnsupportedProtocol',
            'HTTPS protocol is not supported with TLS mode Passthrough',
            '.tls.mode',
          );
        return;
      }
      const refs = asArray(t.certificateRefs);
      if (refs.length === 0) {
        fail(
          'resolvedRefs',
          'InvalidCertificateRef',
          'one TLS certificateRef is required in Terminate mode',
          '.tls.certificateRefs',
        );
        return;
      }
      const mine = new Map<string, { certFile: string; keyFile: string }>();
      for (const [c, rawRef] of refs.entries()) {
        const cf = `.tls.certificateRefs[${c}]`;
        const ref = asRecord(rawRef);
        const group = asString(ref?.group) ?? '';
        const kind = asString(ref?.kind) ?? 'Secret';
        const refName = str(ref?.name);
        if ((group !== '' && group !== 'core') || kind !== 'Secret' || refName === undefined) {
          fail(
            'resolvedRefs',
            'InvalidCertificateRef',
            refName === undefined
              ? 'certificateRef has no name'
              : `unsupported TLS certificateRef group/kind: ${group}/${kind}`,
            cf,
          );
          continue;
        }
        const ns = str(ref?.namespace) ?? gateway.namespace;
        if (
          !referenceGranted(
            acc.view,
            { kind: 'Gateway', namespace: gateway.namespace },
            { group: '', kind: 'Secret', name: refName, namespace: ns },
          )
        ) {
          fail(
            'resolvedRefs',
            'RefNotPermitted',
            `cannot reference certificateRef ${ns}/${refName}: missing ReferenceGrant`,
            cf,
          );
          continue;
        }
        const key = `${ns}/${refName}`;
        if (mine.has(key)) continue;
        const loaded = loadCertificate(acc.view.get('Secret', ns, refName), key);
        if ('error' in loaded) {
          fail(
            'resolvedRefs',
            'InvalidCertificateRef',
            `cannot load certificateRef ${key}: ${loaded.error}`,
            cf,
          );
          continue;
        }
        mine.set(key, { certFile: loaded.cert, keyFile: loaded.key });
      }
      // Traefik: a listener with any bad reference contributes no certificate
      if (
        problems.resolvedRefs === undefined &&
        problems.accepted === undefined &&
        problems.conflicted === undefined
      )
        for (const [k, v] of mine) if (!certs.has(k)) certs.set(k, v);
    }
  }
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
