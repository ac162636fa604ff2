/*
 * A private Docker engine for integration tests (recipe: Debian's docker.io
 * started by hand, no systemd, no iptables, its own socket and data root).
 * Images are imported from busybox-static (no registry is reachable).
 * Containers run with --network host and serve on 127.0.0.1 ports only.
 *
 * availability(): where dockerd is missing or cannot start, suites skip
 * locally, but in CI (CI=true) they must fail, so a missing install step
 * cannot hide behind a green run.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { eventually } from './eventually.js';

export const TEST_IMAGE = 'portico-test-busybox:latest';

export interface Dockerd {
  root: string;
  socket: string;
  /** the same daemon on tcp://127.0.0.1:<tcpPort> (plain HTTP, loopback only) */
  tcpPort: number;
  env: NodeJS.ProcessEnv;
  docker(...args: string[]): string;
  /** runs docker without blocking this process's event loop (the router under test lives here too) */
  dockerAsync(...args: string[]): Promise<string>;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '')
    .split(':')
    .concat(['/usr/sbin', '/usr/bin', '/sbin'])) {
    const p = path.join(dir, cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function dockerAvailability(): { ok: boolean; reason?: string } {
  if (!which('dockerd') || !which('docker'))
    return { ok: false, reason: 'dockerd is not installed (apt-get install docker.io)' };
  if (!existsSync('/bin/busybox')) return { ok: false, reason: 'busybox-static is not installed' };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'dockerd needs root' };
  return { ok: true };
}

/** describe.skipIf helper: skip locally, but never in CI. */
export function skipDocker(): boolean {
  const a = dockerAvailability();
  if (a.ok) return false;
  if (process.env.CI === 'true')
    throw new Error(`docker integration suite cannot run in CI: ${a.reason}`);
  return true;
}

export async function startDockerd(): Promise<Dockerd> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'portico-dockerd-'));
  const tcpPort = await new Promise<number>((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
  const socket = path.join(root, 'docker.sock');
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}` };
  let child: ChildProcess | undefined;
  const docker = (...args: string[]): string =>
    execFileSync('docker', args, {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    }).trim();

  const start = async (): Promise<void> => {
    child = spawn(
      'dockerd',
      [
        '--data-root',
        path.join(root, 'data'),
        '--exec-root',
        path.join(root, 'exec'),
        '--host',
        `unix://${socket}`,
        '--host',
        `tcp://127.0.0.1:${tcpPort}`,
        '--pidfile',
        path.join(root, 'docker.pid'),
        '--iptables=false',
        '--ip6tables=false',
        '--bridge=none',
        '--storage-driver=vfs',
        // containers outlive a daemon restart, as on a production host with live-restore
        '--live-restore',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], detached: false },
    );
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    await eventually(() => docker('version', '--format', '{{.Server.Version}}'), {
      timeoutMs: 30_000,
      intervalMs: 200,
    }).catch((err: unknown) => {
      throw new Error(`dockerd did not start: ${String(err)}\n${log}`);
    });
  };

  const stop = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
  };

  await start();
  // an image from busybox-static: sh, httpd, sleep...
  const rootfs = path.join(root, 'rootfs');
  mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  mkdirSync(path.join(rootfs, 'www'), { recursive: true });
  copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  for (const a of ['sh', 'httpd', 'echo', 'sleep', 'cat', 'wget', 'test', 'kill'])
    symlinkSync('busybox', path.join(rootfs, 'bin', a));
  writeFileSync(path.join(rootfs, 'www/index.html'), 'hello from busybox\n');
  const tar = path.join(root, 'rootfs.tar');
  execFileSync('tar', ['-C', rootfs, '-cf', tar, '.']);
  docker('import', tar, TEST_IMAGE);

  const dockerAsync = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile('docker', args, { env, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) =>
        err
          ? reject(new Error(`docker ${args.join(' ')}: ${stderr || err.message}`))
          : resolve(stdout.trim()),
      );
    });

  return {
    root,
    socket,
    tcpPort,
    env,
    docker,
    dockerAsync,
    stop,
    start,
    async destroy() {
      try {
        const ids = docker('ps', '-aq');
        if (ids) docker('rm', '-f', ...ids.split('\n'));
      } catch {
        // the daemon may be down already
      }
      await stop();
      try {
        execFileSync('umount', [path.join(root, 'exec/netns/default')], { stdio: 'ignore' });
      } catch {
        // not mounted
      }
      try {
        rmSync(root, { recursive: true, force: true });
      } catch {
        // vfs layers can be slow to release; the temp dir is left behind
      }
    },
  };
}

export function dockerdPid(d: Dockerd): number {
  return Number(readFileSync(path.join(d.root, 'docker.pid'), 'utf8'));
}
