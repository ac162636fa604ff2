/*
 * `portico healthcheck` (Traefik's `healthcheck` command, for Docker's
 * HEALTHCHECK): reads the same static flags as the router, asks /ping on the
 * ping entrypoint, exits 0 when the router answers 200 and 1 otherwise.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { BIN, ROOT, runPortico, type PorticoProcess } from '../helpers/process.js';
import { freePort, request } from '../helpers/http.js';
import { eventually } from '../helpers/eventually.js';

let proc: PorticoProcess | undefined;
afterEach(async () => {
  await proc?.stop();
  proc = undefined;
});

function healthcheck(flags: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [BIN, 'healthcheck', ...flags], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 15_000,
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

it('exits 0 while the router answers /ping, 1 once it is gone, 1 without ping', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-hc-'));
  writeFileSync(path.join(dir, 'dynamic.yml'), 'http: {}\n');
  const port = await freePort();
  const flags = [
    `--entryPoints.traefik.address=127.0.0.1:${port}`,
    '--entryPoints.web.address=127.0.0.1:0',
    '--ping=true',
    `--providers.file.filename=${path.join(dir, 'dynamic.yml')}`,
  ];
  proc = runPortico([...flags, '--workers=0']);
  await eventually(
    async () => expect((await request(`http://127.0.0.1:${port}/ping`)).status).toBe(200),
    {
      timeoutMs: 15_000,
      intervalMs: 100,
    },
  );
  const ok = healthcheck(flags);
  expect(ok).toEqual({ status: 0, out: `http://127.0.0.1:${port}/ping: 200 OK\n` });
  await proc.stop();
  proc = undefined;
  const down = healthcheck(flags);
  expect(down.status).toBe(1);
  expect(down.out).toContain(`http://127.0.0.1:${port}/ping: `);
  const noPing = healthcheck(flags.filter((f) => f !== '--ping=true'));
  expect(noPing).toEqual({
    status: 1,
    out: 'portico: healthcheck needs ping enabled (--ping=true)\n',
  });
});
