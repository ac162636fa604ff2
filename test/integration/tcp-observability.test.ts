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
import tls from 'node:tls';
import selfsigned from 'selfsigned';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { mergeSnapshots } from '../../src/config/aggregate.js';
import { singleProcessMetrics } from '../../src/observability/metrics-cluster.js';
import { MetricsStore, RequestMetrics } from '../../src/observability/metrics.js';
import { createStreamRecord } from '../../src/observability/metrics-tcp.js';
import { createRouterServer } from '../../src/routing/router-server.js';
import { eventually } from '../helpers/eventually.js';
import { createAccessLog, testStaticConfig } from '../helpers/portico.js';
import { freePort, request } from '../helpers/http.js';
import { useCleanups } from '../helpers/scope.js';

const { defer, upstream } = useCleanups();

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
    '--accessLog.format=json',
    '--entryPoints.traefik.address=127.0.0.1:0',
    '--entryPoints.dns.address=127.0.0.1:0/udp',
    '--entryPoints.dns.udp.timeout=300ms',
    ...flags,
  ]);
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'portico-tcp-obs-')), 'access.log');
  // the real static options, so that accessLog.filters flags apply
  const accessLog = createAccessLog({ ...sc.accessLog!, filePath: file });
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
  const lines = (): Record<string, unknown>[] => {
    accessLog.flush();
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  };
  const merged = mergeSnapshots([{ provider: 'file', config, errors: [] }]);
  router.applyConfig(merged.config, merged.errors);
  const udpAddress = router.udpEntryPoints.get('dns')?.address();
  return {
    web: addresses.web!.port,
    ports: Object.fromEntries(Object.entries(addresses).map(([k, a]) => [k, a.port])),
    dns: udpAddress?.port ?? 0,
    scrape: () => metrics.store.render(),
    shutdown: (graceMs: number) => router.shutdown(graceMs),
    /** every access log line */
    lines,
    /** the access log's TCP/UDP lines (those with a RequestProtocol of TCP or UDP) */
    streamLines: (): Record<string, unknown>[] =>
      lines().filter((l) => l.RequestProtocol === 'TCP' || l.RequestProtocol === 'UDP'),
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

/** One line, once the connection it reports is closed (metrics and log are written together). */
async function oneStreamLine(p: { streamLines(): Record<string, unknown>[] }) {
  const [line] = await eventually(() => {
    const lines = p.streamLines();
    expect(lines).toHaveLength(1);
    return lines;
  });
  return line!;
}

describe('UDP observability: errors', () => {
  it('counts a session whose server port is closed as server_error (ICMP port unreachable)', async () => {
    // a port just freed: nothing listens on it, so the kernel answers port unreachable
    const dead = await freePort();
    const p = await start({
      udp: {
        routers: { dns: { entryPoints: ['dns'], service: 'dead' } },
        services: { dead: { loadBalancer: { servers: [{ address: `127.0.0.1:${dead}` }] } } },
      },
    });
    const client = dgram.createSocket('udp4');
    defer(() => client.close());
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
    const U = 'entrypoint="dns",router="dns@file",service="dead@file"';
    // the first datagram may go out before the socket is connected; later ones meet the error
    await eventually(async () => {
      client.send('ping', p.dns, '127.0.0.1');
      const m = await p.scrape();
      expect(value(m, `portico_udp_sessions_total{${U},reason="server_error"}`)).toBeGreaterThan(0);
    });
    const line = p.streamLines()[0]!;
    expect(line).toMatchObject({
      RequestProtocol: 'UDP',
      ServiceAddr: `127.0.0.1:${dead}`,
      CloseReason: 'server_error',
      DownstreamBytes: 0,
    });
  });
});

describe('TCP observability: TLS, PROXY protocol, filters, workers', () => {
  it('counts a connection inFlightConn refuses, and one cut at shutdown as aborted', async () => {
    const echo = await echoServer();
    const p = await start(
      tcpConfig(echo, {
        routers: {
          echo: {
            rule: 'HostSNI(`*`)',
            entryPoints: ['web'],
            service: 'echo',
            middlewares: ['one'],
          },
        },
        middlewares: { one: { inFlightConn: { amount: 1 } } },
      }),
    );
    const s = net.connect({ port: p.web, host: '127.0.0.1' });
    s.on('error', () => undefined);
    defer(() => s.destroy());
    const first = new Promise<string>((r) => s.once('data', (d: Buffer) => r(d.toString())));
    s.write('x');
    expect(await first).toBe('echo:x');
    // a second connection from the same IP while the first is open
    expect(await talk(p.web, 'y')).toBe('');
    await eventually(async () =>
      expect(
        value(await p.scrape(), `portico_tcp_connections_total{${L},reason="in_flight_conn"}`),
      ).toBe(1),
    );
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    await p.shutdown(50);
    await closed;
    await eventually(async () => {
      const m = await p.scrape();
      expect(value(m, `portico_tcp_connections_total{${L},reason="aborted"}`)).toBe(1);
      expect(value(m, `portico_tcp_open_connections{${L}}`)).toBe(0);
    });
  });

  it('names the SNI and the TLS mode, and the TLS version of a terminated connection', async () => {
    const echo = await echoServer();
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'c.test' }], {
      keyType: 'ec',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: 'c.test' }] }],
    });
    const p = await start({
      tcp: {
        routers: {
          term: { rule: 'HostSNI(`c.test`)', entryPoints: ['web'], service: 'echo', tls: {} },
        },
        services: { echo: { loadBalancer: { servers: [{ address: `127.0.0.1:${echo}` }] } } },
      },
      tls: { certificates: [{ certFile: pems.cert, keyFile: pems.private }] },
    });
    const got = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({
        port: p.web,
        host: '127.0.0.1',
        servername: 'c.test',
        rejectUnauthorized: false,
      });
      let text = '';
      s.on('secureConnect', () => s.write('hi'));
      s.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text === 'echo:hi') s.end();
      });
      s.on('end', () => s.end());
      s.on('close', () => resolve(text));
      s.on('error', reject);
    });
    expect(got).toBe('echo:hiecho:bye');
    const line = await oneStreamLine(p);
    expect(line).toMatchObject({
      RouterName: 'term@file',
      TLSServerName: 'c.test',
      TLSMode: 'terminate',
      TLSVersion: '1.3',
      // the clear bytes relayed, not the TLS records
      UpstreamBytes: 2,
      DownstreamBytes: 15,
      CloseReason: 'client_closed',
    });
    expect(line.TLSCipher).toMatch(/^TLS_/);
  });

  it('names the SNI of a passthrough connection and counts the TLS records as they came', async () => {
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'p.test' }], {
      keyType: 'ec',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: 'p.test' }] }],
    });
    let backendRead = 0;
    let clientRead = 0;
    const backend = tls.createServer({ cert: pems.cert, key: pems.private }, (s) => {
      s.on('error', () => undefined);
      // a server-side TLSSocket counts nothing itself: its raw socket does
      const raw = (s as unknown as { _parent?: net.Socket })._parent ?? s;
      s.on('close', () => (backendRead = raw.bytesRead));
      s.end('hello from p.test');
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    defer(() => new Promise<void>((r) => backend.close(() => r())));
    const port = (backend.address() as net.AddressInfo).port;
    const p = await start({
      tcp: {
        routers: {
          pass: {
            rule: 'HostSNI(`p.test`)',
            entryPoints: ['web'],
            service: 'pass',
            tls: { passthrough: true },
          },
        },
        services: { pass: { loadBalancer: { servers: [{ address: `127.0.0.1:${port}` }] } } },
      },
    });
    const got = await new Promise<string>((resolve, reject) => {
      // TLS over a socket of our own: its bytesRead counts the bytes on the wire
      const raw = net.connect({ port: p.web, host: '127.0.0.1' });
      const s = tls.connect({ socket: raw, servername: 'p.test', rejectUnauthorized: false });
      let text = '';
      s.on('data', (d: Buffer) => (text += d.toString('latin1')));
      s.on('end', () => s.end());
      raw.on('close', () => {
        clientRead = raw.bytesRead;
        resolve(text);
      });
      s.on('error', reject);
    });
    expect(got).toBe('hello from p.test');
    const line = await oneStreamLine(p);
    expect(line).toMatchObject({
      RouterName: 'pass@file',
      TLSServerName: 'p.test',
      TLSMode: 'passthrough',
      ServiceAddr: `127.0.0.1:${port}`,
    });
    expect(line.TLSVersion).toBeUndefined();
    // what the backend and the client read off the wire, byte for byte: the records were relayed
    // untouched (a TLSSocket's bytesRead counts its socket's bytes, records included)
    await eventually(() => expect(backendRead).toBeGreaterThan(0));
    expect(line.UpstreamBytes).toBe(backendRead);
    expect(line.DownstreamBytes).toBe(clientRead);
  });

  it('logs the client the PROXY protocol header names, from a trusted sender', async () => {
    const echo = await echoServer();
    const p = await start(tcpConfig(echo), [
      '--entryPoints.web.proxyProtocol.trustedIPs=127.0.0.1',
    ]);
    const got = await new Promise<string>((resolve, reject) => {
      const s = net.connect({ port: p.web, host: '127.0.0.1', allowHalfOpen: true });
      let text = '';
      s.write('PROXY TCP4 203.0.113.7 127.0.0.1 4242 80\r\nhello');
      s.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text === 'echo:hello') s.end();
      });
      s.on('end', () => s.end());
      s.on('close', () => resolve(text));
      s.on('error', reject);
    });
    expect(got).toBe('echo:helloecho:bye');
    expect(await oneStreamLine(p)).toMatchObject({
      ClientAddr: '203.0.113.7:4242',
      ClientHost: '203.0.113.7',
      ClientPort: '4242',
      // the header is not relayed: only the client's own bytes count
      UpstreamBytes: 5,
    });
  });

  it('writes no TCP line when accessLog.filters.statusCodes is set (a connection has no status), HTTP lines still', async () => {
    const echo = await echoServer();
    const up = await upstream((_req, res) => res.end('ok'));
    const p = await start(
      {
        ...tcpConfig(echo, {
          routers: { echo: { rule: 'HostSNI(`*`)', entryPoints: ['tcp'], service: 'echo' } },
        }),
        http: {
          routers: { web: { rule: 'PathPrefix(`/`)', entryPoints: ['web'], service: 'web' } },
          services: { web: { loadBalancer: { servers: [{ url: up.url }] } } },
        },
      },
      ['--accessLog.filters.statusCodes=200-299', '--entryPoints.tcp.address=127.0.0.1:0'],
    );
    expect(await talk(p.ports.tcp!, 'hello')).toBe('echo:helloecho:bye');
    const T = 'entrypoint="tcp",router="echo@file",service="echo@file"';
    // the close is counted and, in the same call, the line kept or not
    await eventually(async () =>
      expect(
        value(await p.scrape(), `portico_tcp_connections_total{${T},reason="client_closed"}`),
      ).toBe(1),
    );
    expect((await request(`http://127.0.0.1:${p.web}/`)).status).toBe(200);
    const lines = await eventually(() => {
      const all = p.lines();
      expect(all).toHaveLength(1);
      return all;
    });
    expect(lines[0]).toMatchObject({ RouterName: 'web@file', DownstreamStatus: 200 });
  });

  it('applies accessLog.fields: shared names by their mode, TCP-only ones by defaultMode', async () => {
    const echo = await echoServer();
    const p = await start(tcpConfig(echo), [
      '--accessLog.fields.defaultMode=drop',
      '--accessLog.fields.names.RouterName=keep',
      '--accessLog.fields.names.ClientHost=redact',
    ]);
    expect(await talk(p.web, 'hello')).toBe('echo:helloecho:bye');
    const [line] = await eventually(() => {
      const all = p.lines();
      expect(all).toHaveLength(1);
      return all;
    });
    expect(Object.keys(line!).sort()).toEqual(['ClientHost', 'RouterName', 'level', 'msg', 'time']);
    expect(line).toMatchObject({ RouterName: 'echo@file', ClientHost: 'REDACTED' });
  });

  it('shows bytes of a connection still open, and sums what several workers send', async () => {
    const sc = testStaticConfig(['--metrics.prometheus']);
    const store = new MetricsStore({ config: sc.metrics, timer: false, nodeMetrics: false });
    defer(() => store.close());
    const worker = (): RequestMetrics =>
      new RequestMetrics({ buckets: sc.metrics!.prometheus!.buckets });
    const [w1, w2] = [worker(), worker()];
    const at = {
      entryPoint: 'web',
      router: 'db@file',
      service: 'db@file',
      client: { address: '127.0.0.1', port: 1 },
    };
    const a = createStreamRecord('TCP', at);
    const b = createStreamRecord('TCP', at);
    w1.streamOpened(a);
    w2.streamOpened(b);
    a.toServer = 100;
    a.toClient = 1000;
    b.toServer = 7;
    // each worker's delta crosses the IPC channel as plain data (structured clone)
    store.apply(structuredClone(w1.takeDelta()), '1');
    store.apply(structuredClone(w2.takeDelta()), '2');
    const D = 'entrypoint="web",router="db@file",service="db@file"';
    let m = await store.render();
    expect(value(m, `portico_tcp_open_connections{${D}}`)).toBe(2);
    expect(value(m, `portico_tcp_bytes_total{${D},direction="upstream"}`)).toBe(107);
    expect(value(m, `portico_tcp_bytes_total{${D},direction="downstream"}`)).toBe(1000);
    // more bytes, then the close: only what is new is added
    a.toServer = 150;
    a.reason = 'server_closed';
    w1.streamClosed(a, 2, 'server_closed');
    store.apply(structuredClone(w1.takeDelta()), '1');
    m = await store.render();
    expect(value(m, `portico_tcp_bytes_total{${D},direction="upstream"}`)).toBe(157);
    expect(value(m, `portico_tcp_open_connections{${D}}`)).toBe(1);
    expect(value(m, `portico_tcp_connections_total{${D},reason="server_closed"}`)).toBe(1);
    expect(value(m, `portico_tcp_connection_duration_seconds_bucket{${D},le="10"}`)).toBe(1);
    expect(value(m, `portico_tcp_connection_duration_seconds_bucket{${D},le="1"}`)).toBe(0);
    expect(value(m, `portico_tcp_connection_duration_seconds_sum{${D}}`)).toBe(2);
    // a worker that exits takes its open connections with it; its counts stay
    store.dropSource('2');
    m = await store.render();
    expect(value(m, `portico_tcp_open_connections{${D}}`)).toBe(0);
    expect(value(m, `portico_tcp_bytes_total{${D},direction="upstream"}`)).toBe(157);
    // nothing new: no delta to send (a worker sends nothing each second)
    expect(w1.takeDelta().streams).toBeUndefined();
  });
});
