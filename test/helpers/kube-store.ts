/*
 * The fake Kubernetes API server's state and semantics (issue 14,
 * ../shared/TESTENV-kubernetes.md sections 4-5), apart from HTTP so that the
 * server (kube-apiserver.ts) and its in-process test API share one code path:
 * the type table, the store with one global resourceVersion counter (an etcd
 * revision) and per-type event history, create/update/delete with the real
 * server's rules (status subresource, no-op writes, 409s, generation, Lease
 * MicroTime), JSON/merge patches, label and field selectors, and the
 * ADDED/DELETED transitions a selector turns events into.
 */
import { randomBytes, randomUUID } from 'node:crypto';

export type Obj = Record<string, any>;

export interface ResourceType {
  group: string; // '' for core
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** has a /status subresource: main writes ignore .status, /status writes only it */
  status?: boolean;
  /** a custom resource: listed items keep kind/apiVersion, DELETE answers the object */
  custom?: boolean;
  /** MicroTime fields (paths), which must carry exactly six fractional digits */
  microTime?: string[][];
}

const CRD_KINDS: [string, string][] = [
  ['ingressroutes', 'IngressRoute'],
  ['ingressroutetcps', 'IngressRouteTCP'],
  ['ingressrouteudps', 'IngressRouteUDP'],
  ['middlewares', 'Middleware'],
  ['middlewaretcps', 'MiddlewareTCP'],
  ['tlsoptions', 'TLSOption'],
  ['tlsstores', 'TLSStore'],
  ['serverstransports', 'ServersTransport'],
  ['serverstransporttcps', 'ServersTransportTCP'],
  ['traefikservices', 'TraefikService'],
];

/** One row: group, version, plural, kind, namespaced, has /status. */
const row = (
  gv: string,
  plural: string,
  kind: string,
  namespaced: boolean,
  status = false,
): ResourceType => {
  const [group, version] = gv.includes('/') ? gv.split('/') : ['', gv];
  return { group: group!, version: version!, plural, kind, namespaced, status };
};

/** Every type the fake serves; routing, discovery and `XList` names come from here. */
export const KUBE_TYPES: ResourceType[] = [
  row('v1', 'namespaces', 'Namespace', false, true),
  row('v1', 'services', 'Service', true, true),
  row('v1', 'secrets', 'Secret', true),
  row('v1', 'endpoints', 'Endpoints', true),
  row('v1', 'configmaps', 'ConfigMap', true),
  row('v1', 'nodes', 'Node', false, true),
  row('v1', 'events', 'Event', true),
  row('v1', 'pods', 'Pod', true, true),
  row('v1', 'serviceaccounts', 'ServiceAccount', true),
  row('discovery.k8s.io/v1', 'endpointslices', 'EndpointSlice', true),
  row('networking.k8s.io/v1', 'ingresses', 'Ingress', true, true),
  row('networking.k8s.io/v1', 'ingressclasses', 'IngressClass', false),
  {
    ...row('coordination.k8s.io/v1', 'leases', 'Lease', true),
    microTime: [
      ['spec', 'acquireTime'],
      ['spec', 'renewTime'],
    ],
  },
  row('events.k8s.io/v1', 'events', 'Event', true),
  row('apps/v1', 'deployments', 'Deployment', true, true),
  row('apps/v1', 'daemonsets', 'DaemonSet', true, true),
  row('policy/v1', 'poddisruptionbudgets', 'PodDisruptionBudget', true, true),
  row('rbac.authorization.k8s.io/v1', 'clusterroles', 'ClusterRole', false),
  row('rbac.authorization.k8s.io/v1', 'clusterrolebindings', 'ClusterRoleBinding', false),
  row('rbac.authorization.k8s.io/v1', 'roles', 'Role', true),
  row('rbac.authorization.k8s.io/v1', 'rolebindings', 'RoleBinding', true),
  row(
    'apiextensions.k8s.io/v1',
    'customresourcedefinitions',
    'CustomResourceDefinition',
    false,
    true,
  ),
  // Gateway API (CRDs, issue 15) at the versions v1.5 serves (ReferenceGrant and TLSRoute v1
  // since 1.5); TCP/UDP routes only in the experimental channel.
  ...(
    [
      ['v1', 'gatewayclasses', 'GatewayClass', false, true],
      ['v1', 'gateways', 'Gateway', true, true],
      ['v1', 'httproutes', 'HTTPRoute', true, true],
      ['v1', 'grpcroutes', 'GRPCRoute', true, true],
      ['v1', 'tlsroutes', 'TLSRoute', true, true],
      ['v1alpha2', 'tcproutes', 'TCPRoute', true, true],
      ['v1alpha2', 'udproutes', 'UDPRoute', true, true],
      ['v1', 'referencegrants', 'ReferenceGrant', true, false],
      ['v1', 'backendtlspolicies', 'BackendTLSPolicy', true, true],
      ['v1', 'listenersets', 'ListenerSet', true, true],
    ] as const
  ).map(([version, plural, kind, namespaced, status]) => ({
    ...row(`gateway.networking.k8s.io/${version}`, plural, kind, namespaced, status),
    custom: true,
  })),
  ...['traefik.io', 'portico.io'].flatMap((group) =>
    CRD_KINDS.map(([plural, kind]) => ({
      ...row(`${group}/v1alpha1`, plural, kind, true),
      custom: true,
    })),
  ),
];

