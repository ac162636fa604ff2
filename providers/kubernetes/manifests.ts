/*
 * Kubernetes objects read from manifest files (`portico check --kubernetes
 * --manifests=...`): multi-document YAML or JSON, `kind: List` and the
 * `<Kind>List` forms kubectl prints, files or directories of them. Each
 * object is sorted into the kinds the providers read by its apiVersion and
 * kind; the rest (Deployments, ConfigMaps of other tools...) is counted and
 * left out. A document that does not parse is reported with its file and
 * position and loses nothing else.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  CRD_KINDS,
  CRD_VERSION,
  PORTICO_GROUP,
  TRAEFIK_GROUP,
  type KubeObject,
  type ResourceKind,
} from './objects.js';

const BUILT_IN: Record<string, ResourceKind> = {
  'networking.k8s.io/v1/Ingress': 'Ingress',
  'networking.k8s.io/v1/IngressClass': 'IngressClass',
  'v1/Service': 'Service',
  'v1/Secret': 'Secret',
  'v1/ConfigMap': 'ConfigMap',
  'v1/Node': 'Node',
  'discovery.k8s.io/v1/EndpointSlice': 'EndpointSlice',
  'v1/Namespace': 'Namespace',
  'gateway.networking.k8s.io/v1/GatewayClass': 'GatewayClass',
  'gateway.networking.k8s.io/v1/Gateway': 'Gateway',
  'gateway.networking.k8s.io/v1/HTTPRoute': 'HTTPRoute',
  'gateway.networking.k8s.io/v1/GRPCRoute': 'GRPCRoute',
  'gateway.networking.k8s.io/v1/TLSRoute': 'TLSRoute',
  'gateway.networking.k8s.io/v1alpha2/TLSRoute': 'TLSRoute',
  'gateway.networking.k8s.io/v1alpha2/TCPRoute': 'TCPRoute',
  'gateway.networking.k8s.io/v1beta1/ReferenceGrant': 'ReferenceGrant',
  'gateway.networking.k8s.io/v1/ReferenceGrant': 'ReferenceGrant',
  'gateway.networking.k8s.io/v1/BackendTLSPolicy': 'BackendTLSPolicy',
};

const CRD_KIND_SET = new Set<ResourceKind>(CRD_KINDS);

const CLUSTER_SCOPED = new Set<ResourceKind>(['IngressClass', 'Node', 'Namespace', 'GatewayClass']);

export interface ManifestSet {
  objects: Partial<Record<ResourceKind, KubeObject[]>>;
  /** objects of kinds no provider reads */
  skipped: number;
  errors: { file: string; message: string }[];
  files: number;
}

/** The kind an object is read as, or undefined when no provider reads it. */
export function kindOf(o: { apiVersion?: unknown; kind?: unknown }): ResourceKind | undefined {
  if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string') return undefined;
  const builtIn = BUILT_IN[`${o.apiVersion}/${o.kind}`];
  if (builtIn) return builtIn;
  const [group, version] = o.apiVersion.split('/');
  if (
    (group === TRAEFIK_GROUP || group === PORTICO_GROUP) &&
    version === CRD_VERSION &&
    CRD_KIND_SET.has(o.kind as ResourceKind)
  )
    return o.kind as ResourceKind;
  return undefined;
}

function filesUnder(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((f) => {
      const p = join(path, f);
      if (statSync(p).isDirectory()) return filesUnder(p);
      return /\.(ya?ml|json)$/i.test(f) ? [p] : [];
    });
}

export function readManifests(paths: readonly string[], defaultNamespace = 'default'): ManifestSet {
  const set: ManifestSet = { objects: {}, skipped: 0, errors: [], files: 0 };
  const add = (o: unknown, file: string): void => {
    if (typeof o !== 'object' || o === null || Array.isArray(o)) {
      if (o !== null && o !== undefined) set.errors.push({ file, message: 'not an object' });
      return;
    }
    const obj = o as KubeObject & { items?: unknown };
    if (typeof obj.kind === 'string' && obj.kind.endsWith('List') && Array.isArray(obj.items)) {
      for (const item of obj.items) add(item, file);
      return;
    }
    const kind = kindOf(obj);
    if (kind === undefined) {
      set.skipped++;
      return;
    }
    if (typeof obj.metadata?.name !== 'string' || obj.metadata.name === '') {
      set.errors.push({ file, message: `${obj.kind} without metadata.name` });
      return;
    }
    const namespaced = !CLUSTER_SCOPED.has(kind);
    const metadata = {
      ...obj.metadata,
      ...(namespaced ? { namespace: obj.metadata.namespace ?? defaultNamespace } : {}),
    };
    // Secrets written with stringData: the API server would store them base64-encoded in data
    const data =
      kind === 'Secret' && obj.stringData
        ? {
            ...obj.data,
            ...Object.fromEntries(
              Object.entries(obj.stringData).map(([k, v]) => [
                k,
                Buffer.from(String(v)).toString('base64'),
              ]),
            ),
          }
        : obj.data;
    (set.objects[kind] ??= []).push({ ...obj, metadata, ...(data ? { data } : {}) });
  };
  for (const p of paths) {
    let files: string[];
    try {
      files = filesUnder(p);
    } catch (err) {
      set.errors.push({ file: p, message: (err as Error).message });
      continue;
    }
    for (const file of files) {
      set.files++;
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        set.errors.push({ file, message: (err as Error).message });
        continue;
      }
      for (const doc of parseAllDocuments(text)) {
        if ('errors' in doc && doc.errors.length > 0) {
          const e = doc.errors[0]!;
          set.errors.push({ file, message: e.message.split('\n')[0]! });
          continue;
        }
        add(doc.toJS({ maxAliasCount: 100 }), file);
      }
    }
  }
  return set;
}
