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
}

export type WatchState = 'starting' | 'synced' | 'absent' | 'error';

export interface WatchStatus {
  resource: string;
  namespace?: string;
  state: WatchState;
  /** the last error, while state is `error` */
  error?: string;
}

interface Watched {
  def: ResourceDef;
  namespace: string | undefined;
  informer: Informer<KubeObjectLike> & { list(ns?: string): KubeObjectLike[] };
  state: WatchState;
  error?: string;
  failures: number;
  timer?: NodeJS.Timeout;
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
    const { kc, labelSelector } = this.opts;
    const list = listerFor(kc, def, namespace, labelSelector);
    const informer = makeInformer<KubeObjectLike>(
      kc,
      collectionPath(def, namespace),
      list as never,
      def.selectable ? labelSelector : undefined,
    ) as unknown as Watched['informer'];
    const w: Watched = { def, namespace, informer, state: 'starting', failures: 0 };
    const changed = (): void => {
      if (!this.stopped) this.opts.onChange();
    };
    informer.on('add', changed);
    informer.on('update', changed);
    informer.on('delete', changed);
    informer.on('connect', () => {
      if (w.state === 'error')
        this.opts.logger.info(this.where(w), 'kubernetes watch reconnecting');
    });
    informer.on('error', (err: unknown) => this.failed(w, err));
    return w;
  }

  private where(w: Watched): object {
    return { resource: resourceName(w.def), ...(w.namespace ? { namespace: w.namespace } : {}) };
  }

  /** Starts every informer; resolves once each has listed once (or failed, or is absent). */
  async start(): Promise<void> {
    await Promise.all(this.watched.map((w) => this.startOne(w)));
  }

  private async startOne(w: Watched): Promise<void> {
    if (this.stopped) return;
    try {
      await w.informer.start();
    } catch (err) {
      this.failed(w, err);
      return;
    }
    // start() resolves after the list and the watch request; an error callback
    // may already have fired (and scheduled the retry)
    if (w.state === 'starting' || w.state === 'error' || w.state === 'absent') {
      if (w.timer === undefined) {
        const was = w.state;
        w.state = 'synced';
        w.failures = 0;
        delete w.error;
        if (was !== 'starting') {
          this.opts.logger.info(this.where(w), 'kubernetes watch resumed');
          this.opts.onChange();
        }
      }
    }
  }

  private failed(w: Watched, err: unknown): void {
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
      for (const o of w.informer.list()) if (isObject(o)) list.push(o);
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
