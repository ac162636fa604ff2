/*
 * Process orchestration. With `workers: 0` everything runs in this process
 * (tests, small setups). Otherwise the primary runs the providers and the
 * aggregator and hands each worker the merged configuration; every worker
 * validates, compiles and serves on the shared listening sockets. Workers exit
 * when the primary dies; a crashed worker is replaced.
 */
import cluster from 'node:cluster';
import type http from 'node:http';
import type { Logger } from 'pino';
import type { StaticConfig } from './config/static-types.js';
import type { Provider, ProviderSnapshot } from './config/provider.js';
import { Aggregator } from './config/aggregate.js';
import { staticWarnings } from './config/static.js';
import { startWorkerPool, type PrimaryMessage, type WorkerMessage } from './runtime-workers.js';
import { createFileProvider } from '../providers/file/index.js';
import { createDockerProvider, type DockerProvider } from '../providers/docker/index.js';
import type { KubernetesProvider } from '../providers/kubernetes/index.js';
import { objectRef } from '../providers/kubernetes/objects.js';
import { createLogger } from './observability/logger.js';
import { createAccessLog } from './observability/access-log.js';
import { createRouterServer, type RouterServer } from './routing/router-server.js';
import { createWhoami } from './quickstart/whoami.js';
import { generateDefaultCertificate } from './tls/default-certificate.js';
import { createAcmeManager, type AcmeManager } from './tls/acme/manager.js';
import { applyEntryPointTls } from './routing/models.js';
import type { Handler } from './kernel/context.js';
import { ControlState, type ProviderProbe } from './api/state.js';
import { createApiHandler, type ApiHandler } from './api/handler.js';
import { forwardedApiService, startControlServer, type ControlServer } from './api/control.js';
import { writerResponse } from './api/response.js';
import { packageVersion } from './kernel/package-info.js';
import { watchExpiry } from './tls/expiry.js';
import type { MetricsStore } from './observability/metrics.js';
import { createLimitsHost, startLimitsClient } from './cluster/limits.js';
import { rateLimitKind } from '../middlewares/rate-limit.js';
import { inFlightReqKind } from '../middlewares/in-flight-req.js';
import { circuitBreakerKind } from '../middlewares/circuit-breaker.js';
import {
  primaryMetrics,
  singleProcessMetrics,
  workerMetrics,
  type MetricsPlane,
} from './observability/metrics-cluster.js';

export const QUICKSTART_WHOAMI_PORT = 8081;

/** How long the slowest entrypoint may take to drain (accept grace + grace period). */
function longestDrain(sc: StaticConfig): number {
  return Math.max(
    0,
    ...Object.values(sc.entryPoints).map(
      (e) =>
        e.transport.lifeCycle.graceTimeOutMs + e.transport.lifeCycle.requestAcceptGraceTimeoutMs,
    ),
  );
}

export interface RunningPortico {
  /** bound addresses per entrypoint (single-process mode; empty in a cluster primary) */
  addresses: Record<string, { host: string; port: number }>;
  router: RouterServer | undefined;
  logger: Logger;
  /** resolves once the first configuration has been applied */
  ready: Promise<void>;
  /** what the API serves (set when `api` is enabled) */
  control?: ControlState | undefined;
  /** request totals and traffic series (set when metrics.prometheus or api is on) */
  metrics?: MetricsStore | undefined;
  /** graceful stop: drain up to the grace period, close providers */
  close(): Promise<void>;
}

/** what the static loader accepted but reports (TRAEFIK_* next to a file, ...), once, at start */
function logStaticWarnings(sc: StaticConfig, logger: Logger): void {
  for (const warning of staticWarnings(sc)) logger.warn(warning);
}

async function buildProviders(sc: StaticConfig, logger: Logger): Promise<Provider[]> {
  const providers: Provider[] = [];
  if (sc.providers.file) {
    providers.push(
      createFileProvider({
        ...(sc.providers.file.filename ? { filename: sc.providers.file.filename } : {}),
        ...(sc.providers.file.directory ? { directory: sc.providers.file.directory } : {}),
        watch: sc.providers.file.watch,
        logger: logger.child({ provider: 'file' }),
      }),
    );
  }
  if (sc.providers.docker) {
    providers.push(
      createDockerProvider({
        ...sc.providers.docker,
        logger: logger.child({ provider: 'docker' }),
      }),
    );
  }
  const p = sc.providers;
  if (p.kubernetesIngress || p.kubernetesCRD || p.kubernetesGateway || p.kubernetesIngressNGINX) {
    // loaded only when used: @kubernetes/client-node costs ~0.4 s of start-up
    const { kubernetesProviders } = await import('./runtime-kubernetes.js');
    providers.push(...kubernetesProviders(sc, logger));
  }
  return providers;
}

