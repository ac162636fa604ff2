#!/usr/bin/env node
/*
 * `npm run bench`: Portico against the same backend reached directly and
 * through a bare http-proxy-3 cluster, in one run, on loopback only.
 * Reports requests/s, p50/p99 under load and p50 at one connection, with
 * ratios to the baselines measured in the same run; plus Portico with 10,000
 * host routes, and the time to compile 10,000 routers.
 *
 * Load generator: wrk (Debian package) when installed, else autocannon.
 * CPU pinning like ../shared/bench (PIN=split): load on CPU 1, backend and
 * proxy on CPU 0, proxies with one worker each, so the figures compare with
 * nginx/HAProxy/Caddy measured by that harness.
 *
 * Every run is bounded by DURATION seconds and by a hard timeout; only the
 * processes started here are stopped, by pid.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DURATION = Number(process.env.DURATION ?? 6);
const CONNS = Number(process.env.CONNS ?? 50);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const PIN = process.env.PIN ?? (os.availableParallelism() >= 2 ? 'split' : 'none');
const WORKERS = Number(
  process.env.PORTICO_BENCH_WORKERS ?? (PIN === 'split' ? 1 : os.availableParallelism()),
);
const HOSTS = Number(process.env.HOSTS ?? 10_000);
const ONLY = process.env.TARGETS?.split(',');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'portico-bench-'));
const children = [];

function hasWrk() {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return e.status === 1; // wrk --version exits 1 after printing its version
  }
}
const useWrk = hasWrk();

function pinned(cpu, cmd, args) {
  if (PIN !== 'split') return [cmd, args];
  return ['taskset', ['-c', String(cpu), cmd, ...args]];
}

function start(name, cmd, args, env = {}) {
  const [c, a] = pinned(0, cmd, args);
  const child = spawn(c, a, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.setEncoding('utf8');
  child.stderr.on(
    'data',
    (d) => process.env.BENCH_VERBOSE && process.stderr.write(`[${name}] ${d}`),
  );
  children.push(child);
  return child;
}

function stop(child) {
  if (child.exitCode === null) child.kill('SIGTERM');
}

async function waitFor(url, host) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      // fetch() would drop the Host header: use node:http
      const status = await new Promise((resolve, reject) => {
        http
          .get(url, { headers: { host }, agent: false }, (res) => {
            res.resume();
            resolve(res.statusCode);
          })
          .on('error', reject);
      });
      if (status === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} (Host: ${host}) did not answer 200 within 30 s`);
}

async function freePort() {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

function parseWrk(out) {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const lat = (q) => {
    const m = new RegExp(`^\\s+${q}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    if (!m) return NaN;
    const v = Number(m[1]);
    return m[2] === 'us' ? v : m[2] === 'ms' ? v * 1000 : v * 1e6;
  };
  const errors =
    Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0) +
    Number(/Socket errors:.*?timeout (\d+)/.exec(out)?.[1] ?? 0);
  return { rps, p50: lat(50), p99: lat(99), errors };
}

async function load(url, host, conns, duration) {
  if (useWrk) {
    const threads = Math.min(conns, 2);
    const [c, a] = PIN === 'split' ? ['taskset', ['-c', '1', 'wrk']] : ['wrk', []];
    const args = [
      ...a,
      '-t',
      String(threads),
      '-c',
      String(conns),
      '-d',
      `${duration}s`,
      '--latency',
      '-H',
      `Host: ${host}`,
      url,
    ];
    const out = execFileSync(c, args, { encoding: 'utf8', timeout: (duration + 15) * 1000 });
    return parseWrk(out);
  }
  const { default: autocannon } = await import('autocannon');
  const r = await autocannon({ url, connections: conns, duration, headers: { host } });
  return {
    rps: r.requests.average,
    p50: r.latency.p50 * 1000,
    p99: r.latency.p99 * 1000,
    errors: r.non2xx + r.errors,
  };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function writeDynamic(file, hosts, backend) {
  const lines = [
    'http:',
    '  routers:',
    '    bench:',
    '      rule: Host(`bench.local`)',
    '      service: backend',
  ];
  for (let i = 0; i < hosts; i++)
    lines.push(
      `    h${i}:`,
      `      rule: Host(\`host${i}.bench.local\`)`,
      '      service: backend',
    );
  lines.push(
    '  services:',
    '    backend:',
    '      loadBalancer:',
    '        servers:',
    `          - url: ${backend}`,
  );
  writeFileSync(file, lines.join('\n') + '\n');
}

async function compileBench() {
  const { compile } = await import(path.join(root, 'dist/src/routing/compile.js'));
  const { StateRegistry } = await import(path.join(root, 'dist/src/kernel/state.js'));
  const { loadStaticConfig } = await import(path.join(root, 'dist/src/config/static.js'));
  const { pino } = await import('pino');
  const sc = loadStaticConfig({
    argv: ['--entryPoints.web.address=127.0.0.1:0', '--workers=0'],
    env: {},
  });
  const routers = {};
  for (let i = 0; i < 10_000; i++)
    routers[`r${i}@file`] = {
      rule: `Host(\`host${i}.example.com\`) && PathPrefix(\`/api\`)`,
      service: 's@file',
    };
  const config = {
    http: {
      routers,
      services: { 's@file': { loadBalancer: { servers: [{ url: 'http://127.0.0.1:1' }] } } },
    },
  };
  const times = [];
  for (let i = 0; i < 5; i++) {
    const state = new StateRegistry();
    state.begin();
    const t0 = performance.now();
    compile(config, {
      entryPoints: sc.entryPoints,
      transportDefaults: sc.serversTransport,
      state,
      logger: pino({ level: 'silent' }),
    });
    times.push(performance.now() - t0);
    state.closeAll();
  }
  return median(times);
}

function hasNginx() {
  try {
    execFileSync('nginx', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** nginx (1 worker, fixed 100-byte body) when installed, as ../shared/bench uses; else a Node backend. */
