/*
 * The metrics recorder and store without sockets: what a request leaves in a
 * delta, how deltas from several workers add up in the exposition, and the
 * dashboard's per-second traffic samples and percentiles.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  FINE_BOUNDS_MS,
  FINE_SLOTS,
  fineIndex,
  isEmptyDelta,
  MetricsStore,
  percentileMs,
  RequestMetrics,
  type MetricsDelta,
  type TrafficTick,
} from '../../src/observability/metrics.js';
import { RequestContext } from '../../src/kernel/context.js';
import type { MetricsConfig } from '../../src/config/static-types.js';

const PROMETHEUS: MetricsConfig = {
  addInternals: false,
  prometheus: {
    buckets: [0.1, 0.3, 1.2, 5],
    addEntryPointsLabels: true,
    addRoutersLabels: true,
    addServicesLabels: true,
    entryPoint: 'traefik',
    manualRouting: false,
  },
};

/** a finished request as the entrypoint hands it over: real Node request/response objects */
function finished(opts: {
  method?: string;
  status: number;
  router?: string;
  service?: string;
  headers?: Record<string, string>;
  bytesOut?: number;
}): RequestContext {
  const req = new IncomingMessage(new Socket());
  req.method = opts.method ?? 'GET';
  req.headers = { host: 'a.test', ...opts.headers };
  const res = new ServerResponse(req);
  res.statusCode = opts.status;
  const ctx = new RequestContext(req, res, 'web', 'http', 'a.test', 'a.test', '/', '');
  ctx.routerName = opts.router ?? '';
  ctx.serviceName = opts.service ?? '';
  ctx.bytesOut = opts.bytesOut ?? 0;
  return ctx;
}

function emptyDelta(): MetricsDelta {
  return {
    requests: { entryPoints: [], routers: [], services: [] },
    tls: { entryPoints: [], routers: [], services: [] },
    traffic: { entryPoints: [], routers: [], services: [] },
    retries: [],
  };
}

/** one worker's second: `n` answers with `status` on router r@file / service s@file taking `ms` */
function workerDelta(n: number, status: number, ms: number): MetricsDelta {
  const d = emptyDelta();
  const buckets = [0, 0, 0, 0, 0];
  buckets[[0.1, 0.3, 1.2, 5].findIndex((b) => ms / 1000 <= b)]! += n;
  const cell = {
    code: status,
    method: 'GET',
    protocol: 'http',
    count: n,
    requestBytes: 0,
    responseBytes: 10 * n,
    durationSum: (n * ms) / 1000,
    buckets,
  };
  d.requests.entryPoints.push({ name: 'web', ...cell, buckets: [...buckets] });
  d.requests.services.push({ name: 's@file', ...cell, buckets: [...buckets] });
  const traffic = {
    requests: n,
    errors4xx: status >= 400 && status < 500 ? n : 0,
    errors5xx: status >= 500 ? n : 0,
    latency: [fineIndex(ms), n],
  };
  d.traffic.entryPoints.push({ name: 'web', ...traffic });
  d.traffic.routers.push({ name: 'r@file', ...traffic });
  return d;
}

function line(text: string, name: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(name + ' '));
  return found === undefined ? undefined : Number(found.slice(name.length + 1));
}

describe('fine latency histogram', () => {
  it.each([
    [0, 0],
    [0.5, 0],
    [0.51, 1],
    [1, 2],
    [1.01, 3],
    [1000, 22],
    [32_768, 32],
    [40_000, 33],
  ])('%d ms falls in slot %d', (ms, slot) => {
    expect(fineIndex(ms)).toBe(slot);
    if (slot < FINE_BOUNDS_MS.length) expect(ms).toBeLessThanOrEqual(FINE_BOUNDS_MS[slot]!);
  });

  it('puts every duration at or under its bound and above the previous one', () => {
    for (let ms = 0.01; ms < 40_000; ms *= 1.07) {
      const i = fineIndex(ms);
      if (i < FINE_BOUNDS_MS.length) expect(ms).toBeLessThanOrEqual(FINE_BOUNDS_MS[i]!);
      if (i > 0) expect(ms).toBeGreaterThan(FINE_BOUNDS_MS[i - 1]!);
    }
  });

  it('gives p50 and p99 inside the buckets that hold them', () => {
    const hist = new Uint32Array(FINE_SLOTS);
    hist[fineIndex(1)] = 50; // (0.707, 1] ms
    hist[fineIndex(100)] = 49; // (90.5, 128] ms
    hist[fineIndex(3000)] = 1; // (2896, 4096] ms
    const p50 = percentileMs(hist, 0.5)!;
    expect(p50).toBeGreaterThan(0.707);
    expect(p50).toBeLessThanOrEqual(1);
    const p99 = percentileMs(hist, 0.99)!;
    expect(p99).toBeGreaterThan(90.5);
    expect(p99).toBeLessThanOrEqual(128);
    expect(percentileMs(new Uint32Array(FINE_SLOTS), 0.5)).toBeNull();
  });
});

