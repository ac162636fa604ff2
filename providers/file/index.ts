/*
 * The file provider: Traefik's dynamic configuration from one file or from every
 * .yml/.yaml/.json file under a directory, re-read whenever something changes.
 *
 * Per file, the last content that parsed is kept, so a half-saved or broken
 * file never takes its routes down; its error rides along in the snapshot until
 * the file is fixed. Directories are read recursively like Traefik does, and
 * unlike Traefik (whose watcher is not recursive, traefik/traefik#3986) the
 * subdirectories are watched too.
 *
 * Directories are watched rather than files: editors save by writing a temp
 * file and renaming it over the original, which silently orphans a watch on the
 * file itself. Kubernetes ConfigMap volumes swap a `..data` symlink the same way.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ElementError } from '../../src/config/dynamic.js';
import type { Provider, ProviderSnapshot } from '../../src/config/provider.js';
import { StaticConfigError } from '../../src/kernel/errors.js';
import { fileError, fileFormat, parseDynamicText, readError, type ParsedFile } from './load.js';
import { mergeContributions, type FileContribution } from './merge.js';
import { createDebouncer, createDirectoryWatchers, relevantName } from './watch.js';
import { stableKey } from '../../src/config/objects.js';

export { loadDynamicFile, parseDynamicText, type LoadResult, type ParsedFile } from './load.js';

export interface FileProviderLogger {
  info(o: object, msg: string): void;
  warn(o: object, msg: string): void;
  error(o: object, msg: string): void;
}

export interface FileProviderOptions {
  filename?: string;
  directory?: string;
  watch: boolean;
  logger?: FileProviderLogger;
  /** quiet time after the last file event before re-reading; default 50 ms */
  debounceMs?: number;
}

const PROVIDER = 'file';
/** A steady stream of events must not postpone a reload forever. */
const MAX_DEBOUNCE_DELAY_MS = 500;

const silentLogger: FileProviderLogger = { info() {}, warn() {}, error() {} };

interface FileState {
  text?: string;
  /** last content that parsed, kept while the file is broken */
  good?: ParsedFile;
  errors: ElementError[];
}

interface Scan {
  files: string[];
  /** existing directories → inode, to notice one deleted and recreated under a dead watch */
  dirs: Map<string, number>;
  errors: ElementError[];
}

async function inodeOf(dir: string): Promise<number | undefined> {
  try {
    const s = await stat(dir);
    return s.isDirectory() ? s.ino : undefined;
  } catch {
    return undefined;
  }
}

/** Every configuration file under `root`, recursively; dot-directories are skipped. */
async function scanDirectory(root: string): Promise<Scan> {
  const scan: Scan = { files: [], dirs: new Map(), errors: [] };
  const walk = async (dir: string, top: boolean): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      // a subdirectory vanishing mid-scan is an ordinary change, not an error
      if (top || (err as NodeJS.ErrnoException).code !== 'ENOENT') {
        const code = (err as NodeJS.ErrnoException).code;
        const reason = code === 'ENOENT' ? 'no such directory' : (err as Error).message;
        scan.errors.push(fileError(dir, `${dir}: ${reason}`));
      }
      return;
    }
    const ino = await inodeOf(dir);
    if (ino !== undefined) scan.dirs.set(dir, ino);
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        // hidden directories hold editor state, VCS data or ConfigMap timestamped
        // copies (`..2024_01_01...`) that would duplicate every element
        if (!entry.name.startsWith('.')) await walk(path, false);
      } else if ((entry.isFile() || entry.isSymbolicLink()) && fileFormat(entry.name)) {
        scan.files.push(path);
      }
    }
  };
  await walk(root, true);
  return scan;
}

/**
 * The reading half of the provider: knows which files exist and what each one
 * last said. `refresh` re-reads everything (unchanged text is not re-parsed)
 * and returns the merged snapshot plus the directories worth watching.
 */
