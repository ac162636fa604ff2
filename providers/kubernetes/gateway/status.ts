/*
 * Gateway API status writer (issue 15 item 2): puts the translator's
 * GatewayStatusReport (model.ts) on the objects' `/status` subresource —
 * GatewayClass conditions, Gateway addresses/conditions/listeners, and each
 * route's `status.parents` entries — from the replica leading the Lease
 * (lease.ts) only, as the Ingress status writer does (../status.ts).
 *
 * The rules are the spec's "notes for implementors" (gateway-api v1.5.1,
 * apis/v1/shared_types.go and gateway_types.go):
 *
 * - Conditions are a map keyed by `type`: a produced condition is merged
 *   into the one of the same type, in place; conditions of types this writer
 *   does not produce (`special.io/SomeField`) are neither removed nor
 *   reordered. `lastTransitionTime` moves only when a type's `status` changes
 *   (metav1.Condition; RFC 3339, seconds), `observedGeneration` is the
 *   `metadata.generation` the report was translated from, and a condition
 *   whose observedGeneration is already newer than that is left alone (our
 *   view is stale; a later report will follow).
 * - Route parents are namespaced by parentRef + controllerName: entries of
 *   other controllers are kept untouched; ours (controllerName one of
 *   `controllerNames`) are replaced by the report's, and ours that the report
 *   no longer has are removed ("controllers should ensure that entries ...
 *   populated with their ControllerName are cleaned up") — also on routes the
 *   report no longer names at all.
 * - Read-modify-write: each write is a merge patch on /status carrying the
 *   resourceVersion it was computed from, so a concurrent write by another
 *   controller gives 409 instead of being overwritten. A 409 reads the object
 *   again and recomputes at once (client-go's RetryOnConflict); other failures
 *   are logged (once per object and error, then at debug) and tried again
 *   after `retryMs` or on the next report; 404 (deleted meanwhile) is
 *   ignored. Nothing here throws.
 *
 * A write happens only when the status differs, compared after the defaults
 * a real API server fills in (parentRef group/kind, supportedKinds group,
 * address type), so what the server stores compares equal to what was sent.
 * A new leader checks every object at once from the last report it was given.
 */
import {
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import type { LeaderElector } from '../lease.js';
import {
  GATEWAY_CONTROLLERS,
  GATEWAY_GROUP,
  type ClusterView,
  type KubeObject,
} from '../objects.js';
import { statusCode, type WatchLogger } from '../watch.js';
import type {
  Condition,
  GatewayStatus,
  GatewayStatusReport,
  ParentRef,
  RouteKind,
  RouteParentStatus,
} from './model.js';

export interface GatewayStatusWriterOptions {
  kc: KubeConfig;
  elector: Pick<LeaderElector, 'isLeader' | 'onChange'>;
  logger: WatchLogger;
  /** delay before a failed write is tried again when no report comes (default 5 s) */
  retryMs?: number;
  /**
   * the controllerName values whose route parents entries this writer owns
   * (default GATEWAY_CONTROLLERS; the report's own controllerNames are always included)
   */
  controllerNames?: readonly string[];
}

export interface GatewayStatusWriter {
  /** the translator's report, and the view it was translated from */
  update(report: GatewayStatusReport, view: ClusterView): void;
  stop(): Promise<void>;
}

type Kind = 'GatewayClass' | 'Gateway' | RouteKind;
type Rec = Record<string, unknown>;

/** Plural and the version written when the object does not say which one it was read at (Gateway API v1.5.1). */
const RESOURCES: Record<Kind, { plural: string; version: string }> = {
  GatewayClass: { plural: 'gatewayclasses', version: 'v1' },
  Gateway: { plural: 'gateways', version: 'v1' },
  HTTPRoute: { plural: 'httproutes', version: 'v1' },
  GRPCRoute: { plural: 'grpcroutes', version: 'v1' },
  // v1 in both channels since v1.5; v1alpha2/v1alpha3 are still served by the experimental CRD
  TLSRoute: { plural: 'tlsroutes', version: 'v1' },
  // experimental channel only, v1alpha2
  TCPRoute: { plural: 'tcproutes', version: 'v1alpha2' },
};
const ROUTE_KINDS: RouteKind[] = ['HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute'];

/** metav1.Condition's message limit: a longer one would be refused (422) on every try. */
const MAX_MESSAGE = 32768;
/** Conflicts retried at once before waiting for retryMs. */
const MAX_CONFLICTS = 3;
/** client-node 1.x requests have no deadline; a hung API server must not stall the writer. */
const REQUEST_TIMEOUT_MS = 30_000;

const rec = (v: unknown): Rec =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Rec) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** RFC 3339 in seconds, as metav1.Time serialises. */
export const rfc3339 = (d: Date): string => `${d.toISOString().slice(0, 19)}Z`;

