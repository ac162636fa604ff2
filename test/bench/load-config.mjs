#!/usr/bin/env node
/*
 * Loading large configurations (issue 11: a YAML file of 50,000 routers took
 * 94 s, 10,000 took 1.3 s). Generates a file-provider YAML with N routers
 * (Host rule, a one-server service each, a middleware on every tenth) and
 * times each synchronous stage of the path from the file to the routing
 * table, in this process, against dist/ (`npm run build` first):
 *
 *   parse      providers/file/load.ts   YAML text → object, element lines
 *   fileMerge  providers/file/merge.ts  per-file merge (one file here)
 *   snapKey    file provider            stable key of the snapshot (change detection)
 *   validate   src/config/aggregate.ts  validate + qualify (mergeSnapshots)
 *   mergedKey  Aggregator.flush         stable key of the merged configuration
 *   compile    src/routing/compile.ts   routing table (applyConfig)
 *
 * Each stage blocks the event loop for its whole duration. Wall and CPU
 * milliseconds (CPU includes V8's GC helper threads). Nothing is listened on.
 *
 * ANY=k adds k routers without a host (PathPrefix only) to the same file:
 * they used to be copied into every host's list (hosts × k entries).
 *
 *   node test/bench/load-config.mjs [1000,10000,50000]
 *   ANY=1000 node test/bench/load-config.mjs 20000
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(here), '../..');
const sizes = (process.argv[2] ?? '1000,10000,50000').split(',').map(Number);
const ANY = Number(process.env.ANY ?? 0);

if (process.env.LOAD_CONFIG_CHILD === undefined) {
  // one process per size, so one run's heap does not slow the next
  for (const n of sizes) {
    const r = spawnSync(process.execPath, [here, String(n)], {
      env: { ...process.env, LOAD_CONFIG_CHILD: '1' },
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: 600_000,
    });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  process.exit(0);
}

const dist = (p) => import(path.join(root, 'dist', p));
const { pino } = await import('pino');
const { parseDynamicText } = await dist('providers/file/load.js');
const { mergeContributions } = await dist('providers/file/merge.js');
const { mergeSnapshots } = await dist('src/config/aggregate.js');
const { stableKey } = await dist('src/config/objects.js');
const { createRouterServer } = await dist('src/routing/router-server.js');
const { loadStaticConfig } = await dist('src/config/static.js');

function yamlFor(n) {
  const out = ['http:', '  routers:'];
  for (let i = 0; i < n; i++) {
    out.push(`    r${i}:`, `      rule: Host(\`h${i}.example.test\`)`, `      service: s${i}`);
    if (i % 10 === 0) out.push(`      middlewares: [m${i % 100}]`);
  }
  for (let i = 0; i < ANY; i++)
    out.push(`    p${i}:`, `      rule: PathPrefix(\`/p${i}\`)`, `      service: s${i % n}`);
  out.push('  services:');
  for (let i = 0; i < n; i++)
    out.push(
      `    s${i}:`,
      '      loadBalancer:',
      '        servers:',
      `          - url: http://10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8080`,
    );
  out.push('  middlewares:');
  for (let i = 0; i < 100; i += 10)
    out.push(
      `    m${i}:`,
      '      headers:',
      '        customRequestHeaders:',
      `          X-M: "${i}"`,
    );
  return out.join('\n') + '\n';
}

const n = sizes[0];
const staticConfig = loadStaticConfig({
  argv: ['--entryPoints.web.address=127.0.0.1:0', '--workers=0', '--log.level=fatal'],
  env: {},
  cwd: root,
});
const text = yamlFor(n);
const wall = {};
const cpu = {};
let w0 = performance.now();
let c0 = process.cpuUsage();
const lap = (stage) => {
  const w = performance.now();
  const c = process.cpuUsage();
  wall[stage] = Math.round(w - w0);
  cpu[stage] = Math.round((c.user - c0.user + c.system - c0.system) / 1000);
  w0 = performance.now();
  c0 = process.cpuUsage();
};
const parsed = parseDynamicText('dynamic.yml', text);
lap('parse');
const merged = mergeContributions([
  { file: 'dynamic.yml', config: parsed.config, lines: parsed.lines },
]);
lap('fileMerge');
const snapshot = { provider: 'file', config: merged.config, errors: merged.errors };
stableKey(snapshot);
lap('snapKey');
const agg = mergeSnapshots([snapshot]);
lap('validate');
stableKey(agg);
lap('mergedKey');
const server = createRouterServer({ staticConfig, logger: pino({ level: 'silent' }) });
w0 = performance.now();
c0 = process.cpuUsage();
const table = server.applyConfig(agg.config, agg.errors);
lap('compile');
if (table.routers.size !== n + ANY || table.errors.length !== 0) {
  console.error(`expected ${n + ANY} routers, no errors; got`, table.routers.size, table.errors);
  process.exit(1);
}
const total = (o) => Object.values(o).reduce((a, b) => a + b, 0);
console.log(
  JSON.stringify({
    routers: n,
    ...(ANY > 0 ? { anyHost: ANY } : {}),
    wallMs: { ...wall, total: total(wall) },
    cpuMs: { ...cpu, total: total(cpu) },
    heapMB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
  }),
);
await server.shutdown(0);
