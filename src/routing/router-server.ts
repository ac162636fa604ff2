/*
 * The data plane of one process: its entrypoints, the current routing table,
 * and the swap. applyConfig() validates and compiles a merged dynamic
 * configuration and replaces the table in one assignment; state the new table
 * did not take over (health checkers, pools of removed servers) is closed.
 * It sits in the routing layer because it drives compile() and the
 * entrypoints (src/server/) below it.
 */
import type { Logger } from 'pino';
import type { DynamicConfig, ElementError } from '../config/dynamic.js';
import type { StaticConfig } from '../config/static-types.js';
import { compile } from './compile.js';
import { applyEntryPointTls } from './models.js';
import { StateRegistry } from '../kernel/state.js';
import type { RoutingTable } from '../table/table.js';
import type { AccessLogger } from '../observability/access-log.js';
import { streamSinks } from '../observability/observe-tcp.js';
import type { RequestMetrics } from '../observability/metrics.js';
import { createEntryPoint, type EntryPointServer, type TableHolder } from '../server/entrypoint.js';
import type { Handler } from '../kernel/context.js';
import { generateDefaultCertificate } from '../tls/default-certificate.js';
import { createUdpEntryPoint, type UdpEntryPoint } from '../udp/listener.js';

/** An entrypoint could not bind its address; the CLI reports it and exits 1. */
export class ListenError extends Error {
  readonly code = 'PORTICO_ERR_LISTEN';
}

export interface RouterServer {
  readonly holder: TableHolder;
  readonly entryPoints: ReadonlyMap<string, EntryPointServer>;
  /** the entrypoints whose address ends in /udp (docs/udp.md) */
  readonly udpEntryPoints: ReadonlyMap<string, UdpEntryPoint>;
  /** resolves with the bound address of each entrypoint (port 0 becomes a real port) */
  listen(): Promise<Record<string, { host: string; port: number }>>;
  applyConfig(config: DynamicConfig, errors?: ElementError[]): RoutingTable;
  /** drains every entrypoint; graceMs overrides each entrypoint's own graceTimeOut */
  shutdown(graceMs?: number): Promise<void>;
}

function emptyTable(): RoutingTable {
  return {
    version: 0,
    entryPoints: new Map(),
    tlsEntryPoints: new Map(),
    routers: new Map(),
    services: new Map(),
    serviceRuntimes: new Map(),
    middlewares: new Map(),
    errors: [],
    compileMs: 0,
    certificates: undefined,
  };
}

/**
 * Routers Portico adds itself (`@internal`), at the top of the priority range
 * Traefik reserves for them: `/ping` and `/ready` on the ping entrypoint,
 * `/metrics` on the metrics one, the API and dashboard on `traefik` (insecure
 * mode), and the HTTP→HTTPS redirections.
 */
