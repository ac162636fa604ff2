/*
 * The file provider's watching half: which file events matter, the debounce
 * that turns a burst of them into one reload, and one watcher per directory
 * (Traefik's is not recursive, traefik/traefik#3986; Portico watches
 * subdirectories too), renewed when a directory is recreated and replaced by
 * polling while the watched root does not exist.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename } from 'node:path';
import { fileFormat } from './load.js';

/** While the watched directory does not exist there is nothing to watch: poll for it. */
const POLL_MS = 1000;

/**
 * Whether an event about `name` in a watched directory may change the
 * configuration; `filename` is set when the provider reads one file.
 */
export function relevantName(name: string | null, filename: string | undefined): boolean {
  if (name === null) return true;
  // Kubernetes atomic writer: the `..data` symlink swap replaces every file at once
  if (name.startsWith('..')) return true;
  if (filename !== undefined) return name === basename(filename);
  if (name.endsWith('~')) return false;
  // a name with another extension is an editor swap/backup file; no extension may be a directory
  return fileFormat(name) !== undefined || !/\.[^./]+$/.test(name);
}

/**
 * Calls `fire` once `quietMs` passed without another schedule(), but no later
 * than `maxMs` after the first one of a burst.
 */
export function createDebouncer(
  quietMs: number,
  maxMs: number,
  fire: () => void,
): { schedule(): void; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  let firstEventAt: number | undefined;
  return {
    schedule() {
      const now = Date.now();
      firstEventAt ??= now;
      clearTimeout(timer);
      const delay = Math.max(0, Math.min(quietMs, firstEventAt + maxMs - now));
      timer = setTimeout(() => {
        firstEventAt = undefined;
        fire();
      }, delay);
    },
    cancel() {
      clearTimeout(timer);
    },
  };
}

export interface DirectoryWatchersOptions {
  /** the directory read (or holding the file read); polled for while it does not exist */
  root: string;
  onEvent(name: string | null): void;
  /** a watcher failed and was dropped */
  onError(): void;
  onPoll(): void;
  logger: {
    warn(o: object, msg: string): void;
    error(o: object, msg: string): void;
  };
}

export function createDirectoryWatchers(opts: DirectoryWatchersOptions): {
  /**
   * Starts watchers for new directories (path → inode) and drops those for
   * vanished ones; returns whether one was added. A directory recreated under
   * the same name gets a fresh watcher: the old one died with the old inode
   * without a word.
   */
  reconcile(dirs: Map<string, number>): boolean;
  close(): void;
} {
  const { logger } = opts;
  const watchers = new Map<string, { watcher: FSWatcher; ino: number }>();
  let poller: NodeJS.Timeout | undefined;
  return {
    reconcile(dirs) {
      let added = false;
      // nothing to watch until the root exists: poll for it instead
      let missing = !dirs.has(opts.root);
      for (const [dir, entry] of watchers) {
        if (dirs.get(dir) !== entry.ino) {
          entry.watcher.close();
          watchers.delete(dir);
        }
      }
      for (const [dir, ino] of dirs) {
        if (watchers.has(dir)) continue;
        try {
          const watcher = watch(dir, (_event, name) =>
            opts.onEvent(name === null ? null : String(name)),
          );
          watcher.on('error', (err) => {
            logger.warn({ dir, err }, 'file provider: watcher failed');
            watcher.close();
            if (watchers.get(dir)?.watcher === watcher) watchers.delete(dir);
            opts.onError();
          });
          watchers.set(dir, { watcher, ino });
          added = true;
        } catch (err) {
          missing = true;
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
            logger.error({ dir, err }, 'file provider: cannot watch directory');
          }
        }
      }
      if (missing && poller === undefined) {
        poller = setInterval(opts.onPoll, POLL_MS);
        poller.unref?.();
      } else if (!missing && poller !== undefined) {
        clearInterval(poller);
        poller = undefined;
      }
      return added;
    },
    close() {
      clearInterval(poller);
      for (const { watcher } of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}
