/*
 * Leader election on a coordination.k8s.io/v1 Lease (issue 14, "written by
 * one replica"). client-node has no LeaderElector, so this follows
 * client-go's tools/leaderelection:
 *
 * - a follower reads the Lease every retry period; it may take it when the
 *   holder is empty (released) or when the record has not changed for a
 *   whole lease duration *as observed on the local clock* (client-go's
 *   observedTime: the holder's renewTime comes from another machine's clock,
 *   so it is only compared with itself, never with ours);
 * - it takes it with a replace carrying the resourceVersion it read: of two
 *   replicas racing, one gets 409 Conflict (a create race gives one 409
 *   AlreadyExists);
 * - the leader renews every retry period; when it has not renewed for
 *   `renewDeadline`, or finds another holder, it stops leading at once,
 *   before the others may take over (renewDeadline < leaseDuration);
 * - stop() releases the Lease (empty holder) so another replica takes over
 *   on its next try instead of after a lease duration.
 *
 * Times are MicroTime (`new V1MicroTime()`: six fractional digits, or a real
 * server answers 400); they come back as strings. Errors never throw out of
 * the loop: they are logged and tried again a retry period later.
 */
import {
  CoordinationV1Api,
  V1MicroTime,
  type KubeConfig,
  type V1Lease,
} from '@kubernetes/client-node';
import { hostname } from 'node:os';
import { statusCode, type WatchLogger } from './watch.js';

export type LeaseLogger = WatchLogger;

export interface LeaderElectorOptions {
  kc: KubeConfig;
  namespace: string;
  /** the Lease's name (one per controller, shared by its replicas) */
  name: string;
  /** this replica (POD_NAME / HOSTNAME) */
  identity: string;
  /** how long a Lease holds without renewal (client-go's default 15 s) */
  leaseDurationSeconds?: number;
  /** how long the leader keeps trying to renew before it stops leading (default 2/3 of the lease duration) */
  renewDeadlineSeconds?: number;
  /** time between two tries (default 2 s) */
  retryPeriodSeconds?: number;
  logger?: LeaseLogger;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
}

export interface LeaderElector {
  /**
   * Run the election until stop() or until the signal aborts. An abort stops
   * renewing WITHOUT releasing (like a crash): the others take over when the
   * lease expires.
   */
  start(signal?: AbortSignal): void;
  isLeader(): boolean;
  /** subscribe to leadership changes (the status writer writes everything when it starts leading) */
  onChange(listener: (leading: boolean) => void): () => void;
  /** stop the loop and release the Lease if held; resolves once released */
  stop(): Promise<void>;
}

/** The Lease the Ingress status writers of one installation share. */
export const STATUS_LEASE_NAME = 'portico-ingress-status';

/**
 * Where this replica's Lease lives and who it is: the Downward API's
 * POD_NAMESPACE (the Helm chart and manifests set it; `default` otherwise)
 * and POD_NAME, else HOSTNAME (a pod's hostname is its name), else the host
 * name. Identities must differ between replicas: two with the same one would
 * both think they lead.
 */
export function leaseSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): {
  namespace: string;
  name: string;
  identity: string;
} {
  return {
    namespace: env.POD_NAMESPACE || 'default',
    name: STATUS_LEASE_NAME,
    identity: env.POD_NAME || env.HOSTNAME || hostname(),
  };
}

const noopLogger: LeaseLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** A Kubernetes API error in one line, with its HTTP status (logs of the elector and the status writer). */
export function describeError(err: unknown): string {
  const code = statusCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  const first = msg.split('\n')[0]!.slice(0, 300);
  return code !== undefined && !first.includes(String(code)) ? `${code}: ${first}` : first;
}

class TimeoutError extends Error {
  readonly code = 'ERR_KUBE_REQUEST_TIMEOUT';
}

