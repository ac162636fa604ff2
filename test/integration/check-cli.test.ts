/*
 * `portico check` prints every configuration error; the values it quotes go
 * through the same redaction as the API and the logs (src/config/redact.ts).
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
