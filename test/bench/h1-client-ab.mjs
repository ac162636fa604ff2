// A/B of the two HTTP/1.1 upstream clients of one build (docs/architecture.md, "Node internals"):
// the same dist/ started twice, once with PORTICO_H1_CLIENT=undici, against one Node backend;
// rounds alternate the order, at 50 connections and at 1 connection (back to back: us per request).
//
//   npm run build && node test/bench/h1-client-ab.mjs
//   DIST=/tmp/ab/dist ROUNDS=8 DURATION=4 node test/bench/h1-client-ab.mjs
//
// Loopback only; every process it starts is stopped by its pid; load runs are bounded by duration.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = process.env.DIST ?? path.join(here, '../../dist');
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const DURATION = Number(process.env.DURATION ?? 4);
const { default: autocannon } = await import('autocannon');

const children = [];
process.on('exit', () => {
  for (const c of children) c.kill();
});

function start(cmd, args, env = {}) {
  const child = spawn(cmd, args, {
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
const dir = mkdtempSync(path.join(os.tmpdir(), 'h1-ab-'));
writeFileSync(
  path.join(dir, 'dynamic.yml'),
  `http:\n  routers:\n    bench:\n      rule: Host(\`bench.local\`)\n      service: backend\n  services:\n    backend:\n      loadBalancer:\n        servers:\n          - url: http://127.0.0.1:${backendPort}\n`,
);

const targets = { native: 19482, undici: 19483 };
for (const [name, port] of Object.entries(targets)) {
  start(
    process.execPath,
    [
      path.join(dist, 'src/bin.js'),
      `--entryPoints.web.address=127.0.0.1:${port}`,
      `--providers.file.filename=${path.join(dir, 'dynamic.yml')}`,
      '--providers.file.watch=false',
      '--workers=0',
      '--log.level=error',
    ],
    { PORTICO_H1_CLIENT: name },
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

async function ready(port) {
  for (let i = 0; i < 100; i++) {
    if ((await status(port)) === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} never answered`);
}
for (const port of Object.values(targets)) await ready(port);

const run = (port, connections, duration) =>
  autocannon({
    url: `http://127.0.0.1:${port}/`,
    connections,
    duration,
    headers: { host: 'bench.local' },
  });

for (const port of Object.values(targets)) await run(port, 50, 2); // warm-up: JIT and pools

const results = { native: { rps: [], us: [] }, undici: { rps: [], us: [] } };
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? ['native', 'undici'] : ['undici', 'native'];
  for (const name of order) {
    const many = await run(targets[name], 50, DURATION);
    const one = await run(targets[name], 1, DURATION);
    results[name].rps.push(many.requests.average);
    // autocannon's latency is in whole ms: at one connection, 1 / throughput is the time per request
    results[name].us.push(1e6 / one.requests.average);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pairs = results.native.rps.map((v, i) => v / results.undici.rps[i]);
console.log(`node ${process.version}, ${ROUNDS} rounds x ${DURATION}s, autocannon, 1 process each`);
for (const name of Object.keys(results)) {
  const r = results[name];
  console.log(
    `${name.padEnd(7)} req/s @50c median ${Math.round(median(r.rps))} (${r.rps.map(Math.round).join(', ')}); ` +
      `us/request @1c median ${Math.round(median(r.us))} (${r.us.map(Math.round).join(', ')})`,
  );
}
console.log(
  `native/undici req/s per round: ${pairs.map((x) => x.toFixed(2)).join(', ')}; median ${median(pairs).toFixed(2)}`,
);
process.exit(0);
