/*
 * `portico explain` end to end: the built command against a local /api/explain served by the
 * real engine (explainRequest over a table from the real compile()), checking what it prints
 * and its exit codes: 0 matched, 1 none, 2 usage, 3 API unreachable.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExplainError, explainRequest, parseExplainQuery } from '../../src/api/explain.js';
import { mergeSnapshots } from '../../src/config/aggregate.js';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import type { EntryPointConfig } from '../../src/config/static-types.js';
import { compile } from '../../src/routing/compile.js';
import { StateRegistry } from '../../src/kernel/state.js';
import type { RoutingTable } from '../../src/table/table.js';
import { closedPort } from '../helpers/http.js';
import { testStaticConfig } from '../helpers/portico.js';
import { runPortico } from '../helpers/process.js';

const config: DynamicConfig = {
  http: {
    routers: {
      api: {
        rule: 'Host(`a.example`) && PathPrefix(`/api`)',
        service: 'api',
        middlewares: ['strip'],
      },
      admin: { rule: 'Method(`POST`) && Header(`X-Env`, `prod`)', service: 'api', priority: 100 },
      broken: { rule: 'Hots(`a.example`)', service: 'api' },
      side: { rule: 'PathPrefix(`/`)', service: 'api', entryPoints: ['admin'] },
    },
    middlewares: { strip: { stripPrefix: { prefixes: ['/api'] } } },
    services: { api: { loadBalancer: { servers: [{ url: 'http://10.0.0.1:80' }] } } },
  },
};

let server: http.Server;
let api: string;
let table: RoutingTable;
let entryPoints: Record<string, EntryPointConfig>;

/** What the API does for /api/explain: the engine's answer, 400 for what it refuses. */
function serveExplain(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname !== '/api/explain') {
    res.writeHead(404).end();
    return;
  }
  let status = 200;
  let body: unknown;
  try {
    body = explainRequest(table, parseExplainQuery(url.searchParams), entryPoints);
  } catch (err) {
    if (!(err instanceof ExplainError)) throw err;
    status = 400;
    body = { error: err.message };
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

beforeAll(async () => {
  const web = testStaticConfig().entryPoints.web!;
  entryPoints = {
    web: { ...web, port: 8000 },
    admin: { ...web, name: 'admin', port: 9000 },
  };
  const merged = mergeSnapshots([{ provider: 'file', config, errors: [] }]);
  const state = new StateRegistry();
  state.begin();
  table = compile(merged.config, {
    entryPoints,
    transportDefaults: testStaticConfig().serversTransport,
    state,
    logger: pino({ level: 'silent' }),
    errors: merged.errors,
  });
  state.closeAll();
  server = http.createServer(serveExplain);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});

async function explain(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = runPortico(['explain', ...args]);
  const { code } = await p.exit;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

describe('portico explain', () => {
  it('prints the matched router, its chain, service and servers, then every router tried (exit 0)', async () => {
    const r = await explain(['http://a.example:8000/x/../api/users?id=1', `--api=${api}`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'GET a.example/api/users?id=1 on entrypoint web',
        '',
        '✓ router api@file (priority 39)',
        '  rule:        Host(`a.example`) && PathPrefix(`/api`)',
        '  middlewares: strip@file',
        '  service:     api@file',
        '  servers:     ✓ http://10.0.0.1:80 UP',
        '',
        'routers tried, in order:',
        '  ✗ admin@file [100] Method(`POST`) && Header(`X-Env`, `prod`)',
        '      Method(`POST`) did not match GET',
        '  ✓ api@file [39] Host(`a.example`) && PathPrefix(`/api`)',
        '      matched',
        '',
        'routers left out because of errors:',
        '  - broken@file: rule: error while parsing rule Hots(`a.example`): unknown matcher Hots, did you mean Host? at position 0',
        '',
        'notes:',
        "  - entrypoint web was chosen because it listens on the URL's port 8000",
        '  - host a.example is in the host index: its routers and the routers for any host are tried by priority',
        '',
      ].join('\n'),
    );
  });

  it('passes --method and repeated --header to the API', async () => {
    const r = await explain([
      'http://b.example:8000/',
      '--method=post',
      '--header',
      'X-Env: prod',
      '--header=X-Other: 1',
      `--api=${api}`,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('✓ router admin@file (priority 100)');
  });

  it('--json prints the API answer as it is', async () => {
    const r = await explain(['http://a.example:9000/anything', '--json', `--api=${api}`]);
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout) as { entryPoint: string; matched: { router: string } };
    expect(body.entryPoint).toBe('admin');
    expect(body.matched.router).toBe('side@file');
  });

  it('--entryPoint chooses the entrypoint', async () => {
    const r = await explain([
      'http://a.example:8000/x',
      '--entryPoint=admin',
      '--json',
      `--api=${api}`,
    ]);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { entryPoint: string }).entryPoint).toBe('admin');
  });

  it('exits 1 when no router matches, and says the entrypoint answers 404', async () => {
    const r = await explain(['http://c.example:8000/web', `--api=${api}`]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('✗ no router matched');
    expect(r.stdout).toContain(
      '  ✗ api@file [39] Host(`a.example`) && PathPrefix(`/api`)\n      Host(`a.example`) did not match host c.example',
    );
    expect(r.stdout).toContain('  - no router matched: the entrypoint answers 404');
  });

  it.each([
    [[], /missing URL/],
    [['http://a.example/', '--verbose'], /unknown option --verbose/],
    [['http://a.example/', '--header=nocolon'], /invalid header "nocolon", expected Name:value/],
  ])('exits 2 on a usage error: %j', async (args, message) => {
    const r = await explain(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('portico explain URL');
  });

  it('exits 2 when the API refuses the URL (400)', async () => {
    const r = await explain(['not-a-url', `--api=${api}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/answered 400: invalid url "not-a-url"/);
  });

  it('exits 3 when the API cannot be reached, naming the URL and how to enable it', async () => {
    const port = await closedPort();
    const r = await explain(['http://a.example/', `--api=http://127.0.0.1:${port}`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`cannot reach the API at http://127.0.0.1:${port}/api/explain?url=`);
    expect(r.stderr).toContain('--api.insecure=true');
    expect(r.stderr).toContain('--api=');
  });
});