/** kubectl resolves `ns`, `cm`, ... through discovery. */
export const SHORT_NAMES: Record<string, string[]> = {
  '/namespaces': ['ns'],
  '/services': ['svc'],
  '/configmaps': ['cm'],
  '/endpoints': ['ep'],
  '/nodes': ['no'],
  '/events': ['ev'],
  '/pods': ['po'],
  '/serviceaccounts': ['sa'],
  'networking.k8s.io/ingresses': ['ing'],
  'apps/deployments': ['deploy'],
  'apps/daemonsets': ['ds'],
  'policy/poddisruptionbudgets': ['pdb'],
  'apiextensions.k8s.io/customresourcedefinitions': ['crd', 'crds'],
};

export const apiVersionOf = (t: ResourceType): string =>
  t.group ? `${t.group}/${t.version}` : t.version;
export const typeKey = (t: ResourceType): string => `${t.group}/${t.plural}`;
const resourceName = (t: ResourceType): string => (t.group ? `${t.plural}.${t.group}` : t.plural);

/**
 * The type for a plural (`ingresses`), a kind (`Ingress`) or `group/plural`
 * (`portico.io/middlewares`); `apiVersion` picks the group when the name is
 * in both CRD groups (traefik.io otherwise).
 */
export function findType(kindOrPlural: string, apiVersion?: string): ResourceType {
  const slash = kindOrPlural.lastIndexOf('/');
  const group =
    slash >= 0
      ? kindOrPlural.slice(0, slash)
      : apiVersion?.includes('/')
        ? apiVersion.split('/')[0]
        : undefined;
  const name = slash >= 0 ? kindOrPlural.slice(slash + 1) : kindOrPlural;
  const matches = KUBE_TYPES.filter(
    (t) =>
      (t.plural === name.toLowerCase() || t.kind === name) &&
      (group === undefined || t.group === group),
  );
  const t = matches.find((m) => m.group !== 'events.k8s.io') ?? matches[0];
  if (!t) throw new Error(`kube-apiserver: unknown kind ${kindOrPlural}`);
  return t;
}

/** An API error, answered as a Status; the test API throws it. */
export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Obj,
  ) {
    super(message);
  }
  toStatus(): Obj {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

export const notFound = (t: ResourceType, name: string): KubeApiError =>
  new KubeApiError(404, 'NotFound', `${resourceName(t)} "${name}" not found`, {
    name,
    group: t.group,
    kind: t.plural,
  });
export const badRequest = (message: string): KubeApiError =>
  new KubeApiError(400, 'BadRequest', message);
const conflict = (t: ResourceType, name: string): KubeApiError =>
  new KubeApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${resourceName(t)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: t.group, kind: t.plural },
  );

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface HistoryEvent {
  type: EventType;
  rv: number;
  object: Obj;
  prev?: Obj;
}

