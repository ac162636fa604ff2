/*
 * Upstream connection pools, one per server origin and transport settings:
 * Portico's HTTP/1.1 client (h1-pool.ts) for proxied requests, undici's Pool
 * for mirrors and forwardAuth. Pools are shared by every service that reaches
 * the same origin with the same settings, and outlive configuration swaps
 * while unchanged.
 *
 * maxIdleConnsPerHost means what it means in Traefik (Go's http.Transport):
 * the idle keep-alive connections kept per origin. It never caps the active
 * ones, so requests never queue behind stalled ones (issue 11, item 3).
 */
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { H1Pool } from './h1-pool.js';

export interface TransportSettings {
  /** stable identity: equal settings share pools */
  key: string;
  name: string;
  dialTimeoutMs: number;
  /** 0 = no limit (Traefik's default) */
  responseHeaderTimeoutMs: number;
  idleConnTimeoutMs: number;
  /**
   * Traefik's maxIdleConnsPerHost: idle keep-alive connections kept per
   * origin (0 → 2 as in Go, < 0 → no reuse). Not a cap on active connections.
   */
  maxConnsPerHost: number;
  insecureSkipVerify: boolean;
  rootCAs: string[];
  serverName: string | undefined;
}

/** A rootCAs entry is a PEM block or a file holding one (Traefik accepts both). */
export function loadCA(entry: string): string {
  if (entry.includes('-----BEGIN')) return entry;
  try {
    return readFileSync(entry, 'utf8');
  } catch (err) {
    throw new Error(
      `rootCAs: cannot read ${entry}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      { cause: err },
    );
  }
}

export function transportKey(t: Omit<TransportSettings, 'key' | 'name'>): string {
  return JSON.stringify([
    t.dialTimeoutMs,
    t.responseHeaderTimeoutMs,
    t.idleConnTimeoutMs,
    t.maxConnsPerHost,
    t.insecureSkipVerify,
    t.rootCAs,
    t.serverName ?? '',
  ]);
}

export function createPool(origin: string, t: TransportSettings): Pool {
  const tls = origin.startsWith('https:');
  return new Pool(origin, {
    // no cap on active connections: a queue here would let stalled requests starve the others
    connections: null,
    pipelining: 1,
    connectTimeout: t.dialTimeoutMs > 0 ? t.dialTimeoutMs : 30_000,
    headersTimeout: t.responseHeaderTimeoutMs,
    // streamed bodies (SSE, long downloads) must not be cut by an idle timer here
    bodyTimeout: 0,
    keepAliveTimeout: t.idleConnTimeoutMs > 0 ? t.idleConnTimeoutMs : 90_000,
    keepAliveMaxTimeout: t.idleConnTimeoutMs > 0 ? t.idleConnTimeoutMs : 90_000,
    // the client's header limits are ours; upstream responses may carry large headers
    maxHeaderSize: 64 * 1024,
    strictContentLength: true,
    ...(tls
      ? {
          connect: {
            rejectUnauthorized: !t.insecureSkipVerify,
            ...(t.serverName ? { servername: t.serverName } : {}),
            ...(t.rootCAs.length > 0 ? { ca: t.rootCAs.map(loadCA) } : {}),
          },
        }
      : {}),
  });
}

/** The HTTP/1.1 client for http(s) origins (src/proxy/h1-pool.ts), with the same settings. */
export function createH1Pool(origin: string, t: TransportSettings): H1Pool {
  const tls = origin.startsWith('https:')
    ? {
        rejectUnauthorized: !t.insecureSkipVerify,
        servername: t.serverName,
        ca: t.rootCAs.length > 0 ? t.rootCAs.map(loadCA) : undefined,
      }
    : undefined;
  return new H1Pool(origin, {
    tls,
    maxIdleConnections: t.maxConnsPerHost,
    dialTimeoutMs: t.dialTimeoutMs > 0 ? t.dialTimeoutMs : 30_000,
    headersTimeoutMs: t.responseHeaderTimeoutMs,
    idleTimeoutMs: t.idleConnTimeoutMs > 0 ? t.idleConnTimeoutMs : 90_000,
    // the client's header limits are ours; upstream responses may carry large headers
    maxHeaderSize: 64 * 1024,
  });
}
