/*
 * The cluster primary's workers: forked with the static configuration, each
 * sent the current merged configuration (on start and on every change),
 * replaced when they crash (with a back-off, so a worker that dies on start is
 * not re-forked in a tight loop) and stopped within the longest drain time.
 * The messages between primary and workers are defined here for both sides.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { MergedConfig } from './config/aggregate.js';
import type { StaticConfig } from './config/static-types.js';

export type WorkerMessage = { type: 'config'; merged: MergedConfig } | { type: 'shutdown' };
export type PrimaryMessage =
  { type: 'ready' } | { type: 'applied'; version: number } | { type: 'fatal'; message: string };

/** how many crashes within CRASH_WINDOW_MS start the back-off */
const CRASHES_BEFORE_BACKOFF = 3;
const CRASH_WINDOW_MS = 10_000;
const BACKOFF_MS = 1000;

/**
 * Remembers recent worker crashes and says how long to wait before forking a
 * replacement: at once, unless more than three crashed in the last 10 s.
 */
export class CrashWindow {
  private readonly recent: number[] = [];

  /** records a crash at `now` (ms) and returns the delay before its replacement */
  record(now: number): number {
    this.recent.push(now);
    while (this.recent.length > 0 && this.recent[0]! < now - CRASH_WINDOW_MS) this.recent.shift();
    return this.recent.length > CRASHES_BEFORE_BACKOFF ? BACKOFF_MS : 0;
  }
}

export interface WorkerPool {
  /** resolves once a worker applied a configuration (ACME challenges are answered there) */
  readonly serving: Promise<void>;
  /** sends a configuration to every worker, and to every worker forked later */
  broadcast(merged: MergedConfig): void;
  /** from now on a worker that exits is not replaced (the primary is stopping) */
  halt(): void;
  /** halts, asks every worker to drain and exit; kills those still there after `graceMs` + 2 s */
  stop(graceMs: number): Promise<void>;
}

export interface WorkerPoolOptions {
  sc: StaticConfig;
  logger: Logger;
  /** the control socket workers relay api@internal to */
  controlSocket?: string | undefined;
  /** per-worker wiring: metrics and limits listen to each worker's messages */
  attach(worker: Worker): void;
}

function send(w: Worker, msg: WorkerMessage): void {
  if (w.isConnected()) w.send(msg);
}

function liveWorkers(): Worker[] {
  return Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
}

/** Forks `sc.workers` workers and keeps that many running until `stop`. */
export function startWorkerPool(options: WorkerPoolOptions): WorkerPool {
  const { sc, logger } = options;
  let last: MergedConfig | undefined;
  let shuttingDown = false;
  const crashes = new CrashWindow();
  let markServing!: () => void;
  const serving = new Promise<void>((r) => (markServing = r));

  const fork = (): Worker => {
    const w = cluster.fork({
      __PORTICO_STATIC: JSON.stringify(sc),
      ...(options.controlSocket ? { __PORTICO_CONTROL: options.controlSocket } : {}),
    });
    options.attach(w);
    w.on('message', (msg: PrimaryMessage) => {
      if (msg.type === 'ready' && last !== undefined) send(w, { type: 'config', merged: last });
      if (msg.type === 'applied') markServing();
      if (msg.type === 'fatal') {
        // a worker cannot start (e.g. the address is taken): every replacement would fail alike
        shuttingDown = true;
        logger.error({ worker: w.process.pid, err: msg.message }, 'cannot start');
        process.stderr.write(`portico: ${msg.message}\n`);
        for (const other of liveWorkers()) other.process.kill('SIGTERM');
        process.exit(1);
      }
    });
    return w;
  };

  cluster.on('exit', (w, code, signal) => {
    if (shuttingDown) return;
    logger.error({ worker: w.process.pid, code, signal }, 'worker exited; starting a replacement');
    setTimeout(() => {
      if (!shuttingDown) fork();
    }, crashes.record(Date.now())).unref();
  });
  for (let i = 0; i < sc.workers; i++) fork();

  return {
    serving,
    broadcast(merged) {
      last = merged;
      for (const w of liveWorkers()) send(w, { type: 'config', merged });
    },
    halt() {
      shuttingDown = true;
    },
    async stop(graceMs) {
      shuttingDown = true;
      await Promise.all(
        liveWorkers().map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.isDead()) return resolve();
              const t = setTimeout(() => {
                w.process.kill('SIGKILL');
                resolve();
              }, graceMs + 2000);
              w.once('exit', () => {
                clearTimeout(t);
                resolve();
              });
              send(w, { type: 'shutdown' });
            }),
        ),
      );
    },
  };
}
