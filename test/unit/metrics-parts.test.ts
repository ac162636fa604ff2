/*
 * The metrics pieces on their own: label packing (metrics-labels.ts), the
 * dashboard's traffic history (metrics-traffic.ts), the Prometheus families
 * over a plain source (metrics-exposition.ts, a real prom-client registry),
 * and the gauges a routing table gives (metrics-gauges.ts).
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RequestContext } from '../../src/kernel/context.js';
import { registerFamilies, TotalCell } from '../../src/observability/metrics-exposition.js';
import { tableGauges } from '../../src/observability/metrics-gauges.js';
import { fineIndex } from '../../src/observability/metrics-histogram.js';
import { cellKey, splitKey } from '../../src/observability/metrics-labels.js';
import {
  TRAFFIC_WINDOW,
  TrafficHistory,
  type TrafficTick,
} from '../../src/observability/metrics-traffic.js';
import type { RoutingTable } from '../../src/table/table.js';

function ctx(method: string, headers: Record<string, string> = {}, upgrade = false) {
  const req = new IncomingMessage(new Socket());
  req.method = method;
  req.headers = { host: 'a.test', ...headers };
  const res = new ServerResponse(req);
  const c = new RequestContext(
    req,
    res,
    'web',
    'http',
    'a.test',
    'a.test',
    '/',
    '',
    upgrade ? { socket: new Socket(), head: Buffer.alloc(0) } : undefined,
  );
  return c;
}

describe('label packing', () => {
  it.each([
    ['GET', {}, false, 200, { code: 200, method: 'GET', protocol: 'http' }],
    ['PATCH', {}, false, 404, { code: 404, method: 'PATCH', protocol: 'http' }],
    ['PURGE', {}, false, 200, { code: 200, method: 'EXTENSION_METHOD', protocol: 'http' }],
    ['GET', {}, true, 101, { code: 101, method: 'GET', protocol: 'websocket' }],
    [
      'POST',
      { 'content-type': 'application/grpc' },
      false,
      200,
      { code: 200, method: 'POST', protocol: 'grpc' },
    ],
    [
      'POST',
      { 'content-type': 'application/grpc-web+proto' },
      false,
      200,
      { code: 200, method: 'POST', protocol: 'grpc-web' },
    ],
    [
      'GET',
      { accept: 'text/event-stream' },
      false,
      200,
      { code: 200, method: 'GET', protocol: 'sse' },
    ],
    ['GET', {}, false, 1234, { code: 999, method: 'GET', protocol: 'http' }],
  ])('%s %j upgrade=%s %i → %j', (method, headers, upgrade, code, labels) => {
    expect(splitKey(cellKey(code, ctx(method, headers, upgrade)))).toEqual(labels);
  });
});

describe('TrafficHistory', () => {
  const delta = (name: string, requests: number, errors5xx: number, ms: number) => ({
    name,
    requests,
    errors4xx: 0,
    errors5xx,
    latency: [fineIndex(ms), requests],
  });

  it('one sample per second with percentiles, totals since start', () => {
    const h = new TrafficHistory();
    h.add('routers', delta('r@file', 10, 1, 20));
    h.tick(Date.UTC(2030, 0, 1, 0, 0, 1));
    h.add('routers', delta('r@file', 5, 0, 20));
    h.tick(Date.UTC(2030, 0, 1, 0, 0, 2));
    const snap = h.snapshot(60);
    expect(snap.routers).toHaveLength(1);
    const r = snap.routers[0]!;
    expect(r.totals).toEqual({ requests: 15, errors4xx: 0, errors5xx: 1 });
    expect(r.samples.map((s) => [s.t % 60, s.requests, s.errors5xx])).toEqual([
      [1, 10, 1],
      [2, 5, 0],
    ]);
    expect(r.samples[0]!.p50Ms).toBeGreaterThan(16);
    expect(r.samples[0]!.p50Ms).toBeLessThanOrEqual(22.7);
    expect(h.snapshot(1).routers[0]!.samples).toHaveLength(1);
  });

  it('a series idle for a whole window is dropped, its totals stay', () => {
    const h = new TrafficHistory();
    h.add('services', delta('s@file', 1, 0, 1));
    for (let i = 0; i <= TRAFFIC_WINDOW; i++) h.tick(1_000_000 + i * 1000);
    const s = h.snapshot().services[0]!;
    expect(s.samples).toEqual([]);
    expect(s.totals.requests).toBe(1);
  });

  it("a failing listener does not stop the others' ticks", () => {
    const h = new TrafficHistory();
    const got: TrafficTick[] = [];
    h.onSample(() => {
      throw new Error('subscriber bug');
    });
    const off = h.onSample((t) => got.push(t));
    h.add('entryPoints', delta('web', 3, 0, 5));
    h.tick(5000);
    expect(got[0]!.entryPoints.web!.requests).toBe(3);
    off();
    h.tick(6000);
    expect(got).toHaveLength(1);
  });
});

describe('Prometheus families', () => {
  const cell = (labels: Record<string, string>, buckets: number[], count: number) => {
    const c = new TotalCell(labels, buckets.length);
    buckets.forEach((b, i) => (c.buckets[i] = b));
    c.count = count;
    c.durationSum = 0.5;
    c.responseBytes = 42;
    return c;
  };

  async function render(services: boolean): Promise<string> {
    const registry = new Registry();
    registerFamilies(
      registry,
      {
        buckets: [0.1, 1],
        addEntryPointsLabels: true,
        addRoutersLabels: false,
        addServicesLabels: services,
        entryPoint: 'traefik',
        manualRouting: false,
      },
      {
        reloads: () => 2,
        lastReload: () => 1700000000,
        openConnections: () => [{ value: 3, labels: { entrypoint: 'web', protocol: 'TCP' } }],
        gauges: () => ({
          servers: [{ service: 's@file', url: 'http://10.0.0.1', up: true }],
          certificates: [],
        }),
        retries: () => new Map([['s@file', 4]]),
        requestCells: (kind) =>
          kind === 'entryPoints'
            ? [
                cell(
                  { code: '200', method: 'GET', protocol: 'http', entrypoint: 'web' },
                  [1, 2, 3],
                  6,
                ),
              ]
            : [],
        tlsCells: () => [],
      },
    );
    return registry.metrics();
  }

  it('renders the totals with cumulative buckets, le last, then sum and count', async () => {
    const text = await render(false);
    expect(text).toContain('portico_config_reloads_total 2');
    expect(text).toContain('portico_open_connections{entrypoint="web",protocol="TCP"} 3');
    const lines = text
      .split('\n')
      .filter((l) => l.startsWith('portico_entrypoint_request_duration'));
    expect(lines).toEqual([
      'portico_entrypoint_request_duration_seconds_bucket{code="200",method="GET",protocol="http",entrypoint="web",le="0.1"} 1',
      'portico_entrypoint_request_duration_seconds_bucket{code="200",method="GET",protocol="http",entrypoint="web",le="1"} 3',
      'portico_entrypoint_request_duration_seconds_bucket{code="200",method="GET",protocol="http",entrypoint="web",le="+Inf"} 6',
      'portico_entrypoint_request_duration_seconds_sum{code="200",method="GET",protocol="http",entrypoint="web"} 0.5',
      'portico_entrypoint_request_duration_seconds_count{code="200",method="GET",protocol="http",entrypoint="web"} 6',
    ]);
    expect(text).not.toContain('portico_service_retries_total');
    expect(text).not.toContain('portico_router_requests_total');
  });

  it('service families come with addServicesLabels, retries and server health included', async () => {
    const text = await render(true);
    expect(text).toContain('portico_service_retries_total{service="s@file"} 4');
    expect(text).toContain('portico_service_server_up{service="s@file",url="http://10.0.0.1"} 1');
    // the order Traefik lists them in
    expect(text.indexOf('portico_config_reloads_total')).toBeLessThan(
      text.indexOf('portico_entrypoint_requests_total'),
    );
    expect(text.indexOf('portico_entrypoint_requests_total')).toBeLessThan(
      text.indexOf('portico_service_retries_total'),
    );
  });
});

describe('tableGauges', () => {
  const runtime = (type: string, status: Record<string, 'UP' | 'DOWN'>) => ({
    type,
    serverStatus: () => status,
  });
  const table = {
    serviceRuntimes: new Map<string, unknown>([
      ['lb@file', runtime('loadBalancer', { 'http://a': 'UP', 'http://b': 'DOWN' })],
      ['w@file', runtime('weighted', { 'http://a': 'UP' })],
      ['api@internal', runtime('loadBalancer', { 'http://x': 'UP' })],
    ]),
    certificates: {
      list: () => [
        {
          domains: ['a.test', 'b.test'],
          subject: 'CN=a.test',
          serialNumber: '0f',
          notAfter: new Date(Date.UTC(2030, 0, 1)),
        },
      ],
    },
  } as unknown as RoutingTable;

  it('servers of load balancers, internals left out unless asked, certificates by CN', () => {
    expect(tableGauges(table)).toEqual({
      servers: [
        { service: 'lb@file', url: 'http://a', up: true },
        { service: 'lb@file', url: 'http://b', up: false },
      ],
      certificates: [
        {
          cn: 'a.test',
          sans: 'a.test,b.test',
          serial: '0f',
          notAfter: Date.UTC(2030, 0, 1) / 1000,
        },
      ],
    });
    expect(tableGauges(table, true).servers).toHaveLength(3);
    expect(tableGauges(undefined)).toEqual({ servers: [], certificates: [] });
  });
});
