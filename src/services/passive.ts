/*
 * Passive health checking (Traefik v3.6 `passiveHealthCheck`): real traffic is
 * the probe. `maxFailedAttempts` failures inside a sliding `failureWindow` eject
 * the server for `failureWindow`; afterwards it takes traffic again. A success
 * forgets past failures but does not cut an ejection short, as in Traefik.
 * Time is passed in (defaulting to Date.now()) so callers and tests need no timers.
 */
import type { PassiveHealthCheckConfig } from '../config/dynamic.js';
import { parseGoDuration } from '../kernel/duration.js';

export const DEFAULT_FAILURE_WINDOW_MS = 10_000;
export const DEFAULT_MAX_FAILED_ATTEMPTS = 1;

export interface PassiveHealth {
  readonly failureWindowMs: number;
  readonly maxFailedAttempts: number;
  /** Records a failed request; returns true when this failure ejected the server. */
  recordFailure(url: string, now?: number): boolean;
  recordSuccess(url: string): void;
  isUp(url: string, now?: number): boolean;
}

interface ServerState {
  // Only the latest maxFailedAttempts timestamps matter: the threshold is hit
  // exactly when the oldest of them is still inside the window. Ring buffer keeps memory bounded.
  failures: number[];
  next: number;
  count: number;
  ejectedUntil: number;
}

export function createPassiveHealth(config: PassiveHealthCheckConfig = {}): PassiveHealth {
  let failureWindowMs = parseGoDuration(config.failureWindow, DEFAULT_FAILURE_WINDOW_MS);
  if (!(failureWindowMs > 0)) failureWindowMs = DEFAULT_FAILURE_WINDOW_MS;
  const configured = config.maxFailedAttempts;
  const maxFailedAttempts =
    configured !== undefined && Number.isFinite(configured) && configured >= 1
      ? Math.floor(configured)
      : DEFAULT_MAX_FAILED_ATTEMPTS;
  const servers = new Map<string, ServerState>();

  function stateOf(url: string): ServerState {
    let s = servers.get(url);
    if (!s) {
      s = {
        failures: new Array<number>(maxFailedAttempts).fill(0),
        next: 0,
        count: 0,
        ejectedUntil: 0,
      };
      servers.set(url, s);
    }
    return s;
  }

  return {
    failureWindowMs,
    maxFailedAttempts,

    recordFailure(url, now = Date.now()) {
      const s = stateOf(url);
      s.failures[s.next] = now;
      s.next = (s.next + 1) % maxFailedAttempts;
      if (s.count < maxFailedAttempts) s.count++;
      // An ejection already running is not extended: Traefik keeps a single timer per server.
      if (now < s.ejectedUntil) return false;
      if (s.count < maxFailedAttempts) return false;
      // After the write above, `next` points at the oldest of the last maxFailedAttempts failures.
      const oldest = s.failures[s.next] as number;
      if (now - oldest >= failureWindowMs) return false;
      s.ejectedUntil = now + failureWindowMs;
      return true;
    },

    recordSuccess(url) {
      const s = servers.get(url);
      if (!s) return;
      s.count = 0;
      s.next = 0;
      if (s.ejectedUntil === 0) servers.delete(url);
    },

    isUp(url, now = Date.now()) {
      const s = servers.get(url);
      if (!s) return true;
      if (now < s.ejectedUntil) return false;
      if (s.ejectedUntil !== 0) {
        s.ejectedUntil = 0;
        if (s.count === 0) servers.delete(url);
      }
      return true;
    },
  };
}
