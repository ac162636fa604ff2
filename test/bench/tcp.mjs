#!/usr/bin/env node
/*
 * TCP benchmark (issue 13): Portico's TCP routers against HAProxy in `mode tcp` and against the
 * backend reached directly, in one command, on 127.0.0.1 only.
 *
 *   npm run bench -- tcp                      # builds dist/, then this file
 *   node test/bench/tcp.mjs                   # with the dist/ already built
 *   ROUNDS=3 TARGETS=direct,haproxy,portico-1w node test/bench/tcp.mjs
 *   PIN=none node test/bench/tcp.mjs          # no pinning; HAProxy gets one thread per core
 *   BENCH_DIST=/tmp/head/dist node test/bench/tcp.mjs   # another build
 *
 * Two entrypoints per proxy, both to one Node backend (test/bench/tcp-backend.mjs):
 * - tls: TLS passthrough routed by SNI. Portico: a TCP router HostSNI(`a.test`) with
 *   tls.passthrough; HAProxy: `tcp-request inspect-delay` + `req.ssl_sni`. The client's TLS
 *   session ends at the backend (certificate for a.test).
 * - plain: plain TCP. Portico: HostSNI(`*`) on its own entrypoint; HAProxy: plain forwarding.
 *
 * Per target and round: bulk throughput (BULK_CONNS connections each streaming BULK_MIB MiB to
 * the backend's sink), connection rate (new connections with a 1-byte exchange each, RATE_CONC
 * at a time, at most RATE_COUNT connections or RATE_SECONDS), latency at one connection
 * (LAT_BYTES-byte echo back to back, at most LAT_COUNT exchanges or LAT_SECONDS; p50/p99).
 * Each over TLS passthrough and over plain TCP. Targets rotate every round; figures are
 * medians over ROUNDS rounds with the per-round values kept.
 *
 * Pinning (PIN=split, the default on 2+ cores, as ../shared/bench/peers.sh): the backend and
 * every proxy on CPU 0, this process (the client) on CPU 1, HAProxy with nbthread 1. Portico runs
 * with --workers=1 (portico-1w), with its default worker count (portico: one per core; under
 * PIN=split both share CPU 0, which measures the cluster's cost rather than scaling) and
 * in-process (portico-w0, --workers=0).
 *
 * Every loop is bounded in count and time; the processes started here run in their own
 * process group (setsid) and only those groups are stopped, by their pid.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const env = process.env;
const ROUNDS = Number(env.ROUNDS ?? 5);
const BULK_CONNS = Number(env.BULK_CONNS ?? 8);
const BULK_MIB = Number(env.BULK_MIB ?? 64);
const BULK_TIMEOUT_S = Number(env.BULK_TIMEOUT_S ?? 60);
const RATE_CONC = Number(env.RATE_CONC ?? 16);
const RATE_COUNT = Number(env.RATE_COUNT ?? 2000);
const RATE_SECONDS = Number(env.RATE_SECONDS ?? 4);
const LAT_BYTES = Number(env.LAT_BYTES ?? 64);
const LAT_COUNT = Number(env.LAT_COUNT ?? 5000);
const LAT_SECONDS = Number(env.LAT_SECONDS ?? 2);
const PIN = env.PIN ?? (os.availableParallelism() >= 2 ? 'split' : 'none');
const HAPROXY_THREADS = Number(
  env.HAPROXY_THREADS ?? (PIN === 'split' ? 1 : os.availableParallelism()),
);
const DIST = path.resolve(env.BENCH_DIST ?? path.join(root, 'dist'));
// under PIN=split Portico's default worker count is 1 (see below): the 'portico' target would
// repeat portico-1w
const ONLY = (
  env.TARGETS ??
  (PIN === 'split'
    ? 'direct,haproxy,node-pipe,portico-1w,portico-w0'
    : 'direct,haproxy,node-pipe,portico-1w,portico')
).split(',');
const SNI = 'a.test';
const CPUS = os.availableParallelism(); // before this process pins itself

const children = [];
// node options for Portico and the bare relay, e.g. BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'
// (profiles are written when they exit)
const nodeArgs = env.BENCH_NODE_ARGS ? env.BENCH_NODE_ARGS.split(' ') : [];

function pinned(cmd, args) {
  return PIN === 'split' ? ['taskset', ['-c', '0', cmd, ...args]] : [cmd, args];
}

/** A server process in its own process group (setsid), output kept in the temp dir. */
function start(name, cmd, args, tmp, extraEnv = {}) {
  const [c, a] = pinned(cmd, args);
  const child = spawn(c, a, {
    env: { ...process.env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.name = name;
  // kept (and drained, so a chatty child never blocks on a full pipe), e.g. for --trace-gc
  child.stdout.on('data', (d) => writeFileSync(path.join(tmp, `${name}.stdout`), d, { flag: 'a' }));
  child.stderr.on('data', (d) => {
    writeFileSync(path.join(tmp, `${name}.stderr`), d, { flag: 'a' });
    if (env.BENCH_VERBOSE) process.stderr.write(`[${name}] ${d}`);
  });
  children.push(child);
  return child;
}

function stopAll() {
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    try {
      process.kill(-c.pid, 'SIGTERM'); // its own group: a cluster's workers go with it
    } catch {
      // already gone
    }
  }
}

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

const header = (cmd, n) => {
  const b = Buffer.alloc(5);
  b.write(cmd, 0, 'latin1');
  b.writeUInt32BE(n, 1);
  return b;
};

/** Opens a connection: TLS with SNI a.test (certificate not checked: a bench) or plain. */
function connect(port, secure) {
  return new Promise((resolve, reject) => {
    const s = secure
      ? tls.connect({ host: '127.0.0.1', port, servername: SNI, rejectUnauthorized: false })
      : net.connect({ host: '127.0.0.1', port });
    s.once('error', reject);
    s.once(secure ? 'secureConnect' : 'connect', () => {
      s.setNoDelay(true);
      s.removeListener('error', reject);
      resolve(s);
    });
  });
}

/** Resolves with the first `n` bytes received (rejects on error/close first, or after ms). */
function readBytes(s, n, ms) {
  return new Promise((resolve, reject) => {
    let got = 0;
    const chunks = [];
    const done = (err) => {
      clearTimeout(timer);
      s.removeListener('data', onData);
      s.removeListener('error', done);
      s.removeListener('close', onClose);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const onData = (c) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) done();
    };
    const onClose = () => done(new Error('closed'));
    const timer = setTimeout(() => done(new Error('timeout')), ms);
    s.on('data', onData);
    s.once('error', done);
    s.once('close', onClose);
  });
}

/** One ping connection: connect, 'P', read 'K', close. */
async function ping(port, secure) {
  const s = await connect(port, secure);
  try {
    const k = readBytes(s, 1, 5000);
    s.write(header('P', 0));
    await k;
  } finally {
    s.destroy();
  }
}

const CHUNK = Buffer.alloc(64 * 1024, 'bench');

/** Bulk: BULK_CONNS connections each streaming BULK_MIB MiB to the sink; MB/s (10^6 bytes). */
async function bulk(port, secure) {
  const perConn = BULK_MIB * 1024 * 1024;
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + BULK_TIMEOUT_S * 1000;
  const one = async () => {
    const s = await connect(port, secure);
    try {
      const ack = readBytes(s, 1, BULK_TIMEOUT_S * 1000);
      ack.catch(() => {});
      s.write(header('S', perConn));
      let sent = 0;
      while (sent < perConn) {
        if (Date.now() > deadline) throw new Error('bulk: time limit');
        const n = Math.min(CHUNK.length, perConn - sent);
        sent += n;
        if (!s.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
          await new Promise((resolve, reject) => {
            const onClose = () => reject(new Error('bulk: closed'));
            s.once('close', onClose);
            s.once('drain', () => {
              s.removeListener('close', onClose);
              resolve();
            });
          });
        }
      }
      await ack;
    } finally {
      s.destroy();
    }
  };
  await Promise.all(Array.from({ length: BULK_CONNS }, one));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return (BULK_CONNS * perConn) / 1e6 / s;
}

/** Connection rate: RATE_CONC loops of ping until RATE_COUNT or RATE_SECONDS; conn/s, errors. */
async function rate(port, secure) {
  let started = 0;
  let done = 0;
  let errors = 0;
  const deadline = Date.now() + RATE_SECONDS * 1000;
  const t0 = process.hrtime.bigint();
  const loop = async () => {
    while (started < RATE_COUNT && Date.now() < deadline) {
      started++;
      try {
        await ping(port, secure);
        done++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: RATE_CONC }, loop));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return { cps: done / s, errors, done };
}

/** Latency at one connection: LAT_BYTES echoed back to back; p50/p99 in us. */
async function latency(port, secure) {
  const s = await connect(port, secure);
  const msg = Buffer.alloc(LAT_BYTES, 'l');
  const times = [];
  try {
    s.write(header('E', 0));
    const deadline = Date.now() + LAT_SECONDS * 1000;
    for (let i = 0; i < LAT_COUNT + 100 && Date.now() < deadline; i++) {
      const t = process.hrtime.bigint();
      const back = readBytes(s, LAT_BYTES, 5000);
      s.write(msg);
      await back;
      if (i >= 100) times.push(Number(process.hrtime.bigint() - t) / 1000); // first 100: warm-up
    }
  } finally {
    s.destroy();
  }
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))];
  return { p50: q(50), p99: q(99), n: times.length };
}

