/*
 * A DNS-01 provider (Traefik: certificatesResolvers.<r>.acme.dnsChallenge.provider)
 * publishes and withdraws the `_acme-challenge` TXT record (RFC 8555 8.4).
 * Providers are configured the way lego configures them, so a Traefik setup
 * moves over unchanged: credentials and tuning from the same environment
 * variables (CF_DNS_API_TOKEN, RFC2136_NAMESERVER, ...), each also readable
 * from the file named by `<NAME>_FILE` (lego's env.GetOrFile, for Docker and
 * Kubernetes secrets), and each provider's `<PREFIX>_PROPAGATION_TIMEOUT`,
 * `_POLLING_INTERVAL` and `_TTL` with lego's defaults.
 *
 * Credentials never appear in errors or logs: messages name the variable,
 * never its value.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { PorticoError } from '../../../kernel/errors.js';
import { tryParseGoDuration } from '../../../kernel/duration.js';

/** One TXT record to publish, with what lego's RAW modes pass on instead. */
export interface DnsChallengeRecord {
  /** the identifier, without the "*." of a wildcard (lego's `domain`) */
  domain: string;
  /** `_acme-challenge.<domain>.` with the trailing dot */
  fqdn: string;
  /** the TXT value: base64url(SHA-256(keyAuthorization)) */
  value: string;
  token: string;
  keyAuthorization: string;
}

export interface DnsProvider {
  /** the provider name as configured (lego's code) */
  readonly name: string;
  present(record: DnsChallengeRecord): Promise<void>;
  cleanup(record: DnsChallengeRecord): Promise<void>;
  /** lego's Timeout(): how long to wait for the record to propagate, and how often to look */
  readonly propagationTimeoutMs: number;
  readonly pollingIntervalMs: number;
}

/** Raised for provider configuration and API failures; the message never holds a secret. */
export class DnsProviderError extends PorticoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PORTICO_ERR_DNS_PROVIDER', message, options);
    this.name = 'DnsProviderError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** lego's defaults (challenge/dns01): 60 s propagation timeout, 2 s polling, TTL 120. */
export const DEFAULT_PROPAGATION_TIMEOUT_MS = 60_000;
export const DEFAULT_POLLING_INTERVAL_MS = 2_000;
export const DEFAULT_TTL = 120;

/** The environment of one provider, read as lego reads it. */
export class ProviderEnv {
  constructor(
    private readonly env: Env,
    readonly provider: string,
  ) {}

