/*
 * Limits that hold per Portico process, not per cluster worker (issue 11,
 * item 11). rateLimit, inFlightReq and circuitBreaker keep their state in the
 * cluster primary; a worker asks it over the cluster IPC channel, the one the
 * configuration already travels on. Measured against a unix socket with
 * newline-delimited JSON (test/bench/limits-ipc.mjs, docs/benchmarks.md): the
 * same round trip (~13 µs), half the throughput, which is still far beyond
 * what a worker proxies; the IPC channel needs no socket of its own, keeps
 * these messages in order with the configuration, and tells a worker when the
 * primary is gone.
 *
 * This module is the transport only; what a limit does lives next to its
 * middleware. A worker opens an instance by key (the middleware's state key,
 * the same on every worker for the same configuration) with the parameters
 * the primary needs to build it, then calls it (question → answer) or tells it
 * (a report). Messages leaving a worker in one event-loop turn go as one IPC
 * message: batching takes the cost per call from ~5 µs to ~1 µs at load.
 *
 * Failure: a call the primary does not answer within LIMITS_TIMEOUT_MS, or
 * made when the channel is closed, is answered with LimitsUnavailableError;
 * the middleware decides what that means (rateLimit and inFlightReq fail
 * closed). An answer that comes after its deadline goes to the call's `late`
 * handler, so a slot granted too late is given back. Memory stays bounded
 * while the primary is stuck: past MAX_OUTSTANDING unanswered calls a call
 * fails at once without being sent, and reports that may be lost (breaker
 * outcomes) are dropped while MAX_UNSENT messages wait to be written.
 *
 * With `--workers=0` nothing here is used: `sharedLimits()` is undefined and
 * the middlewares keep their state in process, with no IPC.
 */
