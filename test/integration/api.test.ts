/*
 * The API against the real runtime (file provider, real upstreams): golden
 * JSON for each endpoint (test/fixtures/api/*.json, with ports and times
 * normalised; UPDATE_GOLDEN=1 rewrites them), list criteria, the event stream's
 * swap diff, readiness, exposure rules (off by default, insecure mode, secure
 * mode through a router with basicAuth) and the cluster relay to the primary.
 */
import { mkdtempSync, readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino, type Logger } from 'pino';
import selfsigned from 'selfsigned';
import { createHash } from 'node:crypto';
import { loadStaticConfig } from '../../src/config/static.js';
import { createLogger } from '../../src/observability/logger.js';
import { buildDockerConfig, type ContainerInfo } from '../../providers/docker/build.js';
import { runSingle, type RunningPortico } from '../../src/runtime.js';
import { request } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { eventually } from '../helpers/eventually.js';
import { runPortico, type PorticoProcess } from '../helpers/process.js';

const GOLDEN = path.resolve(import.meta.dirname, '../fixtures/api');
// basicAuth user "admin", password "secret" (bcrypt)
const ADMIN = 'admin:$2y$05$lmWz7pLHCNaI4XVfV9j8S..xk.Zi3URjEX/cr6DYLFJqcLWSYeV..';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function tmpDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'portico-api-'));
}

function dynamicYaml(upstream: Upstream, extra = ''): string {
  return `http:
  routers:
    whoami:
      rule: Host(\`whoami.test\`) && PathPrefix(\`/app\`)
      entryPoints: [web]
      middlewares: [strip, auth]
      service: app
    broken:
      rule: Host(\`broken.test\` && Path(\`/\`)
      entryPoints: [web]
      service: app
    lost:
      rule: Host(\`lost.test\`)
      entryPoints: [web]
      middlewares: [missing]
      service: app
${extra}  services:
    app:
      loadBalancer:
        servers:
          - url: ${upstream.url}
        healthCheck:
          path: /health
          interval: 100ms
    spare:
      loadBalancer:
        servers:
          - url: http://127.0.0.1:1
  middlewares:
    strip:
      stripPrefix:
        prefixes: [/app]
    gzip:
      compress:
        minResponseBodyBytes: 100
    auth:
      basicAuth:
        users:
          - "${ADMIN}"
`;
}

interface Started {
  run: RunningPortico;
  api: string;
  web: string;
  dir: string;
  file: string;
  upstream: Upstream;
}

async function start(
  flags: string[] = ['--api.insecure=true'],
  extra = '',
  tail = '',
  more: { files?: (upstream: Upstream) => Record<string, string>; logger?: Logger } = {},
): Promise<Started> {
  const upstream = await startUpstream('app');
  cleanups.push(() => upstream.close());
  const dir = tmpDir();
  const file = path.join(dir, 'dynamic.yml');
  writeFileSync(file, dynamicYaml(upstream, extra) + tail);
  for (const [name, text] of Object.entries(more.files?.(upstream) ?? {}))
    writeFileSync(path.join(dir, name), text);
  const sc = loadStaticConfig({
    argv: [
      '--entryPoints.web.address=127.0.0.1:0',
      '--entryPoints.traefik.address=127.0.0.1:0',
      `--providers.file.directory=${dir}`,
      '--providers.file.watch=true',
      '--providers.providersThrottleDuration=10ms',
      '--workers=0',
      ...flags,
    ],
    env: {},
    cwd: process.cwd(),
  });
  const run = await runSingle(sc, more.logger ?? pino({ level: 'silent' }));
  cleanups.push(() => run.close());
  await run.ready;
  const a = run.addresses;
  return {
    run,
    api: `http://127.0.0.1:${a.traefik!.port}`,
    web: `http://127.0.0.1:${a.web!.port}`,
    dir,
    file,
    upstream,
  };
}

