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
 * design): one optional bearer token for authentication, no authorization or
 * admission, strategic merge only as far as kubectl apply uses it (merge keys
 * from `$setElementOrder` or a short table), no server-side apply (415),
 * namespace deletion cascades at once. The state
 * and its rules live in kube-store.ts; this file is HTTP, watches, discovery
 * and the test API. kubectl apply works against it too (OpenAPI v3 stub).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import {
  type HistoryEvent,
  KUBE_TYPES,
  KubeApiError,
  type KubeStore,
  type Obj,
  PATCH_TYPES,
  type PatchType,
  type ResourceType,
  SHORT_NAMES,
  type WriteMode,
  apiVersionOf,
  badRequest,
  bucket,
  clone,
  createKubeStore,
  createObject,
  deleteObject,
  findType,
  isObj,
  keyOf,
  listItem,
  listObjects,
  notFound,
  patchObject,
  selector,
  transition,
  typeKey,
  writeObject,
} from './kube-store.js';
export {
  type Obj,
  type ResourceType,
  KUBE_TYPES,
  findType,
  KubeApiError,
  type KubeStore,
  createKubeStore,
  type WriteMode,
  type PatchType,
  type EventType,
} from './kube-store.js';

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
  /** serve HTTPS with this certificate (kubeConfig() then carries it as the CA, as in-cluster) */
  tls?: { cert: string; key: string };
  /** accept only this bearer token (others get 401); any token otherwise */
  token?: string;
  /** API groups not served, as when their CRDs are not installed (`portico.io`) */
  omitGroups?: string[];
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
  /** serve a group or stop serving it (CRDs installed or removed); the test API keeps working */
  serveGroup(group: string, served: boolean): void;
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

function discoveryFor(served: ResourceType[], group: string, version: string): Obj | undefined {
  const types = served.filter((t) => t.group === group && t.version === version);
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
function openApiV3(served: ResourceType[], rest: string): Obj | undefined {
  const gvs = [...new Set(served.map((t) => (t.group ? `apis/${apiVersionOf(t)}` : 'api/v1')))];
  if (rest === '' || rest === '/') {
    return {
      paths: Object.fromEntries(gvs.map((gv) => [gv, { serverRelativeURL: `/openapi/v3/${gv}` }])),
    };
  }
  const gv = rest.slice(1);
  if (!gvs.includes(gv)) return undefined;
  const paths: Obj = {};
  for (const t of served) {
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

function groupList(served: ResourceType[]): Obj {
  const groups = new Map<string, Set<string>>();
  for (const t of served)
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
  const hidden = new Set(opts.omitGroups ?? []);
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
    // A group whose CRDs are not installed is not served at all (404s and absent from discovery).
    const served = KUBE_TYPES.filter((t) => !hidden.has(t.group));
    if (path === '/openapi/v3' || path.startsWith('/openapi/v3/')) {
      const doc = openApiV3(served, path.slice('/openapi/v3'.length));
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
      if (segs.length === 1) return [200, groupList(served)];
      if (segs.length === 2) {
        const g = (groupList(served).groups as Obj[]).find((x) => x.name === segs[1]);
        if (g) return [200, g];
        throw new KubeApiError(404, 'NotFound', 'the server could not find the requested resource');
      }
      [group, version, rest] = [segs[1]!, segs[2]!, segs.slice(3)];
    } else {
      throw new KubeApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    if (rest.length === 0) {
      const d = discoveryFor(served, group, version);
      if (!d)
        throw new KubeApiError(404, 'NotFound', 'the server could not find the requested resource');
      return [200, d];
    }
    let ns: string | undefined;
    const namespacedPlural = (p: string | undefined): boolean =>
      served.some(
        (t) => t.group === group && t.version === version && t.plural === p && t.namespaced,
      );
    if (rest[0] === 'namespaces' && rest.length >= 3 && namespacedPlural(rest[2])) {
      ns = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, sub] = rest;
    const t = served.find((x) => x.group === group && x.version === version && x.plural === plural);
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
        if (opts.token !== undefined && entry.token !== opts.token) {
          throw new KubeApiError(401, 'Unauthorized', 'Unauthorized');
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
    const s = opts.tls ? https.createServer(opts.tls, handle) : http.createServer(handle);
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
      return `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
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
    serveGroup(group, served) {
      if (served) hidden.delete(group);
      else hidden.add(group);
    },
    setWatchTimeout(seconds) {
      watchTimeoutSeconds = seconds;
    },
    failNext(rule) {
      faults.push({ ...rule });
    },
    kubeConfig({ namespace = 'default', token = opts.token ?? 'any' } = {}) {
      const kc = new KubeConfig();
      // client-node refuses http:// without skipTLSVerify; https is verified against our certificate.
      const cluster = opts.tls
        ? { name: 'fake', server: api.url, caData: Buffer.from(opts.tls.cert).toString('base64') }
        : { name: 'fake', server: api.url, skipTLSVerify: true };
      kc.loadFromOptions({
        clusters: [cluster],
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