describe('RequestMetrics', () => {
  it('counts by code, method and protocol, then starts from zero after takeDelta', () => {
    const m = new RequestMetrics({ buckets: [0.1, 0.3, 1.2, 5], routers: true });
    for (let i = 0; i < 3; i++)
      m.onRequestEnd(finished({ status: 200, router: 'r@file', service: 's@file', bytesOut: 5 }));
    m.onRequestEnd(finished({ status: 404, method: 'POST' }));
    m.onRequestEnd(finished({ status: 200, method: 'PURGE', router: 'r@file', service: 's@file' }));
    m.onRequestEnd(
      finished({
        status: 200,
        router: 'r@file',
        service: 's@file',
        headers: { 'content-type': 'application/grpc', 'content-length': '7' },
      }),
    );
    const d = m.takeDelta();
    const ep = d.requests.entryPoints.map((c) => [c.code, c.method, c.protocol, c.count]);
    expect(ep).toEqual(
      expect.arrayContaining([
        [200, 'GET', 'http', 3],
        [404, 'POST', 'http', 1],
        [200, 'EXTENSION_METHOD', 'http', 1],
        [200, 'GET', 'grpc', 1],
      ]),
    );
    expect(ep).toHaveLength(4);
    const get200 = d.requests.services.find((c) => c.method === 'GET' && c.protocol === 'http')!;
    expect(get200).toMatchObject({ name: 's@file', count: 3, responseBytes: 15 });
    // every duration here is far below 100 ms
    expect(get200.buckets).toEqual([3, 0, 0, 0, 0]);
    expect(d.requests.routers.every((c) => c.service === 's@file')).toBe(true);
    expect(d.requests.entryPoints.find((c) => c.protocol === 'grpc')!.requestBytes).toBe(7);
    expect(d.traffic.entryPoints).toEqual([
      expect.objectContaining({ name: 'web', requests: 6, errors4xx: 1, errors5xx: 0 }),
    ]);
    expect(d.traffic.routers[0]).toMatchObject({ name: 'r@file', requests: 5 });
    expect(isEmptyDelta(d)).toBe(false);
    expect(isEmptyDelta(m.takeDelta())).toBe(true);
  });

  it('leaves internal routers out unless addInternals', () => {
    const off = new RequestMetrics({ buckets: [1] });
    off.onRequestEnd(finished({ status: 200, router: 'ping@internal' }));
    expect(isEmptyDelta(off.takeDelta())).toBe(true);
    const on = new RequestMetrics({ buckets: [1], addInternals: true });
    on.onRequestEnd(finished({ status: 200, router: 'ping@internal' }));
    expect(on.takeDelta().traffic.routers).toEqual([
      expect.objectContaining({ name: 'ping@internal', requests: 1 }),
    ]);
  });

  it('keeps only traffic when Prometheus export is off (the dashboard alone)', () => {
    const m = new RequestMetrics();
    m.onRequestEnd(finished({ status: 502, router: 'r@file', service: 's@file' }));
    const d = m.takeDelta();
    expect(d.requests.entryPoints).toEqual([]);
    expect(d.traffic.services).toEqual([
      expect.objectContaining({ name: 's@file', requests: 1, errors5xx: 1 }),
    ]);
  });

  it('reports open connections as an absolute count, only when they changed', () => {
    const m = new RequestMetrics({ buckets: [1] });
    m.connectionOpened('web', 'TCP');
    m.connectionOpened('web', 'TCP');
    m.connectionClosed('web', 'TCP');
    expect(m.takeDelta().openConnections).toEqual([
      { entryPoint: 'web', protocol: 'TCP', count: 1 },
    ]);
    expect(m.takeDelta().openConnections).toBeUndefined();
  });
});