const TICK_MS = 1000 / 100; // USER_HZ: 100 on Linux (getconf CLK_TCK)

/**
 * CPU time (ms, user + system) of every process in the group `pgid` (a proxy and its workers),
 * and their read/write system calls from /proc/<pid>/io (read(2)/write(2)/readv/writev, which
 * libuv uses on sockets; HAProxy's recv/send are not counted there).
 */
function groupUsage(pgid) {
  let ticks = 0;
  let sys = 0;
  let faults = 0;
  let user = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    let io;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // fields after "(comm)": state ppid pgrp ... utime is the 14th field, stime the 15th
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) !== pgid) continue;
      ticks += Number(f[11]) + Number(f[12]);
      faults += Number(f[7]); // minflt
      user += Number(f[11]);
      io = readFileSync(`/proc/${name}/io`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    sys += Number(/syscr: (\d+)/.exec(io)?.[1] ?? 0) + Number(/syscw: (\d+)/.exec(io)?.[1] ?? 0);
  }
  return { ms: ticks * TICK_MS, sys, faults, userMs: user * TICK_MS };
}

/** per-CPU [total, idle] jiffies from /proc/stat */
function cpuSnapshot() {
  return readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .filter((l) => /^cpu\d/.test(l))
    .map((l) => {
      const f = l.trim().split(/\s+/).slice(1).map(Number);
      return [f.reduce((a, b) => a + b, 0), f[3] + f[4]];
    });
}
const busy = (a, b) => a.map(([t, i], k) => 1 - (b[k][1] - i) / Math.max(1, b[k][0] - t));

