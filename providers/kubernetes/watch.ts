/*
 * The watch set: one informer (list, then watch from the list's
 * resourceVersion) per resource and namespace, their caches read together
 * as one ClusterView, and a change callback throttled into whole snapshots.
 *
 * client-node's 1.x informer re-lists by itself after a 410 Gone and
 * re-watches when the server ends a stream, but any other error (connection
 * refused, 5xx, 403) stops it for good; here every stopped informer is
 * started again with a capped exponential backoff, from the resourceVersion
 * it had (so it catches up without a re-list when it can). While the API
 * server is away the caches keep their last objects, so the last good
 * configuration keeps serving. A 404 on a list means the resource is not
 * served (CRDs of a group not installed): it is marked absent, treated as
 * empty, and tried again every `absentRetryMs`.
 *
 * A hung API server (it accepts the connection and never answers) must not
 * freeze a watch forever: client-node 1.x requests have no deadline, and a
 * watch whose headers never come cannot even be aborted through its
 * informer. So lists time out (`requestTimeoutMs`), and an informer whose
 * watch is not established within that time, or that has seen nothing for
 * `idleMs` (a quiet watch is legitimate: client-go re-watches every 5–10
 * minutes too), is replaced by a fresh one; until the fresh one has listed,
 * the view keeps the objects the old one had.
 */
import { makeInformer, type Informer, type KubeConfig } from '@kubernetes/client-node';
import type { ClusterView, KubeObject, ResourceKind } from './objects.js';
import { collectionPath, listerFor, resourceName, type ResourceDef } from './resources.js';

export interface WatchLogger {
  debug(o: object, msg: string): void;
  info(o: object, msg: string): void;
  warn(o: object, msg: string): void;
  error(o: object, msg: string): void;
}

export interface WatchSetOptions {
  kc: KubeConfig;
  resources: readonly ResourceDef[];
  /** watched namespaces; empty = all (one cluster-wide watch per resource) */
  namespaces: readonly string[];
  labelSelector?: string | undefined;
  logger: WatchLogger;
  /** called (unthrottled) after every change the caches took */
  onChange(): void;
  /** first retry delay after an error; doubles up to maxBackoffMs */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** how often a resource answered 404 is tried again */
  absentRetryMs?: number;
  /** a list, or the start of a watch, taking longer is abandoned (default 30 s) */
  requestTimeoutMs?: number;
  /** an informer that has seen nothing for this long is replaced (default 10 min) */
  idleMs?: number;
}

export type WatchState = 'starting' | 'synced' | 'absent' | 'error';

export interface WatchStatus {
  resource: string;
  namespace?: string;
  state: WatchState;
  /** the last error, while state is `error` */
  error?: string;
}

type KubeInformer = Informer<KubeObjectLike> & { list(ns?: string): KubeObjectLike[] };

interface Watched {
  def: ResourceDef;
  namespace: string | undefined;
  informer: KubeInformer;
  state: WatchState;
  error?: string;
  failures: number;
  timer?: NodeJS.Timeout;
  /** the last time the informer showed life (an event, a list, a connect) */
  lastSeen: number;
  /** the objects of a replaced informer, served until its successor has listed */
  stale?: KubeObjectLike[];
}

type KubeObjectLike = KubeObject & { metadata: KubeObject['metadata'] };

export class WatchSet {
  private readonly watched: Watched[] = [];
  private stopped = false;

  constructor(private readonly opts: WatchSetOptions) {
    const namespaces: (string | undefined)[] = opts.namespaces.length
      ? [...opts.namespaces]
      : [undefined];
    for (const def of opts.resources) {
      for (const namespace of def.namespaced ? namespaces : [undefined]) {
        this.watched.push(this.makeWatched(def, namespace));
      }
    }
  }

  private makeWatched(def: ResourceDef, namespace: string | undefined): Watched {
    const w = {
      def,
      namespace,
      state: 'starting',
      failures: 0,
      lastSeen: Date.now(),
    } as Watched;
    w.informer = this.makeInformer(w);
    return w;
  }

