#!/usr/bin/env node
/*
 * `node test/bench/regex-engines.mjs`: per-match cost of the regex engines that
 * could run user regexes (rules and regex middlewares), on realistic patterns
 * and on pathological ones (issue 11, item 6). Numbers go to docs/benchmarks.md.
 *
 *   backtracking  V8's default RegExp, what Portico used (the translated source
 *                 of these patterns is the pattern itself)
 *   re2js         the pure-JS RE2 port Portico now uses (src/rules/regex.ts)
 *   v8-linear     V8's experimental linear engine (`l` flag), measured in a child
 *                 started with --enable-experimental-regexp-engine
 *   re2-wasm      only when `re2-wasm` can be imported (not a dependency)
 *
 * Each per-call figure is the best of ROUNDS runs of ITER calls, in ns per
 * call: the machines are shared, and the least-disturbed run is the closest
 * to the CPU cost. The backtracking engine is measured on hostile inputs of
 * 20-24 characters only (its time doubles per character); every loop is
 * bounded. Run with --expose-gc to also get the heap kept per pattern.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ITER = Number(process.env.ITER ?? 20_000);
const ROUNDS = Number(process.env.ROUNDS ?? 40);
const self = fileURLToPath(import.meta.url);

const realistic = [
  {
    name: 'PathRegexp, match',
    pattern: '^/api/v[0-9]+/users/([^/]+)$',
    input: '/api/v2/users/12345',
    op: 'test',
  },
  {
    name: 'PathRegexp, miss',
    pattern: '^/api/v[0-9]+/users/([^/]+)$',
    input: '/static/js/app.3f2a9c.js',
    op: 'test',
  },
  {
    name: 'HostRegexp, match',
    pattern: '^[a-z0-9-]+\\.example\\.com$',
    input: 'shop.example.com',
    op: 'test',
  },
  {
    name: 'HostRegexp, miss',
    pattern: '^[a-z0-9-]+\\.example\\.com$',
    input: 'api.other.org',
    op: 'test',
  },
  {
    name: 'redirectRegex, exec with groups',
    pattern: '^https?://(www\\.)?example\\.com/(.*)',
    input: 'https://www.example.com/docs/getting-started?lang=en',
    op: 'exec',
  },
];

const hostile = [
  { pattern: '^/(a+)+$', input: (n) => '/' + 'a'.repeat(n) + '!' },
  { pattern: '(a|a)*b', input: (n) => 'a'.repeat(n) },
  { pattern: '(x+x+)+y', input: (n) => 'x'.repeat(n) },
];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** ns per call of fn(), best of ROUNDS, after one warm-up round. */
function perCall(fn, iter = ITER) {
  let sink = 0;
  for (let i = 0; i < Math.min(iter, 20_000); i++) if (fn()) sink++;
  const runs = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iter; i++) if (fn()) sink++;
    runs.push(Number(process.hrtime.bigint() - t0) / iter);
  }
  if (sink < 0) console.log(sink);
  return Math.min(...runs);
}

/** Wall time of one call in ms, median of 5 (after a warm-up call on a short input). */
function once(fn, warm) {
  warm();
  const runs = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    runs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(runs);
}

/** µs per compile of n distinct patterns, best of 5 batches. */
function compileTime(compile, n = 1000) {
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) compile(`^/api/v[0-9]+/tenant${round}x${i}/users/([^/]+)$`);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e3 / n);
  }
  return best;
}

/** With --expose-gc: heap bytes kept per compiled pattern, after one match each. */
function heapPerPattern(compile, n = 2000) {
  if (!globalThis.gc) return undefined;
  globalThis.gc();
  const h0 = process.memoryUsage().heapUsed;
  const keep = [];
  for (let i = 0; i < n; i++) keep.push(compile(`^/api/v[0-9]+/heap${i}/users/([^/]+)$`));
  for (let i = 0; i < n; i++) keep[i].test(`/api/v2/heap${i}/users/42`);
  globalThis.gc();
  const bytes = (process.memoryUsage().heapUsed - h0) / n;
  return keep.length === n ? bytes : undefined;
}

function compileCost(compile) {
  return { bytes: heapPerPattern(compile), us: compileTime(compile) };
}

