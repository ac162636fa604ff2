/*
 * What a data-plane process hands over each second (takeDelta) and the
 * primary adds up (MetricsStore.apply): plain data, so it crosses the
 * cluster IPC channel as is. The two cells count one label set's requests on
 * either side.
 */
import { FINE_SLOTS } from './metrics-histogram.js';
import type { StreamDelta } from './metrics-tcp.js';

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

export interface ByKind<T> {
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
  /** TCP connections and UDP sessions (metrics-tcp.ts), when something was counted */
  streams?: StreamDelta;
}

export function isEmptyDelta(d: MetricsDelta): boolean {
  return (
    d.openConnections === undefined &&
    d.streams === undefined &&
    d.retries.length === 0 &&
    d.traffic.entryPoints.length === 0 &&
    d.traffic.routers.length === 0 &&
    d.traffic.services.length === 0 &&
    d.requests.entryPoints.length === 0 &&
    d.requests.routers.length === 0 &&
    d.requests.services.length === 0
  );
}

/** The three label families: per entrypoint, router and service. */
export type Kind = keyof ByKind<unknown>;
export const KINDS: readonly Kind[] = ['entryPoints', 'routers', 'services'];

export class RequestCell {
  count = 0;
  requestBytes = 0;
  responseBytes = 0;
  durationSum = 0;
  readonly buckets: number[];
  constructor(slots: number) {
    this.buckets = new Array<number>(slots).fill(0);
  }
}

export class TrafficCell {
  requests = 0;
  errors4xx = 0;
  errors5xx = 0;
  readonly latency = new Uint32Array(FINE_SLOTS);
}
