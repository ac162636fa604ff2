import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it, expect } from 'vitest';
import type { HealthCheckConfig } from '../../src/config/dynamic.js';
import { parseGoDuration } from '../../src/kernel/duration.js';
import {
  createHealthChecker,
  healthCheckTimings,
  isHealthyStatus,
  resolveProbeTarget,
  type HealthChecker,
  type HealthCheckerOptions,
} from '../../src/services/health-check.js';
import { eventually } from '../helpers/eventually.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function upstream(...args: Parameters<typeof startUpstream>): Promise<Upstream> {
  const u = await startUpstream(...args);
  cleanups.push(() => u.close());
  return u;
}

interface Harness {
  checker: HealthChecker;
  changes: [string, boolean][];
  logs: { level: 'warn' | 'info'; o: object; msg: string }[];
}

function checker(
  servers: string[],
  config: HealthCheckConfig,
  extra: Partial<HealthCheckerOptions> = {},
): Harness {
  const changes: [string, boolean][] = [];
  const logs: Harness['logs'] = [];
  const c = createHealthChecker({
    service: 'svc@file',
    servers,
    config,
    onChange: (url, up) => changes.push([url, up]),
    logger: {
      warn: (o, msg) => logs.push({ level: 'warn', o, msg }),
      info: (o, msg) => logs.push({ level: 'info', o, msg }),
    },
    ...extra,
  });
  cleanups.push(() => c.close());
  c.start();
  return { checker: c, changes, logs };
}

/** Status code the toggleable upstream answers with; tests flip it to simulate outages. */
function toggleable(): { handler: Parameters<typeof startUpstream>[0]; set(code: number): void } {
  let code = 200;
  return {
    handler: (_req, res) => {
      res.writeHead(code);
      res.end();
    },
    set: (c) => {
      code = c;
    },
  };
}

// Proving that something does NOT happen needs time to pass; only used for such assertions.
const quietPeriod = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('parseGoDuration', () => {
  it.each([
    ['100ms', 100],
    ['10s', 10_000],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['2h45m', 9_900_000],
    ['500us', 0.5],
    ['1500ns', 0.0015],
    ['-2s', -2000],
    ['0', 0],
    ['10', 10_000],
    [' 5s ', 5000],
    [3, 3000],
    [0.25, 250],
  ] as const)('%s -> %s ms', (input, expected) => {
    expect(parseGoDuration(input, -1)).toBeCloseTo(expected, 9);
  });

  it.each([undefined, '', 'abc', '10x', 's', '1s2', '-', '1 s', Number.NaN])(
    '%s -> fallback',
    (input) => {
      expect(parseGoDuration(input as string | number | undefined, 42)).toBe(42);
    },
  );
});

describe('health check settings', () => {
  it.each([
    { config: {}, expected: { intervalMs: 30_000, unhealthyIntervalMs: 30_000, timeoutMs: 5000 } },
    {
      config: { interval: '10s' },
      expected: { intervalMs: 10_000, unhealthyIntervalMs: 10_000, timeoutMs: 5000 },
    },
    {
      config: { interval: '10s', unhealthyInterval: '1s', timeout: '2s' },
      expected: { intervalMs: 10_000, unhealthyIntervalMs: 1000, timeoutMs: 2000 },
    },
    {
      config: { interval: '-1s', unhealthyInterval: '0s', timeout: 'bad' },
      expected: { intervalMs: 30_000, unhealthyIntervalMs: 30_000, timeoutMs: 5000 },
    },
    {
      config: { interval: 5 },
      expected: { intervalMs: 5000, unhealthyIntervalMs: 5000, timeoutMs: 5000 },
    },
  ])('$config', ({ config, expected }) => {
    expect(healthCheckTimings(config as HealthCheckConfig)).toEqual(expected);
  });

  it.each([
    { status: 200, expected: undefined, healthy: true },
    { status: 204, expected: undefined, healthy: true },
    { status: 302, expected: undefined, healthy: true },
    { status: 399, expected: undefined, healthy: true },
    { status: 199, expected: undefined, healthy: false },
    { status: 400, expected: undefined, healthy: false },
    { status: 404, expected: undefined, healthy: false },
    { status: 503, expected: undefined, healthy: false },
    { status: 418, expected: 418, healthy: true },
    { status: 200, expected: 204, healthy: false },
    { status: 204, expected: 204, healthy: true },
  ])(
    'status $status with expected $expected is healthy=$healthy',
    ({ status, expected, healthy }) => {
      expect(isHealthyStatus(status, expected)).toBe(healthy);
    },
  );

  it.each([
    {
      server: 'http://10.0.0.1:81',
      config: { path: '/health' },
      url: 'http://10.0.0.1:81/health',
      secure: false,
    },
    {
      server: 'http://10.0.0.1:81/app?x=1',
      config: { path: '/health' },
      url: 'http://10.0.0.1:81/health',
      secure: false,
    },
    {
      server: 'http://h:81',
      config: { path: '/health?full=1' },
      url: 'http://h:81/health?full=1',
      secure: false,
    },
    {
      server: 'http://h:81/base/',
      config: { path: 'ping' },
      url: 'http://h:81/base/ping',
      secure: false,
    },
    {
      server: 'http://h:81',
      config: { path: '/p', scheme: 'https' },
      url: 'https://h:81/p',
      secure: true,
    },
    {
      server: 'https://h',
      config: { path: '/p', scheme: 'http' },
      url: 'http://h/p',
      secure: false,
    },
    {
      server: 'http://h',
      config: { path: '/p', scheme: 'https' },
      url: 'https://h/p',
      secure: true,
    },
    {
      server: 'http://h:81',
      config: { path: '/p', port: 9000 },
      url: 'http://h:9000/p',
      secure: false,
    },
    {
      server: 'http://[::1]:81',
      config: { path: '/p', port: 82 },
      url: 'http://[::1]:82/p',
      secure: false,
    },
    {
      server: 'http://h:81',
      config: { path: '/p', scheme: 'h2c' },
      url: 'http://h:81/p',
      secure: false,
    },
  ])('probes $server with $config at $url', ({ server, config, url, secure }) => {
    const t = resolveProbeTarget(server, config);
    expect(t.url.href).toBe(url);
    expect(t.secure).toBe(secure);
  });

  it('rejects unknown schemes', () => {
    expect(() => resolveProbeTarget('http://h', { path: '/', scheme: 'ftp' })).toThrow(
      /unsupported/,
    );
  });
});

