/*
 * TLSRoute and TCPRoute rules on one listener → TCP routers and weighted TCP
 * services, as Traefik's tlsroute.go / tcproute.go write them: one router per
 * rule named makeRouterName("", key); TLSRoute by SNI (HostSNI /
 * HostSNIRegexp), passed through on a Passthrough listener, terminated on a
 * Terminate one; TCPRoute on HostSNI("*"). An invalid backend's share goes to
 * an empty load balancer (`<router>-err-lb`): the connection is closed.
 */
import { asArray, asRecord } from '../backends.js';
import { condition, makeRouterName, normalizeName, type Acc, type GwListener } from './common.js';
import { readBackendRef, resolveBackend } from './backends.js';
import { emptyBuild, type RouteBuild } from './http.js';
import { hostSNIRule } from './match.js';
import type { GatewayProviderOptions } from './model.js';

export interface L4RouteInput {
  kind: 'TLSRoute' | 'TCPRoute';
  namespace: string;
  name: string;
  generation: number | undefined;
  spec: Record<string, unknown>;
}

export function buildL4Route(
  acc: Acc,
  opts: GatewayProviderOptions,
  route: L4RouteInput,
  listener: GwListener,
  hostnames: string[],
): RouteBuild {
  const out = emptyBuild(route);
  const rules = asArray(route.spec.rules);
  out.rules = rules.length;
  for (const [ri, rawRule] of rules.entries()) {
    const rf = `spec.rules[${ri}]`;
    const refs = asArray(asRecord(rawRule)?.backendRefs);
    if (refs.length === 0) continue;
    const key = normalizeName(
      `${route.kind.toLowerCase()}-${route.namespace}-${route.name}-gw-${listener.gatewayNamespace}-${listener.gatewayName}-ep-${listener.epName ?? ''}-${ri}`,
    );
    const routerName = makeRouterName('', key);
    const sni =
      route.kind === 'TLSRoute' ? hostSNIRule(hostnames) : { rule: 'HostSNI("*")', priority: 0 };
    const passthrough = listener.tlsMode === 'Passthrough';
    const tls =
      listener.protocol === 'TLS' ? { tls: passthrough ? { passthrough: true } : {} } : {};
    const children: { name: string; weight: number }[] = [];
    for (const [bi, raw] of refs.entries()) {
      const bf = `${rf}.backendRefs[${bi}]`;
      const ref = readBackendRef(raw, route.namespace);
      const r =
        ref === undefined
          ? ({ ok: false, reason: 'InvalidKind', message: 'a backendRef needs a name' } as const)
          : resolveBackend(acc, opts, route.kind, route.namespace, ref, 'tcp');
      const weight = ref?.weight ?? 1;
      if (!r.ok) {
        if (out.resolvedRefs.status === 'True')
          out.resolvedRefs = condition(
            'ResolvedRefs',
            false,
            r.reason,
            r.message,
            route.generation,
          );
        out.diagnostics.push({
          kind: route.kind,
          namespace: route.namespace,
          name: route.name,
          field: `${bf}.name`,
          message: r.message,
          level: 'error',
        });
        const errName = `${routerName}-err-lb`;
        out.tcp.services[errName] = { loadBalancer: { servers: [] } };
        children.push({ name: errName, weight });
        continue;
      }
      if (r.kind === 'named') {
        children.push({ name: r.service, weight });
        continue;
      }
      const svcName = `${routerName}-svc-${ref!.namespace}-${ref!.name}-${bi}`;
      out.tcp.services[svcName] = {
        loadBalancer: { servers: r.urls.map((address) => ({ address })) },
      };
      children.push({ name: svcName, weight });
    }
    const wrr = `${routerName}-wrr`;
    const live = children.filter((c) => c.weight > 0);
    if (live.length === 0) {
      const errName = `${routerName}-err-lb`;
      out.tcp.services[errName] = { loadBalancer: { servers: [] } };
      live.push({ name: errName, weight: 1 });
    }
    out.tcp.services[wrr] = { weighted: { services: live } };
    out.tcp.routers[routerName] = {
      rule: sni.rule,
      // Traefik leaves 0 unset: the router's default priority
      ...(sni.priority !== 0 ? { priority: sni.priority } : {}),
      entryPoints: listener.epName !== undefined ? [listener.epName] : [],
      service: wrr,
      ...tls,
    };
    out.served++;
  }
  return out;
}
