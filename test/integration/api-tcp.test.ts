/*
 * The API's TCP and UDP endpoints (issue 13 item 8), in the shapes of
 * Traefik's pkg/api/handler_tcp.go and handler_udp.go: /api/tcp/routers,
 * services and middlewares, /api/udp/routers and services, one by name with
 * Traefik's 404 message, the HTTP lists' criteria (search, status, per_page,
 * page, X-Next-Page) and the overview's tcp and udp counts. The real runtime
 * (file provider, API on its own entrypoint) with a real TCP echo server
 * behind the TCP routers.
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadStaticConfig } from '../../src/config/static.js';
import { runSingle, type RunningPortico } from '../../src/runtime.js';
import { freePort, request } from '../helpers/http.js';
import { eventually } from '../helpers/eventually.js';
import { runPortico, type PorticoProcess } from '../helpers/process.js';

interface Backend {
  port: number;
  close(): Promise<void>;
}

/** answers every chunk with `name:` and the chunk */
async function echoServer(name: string): Promise<Backend> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => s.end(`${name}:${d.toString('latin1')}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** writes `send` and collects the answer until the server closes (bounded) */
function talk(port: number, send: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let got = '';
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, 3000);
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('close', done);
    s.on('error', done);
    s.on('connect', () => s.write(send));
  });
}

function dynamicYaml(echoPort: number): string {
  return `http:
  routers:
    site:
      rule: Host(\`site.test\`)
      entryPoints: [web]
      service: site
  services:
    site:
      loadBalancer:
        servers:
          - url: http://127.0.0.1:${echoPort}
tcp:
  routers:
    echo:
      rule: HostSNI(\`*\`)
      entryPoints: [tcp]
      middlewares: [allow]
      service: echo
    db:
      rule: HostSNI(\`db.test\`)
      entryPoints: [web]
      service: split
      tls:
        passthrough: true
    mqtt:
      rule: HostSNI(\`mqtt.test\`)
      entryPoints: [web]
      service: echo
      tls:
        options: default
    broken:
      rule: HostSNI(\`x.test\`
      entryPoints: [tcp]
      service: echo
    lost:
      rule: HostSNI(\`lost.test\`)
      entryPoints: [web]
      service: missing
      tls: {}
    elsewhere:
      rule: HostSNI(\`*\`)
      entryPoints: [tcp, nowhere]
      service: echo
      priority: 5
  services:
    echo:
      loadBalancer:
        servers:
          - address: 127.0.0.1:${echoPort}
    split:
      weighted:
        services:
          - name: echo
            weight: 3
    dead:
      loadBalancer:
        servers:
          - address: 127.0.0.1:1
        healthCheck:
          interval: 100ms
          timeout: 500ms
  middlewares:
    allow:
      ipAllowList:
        sourceRange: [127.0.0.1/32]
    cap:
      inFlightConn:
        amount: 10
`;
}

interface Started {
  run: RunningPortico;
  api: string;
  tcpPort: number;
}

async function getJson(
  url: string,
): Promise<{ status: number; body: unknown; headers: Record<string, unknown> }> {
  const r = await request(url);
  return { status: r.status, headers: r.headers, body: JSON.parse(r.body) as unknown };
}

type Item = Record<string, unknown> & { name: string };

const names = (body: unknown): string[] => (body as Item[]).map((i) => i.name);

describe('API: TCP routers, services and middlewares (Traefik shapes)', () => {
  let echo: Backend;
  let s: Started;

  beforeAll(async () => {
    echo = await echoServer('echo');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-api-tcp-'));
    writeFileSync(path.join(dir, 'dynamic.yml'), dynamicYaml(echo.port));
    const sc = loadStaticConfig({
      argv: [
        '--entryPoints.web.address=127.0.0.1:0',
        '--entryPoints.tcp.address=127.0.0.1:0',
        '--entryPoints.traefik.address=127.0.0.1:0',
        `--providers.file.directory=${dir}`,
        '--workers=0',
        '--api.insecure=true',
        '--metrics.prometheus',
      ],
      env: {},
      cwd: process.cwd(),
    });
    const run = await runSingle(sc, pino({ level: 'silent' }));
    await run.ready;
    s = {
      run,
      api: `http://127.0.0.1:${run.addresses.traefik!.port}/api`,
      tcpPort: run.addresses.tcp!.port,
    };
  });

  afterAll(async () => {
    await s?.run.close();
    await echo?.close();
  });

  it('the routers the API lists are the ones that route: plain TCP reaches the echo server', async () => {
    expect(await talk(s.tcpPort, 'ping')).toBe('echo:ping');
  });

  it('lists the TCP routers, sorted by name, with X-Next-Page', async () => {
    const r = await getJson(`${s.api}/tcp/routers`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.headers['x-next-page']).toBe('1');
    expect(names(r.body)).toEqual([
      'broken@file',
      'db@file',
      'echo@file',
      'elsewhere@file',
      'lost@file',
      'mqtt@file',
    ]);
  });

  it('shows one TCP router with its rule, entrypoints, middlewares, service, status and using', async () => {
    const r = await getJson(`${s.api}/tcp/routers/echo@file`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      entryPoints: ['tcp'],
      middlewares: ['allow@file'],
      service: 'echo@file',
      rule: 'HostSNI(`*`)',
      // Traefik's default for the catch-all (tcpmuxer.GetRulePriority), and its string form
      priority: -1,
      status: 'enabled',
      using: ['tcp'],
      name: 'echo@file',
      provider: 'file',
      priorityStr: '-1',
    });
  });

  it('shows tls as Traefik does: passthrough always written, options and the rest as configured', async () => {
    const db = (await getJson(`${s.api}/tcp/routers/db@file`)).body as Item;
    expect(db).toMatchObject({
      rule: 'HostSNI(`db.test`)',
      service: 'split@file',
      tls: { passthrough: true },
      status: 'enabled',
      using: ['web'],
    });
    const mqtt = (await getJson(`${s.api}/tcp/routers/mqtt@file`)).body as Item;
    expect(mqtt.tls).toEqual({ passthrough: false, options: 'default' });
    // a router's own priority is kept; the computed one (rule length) shows when none is set
    const elsewhere = (await getJson(`${s.api}/tcp/routers/elsewhere@file`)).body as Item;
    expect(elsewhere.priority).toBe(5);
    expect(db.priority).toBe('HostSNI(`db.test`)'.length);
  });

  it('shows a broken TCP router as disabled with its error, and a missing service likewise', async () => {
    const broken = await getJson(`${s.api}/tcp/routers/broken@file`);
    expect(broken.body).toMatchObject({
      status: 'disabled',
      service: 'echo@file',
      name: 'broken@file',
      provider: 'file',
    });
    const errors = (broken.body as { error: string[] }).error;
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/error while parsing rule HostSNI\(`x\.test`/);
    // Traefik fills `using` from the entrypoints before building the router: a broken one has it too
    expect((broken.body as Item).using).toEqual(['tcp']);
    const lost = await getJson(`${s.api}/tcp/routers/lost@file`);
    expect(lost.body).toMatchObject({ status: 'disabled', tls: { passthrough: false } });
    expect((lost.body as { error: string[] }).error.join()).toContain('missing@file');
  });

  it('shows a router naming an entrypoint that does not exist as a warning, used where it can be', async () => {
    const r = await getJson(`${s.api}/tcp/routers/elsewhere@file`);
    expect(r.body).toMatchObject({
      status: 'warning',
      error: ['entryPoint "nowhere" doesn\'t exist'],
      using: ['tcp'],
    });
  });

  it('lists TCP services with loadBalancer servers, usedBy and type', async () => {
    const list = await getJson(`${s.api}/tcp/services`);
    expect(names(list.body)).toEqual(['dead@file', 'echo@file', 'split@file']);
    const echoSvc = await getJson(`${s.api}/tcp/services/echo@file`);
    expect(echoSvc.body).toEqual({
      loadBalancer: { servers: [{ address: `127.0.0.1:${echo.port}` }] },
      status: 'enabled',
      usedBy: ['broken@file', 'echo@file', 'elsewhere@file', 'mqtt@file'],
      name: 'echo@file',
      provider: 'file',
      type: 'loadbalancer',
      // Traefik marks every server UP when it builds the load balancer (no health check here)
      serverStatus: { [`127.0.0.1:${echo.port}`]: 'UP' },
    });
    const split = await getJson(`${s.api}/tcp/services/split@file`);
    expect(split.body).toMatchObject({
      weighted: { services: [{ name: 'echo@file', weight: 3 }] },
      status: 'enabled',
      usedBy: ['db@file'],
      type: 'weighted',
    });
    expect((split.body as Item).serverStatus).toBeUndefined();
  });

  it('shows a TCP server its health check finds down as DOWN in serverStatus', async () => {
    await eventually(
      async () => {
        const dead = await getJson(`${s.api}/tcp/services/dead@file`);
        expect(dead.body).toMatchObject({
          loadBalancer: { healthCheck: { interval: '100ms', timeout: '500ms' } },
          serverStatus: { '127.0.0.1:1': 'DOWN' },
          type: 'loadbalancer',
        });
      },
      { timeoutMs: 5000, intervalMs: 50 },
    );
  });

  it('lists TCP middlewares with their options, type and usedBy', async () => {
    const list = await getJson(`${s.api}/tcp/middlewares`);
    expect(names(list.body)).toEqual(['allow@file', 'cap@file']);
    const allow = await getJson(`${s.api}/tcp/middlewares/allow@file`);
    expect(allow.body).toEqual({
      ipAllowList: { sourceRange: ['127.0.0.1/32'] },
      status: 'enabled',
      usedBy: ['echo@file'],
      name: 'allow@file',
      provider: 'file',
      type: 'ipallowlist',
    });
    const cap = await getJson(`${s.api}/tcp/middlewares/cap@file`);
    expect(cap.body).toMatchObject({ inFlightConn: { amount: 10 }, type: 'inflightconn' });
    expect((cap.body as Item).usedBy).toBeUndefined();
  });

  it('filters and pages TCP lists like the HTTP ones (search, status, per_page, page)', async () => {
    const disabled = await getJson(`${s.api}/tcp/routers?status=disabled`);
    expect(names(disabled.body)).toEqual(['broken@file', 'lost@file']);
    // Traefik compares the status case-insensitively (strings.EqualFold)
    const upper = await getJson(`${s.api}/tcp/routers?status=DISABLED`);
    expect(names(upper.body)).toEqual(['broken@file', 'lost@file']);
    const warning = await getJson(`${s.api}/tcp/routers?status=warning`);
    expect(names(warning.body)).toEqual(['elsewhere@file']);
    const search = await getJson(`${s.api}/tcp/routers?search=db.test`);
    expect(names(search.body)).toEqual(['db@file']);
    const byService = await getJson(`${s.api}/tcp/routers?serviceName=split@file`);
    expect(names(byService.body)).toEqual(['db@file']);
    const page1 = await getJson(`${s.api}/tcp/routers?per_page=4&page=1`);
    expect(names(page1.body)).toHaveLength(4);
    expect(page1.headers['x-next-page']).toBe('2');
    const page2 = await getJson(`${s.api}/tcp/routers?per_page=4&page=2`);
    expect(names(page2.body)).toEqual(['lost@file', 'mqtt@file']);
    expect(page2.headers['x-next-page']).toBe('1');
    const beyond = await getJson(`${s.api}/tcp/services?per_page=3&page=2`);
    expect(beyond).toMatchObject({
      status: 400,
      body: { message: 'invalid request: page: 2, per_page: 3' },
    });
    const services = await getJson(`${s.api}/tcp/services?search=split`);
    expect(names(services.body)).toEqual(['split@file']);
    const middlewares = await getJson(`${s.api}/tcp/middlewares?search=inflight`);
    expect(names(middlewares.body)).toEqual(['cap@file']);
  });

  it.each([
    ['tcp/routers', 'router'],
    ['tcp/services', 'service'],
    ['tcp/middlewares', 'middleware'],
    ['udp/routers', 'router'],
    ['udp/services', 'service'],
  ])("answers 404 with Traefik's message for an unknown name in /api/%s", async (list, kind) => {
    const r = await getJson(`${s.api}/${list}/nope@file`);
    expect(r).toMatchObject({ status: 404, body: { message: `${kind} not found: nope@file` } });
  });

  it('has no /api/udp/middlewares (Traefik has no UDP middlewares)', async () => {
    const r = await getJson(`${s.api}/udp/middlewares`);
    expect(r.status).toBe(404);
  });

  it('counts TCP routers, services and middlewares in the overview, next to HTTP', async () => {
    const r = await getJson(`${s.api}/overview`);
    expect(r.body).toMatchObject({
      tcp: {
        routers: { total: 6, warnings: 1, errors: 2 },
        services: { total: 3, warnings: 0, errors: 0 },
        middlewares: { total: 2, warnings: 0, errors: 0 },
      },
      udp: {
        routers: { total: 0, warnings: 0, errors: 0 },
        services: { total: 0, warnings: 0, errors: 0 },
      },
      features: { tracing: '', metrics: 'Prometheus', accessLog: false },
    });
  });

  it('counts a connection a TCP router holds in open_connections{protocol="TCP"}, as Traefik', async () => {
    const metrics = s.api.replace(/\/api$/, '/metrics');
    const gauge = `portico_open_connections{entrypoint="tcp",protocol="TCP"}`;
    const value = async (): Promise<number> => {
      const line = (await request(metrics)).body.split('\n').find((l) => l.startsWith(gauge));
      return line === undefined ? 0 : Number(line.slice(gauge.length + 1));
    };
    const held = net.connect({ port: s.tcpPort, host: '127.0.0.1' });
    held.on('error', () => undefined);
    try {
      await eventually(async () => expect(await value()).toBe(1), { timeoutMs: 5000 });
    } finally {
      held.destroy();
    }
    await eventually(async () => expect(await value()).toBe(0), { timeoutMs: 5000 });
  });

  it("counts a provider's TCP elements in /api/providers, next to its HTTP ones", async () => {
    const r = await getJson(`${s.api}/providers/file`);
    expect(r.body).toMatchObject({
      name: 'file',
      routers: 1,
      services: 1,
      middlewares: 0,
      tcp: { routers: 6, services: 3, middlewares: 2 },
    });
    // nothing for UDP: the key is left out, as for providers without TCP
    expect((r.body as Item).udp).toBeUndefined();
  });

  it("puts the TCP elements in /api/rawdata under Traefik's keys", async () => {
    const r = await getJson(`${s.api}/rawdata`);
    const raw = r.body as Record<string, Record<string, Item>>;
    expect(Object.keys(raw.tcpRouters ?? {}).sort()).toEqual([
      'broken@file',
      'db@file',
      'echo@file',
      'elsewhere@file',
      'lost@file',
      'mqtt@file',
    ]);
    expect(raw.tcpServices?.['echo@file']).toMatchObject({ status: 'enabled' });
    expect(raw.tcpMiddlewares?.['allow@file']).toMatchObject({ type: 'ipallowlist' });
    // Traefik omits empty maps
    expect(raw.udpRouters).toBeUndefined();
  });
});