async function engines() {
  const out = {};
  out.backtracking = (p) => new RegExp(p);
  const { RE2JS } = await import('re2js');
  out.re2js = (p) => RE2JS.compile(p);
  try {
    const { RE2 } = await import('re2-wasm');
    out['re2-wasm'] = (p) => new RE2(p, 'u');
  } catch {
    // optional
  }
  return out;
}

function runRealistic(compile) {
  const rows = {};
  for (const c of realistic) {
    const re = compile(c.pattern);
    rows[c.name] =
      c.op === 'test' ? perCall(() => re.test(c.input)) : perCall(() => re.exec(c.input) !== null);
  }
  return rows;
}

function runHostile(compile, sizes) {
  const rows = {};
  for (const h of hostile) {
    const re = compile(h.pattern);
    for (const n of sizes) {
      rows[`${h.pattern} n=${n}`] = once(
        () => re.test(h.input(n)),
        () => re.test(h.input(4)),
      );
    }
  }
  return rows;
}

// the backtracking engine doubles its time per extra character: it is measured on short inputs
const BACKTRACKING_SIZES = [20, 22, 24];
const LINEAR_SIZES = [34, 10_000];

if (process.argv[2] === '--linear-child') {
  // Started with --enable-experimental-regexp-engine: the `l` flag is available (a variable,
  // since linters do not know this V8-only flag).
  const LINEAR = 'l';
  const compile = (p) => new RegExp(p, LINEAR);
  const res = {
    realistic: runRealistic(compile),
    hostile: runHostile(compile, LINEAR_SIZES),
    compile: compileCost(compile),
  };
  process.stdout.write(JSON.stringify(res));
  process.exit(0);
}

const fmtNs = (x) => (x === undefined ? '-' : `${x.toFixed(0)} ns`);
const fmtMs = (x) =>
  x === undefined ? '-' : x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(1)} ms`;

const all = await engines();
const results = {};
for (const [name, compile] of Object.entries(all)) {
  results[name] = {
    realistic: runRealistic(compile),
    hostile: runHostile(compile, name === 'backtracking' ? BACKTRACKING_SIZES : LINEAR_SIZES),
    compile: compileCost(compile),
  };
}
const child = spawnSync(
  process.execPath,
  [...process.execArgv, '--enable-experimental-regexp-engine', self, '--linear-child'],
  { encoding: 'utf8', timeout: 120_000, env: { ...process.env } },
);
if (child.status === 0) results['v8-linear'] = JSON.parse(child.stdout);
else console.error('v8-linear child failed:', child.stderr || child.error);

const names = Object.keys(results);
console.log(`node ${process.version}, ITER=${ITER}, ROUNDS=${ROUNDS}\n`);
console.log('Per call (best of ROUNDS):\n');
console.log(`| case | ${names.join(' | ')} |`);
console.log(`| --- | ${names.map(() => '---:').join(' | ')} |`);
for (const c of realistic) {
  console.log(
    `| ${c.name} | ${names.map((n) => fmtNs(results[n].realistic[c.name])).join(' | ')} |`,
  );
}
console.log(
  `| compile one pattern | ${names.map((n) => `${results[n].compile.us.toFixed(1)} µs`).join(' | ')} |`,
);
if (globalThis.gc) {
  const kib = (n) => `${(results[n].compile.bytes / 1024).toFixed(1)} KiB`;
  console.log(`| heap per compiled pattern | ${names.map(kib).join(' | ')} |`);
}
console.log('\nOne call on an input the pattern does not match (wall time, median of 5):\n');
const cols = [
  ...BACKTRACKING_SIZES.map((n) => ['backtracking', n]),
  ...names.filter((n) => n !== 'backtracking').flatMap((e) => LINEAR_SIZES.map((n) => [e, n])),
];
console.log(`| pattern | ${cols.map(([e, n]) => `${e} n=${n}`).join(' | ')} |`);
console.log(`| --- | ${cols.map(() => '---:').join(' | ')} |`);
for (const h of hostile) {
  const cells = cols.map(([e, n]) => fmtMs(results[e].hostile[`${h.pattern} n=${n}`]));
  console.log(`| \`${h.pattern.replaceAll('|', '\\|')}\` | ${cells.join(' | ')} |`);
}