/**
 * The cluster state, kept apart from the HTTP server so a test can stop the
 * server and start another on the same port with the same objects ("API
 * server restarted").
 */
export interface KubeStore {
  rv: number;
  /** the oldest resourceVersion a watch may start from; older ones get 410 */
  oldestRv: number;
  objects: Map<string, Map<string, Obj>>;
  history: Map<string, HistoryEvent[]>;
  listeners: Set<(t: ResourceType, ev: HistoryEvent) => void>;
}

export function createKubeStore(): KubeStore {
  const store: KubeStore = {
    rv: 0,
    oldestRv: 0,
    objects: new Map(),
    history: new Map(),
    listeners: new Set(),
  };
  for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
    createObject(store, findType('namespaces'), undefined, { metadata: { name: ns } }, true);
  }
  return store;
}

export const clone = <T>(v: T): T => structuredClone(v);
export const isObj = (v: unknown): v is Obj =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((x, i) => deepEqual(x, b[i]))
    );
  }
  if (!isObj(a) || !isObj(b)) return false;
  const ka = Object.keys(a).filter((k) => a[k] !== undefined);
  const kb = Object.keys(b).filter((k) => b[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
}

export const keyOf = (ns: string | undefined, name: string): string => `${ns ?? ''}/${name}`;
const nowSeconds = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
export const bucket = (store: KubeStore, t: ResourceType): Map<string, Obj> => {
  let m = store.objects.get(typeKey(t));
  if (!m) store.objects.set(typeKey(t), (m = new Map()));
  return m;
};

function emit(store: KubeStore, t: ResourceType, ev: HistoryEvent): void {
  let h = store.history.get(typeKey(t));
  if (!h) store.history.set(typeKey(t), (h = []));
  h.push(ev);
  for (const l of store.listeners) l(t, ev);
}

// Go's RFC3339Micro layout: the real server refuses any other precision (a plain Date has 3 digits).
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;
function validate(t: ResourceType, obj: Obj): void {
  for (const path of t.microTime ?? []) {
    let v: unknown = obj;
    for (const p of path) v = isObj(v) ? v[p] : undefined;
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || !MICRO_TIME.test(v)) {
      throw badRequest(
        `${t.kind} in version "${t.version}" cannot be handled as a ${t.kind}: parsing time "${String(v)}" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "${String(v)}" as ".000000"`,
      );
    }
  }
}