/**
 * `existing` with `produced` merged in by type (see the top of the file).
 * `generation` is the object's metadata.generation the report was made from.
 */
export function mergeConditions(
  existing: unknown,
  produced: readonly Condition[],
  generation: number | undefined,
  now: string,
): Rec[] {
  const out: Rec[] = arr(existing)
    .map(rec)
    .filter((c) => typeof c.type === 'string');
  for (const p of produced) {
    const observedGeneration = generation ?? p.observedGeneration;
    const i = out.findIndex((c) => c.type === p.type);
    const cur = i >= 0 ? out[i]! : undefined;
    const curGen = num(cur?.observedGeneration);
    if (curGen !== undefined && observedGeneration !== undefined && curGen > observedGeneration) {
      continue;
    }
    const ltt = str(cur?.lastTransitionTime);
    const next: Rec = {
      type: p.type,
      status: p.status,
      ...(observedGeneration !== undefined ? { observedGeneration } : {}),
      lastTransitionTime:
        cur?.status === p.status && ltt !== undefined && !Number.isNaN(Date.parse(ltt)) ? ltt : now,
      reason: p.reason,
      message: p.message.length > MAX_MESSAGE ? p.message.slice(0, MAX_MESSAGE) : p.message,
    };
    if (cur) out[i] = next;
    else out.push(next);
  }
  return out;
}

/** The gateway status fields this writer sets, from the current status and the report. */
export function gatewayStatus(
  current: unknown,
  g: GatewayStatus,
  generation: number | undefined,
  now: string,
): Rec {
  const cur = rec(current);
  const listeners = arr(cur.listeners).map(rec);
  return {
    addresses: g.addresses.map((a) => ({ type: a.type, value: a.value })),
    conditions: mergeConditions(cur.conditions, g.conditions, generation, now),
    listeners: g.listeners.map((l) => ({
      name: l.name,
      supportedKinds: l.supportedKinds.map((k) => ({
        ...(k.group !== undefined ? { group: k.group } : {}),
        kind: k.kind,
      })),
      attachedRoutes: l.attachedRoutes,
      conditions: mergeConditions(
        listeners.find((c) => c.name === l.name)?.conditions,
        l.conditions,
        generation,
        now,
      ),
    })),
  };
}

/** A parentRef with the CRD's defaults and the route's namespace filled in. */
function refKey(ref: unknown, routeNamespace: string): string {
  const r = rec(ref);
  return JSON.stringify([
    str(r.group) ?? GATEWAY_GROUP,
    str(r.kind) ?? 'Gateway',
    str(r.namespace) ?? routeNamespace,
    str(r.name),
    str(r.sectionName) ?? '',
    num(r.port) ?? null,
  ]);
}

const writtenRef = (ref: ParentRef): Rec => {
  const out: Rec = {};
  for (const k of ['group', 'kind', 'namespace', 'name', 'sectionName', 'port'] as const) {
    if (ref[k] !== undefined) out[k] = ref[k];
  }
  return out;
};

/**
 * A route's `status.parents`: other controllers' entries kept where they
 * are, ours replaced (conditions merged) or removed, new ones appended.
 */
export function routeParents(
  current: unknown,
  produced: readonly RouteParentStatus[],
  ours: ReadonlySet<string>,
  routeNamespace: string,
  generation: number | undefined,
  now: string,
): Rec[] {
  const placed = new Set<number>();
  const build = (p: RouteParentStatus, existing: unknown): Rec => ({
    parentRef: writtenRef(p.parentRef),
    controllerName: p.controllerName,
    conditions: mergeConditions(existing, p.conditions, generation, now),
  });
  const out: Rec[] = [];
  for (const e of arr(current).map(rec)) {
    const controller = str(e.controllerName);
    if (controller === undefined || !ours.has(controller)) {
      out.push(e);
      continue;
    }
    const key = refKey(e.parentRef, routeNamespace);
    const i = produced.findIndex(
      (p, j) =>
        !placed.has(j) &&
        p.controllerName === controller &&
        refKey(p.parentRef, routeNamespace) === key,
    );
    if (i < 0) continue;
    placed.add(i);
    out.push(build(produced[i]!, e.conditions));
  }
  produced.forEach((p, j) => {
    if (!placed.has(j)) out.push(build(p, []));
  });
  return out;
}

/**
 * The status fields a writer of `kind` sets, reduced to what a real API
 * server keeps (its defaults filled in, unknown fields pruned), as a string;
 * `times: false` leaves lastTransitionTime out (what was meant, not when).
 */
