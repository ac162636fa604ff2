// A/B of Portico variants in one run: two builds (before/after a change), or one build with two
// settings (the HTTP/1.1 upstream clients). One Node backend; each variant is the real command,
// file provider, one Host route, access log on (to a file), one process; rounds alternate the
// order, at 50 connections (req/s) and at 1 connection back to back (us per request).
//
//   npm run build && node test/bench/ab.mjs                       # native vs undici client, this build
//   AB='before=/tmp/base/dist,after=dist' node test/bench/ab.mjs  # two builds
//   AB='a=dist,b=dist:PORTICO_H1_CLIENT=undici' ROUNDS=8 DURATION=4 node test/bench/ab.mjs
//
// With PIN=split (the default on 2+ cores) the backend and the variants run on CPU 0 and the load
// generator (this process) on CPU 1, as npm run bench does. Loopback only; every process started
// here is stopped by its pid; every load run is bounded by DURATION.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '../../dist');
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const DURATION = Number(process.env.DURATION ?? 4);
const PIN = process.env.PIN ?? (os.availableParallelism() >= 2 ? 'split' : 'none');
const AB = process.env.AB ?? `native=${dist},undici=${dist}:PORTICO_H1_CLIENT=undici`;
const { default: autocannon } = await import('autocannon');

/** name=distDir[:VAR=value...] */
const pair = (text) => {
  const eq = text.indexOf('=');
  if (eq < 1) throw new Error(`AB: expected name=value, got ${JSON.stringify(text)}`);
  return [text.slice(0, eq), text.slice(eq + 1)];
};
const variants = AB.split(',').map((spec, i) => {
  const [name, rest] = pair(spec);
  const [dir, ...vars] = rest.split(':');
  return { name, dir: path.resolve(dir), env: Object.fromEntries(vars.map(pair)), port: 19480 + i };
});

if (PIN === 'split') {
  try {
    execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
  } catch {
    // no taskset: unpinned
  }
}

const children = [];
process.on('exit', () => {
  for (const c of children) c.kill();
});

function start(cmd, args, env = {}) {
  const [c, a] = PIN === 'split' ? ['taskset', ['-c', '0', cmd, ...args]] : [cmd, args];
  const child = spawn(c, a, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return child;
}

const backend = start(process.execPath, [path.join(here, 'backend.mjs')]);
const backendPort = await new Promise((resolve) =>
  backend.stdout.on('data', (d) => {
    const m = /listening (\d+)/.exec(String(d));
    if (m) resolve(Number(m[1]));
  }),
);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'portico-ab-'));
writeFileSync(
  path.join(tmp, 'dynamic.yml'),
  `http:\n  routers:\n    bench:\n      rule: Host(\`bench.local\`)\n      service: backend\n  services:\n    backend:\n      loadBalancer:\n        servers:\n          - url: http://127.0.0.1:${backendPort}\n`,
);

for (const v of variants) {
  start(
    process.execPath,
    [
      path.join(v.dir, 'src/bin.js'),
      `--entryPoints.web.address=127.0.0.1:${v.port}`,
      `--providers.file.filename=${path.join(tmp, 'dynamic.yml')}`,
      '--providers.file.watch=false',
      '--workers=0',
      '--log.level=error',
      '--accessLog=true',
      `--accessLog.filePath=${path.join(tmp, `${v.name}-access.log`)}`,
    ],
    v.env,
  );
}

// fetch() drops a Host header: node:http sends it
const status = (port) =>
  new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, headers: { host: 'bench.local' } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
  });

for (const v of variants) {
  let ok = false;
  for (let i = 0; i < 100 && !ok; i++) {
    ok = (await status(v.port)) === 200;
    if (!ok) await new Promise((r) => setTimeout(r, 100));
  }
  if (!ok) throw new Error(`${v.name} (port ${v.port}) never answered`);
}

const run = (port, connections, duration) =>
  autocannon({
    url: `http://127.0.0.1:${port}/`,
    connections,
    duration,
    headers: { host: 'bench.local' },
  });

for (const v of variants) await run(v.port, 50, 2); // warm-up: JIT and pools

const results = Object.fromEntries(variants.map((v) => [v.name, { rps: [], us: [], errors: 0 }]));
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? variants : [...variants].reverse();
  for (const v of order) {
    const many = await run(v.port, 50, DURATION);
    const one = await run(v.port, 1, DURATION);
    const r = results[v.name];
    r.rps.push(many.requests.average);
    // autocannon's latency is in whole ms: at one connection, 1 / throughput is the time per request
    r.us.push(1e6 / one.requests.average);
    r.errors += many.errors + many.non2xx + one.errors + one.non2xx;
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(
  `node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'}, ${ROUNDS} rounds x ${DURATION}s, autocannon, PIN=${PIN}, load ${os.loadavg()[0].toFixed(2)}`,
);
for (const v of variants) {
  const r = results[v.name];
  console.log(
    `${v.name.padEnd(8)} req/s @50c median ${Math.round(median(r.rps))} (${r.rps.map(Math.round).join(', ')}); ` +
      `us/request @1c median ${Math.round(median(r.us))} (${r.us.map(Math.round).join(', ')}); errors ${r.errors}`,
  );
}
if (variants.length === 2) {
  const [a, b] = variants.map((v) => results[v.name]);
  const rps = a.rps.map((x, i) => x / b.rps[i]);
  const us = a.us.map((x, i) => x - b.us[i]);
  console.log(
    `${variants[0].name}/${variants[1].name} req/s per round: ${rps.map((x) => x.toFixed(2)).join(', ')}; median ${median(rps).toFixed(2)}`,
  );
  console.log(
    `${variants[0].name}-${variants[1].name} us/request per round: ${us.map((x) => x.toFixed(0)).join(', ')}; median ${median(us).toFixed(0)}`,
  );
}
process.exit(0);
