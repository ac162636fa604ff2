/*
 * TCP connections and UDP sessions in the metrics (issue 13 item 8). Traefik
 * exports only open_connections{entrypoint,protocol="TCP"} for TCP, which
 * Portico has too (metrics-exposition.ts); these families go further, per
 * entrypoint, router and service, in Traefik's naming style:
 *
 *   portico_tcp_connections_total{…,reason}      connections closed, by why
 *   portico_tcp_open_connections{…}              connections open now
 *   portico_tcp_bytes_total{…,direction}         upstream: client → server; downstream: back
 *   portico_tcp_connection_duration_seconds{…}   histogram, at close
 *   portico_udp_sessions_total, portico_udp_open_sessions, portico_udp_bytes_total,
 *   portico_udp_datagrams_total, portico_udp_session_duration_seconds: the same for UDP sessions
 *
 * The recording follows the HTTP side (metrics-recorder.ts → metrics.ts):
 * each data-plane process counts into plain cells and hands a delta over
 * once a second; the store adds the deltas of every worker. Bytes of
 * connections still open are handed over with each delta too, so a
 * day-long connection shows its traffic as it flows, not at its close.
 */
import type { FamilyValue } from './metrics-exposition.js';

export type StreamProtocol = 'TCP' | 'UDP';

/**
 * One TCP connection or UDP session, from the router that took it to its close. The relay and
 * the services write serviceAddr, the byte counts and reason (src/tcp/proxy.ts, service.ts,
 * src/udp/service.ts); the recorder and the access log read them.
 */
export interface StreamRecord {
  readonly protocol: StreamProtocol;
  readonly entryPoint: string;
  readonly router: string;
  readonly service: string;
  /** the client's address and port, PROXY protocol applied */
  readonly client: { readonly address: string; readonly port: number };
  /** TLS routers: the SNI name the ClientHello gave, if any */
  readonly sni: string | undefined;
  /** TLS routers: whether Portico terminated TLS or passed it through */
  readonly tlsMode: 'passthrough' | 'terminate' | undefined;
  /** terminated TLS: the version ("1.3") and the cipher suite (IANA name) */
  tlsVersion: string | undefined;
  tlsCipher: string | undefined;
  /** Date.now() at the start, for StartUTC */
  readonly startMs: number;
  /** performance.now() at the start, for the duration */
  readonly startPerf: number;
  /** host:port of the server the connection was relayed to; '' when none was */
  serviceAddr: string;
  /** bytes from the client relayed to the server */
  toServer: number;
  /** bytes from the server relayed to the client */
  toClient: number;
  /** UDP: datagrams each way */
  datagramsToServer: number;
  datagramsToClient: number;
  /** why it closed, set by whoever saw it first (see docs/metrics.md for the values) */
  reason: string | undefined;
  /** what the recorder already handed over (bytes of open connections are flushed each second) */
  reported: {
    toServer: number;
    toClient: number;
    datagramsToServer: number;
    datagramsToClient: number;
  };
}

export function createStreamRecord(
  protocol: StreamProtocol,
  at: {
    entryPoint: string;
    router: string;
    service: string;
    client: { address: string; port: number };
    sni?: string | undefined;
    tlsMode?: 'passthrough' | 'terminate' | undefined;
  },
): StreamRecord {
  return {
    protocol,
    entryPoint: at.entryPoint,
    router: at.router,
    service: at.service,
    client: at.client,
    sni: at.sni,
    tlsMode: at.tlsMode,
    tlsVersion: undefined,
    tlsCipher: undefined,
    startMs: Date.now(),
    startPerf: performance.now(),
    serviceAddr: '',
    toServer: 0,
    toClient: 0,
    datagramsToServer: 0,
    datagramsToClient: 0,
    reason: undefined,
    reported: { toServer: 0, toClient: 0, datagramsToServer: 0, datagramsToClient: 0 },
  };
}

/**
 * Connection durations span milliseconds to days, so the request buckets
 * (`metrics.prometheus.buckets`, 0.1 s to 5 s by default) would put nearly
 * every connection in +Inf: these fixed bounds (seconds) are used instead.
 */
export const STREAM_DURATION_BUCKETS: readonly number[] = [
  0.01, 0.1, 1, 10, 60, 300, 1800, 3600, 86400,
];

export interface StreamCellDelta {
  protocol: StreamProtocol;
  entryPoint: string;
  router: string;
  service: string;
  /** reason → connections closed for it */
  closed: Record<string, number>;
  toServer: number;
  toClient: number;
  datagramsToServer: number;
  datagramsToClient: number;
  /** seconds, of the closed ones */
  durationSum: number;
  /** per STREAM_DURATION_BUCKETS bound, not cumulative, then one for above the last */
  buckets: number[];
}

