/*
 * One request's unexpected exception must not end the process and the other
 * requests it carries (issue 11). A child process serves with the crash guard
 * the CLI installs (src/server/crash-guard.ts); a fault injected by this test
 * throws asynchronously, outside any try/catch, while a /boom request is in
 * flight. The process logs it and keeps serving; only a burst past the limit
 * makes it give up (exit 1, for the cluster primary to replace it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/process.js';
import { request } from '../helpers/http.js';
import { startUpstream } from '../helpers/upstream.js';
import { eventually } from '../helpers/eventually.js';

const dist = (p: string): string => JSON.stringify(path.join(ROOT, 'dist/src', p));

/** The child: a router on port 0, the guard, and a fault that throws outside any request handler. */
function childScript(upstream: string, limit: number): string {
  return `
import { installCrashGuard } from ${dist('server/crash-guard.js')};
import { createRouterServer } from ${dist('routing/router-server.js')};
import { loadStaticConfig } from ${dist('config/static.js')};
import { mergeSnapshots } from ${dist('config/aggregate.js')};
import { createLogger } from ${dist('observability/logger.js')};

installCrashGuard({
  limit: ${limit},
  report: (err, count) => process.stdout.write('survived ' + count + ': ' + err.message + '\\n'),
  giveUp: (err) => { process.stdout.write('giving up: ' + err.message + '\\n'); process.exit(1); },
});
const staticConfig = loadStaticConfig({
  argv: ['--entryPoints.web.address=127.0.0.1:0', '--workers=0', '--log.level=fatal'],
  env: {}, cwd: process.cwd(),
});
const router = createRouterServer({ staticConfig, logger: createLogger(staticConfig.log) });
const addresses = await router.listen();
const merged = mergeSnapshots([{ provider: 'file', errors: [], config: { http: {
  routers: { r: { rule: 'PathPrefix(\`/\`)', service: 's' } },
  services: { s: { loadBalancer: { servers: [{ url: ${JSON.stringify(upstream)} }] } } },
} } }]);
router.applyConfig(merged.config, merged.errors);
// the injected fault: a bug in an asynchronous callback of one request
router.entryPoints.get('web').server.prependListener('request', (req) => {
  if (req.url === '/boom') setImmediate(() => { throw new Error('injected fault'); });
});
process.stdout.write('port ' + addresses.web.port + '\\n');
`;
}

let child: ChildProcess | undefined;

afterEach(() => {
  if (child?.exitCode === null) child.kill('SIGKILL');
  child = undefined;
});

async function startChild(
  upstream: string,
  limit: number,
): Promise<{ port: number; out: () => string; exited: Promise<number | null> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-crash-'));
  const file = path.join(dir, 'child.mjs');
  writeFileSync(file, childScript(upstream, limit));
  const c = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
  child = c;
  let out = '';
  c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => c.once('exit', (code) => resolve(code)));
  const port = await eventually(() => {
    const m = /port (\d+)/.exec(out);
    if (m === null) throw new Error(`child not listening yet: ${out}`);
    return Number(m[1]);
  });
  return { port, out: () => out, exited };
}

/** /boom is proxied as usual; the fault fires beside it. Its own answer does not matter here. */
async function sendBoom(port: number): Promise<void> {
  await request(`http://127.0.0.1:${port}/boom`).catch(() => undefined);
}

describe('crash guard', () => {
  it('an uncaught exception during one request is logged and the process keeps serving', async () => {
    const up = await startUpstream('up');
    try {
      const c = await startChild(up.url, 10);
      expect((await request(`http://127.0.0.1:${c.port}/before`)).status).toBe(200);
      await sendBoom(c.port);
      await eventually(() => expect(c.out()).toContain('survived 1: injected fault'));
      // other requests, before and after, are answered by the same process
      const replies = await Promise.all(
        [1, 2, 3].map((i) => request(`http://127.0.0.1:${c.port}/after-${i}`)),
      );
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(child?.exitCode).toBeNull();
    } finally {
      await up.close();
    }
  });

  it('a process that keeps throwing gives up (exit 1) so that it is replaced', async () => {
    const up = await startUpstream('up');
    try {
      const c = await startChild(up.url, 2);
      for (let i = 0; i < 3; i++) await sendBoom(c.port);
      expect(await c.exited).toBe(1);
      expect(c.out()).toContain('giving up: injected fault');
    } finally {
      await up.close();
    }
  });
});
