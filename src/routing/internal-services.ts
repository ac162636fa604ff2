/*
 * What Portico serves itself (`@internal`): the routers it adds to every
 * configuration and the services behind them (ping, readiness, the
 * HTTP→HTTPS redirections). The metrics, API and dashboard services come from
 * the caller; router-server.ts passes both to compile().
 */
import type { DynamicConfig } from '../config/dynamic.js';
import type { StaticConfig } from '../config/static-types.js';
import type { Handler, RequestContext } from '../kernel/context.js';
import type { TableHolder } from '../server/entrypoint.js';

/**
 * Routers Portico adds itself (`@internal`), at the top of the priority range
 * Traefik reserves for them: `/ping` and `/ready` on the ping entrypoint,
 * `/metrics` on the metrics one, the API and dashboard on `traefik` (insecure
 * mode), and the HTTP→HTTPS redirections.
 */
export function withInternalRouters(config: DynamicConfig, sc: StaticConfig): DynamicConfig {
  const routers: NonNullable<NonNullable<DynamicConfig['http']>['routers']> = {};
  /** an internal router for one exact path, at the top of the priority range */
  const atPath = (name: string, path: string, entryPoint: string): void => {
    routers[`${name}@internal`] = {
      rule: `Path(\`${path}\`)`,
      service: `${name}@internal`,
      entryPoints: [entryPoint],
      priority: Number.MAX_SAFE_INTEGER,
    };
  };
  if (sc.ping) {
    atPath('ping', '/ping', sc.ping.entryPoint);
    // readiness: 200 once this process routes with a configuration (Kubernetes readinessProbe)
    atPath('ready', '/ready', sc.ping.entryPoint);
  }
  const prometheus = sc.metrics?.prometheus;
  // the service is provided by the caller (src/observability/metrics-cluster.ts)
  if (prometheus && !prometheus.manualRouting)
    atPath('prometheus', '/metrics', prometheus.entryPoint);
  if (sc.api?.insecure) {
    // Traefik's insecure mode: the API and the dashboard on the `traefik` entrypoint, no auth
    const internalEp = Object.keys(sc.entryPoints).find((n) => n.toLowerCase() === 'traefik');
    if (internalEp !== undefined) {
      routers['api@internal'] = {
        rule: 'PathPrefix(`/api`)',
        service: 'api@internal',
        entryPoints: [internalEp],
        priority: Number.MAX_SAFE_INTEGER - 1,
      };
      if (sc.api.dashboard) {
        routers['dashboard@internal'] = {
          rule: 'PathPrefix(`/`)',
          service: 'dashboard@internal',
          entryPoints: [internalEp],
          priority: Number.MAX_SAFE_INTEGER - 2,
        };
      }
    }
  }
  for (const ep of Object.values(sc.entryPoints)) {
    if (!ep.http.redirect) continue;
    routers[`${ep.name}-to-${ep.http.redirect.to}@internal`] = {
      rule: 'PathPrefix(`/`)',
      service: `redirect-${ep.name}@internal`,
      entryPoints: [ep.name],
      priority: ep.http.redirect.priority,
    };
  }
  if (Object.keys(routers).length === 0) return config;
  const http = config.http ?? {};
  return { ...config, http: { ...http, routers: { ...http.routers, ...routers } } };
}

/**
 * entryPoints.<n>.http.redirections.entryPoint: answers every request with a
 * redirect to the same host and path on the target entrypoint's port (omitted
 * when it is the scheme's default), as Traefik does.
 */
function redirectHandler(sc: StaticConfig, from: string): Handler {
  const r = sc.entryPoints[from]!.http.redirect!;
  const port = sc.entryPoints[r.to]!.port;
  const defaultPort = r.scheme === 'https' ? 443 : 80;
  const portPart = port === defaultPort || port === 0 ? '' : `:${port}`;
  return (ctx) => {
    const permanentKeepsMethod = ctx.method !== 'GET' && ctx.method !== 'HEAD';
    const status = r.permanent
      ? permanentKeepsMethod
        ? 308
        : 301
      : permanentKeepsMethod
        ? 307
        : 302;
    const host = ctx.host.includes(':') ? `[${ctx.host}]` : ctx.host;
    const location = `${r.scheme}://${host}${portPart}${ctx.target()}`;
    ctx.writer.writeHead(status, undefined, ['location', location, 'content-length', '0']);
    ctx.writer.end();
  };
}

/** A plain-text answer of the ping and readiness services. */
function plainStatus(ctx: RequestContext, status: number, body: string): void {
  ctx.res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': body.length,
  });
  ctx.res.end(ctx.method === 'HEAD' ? undefined : body);
}

/**
 * The internal services by name: the caller's (metrics, API, dashboard), the
 * redirections, and with `ping` on, `ping@internal` and `ready@internal`.
 * `stopping` says whether the process drains.
 */
export function internalServices(
  sc: StaticConfig,
  given: ReadonlyMap<string, Handler> | undefined,
  holder: TableHolder,
  stopping: () => boolean,
): Map<string, Handler> {
  const services = new Map<string, Handler>(given ?? []);
  for (const ep of Object.values(sc.entryPoints)) {
    if (ep.http.redirect)
      services.set(`redirect-${ep.name}@internal`, redirectHandler(sc, ep.name));
  }
  if (sc.ping) {
    // liveness: 200 while serving, 503 once draining so load balancers stop sending (Traefik's terminatingStatusCode)
    services.set('ping@internal', (ctx) =>
      stopping() ? plainStatus(ctx, 503, 'Service Unavailable') : plainStatus(ctx, 200, 'OK'),
    );
    services.set('ready@internal', (ctx) => {
      const ready = !stopping() && holder.current.version > 0;
      plainStatus(ctx, ready ? 200 : 503, ready ? 'Ready' : 'Not Ready');
    });
  }
  return services;
}
