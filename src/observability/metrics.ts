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
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { collectDefaultMetrics, Registry, type Metric } from 'prom-client';
import type { MetricsConfig, StaticConfig } from '../config/static-types.js';
import type { Handler, RequestContext } from '../kernel/context.js';
import type { RoutingTable } from '../table/table.js';

// ---------------------------------------------------------------------------
// Fine latency histogram (dashboard percentiles)

/** Upper bounds in ms: 0.5 × √2^i for i = 0..32 (0.5 ms … 32.8 s); one more slot counts above. */
export const FINE_BOUNDS_MS: readonly number[] = Array.from(
  { length: 33 },
  (_, i) => 0.5 * 2 ** (i / 2),
);
export const FINE_SLOTS = FINE_BOUNDS_MS.length + 1;

/** The fine slot of a duration: the first bound it does not exceed (Prometheus `le` semantics). */
export function fineIndex(ms: number): number {
  if (!(ms > FINE_BOUNDS_MS[0]!)) return 0;
  let i = Math.ceil(2 * Math.log2(ms / 0.5));
  if (i >= FINE_BOUNDS_MS.length) return FINE_BOUNDS_MS.length;
  // log2 rounding right at a bound
  if (ms > FINE_BOUNDS_MS[i]!) i++;
  else if (i > 0 && ms <= FINE_BOUNDS_MS[i - 1]!) i--;
  return i;
}

/**
 * The q-quantile (0..1) of a fine histogram in ms, interpolated inside its
 * bucket geometrically (the bounds are geometric); null when it is empty.
 */
export function percentileMs(hist: ArrayLike<number>, q: number): number | null {
  let total = 0;
  for (let i = 0; i < hist.length; i++) total += hist[i]!;
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    const n = hist[i]!;
    if (n === 0 || seen + n < rank) {
      seen += n;
      continue;
    }
    // above the last bound nothing is known but "more than 32.8 s"
    if (i >= FINE_BOUNDS_MS.length) return FINE_BOUNDS_MS[FINE_BOUNDS_MS.length - 1]!;
    const upper = FINE_BOUNDS_MS[i]!;
    const lower = i === 0 ? 0 : FINE_BOUNDS_MS[i - 1]!;
    const frac = (rank - seen) / n;
    const value = lower === 0 ? upper * frac : lower * (upper / lower) ** frac;
    return Math.round(value * 1000) / 1000;
  }
  return FINE_BOUNDS_MS[FINE_BOUNDS_MS.length - 1]!;
}

// ---------------------------------------------------------------------------
// Labels

/** Traefik folds non-standard methods into one value, so a client cannot blow up the label set. */
const METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'EXTENSION_METHOD',
] as const;
const METHOD_INDEX = new Map<string, number>(METHODS.map((m, i) => [m, i]));
const EXTENSION_METHOD = METHODS.length - 1;

/** Traefik's `protocol` label values. */
const PROTOCOLS = ['http', 'websocket', 'sse', 'grpc', 'grpc-web'] as const;

function protocolIndex(ctx: RequestContext): number {
  if (ctx.upgrade !== undefined) return 1;
  const h = ctx.req.headers;
  const ct = h['content-type'];
  if (ct !== undefined && ct.startsWith('application/grpc'))
    return ct.startsWith('application/grpc-web') ? 4 : 3;
  const accept = h.accept;
  if (accept !== undefined && accept.includes('text/event-stream')) return 2;
  return 0;
}

/** code, method and protocol in one small integer: the innermost map key, no string per request */
function cellKey(code: number, ctx: RequestContext): number {
  const m = METHOD_INDEX.get(ctx.method) ?? EXTENSION_METHOD;
  return (Math.min(Math.max(code, 0), 999) << 7) | (m << 3) | protocolIndex(ctx);
}

function splitKey(key: number): { code: number; method: string; protocol: string } {
  return {
    code: key >> 7,
    method: METHODS[(key >> 3) & 15] ?? 'EXTENSION_METHOD',
    protocol: PROTOCOLS[key & 7] ?? 'http',
  };
}

const kTlsLabels = Symbol('portico.metrics.tls');
type LabelledSocket = TLSSocket & { [kTlsLabels]?: string };