/** what the API can ask a provider beyond its snapshots (Docker: bad labels, daemon reachable) */
function probeOf(p: Provider): ProviderProbe | undefined {
  // the Kubernetes providers (Ingress, CRD, Gateway, ingress-nginx) all report this way
  if (typeof (p as Partial<KubernetesProvider>).watches === 'function') {
    const k = p as KubernetesProvider;
    return {
      diagnostics: () =>
        k.diagnostics().map((x) => ({
          object: objectRef(x),
          field: x.field,
          message: x.message,
          level: x.level,
        })),
      connected: () => k.connected(),
    };
  }
  const d = p as Partial<DockerProvider>;
  if (typeof d.diagnostics !== 'function') return undefined;
  return {
    diagnostics: () =>
      d.diagnostics!().map((x) => ({
        object: x.container,
        field: x.key,
        value: x.value,
        message: x.message,
        level: x.level,
      })),
    ...(typeof d.connected === 'function' ? { connected: () => d.connected!() } : {}),
  };
}

function startProviders(
  providers: Provider[],
  aggregator: Aggregator,
  signal: AbortSignal,
  logger: Logger,
  control?: ControlState,
): void {
  for (const p of providers) {
    control?.registerProvider(p.name, probeOf(p));
    const emit = (snap: ProviderSnapshot): void => {
      control?.onSnapshot(snap);
      aggregator.update(snap);
    };
    p.start(emit, signal).catch((err: unknown) =>
      logger.error({ err, provider: p.name }, 'provider stopped with an error'),
    );
  }
}

/** `api@internal` (and its alias `dashboard@internal`) answered by `handler` once it is set */
function apiServices(ref: { handler?: ApiHandler }): Map<string, Handler> {
  const h: Handler = (ctx) => {
    // through ctx.writer: middlewares on a router to api@internal (compress, headers) apply
    if (ref.handler !== undefined) ref.handler(ctx.req, writerResponse(ctx), ctx.target());
    else {
      ctx.writer.writeHead(503, undefined, ['content-length', '0']);
      ctx.writer.end();
    }
  };
  return new Map([
    ['api@internal', h],
    ['dashboard@internal', h],
  ]);
}

function createControl(
  sc: StaticConfig,
  logger: Logger,
  router: RouterServer,
  acmeRef: { current?: AcmeManager },
): ControlState {
  return new ControlState({
    staticConfig: sc,
    logger,
    version: packageVersion(),
    table: () => router.holder.current,
    acmeStatus: () => acmeRef.current?.statusByResolver() ?? {},
  });
}

async function startWhoami(logger: Logger): Promise<http.Server> {
  const whoami = createWhoami();
  await new Promise<void>((resolve, reject) => {
    whoami.once('error', reject);
    whoami.listen(QUICKSTART_WHOAMI_PORT, '127.0.0.1', resolve);
  });
  logger.info(
    { url: `http://127.0.0.1:${QUICKSTART_WHOAMI_PORT}` },
    'quickstart demo upstream (whoami) listening',
  );
  return whoami;
}

function createDataPlane(
  sc: StaticConfig,
  logger: Logger,
  internalServices?: ReadonlyMap<string, Handler>,
  metrics?: MetricsPlane,
): RouterServer {
  const accessLog = sc.accessLog ? createAccessLog(sc.accessLog) : undefined;
  const services = new Map([...(internalServices ?? []), ...(metrics?.internalServices ?? [])]);
  const router = createRouterServer({
    staticConfig: sc,
    logger,
    accessLog,
    metrics: metrics?.recorder,
    internalServices: services,
  });
  metrics?.useTable(() => router.holder.current);
  return router;
}