export interface StreamOpenDelta {
  protocol: StreamProtocol;
  entryPoint: string;
  router: string;
  service: string;
  /** open now in the sending process (an absolute value) */
  count: number;
}

export interface StreamDelta {
  cells: StreamCellDelta[];
  /** present when the process's open connections or sessions changed since the last delta */
  open?: StreamOpenDelta[];
}

function keyOf(r: {
  protocol: string;
  entryPoint: string;
  router: string;
  service: string;
}): string {
  return `${r.protocol}\n${r.entryPoint}\n${r.router}\n${r.service}`;
}

function newCell(r: StreamRecord | StreamCellDelta): StreamCellDelta {
  return {
    protocol: r.protocol,
    entryPoint: r.entryPoint,
    router: r.router,
    service: r.service,
    closed: {},
    toServer: 0,
    toClient: 0,
    datagramsToServer: 0,
    datagramsToClient: 0,
    durationSum: 0,
    buckets: new Array<number>(STREAM_DURATION_BUCKETS.length + 1).fill(0),
  };
}

/** The per-process half: counts connections and sessions, hands a delta over on take(). */
export class StreamRecorder {
  private readonly live = new Set<StreamRecord>();
  private cells = new Map<string, StreamCellDelta>();
  /** key → open now; keys stay at 0 once seen, so the gauge shows 0 rather than vanishing */
  private readonly openCounts = new Map<string, { delta: StreamOpenDelta }>();
  private openChanged = false;

  opened(r: StreamRecord): void {
    this.live.add(r);
    this.bumpOpen(r, 1);
  }

  closed(r: StreamRecord, seconds: number, reason: string): void {
    if (!this.live.delete(r)) return;
    this.bumpOpen(r, -1);
    const c = this.cell(r);
    this.flushBytes(c, r);
    c.closed[reason] = (c.closed[reason] ?? 0) + 1;
    c.durationSum += seconds;
    let i = 0;
    while (i < STREAM_DURATION_BUCKETS.length && seconds > STREAM_DURATION_BUCKETS[i]!) i++;
    c.buckets[i]!++;
  }

  /** what was counted since the last call, bytes of open connections included; undefined: nothing */
  take(): StreamDelta | undefined {
    for (const r of this.live) {
      const moved =
        r.toServer !== r.reported.toServer ||
        r.toClient !== r.reported.toClient ||
        r.datagramsToServer !== r.reported.datagramsToServer ||
        r.datagramsToClient !== r.reported.datagramsToClient;
      if (moved) this.flushBytes(this.cell(r), r);
    }
    const cells = [...this.cells.values()];
    this.cells = new Map();
    let open: StreamOpenDelta[] | undefined;
    if (this.openChanged) {
      open = [...this.openCounts.values()].map((o) => ({ ...o.delta }));
      this.openChanged = false;
    }
    if (cells.length === 0 && open === undefined) return undefined;
    return open === undefined ? { cells } : { cells, open };
  }

  private cell(r: StreamRecord): StreamCellDelta {
    const key = keyOf(r);
    let c = this.cells.get(key);
    if (c === undefined) this.cells.set(key, (c = newCell(r)));
    return c;
  }

  private flushBytes(c: StreamCellDelta, r: StreamRecord): void {
    const p = r.reported;
    c.toServer += r.toServer - p.toServer;
    c.toClient += r.toClient - p.toClient;
    c.datagramsToServer += r.datagramsToServer - p.datagramsToServer;
    c.datagramsToClient += r.datagramsToClient - p.datagramsToClient;
    p.toServer = r.toServer;
    p.toClient = r.toClient;
    p.datagramsToServer = r.datagramsToServer;
    p.datagramsToClient = r.datagramsToClient;
  }

  private bumpOpen(r: StreamRecord, by: number): void {
    const key = keyOf(r);
    let o = this.openCounts.get(key);
    if (o === undefined) {
      o = {
        delta: {
          protocol: r.protocol,
          entryPoint: r.entryPoint,
          router: r.router,
          service: r.service,
          count: 0,
        },
      };
      this.openCounts.set(key, o);
    }
    o.delta.count = Math.max(0, o.delta.count + by);
    this.openChanged = true;
  }
}

/** The store's half: the sum over every process, read by the Prometheus families at scrape time. */
export class StreamTotals {
  private readonly cells = new Map<string, StreamCellDelta>();
  /** source → key → open */
  private readonly open = new Map<string, Map<string, StreamOpenDelta>>();

