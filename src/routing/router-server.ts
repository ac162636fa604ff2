/*
 * The data plane of one process: its entrypoints, the current routing table,
 * and the swap. applyConfig() validates and compiles a merged dynamic
 * configuration and replaces the table in one assignment; state the new table
 * did not take over (health checkers, pools of removed servers) is closed.
 * It sits in the routing layer because it drives compile() and the
 * entrypoints (src/server/) below it. The routers and services Portico adds
 * itself (ping, readiness, redirections) are in internal-services.ts.
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
import { internalServices, withInternalRouters } from './internal-services.js';
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

export interface RouterServerOptions {
  staticConfig: StaticConfig;
  logger: Logger;
  accessLog?: AccessLogger | undefined;
  metrics?: RequestMetrics | undefined;
  internalServices?: ReadonlyMap<string, Handler>;
}

/** One server per entrypoint of the static configuration: UDP ones apart, the rest TCP/HTTP. */
function createEntryPoints(
  opts: RouterServerOptions,
  holder: TableHolder,
  entryPoints: Map<string, EntryPointServer>,
  udpEntryPoints: Map<string, UdpEntryPoint>,
): void {
  const { staticConfig, logger } = opts;
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
}

/** Binds each entrypoint in turn; the first that cannot is a ListenError naming it. */
async function listenAll(
  sc: StaticConfig,
  logger: Logger,
  servers: Iterable<[string, { listen(): Promise<{ host: string; port: number }> }]>,
): Promise<Record<string, { host: string; port: number }>> {
  const out: Record<string, { host: string; port: number }> = {};
  for (const [name, ep] of servers) {
    try {
      out[name] = await ep.listen();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const addr = sc.entryPoints[name]!.address;
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
}

/** The element errors of a new table, one line each, then a summary. */
function logApplied(logger: Logger, table: RoutingTable): void {
  const log = logger.child({ version: table.version });
  for (const e of table.errors) {
    log.error({ kind: e.kind, name: e.name, field: e.field }, `${e.kind} ${e.name}: ${e.message}`);
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
}

export function createRouterServer(opts: RouterServerOptions): RouterServer {
  const { staticConfig, logger } = opts;
  const holder: TableHolder = { current: emptyTable() };
  opts.metrics?.bindTable(holder);
  const streams = streamSinks(opts.metrics, opts.accessLog);
  const state = new StateRegistry();
  const entryPoints = new Map<string, EntryPointServer>();
  const udpEntryPoints = new Map<string, UdpEntryPoint>();
  let version = 0;
  let stopping = false;
  let last: { config: DynamicConfig; errors: ElementError[] } | undefined;
  const services = internalServices(staticConfig, opts.internalServices, holder, () => stopping);

  return {
    holder,
    entryPoints,
    udpEntryPoints,
    async listen() {
      // every entrypoint terminates TLS for its TLS routers (Traefik's per-router tls), so every
      // one needs the default certificate when it is made
      if (staticConfig.defaultCertificate === undefined) {
        staticConfig.defaultCertificate = await generateDefaultCertificate();
        // a table compiled before has no certificate store: build it again with one
        if (last !== undefined) this.applyConfig(last.config, last.errors);
      }
      if (entryPoints.size === 0 && udpEntryPoints.size === 0)
        createEntryPoints(opts, holder, entryPoints, udpEntryPoints);
      return listenAll(staticConfig, logger, [...entryPoints, ...udpEntryPoints]);
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
            internalServices: services,
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
      logApplied(logger, table);
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