function statusKey(kind: Kind, status: unknown, routeNamespace: string, times = true): string {
  const s = rec(status);
  const conds = (v: unknown) =>
    arr(v)
      .map(rec)
      .map((c) => [
        c.type,
        c.status,
        num(c.observedGeneration) ?? null,
        times ? (c.lastTransitionTime ?? null) : null,
        c.reason,
        c.message,
      ]);
  switch (kind) {
    case 'GatewayClass':
      return JSON.stringify(conds(s.conditions));
    case 'Gateway':
      return JSON.stringify([
        arr(s.addresses)
          .map(rec)
          .map((a) => [str(a.type) ?? 'IPAddress', a.value]),
        conds(s.conditions),
        arr(s.listeners)
          .map(rec)
          .map((l) => [
            l.name,
            arr(l.supportedKinds)
              .map(rec)
              .map((k) => [str(k.group) ?? GATEWAY_GROUP, k.kind]),
            num(l.attachedRoutes) ?? 0,
            conds(l.conditions),
          ]),
      ]);
    default:
      return JSON.stringify(
        arr(s.parents)
          .map(rec)
          .map((p) => [refKey(p.parentRef, routeNamespace), p.controllerName, conds(p.conditions)]),
      );
  }
}

interface Target {
  kind: Kind;
  namespace?: string;
  name: string;
  /** the object as the view had it: its generation is the one the report describes */
  seen: KubeObject;
  /** the status fields to write, from the object's current status */
  desired(status: unknown, now: string): Rec;
}

function describe(err: unknown): string {
  const code = statusCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  const first = msg.split('\n')[0]!.slice(0, 300);
  return code !== undefined && !first.includes(String(code)) ? `${code}: ${first}` : first;
}