  /** An informer for `w`; its callbacks act only while it is `w`'s current one. */
  private makeInformer(w: Watched): KubeInformer {
    const { kc, labelSelector } = this.opts;
    const timeout = this.opts.requestTimeoutMs ?? 30_000;
    const list = listerFor(kc, w.def, w.namespace, labelSelector);
    const informer = makeInformer<KubeObjectLike>(
      kc,
      collectionPath(w.def, w.namespace),
      (() => withDeadline(list(), timeout, 'list')) as never,
      w.def.selectable ? labelSelector : undefined,
    ) as unknown as KubeInformer;
    const current = (): boolean => !this.stopped && w.informer === informer;
    const changed = (): void => {
      if (!current()) return;
      w.lastSeen = Date.now();
      this.opts.onChange();
    };
    informer.on('add', changed);
    informer.on('update', changed);
    informer.on('delete', changed);
    informer.on('connect', () => {
      if (!current()) return;
      w.lastSeen = Date.now();
      if (w.state === 'error')
        this.opts.logger.info(this.where(w), 'kubernetes watch reconnecting');
    });
    informer.on('error', (err: unknown) => {
      if (current()) this.failed(w, err);
    });
    return informer;
  }

  /** Drops a stuck informer for a fresh one; the view keeps the old objects meanwhile. */
  private replace(w: Watched, why: string): void {
    if (this.stopped) return;
    this.opts.logger.warn(this.where(w), `kubernetes watch ${why}; starting it again`);
    const old = w.informer;
    w.stale ??= old.list().filter(isObject);
    void old.stop().catch(() => undefined);
    w.informer = this.makeInformer(w);
    w.lastSeen = Date.now();
    if (w.timer !== undefined) clearTimeout(w.timer);
    delete w.timer;
    void this.startOne(w);
  }

  private where(w: Watched): object {
    return { resource: resourceName(w.def), ...(w.namespace ? { namespace: w.namespace } : {}) };
  }

  /** Starts every informer; resolves once each has listed once (or failed, or is absent, or timed out). */
  async start(): Promise<void> {
    const idle = this.opts.idleMs ?? 600_000;
    this.idleTimer = setInterval(() => this.checkIdle(idle), Math.min(idle / 4, 30_000));
    this.idleTimer.unref?.();
    await Promise.all(this.watched.map((w) => this.startOne(w)));
  }

  private idleTimer: NodeJS.Timeout | undefined;

  private checkIdle(idle: number): void {
    const now = Date.now();
    for (const w of this.watched) {
      if (w.timer === undefined && w.state !== 'absent' && now - w.lastSeen > idle)
        this.replace(w, `quiet for ${Math.round(idle / 1000)} s`);
    }
  }

  private async startOne(w: Watched): Promise<void> {
    if (this.stopped) return;
    const informer = w.informer;
    const timeout = this.opts.requestTimeoutMs ?? 30_000;
    let timedOut = false;
    try {
      await withDeadline(informer.start(), timeout, 'watch').catch((err: unknown) => {
        if ((err as { code?: string }).code === 'ERR_KUBE_DEADLINE') timedOut = true;
        throw err;
      });
    } catch (err) {
      if (w.informer !== informer) return;
      if (timedOut) {
        // the watch request hangs: this informer cannot be aborted, replace it
        this.failed(w, err, false);
        this.replace(w, 'did not start in time');
      } else this.failed(w, err);
      return;
    }
    if (w.informer !== informer) return;
    w.lastSeen = Date.now();
    // start() resolves after the list and the watch request; an error callback
    // may already have fired (and scheduled the retry)
    if (w.state === 'starting' || w.state === 'error' || w.state === 'absent') {
      if (w.timer === undefined) {
        const was = w.state;
        w.state = 'synced';
        w.failures = 0;
        delete w.error;
        delete w.stale;
        if (was !== 'starting') {
          this.opts.logger.info(this.where(w), 'kubernetes watch resumed');
          this.opts.onChange();
        }
      }
    } else delete w.stale;
  }

  private failed(w: Watched, err: unknown, retry = true): void {
    if (this.stopped) return;
    const code = statusCode(err);
    if (w.timer !== undefined) return;
    if (code === 404) {
      if (w.state !== 'absent')
        this.opts.logger.info(
          this.where(w),
          'kubernetes resource not served (CRD not installed?); treated as empty',
        );
      w.state = 'absent';
      this.schedule(w, this.opts.absentRetryMs ?? 30_000);
      this.opts.onChange();
      return;
    }
    w.failures++;
    const message = describeError(err);
    if (w.state !== 'error' || w.error !== message)
      this.opts.logger.warn(
        { ...this.where(w), err: message },
        'kubernetes watch failed; keeping the last objects and retrying',
      );
    w.state = 'error';
    w.error = message;
    if (!retry) return;
    const base = this.opts.backoffMs ?? 1000;
    const max = this.opts.maxBackoffMs ?? 30_000;
    this.schedule(w, Math.min(max, base * 2 ** Math.min(w.failures - 1, 16)));
  }