/** "1.3\nTLS_AES_128_GCM_SHA256", computed once per connection (Traefik: tls_version, tls_cipher). */
function tlsLabels(req: IncomingMessage): string | undefined {
  // HTTP/2: req.socket is a proxy that throws once the stream is gone; the session holds the TLS socket
  const stream = (req as { stream?: { session?: { socket?: unknown } } }).stream;
  const socket = (stream !== undefined ? stream.session?.socket : req.socket) as
    LabelledSocket | undefined;
  if (socket === undefined || typeof socket.getProtocol !== 'function') return undefined;
  let labels = socket[kTlsLabels];
  if (labels === undefined) {
    const version = socket.getProtocol();
    if (version === null) return undefined;
    const cipher = socket.getCipher() as { standardName?: string; name: string } | undefined;
    labels = `${version.replace(/^TLSv/, '')}\n${cipher?.standardName ?? cipher?.name ?? ''}`;
    socket[kTlsLabels] = labels;
  }
  return labels;
}

// ---------------------------------------------------------------------------
// The delta (what a data-plane process sends each second)

export interface RequestCellDelta {
  /** entrypoint, router or service name */
  name: string;
  /** router cells only: the router's service */
  service?: string;
  code: number;
  method: string;
  protocol: string;
  count: number;
  requestBytes: number;
  responseBytes: number;
  /** seconds */
  durationSum: number;
  /** per `metrics.prometheus.buckets` bound, not cumulative, then one for above the last */
  buckets: number[];
}

export interface TlsCellDelta {
  name: string;
  service?: string;
  version: string;
  cipher: string;
  count: number;
}

export interface TrafficDelta {
  name: string;
  requests: number;
  errors4xx: number;
  errors5xx: number;
  /** fine latency histogram, sparse: [slot, count, slot, count, ...] */
  latency: number[];
}

export interface OpenConnections {
  entryPoint: string;
  protocol: string;
  /** connections open now in the sending process (an absolute value, not a difference) */
  count: number;
}

interface ByKind<T> {
  entryPoints: T[];
  routers: T[];
  services: T[];
}

export interface MetricsDelta {
  requests: ByKind<RequestCellDelta>;
  tls: ByKind<TlsCellDelta>;
  traffic: ByKind<TrafficDelta>;
  /** retries the retry middleware made, per service that answered */
  retries: { service: string; count: number }[];
  /** present when the process's open connections changed since the last delta */
  openConnections?: OpenConnections[];
}

export function isEmptyDelta(d: MetricsDelta): boolean {
  return (
    d.openConnections === undefined &&
    d.retries.length === 0 &&
    d.traffic.entryPoints.length === 0 &&
    d.traffic.routers.length === 0 &&
    d.traffic.services.length === 0 &&
    d.requests.entryPoints.length === 0 &&
    d.requests.routers.length === 0 &&
    d.requests.services.length === 0
  );
}

// ---------------------------------------------------------------------------
// RequestMetrics: the per-process recorder

class RequestCell {
  count = 0;
  requestBytes = 0;
  responseBytes = 0;
  durationSum = 0;
  readonly buckets: number[];
  constructor(slots: number) {
    this.buckets = new Array<number>(slots).fill(0);
  }
}

class TrafficCell {
  requests = 0;
  errors4xx = 0;
  errors5xx = 0;
  readonly latency = new Uint32Array(FINE_SLOTS);
}

/** name → service ('' except for routers) → code|method|protocol → cell */
type CellMap = Map<string, Map<string, Map<number, RequestCell>>>;
/** name → service → "version\ncipher" → count */
type TlsMap = Map<string, Map<string, Map<string, number>>>;

function innerMap<K, V>(outer: Map<string, Map<K, V>>, name: string): Map<K, V> {
  let m = outer.get(name);
  if (m === undefined) outer.set(name, (m = new Map()));
  return m;
}

function trafficAdd(map: Map<string, TrafficCell>, name: string, code: number, slot: number): void {
  let c = map.get(name);
  if (c === undefined) map.set(name, (c = new TrafficCell()));
  c.requests++;
  if (code >= 500) c.errors5xx++;
  else if (code >= 400) c.errors4xx++;
  c.latency[slot]!++;
}

export interface RequestMetricsOptions {
  /** Prometheus histogram bounds in seconds; undefined: no Prometheus export, traffic only */
  buckets?: readonly number[];
  entryPoints?: boolean;
  routers?: boolean;
  services?: boolean;
  addInternals?: boolean;
}

