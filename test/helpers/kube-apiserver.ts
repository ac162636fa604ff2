/*
 * A small Kubernetes API server on 127.0.0.1 for tests (issue 14): no
 * kube-apiserver runs on these machines, so the providers' tests talk to this
 * one through @kubernetes/client-node unmodified. It speaks the real REST and
 * watch protocol as ../shared/TESTENV-kubernetes.md sections 3-6 describe:
 * one global resourceVersion counter (an etcd revision), JSON lists and
 * newline-delimited watch streams, 410 Gone after compaction, selector
 * transitions, the status subresource, Lease MicroTime validation, discovery.
 *
 * The test API (create/update/patch/delete/get/list) runs the same code as
 * the HTTP handlers, so a watch sees the same events either way. Limits (by
 * design): no authentication, no admission, strategic merge is a merge patch,
 * no server-side apply (415), namespace deletion cascades at once.
 */
import http from 'node:http';
import { randomUUID, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

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

const core = (plural: string, kind: string, namespaced = true, status = false): ResourceType => ({
  group: '',
  version: 'v1',
  plural,
  kind,
  namespaced,
  status,
});

/** Every type the fake serves; routing, discovery and `XList` names come from here. */
export const KUBE_TYPES: ResourceType[] = [
  core('namespaces', 'Namespace', false, true),
  core('services', 'Service', true, true),
  core('secrets', 'Secret'),
  core('endpoints', 'Endpoints'),
  core('configmaps', 'ConfigMap'),
  core('nodes', 'Node', false, true),
  core('events', 'Event'),
  core('pods', 'Pod', true, true),
  core('serviceaccounts', 'ServiceAccount'),
  {
    group: 'discovery.k8s.io',
    version: 'v1',
    plural: 'endpointslices',
    kind: 'EndpointSlice',
    namespaced: true,
  },
  {
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'ingresses',
    kind: 'Ingress',
    namespaced: true,
    status: true,
  },
  {
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'ingressclasses',
    kind: 'IngressClass',
    namespaced: false,
  },
  {
    group: 'coordination.k8s.io',
    version: 'v1',
    plural: 'leases',
    kind: 'Lease',
    namespaced: true,
    microTime: [
      ['spec', 'acquireTime'],
      ['spec', 'renewTime'],
    ],
  },
  { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true },
  {
    group: 'apps',
    version: 'v1',
    plural: 'deployments',
    kind: 'Deployment',
    namespaced: true,
    status: true,
  },
  {
    group: 'apps',
    version: 'v1',
    plural: 'daemonsets',
    kind: 'DaemonSet',
    namespaced: true,
    status: true,
  },
  {
    group: 'policy',
    version: 'v1',
    plural: 'poddisruptionbudgets',
    kind: 'PodDisruptionBudget',
    namespaced: true,
    status: true,
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    plural: 'clusterroles',
    kind: 'ClusterRole',
    namespaced: false,
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    plural: 'clusterrolebindings',
    kind: 'ClusterRoleBinding',
    namespaced: false,
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    plural: 'roles',
    kind: 'Role',
    namespaced: true,
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    plural: 'rolebindings',
    kind: 'RoleBinding',
    namespaced: true,
  },
  {
    group: 'apiextensions.k8s.io',
    version: 'v1',
    plural: 'customresourcedefinitions',
    kind: 'CustomResourceDefinition',
    namespaced: false,
    status: true,
  },
  ...['traefik.io', 'portico.io'].flatMap((group) =>
    CRD_KINDS.map(([plural, kind]) => ({
      group,
      version: 'v1alpha1',
      plural,
      kind,
      namespaced: true,
      custom: true,
    })),
  ),
];

/** kubectl resolves `ns`, `cm`, ... through discovery. */
const SHORT_NAMES: Record<string, string[]> = {
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

const apiVersionOf = (t: ResourceType): string => (t.group ? `${t.group}/${t.version}` : t.version);
const typeKey = (t: ResourceType): string => `${t.group}/${t.plural}`;
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

const notFound = (t: ResourceType, name: string): KubeApiError =>
  new KubeApiError(404, 'NotFound', `${resourceName(t)} "${name}" not found`, {
    name,
    group: t.group,
    kind: t.plural,
  });
const badRequest = (message: string): KubeApiError => new KubeApiError(400, 'BadRequest', message);
const conflict = (t: ResourceType, name: string): KubeApiError =>
  new KubeApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${resourceName(t)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: t.group, kind: t.plural },
  );

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
interface HistoryEvent {
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

const clone = <T>(v: T): T => structuredClone(v);
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

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

const keyOf = (ns: string | undefined, name: string): string => `${ns ?? ''}/${name}`;
const nowSeconds = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const bucket = (store: KubeStore, t: ResourceType): Map<string, Obj> => {
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

function createObject(
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

function writeObject(
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

function deleteObject(
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

// RFC 7386 JSON Merge Patch; strategic merge is handled as one (directives dropped).
function mergePatch(target: unknown, patch: unknown, strategic: boolean): unknown {
  if (!isObj(patch)) return clone(patch);
  const out: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (strategic && k.startsWith('$')) continue;
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v, strategic);
  }
  return out;
}

export type PatchType = 'json' | 'merge' | 'strategic';
const PATCH_TYPES: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
};

function patchObject(
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
    type === 'json' ? applyJsonPatch(cur, patch) : mergePatch(cur, patch, type === 'strategic');
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

function selector(query: Record<string, string>, ns: string | undefined): (o: Obj) => boolean {
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

function listObjects(
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
const listItem = (t: ResourceType, o: Obj): Obj => {
  if (t.custom) return o;
  const { kind: _k, apiVersion: _a, ...rest } = o;
  return rest;
};

/** What a watch with that selector sees of one stored event (ADDED/DELETED on selector transitions). */
function transition(
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

export interface RequestLogEntry {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  /** the parsed JSON body, when there was one */
  body: unknown;
  status: number;
  watch: boolean;
  /** the bearer token sent (kubeConfig({ token }) tells replicas apart) */
  token: string | undefined;
}

export interface FaultRule {
  method?: string;
  /** matched against the path (a string matches when the path ends with it) */
  path?: string | RegExp;
  /** only watch requests (true) or only the others (false) */
  watch?: boolean;
  /** the answer: a Status with this code; 0 drops the connection without answering */
  status: number;
  /** never answer at all (a hung API server; stop() ends it) */
  hang?: boolean;
  /** how many requests fail (default 1) */
  times?: number;
  message?: string;
}

export interface KubeApiServerOptions {
  /** listen on this port (restart a stopped server on the same one); default 0 */
  port?: number;
  /** reuse a store (objects, history, rv), e.g. the one of a stopped server */
  store?: KubeStore;
  /** server-side watch timeout when the client sends no timeoutSeconds (real: 1800-3600 s) */
  watchTimeoutSeconds?: number;
  /** interval of bookmarks on watches that ask for them (real: about 60 s) */
  bookmarkIntervalMs?: number;
}

interface Watcher {
  t: ResourceType;
  match: (o: Obj) => boolean;
  res: http.ServerResponse;
  paused: boolean;
  timers: NodeJS.Timeout[];
}

export interface KubeApiServer {
  url: string;
  port: number;
  store: KubeStore;
  requests: RequestLogEntry[];
  /** create (keeps .status, creates a missing namespace) */
  create(kind: string, obj: Obj): Obj;
  /** replace spec and status in one write (a real client needs two: main and /status) */
  update(kind: string, obj: Obj, mode?: WriteMode): Obj;
  patch(
    kind: string,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    opts?: { type?: PatchType; mode?: WriteMode },
  ): Obj;
  delete(kind: string, namespace: string | undefined, name: string): Obj;
  get(kind: string, namespace: string | undefined, name: string): Obj | undefined;
  list(kind: string, namespace?: string): Obj[];
  /** the current resourceVersion */
  rv(): number;
  /** forget the event history: watches from an older resourceVersion get 410 Gone */
  compact(): void;
  /** open watch streams miss every event from now on (until resumeWatches) */
  pauseWatches(): void;
  resumeWatches(): void;
  /** end every open watch stream (clients reconnect with their last resourceVersion) */
  closeWatches(): void;
  /** the open watch streams, of one kind when given */
  openWatches(kind?: string): number;
  setWatch410Mode(mode: 'event' | 'http'): void;
  setWatchTimeout(seconds: number): void;
  /** the next matching requests answer this status (a Status body) */
  failNext(rule: FaultRule): void;
  /** a KubeConfig pointed at this server (http, skipTLSVerify, token "any" unless given) */
  kubeConfig(opts?: { namespace?: string; token?: string }): KubeConfig;
  /** end watches, close connections and the listener; the store stays */
  stop(): Promise<void>;
  /** listen again on the same port with the same store */
  start(): Promise<void>;
  restart(): Promise<void>;
}

function discoveryFor(group: string, version: string): Obj | undefined {
  const types = KUBE_TYPES.filter((t) => t.group === group && t.version === version);
  if (types.length === 0) return undefined;
  const verbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: types.flatMap((t) => [
      {
        name: t.plural,
        singularName: t.kind.toLowerCase(),
        namespaced: t.namespaced,
        kind: t.kind,
        verbs,
        ...(SHORT_NAMES[typeKey(t)] ? { shortNames: SHORT_NAMES[typeKey(t)] } : {}),
      },
      ...(t.status
        ? [
            {
              name: `${t.plural}/status`,
              singularName: '',
              namespaced: t.namespaced,
              kind: t.kind,
              verbs: ['get', 'patch', 'update'],
            },
          ]
        : []),
    ]),
  };
}

/**
 * Just enough OpenAPI v3 for `kubectl apply`: its validation asks whether the
 * server takes `fieldValidation` on each kind's PATCH (then the server
 * validates, and kubectl skips downloading the protobuf-only OpenAPI v2).
 * No schemas: kubectl then computes strategic merge patches from its own
 * types. `/openapi/v3` lists the documents, `/openapi/v3/apis/G/V` is one.
 */
function openApiV3(rest: string): Obj | undefined {
  const gvs = [...new Set(KUBE_TYPES.map((t) => (t.group ? `apis/${apiVersionOf(t)}` : 'api/v1')))];
  if (rest === '' || rest === '/') {
    return {
      paths: Object.fromEntries(gvs.map((gv) => [gv, { serverRelativeURL: `/openapi/v3/${gv}` }])),
    };
  }
  const gv = rest.slice(1);
  if (!gvs.includes(gv)) return undefined;
  const paths: Obj = {};
  for (const t of KUBE_TYPES) {
    if ((t.group ? `apis/${apiVersionOf(t)}` : 'api/v1') !== gv) continue;
    const base = `/${gv}${t.namespaced ? '/namespaces/{namespace}' : ''}/${t.plural}`;
    const op = {
      parameters: [{ name: 'fieldValidation', in: 'query', schema: { type: 'string' } }],
      'x-kubernetes-group-version-kind': { group: t.group, version: t.version, kind: t.kind },
      responses: {},
    };
    paths[base] = { post: op };
    paths[`${base}/{name}`] = { get: op, put: op, patch: op, delete: op };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths };
}

function groupList(): Obj {
  const groups = new Map<string, Set<string>>();
  for (const t of KUBE_TYPES)
    if (t.group)
      (groups.get(t.group) ?? groups.set(t.group, new Set()).get(t.group)!).add(t.version);
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups].map(([name, versions]) => groupOf(name, [...versions])),
  };
}
function groupOf(name: string, versions: string[]): Obj {
  const vs = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { kind: 'APIGroup', apiVersion: 'v1', name, versions: vs, preferredVersion: vs[0] };
}

export async function startKubeApiServer(opts: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const store = opts.store ?? createKubeStore();
  const requests: RequestLogEntry[] = [];
  const watchers = new Set<Watcher>();
  const faults: FaultRule[] = [];
  let watch410: 'event' | 'http' = 'event';
  let watchTimeoutSeconds = opts.watchTimeoutSeconds ?? 1800;
  const bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 60_000;
  let server: http.Server | undefined;
  let port = opts.port ?? 0;

  const write = (w: Watcher, type: string, object: Obj): void => {
    if (!w.res.writableEnded && !w.res.destroyed)
      w.res.write(`${JSON.stringify({ type, object })}\n`);
  };
  const bookmark = (t: ResourceType, annotations?: Obj): Obj => ({
    kind: t.kind,
    apiVersion: apiVersionOf(t),
    metadata: { resourceVersion: String(store.rv), ...(annotations ? { annotations } : {}) },
  });
  const listener = (t: ResourceType, ev: HistoryEvent): void => {
    for (const w of watchers) {
      if (w.t !== t || w.paused) continue;
      const out = transition(ev, w.match);
      if (out) write(w, out.type, out.object);
    }
  };

  function startWatch(
    res: http.ServerResponse,
    t: ResourceType,
    ns: string | undefined,
    query: Record<string, string>,
    entry: RequestLogEntry,
  ): void {
    const match = selector(query, ns);
    const rvParam = query.resourceVersion;
    const from =
      rvParam === undefined || rvParam === '' || rvParam === '0' ? undefined : Number(rvParam);
    if (from !== undefined && !Number.isInteger(from))
      throw badRequest(`invalid resource version: ${rvParam}`);
    const bookmarks = query.allowWatchBookmarks === 'true';
    if (from !== undefined && from < store.oldestRv) {
      const gone = new KubeApiError(
        410,
        'Expired',
        `too old resource version: ${from} (${store.oldestRv})`,
      );
      if (watch410 === 'http') throw gone;
      // The real server answers 200, sends the ERROR event and ends the stream; the client re-lists on the end.
      entry.status = 200;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ type: 'ERROR', object: gone.toStatus() })}\n`);
      return;
    }
    entry.status = 200;
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // Without this the client's fetch, and informer.start(), wait for the first event.
    res.flushHeaders();
    const w: Watcher = { t, match, res, paused: false, timers: [] };
    if (from === undefined) {
      for (const o of listObjects(store, t, ns, match)) write(w, 'ADDED', o);
      if (query.sendInitialEvents === 'true' && bookmarks)
        write(w, 'BOOKMARK', bookmark(t, { 'k8s.io/initial-events-end': 'true' }));
    } else {
      for (const ev of store.history.get(typeKey(t)) ?? []) {
        if (ev.rv <= from) continue;
        const out = transition(ev, match);
        if (out) write(w, out.type, out.object);
      }
    }
    watchers.add(w);
    const timeout =
      query.timeoutSeconds !== undefined ? Number(query.timeoutSeconds) : watchTimeoutSeconds;
    w.timers.push(
      setTimeout(() => {
        if (bookmarks) write(w, 'BOOKMARK', bookmark(t));
        res.end();
      }, timeout * 1000),
    );
    if (bookmarks)
      w.timers.push(setInterval(() => write(w, 'BOOKMARK', bookmark(t)), bookmarkIntervalMs));
    res.on('close', () => {
      for (const timer of w.timers) clearTimeout(timer);
      watchers.delete(w);
    });
  }

  /** Route one request; returns [status, body] or undefined when it answered itself (watch). */
  function route(
    method: string,
    path: string,
    query: Record<string, string>,
    contentType: string | undefined,
    body: unknown,
    res: http.ServerResponse,
    entry: RequestLogEntry,
  ): [number, Obj] | undefined {
    if (path === '/version') {
      return [
        200,
        { major: '1', minor: '32', gitVersion: 'v1.32.0-portico-fake', platform: 'linux/amd64' },
      ];
    }
    if (path === '/openapi/v3' || path.startsWith('/openapi/v3/')) {
      const doc = openApiV3(path.slice('/openapi/v3'.length));
      if (doc) return [200, doc];
      throw new KubeApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    const segs = path.split('/').filter(Boolean);
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === 'api') {
      if (segs.length === 1)
        return [
          200,
          {
            kind: 'APIVersions',
            apiVersion: 'v1',
            versions: ['v1'],
            serverAddressByClientCIDRs: [],
          },
        ];
      [group, version, rest] = ['', segs[1]!, segs.slice(2)];
    } else if (segs[0] === 'apis') {
      if (segs.length === 1) return [200, groupList()];
      if (segs.length === 2) {
        const g = (groupList().groups as Obj[]).find((x) => x.name === segs[1]);
        if (g) return [200, g];
        throw new KubeApiError(404, 'NotFound', 'the server could not find the requested resource');
      }
      [group, version, rest] = [segs[1]!, segs[2]!, segs.slice(3)];
    } else {
      throw new KubeApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    if (rest.length === 0) {
      const d = discoveryFor(group, version);
      if (!d)
        throw new KubeApiError(404, 'NotFound', 'the server could not find the requested resource');
      return [200, d];
    }
    let ns: string | undefined;
    const namespacedPlural = (p: string | undefined): boolean =>
      KUBE_TYPES.some(
        (t) => t.group === group && t.version === version && t.plural === p && t.namespaced,
      );
    if (rest[0] === 'namespaces' && rest.length >= 3 && namespacedPlural(rest[2])) {
      ns = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, sub] = rest;
    const t = KUBE_TYPES.find(
      (x) => x.group === group && x.version === version && x.plural === plural,
    );
    if (
      !t ||
      rest.length > 3 ||
      (sub !== undefined && !(sub === 'status' && t.status)) ||
      (!t.namespaced && ns !== undefined) ||
      (t.namespaced && name !== undefined && ns === undefined)
    ) {
      throw new KubeApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    const mode: WriteMode = sub === 'status' ? 'status' : 'main';
    const asObj = (b: unknown): Obj => {
      if (!isObj(b)) throw badRequest('the body of the request was in an unknown format');
      return b;
    };
    if (name === undefined) {
      if (method === 'GET') {
        if (query.watch === 'true' || query.watch === '1') {
          startWatch(res, t, ns, query, entry);
          return undefined;
        }
        const match = selector(query, ns);
        let items = listObjects(store, t, ns, match);
        const meta: Obj = { resourceVersion: String(store.rv) };
        const limit = Number(query.limit ?? 0);
        const start = query.continue
          ? Number(Buffer.from(query.continue, 'base64url').toString())
          : 0;
        if (limit > 0 || start > 0) {
          const end = limit > 0 ? start + limit : items.length;
          if (end < items.length) {
            meta.continue = Buffer.from(String(end)).toString('base64url');
            meta.remainingItemCount = items.length - end;
          }
          items = items.slice(start, end);
        }
        return [
          200,
          {
            kind: `${t.kind}List`,
            apiVersion: apiVersionOf(t),
            metadata: meta,
            items: items.map((o) => listItem(t, o)),
          },
        ];
      }
      if (method === 'POST') {
        if (t.namespaced && ns === undefined)
          throw new KubeApiError(
            405,
            'MethodNotAllowed',
            'the server does not allow this method on the requested resource',
          );
        return [201, createObject(store, t, ns, asObj(body), false)];
      }
      if (method === 'DELETE') {
        const match = selector(query, ns);
        const gone = listObjects(store, t, ns, match).map((o) =>
          deleteObject(store, t, o.metadata.namespace, o.metadata.name),
        );
        return [
          200,
          {
            kind: `${t.kind}List`,
            apiVersion: apiVersionOf(t),
            metadata: { resourceVersion: String(store.rv) },
            items: gone.map((o) => listItem(t, o)),
          },
        ];
      }
    } else {
      switch (method) {
        case 'GET': {
          const o = bucket(store, t).get(keyOf(ns, name));
          if (!o) throw notFound(t, name);
          return [200, clone(o)];
        }
        case 'PUT':
          return [200, writeObject(store, t, ns, name, asObj(body), mode)];
        case 'PATCH': {
          const type = PATCH_TYPES[(contentType ?? '').split(';')[0]!.trim()];
          if (!type) {
            throw new KubeApiError(
              415,
              'UnsupportedMediaType',
              `the body of the request was in an unknown format - accepted media types include: ${Object.keys(PATCH_TYPES).join(', ')}`,
            );
          }
          return [200, patchObject(store, t, ns, name, body, type, mode)];
        }
        case 'DELETE': {
          if (sub !== undefined) break;
          const last = deleteObject(store, t, ns, name, isObj(body) ? body : undefined);
          if (t.custom) return [200, last];
          return [
            200,
            {
              kind: 'Status',
              apiVersion: 'v1',
              metadata: {},
              status: 'Success',
              details: { name, group: t.group, kind: t.plural, uid: last.metadata.uid },
            },
          ];
        }
      }
    }
    throw new KubeApiError(
      405,
      'MethodNotAllowed',
      'the server does not allow this method on the requested resource',
    );
  }

  function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const query = Object.fromEntries(url.searchParams);
      const method = req.method ?? 'GET';
      const contentType = req.headers['content-type'];
      const raw = Buffer.concat(chunks).toString('utf8');
      const entry: RequestLogEntry = {
        method,
        path: url.pathname,
        query,
        contentType,
        body: undefined,
        status: 0,
        watch: query.watch === 'true' || query.watch === '1',
        token: /^Bearer (.*)$/.exec(req.headers.authorization ?? '')?.[1],
      };
      requests.push(entry);
      const send = (code: number, obj: Obj): void => {
        entry.status = code;
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(obj));
      };
      try {
        // Only JSON: kubectl's typed commands send protobuf first and fall back to JSON on a 415.
        const media = (contentType ?? '').split(';')[0]!.trim();
        if (raw.length > 0 && media !== '' && media !== 'application/json' && !PATCH_TYPES[media]) {
          throw new KubeApiError(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/json, ${Object.keys(PATCH_TYPES).join(', ')}`,
          );
        }
        if (raw.length > 0) {
          try {
            entry.body = JSON.parse(raw);
          } catch {
            throw badRequest('the body of the request was in an unknown format');
          }
        }
        const fault = faults.find(
          (f) =>
            (f.method === undefined || f.method.toUpperCase() === method) &&
            (f.watch === undefined || f.watch === entry.watch) &&
            (f.path === undefined ||
              (typeof f.path === 'string'
                ? url.pathname.endsWith(f.path)
                : f.path.test(url.pathname))),
        );
        if (fault) {
          fault.times = (fault.times ?? 1) - 1;
          if (fault.times <= 0) faults.splice(faults.indexOf(fault), 1);
          if (fault.hang) return;
          if (fault.status === 0) {
            req.socket.destroy();
            return;
          }
          const reasons: Record<number, string> = {
            409: 'Conflict',
            429: 'TooManyRequests',
            500: 'InternalError',
            503: 'ServiceUnavailable',
          };
          throw new KubeApiError(
            fault.status,
            reasons[fault.status] ?? 'InternalError',
            fault.message ?? `injected failure ${fault.status}`,
          );
        }
        const out = route(method, url.pathname, query, contentType, entry.body, res, entry);
        if (out) send(out[0], out[1]);
      } catch (err) {
        if (res.headersSent) {
          res.end();
          return;
        }
        if (err instanceof KubeApiError) send(err.code, err.toStatus());
        else send(500, new KubeApiError(500, 'InternalError', String(err)).toStatus());
      }
    });
  }

  async function start(): Promise<void> {
    const s = http.createServer(handle);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        s.off('error', reject);
        resolve();
      });
    });
    port = (s.address() as AddressInfo).port;
    server = s;
    store.listeners.add(listener);
  }
  function closeWatches(): void {
    for (const w of [...watchers]) {
      for (const timer of w.timers) clearTimeout(timer);
      watchers.delete(w);
      w.res.end();
    }
  }
  async function stop(): Promise<void> {
    store.listeners.delete(listener);
    const s = server;
    server = undefined;
    if (!s) return;
    closeWatches();
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  await start();
  const typeOf = (kind: string, obj?: Obj): ResourceType =>
    findType(kind, typeof obj?.apiVersion === 'string' ? obj.apiVersion : undefined);
  const api: KubeApiServer = {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    store,
    requests,
    create(kind, obj) {
      const t = typeOf(kind, obj);
      const ns = t.namespaced
        ? ((obj.metadata?.namespace as string | undefined) ?? 'default')
        : undefined;
      if (ns !== undefined && !bucket(store, findType('namespaces')).has(keyOf(undefined, ns))) {
        createObject(store, findType('namespaces'), undefined, { metadata: { name: ns } }, true);
      }
      return createObject(store, t, ns, obj, true);
    },
    update(kind, obj, mode = 'all') {
      const t = typeOf(kind, obj);
      const ns = t.namespaced
        ? ((obj.metadata?.namespace as string | undefined) ?? 'default')
        : undefined;
      return writeObject(store, t, ns, String(obj.metadata?.name), obj, mode);
    },
    patch(kind, namespace, name, patch, o = {}) {
      return patchObject(
        store,
        typeOf(kind),
        namespace,
        name,
        patch,
        o.type ?? 'merge',
        o.mode ?? 'all',
      );
    },
    delete(kind, namespace, name) {
      return deleteObject(store, typeOf(kind), namespace, name);
    },
    get(kind, namespace, name) {
      const t = typeOf(kind);
      const o = bucket(store, t).get(keyOf(t.namespaced ? namespace : undefined, name));
      return o ? clone(o) : undefined;
    },
    list(kind, namespace) {
      return listObjects(store, typeOf(kind), namespace, () => true);
    },
    rv: () => store.rv,
    compact() {
      store.history.clear();
      store.oldestRv = store.rv;
    },
    pauseWatches() {
      for (const w of watchers) w.paused = true;
    },
    resumeWatches() {
      for (const w of watchers) w.paused = false;
    },
    closeWatches,
    openWatches(kind) {
      const t = kind === undefined ? undefined : typeOf(kind);
      return [...watchers].filter((w) => t === undefined || w.t === t).length;
    },
    setWatch410Mode(mode) {
      watch410 = mode;
    },
    setWatchTimeout(seconds) {
      watchTimeoutSeconds = seconds;
    },
    failNext(rule) {
      faults.push({ ...rule });
    },
    kubeConfig({ namespace = 'default', token = 'any' } = {}) {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
        users: [{ name: 'test', token }],
        contexts: [{ name: 'fake', cluster: 'fake', user: 'test', namespace }],
        currentContext: 'fake',
      });
      return kc;
    },
    stop,
    start,
    async restart() {
      await stop();
      await start();
    },
  };
  return api;
}
