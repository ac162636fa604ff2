/*
 * The dashboard's traffic history: per entrypoint, router and service, one
 * sample a second (requests, 4xx, 5xx, p50 and p99 from the fine histogram)
 * in a ring of TRAFFIC_WINDOW seconds, totals since start, and a live tick
 * for subscribers. Fed with the deltas' traffic part; knows nothing of
 * Prometheus.
 */
import { percentileMs, FINE_SLOTS } from './metrics-histogram.js';
import { KINDS, TrafficCell, type Kind, type TrafficDelta } from './metrics-delta.js';

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

export class TrafficHistory {
  private readonly totals: Record<Kind, Map<string, TrafficTotals>> = {
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
  private readonly listeners = new Set<(tick: TrafficTick) => void>();

  /** counts a delta's traffic into the current second and the totals */
  add(kind: Kind, t: TrafficDelta): void {
    let cur = this.current[kind].get(t.name);
    if (cur === undefined) this.current[kind].set(t.name, (cur = new TrafficCell()));
    cur.requests += t.requests;
    cur.errors4xx += t.errors4xx;
    cur.errors5xx += t.errors5xx;
    for (let i = 0; i + 1 < t.latency.length; i += 2) {
      const slot = t.latency[i]!;
      if (slot >= 0 && slot < FINE_SLOTS) cur.latency[slot]! += t.latency[i + 1]!;
    }
    let tot = this.totals[kind].get(t.name);
    if (tot === undefined)
      this.totals[kind].set(t.name, (tot = { requests: 0, errors4xx: 0, errors5xx: 0 }));
    tot.requests += t.requests;
    tot.errors4xx += t.errors4xx;
    tot.errors5xx += t.errors5xx;
  }

  /** per entrypoint, router and service: the last `windowSeconds` samples (at most 300) and totals */
  snapshot(windowSeconds = TRAFFIC_WINDOW): TrafficSnapshot {
    const n = Math.max(0, Math.min(Math.floor(windowSeconds), this.filled, TRAFFIC_WINDOW));
    const out: TrafficSnapshot = {
      interval: 1,
      now: Math.floor(Date.now() / 1000),
      entryPoints: [],
      routers: [],
      services: [],
    };
    for (const kind of KINDS) {
      const names = new Set([...this.totals[kind].keys(), ...this.series[kind].keys()]);
      for (const name of [...names].sort()) {
        const s = this.series[kind].get(name);
        const samples: TrafficSample[] = [];
        if (s !== undefined) {
          for (let k = n - 1; k >= 0; k--) samples.push(this.sampleAt(s, this.slotBack(k)));
        }
        const totals = this.totals[kind].get(name) ?? {
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

  /** closes the current second: one sample per live series */
  tick(now: number): void {
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
    this.listeners.clear();
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
}