function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function haproxyConfig(tlsPort, plainPort, backendTls, backendPlain) {
  return [
    'global',
    `  nbthread ${HAPROXY_THREADS}`,
    '  maxconn 4000',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout client-fin 1s',
    '  timeout server-fin 1s',
    // passthrough by SNI: wait for the ClientHello (bounded), route on its server_name
    'frontend tls',
    `  bind 127.0.0.1:${tlsPort}`,
    '  tcp-request inspect-delay 5s',
    '  tcp-request content accept if { req.ssl_hello_type 1 }',
    `  use_backend tls_a if { req.ssl_sni -i ${SNI} }`,
    'backend tls_a',
    `  server s1 127.0.0.1:${backendTls}`,
    'frontend plain',
    `  bind 127.0.0.1:${plainPort}`,
    '  default_backend plain',
    'backend plain',
    `  server s1 127.0.0.1:${backendPlain}`,
    '',
  ].join('\n');
}

function porticoConfig(backendTls, backendPlain) {
  return [
    'tcp:',
    '  routers:',
    '    pass:',
    '      entryPoints: [tls]',
    `      rule: HostSNI(\`${SNI}\`)`,
    '      service: tlsback',
    '      tls:',
    '        passthrough: true',
    '    plain:',
    '      entryPoints: [plain]',
    '      rule: HostSNI(`*`)',
    '      service: plainback',
    '  services:',
    '    tlsback:',
    '      loadBalancer:',
    '        servers:',
    `          - address: 127.0.0.1:${backendTls}`,
    '    plainback:',
    '      loadBalancer:',
    '        servers:',
    `          - address: 127.0.0.1:${backendPlain}`,
    '',
  ].join('\n');
}

async function waitReady(t) {
  const deadline = Date.now() + 30_000;
  let last;
  while (Date.now() < deadline) {
    try {
      await ping(t.tlsPort, true);
      await ping(t.plainPort, false);
      return;
    } catch (err) {
      last = err;
      if (t.child && t.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  throw new Error(`${t.name} not ready within 30 s: ${last?.message ?? 'exited'}`);
}

function versionOf(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0].trim();
  } catch {
    return 'not installed';
  }
}

const fmt = (x, d = 0) =>
  Number.isFinite(x)
    ? x.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d })
    : '-';

