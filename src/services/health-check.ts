/*
 * Active health checks with Traefik's semantics (pkg/healthcheck): every server
 * starts UP and is probed with a real request; a failed probe marks it DOWN and
 * a passing one brings it back. DOWN servers are probed every
 * `unhealthyInterval`, UP ones every `interval`. Unlike Traefik, the first probe
 * runs right at start() so a dead server is noticed within one timeout rather
 * than after a full interval.
 */
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import type { HealthCheckConfig } from '../config/dynamic.js';
import { parseGoDuration } from '../kernel/duration.js';

export const DEFAULT_HEALTH_CHECK_INTERVAL_MS = 30_000;
export const DEFAULT_HEALTH_CHECK_TIMEOUT_MS = 5_000;
// Go's http.Client gives up after 10 redirects; mirrored so behaviour matches Traefik.
const MAX_REDIRECTS = 10;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
// Go drops these on a redirect to another host; so do we.
const SENSITIVE_HEADERS = new Set(['authorization', 'www-authenticate', 'cookie', 'cookie2']);

export interface HealthLogger {
  warn(o: object, msg: string): void;
  info(o: object, msg: string): void;
}

/** TLS settings for https/gRPC-over-TLS probes (normally taken from the serversTransport). */
export interface HealthCheckTlsOptions {
  rejectUnauthorized?: boolean;
  ca?: string | Buffer | (string | Buffer)[];
  cert?: string | Buffer;
  key?: string | Buffer;
  servername?: string;
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

/** A probe target: the URL to request and which client speaks its scheme. */
export interface ProbeTarget {
  url: URL;
  secure: boolean;
}

/**
 * Where a probe for `serverUrl` goes: config.path resolved against the server URL
 * (so '/health?full=1' replaces both path and query, like Go's URL.Parse), then
 * the scheme and port overrides.
 */
export function resolveProbeTarget(serverUrl: string, config: HealthCheckConfig): ProbeTarget {
  const base = new URL(serverUrl);
  const url = new URL(config.path ?? '', base);
  url.hash = '';
  const scheme = (config.scheme || url.protocol.slice(0, -1)).toLowerCase();
  let secure: boolean;
  if (scheme === 'https') secure = true;
  else if (scheme === 'http' || scheme === 'h2c') secure = false;
  else throw new Error(`unsupported health check scheme "${scheme}"`);
  // Switching between the two special schemes keeps host and (explicit) port, as in Go.
  url.protocol = secure ? 'https:' : 'http:';
  if (config.port) url.port = String(config.port);
  return { url, secure };
}

/** No expected status: 2xx and 3xx are healthy (Traefik's rule); otherwise it must match exactly. */
export function isHealthyStatus(status: number, expected?: number): boolean {
  if (expected) return status === expected;
  return status >= 200 && status < 400;
}

interface Target {
  url: string;
  up: boolean;
  timer: NodeJS.Timeout | undefined;
  inflight: AbortController | undefined;
}

export function createHealthChecker(opts: HealthCheckerOptions): HealthChecker {
  const { service, config, onChange, logger } = opts;
  const { intervalMs, unhealthyIntervalMs, timeoutMs } = healthCheckTimings(config);
  const method = (config.method || 'GET').toUpperCase();
  const followRedirects = config.followRedirects !== false;
  const grpc = config.mode === 'grpc';
  // Dedicated agents without keep-alive: probes are rare, and a pooled socket
  // would both outlive close() and hide a backend that stopped accepting connections.
  const httpAgent = new http.Agent({ keepAlive: false });
  const httpsAgent = new https.Agent({ keepAlive: false, ...opts.tls });

  const targets = new Map<string, Target>();
  for (const url of opts.servers) {
    if (targets.has(url)) continue;
    const known = opts.initialStatus?.[url];
    targets.set(url, { url, up: known ?? true, timer: undefined, inflight: undefined });
  }
  let started = false;
  let closed = false;

  function schedule(t: Target): void {
    if (closed) return;
    t.timer = setTimeout(() => void check(t), t.up ? intervalMs : unhealthyIntervalMs);
    t.timer.unref();
  }

  async function check(t: Target): Promise<void> {
    t.timer = undefined;
    // The next probe is only scheduled once this one settles, so probes of one server never overlap.
    const ac = new AbortController();
    t.inflight = ac;
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, timeoutMs);
    deadline.unref();
    let failure: string | undefined;
    try {
      failure = grpc ? await probeGrpc(t.url, ac.signal) : await probeHttp(t.url, ac.signal);
    } catch (err) {
      failure = timedOut
        ? `timeout after ${timeoutMs}ms`
        : `request failed: ${(err as Error).message ?? String(err)}`;
    } finally {
      clearTimeout(deadline);
      t.inflight = undefined;
    }
    if (closed) return;
    const up = failure === undefined;
    if (up !== t.up) {
      t.up = up;
      if (up) logger?.info({ service, url: t.url }, 'health check passed, server is up');
      else
        logger?.warn(
          { service, url: t.url, reason: failure },
          'health check failed, server is down',
        );
      try {
        onChange(t.url, up);
      } catch (err) {
        // A throwing listener must not stop the checks of this server.
        logger?.warn({ service, url: t.url, err }, 'health check listener failed');
      }
    }
    schedule(t);
  }

