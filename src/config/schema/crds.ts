/*
 * The CustomResourceDefinitions Traefik users apply (issue 14 §5): Traefik's
 * kinds, names and scope in its group traefik.io, version v1alpha1, with
 * openAPIV3Schemas converted from the configuration schema (crd-specs.ts →
 * openapi.ts). `portico schema --crd` prints them; `npm run docs:gen` writes
 * deploy/crds/portico-crds.yaml, which a test keeps current.
 */
import { stringify } from 'yaml';
import type { TSchema } from './core.js';
import {
  IngressRouteSpec,
  IngressRouteTCPSpec,
  IngressRouteUDPSpec,
  MiddlewareSpec,
  MiddlewareTCPSpec,
  ServersTransportSpec,
  ServersTransportTCPSpec,
  TLSOptionSpec,
  TLSStoreSpec,
  TraefikServiceSpec,
} from './crd-specs.js';
import { toStructuralSchema, type OpenApiSchema } from './openapi.js';

export const CRD_GROUP = 'traefik.io';
export const CRD_VERSION = 'v1alpha1';

interface KindDef {
  kind: string;
  description: string;
  spec: TSchema;
}

const KINDS: readonly KindDef[] = [
  {
    kind: 'IngressRoute',
    description: 'HTTP routers (Traefik IngressRoute)',
    spec: IngressRouteSpec,
  },
  {
    kind: 'IngressRouteTCP',
    description: 'TCP routers (Traefik IngressRouteTCP)',
    spec: IngressRouteTCPSpec,
  },
  {
    kind: 'IngressRouteUDP',
    description: 'UDP routers (Traefik IngressRouteUDP)',
    spec: IngressRouteUDPSpec,
  },
  { kind: 'Middleware', description: 'an HTTP middleware', spec: MiddlewareSpec },
  { kind: 'MiddlewareTCP', description: 'a TCP middleware', spec: MiddlewareTCPSpec },
  {
    kind: 'ServersTransport',
    description: 'how HTTP services connect to their servers',
    spec: ServersTransportSpec,
  },
  {
    kind: 'ServersTransportTCP',
    description: 'how TCP services connect to their servers',
    spec: ServersTransportTCPSpec,
  },
  { kind: 'TLSOption', description: 'TLS options routers refer to', spec: TLSOptionSpec },
  {
    kind: 'TLSStore',
    description: 'a certificate store (only the one named default is used, as in Traefik)',
    spec: TLSStoreSpec,
  },
  {
    kind: 'TraefikService',
    description: 'a weighted, mirroring, failover or highest-random-weight service',
    spec: TraefikServiceSpec,
  },
];

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: { kind: string; listKind: string; plural: string; singular: string };
    scope: 'Namespaced';
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: OpenApiSchema };
    }[];
  };
}

/** The object around `spec`, as every Kubernetes object has it (metadata may not be described). */
function objectSchema(def: KindDef): OpenApiSchema {
  return {
    description: `${def.kind}: ${def.description}. Served by Portico as Traefik does.`,
    type: 'object',
    properties: {
      apiVersion: {
        description: 'the versioned schema of this object, e.g. traefik.io/v1alpha1',
        type: 'string',
      },
      kind: {
        description: `the REST resource this object represents: ${def.kind}`,
        type: 'string',
      },
      metadata: { type: 'object' },
      // Defaults are only described: the API server would write them into stored
      // objects, and Traefik (during a migration both may read them) tells an unset
      // field from an explicit one in places (router observability falls back to the
      // entry point's). Portico applies its defaults when it reads, as Traefik does.
      spec: toStructuralSchema(def.spec, { defaults: 'describe' }),
    },
    required: ['metadata', 'spec'],
  };
}

/** Traefik's CRDs, for `group` (traefik.io; issue 14 also wants them under Portico's own group). */
export function traefikCrds(group: string = CRD_GROUP): CustomResourceDefinition[] {
  return KINDS.map((def) => {
    const singular = def.kind.toLowerCase();
    const plural = `${singular}s`;
    return {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: {
        name: `${plural}.${group}`,
        labels: { 'app.kubernetes.io/part-of': 'portico' },
      },
      spec: {
        group,
        names: { kind: def.kind, listKind: `${def.kind}List`, plural, singular },
        scope: 'Namespaced',
        versions: [
          {
            name: CRD_VERSION,
            served: true,
            storage: true,
            schema: { openAPIV3Schema: objectSchema(def) },
          },
        ],
      },
    };
  });
}

/**
 * The comment heading a CRD file, naming the group its kinds are in: Traefik's
 * group (deploy/crds/portico-crds.yaml, `portico schema --crd`) or Portico's
 * own (deploy/kubernetes/crds/portico.io.yaml, written by
 * deploy/kubernetes/generate-crds.mjs).
 */
export function crdYamlHeader(group: string = CRD_GROUP): string {
  if (group === CRD_GROUP) return CRD_YAML_HEADER;
  return `# Portico's CustomResourceDefinitions: Traefik's kinds in Portico's own group, ${group}/${CRD_VERSION}.
# Generated from the configuration schema (src/config/schema/crd-specs.ts) by
# \`node deploy/kubernetes/generate-crds.mjs\` (after \`npm run build\`). Do not edit.
# Apply: kubectl apply -f deploy/kubernetes/crds/${group}.yaml (docs/deploy-kubernetes.md)
`;
}

export const CRD_YAML_HEADER = `# Portico's CustomResourceDefinitions: Traefik's kinds in ${CRD_GROUP}/${CRD_VERSION}.
# Generated from the configuration schema (src/config/schema/crd-specs.ts) by
# \`npm run docs:gen\`; \`portico schema --crd\` prints the same. Do not edit.
# Apply: kubectl apply -f deploy/crds/portico-crds.yaml (docs/kubernetes-crds.md)
`;

/** The CRDs as one multi-document YAML stream. */
export function crdYaml(group: string = CRD_GROUP): string {
  const docs = traefikCrds(group).map((crd) =>
    stringify(crd, { lineWidth: 0, singleQuote: true, aliasDuplicateObjects: false }),
  );
  return crdYamlHeader(group) + docs.map((d) => `---\n${d}`).join('');
}
