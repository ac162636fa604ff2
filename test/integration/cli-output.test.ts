/*
 * What the command prints: `portico check` lists every configuration error,
 * with the values it quotes redacted as in the API and the logs
 * (src/config/redact.ts); the start-up record names the HTTP/1.1 upstream
 * client in use (docs/architecture.md, "Node internals").
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPortico } from '../helpers/process.js';

describe('portico check output', () => {
  it('prints configuration errors without the secrets they quote', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-check-'));
    const file = path.join(dir, 'dynamic.yml');
    writeFileSync(
      file,
      [
        'http:',
        '  routers:',
        '    r: { rule: "Host(`a.test`)", service: s }',
        '  services:',
        '    s:',
        '      loadBalancer:',
        '        servers:',
        '          - url: "http://user:hunter2pass@ bad host/"',
        '',
      ].join('\n'),
    );
    const p = runPortico(['check', `--providers.file.filename=${file}`]);
    expect((await p.exit).code).toBe(1);
    expect(p.stdout()).toContain('service s@file (loadBalancer.servers[0].url)');
    expect(p.stdout()).toContain('user:xxxx@');
    expect(p.stdout() + p.stderr()).not.toContain('hunter2pass');
  });
});

describe('start-up record', () => {
  it.each([
    ['native', {}],
    ['undici', { PORTICO_H1_CLIENT: 'undici' }],
  ] as const)('names the HTTP/1.1 upstream client (%s)', async (kind, env) => {
    const p = runPortico(['--entryPoints.web.address=127.0.0.1:0', '--workers=0'], env);
    try {
      const rec = await p.waitForLog((r) => r.msg === 'portico started');
      expect(rec.h1Client).toBe(kind);
      // forcing undici is a choice, not a degraded runtime: no warning
      expect(p.lines.some((r) => String(r.msg).includes('runs on undici'))).toBe(false);
    } finally {
      await p.stop();
    }
  });
});

describe('portico schema', () => {
  it('ends quietly when its reader stops early (| head)', async () => {
    const p = runPortico(['schema', '--dynamic']);
    // the reader is gone before the ~100 KB schema is written
    p.child.stdout!.destroy();
    const { code } = await p.exit;
    expect(code).toBe(0);
    expect(p.stderr()).not.toContain('EPIPE');
  });
});
