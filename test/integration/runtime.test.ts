/*
 * The real command end to end: start-up errors, live reload from the file
 * provider, graceful SIGTERM drain, and the cluster (workers replaced when
 * they crash, gone when the primary dies).
 */
import net from 'node:net';
import { mkdtempSync, writeFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { isAlive, runPortico, type PorticoProcess } from '../helpers/process.js';
import { freePort, request } from '../helpers/http.js';
import { useCleanups } from '../helpers/scope.js';

const { defer, upstream } = useCleanups();

/** a request to 127.0.0.1:port with the given Host header */
async function get(
  port: number,
  host: string,
  pathname = '/',
): Promise<{ status: number; body: string }> {
  const { status, body } = await request(`http://127.0.0.1:${port}${pathname}`, {
    headers: { host },
  });
  return { status, body };
}

function yaml(routes: Record<string, string>): string {
  const lines = ['http:', '  routers:'];
  for (const [host] of Object.entries(routes))
    lines.push(
      `    ${host.replace(/\W/g, '')}:`,
      `      rule: Host(\`${host}\`)`,
      `      service: ${host.replace(/\W/g, '')}`,
    );
  lines.push('  services:');
  for (const [host, url] of Object.entries(routes))
    lines.push(
      `    ${host.replace(/\W/g, '')}:`,
      '      loadBalancer:',
      '        servers:',
      `          - url: ${url}`,
    );
  return lines.join('\n') + '\n';
}

let up: Upstream;
beforeAll(async () => {
  up = await startUpstream('up');
  return () => up.close();
});

async function start(
  extra: string[],
  dyn: string,
): Promise<{ p: PorticoProcess; port: number; file: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-rt-'));
  const file = path.join(dir, 'dynamic.yml');
  writeFileSync(file, dyn);
  const port = await freePort();
  const p = runPortico([
    `--entryPoints.web.address=127.0.0.1:${port}`,
    `--providers.file.filename=${file}`,
    ...extra,
  ]);
  defer(() => p.stop('SIGKILL'));
  await eventually(async () => expect((await get(port, 'a.test')).status).toBe(200), {
    timeoutMs: 15_000,
  });
  return { p, port, file };
}

describe('start-up', () => {
  it('prints help and exits 0', async () => {
    const p = runPortico(['--help']);
    expect((await p.exit).code).toBe(0);
    expect(p.stdout()).toMatch(/--entryPoints\.<name>\.address/i);
  });

  it.each([
    [['--entryPoints.web.address=:notaport'], /entryPoints\.web\.address/],
    [['--log.level=LOUD'], /log\.level/],
    [['--entrypoints.web.adress=:8000'], /adress.*did you mean/i],
  ])('refuses %j with exit code 2 and names the option', async (args, message) => {
    const p = runPortico(args);
    const { code } = await p.exit;
    expect(code).toBe(2);
    expect(p.stderr()).toMatch(message);
  });

  it.each([['--workers=0'], ['--workers=2']])(
    'exits 1 naming the entrypoint when its port is taken (%s)',
    async (workers) => {
      const squatter = net.createServer();
      await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
      defer(() => new Promise<void>((r) => squatter.close(() => r())));
      const port = (squatter.address() as net.AddressInfo).port;
      const p = runPortico([`--entryPoints.web.address=127.0.0.1:${port}`, workers]);
      expect((await p.exit).code).toBe(1);
      expect(p.stderr()).toMatch(
        new RegExp(`entrypoint web: cannot listen on 127.0.0.1:${port}: address already in use`),
      );
    },
  );

  it('names a bad PORTICO_* variable', async () => {
    const p = runPortico([], { PORTICO_LOG_LEVL: 'DEBUG' });
    expect((await p.exit).code).toBe(2);
    expect(p.stderr()).toMatch(/PORTICO_LOG_LEVL/);
  });
});

describe.each([
  ['single process', ['--workers=0']],
  ['cluster of 2 workers', ['--workers=2']],
])('file provider reload (%s)', (_label, workers) => {
  it('applies a file change within 2 s and keeps the last good config when the file breaks', async () => {
    const { p, port, file } = await start(workers, yaml({ 'a.test': up.url }));
    expect((await get(port, 'b.test')).status).toBe(404);
    // editors replace files by rename
    writeFileSync(file + '.tmp', yaml({ 'a.test': up.url, 'b.test': up.url }));
    renameSync(file + '.tmp', file);
    const changed = Date.now();
    await eventually(async () => expect((await get(port, 'b.test')).status).toBe(200), {
      timeoutMs: 2000,
    });
    expect(Date.now() - changed).toBeLessThan(2000);

    writeFileSync(file, 'http:\n  routers:\n    a: [unclosed\n');
    const bad = await p.waitForLog(
      (r) => typeof r.msg === 'string' && /dynamic\.yml:\d+:\d+/.test(String(r.msg)),
      5000,
    );
    expect(String(bad.msg)).toMatch(/dynamic\.yml:\d+:\d+/);
    // the last good configuration keeps serving
    expect((await get(port, 'a.test')).status).toBe(200);
    expect((await get(port, 'b.test')).status).toBe(200);
  });
});

describe('signals', () => {
  it('drains in-flight requests on SIGTERM, then exits 0', async () => {
    const slow = await upstream((_req, res) => setTimeout(() => res.end('slow answer'), 700));
    const { p, port } = await start(
      ['--workers=0'],
      yaml({ 'a.test': up.url, 'slow.test': slow.url }),
    );
    await eventually(async () => expect((await get(port, 'slow.test')).status).toBe(200), {
      timeoutMs: 5000,
    });
    const inFlight = get(port, 'slow.test');
    await new Promise((r) => setTimeout(r, 150));
    p.child.kill('SIGTERM');
    const reply = await inFlight;
    expect(reply).toEqual({ status: 200, body: 'slow answer' });
    expect((await p.exit).code).toBe(0);
  });

  it('drains in a cluster too and exits 0', async () => {
    const slow = await upstream((_req, res) => setTimeout(() => res.end('slow answer'), 700));
    const { p, port } = await start(
      ['--workers=2'],
      yaml({ 'a.test': up.url, 'slow.test': slow.url }),
    );
    await eventually(async () => expect((await get(port, 'slow.test')).status).toBe(200), {
      timeoutMs: 5000,
    });
    const inFlight = get(port, 'slow.test');
    await new Promise((r) => setTimeout(r, 150));
    p.child.kill('SIGTERM');
    expect(await inFlight).toEqual({ status: 200, body: 'slow answer' });
    expect((await p.exit).code).toBe(0);
  });
});

describe('cluster', () => {
  const workerPids = (p: PorticoProcess): number[] => [
    ...new Set(
      p.lines
        .filter((r) => r.msg === 'entrypoint listening' && typeof r.worker === 'number')
        .map((r) => r.worker as number),
    ),
  ];

  it('replaces a crashed worker and keeps serving', async () => {
    const { p, port } = await start(['--workers=2'], yaml({ 'a.test': up.url }));
    await eventually(() => expect(workerPids(p)).toHaveLength(2), { timeoutMs: 10_000 });
    const [victim] = workerPids(p);
    process.kill(victim!, 'SIGKILL');
    await eventually(() => expect(workerPids(p)).toHaveLength(3), { timeoutMs: 10_000 });
    // the replacement receives the current configuration
    await p.waitForLog((r) => r.msg === 'configuration applied' && r.worker === workerPids(p)[2]);
    for (let i = 0; i < 10; i++) expect((await get(port, 'a.test')).status).toBe(200);
  });

  it('workers exit when the primary dies', async () => {
    const { p } = await start(['--workers=2'], yaml({ 'a.test': up.url }));
    await eventually(() => expect(workerPids(p)).toHaveLength(2), { timeoutMs: 10_000 });
    const pids = workerPids(p);
    p.child.kill('SIGKILL');
    await p.exit;
    await eventually(() => expect(pids.filter(isAlive)).toEqual([]), { timeoutMs: 10_000 });
  });
});
