/*
 * TCP connections and UDP sessions in /metrics and the access log (issue 13
 * item 8): a real router in this process with Prometheus and a JSON access
 * log on, real sockets on 127.0.0.1. Bytes are counted exactly for a known
 * exchange, the open gauges go back to 0, a connection ipAllowList refuses is
 * counted with its reason, a UDP session is counted when it idles out.
 */
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { mergeSnapshots } from '../../src/config/aggregate.js';
import { singleProcessMetrics } from '../../src/observability/metrics-cluster.js';
import { createRouterServer } from '../../src/routing/router-server.js';
import { eventually } from '../helpers/eventually.js';
import { createAccessLog, testStaticConfig } from '../helpers/portico.js';
import { useCleanups } from '../helpers/scope.js';

const { defer } = useCleanups();

/** An echo server: answers `echo:<bytes>` to each chunk and `echo:bye` to the client's FIN. */
async function echoServer(): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => s.write(`echo:${d.toString('latin1')}`));
    s.on('end', () => s.end('echo:bye'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  defer(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return (server.address() as net.AddressInfo).port;
}

async function udpEcho(): Promise<number> {
  const s = dgram.createSocket('udp4');
  s.on('message', (msg, from) => s.send(`echo:${msg.toString('latin1')}`, from.port, from.address));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  defer(() => new Promise<void>((r) => s.close(() => r())));
  return s.address().port;
}

async function start(config: DynamicConfig, flags: string[] = []) {
  const sc = testStaticConfig([
    '--metrics.prometheus',
    '--entryPoints.traefik.address=127.0.0.1:0',
    '--entryPoints.dns.address=127.0.0.1:0/udp',
    '--entryPoints.dns.udp.timeout=300ms',
    ...flags,
  ]);
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'portico-tcp-obs-')), 'access.log');
  const accessLog = createAccessLog({ filePath: file, format: 'json', bufferingSize: 0 });
  const metrics = singleProcessMetrics(sc)!;
  const router = createRouterServer({
    staticConfig: sc,
    logger: pino({ level: 'silent' }),
    accessLog,
    metrics: metrics.plane.recorder,
    internalServices: metrics.plane.internalServices,
  });
  metrics.plane.useTable(() => router.holder.current);
  const addresses = await router.listen();
  defer(
    () => router.shutdown(100),
    () => metrics.plane.close(),
  );
  const merged = mergeSnapshots([{ provider: 'file', config, errors: [] }]);
  router.applyConfig(merged.config, merged.errors);
  const udpAddress = router.udpEntryPoints.get('dns')?.address();
  return {
    web: addresses.web!.port,
    dns: udpAddress?.port ?? 0,
    scrape: () => metrics.store.render(),
    /** the access log's TCP/UDP lines (those with a RequestProtocol of TCP or UDP) */
    streamLines: (): Record<string, unknown>[] => {
      accessLog.flush();
      return readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.RequestProtocol === 'TCP' || l.RequestProtocol === 'UDP');
    },
  };
}

/** the value of one sample line, `name{labels}` exactly as exposed; undefined when absent */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Connects, writes `send`, half-closes, and collects everything until the close. */
function talk(port: number, send: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      // the echo first, then our FIN: the server answers it and ends
      if (got === `echo:${send}`) s.end();
    });
    // the server side's FIN: nothing more comes, close ours too
    s.on('end', () => s.end());
    s.on('close', () => resolve(got));
    s.write(send);
    s.on('error', (err) =>
      (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err),
    );
  });
}

function tcpConfig(echoPort: number, extra: Partial<DynamicConfig['tcp']> = {}): DynamicConfig {
  return {
    tcp: {
      routers: { echo: { rule: 'HostSNI(`*`)', entryPoints: ['web'], service: 'echo' } },
      services: { echo: { loadBalancer: { servers: [{ address: `127.0.0.1:${echoPort}` }] } } },
      ...extra,
    },
  };
}

const L = 'entrypoint="web",router="echo@file",service="echo@file"';