  async function probeHttp(serverUrl: string, signal: AbortSignal): Promise<string | undefined> {
    let { url, secure } = resolveProbeTarget(serverUrl, config);
    let currentMethod = method;
    let hostOverride = config.hostname || undefined;
    let headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(config.headers ?? {})) {
      // Go ignores a Host entry in the header map (only req.Host counts); so does Traefik.
      if (k.toLowerCase() !== 'host') headers[k] = v;
    }
    for (let redirects = 0; ; redirects++) {
      const res = await send(url, secure, currentMethod, headers, hostOverride, signal);
      const location = res.location;
      if (!followRedirects || !REDIRECT_STATUSES.has(res.status) || !location) {
        return isHealthyStatus(res.status, config.status)
          ? undefined
          : config.status
            ? `received status ${res.status}, expected ${config.status}`
            : `received status ${res.status}`;
      }
      if (redirects + 1 >= MAX_REDIRECTS) return `stopped after ${MAX_REDIRECTS} redirects`;
      const next = new URL(location, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        return `redirect to unsupported scheme ${next.protocol}`;
      }
      // A custom Host survives only a relative redirect, as in Go's client.
      if (/^[a-z][a-z0-9+.-]*:|^\/\//i.test(location)) hostOverride = undefined;
      if (next.hostname !== url.hostname) {
        headers = Object.fromEntries(
          Object.entries(headers).filter(([k]) => !SENSITIVE_HEADERS.has(k.toLowerCase())),
        );
      }
      if (res.status <= 303 && currentMethod !== 'GET' && currentMethod !== 'HEAD') {
        currentMethod = 'GET';
      }
      url = next;
      secure = next.protocol === 'https:';
    }
  }

  function send(
    url: URL,
    secure: boolean,
    reqMethod: string,
    headers: Record<string, string>,
    hostOverride: string | undefined,
    signal: AbortSignal,
  ): Promise<{ status: number; location: string | undefined }> {
    return new Promise((resolve, reject) => {
      const hostname = url.hostname.replace(/^\[|\]$/g, '');
      const options: https.RequestOptions = {
        protocol: secure ? 'https:' : 'http:',
        hostname,
        port: url.port || (secure ? 443 : 80),
        path: `${url.pathname}${url.search}`,
        method: reqMethod,
        headers: hostOverride ? { ...headers, host: hostOverride } : headers,
        agent: secure ? httpsAgent : httpAgent,
        signal,
      };
      // Node would derive SNI from the Host header; Go uses the URL host, so pin it.
      if (secure && opts.tls?.servername === undefined) {
        options.servername = net.isIP(hostname) ? '' : hostname;
      }
      const req = (secure ? https : http).request(options, (res) => {
        const location = res.headers.location;
        resolve({ status: res.statusCode ?? 0, location });
        // Like Go closing an unread body: the status is all we need, and a
        // streaming endpoint must not pin the socket.
        res.destroy();
      });
      req.on('error', reject);
      req.end();
    });
  }

