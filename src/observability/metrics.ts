/*
 * Request metrics (issue #6): Traefik's Prometheus families under `portico_`,
 * and the per-second traffic series the dashboard charts.
 *
 * Two halves, so that a cluster reports one set of numbers:
 * - RequestMetrics lives in every data-plane process. Its hot path only bumps
 *   plain counters in cells cached per (name, code, method, protocol); no
 *   prom-client object, no label hashing, no string building per request.
 *   takeDelta() hands over what was counted since the last call.
 * - MetricsStore lives once (the cluster primary, or the single process). It
 *   adds the deltas into cumulative totals, keeps 300 one-second traffic
 *   samples per entrypoint, router and service, and renders the totals with
 *   prom-client through collectors that read them at scrape time.
 *
 * Two histograms per request: Prometheus gets the configured
 * `metrics.prometheus.buckets` (Traefik's default 0.1, 0.3, 1.2, 5 s), exactly
 * as configured, because users pick those bounds to match their SLOs and any
 * value may be asked for. The dashboard needs p50/p99 in the millisecond range,
 * which four coarse buckets cannot give, so a fixed fine histogram (√2 steps
 * from 0.5 ms to 32.8 s) is kept per entrypoint, router and service. Deriving
 * the export buckets from the fine ones would only work when every configured
 * bound is one of the fine bounds, which the default already is not; counting
 * both costs one more array increment.
 *
 * The pieces: the fine histogram (metrics-histogram.ts), the label packing
 * (metrics-labels.ts), the delta and its cells (metrics-delta.ts), the
 * recorder (metrics-recorder.ts), the table's gauges (metrics-gauges.ts),
 * the dashboard's traffic history (metrics-traffic.ts) and the Prometheus
 * families (metrics-exposition.ts). This file is the store; it re-exports the
 * rest for existing importers.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { MetricsConfig } from '../config/static-types.js';
import type { RoutingTable } from '../table/table.js';
import {
  KINDS,
  type Kind,
  type MetricsDelta,
  type RequestCellDelta,
  type TlsCellDelta,
} from './metrics-delta.js';
import {
  registerFamilies,
  registerStreamFamilies,
  TotalCell,
  type FamilyValue,
} from './metrics-exposition.js';
import { StreamTotals } from './metrics-tcp.js';
import { tableGauges, type TableGauges } from './metrics-gauges.js';
import {
  TrafficHistory,
  TRAFFIC_WINDOW,
  type TrafficSnapshot,
  type TrafficTick,
} from './metrics-traffic.js';

export { FINE_BOUNDS_MS, FINE_SLOTS, fineIndex, percentileMs } from './metrics-histogram.js';
export {
  isEmptyDelta,
  type MetricsDelta,
  type OpenConnections,
  type RequestCellDelta,
  type TlsCellDelta,
  type TrafficDelta,
} from './metrics-delta.js';
export {
  createRequestMetrics,
  metricsEnabled,
  RequestMetrics,
  type RequestMetricsOptions,
} from './metrics-recorder.js';
export { tableGauges, type TableGauges } from './metrics-gauges.js';
export {
  TRAFFIC_WINDOW,
  type TrafficSample,
  type TrafficSeries,
  type TrafficSnapshot,
  type TrafficTick,
  type TrafficTotals,
} from './metrics-traffic.js';
export { prometheusHandler } from './metrics-exposition.js';

export interface MetricsStoreOptions {
  /** the static `metrics` section; without `prometheus` only traffic is kept (the dashboard) */
  config?: MetricsConfig | undefined;
  /** nodejs/process metrics of this process (prom-client collectDefaultMetrics); default true */
  nodeMetrics?: boolean;
  /** sample traffic every second on a timer (default true; unit tests call tick() themselves) */
  timer?: boolean;
}

export class MetricsStore {
  /** Prometheus text format 0.0.4, what Traefik serves */
  static readonly CONTENT_TYPE: string = Registry.PROMETHEUS_CONTENT_TYPE;
  readonly registry = new Registry();
  private readonly prometheus: MetricsConfig['prometheus'];
  private readonly addInternals: boolean;
  private readonly slots: number;
  private readonly totals: Record<Kind, Map<string, TotalCell>> = {
    entryPoints: new Map(),
    routers: new Map(),
    services: new Map(),
  };
  private readonly tlsTotals: Record<
    Kind,
    Map<string, { labels: Record<string, string>; count: number }>
  > = {
    entryPoints: new Map(),
    routers: new Map(),
    services: new Map(),
  };
  private readonly history = new TrafficHistory();
  /** source (worker id, 'local') → "entrypoint\nprotocol" → open */
  private readonly open = new Map<string, Map<string, number>>();
  private readonly retryTotals = new Map<string, number>();
  private readonly streams = new StreamTotals();
  private reloads = 0;
  private lastReload = 0;
  private readonly pulls: (() => MetricsDelta)[] = [];
  private tableSource: (() => RoutingTable | undefined) | undefined;
  /** server health and certificates for the scrape being rendered */
  private gauges: TableGauges | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(opts: MetricsStoreOptions = {}) {
    this.prometheus = opts.config?.prometheus;
    this.addInternals = opts.config?.addInternals ?? false;
    this.slots = (this.prometheus?.buckets.length ?? 0) + 1;
    if (this.prometheus !== undefined)
      registerFamilies(this.registry, this.prometheus, {
        reloads: () => this.reloads,
        lastReload: () => this.lastReload,
        openConnections: () => this.openValues(),
        gauges: () => this.gauges,
        retries: () => this.retryTotals,
        requestCells: (kind) => this.totals[kind].values(),
        tlsCells: (kind) => this.tlsTotals[kind].values(),
      });
    if (this.prometheus !== undefined) registerStreamFamilies(this.registry, this.streams);
    if (this.prometheus !== undefined && opts.nodeMetrics !== false)
      collectDefaultMetrics({ register: this.registry, prefix: 'portico_' });
    if (opts.timer !== false) {
      this.timer = setInterval(() => this.tick(), 1000);
      this.timer.unref();
    }
  }

