/*
 * The Docker provider: lists containers at start, follows the event stream,
 * and hands the aggregator a whole snapshot built by the pure translator
 * (build.ts) after every burst of changes. When the daemon goes away the last
 * snapshot keeps serving (nothing is emitted) and the provider reconnects with
 * a short backoff, so routes catch up within a few seconds of its return.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { constants as osConstants } from 'node:os';
import Docker from 'dockerode';
import type { Provider, ProviderSnapshot } from '../../src/config/provider.js';
import type { DockerProviderConfig } from '../../src/config/static-types.js';
import {
  buildDockerConfig,
  type ContainerInfo,
  type ContainerPort,
  type LabelDiagnostic,
} from './build.js';

export { buildDockerConfig, type ContainerInfo, type LabelDiagnostic } from './build.js';

export interface DockerLogger {
  debug(o: object, msg: string): void;
  info(o: object, msg: string): void;
  warn(o: object, msg: string): void;
  error(o: object, msg: string): void;
}

export interface DockerProviderOptions extends DockerProviderConfig {
  logger: DockerLogger;
  /** quiet time after an event before re-listing (bursts collapse into one list) */
  relistDelayMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface DockerProvider extends Provider {
  /** the bad labels found in the last list, for `portico check --docker`, the API and the dashboard */
  diagnostics(): LabelDiagnostic[];
  /** whether the daemon answered last time we asked */
  connected(): boolean;
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

/** Endpoint as Traefik takes it (`unix:///path`, `tcp://host:port`), else DOCKER_HOST, else the default socket. */
export function createDockerClient(
  cfg: Pick<DockerProviderConfig, 'endpoint' | 'tls'>,
  env: NodeJS.ProcessEnv = process.env,
): Docker {
  const endpoint = cfg.endpoint ?? env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  if (endpoint.startsWith('unix://'))
    return new Docker({ socketPath: endpoint.slice('unix://'.length) });
  const u = new URL(endpoint.replace(/^tcp:/, 'http:'));
  const useTls = Boolean(cfg.tls.ca || cfg.tls.cert) || u.protocol === 'https:';
  return new Docker({
    host: u.hostname,
    port: Number(u.port || (useTls ? 2376 : 2375)),
    protocol: useTls ? 'https' : 'http',
    ...(cfg.tls.ca ? { ca: readFileSync(cfg.tls.ca) } : {}),
    ...(cfg.tls.cert ? { cert: readFileSync(cfg.tls.cert) } : {}),
    ...(cfg.tls.key ? { key: readFileSync(cfg.tls.key) } : {}),
    ...(useTls && cfg.tls.insecureSkipVerify
      ? { agent: new https.Agent({ rejectUnauthorized: false }) }
      : {}),
  });
}

/** dockerode's inspect answer → the translator's input. */
export function toContainerInfo(i: Docker.ContainerInspectInfo): ContainerInfo {
  const ports = new Map<string, ContainerPort>();
  const add = (spec: string, binding?: { HostIp?: string; HostPort?: string }): void => {
    const [p, proto = 'tcp'] = spec.split('/');
    const port = Number(p);
    if (!Number.isInteger(port)) return;
    const key = `${port}/${proto}`;
    const entry: ContainerPort = ports.get(key) ?? {
      port,
      protocol: proto as ContainerPort['protocol'],
    };
    if (binding?.HostPort) {
      entry.hostPort = Number(binding.HostPort);
      if (binding.HostIp) entry.hostIp = binding.HostIp;
    }
    ports.set(key, entry);
  };
  for (const spec of Object.keys(i.Config?.ExposedPorts ?? {})) add(spec);
  for (const [spec, bindings] of Object.entries(i.NetworkSettings?.Ports ?? {})) {
    if (bindings && bindings.length > 0) for (const b of bindings) add(spec, b);
    else add(spec);
  }
  return {
    id: i.Id,
    name: i.Name,
    labels: i.Config?.Labels ?? {},
    state: {
      status: i.State?.Status ?? 'unknown',
      ...(i.State?.Health?.Status ? { health: i.State.Health.Status } : {}),
    },
    ...(i.HostConfig?.NetworkMode ? { networkMode: i.HostConfig.NetworkMode } : {}),
    networks: Object.entries(i.NetworkSettings?.Networks ?? {}).map(([name, n]) => ({
      name,
      ...(n.IPAddress ? { ipAddress: n.IPAddress } : {}),
      ...(n.GlobalIPv6Address ? { ipv6Address: n.GlobalIPv6Address } : {}),
    })),
    ports: [...ports.values()],
    // not in @types/dockerode, but the Engine API returns it
    ...((i.Config as { StopSignal?: string } | undefined)?.StopSignal
      ? { stopSignal: (i.Config as { StopSignal?: string }).StopSignal! }
      : {}),
  };
}

/** Lists every container once (running or not) with its inspect data. */
export async function listContainers(docker: Docker): Promise<ContainerInfo[]> {
  const summaries = await docker.listContainers({ all: true });
  const infos = await Promise.all(
    summaries.map((s) =>
      docker
        .getContainer(s.Id)
        .inspect()
        .then(toContainerInfo)
        // removed between list and inspect: it is gone, which the next list confirms
        .catch(() => undefined),
    ),
  );
  return infos.filter((c): c is ContainerInfo => c !== undefined);
}

interface DockerEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

export function createDockerProvider(opts: DockerProviderOptions): DockerProvider {
  const log = opts.logger;
  const docker = createDockerClient(opts, opts.env);
  const relistDelayMs = opts.relistDelayMs ?? 50;
  let diagnostics: LabelDiagnostic[] = [];
  let isConnected = false;
  const reported = new Set<string>();

  const buildOpts = {
    exposedByDefault: opts.exposedByDefault,
    defaultRule: opts.defaultRule,
    allowEmptyServices: opts.allowEmptyServices,
    ...(opts.network ? { network: opts.network } : {}),
    ...(opts.constraints ? { constraints: opts.constraints } : {}),
  };

  const snapshotOf = (containers: ContainerInfo[]): ProviderSnapshot => {
    const result = buildDockerConfig(containers, buildOpts);
    diagnostics = result.diagnostics;
    // each bad label is logged once while it exists, with container, key, value and reason
    const current = new Set<string>();
    for (const d of result.diagnostics) {
      const key = `${d.container}\u0000${d.key}\u0000${d.value}\u0000${d.message}`;
      current.add(key);
      if (reported.has(key)) continue;
      reported.add(key);
      const rec = { container: d.container, label: d.key, value: d.value };
      if (d.level === 'error')
        log.error(
          rec,
          `container ${d.container}: label ${d.key}=${JSON.stringify(d.value)}: ${d.message}`,
        );
      else
        log.warn(
          rec,
          `container ${d.container}: label ${d.key}=${JSON.stringify(d.value)}: ${d.message}`,
        );
    }
    for (const key of reported) if (!current.has(key)) reported.delete(key);
    return { provider: 'docker', config: result.config, errors: result.errors };
  };

  return {
    name: 'docker',
    diagnostics: () => diagnostics,
    connected: () => isConnected,
    async start(emit, signal) {
      let containers: ContainerInfo[] = [];
      // containers told to stop: they leave the load balancer before their connections are refused
      const stopping = new Set<string>();
      const publish = (): void => emit(snapshotOf(containers.filter((c) => !stopping.has(c.id))));

      let relisting: Promise<void> | null = null;
      let again = false;
      let timer: NodeJS.Timeout | undefined;
      const relist = async (): Promise<void> => {
        containers = await listContainers(docker);
        for (const id of stopping) {
          const c = containers.find((x) => x.id === id);
          if (c === undefined || c.state.status !== 'running') stopping.delete(id);
        }
        publish();
      };
      const scheduleRelist = (): void => {
        if (timer !== undefined) return;
        timer = setTimeout(() => {
          timer = undefined;
          if (relisting !== null) {
            again = true;
            return;
          }
          const run = (): void => {
            relisting = relist()
              .catch((err: unknown) =>
                log.warn({ provider: 'docker', err: String(err) }, 'docker: list failed'),
              )
              .finally(() => {
                relisting = null;
                if (again) {
                  again = false;
                  run();
                }
              });
          };
          run();
        }, relistDelayMs);
      };

      const onEvent = (ev: DockerEvent): void => {
        if ((ev.Type ?? 'container') !== 'container') return;
        const action = (ev.Action ?? ev.status ?? '').split(':')[0]!.trim();
        const id = ev.Actor?.ID ?? ev.id ?? '';
        log.debug({ provider: 'docker', action, container: id.slice(0, 12) }, 'docker event');
        if (action === 'kill' || action === 'stop') {
          const signalName = ev.Actor?.Attributes?.signal;
          const own = containers.find((c) => c.id === id)?.stopSignal;
          const isStop =
            signalName === undefined ||
            STOP_SIGNALS.has(signalName) ||
            (own !== undefined &&
              (own === signalName ||
                own === `SIG${signalName}` ||
                signalNumber(own) === signalName));
          if (action === 'stop' || isStop) {
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

      let backoff = 100;
      let outage = false;
      while (!signal.aborted) {
        try {
          await relist();
          isConnected = true;
          if (outage)
            log.info({ provider: 'docker' }, 'docker: daemon reachable again; routes caught up');
          outage = false;
          backoff = 100;
          if (!opts.watch) return;
          const stream = (await docker.getEvents({
            filters: { type: ['container'] },
          })) as NodeJS.ReadableStream & {
            destroy(): void;
          };
          // events that happened between the list and the subscription
          scheduleRelist();
          await new Promise<void>((resolve) => {
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
          if (!signal.aborted) throw new Error('event stream ended');
        } catch (err) {
          isConnected = false;
          if (signal.aborted) break;
          if (!outage) {
            log.warn(
              { provider: 'docker', err: String(err) },
              'docker: daemon unreachable; the last known routes keep serving',
            );
            outage = true;
          }
        }
        await new Promise<void>((r) => {
          const t = setTimeout(r, backoff);
          signal.addEventListener(
            'abort',
            () => {
              clearTimeout(t);
              r();
            },
            { once: true },
          );
        });
        backoff = Math.min(backoff * 2, 500);
      }
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
