/*
 * Kubernetes manifests (multi-document YAML, as `kubectl apply -f` reads them)
 * as the ClusterView the pure translators get, for table-driven tests.
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import {
  viewOf,
  type ClusterView,
  type KubeObject,
  type ResourceKind,
} from '../../providers/kubernetes/objects.js';

/** The objects of a YAML text, grouped by kind (documents without a kind are skipped). */
export function objectsOfYaml(text: string): Partial<Record<ResourceKind, KubeObject[]>> {
  const out: Partial<Record<ResourceKind, KubeObject[]>> = {};
  for (const doc of parseAllDocuments(text)) {
    const o = doc.toJS() as KubeObject | null;
    if (o === null || typeof o !== 'object' || typeof o.kind !== 'string') continue;
    (out[o.kind as ResourceKind] ??= []).push(o);
  }
  return out;
}

export function viewOfYaml(text: string): ClusterView {
  return viewOf(objectsOfYaml(text));
}

export function viewOfFile(path: string): ClusterView {
  return viewOfYaml(readFileSync(path, 'utf8'));
}
