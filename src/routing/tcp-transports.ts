/*
 * TCP servers transports (Traefik's tcpServersTransport, pkg/server/service/tcp):
 * how a TCP service dials its servers (timeouts, keep-alive, PROXY protocol,
 * TLS to the server). Each one is built up front; a bad one is recorded as
 * the table's error and every service naming it fails with the reason.
 */
import { readFileSync } from 'node:fs';
import type { ElementError, TcpServersTransportConfig } from '../config/dynamic.js';
import { tryParseGoDuration } from '../kernel/duration.js';
import { loadCA } from '../proxy/transport.js';
import type { TcpDialOptions } from '../tcp/proxy.js';
import { errorMessage } from './elements.js';

/** Traefik's tcpServersTransport defaults (static configuration). */
export const DEFAULT_DIAL: Omit<TcpDialOptions, 'tls'> = {
  dialTimeoutMs: 30_000,
  dialKeepAliveMs: 15_000,
  terminationDelayMs: 100,
  proxyProtocol: undefined,
};

export interface TcpTransport {
  base: Omit<TcpDialOptions, 'tls'>;
  tls: NonNullable<TcpDialOptions['tls']>;
}

function pemOrFile(entry: string): string {
  return entry.includes('-----BEGIN') ? entry : readFileSync(entry, 'utf8');
}

function durationMs(value: string | number | undefined, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  const ms = tryParseGoDuration(value);
  if (ms === undefined) throw new Error(`${field}: ${JSON.stringify(value)} is not a duration`);
  return ms;
}

function buildTransport(t: TcpServersTransportConfig): TcpTransport {
  const tlsCfg = t.tls ?? {};
  return {
    base: {
      dialTimeoutMs: durationMs(t.dialTimeout, DEFAULT_DIAL.dialTimeoutMs, 'dialTimeout'),
      dialKeepAliveMs: durationMs(t.dialKeepAlive, DEFAULT_DIAL.dialKeepAliveMs, 'dialKeepAlive'),
      terminationDelayMs: durationMs(
        t.terminationDelay,
        DEFAULT_DIAL.terminationDelayMs,
        'terminationDelay',
      ),
      proxyProtocol:
        t.proxyProtocol === undefined ? undefined : ((t.proxyProtocol.version ?? 2) as 1 | 2),
    },
    tls: {
      serverName: tlsCfg.serverName,
      insecureSkipVerify: tlsCfg.insecureSkipVerify ?? false,
      ca: tlsCfg.rootCAs && tlsCfg.rootCAs.length > 0 ? tlsCfg.rootCAs.map(loadCA) : undefined,
      certificates: (tlsCfg.certificates ?? []).map((c) => ({
        cert: pemOrFile(c.certFile),
        key: pemOrFile(c.keyFile),
      })),
    },
  };
}

/** The `tcp.serversTransports` of one configuration, built once, looked up by services. */
export class TcpTransportSet {
  private readonly transports = new Map<string, TcpTransport | Error>();

  /** Builds every transport now; a bad one goes to `errors` (kind tcpServersTransport). */
  constructor(configs: Record<string, TcpServersTransportConfig>, errors: ElementError[]) {
    for (const [name, t] of Object.entries(configs)) {
      try {
        this.transports.set(name, buildTransport(t));
      } catch (err) {
        const e = err instanceof Error ? err : new Error(errorMessage(err));
        this.transports.set(name, e);
        errors.push({ kind: 'tcpServersTransport', name, message: e.message });
      }
    }
  }

  /** The transport named (the defaults when none is); throws when it is missing or invalid. */
  resolve(name: string | undefined): TcpTransport {
    if (name === undefined)
      return {
        base: DEFAULT_DIAL,
        tls: { serverName: undefined, insecureSkipVerify: false, ca: undefined, certificates: [] },
      };
    const t = this.transports.get(name);
    if (t === undefined) throw new Error(`servers transport "${name}" does not exist`);
    if (t instanceof Error) throw new Error(`servers transport "${name}" is invalid: ${t.message}`);
    return t;
  }
}