import type { Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { PorticoError } from '../kernel/errors.js';

/** how long a worker waits for the primary before a limit is unavailable */
export const LIMITS_TIMEOUT_MS = 1000;
/** how long the state of a limit whose workers all died waits for their replacements */
const ORPHAN_KEEP_MS = 60_000;
/** calls sent and not answered yet (in time or late) beyond which a call fails without being sent */
const MAX_OUTSTANDING = 10_000;
/** operations handed to the IPC channel and not written yet beyond which droppable reports are dropped */
const MAX_UNSENT = 10_000;

type Op =
  | { op: 'open'; inst: number; kind: string; key: string; params: unknown }
  | { op: 'close'; inst: number }
  | { op: 'call'; inst: number; call: number; data: unknown }
  | { op: 'tell'; inst: number; data: unknown };

type ToPrimary = { type: 'limits'; ops: Op[] };

type ToWorker =
  /** answers to calls, in the order asked; null when the primary cannot answer */
  | { type: 'limits-answers'; answers: [call: number, value: unknown][] }
  /** news for the workers using an instance (a circuit opened) */
  | { type: 'limits-event'; key: string; data: unknown };

export class LimitsUnavailableError extends PorticoError {
  constructor(reason: string) {
    super('PORTICO_ERR_LIMITS_UNAVAILABLE', `shared limit unavailable: ${reason}`);
    this.name = 'LimitsUnavailableError';
  }
}

// --- the primary ---------------------------------------------------------------------

/** One limit's state in the primary, shared by every worker that opened its key. */
export interface SharedLimit {
  /** a worker's question; the value goes back to it (JSON-serialisable) */
  call?(worker: string, data: unknown): unknown;
  /** a worker's report; nothing goes back */
  tell?(worker: string, data: unknown): void;
  /** the worker stopped using the limit (new configuration, or it died): free what it holds */
  leave?(worker: string): void;
  /** what a worker that starts using the limit must be told (an open circuit), if anything */
  welcome?(): unknown;
}

/** Builds the primary's side of one kind of limit (one per middleware type). */
export interface LimitKind {
  kind: string;
  /** `broadcast` reaches every worker using the instance */
  create(params: unknown, broadcast: (data: unknown) => void): SharedLimit;
}

export interface LimitsHost {
  /** serves a newly forked worker's calls; frees its holdings when it exits */
  attach(worker: Worker): void;
}

interface Instance {
  key: string;
  limit: SharedLimit;
  /** worker id → how many of its instance ids point here */
  users: Map<string, number>;
}

/** The primary's side: one instance per key, whichever worker opened it. */
export function createLimitsHost(kinds: LimitKind[], logger?: Logger): LimitsHost {
  const byKind = new Map(kinds.map((k) => [k.kind, k]));
  const instances = new Map<string, Instance>();
  const workers = new Map<string, Worker>();

  const send = (w: Worker | undefined, msg: ToWorker): void => {
    if (w?.isConnected()) w.send(msg);
  };

  const open = (source: string, kind: string, key: string, params: unknown): Instance => {
    let inst = instances.get(key);
    if (inst === undefined) {
      let limit: SharedLimit;
      try {
        const k = byKind.get(kind);
        if (k === undefined) throw new Error(`unknown limit kind "${kind}"`);
        limit = k.create(params, (data) => {
          for (const id of inst!.users.keys())
            send(workers.get(id), { type: 'limits-event', key, data });
        });
      } catch (err) {
        // the worker validated these parameters: this is a bug, and the limit fails closed
        logger?.error({ err, limit: key }, 'cannot build a shared limit');
        limit = {};
      }
      inst = { key, limit, users: new Map() };
      instances.set(key, inst);
    }
    inst.users.set(source, (inst.users.get(source) ?? 0) + 1);
    return inst;
  };

  /**
   * A limit nobody uses any more is dropped at once when the workers' configuration
   * dropped it, but kept a while when its last user died: the replacement picks it up,
   * so crashing workers does not hand out a fresh burst or close an open circuit.
   */
  const leave = (source: string, inst: Instance, died: boolean): void => {
    const n = (inst.users.get(source) ?? 1) - 1;
    if (n > 0) {
      inst.users.set(source, n);
      return;
    }
    inst.users.delete(source);
    inst.limit.leave?.(source);
    if (inst.users.size > 0) return;
    if (!died) {
      instances.delete(inst.key);
      return;
    }
    setTimeout(() => {
      if (inst.users.size === 0 && instances.get(inst.key) === inst) instances.delete(inst.key);
    }, ORPHAN_KEEP_MS).unref();
  };

  return {
    attach(worker) {
      const source = String(worker.id);
      workers.set(source, worker);
      /** this worker's instance ids */
      const mine = new Map<number, Instance>();
      worker.on('message', (msg: ToPrimary) => {
        if (msg?.type !== 'limits') return;
        const answers: [number, unknown][] = [];
        for (const op of msg.ops) {
          try {
            if (op.op === 'call') {
              const limit = mine.get(op.inst)?.limit;
              answers.push([op.call, limit?.call?.(source, op.data) ?? null]);
            } else if (op.op === 'tell') {
              mine.get(op.inst)?.limit.tell?.(source, op.data);
            } else if (op.op === 'open') {
              const inst = open(source, op.kind, op.key, op.params);
              mine.set(op.inst, inst);
              const welcome = inst.limit.welcome?.();
              if (welcome !== undefined)
                send(worker, { type: 'limits-event', key: op.key, data: welcome });
            } else if (op.op === 'close') {
              const inst = mine.get(op.inst);
              mine.delete(op.inst);
              if (inst !== undefined) leave(source, inst, false);
            }
          } catch (err) {
            logger?.error({ err, op: op.op }, 'shared limit operation failed');
            if (op.op === 'call') answers.push([op.call, null]);
          }
        }
        if (answers.length > 0) send(worker, { type: 'limits-answers', answers });
      });
      // a worker that died holds nothing any more (its in-flight requests died with it)
      worker.once('exit', () => {
        workers.delete(source);
        for (const inst of new Set(mine.values())) {
          inst.users.set(source, 1);
          leave(source, inst, true);
        }
        mine.clear();
      });
    },
  };
}

// --- a worker ----------------------------------------------------------------------

let lastWarning = -Infinity;

/** logs that a limit failed closed, at most once every 10 s per worker (a stuck primary fails every request) */
export function warnUnavailable(logger: Logger, err: Error): void {
  const now = performance.now();
  if (now - lastWarning < 10_000) return;
  lastWarning = now;
  logger.warn({ err }, 'shared limit unavailable: answering 503 until the cluster primary answers');
}

export type Answer = (value: unknown, err?: LimitsUnavailableError) => void;

/** A worker's handle on one shared limit. */
export interface SharedHandle {
  /** asks the primary; `answer` runs once, with the value or an error; `late` gets an answer after the deadline */
  call(data: unknown, answer: Answer, late?: (value: unknown) => void): void;
  /** reports to the primary (fire and forget); a `droppable` report is dropped while the channel is backed up */
  tell(data: unknown, droppable?: boolean): void;
  /** this worker no longer uses the limit */
  close(): void;
}

export interface LimitsClient {
  open(kind: string, key: string, params: unknown, onEvent?: (data: unknown) => void): SharedHandle;
  /** stops the timers and answers what is pending as unavailable */
  stop(): void;
}

let installed: LimitsClient | undefined;

/** The shared-limits client when this process is a cluster worker; undefined in one process. */
export function sharedLimits(): LimitsClient | undefined {
  return installed;
}

interface Pending {
  at: number;
  answer: Answer;
  late: ((value: unknown) => void) | undefined;
}

/** Installs the worker's client on the IPC channel to the primary (call once, in a worker). */
export function startLimitsClient(): LimitsClient {
  let nextInst = 0;
  let nextCall = 0;
  let queue: Op[] = [];
  const pending = new Map<number, Pending>();
  /** calls that timed out, whose answer may still come: their late handler, if any */
  const overdue = new Map<number, ((value: unknown) => void) | undefined>();
  /** operations given to process.send and not yet written */
  let unsent = 0;
  const events = new Map<string, (data: unknown) => void>();
  let sweepTimer: NodeJS.Timeout | undefined;

  const fail = (p: Pending, reason: string): void => {
    p.answer(undefined, new LimitsUnavailableError(reason));
  };

  const flush = (): void => {
    const ops = queue;
    queue = [];
    if (ops.length === 0) return;
    const failCalls = (reason: string): void => {
      for (const op of ops) {
        if (op.op !== 'call') continue;
        const p = pending.get(op.call);
        if (p === undefined) continue;
        pending.delete(op.call);
        fail(p, reason);
      }
    };
    if (process.send === undefined || !process.connected) {
      failCalls('the cluster primary is gone');
      return;
    }
    unsent += ops.length;
    process.send({ type: 'limits', ops } satisfies ToPrimary, undefined, {}, (err) => {
      unsent -= ops.length;
      if (err) failCalls(`cannot reach the cluster primary: ${err.message}`);
    });
  };

  const enqueue = (op: Op): void => {
    queue.push(op);
    if (queue.length === 1) setImmediate(flush);
  };

  // calls are in id order, so the oldest are first: stop at the first one still in time
  const sweep = (): void => {
    sweepTimer = undefined;
    const now = performance.now();
    for (const [id, p] of pending) {
      if (now - p.at < LIMITS_TIMEOUT_MS) break;
      pending.delete(id);
      overdue.set(id, p.late);
      fail(p, `the cluster primary did not answer within ${LIMITS_TIMEOUT_MS}ms`);
    }
    armSweep();
  };
  const armSweep = (): void => {
    if (sweepTimer !== undefined || pending.size === 0) return;
    sweepTimer = setTimeout(sweep, LIMITS_TIMEOUT_MS / 4);
    sweepTimer.unref();
  };

  const onMessage = (msg: ToWorker): void => {
    if (msg?.type === 'limits-answers') {
      for (const [id, value] of msg.answers) {
        const p = pending.get(id);
        if (p !== undefined) {
          pending.delete(id);
          if (value === null) fail(p, 'the cluster primary has no such limit');
          else p.answer(value);
          continue;
        }
        const late = overdue.get(id);
        overdue.delete(id);
        if (late !== undefined && value !== null) late(value);
      }
    } else if (msg?.type === 'limits-event') {
      events.get(msg.key)?.(msg.data);
    }
  };
  process.on('message', onMessage);

  const client: LimitsClient = {
    open(kind, key, params, onEvent) {
      const inst = ++nextInst;
      if (onEvent !== undefined) events.set(key, onEvent);
      enqueue({ op: 'open', inst, kind, key, params });
      let closed = false;
      return {
        call(data, answer, onLate) {
          if (pending.size + overdue.size >= MAX_OUTSTANDING) {
            process.nextTick(
              answer,
              undefined,
              new LimitsUnavailableError('too many calls unanswered by the cluster primary'),
            );
            return;
          }
          const call = ++nextCall;
          pending.set(call, { at: performance.now(), answer, late: onLate });
          armSweep();
          enqueue({ op: 'call', inst, call, data });
        },
        tell(data, droppable = false) {
          if (droppable && unsent + queue.length >= MAX_UNSENT) return;
          enqueue({ op: 'tell', inst, data });
        },
        close() {
          if (closed) return;
          closed = true;
          if (events.get(key) === onEvent) events.delete(key);
          enqueue({ op: 'close', inst });
        },
      };
    },
    stop() {
      process.off('message', onMessage);
      if (sweepTimer !== undefined) clearTimeout(sweepTimer);
      for (const p of pending.values()) fail(p, 'the worker is stopping');
      pending.clear();
      overdue.clear();
      if (installed === client) installed = undefined;
    },
  };
  installed = client;
  return client;
}
