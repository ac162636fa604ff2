/*
 * What the Gateway API translator's parts share (issue 15): the listeners as
 * the routes see them, conditions, ReferenceGrant checks, hostname
 * intersection, label selectors on Namespaces, and Traefik's names
 * (pkg/provider/kubernetes/gateway: makeRouterName, provider.Normalize,
 * regexp.QuoteMeta), so that routers, services and middlewares carry the
 * names Traefik gives them (`httproute-default-app-gw-default-gw-ep-web-0-<hash>`).
 *
 * Every object is hostile input (objects.ts): fields are read through the
 * readers of backends.ts and nothing here throws.
 */
import { createHash } from 'node:crypto';
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import { asArray, asRecord, asString } from '../backends.js';
import {
  GATEWAY_GROUP,
  type ClusterView,
  type KubeDiagnostic,
  type KubeObject,
} from '../objects.js';
import type { Condition, ListenerStatus, ParentRef, RouteKind } from './model.js';

export { goQuote, normalizeName } from '../ingress/rules.js';

/** One listener of one of our Gateways, as routes attach to it. */
export interface GwListener {
  gatewayNamespace: string;
  gatewayName: string;
  controllerName: string;
  name: string;
  port: number;
  protocol: string;
  hostname?: string;
  /** TLS and HTTPS listeners: Terminate (default) or Passthrough */
  tlsMode?: string;
  /** the entrypoint its routers go to; undefined when none has the port */
  epName?: string;
  /** the route kinds it takes (after allowedRoutes.kinds) */
  allowedKinds: string[];
  allowsNamespace: (namespace: string) => boolean;
  /** valid: routes attached to it are served (Traefik's gatewayListener.Attached) */
  attached: boolean;
  status: ListenerStatus;
}

export interface GwGateway {
  namespace: string;
  name: string;
  controllerName: string;
  listeners: GwListener[];
}

/** The translation being built, shared by the parts. */
export interface Acc {
  view: ClusterView;
  config: DynamicConfig & {
    http: NonNullable<DynamicConfig['http']>;
    tcp: NonNullable<DynamicConfig['tcp']>;
  };
  diagnostics: KubeDiagnostic[];
}