function startBackend(port) {
  if (process.env.BACKEND !== 'node' && hasNginx()) {
    const dir = path.join(tmp, 'nginx');
    mkdirSync(path.join(dir, 'logs'), { recursive: true });
    const body = 'portico bench backend'.padEnd(99, 'x');
    writeFileSync(
      path.join(dir, 'nginx.conf'),
      `daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/logs/error.log;\n` +
        `events { worker_connections 4096; }\n` +
        `http { access_log off; keepalive_requests 1000000; keepalive_timeout 120s;\n` +
        `  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};\n` +
        `  server { listen 127.0.0.1:${port}; location / { default_type text/plain; return 200 "${body}\\n"; } } }\n`,
    );
    start('backend', 'nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')]);
    return 'nginx';
  }
  start('backend', process.execPath, [path.join(root, 'test/bench/backend.mjs')], {
    PORT: String(port),
  });
  return 'node';
}

/** ns per routing lookup with n host routes: the hash index keeps this flat as n grows */
async function lookupBench() {
  const { compile } = await import(path.join(root, 'dist/src/routing/compile.js'));
  const { findRoute } = await import(path.join(root, 'dist/src/table/table.js'));
  const { StateRegistry } = await import(path.join(root, 'dist/src/kernel/state.js'));
  const { loadStaticConfig } = await import(path.join(root, 'dist/src/config/static.js'));
  const { pino } = await import('pino');
  const sc = loadStaticConfig({
    argv: ['--entryPoints.web.address=127.0.0.1:0', '--workers=0'],
    env: {},
  });
  const out = {};
  for (const n of [10, 10_000]) {
    const routers = {};
    for (let i = 0; i < n; i++)
      routers[`r${i}@file`] = { rule: `Host(\`host${i}.example.com\`)`, service: 's@file' };
    // a few catch-all routers, as real configurations have
    routers['api@file'] = { rule: 'PathPrefix(`/api`) && Method(`POST`)', service: 's@file' };
    const config = {
      http: {
        routers,
        services: { 's@file': { loadBalancer: { servers: [{ url: 'http://127.0.0.1:1' }] } } },
      },
    };
    const state = new StateRegistry();
    state.begin();
    const table = compile(config, {
      entryPoints: sc.entryPoints,
      transportDefaults: sc.serversTransport,
      state,
      logger: pino({ level: 'silent' }),
    });
    state.closeAll();
    const ep = table.entryPoints.get('web');
    const ctxs = Array.from({ length: 64 }, (_, i) => ({
      host: `host${(i * 7919) % n}.example.com`,
      path: '/x',
      method: 'GET',
      headers: {},
      clientIp: '127.0.0.1',
      query: () => new URLSearchParams(),
    }));
    let found = 0;
    const N = 2_000_000;
    for (let i = 0; i < 200_000; i++) if (findRoute(ep, ctxs[i & 63])) found++;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) if (findRoute(ep, ctxs[i & 63])) found++;
    const ns = Number(process.hrtime.bigint() - t0) / N;
    if (found < N) throw new Error('lookup bench: some hosts were not found');
    out[n] = ns;
  }
  return out;
}