describe('TCP and UDP observability', () => {
  it('counts a TCP connection exactly: bytes each way, duration, close reason, open gauge back to 0, one access log line', async () => {
    const echo = await echoServer();
    const p = await start(tcpConfig(echo));
    // 5 bytes up; 10 + 8 bytes down
    expect(await talk(p.web, 'hello')).toBe('echo:helloecho:bye');
    await eventually(async () => {
      const m = await p.scrape();
      expect(value(m, `portico_tcp_connections_total{${L},reason="client_closed"}`)).toBe(1);
      expect(value(m, `portico_tcp_bytes_total{${L},direction="upstream"}`)).toBe(5);
      expect(value(m, `portico_tcp_bytes_total{${L},direction="downstream"}`)).toBe(18);
      expect(value(m, `portico_tcp_open_connections{${L}}`)).toBe(0);
      expect(value(m, `portico_tcp_connection_duration_seconds_count{${L}}`)).toBe(1);
      expect(value(m, `portico_tcp_connection_duration_seconds_bucket{${L},le="+Inf"}`)).toBe(1);
    });
    const [line] = await eventually(() => {
      const lines = p.streamLines();
      expect(lines).toHaveLength(1);
      return lines;
    });
    expect(line).toMatchObject({
      RequestProtocol: 'TCP',
      entryPointName: 'web',
      RouterName: 'echo@file',
      ServiceName: 'echo@file',
      ServiceAddr: `127.0.0.1:${echo}`,
      ClientHost: '127.0.0.1',
      UpstreamBytes: 5,
      DownstreamBytes: 18,
      CloseReason: 'client_closed',
    });
    expect(line!.ClientAddr).toBe(`127.0.0.1:${line!.ClientPort as string}`);
    expect(typeof line!.Duration).toBe('number');
    expect(Date.parse(line!.StartUTC as string)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('shows a connection in the open gauge while it lasts', async () => {
    const echo = await echoServer();
    const p = await start(tcpConfig(echo));
    const s = net.connect({ port: p.web, host: '127.0.0.1' });
    s.on('error', () => undefined);
    defer(() => s.destroy());
    const first = new Promise<string>((r) => s.once('data', (d: Buffer) => r(d.toString())));
    s.write('x');
    expect(await first).toBe('echo:x');
    await eventually(async () =>
      expect(value(await p.scrape(), `portico_tcp_open_connections{${L}}`)).toBe(1),
    );
    // a reset, not a FIN: the relay sees the client's error
    s.resetAndDestroy();
    await eventually(async () => {
      const m = await p.scrape();
      expect(value(m, `portico_tcp_open_connections{${L}}`)).toBe(0);
      expect(value(m, `portico_tcp_connections_total{${L},reason="client_error"}`)).toBe(1);
    });
  });

  it('counts a connection ipAllowList refuses, with its reason and no server', async () => {
    const echo = await echoServer();
    const p = await start(
      tcpConfig(echo, {
        routers: {
          echo: {
            rule: 'HostSNI(`*`)',
            entryPoints: ['web'],
            service: 'echo',
            middlewares: ['only'],
          },
        },
        middlewares: { only: { ipAllowList: { sourceRange: ['10.0.0.0/8'] } } },
      }),
    );
    expect(await talk(p.web, 'hello')).toBe('');
    await eventually(async () => {
      const m = await p.scrape();
      expect(value(m, `portico_tcp_connections_total{${L},reason="ip_allow_list"}`)).toBe(1);
      expect(value(m, `portico_tcp_open_connections{${L}}`)).toBe(0);
    });
    const [line] = await eventually(() => {
      const lines = p.streamLines();
      expect(lines).toHaveLength(1);
      return lines;
    });
    expect(line).toMatchObject({
      RouterName: 'echo@file',
      CloseReason: 'ip_allow_list',
      UpstreamBytes: 0,
      DownstreamBytes: 0,
    });
    expect(line!.ServiceAddr).toBeUndefined();
  });

  it('counts a UDP session: datagrams and bytes each way, closed by the idle timeout', async () => {
    const echo = await udpEcho();
    const p = await start({
      udp: {
        routers: { dns: { entryPoints: ['dns'], service: 'echo' } },
        services: { echo: { loadBalancer: { servers: [{ address: `127.0.0.1:${echo}` }] } } },
      },
    });
    const client = dgram.createSocket('udp4');
    defer(() => client.close());
    const answer = new Promise<string>((r) => client.once('message', (m) => r(m.toString())));
    client.send('ping', p.dns, '127.0.0.1');
    expect(await answer).toBe('echo:ping');
    const U = 'entrypoint="dns",router="dns@file",service="echo@file"';
    await eventually(async () =>
      expect(value(await p.scrape(), `portico_udp_open_sessions{${U}}`)).toBe(1),
    );
    await eventually(async () => {
      const m = await p.scrape();
      expect(value(m, `portico_udp_sessions_total{${U},reason="timeout"}`)).toBe(1);
      expect(value(m, `portico_udp_open_sessions{${U}}`)).toBe(0);
      expect(value(m, `portico_udp_bytes_total{${U},direction="upstream"}`)).toBe(4);
      expect(value(m, `portico_udp_bytes_total{${U},direction="downstream"}`)).toBe(9);
      expect(value(m, `portico_udp_datagrams_total{${U},direction="upstream"}`)).toBe(1);
      expect(value(m, `portico_udp_datagrams_total{${U},direction="downstream"}`)).toBe(1);
      expect(value(m, `portico_udp_session_duration_seconds_count{${U}}`)).toBe(1);
    });
    const [line] = await eventually(() => {
      const lines = p.streamLines();
      expect(lines).toHaveLength(1);
      return lines;
    });
    expect(line).toMatchObject({
      RequestProtocol: 'UDP',
      entryPointName: 'dns',
      RouterName: 'dns@file',
      ServiceName: 'echo@file',
      ServiceAddr: `127.0.0.1:${echo}`,
      ClientHost: '127.0.0.1',
      ClientPort: String(client.address().port),
      UpstreamBytes: 4,
      DownstreamBytes: 9,
      CloseReason: 'timeout',
    });
  });
});