export class RequestMetrics {
  private readonly boundsMs: number[];
  private readonly exporting: boolean;
  private readonly perEntryPoint: boolean;
  private readonly perRouter: boolean;
  private readonly perService: boolean;
  private readonly addInternals: boolean;
  private table: { readonly current: RoutingTable } | undefined;
  private cells = {
    entryPoints: new Map() as CellMap,
    routers: new Map() as CellMap,
    services: new Map() as CellMap,
  };
  private tls = {
    entryPoints: new Map() as TlsMap,
    routers: new Map() as TlsMap,
    services: new Map() as TlsMap,
  };
  private traffic = {
    entryPoints: new Map<string, TrafficCell>(),
    routers: new Map<string, TrafficCell>(),
    services: new Map<string, TrafficCell>(),
  };
  private retries = new Map<string, number>();
  /** "entrypoint\nprotocol" → open now */
  private readonly open = new Map<string, number>();
  private openChanged = false;
  /** the request being recorded, reused: onRequestEnd is synchronous */
  private readonly observation = {
    key: 0,
    bucket: 0,
    seconds: 0,
    requestBytes: 0,
    responseBytes: 0,
    tls: undefined as string | undefined,
  };

  constructor(opts: RequestMetricsOptions = {}) {
    this.boundsMs = (opts.buckets ?? []).map((s) => s * 1000);
    this.exporting = opts.buckets !== undefined;
    this.perEntryPoint = this.exporting && (opts.entryPoints ?? true);
    this.perRouter = this.exporting && (opts.routers ?? false);
    this.perService = this.exporting && (opts.services ?? true);
    this.addInternals = opts.addInternals ?? false;
  }

  /** the table whose routers name the `service` label of router metrics (Traefik: the router's service) */
  bindTable(holder: { readonly current: RoutingTable }): void {
    this.table = holder;
  }

  /** called once per request, when its response is closed (src/server/entrypoint.ts finish) */
  onRequestEnd(ctx: RequestContext): void {
    const router = ctx.routerName;
    // Traefik leaves its own api, ping and metrics traffic out unless asked (addInternals)
    if (!this.addInternals && router.endsWith('@internal')) return;
    const ms = (ctx.endTime || performance.now()) - ctx.startTime;
    const code = ctx.res.statusCode;
    const slot = fineIndex(ms);
    const service = ctx.serviceName;
    trafficAdd(this.traffic.entryPoints, ctx.entryPoint, code, slot);
    if (router !== '') trafficAdd(this.traffic.routers, router, code, slot);
    if (service !== '') trafficAdd(this.traffic.services, service, code, slot);
    if (!this.exporting) return;

    const o = this.observation;
    o.key = cellKey(code, ctx);
    o.bucket = this.bucketIndex(ms);
    o.seconds = ms / 1000;
    o.requestBytes = Number(ctx.req.headers['content-length'] ?? 0) || 0;
    o.responseBytes = responseBytes(ctx);
    o.tls = ctx.scheme === 'https' ? tlsLabels(ctx.req) : undefined;
    if (this.perEntryPoint)
      this.record(this.cells.entryPoints, this.tls.entryPoints, ctx.entryPoint, '');
    if (this.perRouter && router !== '') {
      const routerService = this.table?.current.routers.get(router)?.service ?? service;
      this.record(this.cells.routers, this.tls.routers, router, routerService);
    }
    if (this.perService && service !== '') {
      this.record(this.cells.services, this.tls.services, service, '');
      if (ctx.retryAttempts > 0)
        this.retries.set(service, (this.retries.get(service) ?? 0) + ctx.retryAttempts);
    }
  }

  connectionOpened(entryPoint: string, protocol: string): void {
    const k = `${entryPoint}\n${protocol}`;
    this.open.set(k, (this.open.get(k) ?? 0) + 1);
    this.openChanged = true;
  }

  connectionClosed(entryPoint: string, protocol: string): void {
    const k = `${entryPoint}\n${protocol}`;
    this.open.set(k, Math.max(0, (this.open.get(k) ?? 0) - 1));
    this.openChanged = true;
  }

