/*
 * IngressRoute → HTTP routers (Traefik's loadIngressRouteConfiguration,
 * pkg/provider/kubernetes/crd/kubernetes_http.go). One router per route,
 * named `<ns>-<name>-<hash of match>` normalised; its service takes the same
 * name when the route has one Kubernetes Service (a load balancer) or several
 * services (a weighted service over `<ns>-<service>-<port>` children), and
 * is the TraefikService's own name otherwise. A broken route is reported and
 * left out; the object's other routes still translate.
 */
import type { RouterConfig } from '../../../src/config/dynamic.js';
import {
  Refused,
  arr,
  attempt,
  int,
  makeId,
  normalize,
  obj,
  optObj,
  put,
  resolveReference,
  serviceKey,
  sourceOf,
  str,
  strList,
  warn,
  type Ctx,
  type Source,
} from './context.js';
import { commitServices, nameAndService, weighted, type ServiceMap } from './services.js';
import { addSecretCertificate } from './tls.js';

/** The router's `tls` from the object's `spec.tls`; `tls: {}` terminates with the default certificate. */
export function routerTls(
  ctx: Ctx,
  ns: string,
  tls: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...extra };
  put(out, 'certResolver', str(tls.certResolver, 'spec.tls.certResolver') || undefined);
  if (tls.domains !== undefined && tls.domains !== null)
    out.domains = arr(tls.domains, 'spec.tls.domains');
  const options = optObj(tls.options, 'spec.tls.options');
  if (options !== undefined && (str(options.name, 'spec.tls.options.name') ?? '') !== '') {
    out.options = resolveReference(ctx, ns, options, 'spec.tls.options', 'TLSOption');
  }
  return out;
}

/** The certificate of `spec.tls.secretName`, reported apart: the routes still serve (as Traefik). */
export function routeCertificate(ctx: Ctx, src: Source, tls: Record<string, unknown>): void {
  attempt(ctx, src, 'spec.tls.secretName', () => {
    const secret = str(tls.secretName, 'spec.tls.secretName');
    if (secret) addSecretCertificate(ctx, src.namespace, secret, 'spec.tls.secretName');
  });
}

function translateRoute(
  ctx: Ctx,
  src: Source,
  spec: Record<string, unknown>,
  route: unknown,
  field: string,
  seen: Map<string, string>,
): void {
  const r = obj(route, field);
  const kind = str(r.kind, `${field}.kind`) ?? '';
  if (kind !== '' && kind !== 'Rule') {
    throw new Refused(`${field}.kind`, `unsupported match kind: ${kind}. Only "Rule" is supported`);
  }
  const match = str(r.match, `${field}.match`) ?? '';
  if (match === '') throw new Refused(`${field}.match`, 'empty match rule');
  const ns = src.namespace;
  const routerName = normalize(makeId(ns, serviceKey(match, src.name)));
  const middlewares = arr(r.middlewares, `${field}.middlewares`).map((m, i) =>
    resolveReference(ctx, ns, m, `${field}.middlewares[${i}]`, 'middleware'),
  );
  const services = arr(r.services, `${field}.services`);
  const out: ServiceMap = {};
  let serviceName = routerName;
  if (services.length > 1) {
    out[routerName] = weighted(ctx, ns, services, undefined, field, out);
  } else if (services.length === 1) {
    const one = nameAndService(ctx, ns, services[0], `${field}.services[0]`);
    if (one.service) out[routerName] = one.service;
    else serviceName = one.name;
  } else {
    // Traefik leaves such a router to a parent router (parentRefs); Portico has none
    throw new Refused(`${field}.services`, 'a route needs at least one service');
  }
  const router: Record<string, unknown> = { rule: match, service: serviceName };
  put(router, 'entryPoints', strList(spec.entryPoints, 'spec.entryPoints'));
  if (middlewares.length > 0) router.middlewares = middlewares;
  const priority = int(r.priority, `${field}.priority`);
  if (priority) router.priority = priority;
  put(router, 'ruleSyntax', str(r.syntax, `${field}.syntax`) || undefined);
  put(router, 'observability', optObj(r.observability, `${field}.observability`));
  const tls = optObj(spec.tls, 'spec.tls');
  if (tls !== undefined) router.tls = routerTls(ctx, ns, tls);

  const previous = seen.get(routerName);
  if (previous !== undefined) {
    warn(
      ctx,
      field,
      `same match as ${previous}: this route replaces it (Traefik names routers by match)`,
    );
  }
  seen.set(routerName, field);
  commitServices(ctx, out, { ...src, field });
  ctx.config.http.routers[routerName] = router as RouterConfig;
  ctx.origins.set(`http.routers/${routerName}`, { ...src, field });
}

export function translateIngressRoutes(ctx: Ctx): void {
  for (const o of ctx.objects.get('IngressRoute') ?? []) {
    const src = sourceOf('IngressRoute', o);
    attempt(ctx, src, 'spec', () => {
      const spec = obj(o.spec, 'spec');
      if (arr(spec.parentRefs, 'spec.parentRefs').length > 0) {
        throw new Refused(
          'spec.parentRefs',
          'parentRefs (routers that are children of other routers) are not supported by Portico yet',
        );
      }
      const tls = optObj(spec.tls, 'spec.tls');
      if (tls !== undefined) routeCertificate(ctx, src, tls);
      const seen = new Map<string, string>();
      arr(spec.routes, 'spec.routes').forEach((route, i) => {
        const field = `spec.routes[${i}]`;
        attempt(ctx, src, field, () => translateRoute(ctx, src, spec, route, field, seen));
      });
    });
  }
}
