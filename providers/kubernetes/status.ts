/*
 * Ingress status writer (issue 14 section 6): sets `status.loadBalancer` of
 * every Ingress the provider accepted to where Portico can be reached, from
 * `providers.kubernetesIngress.ingressEndpoint`, with Traefik's semantics
 * (pkg/provider/kubernetes/ingress/kubernetes.go updateIngressStatus):
 *
 * - `ip` / `hostname`: one entry `{ip, hostname}` (empty ones left out);
 * - `publishedService: namespace/name`: by the Service's type —
 *   LoadBalancer: a copy of its `status.loadBalancer.ingress` (nothing is
 *   written while it has none); ClusterIP: one entry per `spec.externalIPs`
 *   with the Service's ports; NodePort: one per node ExternalIP with the node
 *   ports; ExternalName: `{hostname: spec.externalName}`.
 *
 * Only the replica leading the Lease (lease.ts) writes, and only when the
 * status differs (Traefik's isLoadBalancerIngressEquals: the same set of
 * ip+hostname; ports are compared too here). A new leader checks every
 * accepted Ingress at once. Writes are merge patches on `/status` (the list
 * is atomic, so it is replaced whole; no resourceVersion, so a cache that is
 * a little behind cannot make the write fail). A failed write is logged with
 * the object and tried again on the next update or after `retryMs`; nothing
 * here throws.
 */
