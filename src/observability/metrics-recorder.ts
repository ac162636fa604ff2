/*
 * RequestMetrics, the recorder in every data-plane process. Its hot path
 * only bumps plain counters in cells cached per (name, code, method,
 * protocol): no prom-client object, no label hashing, no string building per
 * request. takeDelta() hands over what was counted since the last call.
 */
import type { StaticConfig } from '../config/static-types.js';
import type { RequestContext } from '../kernel/context.js';
import type { RoutingTable } from '../table/table.js';
import { fineIndex } from './metrics-histogram.js';
import { StreamRecorder, type StreamRecord } from './metrics-tcp.js';
import { cellKey, splitKey, tlsLabels } from './metrics-labels.js';
import {
  RequestCell,
  TrafficCell,
  type MetricsDelta,
  type RequestCellDelta,
  type TlsCellDelta,
  type TrafficDelta,
} from './metrics-delta.js';

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
  /** TCP connections and UDP sessions; only counted for the Prometheus export */
  private readonly streams: StreamRecorder | undefined;
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
    this.streams = this.exporting ? new StreamRecorder() : undefined;
  }

  /** whether streamOpened/streamClosed count anything (Prometheus export on) */
  get countsStreams(): boolean {
    return this.streams !== undefined;
  }

  /** a TCP connection or UDP session was taken by a router (src/observability/observe-tcp.ts, src/observability/observe-udp.ts) */
  streamOpened(r: StreamRecord): void {
    this.streams?.opened(r);
  }

  /** ... and closed, after `seconds`, for `reason` */
  streamClosed(r: StreamRecord, seconds: number, reason: string): void {
    this.streams?.closed(r, seconds, reason);
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
    const streams = this.streams?.take();
    if (streams !== undefined) delta.streams = streams;
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
