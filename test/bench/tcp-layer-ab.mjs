#!/usr/bin/env node
/*
 * What the connection layer in front of every entrypoint (src/server/connection.ts: the first
 * bytes of each connection are read to tell TLS, h2c, TCP routers and HTTP/1.1 apart) costs a
 * plain HTTP connection: two or more Portico builds side by side in one run, rounds alternating.
 *
 *   git worktree add --detach /tmp/base 79a1018   # the last commit before 8dbd86f
 *   ln -s $PWD/node_modules /tmp/base/node_modules && (cd /tmp/base && npx tsc -p tsconfig.build.json)
 *   AB=before=/tmp/base/dist,after=dist node test/bench/tcp-layer-ab.mjs
 *   AB=before=/tmp/base/dist,mid=/tmp/mid/dist,after=dist ROUNDS=8 node test/bench/tcp-layer-ab.mjs
 *
 * Each variant: the real command, file provider, one Host route to a Node backend
 * (test/bench/backend.mjs), access log on (to a file), WORKERS (default 0: in-process, so the
 * cluster's own per-connection cost does not dilute the difference). Per round and variant:
 * - keep-alive: wrk, 50 connections, DURATION s (req/s, p50, p99);
 * - churn: wrk with `Connection: close` on every request, CHURN_CONNS connections, DURATION s:
 *   one new connection per request (req/s = connections/s), and Portico's CPU time per request.
 * With PIN=split (the default on 2+ cores) the backend and the variants run on CPU 0 and wrk on
 * CPU 1, as npm run bench does. Loopback only; each wrk run is bounded by -d and a hard timeout;
 * only the process groups started here are stopped, by their pid.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;
const ROUNDS = Number(env.ROUNDS ?? 6);
const DURATION = Number(env.DURATION ?? 4);
const CONNS = Number(env.CONNS ?? 50);
const CHURN_CONNS = Number(env.CHURN_CONNS ?? 50);
const WORKERS = env.WORKERS ?? '0';
const PIN = env.PIN ?? (os.availableParallelism() >= 2 ? 'split' : 'none');
const AB = env.AB ?? `before=/tmp/base/dist,after=${path.join(here, '../../dist')}`;

const variants = AB.split(',').map((spec, i) => {
  const eq = spec.indexOf('=');
  if (eq < 1) throw new Error(`AB: expected name=distDir, got ${JSON.stringify(spec)}`);
  return { name: spec.slice(0, eq), dir: path.resolve(spec.slice(eq + 1)), port: 19580 + i };
});

const children = [];
const stopAll = () => {
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    try {
      process.kill(-c.pid, 'SIGTERM'); // the group this script created (setsid)
    } catch {
      // gone
    }
  }
};
process.on('exit', stopAll);
process.on('SIGINT', () => process.exit(130));

function start(cmd, args) {
  const [c, a] = PIN === 'split' ? ['taskset', ['-c', '0', cmd, ...args]] : [cmd, args];
  const child = spawn(c, a, { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  children.push(child);
  return child;
}

/** user + system CPU ms of the process group `pgid` (USER_HZ 100) */
function groupCpuMs(pgid) {
  let ticks = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks * 10;
}

const backend = start(process.execPath, [path.join(here, 'backend.mjs')]);
const backendPort = await new Promise((resolve) =>
  backend.stdout.on('data', (d) => {
    const m = /listening (\d+)/.exec(String(d));
    if (m) resolve(Number(m[1]));
  }),
);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'portico-layer-ab-'));
writeFileSync(
  path.join(tmp, 'dynamic.yml'),
  `http:\n  routers:\n    bench:\n      rule: Host(\`bench.local\`)\n      service: backend\n  services:\n    backend:\n      loadBalancer:\n        servers:\n          - url: http://127.0.0.1:${backendPort}\n`,
);
for (const v of variants) {
  v.child = start(process.execPath, [
    path.join(v.dir, 'src/bin.js'),
    `--entryPoints.web.address=127.0.0.1:${v.port}`,
    `--providers.file.filename=${path.join(tmp, 'dynamic.yml')}`,
    '--providers.file.watch=false',
    `--workers=${WORKERS}`,
    '--log.level=error',
    '--accessLog=true',
    `--accessLog.filePath=${path.join(tmp, `${v.name}-access.log`)}`,
  ]);
}

const status = (port) =>
  new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port, headers: { host: 'bench.local' }, agent: false },
      (res) => {
        res.resume();
        resolve(res.statusCode);
      },
    );
    req.on('error', () => resolve(0));
  });
for (const v of variants) {
  let ok = false;
  for (let i = 0; i < 200 && !ok; i++) {
    ok = (await status(v.port)) === 200;
    if (!ok) await new Promise((r) => setTimeout(r, 100));
  }
  if (!ok) throw new Error(`${v.name} (port ${v.port}) never answered 200`);
}