class TimeoutError extends Error {
  readonly code = 'ERR_GATEWAY_STATUS_TIMEOUT';
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`request timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The version to write at: the one the object was read at, when the view says. */
function versionOf(kind: Kind, obj: KubeObject): string {
  const av = obj.apiVersion;
  if (av?.startsWith(`${GATEWAY_GROUP}/`)) return av.slice(GATEWAY_GROUP.length + 1);
  return RESOURCES[kind].version;
}

/** Every object whose status this report touches, and how. */
function targets(
  report: GatewayStatusReport,
  view: ClusterView,
  controllerNames: readonly string[],
): Target[] {
  const out: Target[] = [];
  const gen = (o: KubeObject) => num(o.metadata.generation);
  for (const gc of report.gatewayClasses) {
    const seen = view.get('GatewayClass', undefined, gc.name);
    if (!seen) continue;
    out.push({
      kind: 'GatewayClass',
      name: gc.name,
      seen,
      desired: (status, now) => ({
        conditions: mergeConditions(rec(status).conditions, gc.conditions, gen(seen), now),
      }),
    });
  }
  for (const g of report.gateways) {
    const seen = view.get('Gateway', g.namespace, g.name);
    if (!seen) continue;
    out.push({
      kind: 'Gateway',
      namespace: g.namespace,
      name: g.name,
      seen,
      desired: (status, now) => gatewayStatus(status, g, gen(seen), now),
    });
  }
  const ours = new Set([
    ...controllerNames,
    ...report.routes.flatMap((r) => r.parents.map((p) => p.controllerName)),
  ]);
  // Several entries for one route (one per parent, say) are one write.
  const routes = new Map<
    string,
    { kind: RouteKind; namespace: string; name: string; parents: RouteParentStatus[] }
  >();
  for (const r of report.routes) {
    const key = `${r.kind}/${r.namespace}/${r.name}`;
    const had = routes.get(key);
    if (had) had.parents.push(...r.parents);
    else routes.set(key, { ...r, parents: [...r.parents] });
  }
  // Routes the report no longer names that still carry an entry of ours.
  for (const kind of ROUTE_KINDS) {
    for (const o of view.list(kind)) {
      const namespace = o.metadata.namespace;
      if (namespace === undefined) continue;
      const key = `${kind}/${namespace}/${o.metadata.name}`;
      if (routes.has(key)) continue;
      const parents = arr(rec(o.status).parents).map(rec);
      if (parents.some((p) => ours.has(str(p.controllerName) ?? ''))) {
        routes.set(key, { kind, namespace, name: o.metadata.name, parents: [] });
      }
    }
  }
  for (const r of routes.values()) {
    const seen = view.get(r.kind, r.namespace, r.name);
    if (!seen) continue;
    out.push({
      kind: r.kind,
      namespace: r.namespace,
      name: r.name,
      seen,
      desired: (status, now) => ({
        parents: routeParents(rec(status).parents, r.parents, ours, r.namespace, gen(seen), now),
      }),
    });
  }
  return out;
}

export function createGatewayStatusWriter(opts: GatewayStatusWriterOptions): GatewayStatusWriter {
  const api = opts.kc.makeApiClient(CustomObjectsApi);
  const log = opts.logger;
  const retryMs = opts.retryMs ?? 5000;
  const controllerNames = opts.controllerNames ?? GATEWAY_CONTROLLERS;
  let latest: { report: GatewayStatusReport; view: ClusterView } | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  let retryTimer: NodeJS.Timeout | undefined;
  /**
   * What this leader wrote (without times) and the object's resourceVersion
   * just before: until the watch delivers the write, the view still shows
   * that version, and must not cause the same write again (as in ../status.ts).
   */
  let written = new Map<string, { status: string; before: string | undefined }>();
  /** failures already logged, by object */
  const reported = new Map<string, string>();
  function report(key: string, fields: { err: string; [k: string]: unknown }, msg: string): void {
    if (reported.get(key) === fields.err) log.debug(fields, msg);
    else log.error(fields, msg);
    reported.set(key, fields.err);
  }

  const where = (t: Target) => ({
    kind: t.kind,
    ...(t.namespace !== undefined ? { namespace: t.namespace } : {}),
    name: t.name,
  });

  function request(t: Target, version: string, body?: Rec): Promise<unknown> {
    const base = { group: GATEWAY_GROUP, version, plural: RESOURCES[t.kind].plural, name: t.name };
    const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const p: Promise<unknown> =
      t.namespace === undefined
        ? body
          ? api.patchClusterCustomObjectStatus({ ...base, body }, merge)
          : api.getClusterCustomObject(base)
        : body
          ? api.patchNamespacedCustomObjectStatus({ ...base, namespace: t.namespace, body }, merge)
          : api.getNamespacedCustomObject({ ...base, namespace: t.namespace });
    return withTimeout(p, REQUEST_TIMEOUT_MS);
  }

  /** true when the object carries its status now (or is gone); false: try again later */
  async function writeOne(t: Target): Promise<boolean> {
    const key = `${t.kind}/${t.namespace ?? ''}/${t.name}`;
    const ns = t.namespace ?? '';
    const version = versionOf(t.kind, t.seen);
    let current: KubeObject = t.seen;
    for (let conflicts = 0; ;) {
      const desired = t.desired(current.status, rfc3339(new Date()));
      if (statusKey(t.kind, desired, ns) === statusKey(t.kind, current.status, ns)) {
        reported.delete(key);
        return true;
      }
      const meant = statusKey(t.kind, desired, ns, false);
      const before = current.metadata.resourceVersion;
      const mine = written.get(key);
      if (mine?.status === meant && mine.before === before) return true;
      try {
        await request(t, version, {
          ...(before ? { metadata: { resourceVersion: before } } : {}),
          status: desired,
        });
        written.set(key, { status: meant, before });
        reported.delete(key);
        log.info(where(t), 'updated gateway api status');
        return true;
      } catch (err) {
        const code = statusCode(err);
        if (code === 404) {
          log.debug(where(t), 'gateway api object gone before its status was written');
          return true;
        }
        if (code !== 409 || ++conflicts > MAX_CONFLICTS) {
          report(key, { ...where(t), err: describe(err) }, 'failed to update gateway api status');
          return false;
        }
      }
      // 409: someone wrote since our read; read again and recompute.
      try {
        current = (await request(t, version)) as KubeObject;
      } catch (err) {
        if (statusCode(err) === 404) return true;
        report(key, { ...where(t), err: describe(err) }, 'failed to read gateway api object');
        return false;
      }
    }
  }

  async function runOnce(): Promise<boolean> {
    if (!latest || !opts.elector.isLeader()) return true;
    const { report: r, view } = latest;
    let ok = true;
    for (const t of targets(r, view, controllerNames)) {
      if (stopped || !opts.elector.isLeader()) break;
      if (!(await writeOne(t))) ok = false;
    }
    return ok;
  }

  function schedule(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    clearTimeout(retryTimer);
    retryTimer = undefined;
    running = (async () => {
      let ok = true;
      do {
        again = false;
        ok = await runOnce().catch((err: unknown) => {
          log.error({ err: describe(err) }, 'gateway api status writer failed');
          return false;
        });
      } while (again && !stopped);
      if (!ok && !stopped) {
        retryTimer = setTimeout(schedule, retryMs);
        retryTimer.unref?.();
      }
    })().finally(() => {
      running = undefined;
      // an update that came after the loop's last check
      if (again) schedule();
    });
  }

  const unsubscribe = opts.elector.onChange((leading) => {
    // A new term starts from what the cluster says, not from an old term's memory.
    written = new Map();
    if (leading) schedule();
  });

  return {
    update(report, view) {
      latest = { report, view };
      schedule();
    },
    async stop() {
      stopped = true;
      unsubscribe();
      clearTimeout(retryTimer);
      await running;
    },
  };
}
