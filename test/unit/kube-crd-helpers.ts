/*
 * What the CRD translator's tests share. Kubernetes manifests
 * (multi-document YAML) become a ClusterView the way the API server would
 * hold them: objects without a namespace land in `default` (kubectl's
 * default), Namespace objects are dropped (the view has no such kind).
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { mergeSnapshots } from '../../src/config/aggregate.js';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import {
  translateCrds,
  type CrdProviderOptions,
  type CrdTranslation,
} from '../../providers/kubernetes/crd/translate.js';
import {
  CRD_PROVIDER,
  viewOf,
  type ClusterView,
  type KubeDiagnostic,
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

export const DEFAULTS: CrdProviderOptions = {
  allowCrossNamespace: false,
  allowEmptyServices: false,
  allowExternalNameServices: false,
  nativeLBByDefault: false,
};

export function translate(files: string[], opts: Partial<CrdProviderOptions> = {}): CrdTranslation {
  return translateCrds(viewOfFiles(...files), { ...DEFAULTS, ...opts });
}

/** The aggregator's verdict on a translation: the element errors it reports. */
export function aggregateErrors(config: DynamicConfig): unknown[] {
  return mergeSnapshots([{ provider: CRD_PROVIDER, config, errors: [] }]).errors;
}

/** `section → kind → element name → (part of) element` */
export type Expected = Record<string, Record<string, Record<string, unknown>>>;

export function describeDiagnostic(d: KubeDiagnostic): string {
  return `${d.kind} ${d.namespace ?? ''}/${d.name} ${d.field}: ${d.message}`;
}

/**
 * The error diagnostics are exactly those expected, each written
 * `Kind ns/name field: part of the message`.
 */
export function expectDiagnostics(found: KubeDiagnostic[], expected: string[]): void {
  const errors = found.filter((d) => d.level === 'error').map(describeDiagnostic);
  for (const e of expected) {
    const [head, part] = [e.slice(0, e.indexOf(': ')), e.slice(e.indexOf(': ') + 2)];
    expect(
      errors.some((d) => d.startsWith(`${head}: `) && d.includes(part)),
      `${e}\nin:\n${errors.join('\n')}`,
    ).toBe(true);
  }
  expect(errors, errors.join('\n')).toHaveLength(expected.length);
}
