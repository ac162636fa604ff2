/*
 * IngressRouteTCP and IngressRouteUDP → tcp/udp routers and services
 * (Traefik's kubernetes_tcp.go and kubernetes_udp.go). TCP routers are named
 * `<ns>-<name>-<hash of match>` and UDP routers `<ns>-<name>-<index>`, both
 * NOT normalised (Traefik's makeID only), so a dot in the object's name
 * stays; the service takes the router's name, and with several services it
 * is a weighted service over `<router>-<service>-<port>` children. A service
 * that cannot be resolved is reported and left out of its route, as Traefik
 * does; a route left with none is reported and left out.
 */
import type { TcpServiceConfig, UdpServiceConfig } from '../../../src/config/dynamic.js';
import { resolveServiceBackend, serverAddresses } from '../backends.js';
import {
  Refused,
  arr,
  attempt,
  bool,
  checkNamespace,
  int,
  makeId,
  obj,
  optObj,
  port as readPort,
  put,
  reqStr,
  resolveReference,
  serviceKey,
  sourceOf,
  str,
  strList,
  type Ctx,
  type Source,
} from './context.js';
import { routeCertificate, routerTls } from './http-routes.js';
import { serversTransportKey } from './services.js';

interface Backend {
  name: string;
  port: number | string | undefined;
  weight: number;
  addresses: string[];
}

/** The servers of one `services[]` entry of a TCP or UDP route (loadTCPServers, loadUDPServers). */
function backend(ctx: Ctx, parentNs: string, s: Record<string, unknown>, field: string): Backend {
  const name = reqStr(s.name, `${field}.name`);
  const ns = str(s.namespace, `${field}.namespace`) || parentNs;
  checkNamespace(ctx, parentNs, ns, `${field}.namespace`, `service ${ns}/${name}`);
  // the Service's only port when none is given, as for HTTP (services.ts)
  const port = readPort(s.port, `${field}.port`);
  if (port === 0 || port === '') throw new Refused(`${field}.port`, 'service port not defined');
  const nativeLB = bool(s.nativeLB, `${field}.nativeLB`);
  const nodePortLB = bool(s.nodePortLB, `${field}.nodePortLB`);
  const result = resolveServiceBackend(
    ctx.view,
    {
      namespace: ns,
      name,
      ...(port !== undefined ? { port } : {}),
      ...(nativeLB !== undefined ? { nativeLB } : {}),
      ...(nodePortLB !== undefined ? { nodePortLB } : {}),
    },
    {
      allowExternalNameServices: ctx.opts.allowExternalNameServices,
      allowEmptyServices: ctx.opts.allowEmptyServices,
      nativeLBByDefault: ctx.opts.nativeLBByDefault,
    },
  );
  if (!result.ok)
    throw new Refused(result.field ? `${field}.${result.field}` : field, result.message);
  const weight = int(s.weight, `${field}.weight`) ?? 1;
  return { name, port, weight, addresses: serverAddresses(result.backend) };
}

function tcpService(
  ctx: Ctx,
  ns: string,
  s: Record<string, unknown>,
  field: string,
): TcpServiceConfig {
  const b = backend(ctx, ns, s, field);
  const tls = bool(s.tls, `${field}.tls`);
  const lb: Record<string, unknown> = {
    servers: b.addresses.map((address) => (tls ? { address, tls } : { address })),
  };
  const pp = optObj(s.proxyProtocol, `${field}.proxyProtocol`);
  if (pp !== undefined) {
    const version = int(pp.version, `${field}.proxyProtocol.version`);
    lb.proxyProtocol = version ? { version } : {};
  }
  const transport = serversTransportKey(ctx, ns, s.serversTransport, `${field}.serversTransport`);
  if (transport !== undefined) lb.serversTransport = transport;
  else put(lb, 'terminationDelay', int(s.terminationDelay, `${field}.terminationDelay`));
  return { loadBalancer: lb } as TcpServiceConfig;
}

/**
 * The route's services: one load balancer under `name`, or a weighted service
 * over `<name>-<service>-<port>` children; each broken entry reported and skipped.
 */
