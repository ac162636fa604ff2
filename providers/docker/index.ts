/*
 * The Docker provider: lists containers at start, follows the event stream,
 * and hands the aggregator a whole snapshot built by the pure translator
 * (build.ts) after every burst of changes. When the daemon goes away the last
 * snapshot keeps serving (nothing is emitted) and the provider reconnects with
 * a short backoff, so routes catch up within a few seconds of its return.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import Docker from 'dockerode';
import type { Provider, ProviderSnapshot } from '../../src/config/provider.js';
import type { DockerProviderConfig } from '../../src/config/static-types.js';
import {
  buildDockerConfig,
  type ContainerInfo,
  type ContainerPort,
  type LabelDiagnostic,
} from './build.js';
import { createContainerWatch, readEvents } from './watch.js';

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

export function createDockerProvider(opts: DockerProviderOptions): DockerProvider {
  const log = opts.logger;
  const docker = createDockerClient(opts, opts.env);
  let diagnostics: LabelDiagnostic[] = [];
  let isConnected = false;
  const report = createDiagnosticLog(log);

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
    report(result.diagnostics);
    return { provider: 'docker', config: result.config, errors: result.errors };
  };

  return {
    name: 'docker',
    diagnostics: () => diagnostics,
    connected: () => isConnected,
    async start(emit, signal) {
      const watch = createContainerWatch({
        list: () => listContainers(docker),
        publish: (containers) => emit(snapshotOf(containers)),
        relistDelayMs: opts.relistDelayMs ?? 50,
        onListError: (err) =>
          log.warn({ provider: 'docker', err: String(err) }, 'docker: list failed'),
        debug: (o, msg) => log.debug(o, msg),
      });

      let backoff = 100;
      let outage = false;
      while (!signal.aborted) {
        try {
          await watch.relist();
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
          watch.scheduleRelist();
          await readEvents(stream, signal, watch.onEvent);
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
        await abortableSleep(backoff, signal);
        backoff = Math.min(backoff * 2, 500);
      }
      watch.close();
    },
  };
}

/** Logs each bad label once while it exists, with container, key, value and reason. */
export function createDiagnosticLog(
  log: Pick<DockerLogger, 'error' | 'warn'>,
): (diagnostics: readonly LabelDiagnostic[]) => void {
  const reported = new Set<string>();
  return (diagnostics) => {
    const current = new Set<string>();
    for (const d of diagnostics) {
      const key = `${d.container}\u0000${d.key}\u0000${d.value}\u0000${d.message}`;
      current.add(key);
      if (reported.has(key)) continue;
      reported.add(key);
      const rec = { container: d.container, label: d.key, value: d.value };
      const msg = `container ${d.container}: label ${d.key}=${JSON.stringify(d.value)}: ${d.message}`;
      if (d.level === 'error') log.error(rec, msg);
      else log.warn(rec, msg);
    }
    for (const key of reported) if (!current.has(key)) reported.delete(key);
  };
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        r();
      },
      { once: true },
    );
  });
}
