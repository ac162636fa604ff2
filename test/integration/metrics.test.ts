/*
 * /metrics from the real command: exact counters and histograms after known
 * traffic on two routers, open connections, config reloads, server health,
 * internal routers left out, and one consistent set of numbers from a
 * cluster whichever worker takes the scrape.
 */
import http from 'node:http';
import https from 'node:https';
import { mkdtempSync, writeFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import selfsigned from 'selfsigned';
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { eventually } from '../helpers/eventually.js';
import { closedPort, freePort, request } from '../helpers/http.js';
import { runPortico, type PorticoProcess } from '../helpers/process.js';
import { useCleanups } from '../helpers/scope.js';

const { defer, upstream } = useCleanups();

interface Started {
  p: PorticoProcess;
  web: number;
  admin: number;
  file: string;
}

function writeConfig(file: string, config: DynamicConfig): void {
  // JSON is YAML; written by rename, as editors do, so the watcher sees one change
  writeFileSync(file + '.tmp', JSON.stringify(config));
  renameSync(file + '.tmp', file);
}

async function start(
  config: DynamicConfig,
  flags: string[],
  metricsAt: (ports: { web: number; admin: number }) => string = ({ admin }) =>
    `http://127.0.0.1:${admin}/metrics`,
): Promise<Started> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-metrics-'));
  const file = path.join(dir, 'dynamic.yml');
  writeConfig(file, config);
  const web = await freePort();
  const admin = await freePort();
  const p = runPortico([
    `--entryPoints.web.address=127.0.0.1:${web}`,
    `--entryPoints.traefik.address=127.0.0.1:${admin}`,
    `--providers.file.filename=${file}`,
    '--metrics.prometheus',
    ...flags,
  ]);
  defer(() => p.stop('SIGKILL'));
  // ready once the configuration is applied; scrapes are internal, so they count nowhere
  const url = metricsAt({ web, admin });
  await eventually(
    async () => expect(value(await scrape(url), 'portico_config_reloads_total')).toBe(1),
    {
      timeoutMs: 15_000,
      intervalMs: 100,
    },
  );
  return { p, web, admin, file };
}

/** a port's /metrics, or a full URL */
async function scrape(at: number | string): Promise<string> {
  const r = await request(typeof at === 'number' ? `http://127.0.0.1:${at}/metrics` : at);
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
  return r.body;
}

/** the value of one sample line, `name{labels}` exactly as exposed; undefined when absent */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function get(
  port: number,
  host: string,
  pathname = '/',
  opts: { method?: string; body?: string } = {},
) {
  return request(`http://127.0.0.1:${port}${pathname}`, { headers: { host }, ...opts });
}

const GET = (code: number) => `code="${code}",method="GET",protocol="http"`;

