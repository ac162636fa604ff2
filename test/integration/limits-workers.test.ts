/*
 * rateLimit, inFlightReq and circuitBreaker under the real command with 2 and
 * 4 cluster workers (issue 11, item 11): a limit means what it says per
 * Portico process, whichever worker a connection lands on. Every request
 * here opens a fresh connection, so the cluster's round-robin spreads them
 * over all workers. Bounds come from the elapsed time measured around the
 * requests, never from a fixed count that a slow machine could break.
 */
import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { closedPort, freePort, request } from '../helpers/http.js';
import { runPortico, type PorticoProcess } from '../helpers/process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const AVERAGE = 5;
const BURST = 5;
/** Traefik's maxDelay for 5/s: 1/(2 × 5) s; a request may be held that long for its token */
const MAX_DELAY_S = 0.1;
const AMOUNT = 2;
const THRESHOLD = 10;

function dynamicConfig(okUrl: string, heldUrl: string, deadUrl: string): string {
  return `
http:
  routers:
    rl:
      rule: Host(\`rl.test\`)
      service: ok
      middlewares: [limit]
    rl-other:
      rule: Host(\`rl-other.test\`)
      service: ok
      middlewares: [limit]
    ifr:
      rule: Host(\`ifr.test\`)
      service: held
      middlewares: [at-once]
    cb:
      rule: Host(\`cb.test\`)
      service: dead
      middlewares: [breaker]
    plain:
      rule: Host(\`plain.test\`)
      service: ok
  middlewares:
    limit:
      rateLimit: { average: ${AVERAGE}, burst: ${BURST} }
    at-once:
      inFlightReq: { amount: ${AMOUNT} }
    breaker:
      circuitBreaker:
        expression: 'NetworkErrorRatio() > 0.5 && RequestThreshold() >= ${THRESHOLD}'
        checkPeriod: 1ms
        fallbackDuration: 1m
  services:
    ok:
      loadBalancer: { servers: [{ url: '${okUrl}' }] }
    held:
      loadBalancer: { servers: [{ url: '${heldUrl}' }] }
    dead:
      loadBalancer: { servers: [{ url: '${deadUrl}' }] }
`;
}

/** an upstream that holds every request until released; `open` are the ones still connected */
async function holdingUpstream(): Promise<{
  u: Upstream;
  open: Set<http.ServerResponse>;
  releaseAll(): void;
}> {
  const open = new Set<http.ServerResponse>();
  const u = await startUpstream((_req, res) => {
    open.add(res);
    res.once('close', () => open.delete(res));
  });
  return {
    u,
    open,
    releaseAll: () => {
      for (const res of open) res.end('released');
    },
  };
}

/** a request that settles with its status, or 0 when the connection failed */
function send(port: number, host: string, agent: http.Agent | false = false): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, headers: { host }, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

const workersOf = (p: PorticoProcess): number[] => [
  ...new Set(
    p.lines
      .filter((r) => r.msg === 'configuration applied' && typeof r.worker === 'number')
      .map((r) => r.worker as number),
  ),
];

