/*
 * One health-check probe, as Traefik's pkg/healthcheck sends it: an HTTP
 * request (redirects followed as Go's http.Client does) or a gRPC Health
 * Checking Protocol v1 Check. A probe resolves to undefined when the server is
 * healthy, else to the reason it is not; it rejects when the request fails.
 * The scheduling of probes is health-check.ts's job.
 */
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import type { HealthCheckConfig } from '../config/dynamic.js';

// Go's http.Client gives up after 10 redirects; mirrored so behaviour matches Traefik.
const MAX_REDIRECTS = 10;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
// Go drops these on a redirect to another host; so do we.
const SENSITIVE_HEADERS = new Set(['authorization', 'www-authenticate', 'cookie', 'cookie2']);

/** TLS settings for https/gRPC-over-TLS probes (normally taken from the serversTransport). */
export interface HealthCheckTlsOptions {
  rejectUnauthorized?: boolean;
  ca?: string | Buffer | (string | Buffer)[];
  cert?: string | Buffer;
  key?: string | Buffer;
  servername?: string;
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

/** What a probe needs besides the server: the service's settings and its clients. */
export interface ProbeContext {
  config: HealthCheckConfig;
  tls: HealthCheckTlsOptions | undefined;
  httpAgent: http.Agent;
  httpsAgent: https.Agent;
}

/** Probes `serverUrl` once, by HTTP or gRPC as config.mode says. */
export function probeServer(
  ctx: ProbeContext,
  serverUrl: string,
  signal: AbortSignal,
): Promise<string | undefined> {
  return ctx.config.mode === 'grpc'
    ? probeGrpc(ctx, serverUrl, signal)
    : probeHttp(ctx, serverUrl, signal);
}

export async function probeHttp(
  ctx: ProbeContext,
  serverUrl: string,
  signal: AbortSignal,
): Promise<string | undefined> {
  const { config } = ctx;
  const followRedirects = config.followRedirects !== false;
  let { url, secure } = resolveProbeTarget(serverUrl, config);
  let currentMethod = (config.method || 'GET').toUpperCase();
  let hostOverride = config.hostname || undefined;
  let headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(config.headers ?? {})) {
    // Go ignores a Host entry in the header map (only req.Host counts); so does Traefik.
    if (k.toLowerCase() !== 'host') headers[k] = v;
  }
  for (let redirects = 0; ; redirects++) {
    const res = await send(ctx, url, secure, currentMethod, headers, hostOverride, signal);
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
  ctx: ProbeContext,
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
      agent: secure ? ctx.httpsAgent : ctx.httpAgent,
      signal,
    };
    // Node would derive SNI from the Host header; Go uses the URL host, so pin it.
    if (secure && ctx.tls?.servername === undefined) {
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

export function probeGrpc(
  ctx: ProbeContext,
  serverUrl: string,
  signal: AbortSignal,
): Promise<string | undefined> {
  // gRPC Health Checking Protocol v1: Check with an empty service name must answer SERVING.
  const { config } = ctx;
  const base = new URL(serverUrl);
  const scheme = (config.scheme || base.protocol.slice(0, -1)).toLowerCase();
  const secure = !(scheme === 'http' || scheme === 'h2c' || scheme === '');
  const port = config.port || base.port || (secure ? 443 : 80);
  const authority = `${secure ? 'https' : 'http'}://${base.host.replace(/:\d+$/, '')}:${port}`;
  return new Promise((resolve, reject) => {
    const session = http2.connect(authority, secure ? { ...ctx.tls } : {});
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
      if (grpcStatus === '12') return finish('grpc server does not implement the health protocol');
      if (grpcStatus !== '0') return finish(`grpc health check failed with status ${grpcStatus}`);
      const servingStatus = decodeServingStatus(Buffer.concat(chunks));
      finish(servingStatus === 1 ? undefined : `received grpc serving status ${servingStatus}`);
    });
    // One length-prefixed message: uncompressed, zero-length HealthCheckRequest (service '').
    stream.end(Buffer.alloc(5));
  });
}

/** Reads HealthCheckResponse.status (field 1, varint) from a gRPC frame; 0 (UNKNOWN) when absent. */
export function decodeServingStatus(frame: Buffer): number {
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