export function createObject(
  store: KubeStore,
  t: ResourceType,
  ns: string | undefined,
  body: Obj,
  keepStatus: boolean,
): Obj {
  if (!isObj(body)) throw badRequest('the body of the request was in an unknown format');
  const meta: Obj = isObj(body.metadata) ? clone(body.metadata) : {};
  if (t.namespaced) {
    if (
      meta.namespace !== undefined &&
      meta.namespace !== '' &&
      ns !== undefined &&
      meta.namespace !== ns
    ) {
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    ns = ns ?? meta.namespace;
    if (!ns) throw badRequest('the namespace of the object is required');
    if (!bucket(store, findType('namespaces')).has(keyOf(undefined, ns))) {
      throw new KubeApiError(404, 'NotFound', `namespaces "${ns}" not found`, {
        name: ns,
        kind: 'namespaces',
      });
    }
    meta.namespace = ns;
  } else {
    delete meta.namespace;
  }
  if (!meta.name) {
    if (!meta.generateName) throw badRequest('name or generateName is required');
    meta.name = `${meta.generateName}${randomBytes(4).toString('hex').slice(0, 5)}`;
  }
  const objects = bucket(store, t);
  const key = keyOf(meta.namespace, meta.name);
  if (objects.has(key)) {
    throw new KubeApiError(
      409,
      'AlreadyExists',
      `${resourceName(t)} "${meta.name}" already exists`,
      {
        name: meta.name,
        group: t.group,
        kind: t.plural,
      },
    );
  }
  const obj: Obj = { ...clone(body), apiVersion: apiVersionOf(t), kind: t.kind };
  if (t.status && !keepStatus) delete obj.status;
  if (t.kind === 'Namespace') obj.status = { phase: 'Active', ...(obj.status ?? {}) };
  validate(t, obj);
  store.rv++;
  obj.metadata = {
    ...meta,
    uid: randomUUID(),
    resourceVersion: String(store.rv),
    generation: 1,
    creationTimestamp: nowSeconds(),
  };
  objects.set(key, obj);
  emit(store, t, { type: 'ADDED', rv: store.rv, object: clone(obj) });
  return clone(obj);
}

/** What a write replaces: the main resource (not .status), only .status, or both (test API seeding). */
export type WriteMode = 'main' | 'status' | 'all';

export function writeObject(
  store: KubeStore,
  t: ResourceType,
  ns: string | undefined,
  name: string,
  body: Obj,
  mode: WriteMode,
): Obj {
  if (!isObj(body)) throw badRequest('the body of the request was in an unknown format');
  const objects = bucket(store, t);
  const key = keyOf(t.namespaced ? ns : undefined, name);
  const cur = objects.get(key);
  if (!cur) throw notFound(t, name);
  const meta: Obj = isObj(body.metadata) ? body.metadata : {};
  if (meta.name !== undefined && meta.name !== name) {
    throw badRequest(
      `the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`,
    );
  }
  if (
    t.namespaced &&
    meta.namespace !== undefined &&
    meta.namespace !== '' &&
    meta.namespace !== ns
  ) {
    throw badRequest(
      'the namespace of the provided object does not match the namespace sent on the request',
    );
  }
  const rv = meta.resourceVersion;
  if (rv !== undefined && rv !== '' && rv !== cur.metadata.resourceVersion) throw conflict(t, name);
  let next: Obj;
  if (mode === 'status') {
    next = clone(cur);
    if (body.status === undefined) delete next.status;
    else next.status = clone(body.status);
  } else {
    next = { ...clone(body), apiVersion: apiVersionOf(t), kind: t.kind };
    next.metadata = {
      ...clone(meta),
      name,
      uid: cur.metadata.uid,
      creationTimestamp: cur.metadata.creationTimestamp,
      generation: cur.metadata.generation,
      resourceVersion: cur.metadata.resourceVersion,
    };
    if (t.namespaced) next.metadata.namespace = ns;
    else delete next.metadata.namespace;
    if (mode === 'main' && t.status) {
      if (cur.status === undefined) delete next.status;
      else next.status = clone(cur.status);
    }
  }
  validate(t, next);
  // generation counts changes outside metadata (and outside status when it is a subresource).
  const spec = (o: Obj): Obj => {
    const { metadata: _m, status: _s, ...rest } = o;
    return t.status ? rest : { ...rest, status: _s };
  };
  if (!deepEqual(spec(next), spec(cur)))
    next.metadata.generation = (cur.metadata.generation ?? 0) + 1;
  // A no-op write keeps the resourceVersion and emits nothing, as on a real server.
  if (deepEqual(next, cur)) return clone(cur);
  store.rv++;
  next.metadata.resourceVersion = String(store.rv);
  objects.set(key, next);
  emit(store, t, { type: 'MODIFIED', rv: store.rv, object: clone(next), prev: clone(cur) });
  return clone(next);
}

export function deleteObject(
  store: KubeStore,
  t: ResourceType,
  ns: string | undefined,
  name: string,
  body?: Obj,
): Obj {
  const objects = bucket(store, t);
  const key = keyOf(t.namespaced ? ns : undefined, name);
  const cur = objects.get(key);
  if (!cur) throw notFound(t, name);
  const pre = isObj(body) && isObj(body.preconditions) ? body.preconditions : {};
  if (pre.resourceVersion !== undefined && pre.resourceVersion !== cur.metadata.resourceVersion)
    throw conflict(t, name);
  if (pre.uid !== undefined && pre.uid !== cur.metadata.uid) throw conflict(t, name);
  if (t.kind === 'Namespace') {
    // Cascades at once (a real server goes through the Terminating phase).
    for (const other of KUBE_TYPES) {
      if (!other.namespaced) continue;
      for (const o of [...bucket(store, other).values()]) {
        if (o.metadata.namespace === name) deleteObject(store, other, name, o.metadata.name);
      }
    }
  }
  objects.delete(key);
  store.rv++;
  const last = clone(cur);
  last.metadata.resourceVersion = String(store.rv);
  emit(store, t, { type: 'DELETED', rv: store.rv, object: last });
  return clone(last);
}

// RFC 6902 JSON Patch.
function applyJsonPatch(doc: Obj, ops: unknown): Obj {
  if (!Array.isArray(ops)) throw badRequest('json patch must be an array of operations');
  const root: { v: unknown } = { v: clone(doc) };
  const parse = (p: unknown): string[] => {
    if (typeof p !== 'string' || (p !== '' && !p.startsWith('/')))
      throw badRequest(`invalid json pointer ${String(p)}`);
    return p === ''
      ? []
      : p
          .slice(1)
          .split('/')
          .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  };
  const parentOf = (path: string[]): [Obj | unknown[], string] => {
    let c: unknown = root;
    const segs = ['v', ...path];
    for (const s of segs.slice(0, -1)) {
      c = Array.isArray(c) ? c[Number(s)] : isObj(c) ? c[s] : undefined;
      if (c === undefined || c === null || typeof c !== 'object')
        throw new KubeApiError(422, 'Invalid', `path /${path.join('/')} does not exist`);
    }
    return [c as Obj, segs[segs.length - 1]!];
  };
  const get = (path: string[]): unknown => {
    const [p, k] = parentOf(path);
    const v = Array.isArray(p) ? p[Number(k)] : p[k];
    if (v === undefined)
      throw new KubeApiError(422, 'Invalid', `path /${path.join('/')} does not exist`);
    return v;
  };
  const add = (path: string[], value: unknown): void => {
    const [p, k] = parentOf(path);
    if (Array.isArray(p)) p.splice(k === '-' ? p.length : Number(k), 0, value);
    else p[k] = value;
  };
  const remove = (path: string[]): unknown => {
    const v = get(path);
    const [p, k] = parentOf(path);
    if (Array.isArray(p)) p.splice(Number(k), 1);
    else delete p[k];
    return v;
  };
  for (const op of ops) {
    if (!isObj(op)) throw badRequest('invalid json patch operation');
    const path = parse(op.path);
    switch (op.op) {
      case 'add':
        add(path, clone(op.value));
        break;
      case 'remove':
        remove(path);
        break;
      case 'replace':
        get(path);
        if (path.length === 0) root.v = clone(op.value);
        else {
          const [p, k] = parentOf(path);
          if (Array.isArray(p)) p[Number(k)] = clone(op.value);
          else p[k] = clone(op.value);
        }
        break;
      case 'move':
        add(path, remove(parse(op.from)));
        break;
      case 'copy':
        add(path, clone(get(parse(op.from))));
        break;
      case 'test':
        if (!deepEqual(get(path), op.value))
          throw new KubeApiError(422, 'Invalid', `test failed at ${String(op.path)}`);
        break;
      default:
        throw badRequest(`unknown json patch operation ${String(op.op)}`);
    }
  }
  if (!isObj(root.v)) throw badRequest('json patch result is not an object');
  return root.v;
}

// RFC 7386 JSON Merge Patch.
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch);
  const out: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * Merge keys of the lists kubectl patches most (the real server reads them
 * from Go struct tags): what a strategic patch without `$setElementOrder`
 * needs to merge a list element by element instead of replacing it.
 */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  imagePullSecrets: 'name',
  volumeMounts: 'mountPath',
  hostAliases: 'ip',
  conditions: 'type',
};