  /** everything counted since the last call; the recorder starts from zero again */
  takeDelta(): MetricsDelta {
    const delta: MetricsDelta = {
      requests: {
        entryPoints: cellsOut(this.cells.entryPoints, false),
        routers: cellsOut(this.cells.routers, true),
        services: cellsOut(this.cells.services, false),
      },
      tls: {
        entryPoints: tlsOut(this.tls.entryPoints, false),
        routers: tlsOut(this.tls.routers, true),
        services: tlsOut(this.tls.services, false),
      },
      traffic: {
        entryPoints: trafficOut(this.traffic.entryPoints),
        routers: trafficOut(this.traffic.routers),
        services: trafficOut(this.traffic.services),
      },
      retries: [...this.retries].map(([service, count]) => ({ service, count })),
    };
    if (this.openChanged) {
      delta.openConnections = [...this.open].map(([k, count]) => {
        const nl = k.indexOf('\n');
        return { entryPoint: k.slice(0, nl), protocol: k.slice(nl + 1), count };
      });
      this.openChanged = false;
    }
    // fresh maps rather than zeroed cells: routers that went away leave nothing behind
    this.cells = { entryPoints: new Map(), routers: new Map(), services: new Map() };
    this.tls = { entryPoints: new Map(), routers: new Map(), services: new Map() };
    this.traffic = { entryPoints: new Map(), routers: new Map(), services: new Map() };
    this.retries = new Map();
    return delta;
  }

  /** adds this.observation to one name's cell (no closure or object per request) */
  private record(cells: CellMap, tlsCells: TlsMap, name: string, service: string): void {
    const o = this.observation;
    const byKey = innerMap(innerMap(cells, name), service);
    let cell = byKey.get(o.key);
    if (cell === undefined) byKey.set(o.key, (cell = new RequestCell(this.boundsMs.length + 1)));
    cell.count++;
    cell.requestBytes += o.requestBytes;
    cell.responseBytes += o.responseBytes;
    cell.durationSum += o.seconds;
    cell.buckets[o.bucket]!++;
    if (o.tls !== undefined) {
      const byTls = innerMap(innerMap(tlsCells, name), service);
      byTls.set(o.tls, (byTls.get(o.tls) ?? 0) + 1);
    }
  }

  private bucketIndex(ms: number): number {
    const b = this.boundsMs;
    let i = 0;
    while (i < b.length && ms > b[i]!) i++;
    return i;
  }
}

/** body bytes sent; for answers Portico writes itself (404, 503, internal) the declared length */
function responseBytes(ctx: RequestContext): number {
  if (ctx.bytesOut > 0 || ctx.method === 'HEAD') return ctx.bytesOut;
  return Number(ctx.res.getHeader('content-length') ?? 0) || 0;
}

function cellsOut(cells: CellMap, withService: boolean): RequestCellDelta[] {
  const out: RequestCellDelta[] = [];
  for (const [name, byService] of cells) {
    for (const [service, byKey] of byService) {
      for (const [key, c] of byKey) {
        out.push({
          name,
          ...(withService ? { service } : {}),
          ...splitKey(key),
          count: c.count,
          requestBytes: c.requestBytes,
          responseBytes: c.responseBytes,
          durationSum: c.durationSum,
          buckets: c.buckets,
        });
      }
    }
  }
  return out;
}

function tlsOut(cells: TlsMap, withService: boolean): TlsCellDelta[] {
  const out: TlsCellDelta[] = [];
  for (const [name, byService] of cells) {
    for (const [service, byTls] of byService) {
      for (const [labels, count] of byTls) {
        const nl = labels.indexOf('\n');
        out.push({
          name,
          ...(withService ? { service } : {}),
          version: labels.slice(0, nl),
          cipher: labels.slice(nl + 1),
          count,
        });
      }
    }
  }
  return out;
}

function trafficOut(map: Map<string, TrafficCell>): TrafficDelta[] {
  const out: TrafficDelta[] = [];
  for (const [name, c] of map) {
    const latency: number[] = [];
    for (let i = 0; i < c.latency.length; i++)
      if (c.latency[i] !== 0) latency.push(i, c.latency[i]!);
    out.push({
      name,
      requests: c.requests,
      errors4xx: c.errors4xx,
      errors5xx: c.errors5xx,
      latency,
    });
  }
  return out;
}

/** On when Prometheus export or the API (the dashboard's traffic charts) is configured; else no cost at all. */
export function metricsEnabled(sc: StaticConfig): boolean {
  return sc.metrics?.prometheus !== undefined || sc.api !== undefined;
}

