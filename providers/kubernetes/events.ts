/*
 * Kubernetes Events on the objects Portico cannot translate, so that
 * `kubectl describe ingress web` shows why its route is missing, next to the
 * log, the API and the dashboard. A diagnostic is recorded once per process
 * while it lasts (it is forgotten when it goes away, so it is recorded again
 * if it comes back); at most `maxPerRound` Events are created per
 * translation, so a flood of broken objects cannot flood the API server.
 * Failures (no RBAC for events, API server away) are logged once and never
 * affect routing.
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { CRD_KINDS, type ClusterView, type KubeDiagnostic, type ResourceKind } from './objects.js';
import type { WatchLogger } from './watch.js';

export interface EventRecorderOptions {
  kc: KubeConfig;
  logger: WatchLogger;
  /** reportingInstance: this replica (POD_NAME or the host name) */
  instance: string;
  maxPerRound?: number;
}

export interface EventRecorder {
  record(diagnostics: readonly KubeDiagnostic[], view: ClusterView): void;
}

/** The kinds an Event can point at (a diagnostic about a watch has no object). */
const OBJECT_KINDS = new Set<string>([
  'Ingress',
  'IngressClass',
  'Service',
  'Secret',
  ...CRD_KINDS,
  'GatewayClass',
  'Gateway',
  'HTTPRoute',
  'GRPCRoute',
  'TLSRoute',
  'TCPRoute',
]);

/** API version of built-in kinds (listed objects carry none). */
const BUILT_IN_VERSION: Record<string, string> = {
  Ingress: 'networking.k8s.io/v1',
  IngressClass: 'networking.k8s.io/v1',
  Service: 'v1',
  Secret: 'v1',
};

/** An Event's message is capped by the API server at 1 KiB; keep within it. */
const MAX_MESSAGE = 1000;

export function createEventRecorder(opts: EventRecorderOptions): EventRecorder {
  const api = opts.kc.makeApiClient(CoreV1Api);
  const max = opts.maxPerRound ?? 20;
  let recorded = new Set<string>();
  let failing = false;
  return {
    record(diagnostics, view) {
      const current = new Set<string>();
      let created = 0;
      for (const d of diagnostics) {
        if (!OBJECT_KINDS.has(d.kind)) continue;
        const key = `${d.kind}\u0000${d.namespace ?? ''}\u0000${d.name}\u0000${d.field}\u0000${d.message}`;
        current.add(key);
        if (recorded.has(key) || created >= max) continue;
        const obj = view.get(d.kind as ResourceKind, d.namespace, d.name);
        if (obj === undefined) continue;
        recorded.add(key);
        created++;
        const now = new Date();
        const namespace = d.namespace ?? 'default';
        const message = `${d.field}: ${d.message}`.slice(0, MAX_MESSAGE);
        api
          .createNamespacedEvent({
            namespace,
            body: {
              metadata: { generateName: `${d.name}.`, namespace },
              involvedObject: {
                kind: d.kind,
                name: d.name,
                ...(d.namespace !== undefined ? { namespace: d.namespace } : {}),
                ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}),
                apiVersion: obj.apiVersion ?? BUILT_IN_VERSION[d.kind] ?? '',
                ...(obj.metadata.resourceVersion
                  ? { resourceVersion: obj.metadata.resourceVersion }
                  : {}),
              },
              reason: d.level === 'error' ? 'TranslationFailed' : 'TranslationWarning',
              message,
              type: 'Warning',
              source: { component: 'portico' },
              reportingComponent: 'portico',
              reportingInstance: opts.instance,
              firstTimestamp: now,
              lastTimestamp: now,
              count: 1,
            },
          })
          .then(() => {
            failing = false;
          })
          .catch((err: unknown) => {
            if (failing) return;
            failing = true;
            const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
            opts.logger.warn(
              { err: msg },
              'kubernetes: cannot create Events (RBAC: events create?); diagnostics stay in the log and the API',
            );
          });
      }
      // forget what went away, so it is recorded again if it comes back
      recorded = new Set([...recorded].filter((k) => current.has(k)));
    },
  };
}
