/* Which Ingresses the ingress-nginx provider serves (IngressClass, the legacy class annotation). */
import { annotationsOf, asRecord, asString } from '../backends.js';
import type { ClusterView, KubeObject } from '../objects.js';
import {
  NGINX_DEFAULT_CLASS,
  NGINX_DEFAULT_CONTROLLER,
  type NginxProviderOptions,
} from './types.js';

const CLASS_ANNOTATION = 'kubernetes.io/ingress.class';

export function createNginxClassFilter(
  view: ClusterView,
  opts: NginxProviderOptions,
): (ingress: KubeObject) => boolean {
  const className = opts.ingressClass ?? NGINX_DEFAULT_CLASS;
  const controller = opts.controllerClass ?? NGINX_DEFAULT_CONTROLLER;
  const names = new Set<string>();
  const known = new Set<string>();
  if (opts.disableClusterScopeResources !== true) {
    for (const ic of view.list('IngressClass')) {
      const name = asString(asRecord(ic.metadata)?.name);
      if (name === undefined) continue;
      known.add(name);
      const c = asString(asRecord(ic.spec)?.controller);
      // Traefik (client.go): the controller value, or the name with ingressClassByName
      if (c === controller || (opts.ingressClassByName === true && name === className))
        names.add(name);
    }
  }
  return (ingress) => {
    const spec = asRecord(ingress.spec);
    const icn = spec?.ingressClassName;
    if (typeof icn === 'string' && names.has(icn)) return true;
    // Portico's addition: manifests read from files (portico migrate, portico check) seldom
    // carry the IngressClass; ingressClassName equal to ingressClass, naming no IngressClass
    // we know of, is taken as ours (an IngressClass of that name for another controller is not)
    if (typeof icn === 'string' && icn === className && !known.has(icn)) return true;
    if (names.size > 0 && icn !== undefined && icn !== null) return false;
    const raw = annotationsOf(ingress)[CLASS_ANNOTATION];
    if (raw !== undefined) return raw === className;
    if (icn !== undefined && icn !== null) return false;
    return opts.watchIngressWithoutClass === true;
  };
}