export function createRequestMetrics(sc: StaticConfig): RequestMetrics | undefined {
  if (!metricsEnabled(sc)) return undefined;
  const p = sc.metrics?.prometheus;
  return new RequestMetrics({
    ...(p
      ? {
          buckets: p.buckets,
          entryPoints: p.addEntryPointsLabels,
          routers: p.addRoutersLabels,
          services: p.addServicesLabels,
        }
      : {}),
    addInternals: sc.metrics?.addInternals ?? false,
  });
}

// ---------------------------------------------------------------------------
// What only a routing table knows: server health and certificates

export interface TableGauges {
  servers: { service: string; url: string; up: boolean }[];
  certificates: { cn: string; sans: string; serial: string; notAfter: number }[];
}

/**
 * What the certificate store lists. The TLS engineer's `list()` returns
 * `{domains, issuer, notBefore, notAfter, source, resolver?}`; the older
 * `certificates` array has `names` and `subject`. Both are read.
 */
interface ListedCertificate {
  domains?: readonly string[];
  names?: readonly string[];
  subject?: string;
  serial?: string;
  serialNumber?: string;
  notAfter: string | number | Date;
}

function listCertificates(store: unknown): readonly ListedCertificate[] {
  const s = store as {
    list?: () => readonly ListedCertificate[];
    certificates?: readonly ListedCertificate[];
  };
  if (typeof s.list === 'function') return s.list();
  return s.certificates ?? [];
}

function unixSeconds(v: string | number | Date): number {
  const ms = v instanceof Date ? v.getTime() : typeof v === 'number' ? v : Date.parse(v);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : 0;
}

