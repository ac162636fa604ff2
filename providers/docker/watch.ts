/*
 * Following the Docker daemon between lists, as Traefik's Docker provider
 * does (pkg/provider/docker/pdocker.go listenToEvents): container events
 * trigger a re-list after a short quiet time (a burst becomes one list), and a
 * container told to stop leaves the load balancer at once, before its
 * connections are refused.
 */
import { constants as osConstants } from 'node:os';
import type { ContainerInfo } from './model.js';

export interface DockerEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/** Docker reports kill signals as numbers ("15"); images name their stop signal ("SIGQUIT"). */
function signalNumber(name: string): string | undefined {
  const n =
    osConstants.signals[
      (name.startsWith('SIG') ? name : `SIG${name}`) as keyof typeof osConstants.signals
    ];
  return n === undefined ? undefined : String(n);
}

const STOP_SIGNALS = new Set([
  '9',
  '15',
  '2',
  'SIGKILL',
  'SIGTERM',
  'SIGINT',
  'KILL',
  'TERM',
  'INT',
]);
const RELIST_ACTIONS = new Set([
  'start',
  'die',
  'stop',
  'kill',
  'destroy',
  'pause',
  'unpause',
  'rename',
  'update',
  'create',
  'restart',
  'oom',
]);

/**
 * Whether a kill or stop event means the container is going away: no signal
 * (a `stop`), a terminating one, or the container's own stop signal (nginx
 * images stop on SIGQUIT), by name or by number as Docker reports it.
 */
export function isStopSignal(signalName: string | undefined, own: string | undefined): boolean {
  return (
    signalName === undefined ||
    STOP_SIGNALS.has(signalName) ||
    (own !== undefined &&
      (own === signalName || own === `SIG${signalName}` || signalNumber(own) === signalName))
  );
}

/** Feeds each JSON line of the daemon's event stream to onEvent until the stream ends or signal aborts. */
export function readEvents(
  stream: NodeJS.ReadableStream & { destroy(): void },
  signal: AbortSignal,
  onEvent: (ev: DockerEvent) => void,
): Promise<void> {
  return new Promise<void>((resolve) => {
    let buf = '';
    const done = (): void => {
      signal.removeEventListener('abort', abort);
      resolve();
    };
    const abort = (): void => stream.destroy();
    signal.addEventListener('abort', abort, { once: true });
    stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === '') continue;
        try {
          onEvent(JSON.parse(line) as DockerEvent);
        } catch {
          // a partial or foreign line: the next list catches up anyway
        }
      }
    });
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}

export interface ContainerWatchOptions {
  list(): Promise<ContainerInfo[]>;
  /** called with the containers that should serve (those told to stop left out) */
  publish(containers: ContainerInfo[]): void;
  relistDelayMs: number;
  onListError(err: unknown): void;
  debug(o: object, msg: string): void;
}

export interface ContainerWatch {
  /** lists now and publishes; rejects when the daemon does not answer */
  relist(): Promise<void>;
  /** a re-list after the quiet time; one at a time, a request during a list runs once after it */
  scheduleRelist(): void;
  onEvent(ev: DockerEvent): void;
  close(): void;
}

export function createContainerWatch(opts: ContainerWatchOptions): ContainerWatch {
  let containers: ContainerInfo[] = [];
  // containers told to stop: they leave the load balancer before their connections are refused
  const stopping = new Set<string>();
  const publish = (): void => opts.publish(containers.filter((c) => !stopping.has(c.id)));

  let relisting: Promise<void> | null = null;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  const relist = async (): Promise<void> => {
    containers = await opts.list();
    for (const id of stopping) {
      const c = containers.find((x) => x.id === id);
      if (c === undefined || c.state.status !== 'running') stopping.delete(id);
    }
    publish();
  };
  const run = (): void => {
    relisting = relist()
      .catch(opts.onListError)
      .finally(() => {
        relisting = null;
        if (again) {
          again = false;
          run();
        }
      });
  };
  const scheduleRelist = (): void => {
    if (timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (relisting !== null) {
        again = true;
        return;
      }
      run();
    }, opts.relistDelayMs);
  };

  const onEvent = (ev: DockerEvent): void => {
    if ((ev.Type ?? 'container') !== 'container') return;
    const action = (ev.Action ?? ev.status ?? '').split(':')[0]!.trim();
    const id = ev.Actor?.ID ?? ev.id ?? '';
    opts.debug({ provider: 'docker', action, container: id.slice(0, 12) }, 'docker event');
    if (action === 'kill' || action === 'stop') {
      const own = containers.find((c) => c.id === id)?.stopSignal;
      if (action === 'stop' || isStopSignal(ev.Actor?.Attributes?.signal, own)) {
        if (!stopping.has(id) && containers.some((c) => c.id === id)) {
          stopping.add(id);
          publish();
        }
      }
    } else if (action === 'start' || action === 'unpause') {
      stopping.delete(id);
    }
    if (RELIST_ACTIONS.has(action) || action === 'health_status') scheduleRelist();
  };

  return {
    relist,
    scheduleRelist,
    onEvent,
    close() {
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
