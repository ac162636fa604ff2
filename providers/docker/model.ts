/*
 * The Docker provider's container model (what it needs of `docker inspect`, as
 * plain data), its options and results, and Traefik's naming of containers
 * and services (pkg/provider/docker/config.go getServiceName, normalize).
 */
import type { DynamicConfig, ElementError } from '../../src/config/dynamic.js';
export interface ContainerNetwork {
  /** network name as Docker reports it (compose prefixes the project: `myproj_proxy`) */
  name: string;
  /** NetworkSettings.Networks[name].IPAddress */
  ipAddress?: string;
  /** NetworkSettings.Networks[name].GlobalIPv6Address, used when there is no IPv4 */
  ipv6Address?: string;
}

export interface ContainerPort {
  /** container-side port */
  port: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  /** published binding, when any */
  hostIp?: string;
  hostPort?: number;
}

/** What the provider needs of one container (`docker inspect`), as plain data. */
export interface ContainerInfo {
  id: string;
  /** container name, with or without Docker's leading `/` */
  name: string;
  /** Config.Labels, compose labels (`com.docker.compose.project`/`.service`) included */
  labels: Record<string, string>;
  /** State.Status (`running`, `exited`, `paused`, `created`, ...) and State.Health.Status */
  state: { status: string; health?: string };
  /** HostConfig.NetworkMode: `bridge`, `host`, `container:<id|name>`, a network name */
  networkMode?: string;
  /** NetworkSettings.Networks, in Docker's order */
  networks: ContainerNetwork[];
  /** exposed ports (NetworkSettings.Ports keys), with their bindings when published */
  ports: ContainerPort[];
  /** Config.StopSignal (e.g. SIGQUIT for nginx images): a kill with it means the container is stopping */
  stopSignal?: string;
}

export interface DockerBuildOptions {
  /** expose containers without an `enable` label (default true) */
  exposedByDefault?: boolean;
  /** default ``Host(`{{ normalize .Name }}`)`` */
  defaultRule?: string;
  /** default network to reach containers on; label `docker.network` overrides */
  network?: string;
  /** ``Label(`k`,`v`)``, ``LabelRegex(`k`,`re`)``, `!`, `&&`, `||`, parentheses */
  constraints?: string;
  /** keep services of unhealthy or starting containers with no servers (503 rather than 404) */
  allowEmptyServices?: boolean;
  /** label roots in precedence order (default `['portico', 'traefik']`) */
  prefixes?: readonly string[];
}

export interface LabelDiagnostic {
  /** container name, without the leading `/` */
  container: string;
  key: string;
  value: string;
  message: string;
  level: 'error' | 'warning';
}

export interface DockerBuildResult {
  /** unqualified names; references kept as written */
  config: DynamicConfig;
  errors: ElementError[];
  diagnostics: LabelDiagnostic[];
}

export const DEFAULT_RULE = 'Host(`{{ normalize .Name }}`)';
export const DEFAULT_PREFIXES: readonly string[] = ['portico', 'traefik'];
export const PROVIDER = 'docker';
const COMPOSE_PROJECT = 'com.docker.compose.project';
const COMPOSE_SERVICE = 'com.docker.compose.service';

/* ---------------------------------------------------------------- naming */

/** Traefik's `normalize`: every run of characters that are not letters or digits becomes `-`. */
export function normalizeName(name: string): string {
  return name
    .split(/[^\p{L}\p{N}]+/u)
    .filter((s) => s !== '')
    .join('-');
}

export function containerName(c: ContainerInfo): string {
  return c.name.replace(/^\//, '');
}

/** `<service>_<project>` for compose containers (so replicas share it), else the container name. */
export function serviceNameOf(c: ContainerInfo): string {
  const project = c.labels[COMPOSE_PROJECT];
  const service = c.labels[COMPOSE_SERVICE];
  const base = project && service ? `${service}_${project}` : containerName(c);
  return normalizeName(base);
}