  private schedule(w: Watched, ms: number): void {
    w.timer = setTimeout(() => {
      delete w.timer;
      void this.startOne(w);
    }, ms);
    w.timer.unref?.();
  }

  stop(): void {
    this.stopped = true;
    if (this.idleTimer !== undefined) clearInterval(this.idleTimer);
    for (const w of this.watched) {
      if (w.timer !== undefined) clearTimeout(w.timer);
      delete w.timer;
      void w.informer.stop().catch(() => undefined);
    }
  }

  /** whether every resource is synced or absent (the API server answers) */
  connected(): boolean {
    return this.watched.every((w) => w.state === 'synced' || w.state === 'absent');
  }

  status(): WatchStatus[] {
    return this.watched.map((w) => ({
      resource: resourceName(w.def),
      ...(w.namespace !== undefined ? { namespace: w.namespace } : {}),
      state: w.state,
      ...(w.error !== undefined ? { error: w.error } : {}),
    }));
  }

  /** A consistent read of every cache now (objects are not copied: do not mutate). */
  view(): ClusterView {
    const byKind = new Map<ResourceKind, KubeObject[]>();
    for (const w of this.watched) {
      const list = byKind.get(w.def.kind) ?? [];
      for (const o of w.stale ?? w.informer.list()) if (isObject(o)) list.push(o);
      byKind.set(w.def.kind, list);
    }
    return cachedView(byKind);
  }
}

function isObject(o: unknown): o is KubeObject {
  if (typeof o !== 'object' || o === null) return false;
  const m = (o as { metadata?: { name?: unknown } }).metadata;
  return typeof m === 'object' && m !== null && typeof m.name === 'string';
}

const keyOf = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** A view over per-kind arrays: lookups by key and EndpointSlices by service indexed once. */
export function cachedView(byKind: Map<ResourceKind, KubeObject[]>): ClusterView {
  const index = new Map<ResourceKind, Map<string, KubeObject>>();
  for (const [kind, list] of byKind) {
    list.sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
    const m = new Map<string, KubeObject>();
    // the same namespace/name in both CRD groups: the first (traefik.io) stays
    // reachable by get(); list() returns both, so the translator can report it
    for (const o of list) if (!m.has(keyOf(o))) m.set(keyOf(o), o);
    index.set(kind, m);
  }
  const slices = new Map<string, KubeObject[]>();
  for (const s of byKind.get('EndpointSlice') ?? []) {
    const svc = s.metadata.labels?.['kubernetes.io/service-name'];
    if (typeof svc !== 'string') continue;
    const k = `${s.metadata.namespace ?? ''}/${svc}`;
    const arr = slices.get(k) ?? [];
    arr.push(s);
    slices.set(k, arr);
  }
  return {
    get: (kind, namespace, name) => index.get(kind)?.get(`${namespace ?? ''}/${name}`),
    list: (kind, namespace) => {
      const all = byKind.get(kind) ?? [];
      return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
    },
    endpointSlicesFor: (namespace, service) => slices.get(`${namespace}/${service}`) ?? [],
  };
}

/** `p`, or a rejection with code ERR_KUBE_DEADLINE after `ms` (the request itself is left behind). */
function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new Error(`${what}: no answer within ${ms} ms`) as Error & { code: string };
        err.code = 'ERR_KUBE_DEADLINE';
        reject(err);
      }, ms);
      timer.unref?.();
    }),
  ]).finally(() => clearTimeout(timer));
}

/** HTTP status of a client-node error (ApiException `code`, watch errors `statusCode`). */
export function statusCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

function describeError(err: unknown): string {
  const code = statusCode(err);
  const msg =
    err instanceof Error ? err.message : typeof err === 'string' ? err : JSON.stringify(err);
  // ApiException messages carry the whole response body and headers: keep the first line
  const first = (msg ?? 'unknown error').split('\n')[0]!.slice(0, 300);
  return code !== undefined && !first.includes(String(code)) ? `${code}: ${first}` : first;
}
