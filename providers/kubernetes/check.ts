/*
 * `portico check --kubernetes`: what the Kubernetes providers would make of
 * a cluster (listed once through the API, no watch) or of manifest files,
 * with every object they could not translate named by kind, namespace/name,
 * field and reason. From files there are no EndpointSlices (controllers
 * make them), so services are checked for existence and ports, and taken as
 * if `allowEmptyServices` were set.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { ProviderSnapshot } from '../../src/config/provider.js';
import { translateCrds, type CrdProviderOptions } from './crd/translate.js';
import { translateIngresses, type IngressProviderOptions } from './ingress/translate.js';
import { readManifests } from './manifests.js';
import { translateGateway } from './gateway/translate.js';
import type { GatewayProviderOptions } from './gateway/model.js';
import { translateNginxIngresses, type NginxProviderOptions } from './nginx/translate.js';
import {
  CRD_PROVIDER,
  GATEWAY_PROVIDER,
  INGRESS_PROVIDER,
  NGINX_PROVIDER,
  viewOf,
  type ClusterView,
  type KubeDiagnostic,
  type KubeObject,
  type ResourceKind,
} from './objects.js';
import {
  CRD_RESOURCES,
  ENDPOINT_SLICE,
  GATEWAY_RESOURCES,
  INGRESS,
  INGRESS_CLASS,
  NAMESPACE,
  NODE,
  SECRET,
  SERVICE,
  TCP_ROUTE,
  listerFor,
  resourceName,
  type ResourceDef,
} from './resources.js';
import { statusCode } from './watch.js';

export interface KubeCheckOptions {
  ingress?: IngressProviderOptions;
  crd?: CrdProviderOptions;
  gateway?: GatewayProviderOptions;
  nginx?: NginxProviderOptions;
  /** read these files/directories instead of the API */
  manifests?: readonly string[];
  kc?: KubeConfig;
  namespaces?: readonly string[];
  labelSelector?: string | undefined;
}

export interface KubeCheckResult {
  snapshots: ProviderSnapshot[];
  diagnostics: KubeDiagnostic[];
  /** lines to print before the diagnostics (what was read) */
  notes: string[];
  /** reading failed (API unreachable, unreadable file): exit non-zero */
  failed: boolean;
}

export interface LoadedView {
  view: ClusterView;
  notes: string[];
  failed: boolean;
  fromFiles: boolean;
}

/** Objects from manifest files, or listed once from the API server (never watched). */
export async function loadKubeView(
  opts: Pick<KubeCheckOptions, 'manifests' | 'kc' | 'namespaces' | 'labelSelector'>,
  resources: readonly ResourceDef[],
): Promise<LoadedView> {
  if (opts.manifests && opts.manifests.length > 0) {
    const set = readManifests(opts.manifests);
    const count = Object.values(set.objects).reduce((n, l) => n + (l?.length ?? 0), 0);
    const notes = [
      `kubernetes: ${set.files} manifest files, ${count} objects read, ${set.skipped} of other kinds skipped`,
      ...set.errors.map((e) => `kubernetes error: ${e.file}: ${e.message}`),
    ];
    return { view: viewOf(set.objects), notes, failed: set.errors.length > 0, fromFiles: true };
  }
  if (!opts.kc) throw new Error('kubernetes check: no client');
  const read = await listAll(opts.kc, resources, opts);
  return { view: viewOf(read.objects), notes: read.notes, failed: read.failed, fromFiles: false };
}

export async function checkKubernetes(opts: KubeCheckOptions): Promise<KubeCheckResult> {
  const { view, notes, failed, fromFiles } = await loadKubeView(opts, resourcesFor(opts));
  const snapshots: ProviderSnapshot[] = [];
  const diagnostics: KubeDiagnostic[] = [];
  if (opts.ingress) {
    const t = translateIngresses(view, {
      ...opts.ingress,
      ...(fromFiles ? { allowEmptyServices: true } : {}),
    });
    snapshots.push({ provider: INGRESS_PROVIDER, config: t.config, errors: [] });
    diagnostics.push(...t.diagnostics);
  }
  if (opts.crd) {
    const t = translateCrds(view, {
      ...opts.crd,
      ...(fromFiles ? { allowEmptyServices: true } : {}),
    });
    snapshots.push({ provider: CRD_PROVIDER, config: t.config, errors: [] });
    diagnostics.push(...t.diagnostics);
  }
  if (opts.gateway) {
    const t = translateGateway(view, opts.gateway);
    snapshots.push({ provider: GATEWAY_PROVIDER, config: t.config, errors: [] });
    diagnostics.push(...t.diagnostics);
  }
  if (opts.nginx) {
    const t = translateNginxIngresses(view, opts.nginx);
    snapshots.push({ provider: NGINX_PROVIDER, config: t.config, errors: [] });
    diagnostics.push(...t.diagnostics);
  }
  return { snapshots, diagnostics, notes, failed };
}

function resourcesFor(opts: KubeCheckOptions): ResourceDef[] {
  const defs: ResourceDef[] = [SERVICE, ENDPOINT_SLICE, SECRET];
  if (opts.ingress) {
    defs.push(INGRESS);
    if (!opts.ingress.disableClusterScopeResources) defs.push(INGRESS_CLASS, NODE);
  }
  if (opts.crd) defs.push(...CRD_RESOURCES);
  if (opts.gateway) {
    defs.push(...GATEWAY_RESOURCES, NAMESPACE);
    if (opts.gateway.experimentalChannel) defs.push(TCP_ROUTE);
  }
  if (opts.nginx) {
    if (!opts.ingress) defs.push(INGRESS);
    if (!opts.nginx.disableClusterScopeResources && !defs.includes(INGRESS_CLASS))
      defs.push(INGRESS_CLASS);
  }
  return defs;
}

async function listAll(
  kc: KubeConfig,
  defs: readonly ResourceDef[],
  opts: KubeCheckOptions,
): Promise<{
  objects: Partial<Record<ResourceKind, KubeObject[]>>;
  notes: string[];
  failed: boolean;
}> {
  const objects: Partial<Record<ResourceKind, KubeObject[]>> = {};
  const notes: string[] = [];
  let failed = false;
  const namespaces = opts.namespaces?.length ? [...opts.namespaces] : [undefined];
  for (const def of defs) {
    for (const ns of def.namespaced ? namespaces : [undefined]) {
      try {
        const answer = await listerFor(kc, def, ns, opts.labelSelector)();
        (objects[def.kind] ??= []).push(...(answer.items ?? []));
      } catch (err) {
        const where = `${resourceName(def)}${ns ? ` in ${ns}` : ''}`;
        if (statusCode(err) === 404) {
          notes.push(`kubernetes: ${where} not served (CRD not installed?)`);
          continue;
        }
        failed = true;
        const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
        notes.push(`kubernetes error: cannot list ${where} (${msg})`);
      }
    }
  }
  const count = Object.values(objects).reduce((n, l) => n + (l?.length ?? 0), 0);
  notes.unshift(`kubernetes: ${count} objects listed`);
  return { objects, notes, failed };
}