async function main() {
  const backendPort = await freePort();
  const backendKind = startBackend(backendPort);
  const backend = `http://127.0.0.1:${backendPort}`;
  await waitFor(backend + '/', 'bench.local');

  const targets = [];
  targets.push({ name: 'direct', url: backend + '/', host: 'bench.local' });

  const barePort = await freePort();
  start('bare', process.execPath, [path.join(root, 'test/bench/bare-proxy.mjs')], {
    PORT: String(barePort),
    TARGET: backend,
    WORKERS: String(WORKERS),
  });
  targets.push({
    name: `bare http-proxy-3 (cluster ${WORKERS})`,
    key: 'bare',
    url: `http://127.0.0.1:${barePort}/`,
    host: 'bench.local',
  });

  for (const [key, hosts] of [
    ['portico', 0],
    ['portico-10k', HOSTS],
  ]) {
    const dir = path.join(tmp, key);
    mkdirSync(dir);
    writeDynamic(path.join(dir, 'dynamic.yml'), hosts, backend);
    const port = await freePort();
    start(key, process.execPath, [
      path.join(root, 'dist/src/bin.js'),
      `--entryPoints.web.address=127.0.0.1:${port}`,
      `--providers.file.filename=${path.join(dir, 'dynamic.yml')}`,
      '--providers.file.watch=false',
      `--workers=${WORKERS}`,
      '--log.level=error',
      '--accessLog=true',
      `--accessLog.filePath=${path.join(dir, 'access.log')}`,
      // metrics on, as in production; /metrics on the same entry point so no :8080 is bound
      '--metrics.prometheus=true',
      '--metrics.prometheus.entryPoint=web',
    ]);
    targets.push({
      name:
        key === 'portico'
          ? `portico (${WORKERS} worker, access log + metrics on)`
          : `portico, ${hosts} host routes`,
      key,
      url: `http://127.0.0.1:${port}/`,
      host: key === 'portico' ? 'bench.local' : `host${Math.floor(hosts / 2)}.bench.local`,
    });
  }
  for (const t of targets) await waitFor(t.url, t.host);
  const selected = targets.filter((t) => !ONLY || ONLY.includes(t.key ?? t.name));

  // warm-up: JITs and connection pools
  for (const t of selected) await load(t.url, t.host, CONNS, 2);
  const results = new Map(
    selected.map((t) => [t.name, { rps: [], p50: [], p99: [], p50c1: [], errors: 0 }]),
  );
  for (let round = 0; round < ROUNDS; round++) {
    const order = selected
      .slice(round % selected.length)
      .concat(selected.slice(0, round % selected.length));
    for (const t of order) {
      const r = await load(t.url, t.host, CONNS, DURATION);
      const one = await load(t.url, t.host, 1, Math.max(2, Math.floor(DURATION / 2)));
      const acc = results.get(t.name);
      acc.rps.push(r.rps);
      acc.p50.push(r.p50);
      acc.p99.push(r.p99);
      acc.p50c1.push(one.p50);
      acc.errors += r.errors + one.errors;
    }
  }
  const compileMs = await compileBench();
  const lookupNs = await lookupBench();
  const summary = [...results].map(([name, acc]) => ({
    name,
    rps: median(acc.rps),
    p50: median(acc.p50),
    p99: median(acc.p99),
    p50c1: median(acc.p50c1),
    errors: acc.errors,
    spread: acc.rps,
  }));
  const direct = summary.find((s) => s.name === 'direct');
  const bare = summary.find((s) => s.name.startsWith('bare'));
  const ours = summary.find((s) => s.name.startsWith('portico ('));
  const lines = [];
  lines.push(
    `| target | req/s | vs direct | vs bare proxy | p50 @${CONNS}c | p99 @${CONNS}c | p50 @1c | +p50 @1c vs direct | errors |`,
  );
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const s of summary) {
    lines.push(
      `| ${s.name} | ${Math.round(s.rps).toLocaleString('en')} | ${direct ? (s.rps / direct.rps).toFixed(2) : '-'} | ${bare ? (s.rps / bare.rps).toFixed(2) : '-'} | ${Math.round(s.p50)} us | ${Math.round(s.p99)} us | ${Math.round(s.p50c1)} us | ${direct ? Math.round(s.p50c1 - direct.p50c1) + ' us' : '-'} | ${s.errors} |`,
    );
  }
  const tenK = summary.find((s) => s.name.includes('host routes'));
  const report = [
    `Portico benchmark, ${new Date().toISOString()}`,
    `machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, node ${process.version}`,
    `backend: ${backendKind} (1 worker, 100-byte body)`,
    `load: ${useWrk ? 'wrk' : 'autocannon'}, ${CONNS} connections, ${DURATION}s x ${ROUNDS} rounds (medians), pin=${PIN}, portico workers=${WORKERS}`,
    '',
    ...lines,
    '',
    tenK && ours
      ? `10,000 host routes vs 1 route: ${(tenK.rps / ours.rps).toFixed(3)} of the throughput`
      : '',
    ours && bare ? `portico vs bare http-proxy-3 cluster: ${(ours.rps / bare.rps).toFixed(2)}` : '',
    `compile 10,000 routers: ${compileMs.toFixed(1)} ms (median of 5)`,
    `routing lookup: ${lookupNs[10].toFixed(1)} ns with 10 host routes, ${lookupNs[10000].toFixed(1)} ns with 10,000 (ratio ${(lookupNs[10000] / lookupNs[10]).toFixed(2)})`,
    '',
    'req/s per round (order rotates each round):',
    ...summary.map((s) => `- ${s.name}: ${s.spread.map((x) => Math.round(x)).join(', ')}`),
  ].join('\n');
  process.stdout.write(report + '\n');
  mkdirSync(path.join(root, 'bench-results'), { recursive: true });
  writeFileSync(path.join(root, 'bench-results', `bench-${Date.now()}.md`), report + '\n');
}

const cleanup = () => children.forEach(stop);
if (process.argv[2] === 'tcp') {
  // npm run bench -- tcp: TCP passthrough and plain TCP against HAProxy (test/bench/tcp.mjs)
  await import('./tcp.mjs').then((m) => m.runCli());
} else {
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  main()
    .catch((err) => {
      process.stderr.write(`bench failed: ${err.stack ?? err}\n`);
      process.exitCode = 1;
    })
    .finally(cleanup);
}