describe('/metrics in one process', () => {
  it('counts requests per entrypoint, router and service exactly, and leaves internal routers out', async () => {
    const ok = await upstream((req, res) => {
      const missing = req.url === '/missing';
      res.writeHead(missing ? 404 : 200, { 'content-type': 'text/plain' });
      res.end(missing ? 'nope' : 'hello');
    });
    const dead = await closedPort();
    const { web, admin } = await start(
      {
        http: {
          routers: {
            ok: { rule: 'Host(`ok.test`)', service: 'ok' },
            broken: { rule: 'Host(`broken.test`)', service: 'dead' },
          },
          services: {
            ok: { loadBalancer: { servers: [{ url: ok.url }] } },
            dead: { loadBalancer: { servers: [{ url: `http://127.0.0.1:${dead}` }] } },
          },
        },
      },
      ['--workers=0', '--metrics.prometheus.addRoutersLabels', '--ping'],
    );

    for (let i = 0; i < 5; i++) expect((await get(web, 'ok.test')).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await get(web, 'ok.test', '/missing')).status).toBe(404);
    for (let i = 0; i < 3; i++) expect((await get(web, 'broken.test')).status).toBe(502);
    expect((await get(web, 'nobody.test')).status).toBe(404);
    const posted = await get(web, 'ok.test', '/', { method: 'POST', body: 'eleven byte' });
    expect(posted.status).toBe(200);
    expect((await request(`http://127.0.0.1:${admin}/ping`)).status).toBe(200);

    const text = await scrape(admin);
    const ep = (code: number) => `${GET(code)},entrypoint="web"`;
    expect(value(text, `portico_entrypoint_requests_total{${ep(200)}}`)).toBe(5);
    // two from the upstream, one without a router
    expect(value(text, `portico_entrypoint_requests_total{${ep(404)}}`)).toBe(3);
    expect(value(text, `portico_entrypoint_requests_total{${ep(502)}}`)).toBe(3);
    expect(
      value(
        text,
        'portico_entrypoint_requests_total{code="200",method="POST",protocol="http",entrypoint="web"}',
      ),
    ).toBe(1);

    const router = (code: number, name: string, service: string) =>
      `${GET(code)},router="${name}@file",service="${service}@file"`;
    expect(value(text, `portico_router_requests_total{${router(200, 'ok', 'ok')}}`)).toBe(5);
    expect(value(text, `portico_router_requests_total{${router(404, 'ok', 'ok')}}`)).toBe(2);
    expect(value(text, `portico_router_requests_total{${router(502, 'broken', 'dead')}}`)).toBe(3);

    const svc = (code: number, name: string) => `${GET(code)},service="${name}@file"`;
    expect(value(text, `portico_service_requests_total{${svc(200, 'ok')}}`)).toBe(5);
    expect(value(text, `portico_service_requests_total{${svc(404, 'ok')}}`)).toBe(2);
    expect(value(text, `portico_service_requests_total{${svc(502, 'dead')}}`)).toBe(3);
    // "hello" five times; the POST's body counted as request bytes
    expect(value(text, `portico_service_responses_bytes_total{${svc(200, 'ok')}}`)).toBe(25);
    expect(
      value(
        text,
        'portico_service_requests_bytes_total{code="200",method="POST",protocol="http",service="ok@file"}',
      ),
    ).toBe(11);

    // histogram: every bucket line and the count agree with the counter (all far under 5 s)
    const h = `portico_service_request_duration_seconds`;
    expect(value(text, `${h}_count{${svc(200, 'ok')}}`)).toBe(5);
    expect(value(text, `${h}_bucket{${svc(200, 'ok')},le="5"}`)).toBe(5);
    expect(value(text, `${h}_bucket{${svc(200, 'ok')},le="+Inf"}`)).toBe(5);
    expect(value(text, `${h}_sum{${svc(200, 'ok')}}`)).toBeGreaterThan(0);
    expect(text).toContain(`# TYPE ${h} histogram`);

    // /ping and /metrics themselves are internal: counted nowhere
    expect(text).not.toMatch(/@internal/);
    // (404s from the readiness polls before the first configuration do count there)
    expect(text).not.toMatch(/requests_total\{code="200"[^}]*entrypoint="traefik"/);
    expect(text).toMatch(/^portico_process_cpu_user_seconds_total /m);
  });

  it('shows open connections, server health, and each config reload', async () => {
    const healthy = await upstream((_req, res) => res.end('ok'));
    const sick = await upstream((req, res) => {
      res.writeHead(req.url === '/health' ? 500 : 200);
      res.end();
    });
    const config: DynamicConfig = {
      http: {
        routers: { app: { rule: 'Host(`app.test`)', service: 'app' } },
        services: {
          app: {
            loadBalancer: {
              servers: [{ url: healthy.url }, { url: sick.url }],
              healthCheck: { path: '/health', interval: '100ms', timeout: '500ms' },
            },
          },
        },
      },
    };
    const { web, admin, file } = await start(config, [
      '--workers=0',
      '--providers.file.watch=true',
    ]);

    const up = (url: string) => `portico_service_server_up{service="app@file",url="${url}"}`;
    await eventually(async () => {
      const text = await scrape(admin);
      expect(value(text, up(healthy.url))).toBe(1);
      expect(value(text, up(sick.url))).toBe(0);
    });

    // a kept-alive client connection shows until it closes
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    defer(() => agent.destroy());
    const kept = await request(`http://127.0.0.1:${web}/`, {
      headers: { host: 'app.test' },
      agent,
    });
    expect(kept.status).toBe(200);
    const open = (ep: string) => `portico_open_connections{entrypoint="${ep}",protocol="TCP"}`;
    await eventually(async () => {
      const text = await scrape(admin);
      expect(value(text, open('web'))).toBe(1);
      // the scrape's own connection
      expect(value(text, open('traefik'))).toBe(1);
    });
    agent.destroy();
    await eventually(async () => expect(value(await scrape(admin), open('web'))).toBe(0));

    const before = value(await scrape(admin), 'portico_config_last_reload_success')!;
    expect(before).toBeGreaterThan(1_600_000_000);
    writeConfig(file, {
      http: {
        ...config.http,
        routers: { ...config.http!.routers, other: { rule: 'Host(`other.test`)', service: 'app' } },
      },
    });
    await eventually(
      async () => expect(value(await scrape(admin), 'portico_config_reloads_total')).toBe(2),
      {
        timeoutMs: 5000,
      },
    );
    expect(value(await scrape(admin), 'portico_config_last_reload_success')).toBeGreaterThanOrEqual(
      before,
    );
  });

  it('serves prometheus@internal only where the user routes it with manualRouting', async () => {
    const { web, admin } = await start(
      {
        http: {
          routers: {
            mine: {
              rule: 'Path(`/custom-metrics`)',
              service: 'prometheus@internal',
              entryPoints: ['web'],
            },
          },
        },
      },
      ['--workers=0', '--metrics.prometheus.manualRouting'],
      ({ web }) => `http://127.0.0.1:${web}/custom-metrics`,
    );
    expect((await request(`http://127.0.0.1:${admin}/metrics`)).status).toBe(404);
    const text = await scrape(`http://127.0.0.1:${web}/custom-metrics`);
    // a user's router is not internal: its scrapes count like any request
    expect(
      value(text, `portico_entrypoint_requests_total{${GET(200)},entrypoint="web"}`),
    ).toBeGreaterThan(0);
  });
});

