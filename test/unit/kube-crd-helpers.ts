/*
 * Kubernetes manifests (multi-document YAML) as a ClusterView, the way the
 * API server would hold them: objects without a namespace land in `default`
 * (kubectl's default), Namespace objects are dropped (the view has no such
 * kind).
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import {
  viewOf,
  type ClusterView,
  type KubeObject,
  type ResourceKind,
} from '../../providers/kubernetes/objects.js';

const CLUSTER_SCOPED = new Set(['IngressClass', 'Node']);

export function objectsOfYaml(text: string): KubeObject[] {
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    const o = doc.toJS() as (KubeObject & { kind?: string }) | null;
    if (!o || typeof o !== 'object' || typeof o.kind !== 'string') continue;
    if (o.kind === 'Namespace') continue;
    if (!CLUSTER_SCOPED.has(o.kind) && o.metadata && o.metadata.namespace === undefined) {
      o.metadata = { ...o.metadata, namespace: 'default' };
    }
    out.push(o);
  }
  return out;
}

export function viewOfObjects(objects: KubeObject[]): ClusterView {
  const byKind: Partial<Record<ResourceKind, KubeObject[]>> = {};
  for (const o of objects) (byKind[o.kind as ResourceKind] ??= []).push(o);
  return viewOf(byKind);
}

export function viewOfFiles(...paths: string[]): ClusterView {
  return viewOfObjects(paths.flatMap((p) => objectsOfYaml(readFileSync(p, 'utf8'))));
}
