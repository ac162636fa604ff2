/*
 * Active health checks with Traefik's semantics (pkg/healthcheck): every server
 * starts UP and is probed with a real request; a failed probe marks it DOWN and
 * a passing one brings it back. DOWN servers are probed every
 * `unhealthyInterval`, UP ones every `interval`. Unlike Traefik, the first probe
 * runs right at start() so a dead server is noticed within one timeout rather
 * than after a full interval.
 */
import http from 'node:http';
import https from 'node:https';
import type { HealthCheckConfig } from '../config/dynamic.js';
import { parseGoDuration } from '../kernel/duration.js';
import { probeServer, type HealthCheckTlsOptions, type ProbeContext } from './health-probe.js';
import { createProbeLoop, PROBE_TIMED_OUT } from './health-loop.js';

export {
  isHealthyStatus,
  resolveProbeTarget,
  type HealthCheckTlsOptions,
  type ProbeTarget,
} from './health-probe.js';

export const DEFAULT_HEALTH_CHECK_INTERVAL_MS = 30_000;
export const DEFAULT_HEALTH_CHECK_TIMEOUT_MS = 5_000;

export interface HealthLogger {
  warn(o: object, msg: string): void;
  info(o: object, msg: string): void;
}

export interface HealthCheckerOptions {
  service: string;
  /** Server base URLs, exactly as the load balancer knows them (they key status and onChange). */
  servers: string[];
  config: HealthCheckConfig;
  /** Called once per UP/DOWN transition, never for a probe that confirms the current state. */
  onChange(url: string, up: boolean): void;
  logger?: HealthLogger;
  /** Health known from a previous checker (config swap); servers missing here start UP. */
  initialStatus?: Record<string, boolean>;
  tls?: HealthCheckTlsOptions;
}

export type ServerStatus = 'UP' | 'DOWN';

export interface HealthChecker {
  start(): void;
  close(): void;
  /** Health of a watched server; servers this checker does not watch are reported UP. */
  isUp(url: string): boolean;
  status(): Record<string, ServerStatus>;
}

export interface HealthCheckTimings {
  intervalMs: number;
  unhealthyIntervalMs: number;
  timeoutMs: number;
}

/** Interval/timeout resolution as Traefik does it: invalid or non-positive values fall back to defaults. */
export function healthCheckTimings(config: HealthCheckConfig): HealthCheckTimings {
  const positive = (v: string | number | undefined, fallback: number): number => {
    const ms = parseGoDuration(v, fallback);
    return ms > 0 ? ms : fallback;
  };
  const intervalMs = positive(config.interval, DEFAULT_HEALTH_CHECK_INTERVAL_MS);
  // Unset means "same as interval"; set but invalid means the global default, as in Traefik.
  const unhealthyIntervalMs =
    config.unhealthyInterval === undefined
      ? intervalMs
      : positive(config.unhealthyInterval, DEFAULT_HEALTH_CHECK_INTERVAL_MS);
  const timeoutMs = positive(config.timeout, DEFAULT_HEALTH_CHECK_TIMEOUT_MS);
  return { intervalMs, unhealthyIntervalMs, timeoutMs };
}

export function createHealthChecker(opts: HealthCheckerOptions): HealthChecker {
  const { service, config, onChange, logger } = opts;
  const timings = healthCheckTimings(config);
  // Dedicated agents without keep-alive: probes are rare, and a pooled socket
  // would both outlive close() and hide a backend that stopped accepting connections.
  const httpAgent = new http.Agent({ keepAlive: false });
  const httpsAgent = new https.Agent({ keepAlive: false, ...opts.tls });
  const probe: ProbeContext = { config, tls: opts.tls, httpAgent, httpsAgent };

  const loop = createProbeLoop({
    servers: opts.servers.map((url) => [url, opts.initialStatus?.[url] ?? true] as const),
    timings,
    probe: async (url, signal) => {
      try {
        return await probeServer(probe, url, signal);
      } catch (err) {
        return signal.reason === PROBE_TIMED_OUT
          ? `timeout after ${timings.timeoutMs}ms`
          : `request failed: ${(err as Error).message ?? String(err)}`;
      }
    },
    onTransition(url, up, reason) {
      if (up) logger?.info({ service, url }, 'health check passed, server is up');
      else logger?.warn({ service, url, reason }, 'health check failed, server is down');
      try {
        onChange(url, up);
      } catch (err) {
        // A throwing listener must not stop the checks of this server.
        logger?.warn({ service, url, err }, 'health check listener failed');
      }
    },
  });

  return {
    start: () => loop.start(),
    close() {
      loop.close();
      httpAgent.destroy();
      httpsAgent.destroy();
    },
    isUp: (url) => loop.isUp(url),
    status: () => loop.status(),
  };
}
