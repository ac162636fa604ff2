/*
 * The two Kubernetes providers, with Traefik's names: `kubernetes` (Ingress,
 * providers.kubernetesIngress) and `kubernetescrd` (Traefik's CRDs,
 * providers.kubernetesCRD). Each runs a watch set (watch.ts) over the
 * resources it reads and, after every burst of changes (at most once per
 * throttleDuration), hands the aggregator a whole snapshot built by its pure
 * translator from one consistent view of the caches. Objects that cannot be
 * translated become diagnostics (kind, namespace/name, field, reason) in the
 * log, the API and the dashboard; the rest keeps serving.
 */
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { createEventRecorder } from './events.js';
import type { Provider, ProviderSnapshot } from '../../src/config/provider.js';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { createKubeClient, type KubeClientOptions } from './client.js';
import { translateCrds, type CrdProviderOptions } from './crd/translate.js';
import { translateIngresses, type IngressProviderOptions } from './ingress/translate.js';
import { translateNginxIngresses, type NginxProviderOptions } from './nginx/translate.js';
import { translateGateway } from './gateway/translate.js';
import type { GatewayProviderOptions, GatewayStatusReport } from './gateway/model.js';
import {
  CRD_PROVIDER,
  INGRESS_PROVIDER,
  GATEWAY_PROVIDER,
  NGINX_PROVIDER,
  objectRef,
  type ClusterView,
  type KubeDiagnostic,
} from './objects.js';
import {
  CRD_RESOURCES,
  ENDPOINT_SLICE,
  INGRESS,
  GATEWAY_RESOURCES,
  INGRESS_CLASS,
  NAMESPACE,
  NODE,
  SECRET,
  SERVICE,
  TCP_ROUTE,
  type ResourceDef,
} from './resources.js';
import { WatchSet, type WatchLogger, type WatchStatus } from './watch.js';

export type { KubeDiagnostic } from './objects.js';
export { translateCrds } from './crd/translate.js';
export { translateIngresses } from './ingress/translate.js';

export interface KubernetesCommonOptions extends KubeClientOptions {
  logger: WatchLogger;
  namespaces: readonly string[];
  labelSelector?: string | undefined;
  /** minimum time between two snapshots, ms (Traefik's throttleDuration; 0 = none) */
  throttleMs: number;
  /** an already-built client (tests); else one is built from endpoint/token/env */
  kc?: KubeConfig;
  env?: NodeJS.ProcessEnv;
  /** quiet time gathering a burst of events into one snapshot, ms */
  burstMs?: number;
  /** retry tuning (tests) */
  backoffMs?: number;
  maxBackoffMs?: number;
  absentRetryMs?: number;
  /** create Kubernetes Events on objects that cannot be translated (default true) */
  recordEvents?: boolean;
}

/** Called with each Ingress translation (the status writer follows it). */
export type IngressObserver = (
  accepted: { namespace: string; name: string }[],
  view: ClusterView,
) => void;

export type KubernetesIngressOptions = KubernetesCommonOptions &
  IngressProviderOptions & { onTranslated?: IngressObserver };
export type KubernetesCrdOptions = KubernetesCommonOptions & CrdProviderOptions;

export interface KubernetesProvider extends Provider {
  /** objects the last translation could not take, and watches that fail */
  diagnostics(): KubeDiagnostic[];
  /** whether every watch is synced (the API server answers) */
  connected(): boolean;
  watches(): WatchStatus[];
}

interface Translation {
  config: DynamicConfig;
  diagnostics: KubeDiagnostic[];
}

export function createKubernetesIngressProvider(
  opts: KubernetesIngressOptions,
): KubernetesProvider {
  const resources: ResourceDef[] = [INGRESS, SERVICE, ENDPOINT_SLICE, SECRET];
  // IngressClasses, and Nodes for service.nodeportlb: cluster-scoped, so not read when disabled
  if (!opts.disableClusterScopeResources) resources.push(INGRESS_CLASS, NODE);
  return createKubernetesProvider(INGRESS_PROVIDER, resources, opts, (view) => {
    const t = translateIngresses(view, opts);
    opts.onTranslated?.(t.accepted, view);
    return t;
  });
}

export type KubernetesIngressNginxOptions = KubernetesCommonOptions &
  NginxProviderOptions & { onTranslated?: IngressObserver };

/**
 * `kubernetesingressnginx` (Traefik's name): Ingresses of class nginx with
 * their nginx.ingress.kubernetes.io annotations (nginx/translate.ts).
 */
export function createKubernetesIngressNginxProvider(
  opts: KubernetesIngressNginxOptions,
): KubernetesProvider {
  const resources: ResourceDef[] = [INGRESS, SERVICE, ENDPOINT_SLICE, SECRET];
  if (!opts.disableClusterScopeResources) resources.push(INGRESS_CLASS);
  return createKubernetesProvider(NGINX_PROVIDER, resources, opts, (view) => {
    const t = translateNginxIngresses(view, opts);
    opts.onTranslated?.(t.accepted, view);
    return t;
  });
}

export type KubernetesGatewayOptions = KubernetesCommonOptions &
  GatewayProviderOptions & {
    /** called with each translation's status report (the status writer follows it) */
    onTranslated?: (status: GatewayStatusReport, view: ClusterView) => void;
  };