function withInternalRouters(config: DynamicConfig, sc: StaticConfig): DynamicConfig {
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

export function createRouterServer(opts: {
  staticConfig: StaticConfig;
  logger: Logger;
  accessLog?: AccessLogger | undefined;
  metrics?: RequestMetrics | undefined;
  internalServices?: ReadonlyMap<string, Handler>;
}): RouterServer {
  const { staticConfig, logger } = opts;
  const holder: TableHolder = { current: emptyTable() };
  opts.metrics?.bindTable(holder);
  const streams = streamSinks(opts.metrics, opts.accessLog);
  const state = new StateRegistry();
  const entryPoints = new Map<string, EntryPointServer>();
  const udpEntryPoints = new Map<string, UdpEntryPoint>();
  const createEntryPoints = (): void => {
    for (const ep of Object.values(staticConfig.entryPoints)) {
      if (ep.udp !== undefined) {
        udpEntryPoints.set(
          ep.name,
          createUdpEntryPoint({
            name: ep.name,
            host: ep.host,
            port: ep.port,
            timeoutMs: ep.udp.timeoutMs,
            graceMs: ep.transport.lifeCycle.graceTimeOutMs,
            acceptForMs: ep.transport.lifeCycle.requestAcceptGraceTimeoutMs,
            logger,
            handler: () => holder.current.udp?.entryPoints.get(ep.name)?.handler,
          }),
        );
        continue;
      }
      entryPoints.set(
        ep.name,
        createEntryPoint({
          config: ep,
          holder,
          logger,
          accessLog: opts.accessLog,
          metrics: opts.metrics,
          defaultCertificate: staticConfig.defaultCertificate,
        }),
      );
    }
  };
  let version = 0;
  let stopping = false;
  let last: { config: DynamicConfig; errors: ElementError[] } | undefined;
  const internalServices = new Map<string, Handler>(opts.internalServices ?? []);
  for (const ep of Object.values(staticConfig.entryPoints)) {
    if (ep.http.redirect)
      internalServices.set(`redirect-${ep.name}@internal`, redirectHandler(staticConfig, ep.name));
  }
  if (staticConfig.ping) {
    // liveness: 200 while serving, 503 once draining so load balancers stop sending (Traefik's terminatingStatusCode)
    internalServices.set('ping@internal', (ctx) => {
      const status = stopping ? 503 : 200;
      const body = stopping ? 'Service Unavailable' : 'OK';
      ctx.res.writeHead(status, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': body.length,
      });
      ctx.res.end(ctx.method === 'HEAD' ? undefined : body);
    });
    internalServices.set('ready@internal', (ctx) => {
      const ready = !stopping && holder.current.version > 0;
      const body = ready ? 'Ready' : 'Not Ready';
      ctx.res.writeHead(ready ? 200 : 503, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': body.length,
      });
      ctx.res.end(ctx.method === 'HEAD' ? undefined : body);
    });
  }

  return {
    holder,
    entryPoints,
    udpEntryPoints,
    async listen() {
      const out: Record<string, { host: string; port: number }> = {};
      // every entrypoint terminates TLS for its TLS routers (Traefik's per-router tls), so every
      // one needs the default certificate when it is made
      if (staticConfig.defaultCertificate === undefined) {
        staticConfig.defaultCertificate = await generateDefaultCertificate();
        // a table compiled before has no certificate store: build it again with one
        if (last !== undefined) this.applyConfig(last.config, last.errors);
      }
      if (entryPoints.size === 0 && udpEntryPoints.size === 0) createEntryPoints();
      for (const [name, ep] of [...entryPoints, ...udpEntryPoints]) {
        try {
          out[name] = await ep.listen();
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          const addr = staticConfig.entryPoints[name]!.address;
          const why =
            e.code === 'EADDRINUSE'
              ? 'address already in use'
              : e.code === 'EACCES'
                ? 'permission denied'
                : e.message;
          throw new ListenError(`entrypoint ${name}: cannot listen on ${addr}: ${why}`, {
            cause: err,
          });
        }
        logger.info(
          { entryPoint: name, address: `${out[name].host}:${out[name].port}` },
          'entrypoint listening',
        );
      }
      return out;
    },
    applyConfig(config, errors = []) {
      last = { config, errors };
      // the aggregator validated each provider's snapshot already (mergeSnapshots)
      state.begin();
      let table: RoutingTable;
      try {
        table = compile(
          applyEntryPointTls(withInternalRouters(config, staticConfig), staticConfig.entryPoints),
          {
            entryPoints: staticConfig.entryPoints,
            transportDefaults: staticConfig.serversTransport,
            state,
            logger,
            errors,
            version: ++version,
            internalServices,
            defaultCertificate: staticConfig.defaultCertificate,
            certResolvers: Object.keys(staticConfig.certificatesResolvers ?? {}),
            streams,
          },
        );
      } catch (err) {
        // compile records element errors itself; reaching here is a bug, and the old table keeps serving
        logger.error({ err }, 'configuration compile failed; keeping the previous routing table');
        throw err;
      }
      holder.current = table;
      state.commit();
      const log = logger.child({ version: table.version });
      for (const e of table.errors) {
        log.error(
          { kind: e.kind, name: e.name, field: e.field },
          `${e.kind} ${e.name}: ${e.message}`,
        );
      }
      log.info(
        {
          routers: table.routers.size,
          services: table.services.size,
          errors: table.errors.length,
          compileMs: Math.round(table.compileMs * 10) / 10,
        },
        'configuration applied',
      );
      return table;
    },
    async shutdown(graceMs) {
      stopping = true;
      await Promise.all(
        [...entryPoints.values(), ...udpEntryPoints.values()].map((ep) => ep.shutdown(graceMs)),
      );
      state.closeAll();
      opts.accessLog?.flush();
    },
  };
}
