/*
 * The Prometheus exposition of the store's totals: one prom-client collector
 * per family (Traefik's names under `portico_`), reading the totals at scrape
 * time through an ExpositionSource, and the `prometheus@internal` handler.
 * Families are registered in the order Traefik lists them; the text follows
 * that order.
 */
import type { Metric, Registry } from 'prom-client';
import type { MetricsConfig } from '../config/static-types.js';
import type { Handler } from '../kernel/context.js';
import { RequestCell, type Kind } from './metrics-delta.js';
import type { TableGauges } from './metrics-gauges.js';
import type { StreamTotals } from './metrics-tcp.js';

/** A RequestCell summed over the workers, with the labels it is exported under. */
export class TotalCell extends RequestCell {
  constructor(
    readonly labels: Record<string, string>,
    slots: number,
  ) {
    super(slots);
  }
}

type FamilyType = 'counter' | 'gauge' | 'histogram';
export interface FamilyValue {
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

/** What the families read at scrape time (the store's totals). */
export interface ExpositionSource {
  reloads(): number;
  /** unix seconds */
  lastReload(): number;
  openConnections(): FamilyValue[];
  /** server health and certificates for this scrape */
  gauges(): TableGauges | undefined;
  retries(): ReadonlyMap<string, number>;
  requestCells(kind: Kind): Iterable<TotalCell>;
  tlsCells(kind: Kind): Iterable<{ labels: Record<string, string>; count: number }>;
}

export function registerFamilies(
  registry: Registry,
  p: NonNullable<MetricsConfig['prometheus']>,
  src: ExpositionSource,
): void {
  const add = (f: Family): void => registry.registerMetric(f as unknown as Metric);
  add(
    new Family('portico_config_reloads_total', 'Config reloads', 'counter', () => [
      { value: src.reloads(), labels: {} },
    ]),
  );
  add(
    new Family(
      'portico_config_last_reload_success',
      'Last config reload success (unix seconds)',
      'gauge',
      () => [{ value: src.lastReload(), labels: {} }],
    ),
  );
  add(
    new Family(
      'portico_open_connections',
      'How many open connections exist, by entryPoint and protocol',
      'gauge',
      () => src.openConnections(),
    ),
  );
  add(
    new Family(
      'portico_tls_certs_not_after',
      'Certificate expiration timestamp (unix seconds)',
      'gauge',
      () =>
        (src.gauges()?.certificates ?? []).map((c) => ({
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
    if (on) registerRequestFamilies(add, src, kind, `portico_${prefix}`, p.buckets);
  if (p.addServicesLabels) {
    add(
      new Family(
        'portico_service_retries_total',
        'How many request retries happened on a service',
        'counter',
        () => [...src.retries()].map(([service, value]) => ({ value, labels: { service } })),
      ),
    );
    add(
      new Family(
        'portico_service_server_up',
        'service server is up, described by gauge value of 0 or 1',
        'gauge',
        () =>
          (src.gauges()?.servers ?? []).map((s) => ({
            value: s.up ? 1 : 0,
            labels: { service: s.service, url: s.url },
          })),
      ),
    );
  }
}

/** TCP connections and UDP sessions per entrypoint, router and service (metrics-tcp.ts), after Traefik's families */
export function registerStreamFamilies(registry: Registry, totals: StreamTotals): void {
  for (const protocol of ['TCP', 'UDP'] as const)
    for (const f of totals.families(protocol))
      registry.registerMetric(new Family(f.name, f.help, f.type, f.values) as unknown as Metric);
}

function registerRequestFamilies(
  add: (f: Family) => void,
  src: ExpositionSource,
  kind: Kind,
  prefix: string,
  buckets: readonly number[],
): void {
  const cells = (): TotalCell[] => [...src.requestCells(kind)];
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
      () => [...src.tlsCells(kind)].map((c) => ({ value: c.count, labels: c.labels })),
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
