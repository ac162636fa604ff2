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

function describe(err: unknown): string {
  const code = statusCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  const first = msg.split('\n')[0]!.slice(0, 300);
  return code !== undefined && !first.includes(String(code)) ? `${code}: ${first}` : first;
}

export function createIngressStatusWriter(opts: IngressStatusWriterOptions): IngressStatusWriter {
  const net = opts.kc.makeApiClient(NetworkingV1Api);
  const core = opts.kc.makeApiClient(CoreV1Api);
  const log = opts.logger;
  const retryMs = opts.retryMs ?? 5000;
  const timeoutMs = opts.requestTimeoutMs ?? 10_000;
  const endpoint = opts.ingressEndpoint;
  let latest: { accepted: IngressRef[]; view: ClusterView } | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  let retryTimer: NodeJS.Timeout | undefined;
  /**
   * What this leader wrote, and the Ingress's resourceVersion just before:
   * the view lags behind the write until the watch delivers it, and must not
   * cause a second write meanwhile. While the view still shows that version,
   * the write is not in it yet; any other version means the cache has moved
   * on and is trusted again (resourceVersions are opaque: only compared for
   * equality, never ordered).
   */
  let written = new Map<string, { status: string; before: string | undefined }>();

  /** failures already logged, by Ingress ('' for the endpoint itself) */
  const reported = new Map<string, string>();
  /** An error at error level once; the same one again on every retry only at debug. */
  function report(key: string, fields: { err: string; [k: string]: unknown }, msg: string): void {
    if (reported.get(key) === fields.err) log.debug(fields, msg);
    else log.error(fields, msg);
    reported.set(key, fields.err);
  }

  async function publishedService(view: ClusterView): Promise<KubeObject | undefined> {
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
        core.readNamespacedService({ name, namespace: ns }),
        timeoutMs,
      )) as unknown as KubeObject;
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw new IngressStatusError(
        'ERR_PUBLISHED_SERVICE',
        `cannot get service ${endpoint.publishedService}: ${describe(err)}`,
        { cause: err },
      );
    }
  }

  async function nodes(view: ClusterView, service: KubeObject | undefined): Promise<KubeObject[]> {
    if (str(rec(service?.spec).type) !== 'NodePort') return [];
    if (opts.disableClusterScopeResources) {
      throw new IngressStatusError(
        'ERR_PUBLISHED_SERVICE',
        'node port service type is not supported when cluster scope resources lookup is disabled',
      );
    }
    const cached = view.list('Node');
    if (cached.length > 0) return cached;
    const list = await withTimeout(core.listNode(), timeoutMs);
    return list.items as unknown as KubeObject[];
  }

  async function runOnce(): Promise<boolean> {
    if (!latest || !opts.elector.isLeader()) return true;
    const { accepted, view } = latest;
    let desired: LoadBalancerIngress[] | undefined;
    try {
      const service = endpoint.publishedService ? await publishedService(view) : undefined;
      desired = desiredStatus(endpoint, service, await nodes(view, service));
    } catch (err) {
      report('', { err: describe(err) }, 'cannot work out the ingress status');
      return false;
    }
    reported.delete('');
    if (desired === undefined) {
      log.debug(
        { service: endpoint.publishedService },
        'skipping ingress status: the published service has no load balancer status yet',
      );
      return true;
    }
    const desiredKey = JSON.stringify(desired);
    let ok = true;
    for (const ref of accepted) {
      if (stopped || !opts.elector.isLeader()) break;
      const ing = view.get('Ingress', ref.namespace, ref.name);
      if (!ing) continue;
      const current = arr(rec(rec(ing.status).loadBalancer).ingress);
      const key = `${ref.namespace}/${ref.name}`;
      if (sameLoadBalancer(current, desired)) continue;
      const mine = written.get(key);
      if (mine?.status === desiredKey && mine.before === ing.metadata.resourceVersion) {
        continue;
      }
      try {
        await withTimeout(
          net.patchNamespacedIngressStatus(
            {
              name: ref.name,
              namespace: ref.namespace,
              body: { status: { loadBalancer: { ingress: desired } } },
            },
            setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
          ),
          timeoutMs,
        );
        written.set(key, { status: desiredKey, before: ing.metadata.resourceVersion });
        reported.delete(key);
        log.info({ ingress: key, loadBalancer: desired }, 'updated ingress status');
      } catch (err) {
        ok = false;
        report(
          key,
          { kind: 'Ingress', namespace: ref.namespace, name: ref.name, err: describe(err) },
          'failed to update ingress status',
        );
      }
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
          log.error({ err: describe(err) }, 'ingress status writer failed');
          return false;
        });
      } while (again && !stopped);
      if (!ok && !stopped) {
        retryTimer = setTimeout(schedule, retryMs);
        retryTimer.unref?.();
      }
    })().finally(() => {
      running = undefined;
    });
  }

  const unsubscribe = opts.elector.onChange((leading) => {
    // A new term starts from what the cluster says, not from an old term's memory.
    written = new Map();
    if (leading) schedule();
  });

  return {
    update(accepted, view) {
      latest = { accepted: [...accepted], view };
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