async function getJson(
  url: string,
): Promise<{ status: number; body: unknown; headers: http.IncomingHttpHeaders }> {
  const r = await request(url);
  return {
    status: r.status,
    headers: r.headers,
    body: r.body === '' ? undefined : JSON.parse(r.body),
  };
}

/** ports and times change from run to run: the golden files hold placeholders */
function normalise(value: unknown, upstreamPort: number): unknown {
  const text = JSON.stringify(value, null, 2)
    .replaceAll(`127.0.0.1:${upstreamPort}`, '127.0.0.1:UPSTREAM')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z/g, 'TIME')
    .replace(/"compileMs": [\d.]+/g, '"compileMs": 0');
  return JSON.parse(text) as unknown;
}

function golden(name: string, actual: unknown): void {
  const file = path.join(GOLDEN, `${name}.json`);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
    if (process.env.CI === 'true') throw new Error(`golden file missing in CI: ${file}`);
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, JSON.stringify(actual, null, 2) + '\n');
  }
  expect(actual).toEqual(JSON.parse(readFileSync(file, 'utf8')));
}

describe('API endpoints (golden JSON)', () => {
  it('serves each endpoint in Traefik shape, with status, errors, usedBy and server health', async () => {
    const s = await start();
    // the health check must have run once so the server shows UP
    await eventually(async () => {
      const r = await getJson(`${s.api}/api/http/services/app@file`);
      expect((r.body as { serverStatus?: Record<string, string> }).serverStatus).toEqual({
        [s.upstream.url]: 'UP',
      });
    });
    const port = s.upstream.port;
    for (const [name, endpoint] of [
      ['overview', '/api/overview'],
      ['entrypoints', '/api/entrypoints'],
      ['entrypoint-web', '/api/entrypoints/web'],
      ['routers', '/api/http/routers'],
      ['router-whoami', '/api/http/routers/whoami@file'],
      ['router-broken', '/api/http/routers/broken@file'],
      ['services', '/api/http/services'],
      ['service-app', '/api/http/services/app@file'],
      ['middlewares', '/api/http/middlewares'],
      ['middleware-auth', '/api/http/middlewares/auth@file'],
      ['rawdata', '/api/rawdata'],
      ['providers', '/api/providers'],
      ['certificates', '/api/certificates'],
    ] as const) {
      const r = await getJson(s.api + endpoint);
      expect(r.status, endpoint).toBe(200);
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
      golden(name, normalise(r.body, port));
    }
    const v = await getJson(`${s.api}/api/version`);
    expect((v.body as { Version: string }).Version).toMatch(/^\d+\.\d+\.\d+/);
    golden('version', normalise({ ...(v.body as object), Version: 'VERSION' }, port));
    // the event history and an explanation are JSON too (the stream itself is tested below)
    golden('events-history', normalise((await getJson(`${s.api}/api/events/history`)).body, port));
    const explained = await getJson(
      `${s.api}/api/explain?url=${encodeURIComponent('http://whoami.test/app/x?q=1')}&method=POST&header=X-Test:1`,
    );
    golden('explain', normalise(explained.body, port));
  });

  it('never shows secrets: basicAuth hashes are redacted', async () => {
    const s = await start();
    const r = await request(`${s.api}/api/rawdata`);
    expect(r.body).not.toContain('$2y$');
    const m = await getJson(`${s.api}/api/http/middlewares/auth@file`);
    expect(m.body).toMatchObject({ basicAuth: { users: ['admin:xxxx'] } });
  });

  it('filters, sorts and pages lists like Traefik (search, status, per_page, X-Next-Page)', async () => {
    const s = await start();
    const disabled = await getJson(`${s.api}/api/http/routers?status=disabled`);
    expect((disabled.body as { name: string }[]).map((r) => r.name)).toEqual([
      'broken@file',
      'lost@file',
    ]);
    const search = await getJson(`${s.api}/api/http/routers?search=whoami.test`);
    expect((search.body as { name: string }[]).map((r) => r.name)).toEqual(['whoami@file']);
    const page1 = await getJson(`${s.api}/api/http/services?per_page=2&page=1`);
    expect((page1.body as unknown[]).length).toBe(2);
    expect(page1.headers['x-next-page']).toBe('2');
    const all = await getJson(`${s.api}/api/http/services?per_page=100`);
    expect(all.headers['x-next-page']).toBe('1');
    const beyond = await getJson(`${s.api}/api/http/services?per_page=2&page=50`);
    expect(beyond.status).toBe(400);
    const desc = await getJson(`${s.api}/api/http/routers?sortBy=name&direction=desc&search=@file`);
    expect((desc.body as { name: string }[]).map((r) => r.name)).toEqual([
      'whoami@file',
      'lost@file',
      'broken@file',
    ]);
    const bad = await getJson(`${s.api}/api/http/routers?per_page=zero`);
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({
      message: 'invalid request: per_page must be a positive integer, got "zero"',
    });
  });

  it('answers 404 with a message for unknown objects and endpoints, 405 for writes', async () => {
    const s = await start();
    const r = await getJson(`${s.api}/api/http/routers/nope@file`);
    expect(r).toMatchObject({ status: 404, body: { message: 'router not found: nope@file' } });
    const e = await getJson(`${s.api}/api/nothing`);
    expect(e.status).toBe(404);
    const post = await request(`${s.api}/api/overview`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it('explains which router takes a request', async () => {
    const s = await start();
    const r = await getJson(
      `${s.api}/api/explain?url=${encodeURIComponent('http://whoami.test/app/x')}&entryPoint=web`,
    );
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      matched: {
        router: 'whoami@file',
        service: 'app@file',
        middlewares: ['strip@file', 'auth@file'],
      },
    });
    const missing = await getJson(`${s.api}/api/explain`);
    expect(missing.status).toBe(400);
  });
});

/** reads server-sent events until `until` returns true for one (bounded by timeoutMs) */
function readEvents(
  url: string,
  until: (event: { type: string; data: Record<string, unknown> }) => boolean,
  timeoutMs = 8000,
  headers: http.OutgoingHttpHeaders = {},
): { done: Promise<{ type: string; data: Record<string, unknown> }[]>; opened: Promise<void> } {
  let opened!: () => void;
  const openedP = new Promise<void>((r) => (opened = r));
  const done = new Promise<{ type: string; data: Record<string, unknown> }[]>((resolve, reject) => {
    const events: { type: string; data: Record<string, unknown> }[] = [];
    const req = http.get(url, { headers }, (res) => {
      expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      opened();
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let end: number;
        while ((end = buf.indexOf('\n\n')) !== -1) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type === undefined || data === undefined) continue;
          const ev = { type, data: JSON.parse(data) as Record<string, unknown> };
          events.push(ev);
          if (until(ev)) {
            clearTimeout(timer);
            req.destroy();
            resolve(events);
          }
        }
      });
    });
    req.on('error', () => undefined);
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(events)}`));
    }, timeoutMs);
  });
  return { done, opened: openedP };
}

describe('event stream', () => {
  it('delivers each configuration swap with its diff, and provider errors', async () => {
    const s = await start();
    const stream = readEvents(
      `${s.api}/api/events`,
      (e) => e.type === 'configuration' && (e.data.version as number) > 1,
    );
    await stream.opened;
    // change one router's rule, add one, remove one
    const next = readFileSync(s.file, 'utf8')
      .replace('PathPrefix(`/app`)', 'PathPrefix(`/v2`)')
      .replace(
        '    lost:\n      rule: Host(`lost.test`)\n      entryPoints: [web]\n      middlewares: [missing]\n      service: app\n',
        '    fresh:\n      rule: Host(`fresh.test`)\n      service: app\n',
      );
    writeFileSync(s.file, next);
    const events = await stream.done;
    // history first: the initial configuration (everything added)
    expect(events[0]).toMatchObject({ type: 'configuration' });
    expect((events[0]!.data.diff as { routers: { added: string[] } }).routers.added).toEqual([
      'broken@file',
      'lost@file',
      'whoami@file',
    ]);
    const swap = events.at(-1)!.data;
    expect(swap.diff).toEqual({
      routers: {
        added: ['fresh@file'],
        removed: ['lost@file'],
        changed: [{ name: 'whoami@file', fields: ['rule'] }],
      },
      services: { added: [], removed: [], changed: [] },
      middlewares: { added: [], removed: [], changed: [] },
    });
    // a file that stops parsing is a provider event naming the file, and the last good config stays
    const errStream = readEvents(
      `${s.api}/api/events?after=${swap.id as number}`,
      (e) => e.type === 'provider',
    );
    await errStream.opened;
    writeFileSync(s.file, 'http:\n  routers: [oops\n');
    const errEvents = await errStream.done;
    const provider = errEvents.at(-1)!.data;
    expect(provider.provider).toBe('file');
    expect(JSON.stringify(provider.errors)).toContain('dynamic.yml');
    const history = await getJson(`${s.api}/api/events/history`);
    expect((history.body as { type: string }[]).map((e) => e.type)).toEqual([
      'configuration',
      'configuration',
      'provider',
    ]);
    const routers = await getJson(`${s.api}/api/http/routers/fresh@file`);
    expect(routers.status).toBe(200);
  });
});

describe('certificates', () => {
  it('lists file certificates and the default one with expiry; near expiry is a warning', async () => {
    const soon = new Date(Date.now() + 10 * 86_400_000);
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'shop.test' }], {
      keyType: 'ec',
      notAfterDate: soon,
      extensions: [
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2 as const, value: 'shop.test' },
            { type: 2 as const, value: 'www.shop.test' },
          ],
        },
      ],
    });
    const indent = (pem: string): string => pem.trim().split('\n').join('\n          ');
    const s = await start(
      [
        '--api.insecure=true',
        '--entryPoints.websecure.address=127.0.0.1:0',
        '--entryPoints.websecure.http.tls=true',
      ],
      '',
      `tls:
  certificates:
    - certFile: |
          ${indent(pems.cert)}
      keyFile: |
          ${indent(pems.private)}
