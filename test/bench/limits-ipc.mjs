#!/usr/bin/env node
/*
 * Round trip between a cluster worker and the primary, the cost a shared
 * limit (rateLimit, inFlightReq) adds to each request in a cluster: the
 * cluster IPC channel (process.send, JSON) against a unix socket with
 * newline-delimited JSON (the shape a control-socket protocol would take).
 *
 * For each channel: sequential round trips (latency: median and p99 in
 * microseconds) and 64 calls in flight (throughput), once one call per
 * message and once batched per event-loop turn as src/cluster/limits.ts
 * does. Bounded: ROUNDS × N calls per case; the worker exits when done.
 *
 *   node test/bench/limits-ipc.mjs            (N=5000, ROUNDS=3)
 */
import cluster from 'node:cluster';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';

const N = Number(process.env.N ?? 5000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const INFLIGHT = 64;

/** the primary's side: answer every call at once (what a token bucket costs is negligible here) */
function answer(msg) {
  if (Array.isArray(msg.b)) return { b: msg.b.map((id) => [id, 0]) };
  return { id: msg.id, v: 0 };
}

if (cluster.isPrimary) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-ipc-bench-'));
  const sock = path.join(dir, 'limits.sock');
  const server = net.createServer((c) => {
    let buf = '';
    c.setEncoding('utf8');
    c.on('data', (d) => {
      buf += d;
      let nl;
      let out = '';
      while ((nl = buf.indexOf('\n')) !== -1) {
        out += JSON.stringify(answer(JSON.parse(buf.slice(0, nl)))) + '\n';
        buf = buf.slice(nl + 1);
      }
      if (out !== '') c.write(out);
    });
  });
  await new Promise((r) => server.listen(sock, r));
  const w = cluster.fork({ BENCH_SOCK: sock });
  w.on('message', (msg) => {
    if (msg.type === 'result') {
      console.log(msg.text);
      return;
    }
    w.send(answer(msg));
  });
  const hard = setTimeout(() => w.process.kill('SIGKILL'), 120_000);
  w.on('exit', () => {
    clearTimeout(hard);
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
} else {
  const pending = new Map();
  let nextId = 0;
  const onAnswer = (msg) => {
    if (Array.isArray(msg.b)) for (const [id] of msg.b) take(id);
    else take(msg.id);
  };
  const take = (id) => {
    const f = pending.get(id);
    pending.delete(id);
    f?.();
  };
  process.on('message', onAnswer);

  const sock = net.connect(process.env.BENCH_SOCK);
  sock.setEncoding('utf8');
  await new Promise((r) => sock.once('connect', r));
  let sbuf = '';
  sock.on('data', (d) => {
    sbuf += d;
    let nl;
    while ((nl = sbuf.indexOf('\n')) !== -1) {
      onAnswer(JSON.parse(sbuf.slice(0, nl)));
      sbuf = sbuf.slice(nl + 1);
    }
  });

  const channels = {
    ipc: (msg) => process.send(msg),
    'unix socket': (msg) => sock.write(JSON.stringify(msg) + '\n'),
  };

  /** one call per message, or calls queued and sent once per loop turn */
  const caller = (send, batched) => {
    let queue = [];
    return () =>
      new Promise((resolve) => {
        const id = ++nextId;
        pending.set(id, resolve);
        if (!batched) return send({ id, k: 'rl', s: '127.0.0.1' });
        queue.push(id);
        if (queue.length === 1)
          setImmediate(() => {
            const b = queue;
            queue = [];
            send({ b });
          });
      });
  };

  const sequential = async (call) => {
    const times = [];
    for (let i = 0; i < N; i++) {
      const t = process.hrtime.bigint();
      await call();
      times.push(Number(process.hrtime.bigint() - t) / 1000);
    }
    times.sort((a, b) => a - b);
    return { p50: times[Math.floor(N / 2)], p99: times[Math.floor(N * 0.99)] };
  };

  /** calls per second with INFLIGHT in flight, and this worker's CPU microseconds per call */
  const concurrent = async (call) => {
    const t = process.hrtime.bigint();
    const c = process.cpuUsage();
    let left = N;
    const lane = async () => {
      while (left-- > 0) await call();
    };
    await Promise.all(Array.from({ length: INFLIGHT }, lane));
    const used = process.cpuUsage(c);
    return {
      rate: N / (Number(process.hrtime.bigint() - t) / 1e9),
      cpu: (used.user + used.system) / N,
    };
  };

  const lines = [
    `node ${process.version}, ${os.cpus().length} CPUs, N=${N}, ${ROUNDS} rounds (median of rounds)`,
  ];
  const med = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const cases = Object.entries(channels).flatMap(([name, send]) =>
    [false, true].map((batched) => ({ name, send, batched, p50: [], p99: [], rate: [], cpu: [] })),
  );
  // rounds interleave the cases so that a noisy moment on a shared machine hits them all
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of cases) {
      const s = await sequential(caller(c.send, c.batched));
      c.p50.push(s.p50);
      c.p99.push(s.p99);
      const { rate, cpu } = await concurrent(caller(c.send, c.batched));
      c.rate.push(rate);
      c.cpu.push(cpu);
    }
  }
  for (const c of cases)
    lines.push(
      `${c.name.padEnd(12)} ${c.batched ? 'batched  ' : 'per call '} ` +
        `round trip p50 ${med(c.p50).toFixed(1)} us, p99 ${med(c.p99).toFixed(1)} us; ` +
        `${INFLIGHT} in flight: ${Math.round(med(c.rate))} calls/s, ` +
        `worker CPU ${med(c.cpu).toFixed(2)} us per call`,
    );
  process.send({ type: 'result', text: lines.join('\n') });
  sock.end();
  setTimeout(() => process.exit(0), 100);
}