/**
 * Strategic merge patch, the parts kubectl apply sends: maps merge as in a
 * merge patch; a list merges element by element on its merge key (named by
 * `$setElementOrder/<list>`, which also gives the order, or known from
 * MERGE_KEYS), `{$patch: delete}` removes an element,
 * `$deleteFromPrimitiveList/<list>` removes values, `$patch: replace`
 * replaces a map; other lists are replaced whole (atomic), `$retainKeys` is
 * ignored.
 */
function strategicPatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _p, ...rest } = patch;
    return strategicPatch(undefined, rest);
  }
  const out: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) {
      delete out[k];
      continue;
    }
    const order: unknown = patch[`$setElementOrder/${k}`];
    const first = Array.isArray(order) ? order.find(isObj) : undefined;
    const key =
      (first ? Object.keys(first)[0] : undefined) ??
      MERGE_KEYS[k] ??
      (k === 'ports' && Array.isArray(v) && v.some((e) => isObj(e) && 'containerPort' in e)
        ? 'containerPort'
        : undefined);
    if (Array.isArray(v) && (key !== undefined || Array.isArray(order))) {
      out[k] = mergeList(out[k], v, key, Array.isArray(order) ? order : undefined);
    } else {
      out[k] = strategicPatch(out[k], v);
    }
  }
  for (const [k, v] of Object.entries(patch)) {
    const list = k.startsWith('$deleteFromPrimitiveList/') ? k.split('/')[1]! : undefined;
    if (list !== undefined && Array.isArray(out[list]) && Array.isArray(v)) {
      out[list] = (out[list] as unknown[]).filter((x) => !v.includes(x));
    }
    const ordered = k.startsWith('$setElementOrder/') ? k.split('/')[1]! : undefined;
    if (
      ordered !== undefined &&
      !(ordered in patch) &&
      Array.isArray(out[ordered]) &&
      Array.isArray(v)
    ) {
      out[ordered] = mergeList(out[ordered], [], isObj(v[0]) ? Object.keys(v[0])[0] : undefined, v);
    }
  }
  return out;
}

