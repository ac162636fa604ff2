/*
 * Which Ingresses are Portico's (Traefik's shouldProcessIngress and
 * GetIngressClasses, pkg/provider/kubernetes/ingress):
 *
 * - `spec.ingressClassName` names an IngressClass whose `spec.controller` is
 *   traefik.io/ingress-controller or portico.io/ingress-controller (and, with
 *   the ingressClass option, whose name is that option). Without IngressClass
 *   lookups (disableClusterScopeResources) no class is known, so such
 *   Ingresses are not taken, as in Traefik.
 * - otherwise the legacy `kubernetes.io/ingress.class` annotation: equal to
 *   the ingressClass option, or "traefik" when the option is not set. With
 *   no option, an Ingress with neither class nor annotation is taken too
 *   (Traefik compares the option "" with the missing annotation "").
 * - Portico's addition: an Ingress with neither class nor annotation is also
 *   taken when one of our IngressClasses carries
 *   `ingressclass.kubernetes.io/is-default-class: "true"`. The admission
 *   controller writes the default class into Ingresses created after it
 *   became the default; this covers the ones created before, as the
 *   Ingress spec asks of the default class's controller.
 */
import { annotationsOf, asRecord, asString } from '../backends.js';
import { INGRESS_CONTROLLERS, type ClusterView, type KubeObject } from '../objects.js';

export const CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
/** Traefik's default value of the legacy annotation */
export const TRAEFIK_CLASS = 'traefik';

export interface ClassOptions {
  ingressClass?: string | undefined;
  disableClusterScopeResources: boolean;
}

/** Our IngressClasses: our controller, and named as the ingressClass option when it is set. */
export function ourIngressClasses(view: ClusterView, opts: ClassOptions): KubeObject[] {
  if (opts.disableClusterScopeResources) return [];
  return view.list('IngressClass').filter((ic) => {
    const controller = asString(asRecord(ic.spec)?.controller);
    if (controller === undefined || !INGRESS_CONTROLLERS.includes(controller)) return false;
    return !opts.ingressClass || asRecord(ic.metadata)?.name === opts.ingressClass;
  });
}

export function createClassFilter(
  view: ClusterView,
  opts: ClassOptions,
): (ingress: KubeObject) => boolean {
  const classes = ourIngressClasses(view, opts);
  const names = new Set(classes.map((ic) => asRecord(ic.metadata)?.name));
  const hasDefault = classes.some((ic) => annotationsOf(ic)[DEFAULT_CLASS_ANNOTATION] === 'true');
  const option = opts.ingressClass ?? '';
  return (ingress) => {
    const className = asRecord(ingress.spec)?.ingressClassName;
    // a present ingressClassName decides alone (Traefik: a non-nil pointer)
    if (className !== undefined && className !== null)
      return typeof className === 'string' && names.has(className);
    const raw = annotationsOf(ingress)[CLASS_ANNOTATION];
    const annotation = typeof raw === 'string' ? raw : '';
    if (annotation === option) return true;
    if (option === '' && annotation === TRAEFIK_CLASS) return true;
    return annotation === '' && hasDefault;
  };
}
