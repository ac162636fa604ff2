/*
 * The connection to the CA server. acme-client sends everything through one
 * shared axios instance (`acme.axios`, documented in its README), so trust and
 * timeouts are set per CA origin by one request interceptor rather than
 * process-wide; resolvers register their CA origin and unregister on close.
 */
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import * as acme from 'acme-client';
import { errorMessage } from './errors.js';

interface OriginEntry {
  refs: number;
  cas: string[];
  systemPool: boolean;
  timeoutMs: number;
  agent: https.Agent | undefined;
}
const origins = new Map<string, OriginEntry>();
let interceptorInstalled = false;

function installInterceptor(): void {
  if (interceptorInstalled) return;
  interceptorInstalled = true;
  /*
   * acme-client retries transport errors 5 times over 75 s and then throws
   * "Cannot read properties of undefined (reading 'config')", losing the
   * cause (publishlab/node-acme-client#101). Fail fast instead: the resolver
   * retries with its own per-domain backoff and probes the CA for the cause.
   */
  (
    acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }
  ).acmeSettings.retryMaxAttempts = 0;
  acme.axios.interceptors.request.use((config) => {
    let origin: string;
    try {
      origin = new URL(config.url ?? '').origin;
    } catch {
      return config;
    }
    const e = origins.get(origin);
    if (e) {
      if (e.agent) config.httpsAgent = e.agent;
      if (!config.timeout) config.timeout = e.timeoutMs;
    }
    return config;
  });
}

/**
 * Trust `cas` (plus the system roots with `systemPool`) and apply `timeoutMs`
 * to requests towards `caServer`'s origin; returns the unregister function.
 * Resolvers sharing an origin share one agent trusting all their CAs.
 */
export function registerOrigin(
  caServer: string,
  cas: string[] | undefined,
  systemPool: boolean,
  timeoutMs: number,
): () => void {
  installInterceptor();
  const origin = new URL(caServer).origin;
  let e = origins.get(origin);
  if (!e) {
    e = { refs: 0, cas: [], systemPool: false, timeoutMs, agent: undefined };
    origins.set(origin, e);
  }
  const entry = e;
  entry.refs++;
  entry.timeoutMs = Math.max(entry.timeoutMs, timeoutMs);
  if (cas?.length) {
    for (const c of cas) if (!entry.cas.includes(c)) entry.cas.push(c);
    entry.systemPool ||= systemPool;
    entry.agent?.destroy();
    const tlsRoots = entry.systemPool ? rootCertificates : [];
    entry.agent = new https.Agent({ ca: [...tlsRoots, ...entry.cas] });
  }
  return () => {
    if (--entry.refs > 0) return;
    entry.agent?.destroy();
    origins.delete(origin);
  };
}

/** Why the CA cannot be reached, when acme-client hides it (see above). */
export function probe(url: string, timeoutMs: number): Promise<string | undefined> {
  const entry = origins.get(new URL(url).origin);
  return new Promise((resolve) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { agent: entry?.agent ?? false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode && res.statusCode < 400 ? undefined : `HTTP ${res.statusCode}`);
    });
    req.on('timeout', () =>
      req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** A failed order's reason; acme-client's lost transport error is replaced by the probed cause. */
export async function describeCaError(err: unknown, caServer: string): Promise<string> {
  const msg = errorMessage(err);
  if (err instanceof TypeError && msg.includes("reading 'config'")) {
    const cause = await probe(caServer, 10_000);
    return `cannot reach CA server ${caServer}${cause ? `: ${cause}` : ''}`;
  }
  return msg;
}
