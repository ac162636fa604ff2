/*
 * The data plane of one process: its entrypoints, the current routing table,
 * and the swap. applyConfig() validates and compiles a merged dynamic
 * configuration and replaces the table in one assignment; state the new table
 * did not take over (health checkers, pools of removed servers) is closed.
 */
import type { Logger } from 'pino';
import type { DynamicConfig, ElementError } from '../config/dynamic.js';
import type { StaticConfig } from '../config/static-types.js';
import { compile } from '../routing/compile.js';
import { StateRegistry } from '../routing/state.js';
import type { RoutingTable } from '../routing/table.js';
import type { AccessLogger } from '../observability/access-log.js';
import { createEntryPoint, type EntryPointServer, type TableHolder } from './entrypoint.js';
import type { Handler } from './context.js';

/** An entrypoint could not bind its address; the CLI reports it and exits 1. */
export class ListenError extends Error {
  readonly code = 'PORTICO_ERR_LISTEN';
}

export interface RouterServer {
  readonly holder: TableHolder;
  readonly entryPoints: ReadonlyMap<string, EntryPointServer>;
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
    routers: new Map(),
    services: new Map(),
    serviceRuntimes: new Map(),
    middlewares: new Map(),
    errors: [],
    compileMs: 0,
  };
}

/**
 * Routers Portico adds itself (`@internal`), at the top of the priority range
 * Traefik reserves for them: `/ping` on the ping entrypoint.
 */
function withInternalRouters(config: DynamicConfig, sc: StaticConfig): DynamicConfig {
  if (!sc.ping) return config;
  const http = config.http ?? {};
  return {
    ...config,
    http: {
      ...http,
      routers: {
        ...http.routers,
        'ping@internal': {
          rule: 'Path(`/ping`)',
          service: 'ping@internal',
          entryPoints: [sc.ping.entryPoint],
          priority: Number.MAX_SAFE_INTEGER,
        },
      },
    },
  };
}

export function createRouterServer(opts: {
  staticConfig: StaticConfig;
  logger: Logger;
  accessLog?: AccessLogger | undefined;
  internalServices?: ReadonlyMap<string, Handler>;
}): RouterServer {
  const { staticConfig, logger } = opts;
  const holder: TableHolder = { current: emptyTable() };
  const state = new StateRegistry();
  const entryPoints = new Map<string, EntryPointServer>();
  for (const ep of Object.values(staticConfig.entryPoints)) {
    entryPoints.set(
      ep.name,
      createEntryPoint({ config: ep, holder, logger, accessLog: opts.accessLog }),
    );
  }
  let version = 0;
  let stopping = false;
  const internalServices = new Map<string, Handler>(opts.internalServices ?? []);
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
  }

  return {
    holder,
    entryPoints,
    async listen() {
      const out: Record<string, { host: string; port: number }> = {};
      for (const [name, ep] of entryPoints) {
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
      // the aggregator validated each provider's snapshot already (mergeSnapshots)
      state.begin();
      let table: RoutingTable;
      try {
        table = compile(withInternalRouters(config, staticConfig), {
          entryPoints: staticConfig.entryPoints,
          transportDefaults: staticConfig.serversTransport,
          state,
          logger,
          errors,
          version: ++version,
          internalServices,
        });
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
      await Promise.all([...entryPoints.values()].map((ep) => ep.shutdown(graceMs)));
      state.closeAll();
      opts.accessLog?.flush();
    },
  };
}
