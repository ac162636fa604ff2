/*
 * entryPoints.<name>.proxyProtocol as Traefik reads it (issue 13 item 6):
 * `trustedIPs` (IPs/CIDRs whose PROXY headers are used) and `insecure` (every
 * sender's). Traefik refuses to start an entrypoint with proxyProtocol and
 * neither (ip.NewChecker: "no trusted IPs provided").
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadStaticConfig } from '../../src/config/static.js';
import { StaticConfigError } from '../../src/kernel/errors.js';

let cwd: string;
beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'portico-pp-'));
});
afterEach(() => rmSync(cwd, { recursive: true, force: true }));

const load = (argv: string[]) => loadStaticConfig({ argv, env: {}, cwd });
const loadError = (argv: string[]): string => {
  try {
    load(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(StaticConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a StaticConfigError');
};

describe('entryPoints.<name>.proxyProtocol', () => {
  it('is off unless configured', () => {
    const config = load(['--entryPoints.web.address=:8000']);
    expect(config.entryPoints.web!.proxyProtocol).toBeUndefined();
  });

  it('carries trustedIPs from flags into the entrypoint', () => {
    const config = load([
      '--entryPoints.web.address=:8000',
      '--entryPoints.web.proxyProtocol.trustedIPs=127.0.0.1,10.0.0.0/8,::1',
    ]);
    expect(config.entryPoints.web!.proxyProtocol).toEqual({
      trustedIPs: ['127.0.0.1', '10.0.0.0/8', '::1'],
      insecure: false,
    });
  });

  it('carries insecure from a YAML file', () => {
    const file = join(cwd, 'portico.yml');
    writeFileSync(
      file,
      [
        'entryPoints:',
        '  web:',
        '    address: ":8000"',
        '    proxyProtocol:',
        '      insecure: true',
      ].join('\n'),
    );
    const config = load([`--configFile=${file}`]);
    expect(config.entryPoints.web!.proxyProtocol).toEqual({ trustedIPs: [], insecure: true });
  });

  it('reads the PORTICO_ variable spelling too', () => {
    const config = loadStaticConfig({
      argv: [],
      env: {
        PORTICO_ENTRYPOINTS_WEB_ADDRESS: ':8000',
        PORTICO_ENTRYPOINTS_WEB_PROXYPROTOCOL_TRUSTEDIPS: '192.168.0.0/16',
      },
      cwd,
    });
    expect(config.entryPoints.web!.proxyProtocol?.trustedIPs).toEqual(['192.168.0.0/16']);
  });

  it('refuses an entry that is not an IP or CIDR, naming it', () => {
    expect(
      loadError([
        '--entryPoints.web.address=:8000',
        '--entryPoints.web.proxyProtocol.trustedIPs=10.0.0.0/8,lb.example',
      ]),
    ).toMatch(/proxyProtocol\.trustedIPs.*lb\.example/i);
  });

  it('refuses proxyProtocol with neither trustedIPs nor insecure, as Traefik does at start', () => {
    expect(
      loadError(['--entryPoints.web.address=:8000', '--entryPoints.web.proxyProtocol']),
    ).toMatch(/proxyProtocol.*trustedIPs or insecure/i);
  });
});
