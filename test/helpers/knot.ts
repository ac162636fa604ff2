/*
 * A real authoritative DNS server for the DNS-01 tests: Debian's Knot DNS
 * (`apt-get install knot`), run unprivileged-style on 127.0.0.1:<free port>
 * from a temp dir with a zone file, accepting TSIG-signed dynamic updates
 * (RFC 2136) for its zones. Knot rather than BIND: one small config file, no
 * rndc key or working directory dance, and it runs in the foreground as the
 * current user. Stopped by pid.
 *
 * Where knotd is missing, suites skip locally but fail in CI (CI=true), as
 * with pebble and dockerd.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import dns from 'node:dns';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { eventually } from './eventually.js';

export const KNOTD = '/usr/sbin/knotd';

export interface KnotServer {
  /** "127.0.0.1:<port>" */
  address: string;
  port: number;
  /** the TSIG key allowed to update every zone */
  tsig: { name: string; algorithm: string; secret: string };
  log(): string;
  stop(): Promise<void>;
}

/** describe.skipIf helper: skip locally, but never in CI. */
export function skipKnot(): boolean {
  if (existsSync(KNOTD)) return false;
  if (process.env.CI === 'true')
    throw new Error('DNS-01 suite cannot run in CI: knotd is not installed (apt-get install knot)');
  return true;
}

/** a port free for both TCP and UDP (knot listens on both) */
export async function freeTcpUdpPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
      srv.on('error', reject);
    });
    const ok = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free TCP+UDP port');
}

/** A minimal zone: SOA, NS and the name server's address, plus `extra` lines. */
export function zoneFile(zone: string, extra: string[] = []): string {
  return [
    '$TTL 60',
    `@ IN SOA ns.${zone}. hostmaster.${zone}. 1 60 60 600 5`,
    `@ IN NS ns.${zone}.`,
    'ns IN A 127.0.0.1',
    ...extra,
    '',
  ].join('\n');
}

export async function startKnot(zones: Record<string, string>): Promise<KnotServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-knot-'));
  const port = await freeTcpUdpPort();
  const tsig = {
    name: 'portico-acme.',
    algorithm: 'hmac-sha256.',
    secret: randomBytes(32).toString('base64'),
  };
  for (const [zone, text] of Object.entries(zones))
    writeFileSync(path.join(dir, `${zone}.zone`), text);
  const conf = [
    'server:',
    `    rundir: "${dir}"`,
    `    listen: 127.0.0.1@${port}`,
    `    pidfile: "${dir}/knot.pid"`,
    'control:',
    `    listen: "${dir}/knot.sock"`,
    'database:',
    `    storage: "${dir}"`,
    'log:',
    '  - target: stderr',
    '    any: info',
    'key:',
    `  - id: ${tsig.name}`,
    '    algorithm: hmac-sha256',
    `    secret: ${tsig.secret}`,
    'acl:',
    '  - id: update',
    `    key: ${tsig.name}`,
    '    action: update',
    'template:',
    '  - id: default',
    `    storage: "${dir}"`,
    '    file: "%s.zone"',
    // keep the zone file as written; updates live in the journal
    '    zonefile-sync: -1',
    '    acl: update',
    'zone:',
    ...Object.keys(zones).map((z) => `  - domain: ${z}`),
    '',
  ].join('\n');
  const confPath = path.join(dir, 'knot.conf');
  writeFileSync(confPath, conf);
  const logPath = path.join(dir, 'knot.log');
  const fd = openSync(logPath, 'a');
  const child: ChildProcess = spawn(KNOTD, ['-c', confPath], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const log = (): string => {
    try {
      return readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const resolver = new dns.promises.Resolver({ timeout: 200, tries: 1 });
    resolver.setServers([`127.0.0.1:${port}`]);
    const first = Object.keys(zones)[0]!;
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`knotd exited ${child.exitCode}`);
        await resolver.resolveSoa(first);
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  } catch (err) {
    const text = log();
    await stop();
    throw new Error(`knotd did not start: ${String(err)}\n${text}`);
  }
  return { address: `127.0.0.1:${port}`, port, tsig, log, stop };
}

/** The TXT values at `name` as the server answers now (node:dns, independent of Portico's client). */
export async function txtValues(server: KnotServer, name: string): Promise<string[]> {
  const resolver = new dns.promises.Resolver({ timeout: 500, tries: 2 });
  resolver.setServers([server.address]);
  try {
    return (await resolver.resolveTxt(name)).map((parts) => parts.join(''));
  } catch (err) {
    if (
      (err as NodeJS.ErrnoException).code === 'ENODATA' ||
      (err as NodeJS.ErrnoException).code === 'ENOTFOUND'
    )
      return [];
    throw err;
  }
}
