/*
 * The last line of defence for a serving process (issue 11: "no process exit
 * for one request"). Go's HTTP server, which Traefik relies on, recovers a
 * panic in one request and keeps serving the others; Node has no per-request
 * recovery, so an exception that escapes a callback would end the worker and
 * cut every request it carries (a single hostile upstream response did that).
 *
 * Request paths are guarded where they can throw (entrypoint handler, the
 * upstream clients' callbacks, response-head.ts); this catches what still
 * escapes: it is logged with its stack and the process keeps serving. A
 * process that keeps throwing is not healthy, though: past `limit` uncaught
 * exceptions within `windowMs` it gives up, and the cluster primary replaces
 * the worker (a single process exits for its supervisor to restart it).
 */

/** Socket-level errors that surface outside any request (the affected request already failed). */
export const HARMLESS_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_WRITE_AFTER_END',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'PORTICO_ERR_UPSTREAM_CLOSED',
]);

export interface CrashGuardOptions {
  /** told about every uncaught exception the process survives */
  report(err: Error, count: number): void;
  /** told about a harmless socket error (optional) */
  harmless?(err: Error): void;
  /** called once when the process should stop (too many in the window) */
  giveUp(err: Error): void;
  /** uncaught exceptions tolerated within windowMs; default 10 */
  limit?: number;
  windowMs?: number;
  now?: () => number;
}

/** Installs the guard on this process; returns a function that removes it. */
export function installCrashGuard(opts: CrashGuardOptions): () => void {
  const limit = opts.limit ?? 10;
  const windowMs = opts.windowMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const times: number[] = [];
  let total = 0;
  let gaveUp = false;
  const onUncaught = (thrown: unknown): void => {
    const err = thrown instanceof Error ? thrown : new Error(String(thrown));
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== undefined && HARMLESS_CODES.has(code)) {
      opts.harmless?.(err);
      return;
    }
    total++;
    const t = now();
    times.push(t);
    while (times.length > 0 && t - times[0]! > windowMs) times.shift();
    if (times.length > limit) {
      if (gaveUp) return;
      gaveUp = true;
      opts.giveUp(err);
      return;
    }
    opts.report(err, total);
  };
  process.on('uncaughtException', onUncaught);
  return () => process.off('uncaughtException', onUncaught);
}