describe('MetricsStore', () => {
  it('adds the deltas of several workers into one exposition', async () => {
    const store = new MetricsStore({ config: PROMETHEUS, nodeMetrics: false, timer: false });
    store.apply(workerDelta(3, 200, 20), '1');
    store.apply(workerDelta(2, 200, 500), '2');
    store.apply(workerDelta(4, 502, 2), '2');
    store.apply({
      ...emptyDelta(),
      openConnections: [{ entryPoint: 'web', protocol: 'TCP', count: 2 }],
    });
    store.apply(
      { ...emptyDelta(), openConnections: [{ entryPoint: 'web', protocol: 'TCP', count: 3 }] },
      '2',
    );
    store.configReloaded(1_700_000_000_000);
    const text = await store.render();
    const ok = 'code="200",method="GET",protocol="http",entrypoint="web"';
    expect(line(text, `portico_entrypoint_requests_total{${ok}}`)).toBe(5);
    expect(
      line(
        text,
        'portico_entrypoint_requests_total{code="502",method="GET",protocol="http",entrypoint="web"}',
      ),
    ).toBe(4);
    expect(line(text, `portico_entrypoint_request_duration_seconds_bucket{${ok},le="0.1"}`)).toBe(
      3,
    );
    expect(line(text, `portico_entrypoint_request_duration_seconds_bucket{${ok},le="0.3"}`)).toBe(
      3,
    );
    expect(line(text, `portico_entrypoint_request_duration_seconds_bucket{${ok},le="1.2"}`)).toBe(
      5,
    );
    expect(line(text, `portico_entrypoint_request_duration_seconds_bucket{${ok},le="+Inf"}`)).toBe(
      5,
    );
    expect(line(text, `portico_entrypoint_request_duration_seconds_count{${ok}}`)).toBe(5);
    expect(line(text, `portico_entrypoint_request_duration_seconds_sum{${ok}}`)).toBeCloseTo(1.06);
    expect(line(text, `portico_entrypoint_responses_bytes_total{${ok}}`)).toBe(50);
    expect(
      line(
        text,
        'portico_service_requests_total{code="200",method="GET",protocol="http",service="s@file"}',
      ),
    ).toBe(5);
    expect(line(text, 'portico_open_connections{entrypoint="web",protocol="TCP"}')).toBe(5);
    expect(line(text, 'portico_config_reloads_total')).toBe(1);
    expect(line(text, 'portico_config_last_reload_success')).toBe(1_700_000_000);
    expect(text).toMatch(/# TYPE portico_entrypoint_request_duration_seconds histogram/);

    // a worker that exits takes its connections with it; its counts stay
    store.dropSource('2');
    const after = await store.render();
    expect(line(after, 'portico_open_connections{entrypoint="web",protocol="TCP"}')).toBe(2);
    expect(line(after, `portico_entrypoint_requests_total{${ok}}`)).toBe(5);
    store.close();
  });

  it('reads the local recorder before rendering, so a scrape is never behind', async () => {
    const store = new MetricsStore({ config: PROMETHEUS, nodeMetrics: false, timer: false });
    const m = new RequestMetrics({ buckets: [0.1, 0.3, 1.2, 5] });
    store.pull(() => m.takeDelta());
    m.onRequestEnd(finished({ status: 200, router: 'r@file', service: 's@file' }));
    const text = await store.render();
    expect(
      line(
        text,
        'portico_entrypoint_requests_total{code="200",method="GET",protocol="http",entrypoint="web"}',
      ),
    ).toBe(1);
  });

  it('escapes label values', async () => {
    const store = new MetricsStore({ config: PROMETHEUS, nodeMetrics: false, timer: false });
    const d = workerDelta(1, 200, 1);
    d.requests.services[0]!.name = 'we"ird\\name';
    store.apply(d);
    expect(await store.render()).toContain('service="we\\"ird\\\\name"');
  });

  it('keeps one sample per second with counts and percentiles, oldest first', () => {
    const store = new MetricsStore({ config: PROMETHEUS, nodeMetrics: false, timer: false });
    const ticks: TrafficTick[] = [];
    const off = store.onSample((t) => ticks.push(t));
    store.apply(workerDelta(90, 200, 3), '1');
    store.apply(workerDelta(10, 503, 300), '2');
    store.tick(1_000_000);
    store.tick(1_001_000);
    store.apply(workerDelta(5, 404, 1), '1');
    store.tick(1_002_000);
    const snap = store.traffic();
    const router = snap.routers.find((s) => s.name === 'r@file')!;
    expect(router.samples.map((s) => [s.t, s.requests, s.errors4xx, s.errors5xx])).toEqual([
      [1000, 100, 0, 10],
      [1001, 0, 0, 0],
      [1002, 5, 5, 0],
    ]);
    const first = router.samples[0]!;
    // 90 answers in (2.83, 4] ms, 10 in (256, 362] ms
    expect(first.p50Ms).toBeGreaterThan(2.83);
    expect(first.p50Ms).toBeLessThanOrEqual(4);
    expect(first.p99Ms).toBeGreaterThan(256);
    expect(first.p99Ms).toBeLessThanOrEqual(362.1);
    expect(router.samples[1]!.p50Ms).toBeNull();
    expect(router.totals).toEqual({ requests: 105, errors4xx: 5, errors5xx: 10 });
    expect(store.traffic(2).routers[0]!.samples.map((s) => s.t)).toEqual([1001, 1002]);
    expect(ticks.map((t) => t.routers['r@file']?.requests)).toEqual([100, 0, 5]);
    off();
    store.tick(1_003_000);
    expect(ticks).toHaveLength(3);
  });

  it('keeps at most 300 samples and forgets a series idle for the whole window', () => {
    const store = new MetricsStore({ config: undefined, nodeMetrics: false, timer: false });
    store.apply(workerDelta(1, 200, 1));
    for (let i = 0; i < 299; i++) store.tick(i * 1000);
    expect(store.traffic().routers[0]!.samples).toHaveLength(299);
    store.tick(299_000);
    store.tick(300_000);
    const series = store.traffic().routers[0]!;
    // the totals remain; the all-idle series is gone
    expect(series.totals.requests).toBe(1);
    expect(series.samples).toEqual([]);
  });
});