function mergeList(
  cur: unknown,
  patch: unknown[],
  key: string | undefined,
  order?: unknown[],
): unknown[] {
  const result: unknown[] = Array.isArray(cur) ? cur.map(clone) : [];
  const same = (a: unknown, b: unknown): boolean =>
    key !== undefined ? isObj(a) && isObj(b) && a[key] === b[key] : deepEqual(a, b);
  for (const el of patch) {
    const i = result.findIndex((r) => same(r, el));
    if (isObj(el) && el.$patch === 'delete') {
      if (i >= 0) result.splice(i, 1);
    } else if (i >= 0) result[i] = key !== undefined ? strategicPatch(result[i], el) : el;
    else result.push(key !== undefined ? strategicPatch(undefined, el) : clone(el));
  }
  if (!order) return result;
  // $setElementOrder lists the final order; elements it does not name keep theirs, after.
  const rank = (e: unknown): number => {
    const i = order.findIndex((o) => same(e, o));
    return i < 0 ? order.length : i;
  };
  return result
    .map((e, i) => ({ e, i }))
    .sort((a, b) => rank(a.e) - rank(b.e) || a.i - b.i)
    .map((x) => x.e);
}

export type PatchType = 'json' | 'merge' | 'strategic';
export const PATCH_TYPES: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
};

export function patchObject(
  store: KubeStore,
  t: ResourceType,
  ns: string | undefined,
  name: string,
  patch: unknown,
  type: PatchType,
  mode: WriteMode,
): Obj {
  const cur = bucket(store, t).get(keyOf(t.namespaced ? ns : undefined, name));
  if (!cur) throw notFound(t, name);
  const next =
    type === 'json'
      ? applyJsonPatch(cur, patch)
      : type === 'strategic'
        ? strategicPatch(cur, patch)
        : mergePatch(cur, patch);
  if (!isObj(next)) throw badRequest('patch result is not an object');
  // A resourceVersion the patch sets is a precondition (writeObject compares it).
  return writeObject(store, t, ns, name, next, mode);
}