  get contentType(): string {
    return MetricsStore.CONTENT_TYPE;
  }

  /** adds a process's delta; `source` names the process for its open-connection gauge */
  apply(delta: MetricsDelta, source = 'local'): void {
    for (const kind of KINDS) {
      for (const c of delta.requests[kind]) this.addRequests(kind, c);
      for (const c of delta.tls[kind]) this.addTls(kind, c);
      for (const t of delta.traffic[kind]) this.history.add(kind, t);
    }
    for (const r of delta.retries)
      this.retryTotals.set(r.service, (this.retryTotals.get(r.service) ?? 0) + r.count);
    if (delta.openConnections !== undefined) {
      const m = new Map<string, number>();
      for (const o of delta.openConnections) m.set(`${o.entryPoint}\n${o.protocol}`, o.count);
      this.open.set(source, m);
    }
    if (delta.streams !== undefined) this.streams.apply(delta.streams, source);
  }

  /** a worker exited: its connections are gone with it (its counts stay in the totals) */
  dropSource(source: string): void {
    this.open.delete(source);
    this.streams.dropSource(source);
  }

  /** a recorder in this same process: read before each sample and each scrape, so nothing lags */
  pull(take: () => MetricsDelta): void {
    this.pulls.push(take);
  }

  /** the table whose services and certificates feed server_up and tls_certs_not_after */
  useTable(source: () => RoutingTable | undefined): void {
    this.tableSource = source;
  }

  /** one applied dynamic configuration (Traefik counts every reload, the first included) */
  configReloaded(at = Date.now()): void {
    this.reloads++;
    this.lastReload = at / 1000;
  }

  /**
   * The Prometheus text exposition. Server health and certificates come from
   * this process's table (useTable) or else from `gauges`, sent by the worker
   * that took the scrape (a cluster primary without a table of its own).
   */
  render(gauges?: TableGauges): Promise<string> {
    this.drain();
    this.gauges =
      this.tableSource !== undefined ? tableGauges(this.tableSource(), this.addInternals) : gauges;
    // the collectors read this.gauges synchronously inside metrics(), before it yields
    return this.registry.metrics();
  }

  /** per entrypoint, router and service: the last `windowSeconds` samples (at most 300) and totals */
  traffic(windowSeconds = TRAFFIC_WINDOW): TrafficSnapshot {
    return this.history.snapshot(windowSeconds);
  }

  /** called once per second with the newest sample of every live series; returns the unsubscribe */
  onSample(listener: (tick: TrafficTick) => void): () => void {
    return this.history.onSample(listener);
  }

  /** closes the current second: one sample per live series (the timer calls this every second) */
  tick(now = Date.now()): void {
    this.drain();
    this.history.tick(now);
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.history.close();
  }

  private drain(): void {
    for (const take of this.pulls) this.apply(take());
  }

  private addRequests(kind: Kind, c: RequestCellDelta): void {
    if (c.buckets.length !== this.slots) return; // a recorder with other buckets: nothing sensible to add
    const key = `${c.name}\n${c.service ?? ''}\n${c.code}\n${c.method}\n${c.protocol}`;
    let cell = this.totals[kind].get(key);
    if (cell === undefined) {
      const labels: Record<string, string> = {
        code: String(c.code),
        method: c.method,
        protocol: c.protocol,
      };
      if (kind === 'entryPoints') labels.entrypoint = c.name;
      else if (kind === 'routers')
        Object.assign(labels, { router: c.name, service: c.service ?? '' });
      else labels.service = c.name;
      this.totals[kind].set(key, (cell = new TotalCell(labels, this.slots)));
    }
    cell.count += c.count;
    cell.requestBytes += c.requestBytes;
    cell.responseBytes += c.responseBytes;
    cell.durationSum += c.durationSum;
    for (let i = 0; i < this.slots; i++) cell.buckets[i]! += c.buckets[i]!;
  }

  private addTls(kind: Kind, c: TlsCellDelta): void {
    const key = `${c.name}\n${c.service ?? ''}\n${c.version}\n${c.cipher}`;
    let cell = this.tlsTotals[kind].get(key);
    if (cell === undefined) {
      const labels: Record<string, string> = { tls_version: c.version, tls_cipher: c.cipher };
      if (kind === 'entryPoints') labels.entrypoint = c.name;
      else if (kind === 'routers')
        Object.assign(labels, { router: c.name, service: c.service ?? '' });
      else labels.service = c.name;
      this.tlsTotals[kind].set(key, (cell = { labels, count: 0 }));
    }
    cell.count += c.count;
  }

  private openValues(): FamilyValue[] {
    const sum = new Map<string, number>();
    for (const m of this.open.values()) for (const [k, n] of m) sum.set(k, (sum.get(k) ?? 0) + n);
    return [...sum].map(([k, value]) => {
      const nl = k.indexOf('\n');
      return { value, labels: { entrypoint: k.slice(0, nl), protocol: k.slice(nl + 1) } };
    });
  }
}
