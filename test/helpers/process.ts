/*
 * Runs the real `portico` command (dist/src/bin.js over dist/) as a child
 * process and follows its JSON log, for tests of start-up, reloads, signals
 * and the cluster. Only processes started here are stopped, by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from './eventually.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'dist/src/bin.js');

export interface PorticoProcess {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  stdout(): string;
  stderr(): string;
  /** waits for a log record matching the predicate */
  waitForLog(
    pred: (rec: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function runPortico(args: string[], env: NodeJS.ProcessEnv = {}): PorticoProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let partial = '';
  const lines: Record<string, unknown>[] = [];
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    out += d;
    partial += d;
    let nl: number;
    while ((nl = partial.indexOf('\n')) !== -1) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (line.startsWith('{')) {
        try {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not a log record
        }
      }
    }
  });
  child.stderr!.on('data', (d: string) => (err += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    lines,
    stdout: () => out,
    stderr: () => err,
    exit,
    waitForLog: (pred, timeoutMs = 10_000) =>
      eventually(
        () => {
          const found = lines.find(pred);
          if (found === undefined)
            throw new Error(`no matching log record yet; stdout:\n${out}\nstderr:\n${err}`);
          return found;
        },
        { timeoutMs },
      ),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const r = await exit;
      clearTimeout(t);
      return r;
    },
  };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