  apply(d: StreamDelta, source: string): void {
    for (const c of d.cells) {
      if (c.buckets.length !== STREAM_DURATION_BUCKETS.length + 1) continue;
      const key = keyOf(c);
      let t = this.cells.get(key);
      if (t === undefined) this.cells.set(key, (t = newCell(c)));
      for (const [reason, n] of Object.entries(c.closed))
        t.closed[reason] = (t.closed[reason] ?? 0) + n;
      t.toServer += c.toServer;
      t.toClient += c.toClient;
      t.datagramsToServer += c.datagramsToServer;
      t.datagramsToClient += c.datagramsToClient;
      t.durationSum += c.durationSum;
      for (let i = 0; i < t.buckets.length; i++) t.buckets[i]! += c.buckets[i]!;
    }
    if (d.open !== undefined) {
      const m = new Map<string, StreamOpenDelta>();
      for (const o of d.open) m.set(keyOf(o), o);
      this.open.set(source, m);
    }
  }

  dropSource(source: string): void {
    this.open.delete(source);
  }

  /** the families of one protocol, in the order docs/metrics.md lists them */
  families(protocol: StreamProtocol): {
    name: string;
    help: string;
    type: 'counter' | 'gauge' | 'histogram';
    values: () => FamilyValue[];
  }[] {
    const tcp = protocol === 'TCP';
    const unit = tcp ? 'connection' : 'session';
    const cells = (): StreamCellDelta[] =>
      [...this.cells.values()].filter((c) => c.protocol === protocol);
    const labels = (c: StreamOpenDelta | StreamCellDelta): Record<string, string> => ({
      entrypoint: c.entryPoint,
      router: c.router,
      service: c.service,
    });
    const prefix = tcp ? 'portico_tcp' : 'portico_udp';
    const out: ReturnType<StreamTotals['families']> = [
      {
        name: `${prefix}_${unit}s_total`,
        help: `How many ${protocol} ${unit}s were closed, by entrypoint, router, service and close reason`,
        type: 'counter',
        values: () =>
          cells().flatMap((c) =>
            Object.entries(c.closed).map(([reason, value]) => ({
              value,
              labels: { ...labels(c), reason },
            })),
          ),
      },
      {
        name: `${prefix}_open_${unit}s`,
        help: `How many ${protocol} ${unit}s are open now, by entrypoint, router and service`,
        type: 'gauge',
        values: () => {
          const sum = new Map<string, StreamOpenDelta>();
          for (const m of this.open.values()) {
            for (const [key, o] of m) {
              if (o.protocol !== protocol) continue;
              const s = sum.get(key);
              if (s === undefined) sum.set(key, { ...o });
              else s.count += o.count;
            }
          }
          return [...sum.values()].map((o) => ({ value: o.count, labels: labels(o) }));
        },
      },
      {
        name: `${prefix}_bytes_total`,
        help: `Bytes relayed by ${protocol} ${unit}s: upstream (client to server) and downstream (server to client)`,
        type: 'counter',
        values: () =>
          cells().flatMap((c) => [
            { value: c.toServer, labels: { ...labels(c), direction: 'upstream' } },
            { value: c.toClient, labels: { ...labels(c), direction: 'downstream' } },
          ]),
      },
    ];
    if (!tcp)
      out.push({
        name: `${prefix}_datagrams_total`,
        help: 'Datagrams relayed by UDP sessions: upstream (client to server) and downstream (server to client)',
        type: 'counter',
        values: () =>
          cells().flatMap((c) => [
            { value: c.datagramsToServer, labels: { ...labels(c), direction: 'upstream' } },
            { value: c.datagramsToClient, labels: { ...labels(c), direction: 'downstream' } },
          ]),
      });
    const histogram = `${prefix}_${unit}_duration_seconds`;
    out.push({
      name: histogram,
      help: `How long ${protocol} ${unit}s lasted, by entrypoint, router and service`,
      type: 'histogram',
      values: () => {
        const values: FamilyValue[] = [];
        for (const c of cells()) {
          const l = labels(c);
          let acc = 0;
          for (let i = 0; i <= STREAM_DURATION_BUCKETS.length; i++) {
            acc += c.buckets[i]!;
            values.push({
              metricName: `${histogram}_bucket`,
              value: acc,
              labels: {
                ...l,
                le:
                  i < STREAM_DURATION_BUCKETS.length ? String(STREAM_DURATION_BUCKETS[i]) : '+Inf',
              },
            });
          }
          values.push({ metricName: `${histogram}_sum`, value: c.durationSum, labels: l });
          values.push({ metricName: `${histogram}_count`, value: acc, labels: l });
        }
        return values;
      },
    });
    return out;
  }
}