describe('/metrics over TLS', () => {
  it('counts TLS requests by version and cipher and exposes certificate expiry', async () => {
    const up = await upstream((_req, res) => res.end('secure'));
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'secure.test' }], {
      keyType: 'ec',
      extensions: [
        { name: 'subjectAltName', altNames: [{ type: 2 as const, value: 'secure.test' }] },
      ],
    });
    const secure = await freePort();
    const { admin } = await start(
      {
        http: {
          routers: {
            app: {
              rule: 'Host(`secure.test`)',
              service: 'app',
              entryPoints: ['websecure'],
              tls: {},
            },
          },
          services: { app: { loadBalancer: { servers: [{ url: up.url }] } } },
        },
        tls: { certificates: [{ certFile: pems.cert, keyFile: pems.private }] },
      },
      [
        '--workers=0',
        `--entryPoints.websecure.address=127.0.0.1:${secure}`,
        '--entryPoints.websecure.http.tls',
      ],
    );
    const versions = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = https.request(
          {
            host: '127.0.0.1',
            port: secure,
            servername: 'secure.test',
            headers: { host: 'secure.test' },
            rejectUnauthorized: false,
            agent: false,
          },
          (res) => {
            versions.add(String((res.socket as import('node:tls').TLSSocket).getProtocol()));
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(200);
    }
    const text = await scrape(admin);
    const tlsLines = text
      .split('\n')
      .filter((l) => l.startsWith('portico_entrypoint_requests_tls_total{'));
    expect(tlsLines).toHaveLength(1);
    const version = [...versions][0]!.replace('TLSv', '');
    expect(tlsLines[0]).toMatch(
      new RegExp(
        `^portico_entrypoint_requests_tls_total\\{tls_version="${version.replace('.', '\\.')}",tls_cipher="TLS_[A-Z0-9_]+",entrypoint="websecure"\\} 3$`,
      ),
    );
    const cert = text
      .split('\n')
      .find((l) => l.startsWith('portico_tls_certs_not_after{') && l.includes('secure.test'));
    expect(cert).toBeDefined();
    expect(Number(cert!.split(' ').pop())).toBeGreaterThan(Date.now() / 1000);
  });
});

describe('/metrics in a cluster', () => {
  it('sums the requests every worker served, whichever worker takes the scrape', async () => {
    const sockets = new Set<string>();
    const up = await upstream((req, res) => {
      sockets.add(`${req.socket.remotePort}`);
      res.end('hi');
    });
    const { p, web, admin } = await start(
      {
        http: {
          routers: { app: { rule: 'Host(`app.test`)', service: 'app' } },
          services: { app: { loadBalancer: { servers: [{ url: up.url }] } } },
        },
      },
      ['--workers=2'],
    );
    // both workers serving with the configuration applied
    await eventually(
      () => {
        const pids = new Set(
          p.lines.filter((r) => r.msg === 'configuration applied').map((r) => r.worker),
        );
        expect(pids.size).toBe(2);
      },
      { timeoutMs: 15_000 },
    );
    const n = 40;
    // a fresh client connection each time: the primary hands connections to workers in turn
    for (let i = 0; i < n; i++) expect((await get(web, 'app.test')).status).toBe(200);
    // each worker keeps its own upstream pool: two upstream connections at least mean both served
    expect(sockets.size).toBeGreaterThanOrEqual(2);
    const series = `portico_service_requests_total{${GET(200)},service="app@file"}`;
    await eventually(async () => expect(value(await scrape(admin), series)).toBe(n), {
      timeoutMs: 5000,
    });
    for (let i = 0; i < 4; i++) {
      const text = await scrape(admin);
      expect(value(text, series)).toBe(n);
      expect(value(text, `portico_entrypoint_requests_total{${GET(200)},entrypoint="web"}`)).toBe(
        n,
      );
      expect(
        value(
          text,
          `portico_service_request_duration_seconds_count{${GET(200)},service="app@file"}`,
        ),
      ).toBe(n);
      expect(value(text, 'portico_config_reloads_total')).toBe(1);
    }
  });
});