// Label selectors (=, ==, !=, in, notin, exists, !exists) and field selectors (=, ==, !=) on any dotted path.
type Requirement = {
  key: string;
  op: 'eq' | 'neq' | 'in' | 'notin' | 'exists' | 'absent';
  values: string[];
};
function parseLabelSelector(s: string | undefined): Requirement[] {
  if (!s) return [];
  const terms: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(cur);
      cur = '';
    } else cur += ch;
  }
  terms.push(cur);
  return terms.map((raw) => {
    const term = raw.trim();
    let m = /^([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m)
      return {
        key: m[1]!,
        op: m[2] as 'in' | 'notin',
        values: m[3]!.split(',').map((v) => v.trim()),
      };
    m = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(term);
    if (m) return { key: m[1]!, op: m[2] === '!=' ? 'neq' : 'eq', values: [m[3]!] };
    m = /^(!?)([^\s!=(),]+)$/.exec(term);
    if (m) return { key: m[2]!, op: m[1] ? 'absent' : 'exists', values: [] };
    throw badRequest(`unable to parse requirement: ${term}`);
  });
}

function matches(reqs: Requirement[], lookup: (key: string) => string | undefined): boolean {
  return reqs.every(({ key, op, values }) => {
    const v = lookup(key);
    switch (op) {
      case 'eq':
      case 'in':
        return v !== undefined && values.includes(v);
      case 'neq':
      case 'notin':
        return v === undefined || !values.includes(v);
      case 'exists':
        return v !== undefined;
      case 'absent':
        return v === undefined;
    }
  });
}

export function selector(
  query: Record<string, string>,
  ns: string | undefined,
): (o: Obj) => boolean {
  const labels = parseLabelSelector(query.labelSelector);
  const fields = parseLabelSelector(query.fieldSelector);
  if (fields.some((f) => f.op !== 'eq' && f.op !== 'neq'))
    throw badRequest(`invalid field selector: ${query.fieldSelector}`);
  return (o) => {
    if (ns !== undefined && o.metadata?.namespace !== ns) return false;
    const l: Obj = o.metadata?.labels ?? {};
    const fieldOf = (path: string): string | undefined => {
      let v: unknown = o;
      for (const p of path.split('.')) v = isObj(v) ? v[p] : undefined;
      return v === undefined || v === null
        ? path === 'metadata.namespace'
          ? ''
          : undefined
        : String(v);
    };
    return (
      matches(labels, (k) => (typeof l[k] === 'string' ? l[k] : undefined)) &&
      matches(fields, fieldOf)
    );
  };
}

export function listObjects(
  store: KubeStore,
  t: ResourceType,
  ns: string | undefined,
  match: (o: Obj) => boolean,
): Obj[] {
  return [...bucket(store, t).values()]
    .filter((o) => (ns === undefined || o.metadata.namespace === ns) && match(o))
    .sort((a, b) => {
      const ka = keyOf(a.metadata.namespace, a.metadata.name);
      const kb = keyOf(b.metadata.namespace, b.metadata.name);
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    })
    .map(clone);
}

/** Built-in items carry no kind/apiVersion in a list (kubernetes#3030); custom resources keep them. */
export const listItem = (t: ResourceType, o: Obj): Obj => {
  if (t.custom) return o;
  const { kind: _k, apiVersion: _a, ...rest } = o;
  return rest;
};

/** What a watch with that selector sees of one stored event (ADDED/DELETED on selector transitions). */
export function transition(
  ev: HistoryEvent,
  match: (o: Obj) => boolean,
): { type: string; object: Obj } | undefined {
  const now = match(ev.object);
  if (ev.type !== 'MODIFIED') return now ? { type: ev.type, object: ev.object } : undefined;
  const was = ev.prev !== undefined && match(ev.prev);
  if (now && was) return { type: 'MODIFIED', object: ev.object };
  if (now) return { type: 'ADDED', object: ev.object };
  if (was) {
    const last = clone(ev.prev!);
    last.metadata.resourceVersion = String(ev.rv);
    return { type: 'DELETED', object: last };
  }
  return undefined;
}
