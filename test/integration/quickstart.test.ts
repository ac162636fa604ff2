/*
 * The README's first command: `npx portico --quickstart` starts the router on
 * :8000 with the file provider on deploy/quickstart/dynamic.yml, the demo
 * upstream on 127.0.0.1:8081 and the dashboard/API on 127.0.0.1:8080, and says
 * where to look. This runs the built command exactly so (fixed ports: it
 * skips, or fails in CI, when one of them is taken by something else).
 */
import net from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { runPortico, type PorticoProcess } from '../helpers/process.js';
import { request } from '../helpers/http.js';
import { eventually } from '../helpers/eventually.js';

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, () => s.close(() => resolve(true)));
  });
}

let proc: PorticoProcess | undefined;
afterEach(async () => {
  await proc?.stop();
  proc = undefined;
});

it('quickstart: demo route, dashboard and API come up and are announced', async (ctx) => {
  const free = await Promise.all([8000, 8080, 8081].map(portFree));
  if (free.includes(false)) {
    if (process.env.CI === 'true') throw new Error('ports 8000/8080/8081 must be free in CI');
    ctx.skip();
  }
  proc = runPortico(['--quickstart', '--workers=1']);
  const whoami = await eventually(
    async () => {
      const r = await request('http://127.0.0.1:8000/whoami');
      expect(r.status).toBe(200);
      return r;
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
  expect(whoami.body).toContain('GET / HTTP/1.1'); // the prefix was stripped on the way
  const overview = await eventually(
    async () => {
      const r = await request('http://127.0.0.1:8080/api/overview');
      expect(r.status).toBe(200);
      return JSON.parse(r.body) as { http: { routers: { total: number } }; providers: string[] };
    },
    { timeoutMs: 10_000, intervalMs: 100 },
  );
  expect(overview.providers).toEqual(['File']);
  expect(overview.http.routers.total).toBeGreaterThan(0);
  const page = await request('http://127.0.0.1:8080/dashboard/');
  expect(page.status).toBe(200);
  expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(proc.stdout()).toContain('http://localhost:8080/dashboard/');
  expect(proc.stdout()).toContain('curl http://localhost:8000/whoami');
});