  function probeGrpc(serverUrl: string, signal: AbortSignal): Promise<string | undefined> {
    // gRPC Health Checking Protocol v1: Check with an empty service name must answer SERVING.
    const base = new URL(serverUrl);
    const scheme = (config.scheme || base.protocol.slice(0, -1)).toLowerCase();
    const secure = !(scheme === 'http' || scheme === 'h2c' || scheme === '');
    const port = config.port || base.port || (secure ? 443 : 80);
    const authority = `${secure ? 'https' : 'http'}://${base.host.replace(/:\d+$/, '')}:${port}`;
    return new Promise((resolve, reject) => {
      const session = http2.connect(authority, secure ? { ...opts.tls } : {});
      const onAbort = (): void => {
        session.destroy();
        reject(new Error('aborted'));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      const finish = (failure: string | undefined, err?: Error): void => {
        signal.removeEventListener('abort', onAbort);
        session.close();
        if (err) reject(err);
        else resolve(failure);
      };
      session.on('error', (err) => finish(undefined, err));
      const stream = session.request({
        ':method': 'POST',
        ':path': '/grpc.health.v1.Health/Check',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      const chunks: Buffer[] = [];
      let grpcStatus: string | undefined;
      let httpStatus = 0;
      stream.on('response', (h) => {
        httpStatus = Number(h[':status']);
        // A trailers-only response carries grpc-status in the headers.
        if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
      });
      stream.on('trailers', (h) => {
        if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
      });
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err) => finish(undefined, err));
      stream.on('end', () => {
        if (httpStatus !== 200) return finish(`received http status ${httpStatus}`);
        if (grpcStatus === '12')
          return finish('grpc server does not implement the health protocol');
        if (grpcStatus !== '0') return finish(`grpc health check failed with status ${grpcStatus}`);
        const servingStatus = decodeServingStatus(Buffer.concat(chunks));
        finish(servingStatus === 1 ? undefined : `received grpc serving status ${servingStatus}`);
      });
      // One length-prefixed message: uncompressed, zero-length HealthCheckRequest (service '').
      stream.end(Buffer.alloc(5));
    });
  }

  return {
    start() {
      if (started || closed) return;
      started = true;
      for (const t of targets.values()) void check(t);
    },
    close() {
      if (closed) return;
      closed = true;
      for (const t of targets.values()) {
        if (t.timer) clearTimeout(t.timer);
        t.timer = undefined;
        t.inflight?.abort();
      }
      httpAgent.destroy();
      httpsAgent.destroy();
    },
    isUp(url) {
      return targets.get(url)?.up ?? true;
    },
    status() {
      const out: Record<string, ServerStatus> = {};
      for (const t of targets.values()) out[t.url] = t.up ? 'UP' : 'DOWN';
      return out;
    },
  };
}

/** Reads HealthCheckResponse.status (field 1, varint) from a gRPC frame; 0 (UNKNOWN) when absent. */
function decodeServingStatus(frame: Buffer): number {
  if (frame.length < 5) return 0;
  const msg = frame.subarray(5, 5 + frame.readUInt32BE(1));
  let i = 0;
  while (i < msg.length) {
    const tag = msg[i++] as number;
    const wireType = tag & 7;
    if (wireType === 0) {
      let value = 0;
      let shift = 0;
      let b: number;
      do {
        b = msg[i++] ?? 0;
        value += (b & 0x7f) * 2 ** shift;
        shift += 7;
      } while (b & 0x80 && i < msg.length);
      if (tag >> 3 === 1) return value;
    } else if (wireType === 2) {
      let len = 0;
      let shift = 0;
      let b: number;
      do {
        b = msg[i++] ?? 0;
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
      } while (b & 0x80 && i < msg.length);
      i += len;
    } else {
      // Fixed-width fields never appear in HealthCheckResponse; stop rather than misparse.
      break;
    }
  }
  return 0;
}