describe('active health checks', () => {
  it('probes right away, sends path, method, hostname and headers as configured', async () => {
    const up = await upstream('a');
    const { checker: c, changes } = checker([up.url], {
      path: '/health?deep=1',
      method: 'head',
      hostname: 'health.example.com',
      headers: { 'X-Probe': 'yes', Host: 'ignored.example.com' },
      interval: '1h',
    });
    const seen = await eventually(() => {
      expect(up.seen.length).toBe(1);
      return up.seen[0]!;
    });
    expect(seen.method).toBe('HEAD');
    expect(seen.url).toBe('/health?deep=1');
    expect(seen.headers.host).toBe('health.example.com');
    expect(seen.headers['x-probe']).toBe('yes');
    expect(c.status()).toEqual({ [up.url]: 'UP' });
    expect(changes).toEqual([]);
  });

  it('defaults to GET, the server URL path replaced, and the server host', async () => {
    const up = await upstream('a');
    checker([`${up.url}/app?x=1`], { path: '/healthz', interval: '1h' });
    const seen = await eventually(() => {
      expect(up.seen).toHaveLength(1);
      return up.seen[0]!;
    });
    expect(seen.method).toBe('GET');
    expect(seen.url).toBe('/healthz');
    expect(seen.headers.host).toBe(`127.0.0.1:${up.port}`);
  });

  it('marks a failing server DOWN once, then UP once when it recovers, logging each transition', async () => {
    const t = toggleable();
    const a = await upstream(t.handler);
    const b = await upstream('b');
    const { checker: c, changes, logs } = checker([a.url, b.url], { path: '/h', interval: '50ms' });
    await eventually(() => expect(a.seen.length).toBeGreaterThanOrEqual(2));
    expect(c.isUp(a.url)).toBe(true);

    t.set(500);
    await eventually(() => expect(c.isUp(a.url)).toBe(false));
    const downAt = a.seen.length;
    // Several more failing probes must not repeat the notification or the log line.
    await eventually(() => expect(a.seen.length).toBeGreaterThanOrEqual(downAt + 3));
    expect(changes).toEqual([[a.url, false]]);
    expect(c.status()).toEqual({ [a.url]: 'DOWN', [b.url]: 'UP' });
    expect(logs.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(logs[0]!.o).toMatchObject({
      service: 'svc@file',
      url: a.url,
      reason: 'received status 500',
    });

    t.set(200);
    await eventually(() => expect(c.isUp(a.url)).toBe(true));
    const upAt = a.seen.length;
    await eventually(() => expect(a.seen.length).toBeGreaterThanOrEqual(upAt + 3));
    expect(changes).toEqual([
      [a.url, false],
      [a.url, true],
    ]);
    expect(logs.map((l) => l.level)).toEqual(['warn', 'info']);
    expect(c.isUp(b.url)).toBe(true);
  });

  it('marks a server whose listener is gone DOWN', async () => {
    const up = await upstream('gone');
    const { checker: c, changes, logs } = checker([up.url], { path: '/', interval: '50ms' });
    await eventually(() => expect(up.seen.length).toBeGreaterThanOrEqual(1));
    await up.close();
    await eventually(() => expect(changes).toEqual([[up.url, false]]));
    expect(c.isUp(up.url)).toBe(false);
    expect((logs[0]!.o as { reason: string }).reason).toMatch(/request failed/);
  });

  it('uses the port override instead of the server port', async () => {
    const dead = await upstream('dead');
    const deadUrl = dead.url;
    await dead.close();
    const live = await upstream('live');
    const { checker: c } = checker([deadUrl], { path: '/p', port: live.port, interval: '50ms' });
    await eventually(() => expect(live.seen.length).toBeGreaterThanOrEqual(3));
    expect(c.isUp(deadUrl)).toBe(true);
  });

  it('honours the timeout for an upstream that never answers', async () => {
    const hung = await upstream(() => {
      /* never responds */
    });
    const started = Date.now();
    const { checker: c, logs } = checker([hung.url], {
      path: '/',
      timeout: '100ms',
      interval: '1h',
    });
    await eventually(() => expect(c.isUp(hung.url)).toBe(false));
    expect(Date.now() - started).toBeLessThan(3000);
    expect((logs[0]!.o as { reason: string }).reason).toBe('timeout after 100ms');
  });

  it.each([
    { desc: 'expected status matches', respond: 204, status: 204, up: true },
    { desc: 'expected status differs', respond: 200, status: 204, up: false },
    { desc: 'expected non-2xx status matches', respond: 503, status: 503, up: true },
    { desc: '3xx is healthy without expectation', respond: 304, status: undefined, up: true },
    { desc: '404 is unhealthy without expectation', respond: 404, status: undefined, up: false },
  ])('$desc', async ({ respond, status, up }) => {
    const t = toggleable();
    t.set(respond);
    const srv = await upstream(t.handler);
    const { checker: c } = checker([srv.url], { path: '/', status, interval: '50ms' });
    await eventually(() => expect(srv.seen.length).toBeGreaterThanOrEqual(2));
    expect(c.isUp(srv.url)).toBe(up);
  });

  it.each([
    { followRedirects: undefined, target: 500, up: false, reached: true },
    { followRedirects: true, target: 200, up: true, reached: true },
    { followRedirects: false, target: 500, up: true, reached: false },
  ])(
    'followRedirects=$followRedirects with target $target -> up=$up',
    async ({ followRedirects, target, up, reached }) => {
      const srv = await upstream((req, res) => {
        if (req.url === '/health') {
          res.writeHead(302, { location: '/final' });
          res.end();
        } else {
          res.writeHead(target);
          res.end();
        }
      });
      const { checker: c } = checker([srv.url], {
        path: '/health',
        followRedirects,
        interval: '50ms',
      });
      await eventually(() =>
        expect(srv.seen.filter((s) => s.url === '/health').length).toBeGreaterThanOrEqual(2),
      );
      expect(c.isUp(srv.url)).toBe(up);
      expect(srv.seen.some((s) => s.url === '/final')).toBe(reached);
    },
  );

  it('gives up on redirect loops', async () => {
    const srv = await upstream((_req, res) => {
      res.writeHead(302, { location: '/again' });
      res.end();
    });
    const { checker: c, logs } = checker([srv.url], { path: '/', interval: '1h' });
    await eventually(() => expect(c.isUp(srv.url)).toBe(false));
    expect((logs[0]!.o as { reason: string }).reason).toBe('stopped after 10 redirects');
    expect(srv.seen).toHaveLength(10);
  });

  it('probes a DOWN server every unhealthyInterval and an UP one every interval', async () => {
    const t = toggleable();
    t.set(500);
    const srv = await upstream(t.handler);
    const { checker: c } = checker([srv.url], {
      path: '/',
      interval: '1h',
      unhealthyInterval: '50ms',
    });
    // With a 1h interval, repeated probes can only come from the unhealthy interval.
    await eventually(() => expect(srv.seen.length).toBeGreaterThanOrEqual(4));
    expect(c.isUp(srv.url)).toBe(false);
    t.set(200);
    await eventually(() => expect(c.isUp(srv.url)).toBe(true));
    const count = srv.seen.length;
    await quietPeriod(300);
    expect(srv.seen.length).toBe(count);
  });

  it('never overlaps probes of one server', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const srv = await upstream((_req, res) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => {
        inFlight--;
        res.end();
      }, 80);
    });
    checker([srv.url], { path: '/', interval: '5ms', timeout: '1s' });
    await eventually(() => expect(srv.seen.length).toBeGreaterThanOrEqual(4));
    expect(maxInFlight).toBe(1);
  });

  it('close() aborts an in-flight probe and stops further checks', async () => {
    let aborted = false;
    const srv = await upstream((req) => {
      req.socket.on('close', () => {
        aborted = true;
      });
    });
    const { checker: c, changes } = checker([srv.url], {
      path: '/',
      interval: '50ms',
      timeout: '30s',
    });
    await eventually(() => expect(srv.seen.length).toBe(1));
    c.close();
    await eventually(() => expect(aborted).toBe(true));
    await quietPeriod(200);
    expect(srv.seen).toHaveLength(1);
    expect(changes).toEqual([]);
    expect(c.isUp(srv.url)).toBe(true);
  });

  it('close() stops periodic checks of healthy servers', async () => {
    const srv = await upstream('a');
    const { checker: c } = checker([srv.url], { path: '/', interval: '30ms' });
    await eventually(() => expect(srv.seen.length).toBeGreaterThanOrEqual(3));
    c.close();
    const count = srv.seen.length;
    await quietPeriod(200);
    expect(srv.seen.length).toBeLessThanOrEqual(count + 1);
    const after = srv.seen.length;
    await quietPeriod(100);
    expect(srv.seen.length).toBe(after);
  });

  it('keeps health state handed over from a previous checker', async () => {
    const t = toggleable();
    t.set(500);
    const srv = await upstream(t.handler);
    const { checker: c, changes } = checker(
      [srv.url],
      { path: '/', interval: '50ms' },
      { initialStatus: { [srv.url]: false } },
    );
    expect(c.status()).toEqual({ [srv.url]: 'DOWN' });
    await eventually(() => expect(srv.seen.length).toBeGreaterThanOrEqual(2));
    // Still down: no transition, so nobody is told again.
    expect(changes).toEqual([]);
    t.set(200);
    await eventually(() => expect(changes).toEqual([[srv.url, true]]));
  });

  it('starts servers UP and reports unwatched servers as UP', () => {
    const c = createHealthChecker({
      service: 's',
      servers: ['http://127.0.0.1:1', 'http://127.0.0.1:1'],
      config: { path: '/' },
      onChange: () => undefined,
    });
    expect(c.status()).toEqual({ 'http://127.0.0.1:1': 'UP' });
    expect(c.isUp('http://elsewhere')).toBe(true);
    c.close();
    c.start();
    expect(c.status()).toEqual({ 'http://127.0.0.1:1': 'UP' });
  });

  it('keeps checking when the change listener throws', async () => {
    const t = toggleable();
    const srv = await upstream(t.handler);
    t.set(500);
    const c = createHealthChecker({
      service: 's',
      servers: [srv.url],
      config: { path: '/', interval: '30ms' },
      onChange: () => {
        throw new Error('boom');
      },
    });
    cleanups.push(() => c.close());
    c.start();
    await eventually(() => expect(c.isUp(srv.url)).toBe(false));
    t.set(200);
    await eventually(() => expect(c.isUp(srv.url)).toBe(true));
  });
});