  /**
   * The first of `names` that is set, directly or through `<NAME>_FILE`
   * (the file's content, trimmed); empty strings count as unset, as in lego.
   */
  get(...names: string[]): string | undefined {
    for (const name of names) {
      const direct = this.env[name];
      if (direct !== undefined && direct !== '') return direct;
      const file = this.env[`${name}_FILE`];
      if (file !== undefined && file !== '') {
        try {
          return readFileSync(file, 'utf8').trim();
        } catch (err) {
          throw new DnsProviderError(
            `${this.provider}: cannot read ${name}_FILE (${file}): ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
            { cause: err },
          );
        }
      }
    }
    return undefined;
  }

  /** Each group is a list of alternative names; every group must be set. */
  require(...groups: string[][]): string[] {
    const missing: string[] = [];
    const values = groups.map((names) => {
      const v = this.get(...names);
      if (v === undefined) missing.push(names[0]!);
      return v ?? '';
    });
    if (missing.length)
      throw new DnsProviderError(
        `${this.provider}: some credentials information are missing: ${missing.join(',')}`,
      );
    return values;
  }

  /** lego's env.ParseSecond: whole seconds; a Go duration ("90s", "2m") is accepted too. */
  seconds(names: string | string[], fallbackMs: number): number {
    const list = Array.isArray(names) ? names : [names];
    const v = this.get(...list);
    if (v === undefined) return fallbackMs;
    const ms = /^\d+$/.test(v.trim()) ? Number(v) * 1000 : tryParseGoDuration(v.trim());
    if (ms === undefined || !Number.isFinite(ms) || ms < 0)
      throw new DnsProviderError(`${this.provider}: ${list[0]}: invalid duration "${v}"`);
    return ms;
  }

  int(names: string | string[], fallback: number): number {
    const list = Array.isArray(names) ? names : [names];
    const v = this.get(...list);
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v.trim()))
      throw new DnsProviderError(`${this.provider}: ${list[0]}: invalid number "${v}"`);
    return Number(v);
  }

  /** A base URL override (tests point these at a loopback fake of the API). */
  url(names: string | string[], fallback: string): URL {
    const list = Array.isArray(names) ? names : [names];
    const v = this.get(...list) ?? fallback;
    try {
      return new URL(v.endsWith('/') ? v : `${v}/`);
    } catch {
      throw new DnsProviderError(`${this.provider}: ${list[0]}: invalid URL`);
    }
  }
}

// --- a small JSON-over-HTTP client for the hosted APIs -----------------------------

export interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** `path` (no leading slash) under `base`, keeping the base's own path (lego's JoinPath). */
export function joinUrl(base: URL, path: string): URL {
  const [p, q] = path.split('?', 2) as [string, string | undefined];
  const u = new URL(base.href);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/${p.replace(/^\/+/, '')}`;
  if (q !== undefined) u.search = `?${q}`;
  return u;
}

/** One HTTP request; any status resolves. The body is bounded (1 MiB) and so is the time. */
export function apiRequest(
  method: string,
  url: URL,
  headers: Record<string, string>,
  body?: string | Buffer,
  timeoutMs = 30_000,
): Promise<ApiResponse> {
  const mod = url.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      url,
      {
        method,
        headers: {
          'user-agent': 'portico-acme',
          ...headers,
          ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
        },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > 1 << 20) res.destroy(new Error('response too large'));
          else chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** A JSON request; throws a DnsProviderError (method, path, status, the API's message) unless 2xx. */
export async function apiJson<T>(
  provider: string,
  method: string,
  url: URL,
  headers: Record<string, string>,
  payload?: unknown,
  opts: { okStatuses?: readonly number[]; timeoutMs?: number } = {},
): Promise<{ status: number; data: T }> {
  const okStatuses = opts.okStatuses ?? [];
  let res: ApiResponse;
  try {
    res = await apiRequest(
      method,
      url,
      {
        accept: 'application/json',
        ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      payload !== undefined ? JSON.stringify(payload) : undefined,
      opts.timeoutMs,
    );
  } catch (err) {
    throw new DnsProviderError(
      `${provider}: ${method} ${url.pathname}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if ((res.status < 200 || res.status > 299) && !okStatuses.includes(res.status))
    throw new DnsProviderError(
      `${provider}: ${method} ${url.pathname}: HTTP ${res.status}: ${res.body.slice(0, 300)}`,
    );
  let data: T;
  try {
    data = (res.body ? JSON.parse(res.body) : undefined) as T;
  } catch {
    throw new DnsProviderError(`${provider}: ${method} ${url.pathname}: the answer is not JSON`);
  }
  return { status: res.status, data };
}

/**
 * The zones that may hold `fqdn`, longest first, without the `_acme-challenge`
 * label: `_acme-challenge.a.example.com.` → a.example.com, example.com. The
 * hosted providers ask their API which of these it hosts (lego asks DNS for
 * the SOA; the API knows the same without depending on the resolver).
 */
export function candidateZones(fqdnName: string): string[] {
  const labels = fqdnName.replace(/\.$/, '').split('.');
  if (labels[0] === '_acme-challenge') labels.shift();
  const out: string[] = [];
  for (let i = 0; i < labels.length - 1; i++) out.push(labels.slice(i).join('.'));
  return out;
}

/** The record name relative to `zone`: `_acme-challenge.a` for `_acme-challenge.a.example.com.` in example.com. */
export function relativeName(fqdnName: string, zone: string): string {
  const name = fqdnName.replace(/\.$/, '');
  if (name === zone) return '@';
  return name.endsWith(`.${zone}`) ? name.slice(0, -zone.length - 1) : name;
}
