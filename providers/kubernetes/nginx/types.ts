/*
 * The ingress-nginx provider's options and the shapes its translation
 * returns (re-exported by translate.ts, the entry its importers use).
 */
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import type { KubeDiagnostic, ResourceKind } from '../objects.js';
import type { Support } from './annotations.js';

export interface NginxProviderOptions {
  /** IngressClass name / legacy annotation value served (default "nginx") */
  ingressClass?: string;
  /** IngressClass spec.controller served (default "k8s.io/ingress-nginx") */
  controllerClass?: string;
  /** also serve Ingresses with neither ingressClassName nor the class annotation */
  watchIngressWithoutClass?: boolean;
  /** an IngressClass named ingressClass is ours whatever its controller */
  ingressClassByName?: boolean;
  /** refuse ExternalName Services (Traefik's option; ingress-nginx allows them) */
  disableSvcExternalName?: boolean;
  /** no IngressClass lookups: only the class annotation and watchIngressWithoutClass select */
  disableClusterScopeResources?: boolean;
  /** entry points of the plain routers / of the `-tls` routers (default: every entry point) */
  httpEntryPoints?: string[];
  httpsEntryPoints?: string[];
  /** ingress-nginx ConfigMap global-auth-url: forwardAuth for every path without auth-url,
   * unless the Ingress says enable-global-auth: "false" (Traefik's globalAuthURL) */
  globalAuthURL?: string;
  /** `namespace/name` of the Service answering requests no Ingress matches (Traefik's option) */
  defaultBackendService?: string;
}

/** What the translator reads: the watch set the provider's runtime needs (Nodes are never read). */
export const NGINX_RESOURCE_KINDS: readonly ResourceKind[] = [
  'Ingress',
  'IngressClass',
  'Service',
  'EndpointSlice',
  'Secret',
];

export const NGINX_DEFAULT_CLASS = 'nginx';
export const NGINX_DEFAULT_CONTROLLER = 'k8s.io/ingress-nginx';

export interface AnnotationOutcome {
  /** full annotation key */
  name: string;
  value: string;
  support: Support;
  note: string;
}

export interface NginxTranslation {
  config: DynamicConfig;
  diagnostics: KubeDiagnostic[];
  accepted: { namespace: string; name: string }[];
}

/** The translation plus, per accepted Ingress, how each of its nginx annotations was honoured. */
export interface NginxTranslationDetail extends NginxTranslation {
  outcomes: {
    namespace: string;
    name: string;
    served: boolean;
    annotations: AnnotationOutcome[];
    /** the Ingress's other diagnostics (a missing Service, a bad path), `level field: message` */
    problems: string[];
  }[];
}
