/*
 * The probing loop both health checkers run (HTTP: health-check.ts, TCP: src/tcp/health.ts),
 * as Traefik's pkg/healthcheck runs one for either: each server starts UP (or as a previous
 * checker knew it), is probed at start() and then every `interval` while UP, every
 * `unhealthyInterval` while DOWN; a probe is aborted after `timeout`; the next probe of a
 * server is only scheduled once its last one settled, so probes of one server never overlap.
 * What a probe is and what a transition does (log, listener) is the checker's.
 */
import type { HealthCheckTimings, ServerStatus } from './health-check.js';

/** The reason the loop aborts a probe's signal with when the probe's timeout passes. */
export const PROBE_TIMED_OUT = 'health check timeout';

export interface ProbeLoopOptions {
  /** the servers' keys (URL, address) and whether each starts UP; a repeated key is probed once */
  servers: Iterable<readonly [key: string, up: boolean]>;
  timings: HealthCheckTimings;
  /** One probe: undefined when healthy, else the reason; `signal` ends it early (timeout, close). */
  probe(key: string, signal: AbortSignal): Promise<string | undefined>;
  /** Called on every UP/DOWN change, never for a probe that confirms the current state. */
  onTransition(key: string, up: boolean, reason: string | undefined): void;
}

export interface ProbeLoop {
  start(): void;
  /** stops every timer and aborts the probes in flight; nothing is reported after it */
  close(): void;
  /** servers the loop does not watch are reported UP */
  isUp(key: string): boolean;
  status(): Record<string, ServerStatus>;
}

interface Target {
  key: string;
  up: boolean;
  timer: NodeJS.Timeout | undefined;
  inflight: AbortController | undefined;
}

export function createProbeLoop(opts: ProbeLoopOptions): ProbeLoop {
  const { intervalMs, unhealthyIntervalMs, timeoutMs } = opts.timings;
  const targets = new Map<string, Target>();
  for (const [key, up] of opts.servers) {
    if (!targets.has(key)) targets.set(key, { key, up, timer: undefined, inflight: undefined });
  }
  let started = false;
  let closed = false;

  const schedule = (t: Target): void => {
    if (closed) return;
    t.timer = setTimeout(() => void run(t), t.up ? intervalMs : unhealthyIntervalMs);
    t.timer.unref();
  };

  const run = async (t: Target): Promise<void> => {
    t.timer = undefined;
    const ac = new AbortController();
    t.inflight = ac;
    const deadline = setTimeout(() => ac.abort(PROBE_TIMED_OUT), timeoutMs);
    deadline.unref();
    let failure: string | undefined;
    try {
      failure = await opts.probe(t.key, ac.signal);
    } catch (err) {
      failure = `probe failed: ${err instanceof Error ? err.message : String(err)}`;
    } finally {
      clearTimeout(deadline);
      t.inflight = undefined;
    }
    if (closed) return;
    const up = failure === undefined;
    if (up !== t.up) {
      t.up = up;
      opts.onTransition(t.key, up, failure);
    }
    schedule(t);
  };

  return {
    start() {
      if (started || closed) return;
      started = true;
      for (const t of targets.values()) void run(t);
    },
    close() {
      if (closed) return;
      closed = true;
      for (const t of targets.values()) {
        if (t.timer !== undefined) clearTimeout(t.timer);
        t.timer = undefined;
        t.inflight?.abort();
      }
    },
    isUp(key) {
      return targets.get(key)?.up ?? true;
    },
    status() {
      const out: Record<string, ServerStatus> = {};
      for (const t of targets.values()) out[t.key] = t.up ? 'UP' : 'DOWN';
      return out;
    },
  };
}