`,
    );
    const r = await getJson(`${s.api}/api/certificates`);
    const list = r.body as Record<string, unknown>[];
    const shop = list.find((c) => (c.domains as string[]).includes('www.shop.test'));
    expect(shop).toMatchObject({
      name: 'shop.test',
      domains: ['shop.test', 'www.shop.test'],
      source: 'file',
      status: 'warning',
      daysLeft: 9,
    });
    expect(Date.parse(shop!.notAfter as string)).toBeCloseTo(soon.getTime(), -4);
    expect(list.find((c) => c.source === 'default')).toMatchObject({ status: 'enabled' });
    const overview = await getJson(`${s.api}/api/overview`);
    expect((overview.body as { certificates: unknown }).certificates).toEqual({
      total: 2,
      warnings: 1,
      errors: 0,
    });
  });
});

describe('exposure and health', () => {
  it('has no API unless enabled; with api but not insecure, /api is not routed on its own', async () => {
    const off = await start([]);
    expect((await request(`${off.api}/api/overview`)).status).toBe(404);
    const secure = await start(['--api=true']);
    expect((await request(`${secure.api}/api/overview`)).status).toBe(404);
  });

  it('secure mode: a user router to api@internal with basicAuth', async () => {
    const s = await start(
      ['--api=true'],
      `    dashboard:
      rule: Host(\`admin.test\`) && (PathPrefix(\`/api\`) || PathPrefix(\`/dashboard\`))
      entryPoints: [web]
      middlewares: [auth, gzip]
      service: api@internal
`,
    );
    const anon = await request(`${s.web}/api/overview`, { headers: { host: 'admin.test' } });
    expect(anon.status).toBe(401);
    const auth = 'Basic ' + Buffer.from('admin:secret').toString('base64');
    const ok = await request(`${s.web}/api/http/routers/dashboard@file`, {
      headers: { host: 'admin.test', authorization: auth },
    });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ service: 'api@internal', status: 'enabled' });
    const page = await request(`${s.web}/dashboard/`, {
      headers: { host: 'admin.test', authorization: auth, 'accept-encoding': 'gzip' },
    });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    // the router's middlewares apply to api@internal's answers like to any service's
    expect(page.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(page.bytes).toString()).toContain('<!doctype html>');
    // ...and the event stream still arrives event by event (compress leaves text/event-stream alone)
    const events = await readEvents(
      `${s.web}/api/events`,
      (e) => e.type === 'configuration',
      5000,
      {
        host: 'admin.test',
        authorization: auth,
        'accept-encoding': 'gzip',
      },
    ).done;
    expect(events[0]!.data.version).toBe(1);
  });

  it('redirects / to the dashboard on the traefik entrypoint', async () => {
    const s = await start();
    const r = await request(`${s.api}/`);
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe('/dashboard/');
  });

  it('readiness: /ready answers 200 once a configuration is applied; /ping stays liveness', async () => {
    const s = await start(['--api.insecure=true', '--ping=true']);
    const ready = await request(`${s.api}/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body).toBe('Ready');
    expect((await request(`${s.api}/ping`)).body).toBe('OK');
    expect((await getJson(`${s.api}/api/ready`)).body).toEqual({ ready: true });
  });
});

describe('cluster', () => {
  let proc: PorticoProcess | undefined;
  afterEach(async () => {
    await proc?.stop();
    proc = undefined;
  });

  it('workers relay the API to the primary, event stream included', async () => {
    const upstream = await startUpstream('app');
    cleanups.push(() => upstream.close());
    const dir = tmpDir();
    const file = path.join(dir, 'dynamic.yml');
    writeFileSync(file, dynamicYaml(upstream));
    const { freePort } = await import('../helpers/http.js');
    const apiPort = await freePort();
    proc = runPortico([
      '--entryPoints.web.address=127.0.0.1:0',
      `--entryPoints.traefik.address=127.0.0.1:${apiPort}`,
      '--api.insecure=true',
      `--providers.file.directory=${dir}`,
      '--providers.file.watch=true',
      '--workers=2',
    ]);
    const api = `http://127.0.0.1:${apiPort}`;
    const overview = await eventually(
      async () => {
        const r = await getJson(`${api}/api/overview`);
        expect(r.status).toBe(200);
        return r.body as { http: { routers: { total: number; errors: number } } };
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    // 3 file routers + api@internal + dashboard@internal; broken and lost are errors
    expect(overview.http.routers).toEqual({ total: 5, warnings: 0, errors: 2 });
    const stream = readEvents(`${api}/api/events`, (e) =>
      JSON.stringify(e.data).includes('late@file'),
    );
    await stream.opened;
    writeFileSync(
      file,
      dynamicYaml(upstream, '    late:\n      rule: Host(`late.test`)\n      service: app\n'),
    );
    const events = await stream.done;
    expect(events.at(-1)!.data.diff).toMatchObject({ routers: { added: ['late@file'] } });
  });
});

/*
 * Issue 11, item 8: one redaction rule set for every API answer and every log line that can
 * carry configuration. Each kind of secret is configured for real (file provider; Docker label
 * diagnostics through the translator the Docker provider uses), every endpoint that shows
 * configuration is read, and no secret may appear in any body while the non-secret values stay.
 */
describe('secrets', () => {
  const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
  // digestAuth users are name:realm:md5(name:realm:password)
  const DIGEST_HA1 = md5('dig:traefik:digest-password');
  /** every value here is a secret and must never leave through the API or the log */
  const SECRETS = [
    'S1-authz-secret',
    'S2-apikey-secret',
    'S3-cookie-secret',
    'S4-urlpass-secret',
    'S5-hc-secret',
    'S6-fapass-secret',
    'S7-ftppass-secret',
    'S10-redir-secret',
    'S11-rule-secret',
    'S13-label-secret',
    'S16-label-token',
    'S17-query-secret',
    // the JSON parser quotes the 10 characters after the bad token
    'S18-json-s',
    '$2y$05$',
    DIGEST_HA1,
  ];

  async function secretFiles(): Promise<{
    files: (u: Upstream) => Record<string, string>;
    keyLines: string[];
    certLine: string;
  }> {
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'client.test' }], {
      keyType: 'ec',
    });
    const indent = (pem: string): string => pem.trim().split('\n').join('\n            ');
    // the base64 lines of the private key: none may show anywhere
    const keyLines = pems.private
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('-----'));
    const certLine = pems.cert.trim().split('\n')[1]!;
    const files = (u: Upstream): Record<string, string> => ({
      'secrets.yml': `http:
  routers:
    secret:
      rule: Host(\`secret.test\`) && Header(\`X-Api-Key\`, \`S11-rule-secret\`)
      entryPoints: [web]
      middlewares: [hdr, digest, redir, fa-tls]
      service: creds
    refused:
      rule: Host(\`refused.test\`)
      entryPoints: [web]
      middlewares: [fa-creds, fa-bad]
      service: creds
  services:
    creds:
      loadBalancer:
        servers:
          - url: http://svcuser:S4-urlpass-secret@127.0.0.1:${u.port}
        healthCheck:
          path: /health
          interval: 100ms
          headers:
            Authorization: Basic S5-hc-secret
            X-Probe: visible-probe-value
  middlewares:
    hdr:
      headers:
        customRequestHeaders:
          Authorization: Bearer S1-authz-secret
          X-Api-Key: S2-apikey-secret
          X-Visible: visible-request-value
        customResponseHeaders:
          Set-Cookie: session=S3-cookie-secret
          X-Note: visible-response-value
    fa-creds:
      forwardAuth:
        address: http://fauser:S6-fapass-secret@127.0.0.1:1/auth
    fa-bad:
      forwardAuth:
        address: ftp://ftpuser:S7-ftppass-secret@127.0.0.1/auth
    fa-tls:
      forwardAuth:
        address: https://127.0.0.1:1/auth
        tls:
          cert: |
            ${indent(pems.cert)}
          key: |
            ${indent(pems.private)}
    digest:
      digestAuth:
        users:
          - "dig:traefik:${DIGEST_HA1}"
    redir:
      redirectRegex:
        regex: ^http://old\\.test/(.*)
        replacement: https://ruser:S10-redir-secret@new.test/\${1}
`,
      // a file that does not parse: the parser quotes the text around the error
      'broken.json':
        '{"http": {"middlewares": {"h": {"headers": {"customRequestHeaders": {"X-Api-Key": S18-json-secret}}}}}}',
    });
    return { files, keyLines, certLine };
  }

  /** Docker label diagnostics as the Docker provider hands them to the API (runtime.ts probeOf) */
  function dockerDiagnostics() {
    const result = buildDockerConfig(
      [
        {
          id: 'c0ffee',
          name: 'web-1',
          labels: {
            'traefik.http.routers.web.rule': 'Host(`web.test`)',
            // a typo in the option name: the diagnostic quotes the label and its value
            'traefik.http.middlewares.h.headers.customrequestheader.Authorization':
              'Bearer S13-label-secret',
            'traefik.http.middlewares.p.plugin.x.token': 'S16-label-token',
            'traefik.http.middlewares.h.headers.stsseconds': 'visible-not-a-number',
          },
          state: { status: 'running' },
          networks: {},
          ports: [],
        } as unknown as ContainerInfo,
      ],
      { exposedByDefault: true, defaultRule: 'Host(`x.test`)', allowEmptyServices: true },
    );
    return {
      result,
      diagnostics: result.diagnostics.map((d) => ({
        object: d.container,
        field: d.key,
        value: d.value,
        message: d.message,
        level: d.level,
      })),
    };
  }

  function assertNoSecret(where: string, text: string, keyLines: string[]): void {
    for (const secret of [...SECRETS, ...keyLines]) {
      expect(text.includes(secret), `${where} shows ${secret}`).toBe(false);
    }
  }

  it('no API answer shows a secret; the non-secret values stay, in Traefik shape', async () => {
    const { files, keyLines, certLine } = await secretFiles();
    const s = await start(['--api.insecure=true'], '', '', { files });
    const docker = dockerDiagnostics();
    s.run.control!.registerProvider('docker', { diagnostics: () => docker.diagnostics });
    s.run.control!.onSnapshot({
      provider: 'docker',
      config: docker.result.config,
      errors: docker.result.errors,
    });
    // the file provider has read both files: the routers exist and broken.json is reported
    await eventually(async () => {
      const r = await getJson(`${s.api}/api/http/routers/secret@file`);
      expect(r.status).toBe(200);
      const p = await request(`${s.api}/api/providers/file`);
      expect(p.body).toContain('broken.json');
    });
    const stream = readEvents(`${s.api}/api/events`, (e) => e.type === 'provider', 8000);
    await stream.opened;
    const streamed = JSON.stringify(await stream.done);

    const endpoints = [
      '/api/rawdata',
      '/api/overview',
      '/api/http/routers',
      '/api/http/routers/secret@file',
      '/api/http/routers/refused@file',
      '/api/http/services',
      '/api/http/services/creds@file',
      '/api/http/middlewares',
      ...['hdr', 'fa-creds', 'fa-bad', 'fa-tls', 'digest', 'redir', 'auth'].map(
        (m) => `/api/http/middlewares/${m}@file`,
      ),
      '/api/providers',
      '/api/providers/docker',
      '/api/events/history',
      '/api/entrypoints',
      '/api/certificates',
      // the caller's own header and query values are echoed by explain's reasons
      `/api/explain?url=${encodeURIComponent('http://secret.test/x?token=S17-query-secret')}&header=X-Api-Key:S11-rule-secret`,
      `/api/explain?url=${encodeURIComponent('http://refused.test/')}&entryPoint=web`,
    ];
    const bodies: Record<string, string> = { '/api/events (stream)': streamed };
    for (const endpoint of endpoints) {
      const r = await request(s.api + endpoint);
      expect(r.status, endpoint).toBe(200);
      bodies[endpoint] = r.body;
      assertNoSecret(endpoint, r.body, keyLines);
    }
    assertNoSecret('/api/events', streamed, keyLines);

    // only values change: the shapes, the names and every non-secret value are still there
    const mw = (name: string) =>
      JSON.parse(bodies[`/api/http/middlewares/${name}@file`]!) as Record<string, any>;
    expect(mw('hdr').headers).toEqual({
      customRequestHeaders: {
        Authorization: 'xxxx',
        'X-Api-Key': 'xxxx',
        'X-Visible': 'visible-request-value',
      },
      customResponseHeaders: { 'Set-Cookie': 'xxxx', 'X-Note': 'visible-response-value' },
    });
    expect(mw('hdr')).toMatchObject({ status: 'enabled', type: 'headers', name: 'hdr@file' });
    expect(mw('fa-creds')).toMatchObject({
      forwardAuth: { address: 'http://fauser:xxxx@127.0.0.1:1/auth' },
      status: 'disabled',
      error: [expect.stringContaining('must not carry credentials')],
    });
    expect(mw('fa-bad').forwardAuth.address).toBe('ftp://ftpuser:xxxx@127.0.0.1/auth');
    expect(mw('fa-bad').error[0]).toContain('ftp://ftpuser:xxxx@127.0.0.1/auth');
    expect(mw('fa-tls').forwardAuth).toMatchObject({
      address: 'https://127.0.0.1:1/auth',
      tls: { key: 'xxxx', cert: expect.stringContaining(certLine) },
    });
    expect(mw('digest').digestAuth).toEqual({ users: ['dig:traefik:xxxx'] });
    expect(mw('auth').basicAuth).toEqual({ users: ['admin:xxxx'] });
    expect(mw('redir').redirectRegex).toEqual({
      regex: '^http://old\\.test/(.*)',
      replacement: 'https://ruser:xxxx@new.test/${1}',
    });
    const creds = JSON.parse(bodies['/api/http/services/creds@file']!) as Record<string, any>;
    const serverUrl = `http://svcuser:xxxx@127.0.0.1:${s.upstream.port}`;
    expect(creds.loadBalancer.servers).toEqual([{ url: serverUrl }]);
    expect(creds.loadBalancer.healthCheck.headers).toEqual({
      Authorization: 'xxxx',
      'X-Probe': 'visible-probe-value',
    });
    expect(Object.keys(creds.serverStatus as object)).toEqual([serverUrl]);
    const router = JSON.parse(bodies['/api/http/routers/secret@file']!) as Record<string, any>;
    expect(router).toMatchObject({
      rule: 'Host(`secret.test`) && Header(`X-Api-Key`, `xxxx`)',
      status: 'enabled',
      service: 'creds@file',
    });
    const explained = JSON.parse(bodies[endpoints.at(-2)!]!) as Record<string, any>;
    expect(explained.matched).toMatchObject({ router: 'secret@file', service: 'creds@file' });
    expect(explained.matched.servers).toEqual([{ url: serverUrl, status: expect.any(String) }]);
    const dockerView = JSON.parse(bodies['/api/providers/docker']!) as Record<string, any>;
    const diag = (field: string) =>
      (dockerView.diagnostics as Record<string, string>[]).find((d) => d.field!.endsWith(field))!;
    expect(diag('customrequestheader.Authorization')).toMatchObject({
      object: 'web-1',
      value: 'xxxx',
      message: expect.stringContaining('did you mean "customRequestHeaders"'),
    });
    expect(diag('plugin.x.token').value).toBe('xxxx');
    // a bad value that is no secret is still shown: it is what the operator has to fix
    expect(diag('stsseconds').value).toBe('visible-not-a-number');
    // the file that does not parse is still reported with its position
    expect(bodies['/api/providers']).toContain('broken.json:1:');
  });

  it('no log line shows a secret: provider errors, element errors and label diagnostics', async () => {
    const { files, keyLines } = await secretFiles();
    const logFile = path.join(tmpDir(), 'portico.log');
    const logger = createLogger({ level: 'debug', format: 'json', filePath: logFile });
    const s = await start(['--api.insecure=true'], '', '', { files, logger });
    await eventually(() => {
      const text = readFileSync(logFile, 'utf8');
      expect(text).toContain('broken.json');
      expect(text).toContain('fa-bad@file');
    });
    // the Docker provider's record for a bad label (providers/docker/index.ts): label, value, reason
    const log = logger.child({ provider: 'docker' });
    for (const d of dockerDiagnostics().result.diagnostics) {
      const rec = { container: d.container, label: d.key, value: d.value };
      log.error(
        rec,
        `container ${d.container}: label ${d.key}=${JSON.stringify(d.value)}: ${d.message}`,
      );
    }
    // an error object whose message quotes a URL with credentials
    log.warn({ err: new Error('connect to http://u:S4-urlpass-secret@127.0.0.1:1 failed') }, 'x');
    await s.run.close();
    const text = readFileSync(logFile, 'utf8');
    assertNoSecret('the log', text, keyLines);
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    // what the operator needs stays: which element, which label, what is wrong
    expect(lines.some((l) => String(l.msg).includes('ftp://ftpuser:xxxx@127.0.0.1/auth'))).toBe(
      true,
    );
    const label = lines.find((l) => String(l.label).endsWith('customrequestheader.Authorization'));
    expect(label).toMatchObject({ container: 'web-1', value: 'xxxx' });
    expect(String(label!.msg)).toContain('did you mean "customRequestHeaders"');
    const sts = lines.find((l) => String(l.label).endsWith('stsseconds'));
    expect(sts).toMatchObject({ value: 'visible-not-a-number' });
    const err = lines.find((l) => l.err !== undefined)!.err as Record<string, string>;
    expect(err.message).toBe('connect to http://u:xxxx@127.0.0.1:1 failed');
    expect(err.stack).toContain('http://u:xxxx@127.0.0.1:1');
  });
});
