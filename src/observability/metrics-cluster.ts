/*
 * Where the metrics pieces live in each process layout, so runtime.ts only
 * calls one function per layout.
 *
 * - single process (`workers: 0`): the recorder and the store side by side;
 *   the store reads the recorder's delta before each sample and each scrape.
 * - cluster: every worker records and sends its delta to the primary once a
 *   second over the cluster IPC channel (`metrics-delta`, only when something
 *   changed; flushed on shutdown). The worker that receives a scrape of
 *   /metrics asks the primary (`metrics-scrape` → `metrics-text`), which
 *   renders the sum of all workers, so a scrape shows one set of numbers
 *   whichever worker answers. Counts are at most one second behind.
 */
import type { Worker } from 'node:cluster';
import type { StaticConfig } from '../config/static-types.js';
import type { RoutingTable } from '../table/table.js';
import type { Handler } from '../kernel/context.js';
import {
  createRequestMetrics,
  isEmptyDelta,
  metricsEnabled,
  MetricsStore,
  prometheusHandler,
  tableGauges,
  type MetricsDelta,
  type RequestMetrics,
  type TableGauges,
} from './metrics.js';

export const PROMETHEUS_SERVICE = 'prometheus@internal';

type WorkerToPrimary =
  | { type: 'metrics-delta'; delta: MetricsDelta }
  | { type: 'metrics-scrape'; id: number; gauges: TableGauges };

type PrimaryToWorker = { type: 'metrics-text'; id: number; text?: string; error?: string };

/** What a data-plane process hands to createRouterServer. */
export interface MetricsPlane {
  recorder: RequestMetrics;
  /** `prometheus@internal` when Prometheus export is on */
  internalServices: Map<string, Handler>;
  /** the table that feeds server_up and tls_certs_not_after */
  useTable(source: () => RoutingTable | undefined): void;
  /** sends what is left (cluster workers) and stops the timers */
  close(): Promise<void>;
}

/** Recorder and store in one process. */
export function singleProcessMetrics(
  sc: StaticConfig,
): { store: MetricsStore; plane: MetricsPlane } | undefined {
  const recorder = createRequestMetrics(sc);
  if (recorder === undefined) return undefined;
  const store = new MetricsStore({ config: sc.metrics });
  store.pull(() => recorder.takeDelta());
  return {
    store,
    plane: {
      recorder,
      internalServices: localScrapeService(sc, store),
      useTable: (source) => store.useTable(source),
      close: () => {
        store.close();
        return Promise.resolve();
      },
    },
  };
}

/** `prometheus@internal` rendering a store in this process */
function localScrapeService(sc: StaticConfig, store: MetricsStore): Map<string, Handler> {
  const services = new Map<string, Handler>();
  if (sc.metrics?.prometheus) {
    services.set(
      PROMETHEUS_SERVICE,
      prometheusHandler(async () => ({
        text: await store.render(),
        contentType: store.contentType,
      })),
    );
  }
  return services;
}

export interface PrimaryMetrics {
  store: MetricsStore;
  /**
   * `prometheus@internal` for the primary's own (non-listening) router, which
   * compiles each configuration for the API: without it, the /metrics router
   * would show as broken there.
   */
  internalServices: Map<string, Handler>;
  /** listens to a newly forked worker's deltas and scrapes */
  attach(worker: Worker): void;
}

/** The cluster primary's store: the sum of every worker's deltas. */
export function primaryMetrics(sc: StaticConfig): PrimaryMetrics | undefined {
  if (!metricsEnabled(sc)) return undefined;
  const store = new MetricsStore({ config: sc.metrics });
  return {
    store,
    internalServices: localScrapeService(sc, store),
    attach(worker) {
      const source = String(worker.id);
      worker.on('message', (msg: WorkerToPrimary) => {
        if (msg.type === 'metrics-delta') store.apply(msg.delta, source);
        else if (msg.type === 'metrics-scrape') answerScrape(worker, store, msg.id, msg.gauges);
      });
      worker.once('exit', () => store.dropSource(source));
    },
  };
}

function answerScrape(worker: Worker, store: MetricsStore, id: number, gauges: TableGauges): void {
  const reply = (msg: PrimaryToWorker): void => {
    if (worker.isConnected()) worker.send(msg);
  };
  store.render(gauges).then(
    (text) => reply({ type: 'metrics-text', id, text }),
    (err: unknown) => reply({ type: 'metrics-text', id, error: (err as Error).message }),
  );
}

/** A scrape the primary does not answer within this is a 503 (it is busy or gone). */
const SCRAPE_TIMEOUT_MS = 5000;

/** A cluster worker: records, ships deltas each second, forwards scrapes to the primary. */
export function workerMetrics(sc: StaticConfig): MetricsPlane | undefined {
  const recorder = createRequestMetrics(sc);
  if (recorder === undefined) return undefined;
  const addInternals = sc.metrics?.addInternals ?? false;
  let tableSource: (() => RoutingTable | undefined) | undefined;
  const send = (msg: WorkerToPrimary): Promise<void> =>
    new Promise((resolve) => {
      if (process.send === undefined || !process.connected) return resolve();
      process.send(msg, undefined, {}, () => resolve());
    });
  const flush = (): Promise<void> => {
    const delta = recorder.takeDelta();
    return isEmptyDelta(delta) ? Promise.resolve() : send({ type: 'metrics-delta', delta });
  };
  const timer = setInterval(() => void flush(), 1000);
  timer.unref();

  let nextId = 0;
  const pending = new Map<number, (reply: PrimaryToWorker) => void>();
  const onMessage = (msg: PrimaryToWorker): void => {
    if (msg?.type !== 'metrics-text') return;
    pending.get(msg.id)?.(msg);
  };
  process.on('message', onMessage);
  const scrape = (): Promise<{ text: string; contentType: string }> =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      const timeout = setTimeout(() => {
        pending.delete(id);
        reject(new Error('the primary did not answer the scrape'));
      }, SCRAPE_TIMEOUT_MS);
      timeout.unref();
      pending.set(id, (reply) => {
        clearTimeout(timeout);
        pending.delete(id);
        if (reply.text !== undefined)
          resolve({ text: reply.text, contentType: MetricsStore.CONTENT_TYPE });
        else reject(new Error(reply.error ?? 'scrape failed'));
      });
      void send({ type: 'metrics-scrape', id, gauges: tableGauges(tableSource?.(), addInternals) });
    });

  const internalServices = new Map<string, Handler>();
  if (sc.metrics?.prometheus) internalServices.set(PROMETHEUS_SERVICE, prometheusHandler(scrape));
  return {
    recorder,
    internalServices,
    useTable: (source) => (tableSource = source),
    async close() {
      clearInterval(timer);
      await flush();
      process.off('message', onMessage);
    },
  };
}
