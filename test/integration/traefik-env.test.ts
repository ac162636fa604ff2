/*
 * TRAEFIK_* variables through the real command (issue 17 §1): the
 * environment block of a Compose file written for Traefik starts Portico
 * with the same entry points, provider and ping, and a typo stops it with the
 * variable named, as PORTICO_* does.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { runPortico } from '../helpers/process.js';
import { freePort, request } from '../helpers/http.js';
import { useCleanups } from '../helpers/scope.js';

const { defer } = useCleanups();

let up: Upstream;
beforeAll(async () => {
  up = await startUpstream('up');
  return () => up.close();
});

describe('TRAEFIK_* variables, the real command', () => {
  it('start Portico as they start Traefik: entry points, file provider, ping', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-traefik-env-'));
    const file = path.join(dir, 'dynamic.yml');
    writeFileSync(
      file,
      [
        'http:',
        '  routers:',
        '    app: {rule: "Host(`app.test`)", service: app}',
        '  services:',
        `    app: {loadBalancer: {servers: [{url: "${up.url}"}]}}`,
      ].join('\n') + '\n',
    );
    const [web, internal] = [await freePort(), await freePort()];
    // no flags: the environment is the only source, as in Traefik's Compose examples
    const p = runPortico([], {
      TRAEFIK_ENTRYPOINTS_WEB_ADDRESS: `127.0.0.1:${web}`,
      TRAEFIK_ENTRYPOINTS_TRAEFIK_ADDRESS: `127.0.0.1:${internal}`,
      TRAEFIK_PROVIDERS_FILE_FILENAME: file,
      TRAEFIK_PING: 'true',
      TRAEFIK_LOG_LEVEL: 'DEBUG',
      TRAEFIK_LOG_FORMAT: 'json',
      // harmless and not implemented: accepted with a warning (issue 17 §1)
      TRAEFIK_LOG_NOCOLOR: 'true',
      PORTICO_LOG_LEVEL: 'INFO',
      PORTICO_WORKERS: '0',
    });
    defer(() => p.stop('SIGKILL'));
    await eventually(
      async () => {
        const reply = await request(`http://127.0.0.1:${web}/`, { headers: { host: 'app.test' } });
        expect(reply.status).toBe(200);
      },
      { timeoutMs: 15_000 },
    );
    expect((await request(`http://127.0.0.1:${internal}/ping`)).status).toBe(200);
    // PORTICO_LOG_LEVEL wins (no debug records) and the overlap is said once
    const warning = await p.waitForLog((rec) =>
      String(rec.msg).includes('PORTICO_LOG_LEVEL and TRAEFIK_LOG_LEVEL'),
    );
    expect(warning.msg).toBe(
      'PORTICO_LOG_LEVEL and TRAEFIK_LOG_LEVEL both set log.level; PORTICO_LOG_LEVEL is used',
    );
    expect(p.lines.filter((rec) => rec.level === 'debug')).toEqual([]);
    const ignored = await p.waitForLog((rec) => String(rec.msg).startsWith('TRAEFIK_LOG_NOCOLOR'));
    expect(ignored).toMatchObject({
      level: 'warn',
      msg: 'TRAEFIK_LOG_NOCOLOR: log.noColor is a traefik option that portico does not support yet; ignored',
    });
  });

  it('stop at start-up on a misspelt TRAEFIK_* variable, naming it and the option meant', async () => {
    const p = runPortico([], {
      TRAEFIK_ENTRYPOINTS_WEB_ADRESS: '127.0.0.1:0',
      PORTICO_WORKERS: '0',
    });
    defer(() => p.stop('SIGKILL'));
    expect((await p.exit).code).toBe(2);
    expect(p.stderr()).toBe(
      'portico: invalid static option TRAEFIK_ENTRYPOINTS_WEB_ADRESS: ' +
        'unknown option; did you mean TRAEFIK_ENTRYPOINTS_WEB_ADDRESS?\n',
    );
  });
});