function routeServices<S>(
  ctx: Ctx,
  src: Source,
  services: unknown[],
  field: string,
  name: string,
  build: (s: Record<string, unknown>, f: string) => S,
): Record<string, S | { weighted: { services: { name: string; weight: number }[] } }> {
  const out: Record<string, S | { weighted: { services: { name: string; weight: number }[] } }> =
    {};
  const weighted: { name: string; weight: number }[] = [];
  services.forEach((entry, i) => {
    const f = `${field}.services[${i}]`;
    attempt(ctx, src, f, () => {
      const s = obj(entry, f);
      const service = build(s, f);
      if (services.length === 1) {
        out[name] = service;
        return;
      }
      const child = `${name}-${String(s.name)}-${String(readPort(s.port, `${f}.port`) ?? 0)}`;
      out[child] = service;
      weighted.push({ name: child, weight: int(s.weight, `${f}.weight`) ?? 1 });
    });
  });
  if (weighted.length > 0) out[name] = { weighted: { services: weighted } };
  if (out[name] === undefined) {
    throw new Refused(`${field}.services`, 'no service of this route could be translated');
  }
  return out;
}

export function translateIngressRouteTCPs(ctx: Ctx): void {
  for (const o of ctx.objects.get('IngressRouteTCP') ?? []) {
    const src = sourceOf('IngressRouteTCP', o);
    const ns = src.namespace;
    attempt(ctx, src, 'spec', () => {
      const spec = obj(o.spec, 'spec');
      const tls = optObj(spec.tls, 'spec.tls');
      const passthrough = bool(tls?.passthrough, 'spec.tls.passthrough') ?? false;
      if (tls !== undefined && !passthrough) routeCertificate(ctx, src, tls);
      arr(spec.routes, 'spec.routes').forEach((entry, i) => {
        const field = `spec.routes[${i}]`;
        attempt(ctx, src, field, () => {
          const route = obj(entry, field);
          const match = str(route.match, `${field}.match`) ?? '';
          if (match === '') throw new Refused(`${field}.match`, 'empty match rule');
          const name = makeId(ns, serviceKey(match, src.name));
          const middlewares = arr(route.middlewares, `${field}.middlewares`).map((m, j) =>
            resolveReference(ctx, ns, m, `${field}.middlewares[${j}]`, 'MiddlewareTCP'),
          );
          const services = arr(route.services, `${field}.services`);
          const built = routeServices(ctx, src, services, field, name, (s, f) =>
            tcpService(ctx, ns, s, f),
          );
          const router: Record<string, unknown> = { rule: match, service: name };
          put(router, 'entryPoints', strList(spec.entryPoints, 'spec.entryPoints'));
          if (middlewares.length > 0) router.middlewares = middlewares;
          const priority = int(route.priority, `${field}.priority`);
          if (priority) router.priority = priority;
          put(router, 'ruleSyntax', str(route.syntax, `${field}.syntax`) || undefined);
          if (tls !== undefined)
            router.tls = routerTls(ctx, ns, tls, passthrough ? { passthrough } : {});
          for (const [k, s] of Object.entries(built)) {
            ctx.config.tcp.services[k] = s as TcpServiceConfig;
            ctx.origins.set(`tcp.services/${k}`, { ...src, field });
          }
          ctx.config.tcp.routers[name] = router as never;
          ctx.origins.set(`tcp.routers/${name}`, { ...src, field });
        });
      });
    });
  }
}

export function translateIngressRouteUDPs(ctx: Ctx): void {
  for (const o of ctx.objects.get('IngressRouteUDP') ?? []) {
    const src = sourceOf('IngressRouteUDP', o);
    const ns = src.namespace;
    attempt(ctx, src, 'spec', () => {
      const spec = obj(o.spec, 'spec');
      arr(spec.routes, 'spec.routes').forEach((entry, i) => {
        const field = `spec.routes[${i}]`;
        attempt(ctx, src, field, () => {
          const route = obj(entry, field);
          const name = makeId(ns, `${src.name}-${i}`);
          const services = arr(route.services, `${field}.services`);
          const built = routeServices(ctx, src, services, field, name, (s, f) => ({
            loadBalancer: {
              servers: backend(ctx, ns, s, f).addresses.map((address) => ({ address })),
            },
          }));
          const router: Record<string, unknown> = { service: name };
          put(router, 'entryPoints', strList(spec.entryPoints, 'spec.entryPoints'));
          for (const [k, s] of Object.entries(built)) {
            ctx.config.udp.services[k] = s as UdpServiceConfig;
            ctx.origins.set(`udp.services/${k}`, { ...src, field });
          }
          ctx.config.udp.routers[name] = router as never;
          ctx.origins.set(`udp.routers/${name}`, { ...src, field });
        });
      });
    });
  }
}