/**
 * client-node 1.x requests have no deadline; a hung API server must not stall
 * renewals, status writes, or a shutdown waiting for them. The request itself
 * is left to finish or fail on its own.
 */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`request timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** One elector's settings and state, shared by the steps below. */
interface Election {
  api: CoordinationV1Api;
  log: LeaseLogger;
  opts: LeaderElectorOptions;
  namespace: string;
  name: string;
  identity: string;
  /** seconds; leaseDurationSeconds is an int32 on the wire */
  leaseDuration: number;
  retryMs: number;
  renewDeadlineMs: number;
  fields: { namespace: string; lease: string; identity: string };
  listeners: Set<(leading: boolean) => void>;
  leading: boolean;
  loop: AbortController | undefined;
  running: Promise<void> | undefined;
  /** the last Lease record seen and when (local clock) it last changed */
  observed: { key: string; at: number } | undefined;
  lastRenew: number;
  lastFailure: string | undefined;
}

export function createLeaderElector(opts: LeaderElectorOptions): LeaderElector {
  const { namespace, name, identity } = opts;
  const leaseDuration = Math.max(1, Math.ceil(opts.leaseDurationSeconds ?? 15));
  const e: Election = {
    api: opts.kc.makeApiClient(CoordinationV1Api),
    log: opts.logger ?? noopLogger,
    opts,
    namespace,
    name,
    identity,
    leaseDuration,
    retryMs: (opts.retryPeriodSeconds ?? 2) * 1000,
    renewDeadlineMs: (opts.renewDeadlineSeconds ?? (leaseDuration * 2) / 3) * 1000,
    fields: { namespace, lease: name, identity },
    listeners: new Set(),
    leading: false,
    loop: undefined,
    running: undefined,
    observed: undefined,
    lastRenew: 0,
    lastFailure: undefined,
  };
  return {
    start(signal) {
      if (e.loop || signal?.aborted) return;
      const controller = new AbortController();
      e.loop = controller;
      const onAbort = (): void => {
        controller.abort();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      e.running = run(e, controller.signal).finally(() => {
        signal?.removeEventListener('abort', onAbort);
        // Stopped renewing: this replica must not act as leader any more.
        setLeading(e, false);
        if (e.loop === controller) e.loop = undefined;
      });
    },
    isLeader: () => e.leading,
    onChange(listener) {
      e.listeners.add(listener);
      return () => e.listeners.delete(listener);
    },
    async stop() {
      const wasLeading = e.leading;
      e.loop?.abort();
      await e.running;
      e.running = undefined;
      if (wasLeading) await release(e);
    },
  };
}

function setLeading(e: Election, next: boolean): void {
  if (e.leading === next) return;
  e.leading = next;
  const { log, fields, opts } = e;
  log.info({ ...fields, leading: next }, next ? 'started leading' : 'stopped leading');
  try {
    (next ? opts.onStartedLeading : opts.onStoppedLeading)?.();
  } catch (err) {
    log.error({ ...fields, err: describeError(err) }, 'leadership callback failed');
  }
  for (const l of e.listeners) {
    try {
      l(next);
    } catch (err) {
      log.error({ ...fields, err: describeError(err) }, 'leadership listener failed');
    }
  }
}

/** What identifies a Lease record: it changes whenever its holder writes it. */
const recordKey = (s: NonNullable<V1Lease['spec']>): string =>
  `${s.holderIdentity ?? ''}|${String(s.renewTime ?? '')}|${String(s.acquireTime ?? '')}`;

/** The Lease as this replica holds it, renewed now. */
function heldLease(
  e: Election,
  lease: V1Lease,
  transitions: number,
  acquired: Date | V1MicroTime,
): V1Lease {
  return {
    ...lease,
    spec: {
      ...lease.spec,
      holderIdentity: e.identity,
      leaseDurationSeconds: e.leaseDuration,
      acquireTime: acquired,
      renewTime: new V1MicroTime(),
      leaseTransitions: transitions,
    },
  };
}

/** No Lease yet: create it held by this replica; false when another replica created it first. */
async function createLease(e: Election, timeout: number): Promise<boolean> {
  const { api, namespace, name } = e;
  try {
    const now = new V1MicroTime();
    await withTimeout(
      api.createNamespacedLease({
        namespace,
        body: {
          metadata: { name, namespace },
          spec: {
            holderIdentity: e.identity,
            leaseDurationSeconds: e.leaseDuration,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        },
      }),
      timeout,
    );
    e.log.debug(e.fields, 'lease created');
    return true;
  } catch (createErr) {
    // AlreadyExists: another replica created it first.
    if (statusCode(createErr) === 409) return false;
    throw createErr;
  }
}

/** One try: true when this replica holds the Lease afterwards. */
async function tryAcquireOrRenew(e: Election): Promise<boolean> {
  const { api, namespace, name, identity } = e;
  const timeout = Math.max(1000, Math.min(e.renewDeadlineMs, e.retryMs * 2));
  let lease: V1Lease;
  try {
    lease = await withTimeout(api.readNamespacedLease({ name, namespace }), timeout);
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
    return createLease(e, timeout);
  }
  const s = lease.spec ?? {};
  const holder = s.holderIdentity ?? '';
  const key = recordKey(s);
  const now = Date.now();
  if (e.observed?.key !== key) e.observed = { key, at: now };
  const duration = (s.leaseDurationSeconds ?? e.leaseDuration) * 1000;
  if (holder !== '' && holder !== identity && e.observed.at + duration > now) return false;
  const mine = holder === identity;
  const transitions = (s.leaseTransitions ?? 0) + (mine ? 0 : 1);
  // Kept as read (a string with its six digits): a Date would drop the microseconds.
  const acquired = mine && s.acquireTime ? s.acquireTime : new V1MicroTime();
  try {
    // The resourceVersion read above makes this a compare-and-swap.
    const written = await withTimeout(
      api.replaceNamespacedLease({
        name,
        namespace,
        body: heldLease(e, lease, transitions, acquired),
      }),
      timeout,
    );
    e.observed = { key: recordKey(written.spec ?? {}), at: Date.now() };
    return true;
  } catch (err) {
    if (statusCode(err) === 409) return false;
    throw err;
  }
}

async function run(e: Election, signal: AbortSignal): Promise<void> {
  const { log, fields } = e;
  while (!signal.aborted) {
    let held = false;
    try {
      held = await tryAcquireOrRenew(e);
      if (held) e.lastRenew = Date.now();
      e.lastFailure = undefined;
    } catch (err) {
      const why = describeError(err);
      // The same failure every retry period (missing RBAC, API server away) is logged once.
      if (why !== e.lastFailure)
        log.warn({ ...fields, err: why }, 'lease election failed, retrying');
      else log.debug({ ...fields, err: why }, 'lease election failed, retrying');
      e.lastFailure = why;
      held = e.leading && Date.now() - e.lastRenew < e.renewDeadlineMs;
    }
    if (signal.aborted) break;
    if (!held && e.leading) {
      log.warn(fields, 'lease lost or not renewed in time');
    }
    setLeading(e, held);
    // A little jitter keeps replicas that started together from trying in lockstep.
    await sleep(e.retryMs * (1 + Math.random() * 0.2), signal);
  }
}

async function release(e: Election): Promise<void> {
  const { api, namespace, name, log, fields } = e;
  try {
    const lease = await withTimeout(api.readNamespacedLease({ name, namespace }), 5000);
    if (lease.spec?.holderIdentity !== e.identity) return;
    const now = new V1MicroTime();
    // client-go's ReleaseOnCancel: an empty holder and a 1 s duration, so the next try wins.
    await withTimeout(
      api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: '',
            leaseDurationSeconds: 1,
            acquireTime: now,
            renewTime: now,
          },
        },
      }),
      5000,
    );
    log.info(fields, 'lease released');
  } catch (err) {
    log.warn(
      { ...fields, err: describeError(err) },
      'lease release failed; others take over when it expires',
    );
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