describe('grpc health checks', () => {
  async function grpcServer(
    servingStatus: () => number | 'unimplemented',
  ): Promise<{ url: string; calls: string[] }> {
    const calls: string[] = [];
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      calls.push(String(headers[':path']));
      stream.resume();
      stream.on('end', () => {
        const s = servingStatus();
        if (s === 'unimplemented') {
          stream.respond(
            { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' },
            { endStream: true },
          );
          return;
        }
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc' },
          { waitForTrailers: true },
        );
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        // Length-prefixed HealthCheckResponse { status: s } (field 1, varint).
        stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, s]));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const sessions = new Set<http2.ServerHttp2Session>();
    server.on('session', (s) => {
      sessions.add(s);
      s.on('close', () => sessions.delete(s));
    });
    cleanups.push(() => sessions.forEach((s) => s.destroy()));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
  }

  it('follows the SERVING status of the standard health service', async () => {
    let status = 1;
    const srv = await grpcServer(() => status);
    const { checker: c, changes, logs } = checker([srv.url], { mode: 'grpc', interval: '50ms' });
    await eventually(() => expect(srv.calls.length).toBeGreaterThanOrEqual(2));
    expect(srv.calls[0]).toBe('/grpc.health.v1.Health/Check');
    expect(c.isUp(srv.url)).toBe(true);
    status = 2; // NOT_SERVING
    await eventually(() => expect(changes).toEqual([[srv.url, false]]));
    expect((logs[0]!.o as { reason: string }).reason).toBe('received grpc serving status 2');
    status = 1;
    await eventually(() => expect(c.isUp(srv.url)).toBe(true));
  });

  it('treats a server without the health service as DOWN', async () => {
    const srv = await grpcServer(() => 'unimplemented');
    const { checker: c, logs } = checker([srv.url], { mode: 'grpc', interval: '1h' });
    await eventually(() => expect(c.isUp(srv.url)).toBe(false));
    expect((logs[0]!.o as { reason: string }).reason).toMatch(/does not implement/);
  });
});