export function tableGauges(table: RoutingTable | undefined, addInternals = false): TableGauges {
  const out: TableGauges = { servers: [], certificates: [] };
  if (table === undefined) return out;
  for (const [name, rt] of table.serviceRuntimes) {
    // composite services report their children's servers, which appear under the children's names
    if (rt.type !== 'loadBalancer') continue;
    if (!addInternals && name.endsWith('@internal')) continue;
    for (const [url, status] of Object.entries(rt.serverStatus()))
      out.servers.push({ service: name, url, up: status === 'UP' });
  }
  if (table.certificates !== undefined) {
    for (const c of listCertificates(table.certificates)) {
      const names = c.domains ?? c.names ?? [];
      const cn = /(?:^|\n|,\s*)CN=([^\n,]+)/.exec(c.subject ?? '')?.[1] ?? names[0] ?? '';
      out.certificates.push({
        cn,
        sans: names.join(','),
        serial: c.serial ?? c.serialNumber ?? '',
        notAfter: unixSeconds(c.notAfter),
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// MetricsStore: totals, traffic series, exposition

/** One-second samples kept per entrypoint, router and service (five minutes). */
export const TRAFFIC_WINDOW = 300;

export interface TrafficSample {
  /** unix seconds at the end of the second this sample covers */
  t: number;
  requests: number;
  errors4xx: number;
  errors5xx: number;
  /** null when the second had no request */
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface TrafficTotals {
  requests: number;
  errors4xx: number;
  errors5xx: number;
}

export interface TrafficSeries {
  name: string;
  /** oldest first, one per second, at most the window asked for */
  samples: TrafficSample[];
  /** since start */
  totals: TrafficTotals;
}

export interface TrafficSnapshot {
  /** seconds per sample */
  interval: 1;
  now: number;
  entryPoints: TrafficSeries[];
  routers: TrafficSeries[];
  services: TrafficSeries[];
}

/** the newest sample of every live series, once per second (the dashboard's live stream) */
export interface TrafficTick {
  t: number;
  entryPoints: Record<string, TrafficSample>;
  routers: Record<string, TrafficSample>;
  services: Record<string, TrafficSample>;
}

type Kind = 'entryPoints' | 'routers' | 'services';
const KINDS: readonly Kind[] = ['entryPoints', 'routers', 'services'];

/** A RequestCell summed over the workers, with the labels it is exported under. */
class TotalCell extends RequestCell {
  constructor(
    readonly labels: Record<string, string>,
    slots: number,
  ) {
    super(slots);
  }
}

/** A ring of TRAFFIC_WINDOW samples in typed arrays: 1,000 routers cost about 6 MB, not 300,000 objects. */
class Series {
  readonly requests = new Uint32Array(TRAFFIC_WINDOW);
  readonly errors4xx = new Uint32Array(TRAFFIC_WINDOW);
  readonly errors5xx = new Uint32Array(TRAFFIC_WINDOW);
  readonly p50 = new Float32Array(TRAFFIC_WINDOW).fill(NaN);
  readonly p99 = new Float32Array(TRAFFIC_WINDOW).fill(NaN);
  /** seconds in a row without a request; the series is dropped after a whole idle window */
  idle = 0;
}

function nullable(v: number): number | null {
  return Number.isNaN(v) ? null : Math.round(v * 1000) / 1000;
}

type FamilyType = 'counter' | 'gauge' | 'histogram';
interface FamilyValue {
  value: number;
  labels: Record<string, string>;
  metricName?: string;
}

/**
 * A prom-client collector over the store's totals: the registry calls get()
 * at scrape time and formats what it returns (names, escaping, +Inf). The
 * store owns the numbers, so reset() has nothing to clear.
 */
class Family {
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: FamilyType,
    private readonly values: () => FamilyValue[],
  ) {}
  get(): Promise<{
    name: string;
    help: string;
    type: FamilyType;
    aggregator: string;
    values: FamilyValue[];
  }> {
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.values(),
    });
  }
  reset(): void {}
}

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
  private readonly trafficTotals: Record<Kind, Map<string, TrafficTotals>> = {
    entryPoints: new Map(),
    routers: new Map(),
    services: new Map(),
  };
  /** the second being filled: name → counts and fine latency */
  private current: Record<Kind, Map<string, TrafficCell>> = {
    entryPoints: new Map(),
    routers: new Map(),
    services: new Map(),
  };
  private readonly series: Record<Kind, Map<string, Series>> = {
    entryPoints: new Map(),
    routers: new Map(),
    services: new Map(),
  };
  private readonly times = new Float64Array(TRAFFIC_WINDOW);
  private head = -1;
  private filled = 0;
  /** source (worker id, 'local') → "entrypoint\nprotocol" → open */
  private readonly open = new Map<string, Map<string, number>>();
  private readonly retryTotals = new Map<string, number>();
  private reloads = 0;
  private lastReload = 0;
  private readonly pulls: (() => MetricsDelta)[] = [];
  private readonly listeners = new Set<(tick: TrafficTick) => void>();
  private tableSource: (() => RoutingTable | undefined) | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(opts: MetricsStoreOptions = {}) {
    this.prometheus = opts.config?.prometheus;
    this.addInternals = opts.config?.addInternals ?? false;
    this.slots = (this.prometheus?.buckets.length ?? 0) + 1;
    if (this.prometheus !== undefined) this.registerFamilies(this.prometheus);
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
      for (const t of delta.traffic[kind]) this.addTraffic(kind, t);
    }
    for (const r of delta.retries)
      this.retryTotals.set(r.service, (this.retryTotals.get(r.service) ?? 0) + r.count);
    if (delta.openConnections !== undefined) {
      const m = new Map<string, number>();
      for (const o of delta.openConnections) m.set(`${o.entryPoint}\n${o.protocol}`, o.count);
      this.open.set(source, m);
    }
  }

  /** a worker exited: its connections are gone with it (its counts stay in the totals) */
  dropSource(source: string): void {
    this.open.delete(source);
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
    const n = Math.max(0, Math.min(Math.floor(windowSeconds), this.filled, TRAFFIC_WINDOW));
    const out: TrafficSnapshot = {
      interval: 1,
      now: Math.floor(Date.now() / 1000),
      entryPoints: [],
      routers: [],
      services: [],
    };
    for (const kind of KINDS) {
      const names = new Set([...this.trafficTotals[kind].keys(), ...this.series[kind].keys()]);
      for (const name of [...names].sort()) {
        const s = this.series[kind].get(name);
        const samples: TrafficSample[] = [];
        if (s !== undefined) {
          for (let k = n - 1; k >= 0; k--) samples.push(this.sampleAt(s, this.slotBack(k)));
        }
        const totals = this.trafficTotals[kind].get(name) ?? {
          requests: 0,
          errors4xx: 0,
          errors5xx: 0,
        };
        out[kind].push({ name, samples, totals: { ...totals } });
      }
    }
    return out;
  }

  /** called once per second with the newest sample of every live series; returns the unsubscribe */
  onSample(listener: (tick: TrafficTick) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** closes the current second: one sample per live series (the timer calls this every second) */
  tick(now = Date.now()): void {
    this.drain();
    this.head = (this.head + 1) % TRAFFIC_WINDOW;
    this.filled = Math.min(this.filled + 1, TRAFFIC_WINDOW);
    const t = Math.floor(now / 1000);
    this.times[this.head] = t;
    // the per-series sample objects are built only for listeners (10,000 routers, every second)
    const tick: TrafficTick | undefined =
      this.listeners.size > 0 ? { t, entryPoints: {}, routers: {}, services: {} } : undefined;
    for (const kind of KINDS) this.sampleKind(kind, tick);
    this.current = { entryPoints: new Map(), routers: new Map(), services: new Map() };
    if (tick === undefined) return;
    for (const listener of this.listeners) {
      try {
        listener(tick);
      } catch {
        // a subscriber's failure must not stop sampling for the others
      }
    }
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.listeners.clear();
  }

  // --- internals -------------------------------------------------------------

  private gauges: TableGauges | undefined;

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

  private addTraffic(kind: Kind, t: TrafficDelta): void {
    let cur = this.current[kind].get(t.name);
    if (cur === undefined) this.current[kind].set(t.name, (cur = new TrafficCell()));
    cur.requests += t.requests;
    cur.errors4xx += t.errors4xx;
    cur.errors5xx += t.errors5xx;
    for (let i = 0; i + 1 < t.latency.length; i += 2) {
      const slot = t.latency[i]!;
      if (slot >= 0 && slot < FINE_SLOTS) cur.latency[slot]! += t.latency[i + 1]!;
    }
    let tot = this.trafficTotals[kind].get(t.name);
    if (tot === undefined)
      this.trafficTotals[kind].set(t.name, (tot = { requests: 0, errors4xx: 0, errors5xx: 0 }));
    tot.requests += t.requests;
    tot.errors4xx += t.errors4xx;
    tot.errors5xx += t.errors5xx;
  }

  private sampleKind(kind: Kind, tick: TrafficTick | undefined): void {
    const series = this.series[kind];
    const current = this.current[kind];
    for (const name of current.keys()) if (!series.has(name)) series.set(name, new Series());
    const h = this.head;
    for (const [name, s] of series) {
      const c = current.get(name);
      s.requests[h] = c?.requests ?? 0;
      s.errors4xx[h] = c?.errors4xx ?? 0;
      s.errors5xx[h] = c?.errors5xx ?? 0;
      s.p50[h] = c === undefined ? NaN : (percentileMs(c.latency, 0.5) ?? NaN);
      s.p99[h] = c === undefined ? NaN : (percentileMs(c.latency, 0.99) ?? NaN);
      s.idle = c === undefined || c.requests === 0 ? s.idle + 1 : 0;
      if (s.idle >= TRAFFIC_WINDOW) {
        series.delete(name);
        continue;
      }
      if (tick !== undefined) tick[kind][name] = this.sampleAt(s, h);
    }
  }

  /** the ring slot k seconds before the newest */
  private slotBack(k: number): number {
    return (this.head - k + TRAFFIC_WINDOW) % TRAFFIC_WINDOW;
  }

  private sampleAt(s: Series, slot: number): TrafficSample {
    return {
      t: this.times[slot]!,
      requests: s.requests[slot]!,
      errors4xx: s.errors4xx[slot]!,
      errors5xx: s.errors5xx[slot]!,
      p50Ms: nullable(s.p50[slot]!),
      p99Ms: nullable(s.p99[slot]!),
    };
  }

  private registerFamilies(p: NonNullable<MetricsConfig['prometheus']>): void {
    const add = (f: Family): void => this.registry.registerMetric(f as unknown as Metric);
    add(
      new Family('portico_config_reloads_total', 'Config reloads', 'counter', () => [
        { value: this.reloads, labels: {} },
      ]),
    );
    add(
      new Family(
        'portico_config_last_reload_success',
        'Last config reload success (unix seconds)',
        'gauge',
        () => [{ value: this.lastReload, labels: {} }],
      ),
    );
    add(
      new Family(
        'portico_open_connections',
        'How many open connections exist, by entryPoint and protocol',
        'gauge',
        () => this.openValues(),
      ),
    );
    add(
      new Family(
        'portico_tls_certs_not_after',
        'Certificate expiration timestamp (unix seconds)',
        'gauge',
        () =>
          (this.gauges?.certificates ?? []).map((c) => ({
            value: c.notAfter,
            labels: { cn: c.cn, sans: c.sans, serial: c.serial },
          })),
      ),
    );
    const kinds: [Kind, string, boolean][] = [
      ['entryPoints', 'entrypoint', p.addEntryPointsLabels],
      ['routers', 'router', p.addRoutersLabels],
      ['services', 'service', p.addServicesLabels],
    ];
    for (const [kind, prefix, on] of kinds)
      if (on) this.registerRequestFamilies(kind, `portico_${prefix}`, p.buckets);
    if (p.addServicesLabels) {
      add(
        new Family(
          'portico_service_retries_total',
          'How many request retries happened on a service',
          'counter',
          () => [...this.retryTotals].map(([service, value]) => ({ value, labels: { service } })),
        ),
      );
      add(
        new Family(
          'portico_service_server_up',
          'service server is up, described by gauge value of 0 or 1',
          'gauge',
          () =>
            (this.gauges?.servers ?? []).map((s) => ({
              value: s.up ? 1 : 0,
              labels: { service: s.service, url: s.url },
            })),
        ),
      );
    }
  }

  private registerRequestFamilies(kind: Kind, prefix: string, buckets: readonly number[]): void {
    const add = (f: Family): void => this.registry.registerMetric(f as unknown as Metric);
    const cells = (): TotalCell[] => [...this.totals[kind].values()];
    const what = kind === 'entryPoints' ? 'entrypoint' : kind === 'routers' ? 'router' : 'service';
    add(
      new Family(
        `${prefix}_requests_total`,
        `How many HTTP requests processed on a ${what}, partitioned by status code, protocol, and method`,
        'counter',
        () => cells().map((c) => ({ value: c.count, labels: c.labels })),
      ),
    );
    add(
      new Family(
        `${prefix}_requests_tls_total`,
        `How many HTTP requests with TLS processed on a ${what}, partitioned by TLS version and TLS cipher`,
        'counter',
        () => [...this.tlsTotals[kind].values()].map((c) => ({ value: c.count, labels: c.labels })),
      ),
    );
    add(
      new Family(
        `${prefix}_request_duration_seconds`,
        `How long it took to process the request on a ${what}, partitioned by status code, protocol, and method`,
        'histogram',
        () => histogramValues(`${prefix}_request_duration_seconds`, cells(), buckets),
      ),
    );
    add(
      new Family(
        `${prefix}_requests_bytes_total`,
        `The total size of requests in bytes handled by a ${what}, partitioned by status code, protocol, and method`,
        'counter',
        () => cells().map((c) => ({ value: c.requestBytes, labels: c.labels })),
      ),
    );
    add(
      new Family(
        `${prefix}_responses_bytes_total`,
        `The total size of responses in bytes handled by a ${what}, partitioned by status code, protocol, and method`,
        'counter',
        () => cells().map((c) => ({ value: c.responseBytes, labels: c.labels })),
      ),
    );
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

/** cumulative `_bucket` lines (le last, as Go's client writes them), then `_sum` and `_count` */
function histogramValues(
  name: string,
  cells: TotalCell[],
  bounds: readonly number[],
): FamilyValue[] {
  const out: FamilyValue[] = [];
  for (const c of cells) {
    let acc = 0;
    for (let i = 0; i <= bounds.length; i++) {
      acc += c.buckets[i]!;
      out.push({
        metricName: `${name}_bucket`,
        value: acc,
        labels: { ...c.labels, le: i < bounds.length ? String(bounds[i]) : '+Inf' },
      });
    }
    out.push({ metricName: `${name}_sum`, value: c.durationSum, labels: c.labels });
    out.push({ metricName: `${name}_count`, value: c.count, labels: c.labels });
  }
  return out;
}

/** `prometheus@internal`: answers with the exposition `render` produces (local store or the primary's) */
export function prometheusHandler(
  render: () => Promise<{ text: string; contentType: string }>,
): Handler {
  return (ctx) => {
    render().then(
      ({ text, contentType }) => {
        if (ctx.res.destroyed) return;
        ctx.res.writeHead(200, {
          'content-type': contentType,
          'content-length': Buffer.byteLength(text),
        });
        ctx.res.end(ctx.method === 'HEAD' ? undefined : text);
      },
      () => {
        if (ctx.res.destroyed || ctx.res.headersSent) return;
        const body = 'metrics unavailable\n';
        ctx.res.writeHead(503, {
          'content-type': 'text/plain; charset=utf-8',
          'content-length': body.length,
        });
        ctx.res.end(ctx.method === 'HEAD' ? undefined : body);
      },
    );
  };
}