describe.each([2, 4])('limits with --workers=%i', (workers) => {
  let p: PorticoProcess;
  let port: number;
  let ok: Upstream;
  let held: Awaited<ReturnType<typeof holdingUpstream>>;

  beforeAll(async () => {
    ok = await startUpstream('ok');
    held = await holdingUpstream();
    const dead = await closedPort();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-limits-'));
    const file = path.join(dir, 'dynamic.yml');
    writeFileSync(file, dynamicConfig(ok.url, held.u.url, `http://127.0.0.1:${dead}`));
    port = await freePort();
    p = runPortico([
      `--entryPoints.web.address=127.0.0.1:${port}`,
      `--providers.file.filename=${file}`,
      `--workers=${workers}`,
    ]);
    // every worker has the configuration: a request on any connection meets the same routers
    await eventually(() => expect(workersOf(p)).toHaveLength(workers), { timeoutMs: 20_000 });
    expect(await send(port, 'plain.test')).toBe(200);
  }, 30_000);

  afterAll(async () => {
    process.kill(p.child.pid!, 'SIGCONT');
    await p.stop('SIGKILL');
    held.releaseAll();
    await Promise.all([ok.close(), held.u.close()]);
  });

  it('rateLimit lets through at most burst + what refills in the elapsed time', async () => {
    const statuses: number[] = [];
    const retryHeaders: (string | undefined)[][] = [];
    const started = performance.now();
    for (let i = 0; i < 30; i++) {
      const r = await request(`http://127.0.0.1:${port}/`, { headers: { host: 'rl.test' } });
      statuses.push(r.status);
      if (r.status === 429)
        retryHeaders.push([
          r.headers['retry-after'] as string | undefined,
          r.headers['x-retry-in'] as string | undefined,
        ]);
    }
    const elapsedS = (performance.now() - started) / 1000;
    const passed = statuses.filter((s) => s === 200).length;
    // tokens that can exist over the run: the full bucket, the refill, and one reservation
    // due within maxDelay of the last decision
    const bound = Math.floor(BURST + AVERAGE * (elapsedS + MAX_DELAY_S));
    expect(passed, `${passed} of 30 in ${elapsedS.toFixed(3)}s`).toBeLessThanOrEqual(bound);
    expect(passed).toBeGreaterThanOrEqual(BURST);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(ok.seen.filter((r) => r.headers.host === 'rl.test')).toHaveLength(passed);
    // the refusal is the same as in one process
    expect(retryHeaders.length).toBeGreaterThan(0);
    for (const [retryAfter, retryIn] of retryHeaders) {
      expect(retryAfter).toBe('1');
      expect(retryIn).toMatch(/^\d+(\.\d+)?ms$/);
    }

    // one limiter per router, as Traefik builds them: the other router's bucket is full
    const other: number[] = [];
    for (let i = 0; i < BURST; i++) other.push(await send(port, 'rl-other.test'));
    expect(other).toEqual(Array<number>(BURST).fill(200));
  });

  it('inFlightReq lets exactly amount requests reach the upstream at once', async () => {
    const replies = Array.from({ length: 6 }, () => send(port, 'ifr.test'));
    const refused: number[] = [];
    for (const r of replies) void r.then((s) => s === 429 && refused.push(s));
    await eventually(() => expect(held.open.size + refused.length).toBe(6), {
      timeoutMs: 10_000,
    });
    expect(held.open.size).toBe(AMOUNT);
    expect(refused).toHaveLength(6 - AMOUNT);
    held.releaseAll();
    expect((await Promise.all(replies)).sort()).toEqual([200, 200, 429, 429, 429, 429]);

    // the slots were given back
    const again = [send(port, 'ifr.test'), send(port, 'ifr.test')];
    await eventually(() => expect(held.open.size).toBe(AMOUNT), { timeoutMs: 10_000 });
    held.releaseAll();
    expect(await Promise.all(again)).toEqual([200, 200]);
  });

  it('circuitBreaker trips on the traffic of all workers together', async () => {
    const before: number[] = [];
    // bounded: without a shared window each worker would need THRESHOLD failures of its own
    for (let i = 0; i < THRESHOLD * workers + 10; i++) {
      const s = await send(port, 'cb.test');
      if (s === 503) break;
      before.push(s);
    }
    expect(before.every((s) => s === 502)).toBe(true);
    // the THRESHOLD-th failure opens it; a request racing the news to another worker may pass
    expect(before.length).toBeGreaterThanOrEqual(THRESHOLD);
    expect(before.length).toBeLessThanOrEqual(THRESHOLD + 2);
    // and it is open on every worker
    const after: number[] = [];
    for (let i = 0; i < 2 * workers; i++) after.push(await send(port, 'cb.test'));
    expect(after).toEqual(Array<number>(2 * workers).fill(503));
  });

  it('frees the slots of a worker that dies and keeps the rest of the state', async () => {
    const first = [send(port, 'ifr.test'), send(port, 'ifr.test')];
    await eventually(() => expect(held.open.size).toBe(AMOUNT), { timeoutMs: 10_000 });
    const victims = workersOf(p);
    for (const pid of victims) process.kill(pid, 'SIGKILL');
    expect(await Promise.all(first)).toEqual([0, 0]);
    await eventually(() => expect(workersOf(p)).toHaveLength(victims.length + workers), {
      timeoutMs: 20_000,
    });
    const again = [send(port, 'ifr.test'), send(port, 'ifr.test')];
    await eventually(() => expect(held.open.size).toBe(AMOUNT), { timeoutMs: 10_000 });
    held.releaseAll();
    expect(await Promise.all(again)).toEqual([200, 200]);
    // the rest of the state outlives the crash: the circuit opened above is still open
    const circuit: number[] = [];
    for (let i = 0; i < 2 * workers; i++) circuit.push(await send(port, 'cb.test'));
    expect(circuit).toEqual(Array<number>(2 * workers).fill(503));
  }, 40_000);

  it('fails closed (503) in bounded time when the primary does not answer', async () => {
    // with the primary stopped no new connection is accepted: use one kept alive
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await send(port, 'plain.test', agent)).toBe(200);
      process.kill(p.child.pid!, 'SIGSTOP');
      try {
        const started = performance.now();
        expect(await send(port, 'rl.test', agent)).toBe(503);
        expect(await send(port, 'ifr.test', agent)).toBe(503);
        expect(performance.now() - started).toBeLessThan(10_000);
        // routers without these middlewares do not depend on the primary
        expect(await send(port, 'plain.test', agent)).toBe(200);
      } finally {
        process.kill(p.child.pid!, 'SIGCONT');
      }
      // answered again once the primary runs
      expect([200, 429]).toContain(await send(port, 'rl.test', agent));
      const reply = send(port, 'ifr.test', agent);
      await eventually(() => expect(held.open.size).toBe(1), { timeoutMs: 10_000 });
      held.releaseAll();
      expect(await reply).toBe(200);
    } finally {
      agent.destroy();
    }
  }, 30_000);
});
