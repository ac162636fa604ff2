#!/usr/bin/env node
/*
 * What a shared limit costs a request in a cluster: the same backend behind
 * four routers of one Portico (WORKERS workers, default 2), one with no
 * middleware, one with a rateLimit, an inFlightReq and a circuitBreaker that
 * never trigger, so every request pays the round trip to the primary (or the
 * outcome report) and nothing else. autocannon, CONNS connections, DURATION
 * seconds per case, ROUNDS rounds interleaving the cases; loopback only, and
 * only the processes started here are stopped, by pid. Besides requests/s
 * (noisy on a shared machine) it reports CPU time per request, read from
 * /proc for the primary and for the workers (Linux only), which holds steadier.
 *
 *   npm run build && node test/bench/limits-cost.mjs
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DURATION = Number(process.env.DURATION ?? 5);
const CONNS = Number(process.env.CONNS ?? 50);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const WORKERS = Number(process.env.WORKERS ?? 2);
const children = [];

function start(args, env = {}) {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return child;
}

function stopAll() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
}
process.on('exit', stopAll);
const hard = setTimeout(
  () => {
    stopAll();
    process.exit(1);
  },
  (ROUNDS * 4 * (DURATION + 3) + 60) * 1000,
);
hard.unref();

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

const backend = start([path.join(root, 'test/bench/backend.mjs')]);
const backendPort = await new Promise((resolve) =>
  backend.stdout.on('data', (d) => {
    const m = /listening (\d+)/.exec(String(d));
    if (m) resolve(Number(m[1]));
  }),
);

const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-limits-bench-'));
const file = path.join(dir, 'dynamic.yml');
const hosts = { plain: [], rateLimit: ['rl'], inFlightReq: ['ifr'], circuitBreaker: ['cb'] };
writeFileSync(
  file,
  `http:
  routers:
${Object.entries(hosts)
  .map(
    ([h, m]) =>
      `    ${h}:\n      rule: Host(\`${h.toLowerCase()}.test\`)\n      service: b\n      middlewares: [${m.join(',')}]`,
  )
  .join('\n')}
  middlewares:
    rl:
      rateLimit: { average: 100000000, burst: 100000000 }
    ifr:
      inFlightReq: { amount: 100000 }
    cb:
      circuitBreaker: { expression: 'NetworkErrorRatio() > 0.99' }
  services:
    b:
      loadBalancer: { servers: [{ url: 'http://127.0.0.1:${backendPort}' }] }
`,
);
const port = await freePort();
const portico = start([
  'dist/src/bin.js',
  `--entryPoints.web.address=127.0.0.1:${port}`,
  `--providers.file.filename=${file}`,
  `--workers=${WORKERS}`,
  '--log.level=error',
]);
portico.stdout.resume();

/** CPU seconds (user + system) of a process, from /proc; 0 where there is no /proc */
function cpuOf(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const parts = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(parts[11]) + Number(parts[12])) / 100;
  } catch {
    return 0;
  }
}

function workerPids() {
  try {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          const f = readFileSync(`/proc/${d}/stat`, 'utf8');
          return Number(f.slice(f.lastIndexOf(')') + 2).split(' ')[1]) === portico.pid;
        } catch {
          return false;
        }
      })
      .map(Number);
  } catch {
    return [];
  }
}

async function run(host, duration) {
  return autocannon({
    url: `http://127.0.0.1:${port}/`,
    headers: { host },
    connections: CONNS,
    duration,
  });
}

// warm up until every router answers 200
for (const h of Object.keys(hosts)) {
  for (let i = 0; i < 100; i++) {
    const r = await run(`${h.toLowerCase()}.test`, 1).catch(() => undefined);
    if (r && r['2xx'] > 0 && r.non2xx === 0) break;
    await new Promise((res) => setTimeout(res, 200));
  }
}

const workers = workerPids();
const cpu = () => ({
  primary: cpuOf(portico.pid),
  workers: workers.reduce((sum, pid) => sum + cpuOf(pid), 0),
});
const results = Object.fromEntries(Object.keys(hosts).map((h) => [h, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const h of Object.keys(hosts)) {
    const before = cpu();
    const r = await run(`${h.toLowerCase()}.test`, DURATION);
    const after = cpu();
    if (r.non2xx > 0) throw new Error(`${h}: ${r.non2xx} non-2xx answers`);
    const n = r.requests.total;
    results[h].push({
      rps: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      primaryUs: ((after.primary - before.primary) / n) * 1e6,
      workersUs: ((after.workers - before.workers) / n) * 1e6,
    });
  }
}
const med = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = med(results.plain.map((x) => x.rps));
console.log(
  `node ${process.version}, ${os.cpus().length} CPUs, ${WORKERS} workers, ${CONNS} connections, ${ROUNDS} × ${DURATION}s (median of rounds)`,
);
for (const [h, rs] of Object.entries(results)) {
  const rps = med(rs.map((x) => x.rps));
  console.log(
    `${h.padEnd(15)} ${Math.round(rps)} req/s (${((rps / base - 1) * 100).toFixed(1)}%), ` +
      `p50 ${med(rs.map((x) => x.p50))} ms, p99 ${med(rs.map((x) => x.p99))} ms; ` +
      `CPU per request: workers ${med(rs.map((x) => x.workersUs)).toFixed(1)} us, ` +
      `primary ${med(rs.map((x) => x.primaryUs)).toFixed(1)} us`,
  );
}
stopAll();
process.exit(0);