/** ACME resolvers run next to the providers; their certificates join the configuration as a snapshot. */
async function startAcme(
  sc: StaticConfig,
  logger: Logger,
  aggregator: Aggregator,
  whenReady?: Promise<void>,
): Promise<AcmeManager | undefined> {
  if (!sc.certificatesResolvers) return undefined;
  const manager = await createAcmeManager({
    resolvers: sc.certificatesResolvers,
    logger,
    emit: (snapshot) => aggregator.update(snapshot),
    ...(whenReady ? { whenReady } : {}),
  });
  aggregator.update(manager.snapshot());
  return manager;
}

/** Runs everything in this process. */
export async function runSingle(
  sc: StaticConfig,
  logger = createLogger(sc.log),
): Promise<RunningPortico> {
  logStaticWarnings(sc, logger);
  const apiRef: { handler?: ApiHandler } = {};
  const metrics = singleProcessMetrics(sc);
  const metricsStore = metrics?.store;
  const router = createDataPlane(
    sc,
    logger,
    sc.api ? apiServices(apiRef) : undefined,
    metrics?.plane,
  );
  const acmeRef: { current?: AcmeManager } = {};
  const control = sc.api ? createControl(sc, logger, router, acmeRef) : undefined;
  if (control) {
    control.traffic = metricsStore;
    apiRef.handler = createApiHandler(control);
  }
  const whoami = sc.quickstart ? await startWhoami(logger) : undefined;
  const addresses = await router.listen();
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  const expiry = watchExpiry(logger);
  const aggregator = new Aggregator({
    throttleMs: sc.providers.providersThrottleDurationMs,
    onConfig: (merged) => {
      acmeRef.current?.update(applyEntryPointTls(merged.config, sc.entryPoints));
      expiry.check(merged.config.tls?.certificates ?? []);
      try {
        const table = router.applyConfig(merged.config, merged.errors);
        metricsStore?.configReloaded();
        control?.onApplied(merged, table);
        readyResolve();
      } catch {
        // logged by applyConfig; the previous table keeps serving
      }
    },
  });
  const abort = new AbortController();
  const acme = await startAcme(sc, logger, aggregator);
  if (acme) acmeRef.current = acme;
  const providers = await buildProviders(sc, logger);
  startProviders(providers, aggregator, abort.signal, logger, control);
  if (providers.length === 0) aggregator.flush();
  return {
    addresses,
    router,
    logger,
    ready,
    control,
    metrics: metricsStore,
    async close() {
      abort.abort();
      aggregator.close();
      expiry.close();
      await acme?.close();
      await router.shutdown();
      await metrics?.plane.close();
      whoami?.close();
      whoami?.closeAllConnections();
    },
  };
}

interface PrimaryApi {
  /** the API's router: compiles each configuration without listening, for router status */
  shadow: RouterServer;
  control: ControlState;
  server: ControlServer;
}

/**
 * The API's state lives in the primary: it compiles each configuration too
 * (without listening) so router status, errors and server health are known
 * where providers run; workers relay api@internal to its control socket.
 */
async function startPrimaryApi(
  sc: StaticConfig,
  logger: Logger,
  metrics: ReturnType<typeof primaryMetrics>,
  acmeRef: { current?: AcmeManager },
): Promise<PrimaryApi> {
  const apiRef: { handler?: ApiHandler } = {};
  const shadow = createRouterServer({
    staticConfig: sc,
    // the workers log every element error already
    logger: logger.child({ component: 'api' }, { level: 'silent' }),
    internalServices: new Map([...apiServices(apiRef), ...(metrics?.internalServices ?? [])]),
  });
  metrics?.store.useTable(() => shadow.holder.current);
  const control = createControl(sc, logger, shadow, acmeRef);
  control.traffic = metrics?.store;
  apiRef.handler = createApiHandler(control);
  const server = await startControlServer(apiRef.handler);
  return { shadow, control, server };
}