/**
 * `kubernetesgateway` (Traefik's name): Gateway API GatewayClasses,
 * Gateways and routes (gateway/translate.ts); `labelSelector` selects
 * GatewayClasses. Namespaces are read for listeners' allowedRoutes selectors.
 */
export function createKubernetesGatewayProvider(
  opts: KubernetesGatewayOptions,
): KubernetesProvider {
  const resources: ResourceDef[] = [
    ...GATEWAY_RESOURCES,
    SERVICE,
    ENDPOINT_SLICE,
    SECRET,
    NAMESPACE,
  ];
  if (opts.experimentalChannel) resources.push(TCP_ROUTE);
  return createKubernetesProvider(GATEWAY_PROVIDER, resources, opts, (view) => {
    const t = translateGateway(view, opts);
    opts.onTranslated?.(t.status, view);
    return t;
  });
}

export function createKubernetesCrdProvider(opts: KubernetesCrdOptions): KubernetesProvider {
  return createKubernetesProvider(
    CRD_PROVIDER,
    [...CRD_RESOURCES, SERVICE, ENDPOINT_SLICE, SECRET],
    opts,
    (view) => translateCrds(view, opts),
  );
}

function createKubernetesProvider(
  name: string,
  resources: readonly ResourceDef[],
  opts: KubernetesCommonOptions,
  translate: (view: ClusterView) => Translation,
): KubernetesProvider {
  const log = opts.logger;
  let watchSet: WatchSet | undefined;
  let last: KubeDiagnostic[] = [];
  const report = createDiagnosticLog(log);

  const watchDiagnostics = (): KubeDiagnostic[] =>
    (watchSet?.status() ?? [])
      .filter((s) => s.state === 'error')
      .map((s) => ({
        kind: 'Watch',
        name: s.resource,
        ...(s.namespace !== undefined ? { namespace: s.namespace } : {}),
        field: 'list/watch',
        message: `${s.error ?? 'failing'}; the last objects seen keep serving`,
        level: 'error' as const,
      }));

  return {
    name,
    diagnostics: () => [...last, ...watchDiagnostics()],
    connected: () => watchSet?.connected() ?? false,
    watches: () => watchSet?.status() ?? [],
    async start(emit, signal) {
      const kc = opts.kc ?? createKubeClient(opts, opts.env).kc;
      const env = opts.env ?? process.env;
      const events =
        opts.recordEvents === false
          ? undefined
          : createEventRecorder({
              kc,
              logger: log,
              instance: env.POD_NAME || env.HOSTNAME || hostname(),
            });
      let timer: NodeJS.Timeout | undefined;
      let lastEmit = 0;
      let synced = false;
      const publish = (): void => {
        timer = undefined;
        if (signal.aborted || watchSet === undefined) return;
        lastEmit = Date.now();
        let snap: ProviderSnapshot;
        try {
          const view = watchSet.view();
          const t = translate(view);
          last = t.diagnostics;
          report(t.diagnostics);
          events?.record(t.diagnostics, view);
          snap = { provider: name, config: t.config, errors: [] };
        } catch (err) {
          // a translator bug must not take the provider down: keep the last snapshot
          log.error({ err: String(err), provider: name }, 'kubernetes: translation failed');
          return;
        }
        emit(snap);
      };
      const schedule = (): void => {
        if (!synced || timer !== undefined || signal.aborted) return;
        const wait = Math.max(opts.burstMs ?? 20, lastEmit + opts.throttleMs - Date.now());
        timer = setTimeout(publish, wait);
      };
      watchSet = new WatchSet({
        kc,
        resources,
        namespaces: opts.namespaces,
        labelSelector: opts.labelSelector,
        logger: log,
        onChange: schedule,
        ...(opts.backoffMs !== undefined ? { backoffMs: opts.backoffMs } : {}),
        ...(opts.maxBackoffMs !== undefined ? { maxBackoffMs: opts.maxBackoffMs } : {}),
        ...(opts.absentRetryMs !== undefined ? { absentRetryMs: opts.absentRetryMs } : {}),
      });
      const stop = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        watchSet?.stop();
      };
      signal.addEventListener('abort', stop, { once: true });
      await watchSet.start();
      if (signal.aborted) return;
      synced = true;
      // the first snapshot right away, even when a watch failed (its retry runs on)
      publish();
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
    },
  };
}

/** Logs each diagnostic once while it lasts: kind namespace/name, field, reason. */
function createDiagnosticLog(log: WatchLogger): (d: readonly KubeDiagnostic[]) => void {
  let reported = new Set<string>();
  return (diagnostics) => {
    const current = new Set<string>();
    for (const d of diagnostics) {
      const key = `${objectRef(d)}\u0000${d.field}\u0000${d.message}`;
      current.add(key);
      if (reported.has(key)) continue;
      const rec = {
        kind: d.kind,
        ...(d.namespace !== undefined ? { namespace: d.namespace } : {}),
        name: d.name,
        field: d.field,
      };
      const msg = `${objectRef(d)}: ${d.field}: ${d.message}`;
      if (d.level === 'error') log.error(rec, msg);
      else log.warn(rec, msg);
    }
    reported = current;
  };
}