export async function main() {
  if (PIN === 'split') {
    try {
      execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
    } catch {
      // no taskset: unpinned
    }
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'portico-tcp-bench-'));
  const cert = path.join(tmp, 'a.test.crt');
  const key = path.join(tmp, 'a.test.key');
  // ECDSA P-256, as issue 18 asks for HTTPS figures
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      `/CN=${SNI}`,
      '-addext',
      `subjectAltName=DNS:${SNI}`,
    ],
    { stdio: 'ignore' },
  );

  const backend = start('backend', process.execPath, [path.join(here, 'tcp-backend.mjs')], tmp, {
    CERT: cert,
    KEY: key,
  });
  const [backendTls, backendPlain] = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('backend did not start')), 15_000);
    backend.stdout.on('data', (d) => {
      const m = /listening (\d+) (\d+)/.exec(String(d));
      if (m) {
        clearTimeout(timer);
        resolve([Number(m[1]), Number(m[2])]);
      }
    });
  });

  const all = [{ name: 'direct', tlsPort: backendTls, plainPort: backendPlain }];
  const wants = (name) => ONLY.includes(name);
  if (wants('haproxy')) {
    const [tlsPort, plainPort] = [await freePort(), await freePort()];
    const cfg = path.join(tmp, 'haproxy.cfg');
    writeFileSync(cfg, haproxyConfig(tlsPort, plainPort, backendTls, backendPlain));
    const child = start('haproxy', 'haproxy', ['-db', '-f', cfg], tmp);
    all.push({
      name: 'haproxy',
      label: `HAProxy (nbthread ${HAPROXY_THREADS})`,
      tlsPort,
      plainPort,
      child,
    });
  }
  if (wants('node-pipe')) {
    const [tlsPort, plainPort] = [await freePort(), await freePort()];
    const child = start(
      'node-pipe',
      process.execPath,
      [...nodeArgs, path.join(here, 'tcp-pipe.mjs')],
      tmp,
      {
        LISTEN_TLS: String(tlsPort),
        LISTEN_PLAIN: String(plainPort),
        TO_TLS: String(backendTls),
        TO_PLAIN: String(backendPlain),
      },
    );
    all.push({
      name: 'node-pipe',
      label: 'bare Node relay (net + pipe, no routing)',
      tlsPort,
      plainPort,
      child,
    });
  }
  writeFileSync(path.join(tmp, 'dynamic.yml'), porticoConfig(backendTls, backendPlain));
  for (const [name, workers, label] of [
    ['portico-1w', '1', 'Portico (--workers=1)'],
    // Portico's default is os.availableParallelism(), which counts the CPUs it may run on: 1
    // under PIN=split (taskset -c 0), so there the default equals --workers=1
    ['portico', undefined, `Portico (default workers: ${PIN === 'split' ? 1 : CPUS})`],
    ['portico-w0', '0', 'Portico (--workers=0, in-process)'],
  ]) {
    if (!wants(name)) continue;
    const [tlsPort, plainPort] = [await freePort(), await freePort()];
    const child = start(
      name,
      process.execPath,
      [
        ...nodeArgs,
        path.join(DIST, 'src/bin.js'),
        `--entryPoints.tls.address=127.0.0.1:${tlsPort}`,
        `--entryPoints.plain.address=127.0.0.1:${plainPort}`,
        `--providers.file.filename=${path.join(tmp, 'dynamic.yml')}`,
        '--providers.file.watch=false',
        ...(workers === undefined ? [] : [`--workers=${workers}`]),
        '--log.level=error',
      ],
      tmp,
    );
    all.push({ name, label, tlsPort, plainPort, child });
  }
  const targets = all.filter((t) => t.name === 'direct' || wants(t.name));
  for (const t of targets) await waitReady(t);

  const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const started = new Date().toISOString();
  const metrics = [
    'sysBulkTls',
    'sysBulkPlain',
    'faultsBulkPlain',
    'userShareBulkPlain',
    'cpuBulkTls',
    'cpuBulkPlain',
    'cpuRateTls',
    'cpuRatePlain',
    'bulkTls',
    'bulkPlain',
    'rateTls',
    'ratePlain',
    'latTls50',
    'latTls99',
    'latPlain50',
    'latPlain99',
  ];
  const res = new Map(
    targets.map((t) => [
      t.name,
      { ...Object.fromEntries(metrics.map((m) => [m, []])), errors: 0, busy: [] },
    ]),
  );
  // the proxy's own CPU time per MB and per connection (the backend's for direct): unlike
  // throughput, hardly moved by other tenants' load on the machine
  const usageOf = (t) => groupUsage(t.child?.pid ?? backend.pid);
  const cpuOf = (t) => usageOf(t).ms;
  const measure = async (t, r) => {
    const bulkBytes = (BULK_CONNS * BULK_MIB * 1024 * 1024) / 1e6;
    let u = usageOf(t);
    r.bulkTls.push(await bulk(t.tlsPort, true));
    let u2 = usageOf(t);
    r.cpuBulkTls.push((u2.ms - u.ms) / bulkBytes);
    r.sysBulkTls.push((u2.sys - u.sys) / bulkBytes);
    u = usageOf(t);
    r.bulkPlain.push(await bulk(t.plainPort, false));
    u2 = usageOf(t);
    r.cpuBulkPlain.push((u2.ms - u.ms) / bulkBytes);
    r.sysBulkPlain.push((u2.sys - u.sys) / bulkBytes);
    r.faultsBulkPlain.push((u2.faults - u.faults) / bulkBytes);
    r.userShareBulkPlain.push((u2.userMs - u.userMs) / Math.max(1, u2.ms - u.ms));
    let c = cpuOf(t);
    const rt = await rate(t.tlsPort, true);
    r.cpuRateTls.push(((cpuOf(t) - c) * 1000) / Math.max(1, rt.done));
    c = cpuOf(t);
    const rp = await rate(t.plainPort, false);
    r.cpuRatePlain.push(((cpuOf(t) - c) * 1000) / Math.max(1, rp.done));
    r.rateTls.push(rt.cps);
    r.ratePlain.push(rp.cps);
    r.errors += rt.errors + rp.errors;
    const lt = await latency(t.tlsPort, true);
    const lp = await latency(t.plainPort, false);
    r.latTls50.push(lt.p50);
    r.latTls99.push(lt.p99);
    r.latPlain50.push(lp.p50);
    r.latPlain99.push(lp.p99);
  };
  // warm-up, not recorded: JITs, TLS session machinery, haproxy pools
  const scratch = Object.fromEntries(metrics.map((m) => [m, []]));
  for (const t of targets) await measure(t, { ...scratch, errors: 0 });
  for (let round = 0; round < ROUNDS; round++) {
    const k = round % targets.length;
    const order = targets.slice(k).concat(targets.slice(0, k));
    for (const t of order) {
      const r = res.get(t.name);
      const before = cpuSnapshot();
      await measure(t, r);
      r.busy.push(busy(before, cpuSnapshot()));
      process.stderr.write(
        `round ${round + 1}/${ROUNDS} ${t.name.padEnd(10)} bulk tls ${fmt(r.bulkTls.at(-1))} plain ${fmt(r.bulkPlain.at(-1))} MB/s; ` +
          `conn/s tls ${fmt(r.rateTls.at(-1))} plain ${fmt(r.ratePlain.at(-1))}; ` +
          `p50 tls ${fmt(r.latTls50.at(-1))} plain ${fmt(r.latPlain50.at(-1))} us\n`,
      );
    }
  }
  const loadAfter = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

  const med = new Map(
    [...res].map(([n, r]) => [n, Object.fromEntries(metrics.map((m) => [m, median(r[m])]))]),
  );
  const d = med.get('direct');
  const h = med.get('haproxy');
  const ratio = (a, b) => (b && Number.isFinite(a / b) ? (a / b).toFixed(2) : '-');
  const lines = [
    `TCP benchmark, ${started} (node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${os.type()} ${os.release()})`,
    `haproxy: ${versionOf('haproxy', ['-v'])}; portico: ${DIST}`,
    `PIN=${PIN}${PIN === 'split' ? ' (backend + proxies on CPU 0, client on CPU 1)' : ''}; ${ROUNDS} rounds, order rotated, medians; loadavg before ${loadBefore}, after ${loadAfter}`,
    `bulk: ${BULK_CONNS} x ${BULK_MIB} MiB client->server; rate: ${RATE_CONC} at a time, <= ${RATE_COUNT} conns or ${RATE_SECONDS}s; latency: 1 conn, ${LAT_BYTES}-byte echo, <= ${LAT_COUNT} or ${LAT_SECONDS}s`,
    '',
    '| target | bulk TLS MB/s | × direct | × HAProxy | bulk plain MB/s | × direct | × HAProxy | TLS conn/s | × direct | × HAProxy | plain conn/s | × direct | × HAProxy |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const t of targets) {
    const m = med.get(t.name);
    lines.push(
      `| ${t.label ?? t.name} | ${fmt(m.bulkTls)} | ${ratio(m.bulkTls, d.bulkTls)} | ${ratio(m.bulkTls, h?.bulkTls)} | ` +
        `${fmt(m.bulkPlain)} | ${ratio(m.bulkPlain, d.bulkPlain)} | ${ratio(m.bulkPlain, h?.bulkPlain)} | ` +
        `${fmt(m.rateTls)} | ${ratio(m.rateTls, d.rateTls)} | ${ratio(m.rateTls, h?.rateTls)} | ` +
        `${fmt(m.ratePlain)} | ${ratio(m.ratePlain, d.ratePlain)} | ${ratio(m.ratePlain, h?.ratePlain)} |`,
    );
  }
  lines.push(
    '',
    '| target | TLS p50 us | TLS p99 us | +p50 vs direct | plain p50 us | plain p99 us | +p50 vs direct | conn errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const t of targets) {
    const m = med.get(t.name);
    lines.push(
      `| ${t.label ?? t.name} | ${fmt(m.latTls50)} | ${fmt(m.latTls99)} | ${fmt(m.latTls50 - d.latTls50)} | ` +
        `${fmt(m.latPlain50)} | ${fmt(m.latPlain99)} | ${fmt(m.latPlain50 - d.latPlain50)} | ${res.get(t.name).errors} |`,
    );
  }
  lines.push(
    '',
    'CPU time of the proxy process(es) (of the backend for direct), user + system, in 10 ms ticks:',
    '',
    '| target | ms per MB, bulk TLS | ms per MB, bulk plain | us per TLS connection | us per plain connection | read+write calls per MB, TLS / plain |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const t of targets) {
    const m = med.get(t.name);
    lines.push(
      `| ${t.label ?? t.name} | ${fmt(m.cpuBulkTls, 2)} | ${fmt(m.cpuBulkPlain, 2)} | ${fmt(m.cpuRateTls)} | ${fmt(m.cpuRatePlain)} | ${t.name === 'haproxy' ? '-' : `${fmt(m.sysBulkTls)} / ${fmt(m.sysBulkPlain)}`} |`,
    );
  }
  lines.push('', 'per round (order rotated):');
  for (const t of targets) {
    const r = res.get(t.name);
    const list = (xs) => xs.map((x) => fmt(x)).join(', ');
    lines.push(
      `- ${t.name}: bulk TLS ${list(r.bulkTls)}; bulk plain ${list(r.bulkPlain)}; TLS conn/s ${list(r.rateTls)}; plain conn/s ${list(r.ratePlain)}; TLS p50 ${list(r.latTls50)}; plain p50 ${list(r.latPlain50)}; CPU us per TLS/plain conn ${list(r.cpuRateTls)} / ${list(r.cpuRatePlain)}; syscalls per MB plain ${list(r.sysBulkPlain)}; minor page faults per MB plain ${list(r.faultsBulkPlain)}; user share of CPU, bulk plain ${r.userShareBulkPlain.map((x) => Math.round(x * 100) + '%').join(', ')}; CPU ms per MB TLS/plain ${r.cpuBulkTls.map((x) => fmt(x, 2)).join(', ')} / ${r.cpuBulkPlain.map((x) => fmt(x, 2)).join(', ')}; ` +
        `CPU busy ${r.busy.map((b) => b.map((x) => Math.round(x * 100) + '%').join('/')).join(', ')}`,
    );
  }
  const report = lines.join('\n') + '\n';
  process.stdout.write(report);
  mkdirSync(path.join(root, 'bench-results'), { recursive: true });
  writeFileSync(path.join(root, 'bench-results', `tcp-${Date.now()}.md`), report);
}

/** Runs the benchmark and stops every process it started, also on Ctrl-C or an early exit. */
export function runCli() {
  process.on('exit', stopAll);
  process.on('SIGINT', () => process.exit(130));
  return main()
    .catch((err) => {
      process.stderr.write(`tcp bench failed: ${err.stack ?? err}\n`);
      process.exitCode = 1;
    })
    .finally(() => {
      stopAll();
      // the client sockets are all closed; do not wait for stray timers
      setTimeout(() => process.exit(), 500).unref();
    });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void runCli();