import {
  CoreV1Api,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import {
  createLeaderElector,
  describeError,
  leaseSettingsFromEnv,
  withTimeout,
  type LeaderElector,
  type LeaderElectorOptions,
} from './lease.js';
import type { ClusterView, KubeObject } from './objects.js';
import { statusCode, type WatchLogger } from './watch.js';

export interface IngressEndpoint {
  ip?: string;
  hostname?: string;
  /** `namespace/name` of the Service whose address is published */
  publishedService?: string;
}

export interface IngressStatusWriterOptions {
  kc: KubeConfig;
  ingressEndpoint: IngressEndpoint;
  elector: Pick<LeaderElector, 'isLeader' | 'onChange'>;
  logger: WatchLogger;
  /** Traefik's option: no Node reads, so a NodePort publishedService is refused */
  disableClusterScopeResources?: boolean;
  /** delay before a failed write is tried again when no update comes (default 5 s) */
  retryMs?: number;
  /** deadline of each API request (default 10 s) */
  requestTimeoutMs?: number;
}

export interface IngressRef {
  namespace: string;
  name: string;
}

export interface IngressStatusWriter {
  /** the Ingresses the provider accepted, and the view they were read from */
  update(accepted: IngressRef[], view: ClusterView): void;
  stop(): Promise<void>;
}

/** networking/v1 IngressLoadBalancerIngress */
export interface LoadBalancerIngress {
  ip?: string;
  hostname?: string;
  ports?: { port: number; protocol: string; error?: string }[];
}

/** Thrown by desiredStatus when the endpoint cannot be worked out (code for callers and tests). */
export class IngressStatusError extends Error {
  constructor(
    readonly code: 'ERR_PUBLISHED_SERVICE' | 'ERR_INGRESS_ENDPOINT',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const rec = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Only the fields networking/v1 defines, empty ones dropped (Go's omitempty). */
function normalize(raw: unknown): LoadBalancerIngress {
  const r = rec(raw);
  const out: LoadBalancerIngress = {};
  const ip = str(r.ip);
  const hostname = str(r.hostname);
  if (ip) out.ip = ip;
  if (hostname) out.hostname = hostname;
  const ports = arr(r.ports).flatMap((p) => {
    const port = rec(p);
    if (typeof port.port !== 'number') return [];
    const error = str(port.error);
    return [
      { port: port.port, protocol: str(port.protocol) ?? 'TCP', ...(error ? { error } : {}) },
    ];
  });
  if (ports.length > 0) out.ports = ports;
  return out;
}

/** The same set of entries, order aside. */
export function sameLoadBalancer(a: readonly unknown[], b: readonly unknown[]): boolean {
  const key = (e: unknown): string => JSON.stringify(normalize(e));
  const ka = a.map(key).sort();
  const kb = b.map(key).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i]);
}

const servicePorts = (svc: KubeObject, field: 'port' | 'nodePort'): LoadBalancerIngress['ports'] =>
  arr(rec(svc.spec).ports).flatMap((p) => {
    const port = rec(p)[field];
    return typeof port === 'number' ? [{ port, protocol: str(rec(p).protocol) ?? 'TCP' }] : [];
  });

/**
 * The status every accepted Ingress should carry, or undefined when nothing
 * is to be written (a LoadBalancer Service without an address yet). Throws
 * IngressStatusError when it cannot be worked out.
 */
export function desiredStatus(
  endpoint: IngressEndpoint,
  service: KubeObject | undefined,
  nodes: readonly KubeObject[],
): LoadBalancerIngress[] | undefined {
  if (!endpoint.publishedService) {
    if (!endpoint.ip && !endpoint.hostname) {
      throw new IngressStatusError(
        'ERR_INGRESS_ENDPOINT',
        'ingressEndpoint needs publishedService, ip or hostname',
      );
    }
    return [normalize(endpoint)];
  }
  if (!service) {
    throw new IngressStatusError(
      'ERR_PUBLISHED_SERVICE',
      `missing service: ${endpoint.publishedService}`,
    );
  }
  const spec = rec(service.spec);
  const type = str(spec.type) ?? 'ClusterIP';
  switch (type) {
    case 'LoadBalancer': {
      const lb = rec(rec(service.status).loadBalancer).ingress;
      return Array.isArray(lb) ? lb.map(normalize) : undefined;
    }
    case 'ClusterIP': {
      const ports = servicePorts(service, 'port');
      return arr(spec.externalIPs).flatMap((ip) => (str(ip) ? [normalize({ ip, ports })] : []));
    }
    case 'NodePort': {
      const ports = servicePorts(service, 'nodePort');
      return nodes.flatMap((n) =>
        arr(rec(n.status).addresses).flatMap((a) =>
          rec(a).type === 'ExternalIP' && str(rec(a).address)
            ? [normalize({ ip: rec(a).address, ports })]
            : [],
        ),
      );
    }
    case 'ExternalName':
      return [normalize({ hostname: spec.externalName })];
    default:
      throw new IngressStatusError('ERR_PUBLISHED_SERVICE', `unsupported service type: ${type}`);
  }
}

/** One writer's settings and state, shared by the steps below. */
interface StatusWriterState {
  opts: IngressStatusWriterOptions;
  net: NetworkingV1Api;
  core: CoreV1Api;
  log: WatchLogger;
  retryMs: number;
  timeoutMs: number;
  endpoint: IngressEndpoint;
  latest: { accepted: IngressRef[]; view: ClusterView } | undefined;
  running: Promise<void> | undefined;
  again: boolean;
  stopped: boolean;
  retryTimer: NodeJS.Timeout | undefined;
  /**
   * What this leader wrote, and the Ingress's resourceVersion just before:
   * the view lags behind the write until the watch delivers it, and must not
   * cause a second write meanwhile. While the view still shows that version,
   * the write is not in it yet; any other version means the cache has moved
   * on and is trusted again (resourceVersions are opaque: only compared for
   * equality, never ordered).
   */
  written: Map<string, { status: string; before: string | undefined }>;
  /** failures already logged, by Ingress ('' for the endpoint itself) */
  reported: Map<string, string>;
}

export function createIngressStatusWriter(opts: IngressStatusWriterOptions): IngressStatusWriter {
  const w: StatusWriterState = {
    opts,
    net: opts.kc.makeApiClient(NetworkingV1Api),
    core: opts.kc.makeApiClient(CoreV1Api),
    log: opts.logger,
    retryMs: opts.retryMs ?? 5000,
    timeoutMs: opts.requestTimeoutMs ?? 10_000,
    endpoint: opts.ingressEndpoint,
    latest: undefined,
    running: undefined,
    again: false,
    stopped: false,
    retryTimer: undefined,
    written: new Map(),
    reported: new Map(),
  };

  const unsubscribe = opts.elector.onChange((leading) => {
    // A new term starts from what the cluster says, not from an old term's memory.
    w.written = new Map();
    if (leading) schedule(w);
  });

  return {
    update(accepted, view) {
      w.latest = { accepted: [...accepted], view };
      schedule(w);
    },
    async stop() {
      w.stopped = true;
      unsubscribe();
      clearTimeout(w.retryTimer);
      await w.running;
    },
  };
}

/** An error at error level once; the same one again on every retry only at debug. */
function report(
  w: StatusWriterState,
  key: string,
  fields: { err: string; [k: string]: unknown },
  msg: string,
): void {
  if (w.reported.get(key) === fields.err) w.log.debug(fields, msg);
  else w.log.error(fields, msg);
  w.reported.set(key, fields.err);
}

async function publishedService(
  w: StatusWriterState,
  view: ClusterView,
): Promise<KubeObject | undefined> {
  const { endpoint } = w;
  const [ns, name, extra] = (endpoint.publishedService ?? '').split('/');
  if (!ns || !name || extra !== undefined) {
    throw new IngressStatusError(
      'ERR_PUBLISHED_SERVICE',
      `invalid publishedService format (expected 'namespace/service' format): ${endpoint.publishedService}`,
    );
  }
  // The view holds only watched namespaces; Portico's own Service may live elsewhere.
  const cached = view.get('Service', ns, name);
  if (cached) return cached;
  try {
    return (await withTimeout(
      w.core.readNamespacedService({ name, namespace: ns }),
      w.timeoutMs,
    )) as unknown as KubeObject;
  } catch (err) {
    if (statusCode(err) === 404) return undefined;
    throw new IngressStatusError(
      'ERR_PUBLISHED_SERVICE',
      `cannot get service ${endpoint.publishedService}: ${describeError(err)}`,
      { cause: err },
    );
  }
}

async function nodes(
  w: StatusWriterState,
  view: ClusterView,
  service: KubeObject | undefined,
): Promise<KubeObject[]> {
  if (str(rec(service?.spec).type) !== 'NodePort') return [];
  if (w.opts.disableClusterScopeResources) {
    throw new IngressStatusError(
      'ERR_PUBLISHED_SERVICE',
      'node port service type is not supported when cluster scope resources lookup is disabled',
    );
  }
  const cached = view.list('Node');
  if (cached.length > 0) return cached;
  const list = await withTimeout(w.core.listNode(), w.timeoutMs);
  return list.items as unknown as KubeObject[];
}

/** One pass over the accepted Ingresses; false when something is to be tried again. */
async function runOnce(w: StatusWriterState): Promise<boolean> {
  const { opts, endpoint } = w;
  if (!w.latest || !opts.elector.isLeader()) return true;
  const { accepted, view } = w.latest;
  let desired: LoadBalancerIngress[] | undefined;
  try {
    const service = endpoint.publishedService ? await publishedService(w, view) : undefined;
    desired = desiredStatus(endpoint, service, await nodes(w, view, service));
  } catch (err) {
    report(w, '', { err: describeError(err) }, 'cannot work out the ingress status');
    return false;
  }
  w.reported.delete('');
  if (desired === undefined) {
    w.log.debug(
      { service: endpoint.publishedService },
      'skipping ingress status: the published service has no load balancer status yet',
    );
    return true;
  }
  const desiredKey = JSON.stringify(desired);
  let ok = true;
  for (const ref of accepted) {
    if (w.stopped || !opts.elector.isLeader()) break;
    if (!(await writeStatus(w, view, ref, desired, desiredKey))) ok = false;
  }
  return ok;
}

/** One Ingress's status, patched unless it is already the desired one; false when the write failed. */
async function writeStatus(
  w: StatusWriterState,
  view: ClusterView,
  ref: IngressRef,
  desired: LoadBalancerIngress[],
  desiredKey: string,
): Promise<boolean> {
  const ing = view.get('Ingress', ref.namespace, ref.name);
  if (!ing) return true;
  const current = arr(rec(rec(ing.status).loadBalancer).ingress);
  const key = `${ref.namespace}/${ref.name}`;
  if (sameLoadBalancer(current, desired)) return true;
  const mine = w.written.get(key);
  if (mine?.status === desiredKey && mine.before === ing.metadata.resourceVersion) return true;
  try {
    await withTimeout(
      w.net.patchNamespacedIngressStatus(
        {
          name: ref.name,
          namespace: ref.namespace,
          body: { status: { loadBalancer: { ingress: desired } } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
      w.timeoutMs,
    );
    w.written.set(key, { status: desiredKey, before: ing.metadata.resourceVersion });
    w.reported.delete(key);
    w.log.info({ ingress: key, loadBalancer: desired }, 'updated ingress status');
    return true;
  } catch (err) {
    report(
      w,
      key,
      { kind: 'Ingress', namespace: ref.namespace, name: ref.name, err: describeError(err) },
      'failed to update ingress status',
    );
    return false;
  }
}

/** Runs a pass now, or once more after the running one; a failed pass is retried after retryMs. */
function schedule(w: StatusWriterState): void {
  if (w.stopped) return;
  if (w.running) {
    w.again = true;
    return;
  }
  clearTimeout(w.retryTimer);
  w.retryTimer = undefined;
  w.running = (async () => {
    let ok = true;
    do {
      w.again = false;
      ok = await runOnce(w).catch((err: unknown) => {
        w.log.error({ err: describeError(err) }, 'ingress status writer failed');
        return false;
      });
    } while (w.again && !w.stopped);
    if (!ok && !w.stopped) {
      w.retryTimer = setTimeout(() => schedule(w), w.retryMs);
      w.retryTimer.unref?.();
    }
  })().finally(() => {
    w.running = undefined;
  });
}

export interface IngressStatusOptions {
  kc: KubeConfig;
  ingressEndpoint: IngressEndpoint;
  logger: WatchLogger;
  disableClusterScopeResources?: boolean;
  /** POD_NAMESPACE / POD_NAME / HOSTNAME (leaseSettingsFromEnv) */
  env?: NodeJS.ProcessEnv;
  /** election timings (tests); client-go's defaults otherwise */
  lease?: Pick<
    LeaderElectorOptions,
    'leaseDurationSeconds' | 'renewDeadlineSeconds' | 'retryPeriodSeconds'
  >;
  retryMs?: number;
}

/**
 * The elector and the writer wired together, as the Ingress provider runs
 * them when `ingressEndpoint` is set: `update` is its IngressObserver, and
 * `stop` stops writing, then releases the Lease so another replica takes
 * over at once.
 */
export function startIngressStatus(opts: IngressStatusOptions): IngressStatusWriter {
  const elector = createLeaderElector({
    kc: opts.kc,
    ...leaseSettingsFromEnv(opts.env),
    ...opts.lease,
    logger: opts.logger,
  });
  const writer = createIngressStatusWriter({
    kc: opts.kc,
    ingressEndpoint: opts.ingressEndpoint,
    elector,
    logger: opts.logger,
    ...(opts.disableClusterScopeResources !== undefined
      ? { disableClusterScopeResources: opts.disableClusterScopeResources }
      : {}),
    ...(opts.retryMs !== undefined ? { retryMs: opts.retryMs } : {}),
  });
  elector.start();
  return {
    update: (accepted, view) => writer.update(accepted, view),
    async stop() {
      await writer.stop();
      await elector.stop();
    },
  };
}