function createFileSource(opts: { filename?: string; directory?: string }) {
  const states = new Map<string, FileState>();

  async function readOne(path: string, optional: boolean): Promise<boolean> {
    const previous = states.get(path);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        // deleted between listing and reading: gone, like the rest of its elements
        states.delete(path);
        return false;
      }
      // a missing single file has no last-good content worth serving; other
      // read failures (permissions, I/O) keep what the file said before
      const keep = (err as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : previous?.good;
      states.set(path, { good: keep, errors: [readError(path, err)] });
      return true;
    }
    if (previous && previous.text === text) return true;
    const parsed = parseDynamicText(path, text);
    states.set(path, {
      text,
      good: parsed.ok ? parsed : previous?.good,
      errors: parsed.errors,
    });
    return true;
  }

  async function refresh(): Promise<{ snapshot: ProviderSnapshot; dirs: Map<string, number> }> {
    const errors: ElementError[] = [];
    let files: string[];
    let dirs: Map<string, number>;
    if (opts.directory !== undefined) {
      const scan = await scanDirectory(opts.directory);
      files = scan.files;
      dirs = scan.dirs;
      errors.push(...scan.errors);
    } else {
      files = [opts.filename!];
      const parent = dirname(opts.filename!);
      const ino = await inodeOf(parent);
      dirs = new Map(ino === undefined ? [] : [[parent, ino]]);
    }

    const present = new Set<string>();
    for (const file of files) {
      if (await readOne(file, opts.directory !== undefined)) present.add(file);
    }
    for (const file of [...states.keys()]) if (!present.has(file)) states.delete(file);

    const contributions: FileContribution[] = [];
    for (const file of files) {
      const state = states.get(file);
      if (!state) continue;
      errors.push(...state.errors);
      if (state.good) {
        contributions.push({ file, config: state.good.config, lines: state.good.lines });
      }
    }
    const merged = mergeContributions(contributions);
    errors.push(...merged.errors);
    return {
      snapshot: { provider: PROVIDER, config: merged.config, errors, origins: merged.origins },
      dirs,
    };
  }

  return { refresh };
}

/**
 * Reads a file or directory once and returns the merged snapshot, for
 * `portico check` and other one-shot uses.
 */
export async function loadDynamicSources(opts: {
  filename?: string;
  directory?: string;
}): Promise<ProviderSnapshot> {
  return (await createFileSource(opts).refresh()).snapshot;
}

export function createFileProvider(opts: FileProviderOptions): Provider {
  const logger = opts.logger ?? silentLogger;
  if (!opts.filename && !opts.directory) {
    throw new StaticConfigError('providers.file', 'set either filename or directory');
  }
  // Traefik reads the directory when both are set; say so instead of guessing silently
  const directory = opts.directory || undefined;
  const filename = directory ? undefined : opts.filename;
  if (opts.directory && opts.filename) {
    logger.warn(
      { filename: opts.filename, directory: opts.directory },
      'file provider: both filename and directory are set; using directory',
    );
  }
  const debounceMs = opts.debounceMs ?? 50;

  return {
    name: PROVIDER,
    start(emit, signal) {
      return new Promise<void>((resolve) => {
        if (signal.aborted) {
          resolve();
          return;
        }
        const source = createFileSource({ filename, directory });
        let running = false;
        let again = false;
        let lastEmitted: string | undefined;
        const logErrors = createErrorLog(logger);

        const debouncer = createDebouncer(debounceMs, MAX_DEBOUNCE_DELAY_MS, () => void run());
        const schedule = (): void => {
          if (!signal.aborted) debouncer.schedule();
        };
        const watchers = createDirectoryWatchers({
          root: directory ?? dirname(filename!),
          onEvent: (name) => {
            if (relevantName(name, filename)) schedule();
          },
          onError: schedule,
          onPoll: schedule,
          logger,
        });

        const stop = () => {
          signal.removeEventListener('abort', stop);
          debouncer.cancel();
          watchers.close();
          resolve();
        };

        const run = async (): Promise<void> => {
          if (running) {
            again = true;
            return;
          }
          running = true;
          try {
            do {
              again = false;
              const { snapshot, dirs } = await source.refresh();
              if (signal.aborted) return;
              const key = stableKey(snapshot);
              if (key !== lastEmitted) {
                lastEmitted = key;
                logErrors(snapshot.errors);
                logger.info(
                  {
                    elements: Object.keys(snapshot.origins ?? {}).length,
                    errors: snapshot.errors.length,
                  },
                  'file provider: configuration loaded',
                );
                emit(snapshot);
              }
              if (!opts.watch) {
                stop();
                return;
              }
              // files written into a directory before its watcher existed would be
              // missed, so a newly watched directory earns one more read
              if (watchers.reconcile(dirs)) schedule();
            } while (again && !signal.aborted);
          } catch (err) {
            logger.error({ err }, 'file provider: reload failed');
            // without a watcher nothing would ever settle the promise
            if (!opts.watch) stop();
          } finally {
            running = false;
          }
        };

        signal.addEventListener('abort', stop, { once: true });
        void run();
      });
    },
  };
}

/** Warns about each error once: again only after a configuration without it. */
export function createErrorLog(
  logger: Pick<FileProviderLogger, 'warn'>,
): (errors: readonly ElementError[]) => void {
  const logged = new Set<string>();
  return (errors) => {
    for (const e of errors) {
      const line = `${e.kind}/${e.name}/${e.message}`;
      if (!logged.has(line)) logger.warn({ error: e }, `file provider: ${e.message}`);
    }
    logged.clear();
    for (const e of errors) logged.add(`${e.kind}/${e.name}/${e.message}`);
  };
}