export function condition(
  type: string,
  ok: boolean,
  reason: string,
  message: string,
  generation: number | undefined,
): Condition {
  return {
    type,
    status: ok ? 'True' : 'False',
    reason,
    message,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
}

export function generationOf(o: KubeObject): number | undefined {
  const g = asRecord(o.metadata)?.generation;
  return typeof g === 'number' && Number.isInteger(g) ? g : undefined;
}

/** `name` and `namespace` of an object, or undefined when metadata is not usable. */
export function idOf(o: KubeObject): { namespace: string; name: string } | undefined {
  const m = asRecord(o.metadata);
  const name = asString(m?.name);
  const namespace = asString(m?.namespace) ?? '';
  return name !== undefined && name !== '' ? { namespace, name } : undefined;
}

/** A string field that must be a non-empty string to be used. */
export function str(v: unknown): string | undefined {
  const s = asString(v);
  return s !== undefined && s !== '' ? s : undefined;
}

/** Go's regexp.QuoteMeta. */
export function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/** Traefik's makeRouterName: the route key and the first 10 bytes of sha256(rule), in hex. */
export function makeRouterName(rule: string, key: string): string {
  return `${key}-${createHash('sha256').update(rule).digest('hex').slice(0, 20)}`;
}

/* -------------------------------------------------------------- parentRefs */

/** A parentRef as written, for the status (fields of the wrong type left out). */
export function parentRefOf(raw: unknown): ParentRef | undefined {
  const r = asRecord(raw);
  const name = str(r?.name);
  if (r === undefined || name === undefined) return undefined;
  const out: ParentRef = { name };
  const group = asString(r.group);
  if (group !== undefined) out.group = group;
  const kind = asString(r.kind);
  if (kind !== undefined) out.kind = kind;
  const namespace = asString(r.namespace);
  if (namespace !== undefined) out.namespace = namespace;
  const sectionName = asString(r.sectionName);
  if (sectionName !== undefined) out.sectionName = sectionName;
  if (typeof r.port === 'number' && Number.isInteger(r.port)) out.port = r.port;
  return out;
}

/** Whether a parentRef names a Gateway (the default kind) of the Gateway API group. */
export function refersToGateway(ref: ParentRef): boolean {
  return (ref.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && (ref.kind ?? 'Gateway') === 'Gateway';
}

/** Traefik's matchListener: sectionName and port narrow the listeners a parentRef targets. */
export function matchesListener(l: GwListener, ref: ParentRef): boolean {
  if (ref.sectionName !== undefined && ref.sectionName !== '' && ref.sectionName !== l.name)
    return false;
  return ref.port === undefined || ref.port === l.port;
}

export function allowsRoute(l: GwListener, namespace: string, kind: RouteKind): boolean {
  return l.allowedKinds.includes(kind) && l.allowsNamespace(namespace);
}

/* --------------------------------------------------------------- hostnames */

/**
 * Traefik's findMatchingHostname: the intersection of two hostnames, one of
 * which may be a wildcard covering the other (`*.example.com` covers
 * `a.example.com` and `a.b.example.com`, not `example.com`).
 */
function intersect(h1: string, h2: string): string | undefined {
  if (h1 === h2) return h1;
  if (!h1.startsWith('*.')) return undefined;
  return h2.endsWith(h1.slice(1)) ? h2 : undefined;
}

/**
 * The hostnames a route serves on a listener (Gateway API: the intersection
 * of the listener's hostname and the route's); `ok` false when they have
 * none in common (NoMatchingListenerHostname).
 */
export function matchingHostnames(
  listener: string | undefined,
  route: string[],
): { hostnames: string[]; ok: boolean } {
  if (listener === undefined) return { hostnames: route, ok: true };
  if (route.length === 0) return { hostnames: [listener], ok: true };
  const out: string[] = [];
  for (const h of route) {
    const m = intersect(listener, h) ?? intersect(h, listener);
    if (m !== undefined) out.push(m);
  }
  return { hostnames: out, ok: out.length > 0 };
}

/** spec.hostnames of a route: strings only, lower-cased (DNS names are case-insensitive). */
export function routeHostnames(spec: Record<string, unknown>): string[] {
  return asArray(spec.hostnames)
    .map((h) => str(h)?.toLowerCase())
    .filter((h): h is string => h !== undefined);
}

/* ---------------------------------------------------------- ReferenceGrant */

/**
 * Whether an object of kind `fromKind` (of the Gateway API group) in
 * `fromNamespace` may refer to `toGroup/toKind` named `toName` in
 * `toNamespace`: always in its own namespace, otherwise only if a
 * ReferenceGrant in the target namespace allows it (gateway-api
 * ReferenceGrant: `from` namespace+kind+group, `to` group+kind and name if
 * set; the core group is "").
 */
export function referenceGranted(
  view: ClusterView,
  from: { kind: string; namespace: string },
  to: { group: string; kind: string; name: string; namespace: string },
): boolean {
  if (from.namespace === to.namespace) return true;
  const core = (g: unknown): string => {
    const s = asString(g) ?? '';
    return s === 'core' ? '' : s;
  };
  for (const grant of view.list('ReferenceGrant', to.namespace)) {
    const spec = asRecord(grant.spec);
    const fromOk = asArray(spec?.from).some((raw) => {
      const f = asRecord(raw);
      return (
        f !== undefined &&
        f.namespace === from.namespace &&
        f.kind === from.kind &&
        asString(f.group) === GATEWAY_GROUP
      );
    });
    if (!fromOk) continue;
    const toOk = asArray(spec?.to).some((raw) => {
      const t = asRecord(raw);
      if (t === undefined || t.kind !== to.kind || core(t.group) !== core(to.group)) return false;
      const name = asString(t.name);
      return name === undefined || name === '' || name === to.name;
    });
    if (toOk) return true;
  }
  return false;
}

/* ----------------------------------------------------------- label selector */

/**
 * metav1.LabelSelector (matchLabels and matchExpressions with In, NotIn,
 * Exists, DoesNotExist) as a predicate; undefined with the reason when it is
 * malformed (Traefik: InvalidRouteNamespacesSelector). An empty selector
 * selects everything, as in Kubernetes.
 */
export function labelSelector(
  raw: unknown,
):
  | { ok: true; matches: (labels: Record<string, unknown>) => boolean }
  | { ok: false; message: string } {
  if (raw === undefined || raw === null) return { ok: true, matches: () => true };
  const sel = asRecord(raw);
  if (sel === undefined) return { ok: false, message: 'selector must be an object' };
  const checks: ((labels: Record<string, unknown>) => boolean)[] = [];
  const ml = sel.matchLabels;
  if (ml !== undefined && ml !== null) {
    const m = asRecord(ml);
    if (m === undefined) return { ok: false, message: 'matchLabels must be an object' };
    for (const [k, v] of Object.entries(m)) {
      if (typeof v !== 'string') return { ok: false, message: `matchLabels.${k} must be a string` };
      checks.push((labels) => labels[k] === v);
    }
  }
  const me = sel.matchExpressions;
  if (me !== undefined && me !== null && !Array.isArray(me))
    return { ok: false, message: 'matchExpressions must be a list' };
  for (const [i, rawExpr] of asArray(me).entries()) {
    const e = asRecord(rawExpr);
    const key = str(e?.key);
    const op = asString(e?.operator);
    const values = asArray(e?.values);
    if (key === undefined) return { ok: false, message: `matchExpressions[${i}].key is missing` };
    if (!values.every((v) => typeof v === 'string'))
      return { ok: false, message: `matchExpressions[${i}].values must be strings` };
    const set = new Set(values as string[]);
    switch (op) {
      case 'In':
      case 'NotIn':
        if (set.size === 0)
          return { ok: false, message: `matchExpressions[${i}]: ${op} needs values` };
        checks.push((labels) => {
          const v = labels[key];
          const has = typeof v === 'string' && set.has(v);
          return op === 'In' ? has : !has;
        });
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (set.size > 0)
          return { ok: false, message: `matchExpressions[${i}]: ${op} takes no values` };
        checks.push((labels) => (typeof labels[key] === 'string') === (op === 'Exists'));
        break;
      default:
        return {
          ok: false,
          message: `matchExpressions[${i}].operator ${JSON.stringify(op ?? null)} is not In, NotIn, Exists or DoesNotExist`,
        };
    }
  }
  return { ok: true, matches: (labels) => checks.every((c) => c(labels)) };
}

/** Labels of a Namespace object (hostile: anything but string values is ignored by the checks). */
export function namespaceLabels(view: ClusterView, namespace: string): Record<string, unknown> {
  const ns =
    view.get('Namespace', undefined, namespace) ??
    view.list('Namespace').find((o) => asRecord(o.metadata)?.name === namespace);
  const labels = asRecord(asRecord(ns?.metadata)?.labels) ?? {};
  // Kubernetes sets kubernetes.io/metadata.name on every Namespace; a view built from files may not
  return { 'kubernetes.io/metadata.name': namespace, ...labels };
}