function wrk(port, conns, duration, close) {
  const args = [
    '-t',
    String(Math.min(2, conns)),
    '-c',
    String(conns),
    '-d',
    `${duration}s`,
    '--latency',
    '-H',
    'Host: bench.local',
    ...(close ? ['-H', 'Connection: close'] : []),
    `http://127.0.0.1:${port}/`,
  ];
  const [c, a] = PIN === 'split' ? ['taskset', ['-c', '1', 'wrk', ...args]] : ['wrk', args];
  const out = execFileSync(c, a, { encoding: 'utf8', timeout: (duration + 15) * 1000 });
  const lat = (q) => {
    const m = new RegExp(`^\\s+${q}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    if (!m) return NaN;
    const x = Number(m[1]);
    return m[2] === 'us' ? x : m[2] === 'ms' ? x * 1000 : x * 1e6;
  };
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    out,
  );
  const errors =
    Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0) +
    (socketErrors ? socketErrors.slice(1).reduce((s, x) => s + Number(x), 0) : 0);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    p50: lat(50),
    p99: lat(99),
    requests,
    errors,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

for (const v of variants) {
  wrk(v.port, CONNS, 2, false); // warm-up: JIT and pools
  wrk(v.port, CHURN_CONNS, 2, true);
}
const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const keys = [
  'ka',
  'kaP50',
  'kaP99',
  'kaCpuUs',
  'churn',
  'churnP50',
  'churnP99',
  'churnCpuUs',
  'connCpuUs',
];
const res = Object.fromEntries(
  variants.map((v) => [v.name, { ...Object.fromEntries(keys.map((k) => [k, []])), errors: 0 }]),
);
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? variants : [...variants].reverse();
  for (const v of order) {
    const r = res[v.name];
    const kaCpu0 = groupCpuMs(v.child.pid);
    const ka = wrk(v.port, CONNS, DURATION, false);
    const kaCpuUs = ((groupCpuMs(v.child.pid) - kaCpu0) * 1000) / Math.max(1, ka.requests);
    const cpu0 = groupCpuMs(v.child.pid);
    const churn = wrk(v.port, CHURN_CONNS, DURATION, true);
    const cpuUs = ((groupCpuMs(v.child.pid) - cpu0) * 1000) / Math.max(1, churn.requests);
    r.ka.push(ka.rps);
    r.kaP50.push(ka.p50);
    r.kaP99.push(ka.p99);
    r.churn.push(churn.rps);
    r.churnP50.push(churn.p50);
    r.churnP99.push(churn.p99);
    r.churnCpuUs.push(cpuUs);
    r.kaCpuUs.push(kaCpuUs);
    // what a new connection costs beyond its request: churned request minus keep-alive request
    r.connCpuUs.push(cpuUs - kaCpuUs);
    r.errors += ka.errors + churn.errors;
    process.stderr.write(
      `round ${round + 1}/${ROUNDS} ${v.name}: keep-alive ${Math.round(ka.rps)} req/s, churn ${Math.round(churn.rps)} conn/s, ${cpuUs.toFixed(0)} us CPU/conn\n`,
    );
  }
}
const loadAfter = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

const r0 = (x) => Math.round(x).toLocaleString('en');
const out = [
  `connection layer A/B, ${new Date().toISOString()}: node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, wrk, PIN=${PIN}, --workers=${WORKERS}, ${ROUNDS} rounds x ${DURATION}s (order alternating), loadavg before ${loadBefore}, after ${loadAfter}`,
  '',
  `| variant | keep-alive req/s @${CONNS}c | p50 | p99 | CPU us per keep-alive request | churn conn/s @${CHURN_CONNS}c | p50 | p99 | CPU us per churned request | difference: CPU us per new connection | errors |`,
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
];
for (const v of variants) {
  const r = res[v.name];
  out.push(
    `| ${v.name} (${v.dir}) | ${r0(median(r.ka))} | ${r0(median(r.kaP50))} us | ${r0(median(r.kaP99))} us | ${median(r.kaCpuUs).toFixed(1)} | ${r0(median(r.churn))} | ${r0(median(r.churnP50))} us | ${r0(median(r.churnP99))} us | ${r0(median(r.churnCpuUs))} | ${r0(median(r.connCpuUs))} | ${r.errors} |`,
  );
}
out.push('', 'per round:');
for (const v of variants) {
  const r = res[v.name];
  out.push(
    `- ${v.name}: keep-alive ${r.ka.map(r0).join(', ')}; churn ${r.churn.map(r0).join(', ')}; CPU us/keep-alive request ${r.kaCpuUs.map((x) => x.toFixed(1)).join(', ')}; CPU us/churned request ${r.churnCpuUs.map(r0).join(', ')}; CPU us/new connection ${r.connCpuUs.map(r0).join(', ')}`,
  );
}
const base = variants[0].name;
for (const v of variants.slice(1)) {
  const a = res[v.name];
  const b = res[base];
  const ratios = (k) => a[k].map((x, i) => x / b[k][i]);
  const show = (k) => {
    const xs = ratios(k);
    return `median ${median(xs).toFixed(3)} (min ${Math.min(...xs).toFixed(3)}, max ${Math.max(...xs).toFixed(3)}; per round ${xs.map((x) => x.toFixed(2)).join(', ')})`;
  };
  out.push(
    '',
    `${v.name} / ${base}, same round:`,
    `- keep-alive req/s: ${show('ka')}`,
    `- churn conn/s: ${show('churn')}`,
    `- CPU per keep-alive request: ${show('kaCpuUs')}`,
    `- CPU per churned request: ${show('churnCpuUs')}`,
    `- CPU per new connection (churned minus keep-alive): ${v.name} − ${base} per round ${a.connCpuUs.map((x, i) => (x - b.connCpuUs[i]).toFixed(0)).join(', ')} us; median ${median(a.connCpuUs.map((x, i) => x - b.connCpuUs[i])).toFixed(0)} us`,
  );
}
process.stdout.write(out.join('\n') + '\n');
process.exit(0);