/** Cluster primary: providers + aggregator here, data plane in the workers. */
export async function runPrimary(
  sc: StaticConfig,
  logger = createLogger(sc.log),
): Promise<RunningPortico> {
  logStaticWarnings(sc, logger);
  const whoami = sc.quickstart ? await startWhoami(logger) : undefined;
  const acmeRef: { current?: AcmeManager } = {};
  const metrics = primaryMetrics(sc);
  const metricsStore = metrics?.store;
  const api = sc.api ? await startPrimaryApi(sc, logger, metrics, acmeRef) : undefined;
  // rateLimit, inFlightReq and circuitBreaker state for the whole process (issue 11): workers ask here
  const limits = createLimitsHost(
    [rateLimitKind, inFlightReqKind, circuitBreakerKind],
    logger.child({ component: 'limits' }),
  );
  // one default certificate for every worker: clients must not see a different one per connection
  // (every entrypoint may terminate TLS for its TLS routers, so it is always made)
  sc.defaultCertificate ??= await generateDefaultCertificate();
  const pool = startWorkerPool({
    sc,
    logger,
    controlSocket: api?.server.socketPath,
    attach(w) {
      metrics?.attach(w);
      limits.attach(w);
    },
  });
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  const expiry = watchExpiry(logger);
  const aggregator = new Aggregator({
    throttleMs: sc.providers.providersThrottleDurationMs,
    onConfig: (merged) => {
      acmeRef.current?.update(applyEntryPointTls(merged.config, sc.entryPoints));
      expiry.check(merged.config.tls?.certificates ?? []);
      metricsStore?.configReloaded();
      pool.broadcast(merged);
      if (api) {
        try {
          api.control.onApplied(merged, api.shadow.applyConfig(merged.config, merged.errors));
        } catch (err) {
          logger.error({ err }, 'the API could not compile the configuration');
        }
      }
      readyResolve();
    },
  });
  const abort = new AbortController();
  // ACME waits for a worker that listens and routes (challenges are answered there)
  const acme = await startAcme(sc, logger, aggregator, pool.serving);
  if (acme) acmeRef.current = acme;
  const providers = await buildProviders(sc, logger);
  startProviders(providers, aggregator, abort.signal, logger, api?.control);
  if (providers.length === 0) aggregator.flush();
  logger.info({ workers: sc.workers }, 'primary started');
  return {
    addresses: {},
    router: undefined,
    logger,
    ready,
    control: api?.control,
    metrics: metricsStore,
    async close() {
      pool.halt();
      abort.abort();
      aggregator.close();
      expiry.close();
      await acme?.close();
      await api?.server.close();
      await api?.shadow.shutdown(0);
      await pool.stop(longestDrain(sc));
      metricsStore?.close();
      whoami?.close();
      whoami?.closeAllConnections();
    },
  };
}

/** Cluster worker: serve, apply what the primary sends, leave with the primary. */
export async function runWorker(sc: StaticConfig): Promise<void> {
  const logger = createLogger(sc.log).child({ worker: process.pid });
  // the API runs in the primary; this worker relays api@internal requests to it
  const controlSocket = process.env.__PORTICO_CONTROL;
  const api = controlSocket ? forwardedApiService(controlSocket) : undefined;
  const metrics = workerMetrics(sc);
  // before the first table is compiled: the middlewares that share state with the primary look for it
  const limits = startLimitsClient();
  const router = createDataPlane(
    sc,
    logger,
    api
      ? new Map([
          ['api@internal', api],
          ['dashboard@internal', api],
        ])
      : undefined,
    metrics,
  );
  try {
    await router.listen();
  } catch (err) {
    process.send?.({ type: 'fatal', message: (err as Error).message } satisfies PrimaryMessage);
    setTimeout(() => process.exit(1), 100);
    return;
  }
  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await router.shutdown();
    limits.stop();
    await metrics?.close();
    process.exit(code);
  };
  process.on('message', (msg: WorkerMessage) => {
    if (msg.type === 'config') {
      try {
        const table = router.applyConfig(msg.merged.config, msg.merged.errors);
        process.send?.({ type: 'applied', version: table.version } satisfies PrimaryMessage);
      } catch {
        // logged; the previous table keeps serving
      }
    } else if (msg.type === 'shutdown') {
      void stop(0);
    }
  });
  // the primary is gone: nobody will send configuration or replace us
  process.on('disconnect', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  process.send?.({ type: 'ready' } satisfies PrimaryMessage);
}

export function isClusterWorker(): boolean {
  return cluster.isWorker && process.env.__PORTICO_STATIC !== undefined;
}