describe('API: TCP elements in a cluster (the primary answers for the workers)', () => {
  let proc: PorticoProcess | undefined;
  let echo: Backend | undefined;

  afterAll(async () => {
    await proc?.stop();
    await echo?.close();
  });

  it('lists TCP routers with status and errors through a worker, and the overview counts them', async () => {
    echo = await echoServer('echo');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-api-tcp-cluster-'));
    writeFileSync(path.join(dir, 'dynamic.yml'), dynamicYaml(echo.port));
    const [apiPort, tcpPort] = [await freePort(), await freePort()];
    proc = runPortico([
      '--entryPoints.web.address=127.0.0.1:0',
      `--entryPoints.tcp.address=127.0.0.1:${tcpPort}`,
      `--entryPoints.traefik.address=127.0.0.1:${apiPort}`,
      '--api.insecure=true',
      `--providers.file.directory=${dir}`,
      '--workers=2',
    ]);
    const api = `http://127.0.0.1:${apiPort}/api`;
    const overview = await eventually(
      async () => {
        const r = await getJson(`${api}/overview`);
        expect(r.status).toBe(200);
        const body = r.body as { tcp: { routers: { total: number } } };
        expect(body.tcp.routers.total).toBe(6);
        return body;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    expect(overview.tcp).toEqual({
      routers: { total: 6, warnings: 1, errors: 2 },
      services: { total: 3, warnings: 0, errors: 0 },
      middlewares: { total: 2, warnings: 0, errors: 0 },
    });
    const broken = await getJson(`${api}/tcp/routers/broken@file`);
    expect(broken.body).toMatchObject({ status: 'disabled', using: ['tcp'] });
    expect((broken.body as { error: string[] }).error[0]).toMatch(/error while parsing rule/);
    // and the workers route what the primary lists
    await eventually(async () => expect(await talk(tcpPort, 'ping')).toBe('echo:ping'), {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
  });
});

describe('API: TCP changes in the event stream', () => {
  let run: RunningPortico | undefined;

  afterAll(async () => {
    await run?.close();
  });

  it('a swap that changes only TCP elements is a configuration event with a tcp diff', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-api-tcp-events-'));
    const file = path.join(dir, 'dynamic.yml');
    const config = (extra: string): string => `tcp:
  routers:
    echo:
      rule: HostSNI(\`*\`)
      entryPoints: [tcp]
      service: echo
${extra}  services:
    echo:
      loadBalancer:
        servers:
          - address: 127.0.0.1:1
`;
    writeFileSync(file, config(''));
    const sc = loadStaticConfig({
      argv: [
        '--entryPoints.tcp.address=127.0.0.1:0',
        '--entryPoints.traefik.address=127.0.0.1:0',
        `--providers.file.directory=${dir}`,
        '--providers.file.watch=true',
        '--providers.providersThrottleDuration=10ms',
        '--workers=0',
        '--api.insecure=true',
      ],
      env: {},
      cwd: process.cwd(),
    });
    run = await runSingle(sc, pino({ level: 'silent' }));
    await run.ready;
    const api = `http://127.0.0.1:${run.addresses.traefik!.port}/api`;
    type Ev = { type: string; diff?: Record<string, unknown> };
    const first = (await getJson(`${api}/events/history`)).body as Ev[];
    expect(first[0]?.diff?.tcp).toEqual({
      routers: { added: ['echo@file'], removed: [], changed: [] },
      services: { added: ['echo@file'], removed: [], changed: [] },
      middlewares: { added: [], removed: [], changed: [] },
    });
    writeFileSync(
      file,
      config(`    db:
      rule: HostSNI(\`db.test\`)
      entryPoints: [tcp]
      service: echo
      tls:
        passthrough: true
`),
    );
    // the dashboard refreshes its lists on this event: without it a TCP-only change never shows
    const events = await eventually(
      async () => {
        const list = (await getJson(`${api}/events/history`)).body as Ev[];
        expect(list).toHaveLength(2);
        return list;
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    expect(events[1]).toMatchObject({
      type: 'configuration',
      diff: {
        routers: { added: [], removed: [], changed: [] },
        tcp: { routers: { added: ['db@file'], removed: [], changed: [] } },
      },
    });
  });
});

describe('API: UDP routers and services (Traefik shapes)', () => {
  let run: RunningPortico | undefined;
  let api = '';
  let unsupported: string | undefined;

  beforeAll(async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-api-udp-'));
    writeFileSync(
      path.join(dir, 'dynamic.yml'),
      `udp:
  routers:
    dns:
      entryPoints: [dns]
      service: resolver
    orphan:
      entryPoints: [dns]
      service: missing
  services:
    resolver:
      loadBalancer:
        servers:
          - address: 127.0.0.1:5353
`,
    );
    let sc;
    try {
      sc = loadStaticConfig({
        argv: [
          '--entryPoints.dns.address=127.0.0.1:0/udp',
          '--entryPoints.traefik.address=127.0.0.1:0',
          `--providers.file.directory=${dir}`,
          '--workers=0',
          '--api.insecure=true',
        ],
        env: {},
        cwd: process.cwd(),
      });
    } catch (err) {
      // UDP entrypoints arrive with issue 13 item 5; until then these cases wait for them
      if (!/udp entrypoints are not supported yet/.test(String(err))) throw err;
      unsupported = String(err);
      return;
    }
    run = await runSingle(sc, pino({ level: 'silent' }));
    await run.ready;
    if ((run.router!.holder.current as { udp?: unknown }).udp === undefined)
      unsupported = 'the routing table has no UDP part yet (issue 13 item 5)';
    api = `http://127.0.0.1:${run.addresses.traefik!.port}/api`;
  });

  afterAll(async () => {
    await run?.close();
  });

  it('lists UDP routers and services with status, error, using and usedBy', async (ctx) => {
    if (unsupported !== undefined) ctx.skip(unsupported);
    const routers = await getJson(`${api}/udp/routers`);
    expect(names(routers.body)).toEqual(['dns@file', 'orphan@file']);
    expect(routers.headers['x-next-page']).toBe('1');
    const dns = await getJson(`${api}/udp/routers/dns@file`);
    expect(dns.body).toEqual({
      entryPoints: ['dns'],
      service: 'resolver@file',
      status: 'enabled',
      using: ['dns'],
      name: 'dns@file',
      provider: 'file',
    });
    const orphan = await getJson(`${api}/udp/routers/orphan@file`);
    expect(orphan.body).toMatchObject({ status: 'disabled' });
    expect((orphan.body as { error: string[] }).error.join()).toContain('missing@file');
    const disabled = await getJson(`${api}/udp/routers?status=disabled`);
    expect(names(disabled.body)).toEqual(['orphan@file']);
    const resolver = await getJson(`${api}/udp/services/resolver@file`);
    expect(resolver.body).toEqual({
      loadBalancer: { servers: [{ address: '127.0.0.1:5353' }] },
      status: 'enabled',
      usedBy: ['dns@file'],
      name: 'resolver@file',
      provider: 'file',
      type: 'loadbalancer',
    });
    // the entrypoint shows its UDP session timeout as Traefik's UDPConfig does
    const ep = await getJson(`${api}/entrypoints/dns`);
    expect(ep.body).toMatchObject({
      address: '127.0.0.1:0/udp',
      udp: { timeout: '3s' },
      name: 'dns',
    });
    const overview = await getJson(`${api}/overview`);
    expect((overview.body as { udp: unknown }).udp).toEqual({
      routers: { total: 2, warnings: 0, errors: 1 },
      services: { total: 1, warnings: 0, errors: 0 },
    });
  });
});
