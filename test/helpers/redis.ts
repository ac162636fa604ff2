/*
 * A private redis-server for tests: 127.0.0.1:<free port>, a temp dir, no
 * persistence. Stopped by its pid. Skips locally when missing, fails in CI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { eventually } from './eventually.js';

export const REDIS_SERVER = '/usr/bin/redis-server';

export interface RedisServer {
  port: number;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export function skipRedis(): boolean {
  if (existsSync(REDIS_SERVER)) return false;
  if (process.env.CI === 'true')
    throw new Error('redis integration tests cannot run in CI: redis-server is not installed');
  return true;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
    srv.on('error', reject);
  });
}

function ping(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.setTimeout(500, () => s.destroy(new Error('timeout')));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n')) {
        s.end();
        if (got.startsWith('+PONG')) resolve();
        else reject(new Error(`unexpected reply ${got.trim()}`));
      }
    });
    s.on('error', reject);
  });
}

export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-redis-'));
  const port = await freePort();
  let log = '';
  const child: ChildProcess = spawn(
    REDIS_SERVER,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
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
    await eventually(
      () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited ${child.exitCode}`);
        return ping(port);
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  } catch (err) {
    await stop();
    throw new Error(`redis-server did not start: ${String(err)}\n${log}`);
  }
  return { port, url: `redis://127.0.0.1:${port}`, pid: child.pid!, stop };
}
