/*
 * The access log: one line per request with Traefik's field names, JSON or
 * Common Log Format. Lines are built as strings and handed to an async
 * buffered writer (sonic-boom through pino.destination), so logging costs a
 * string concatenation on the request path, not a serialisation library.
 *
 * Traefik's `filters` decide whether a line is written at all (any matching
 * filter keeps it; both formats). Traefik's `fields` shape JSON lines: each
 * field and header is kept, dropped or redacted. The modes are resolved once,
 * into a plan of precomputed keys and value functions; without `fields`
 * options the line is one hand-written concatenation of the same value
 * functions, as fast as before the options existed.
 */
import { pino } from 'pino';
import type { ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type {
  AccessLogFieldMode,
  AccessLogFields,
  AccessLogFilters,
} from '../config/static-types.js';
import type { RequestContext } from '../kernel/context.js';
import { ACCESS_LOG_FIELDS, type AccessLogField } from '../config/access-log-fields.js';
import { traceIdOf } from '../kernel/trace-context.js';
import type { StreamRecord } from './metrics-tcp.js';

export interface AccessLogOptions {
  filePath?: string | undefined;
  format: 'json' | 'common';
  bufferingSize: number;
  filters?: AccessLogFilters | undefined;
  fields?: AccessLogFields | undefined;
}

export type AccessLogger = ((ctx: RequestContext) => void) & {
  flush(): void;
  /** one line for a TCP connection or UDP session at its close (src/observability/observe-tcp.ts, src/observability/observe-udp.ts) */
  stream(r: StreamRecord, durationNs: number, reason: string): void;
};

// ---------------------------------------------------------------------------
// Per-line values. The log function is synchronous: these are set once per
// line and read by the value functions below, so no per-line object exists.

let nowMs = 0;
let durationNs = 0;
let requestCount = 0;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let clfSecond = 0;
let clfDate = '';
let localSecond = -1;
let localPrefix = '';
let localOffset = '';

function pad(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** CLF timestamps change once a second: cache the formatted string. */
function clfTime(now: number): string {
  const sec = Math.floor(now / 1000);
  if (sec !== clfSecond) {
    clfSecond = sec;
    const d = new Date(sec * 1000);
    clfDate = `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
  }
  return clfDate;
}

/** RFC 3339 in the local zone, as Traefik's StartLocal; date and offset cached per second */
function localTime(ms: number): string {
  const sec = Math.floor(ms / 1000);
  if (sec !== localSecond) {
    localSecond = sec;
    const d = new Date(sec * 1000);
    localPrefix = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.`;
    const off = -d.getTimezoneOffset();
    const abs = Math.abs(off);
    localOffset =
      off === 0 ? 'Z' : `${off < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  }
  const frac = Math.floor(ms) - sec * 1000;
  return localPrefix + (frac < 10 ? '00' : frac < 100 ? '0' : '') + frac + localOffset;
}

/** CLF user field: no spaces or quotes may break the line format */
function quoteUser(user: string): string {
  return /^[\x21-\x7e]+$/.test(user) && !user.includes('"') ? user : JSON.stringify(user);
}

function quote(s: string | undefined): string {
  return s === undefined || s === '' ? '"-"' : JSON.stringify(s);
}

/** host[:port] of an upstream URL; few distinct URLs exist, so parse each once */
const serviceAddrs = new Map<string, string>();
function serviceAddr(url: string): string {
  let addr = serviceAddrs.get(url);
  if (addr === undefined) {
    try {
      addr = new URL(url).host;
    } catch {
      addr = '';
    }
    // config reloads may bring new URLs forever: bound the cache
    if (serviceAddrs.size >= 1024) serviceAddrs.clear();
    serviceAddrs.set(url, addr);
  }
  return addr;
}

/** the port of the Host header as received, "-" without one (Traefik) */
function requestPort(raw: string): string {
  const colon = raw.lastIndexOf(':');
  return colon > raw.lastIndexOf(']') ? raw.slice(colon + 1) : '-';
}

const kTls = Symbol('portico.accessLogTls');
interface TlsInfo {
  version: string;
  cipher: string;
}
type TlsCarrier = TLSSocket & { [kTls]?: TlsInfo };

/** TLS version and cipher of the client connection, looked up once per connection */
function tlsInfo(ctx: RequestContext): TlsInfo | undefined {
  if (ctx.scheme !== 'https') return undefined;
  const socket = (ctx.req.httpVersionMajor === 2 ? ctx.sessionSocket : ctx.req.socket) as
    TlsCarrier | undefined;
  try {
    if (socket === undefined || typeof socket.getProtocol !== 'function') return undefined;
    let info = socket[kTls];
    if (info === undefined) {
      const cipher = socket.getCipher();
      info = {
        // Traefik writes "1.3", Go's cipher suite names are the IANA ones (standardName)
        version: JSON.stringify((socket.getProtocol() ?? '').replace(/^TLSv/, '')),
        cipher: JSON.stringify(cipher?.standardName ?? cipher?.name ?? ''),
      };
      socket[kTls] = info;
    }
    return info;
  } catch {
    // an HTTP/2 session already torn down throws on its socket proxy: no TLS fields then
    return undefined;
  }
}

function originDurationNs(ctx: RequestContext): number {
  if (ctx.originStart === 0) return 0;
  const end = ctx.originEnd === 0 ? performance.now() : ctx.originEnd;
  return Math.round((end - ctx.originStart) * 1e6);
}

// ---------------------------------------------------------------------------
// Fields: each value function returns the JSON text of its value, or '' when
// the field is absent from this line.

type FieldFn = (ctx: RequestContext) => string;

const str = JSON.stringify;
const startMs = (): number => nowMs - durationNs / 1e6;

const FIELD_VALUES = {
  // Go's RemoteAddr: an IPv6 host in brackets ([2001:db8::1]:51000)
  ClientAddr: (c) =>
    str(
      c.clientIp.includes(':')
        ? `[${c.clientIp}]:${c.clientPort}`
        : `${c.clientIp}:${c.clientPort}`,
    ),
  ClientHost: (c) => str(c.clientIp),
  ClientPort: (c) => `"${c.clientPort}"`,
  ClientUsername: (c) => (c.user === '' ? '' : str(c.user)),
  DownstreamStatus: (c) => String(c.res.statusCode),
  DownstreamContentSize: (c) => String(c.bytesOut),
  Duration: () => String(durationNs),
  OriginStatus: (c) => String(c.originStatus),
  OriginContentSize: (c) => String(c.bytesOut),
  OriginDuration: (c) => String(originDurationNs(c)),
  Overhead: (c) => String(durationNs - originDurationNs(c)),
  RequestAddr: (c) => str(c.requestHost),
  RequestHost: (c) => str(c.host),
  RequestPort: (c) => str(requestPort(c.requestHost)),
  RequestMethod: (c) => str(c.method),
  RequestPath: (c) => str(c.target()),
  RequestProtocol: (c) => `"HTTP/${c.req.httpVersion}"`,
  RequestLine: (c) => str(`${c.method} ${c.target()} HTTP/${c.req.httpVersion}`),
  RequestScheme: (c) => `"${c.scheme}"`,
  RequestContentSize: (c) => String(Number(c.req.headers['content-length'] ?? 0) || 0),
  RequestCount: () => String(requestCount),
  RetryAttempts: (c) => String(c.retryAttempts),
  RouterName: (c) => str(c.routerName),
  ServiceName: (c) => str(c.serviceName),
  ServiceURL: (c) => str(c.upstreamUrl),
  ServiceAddr: (c) => (c.upstreamUrl === '' ? '' : str(serviceAddr(c.upstreamUrl))),
  StartUTC: () => `"${new Date(startMs()).toISOString()}"`,
  StartLocal: () => `"${localTime(startMs())}"`,
  TLSVersion: (c) => tlsInfo(c)?.version ?? '',
  TLSCipher: (c) => tlsInfo(c)?.cipher ?? '',
  TraceId: (c) => `"${traceIdOf(c.traceparent())}"`,
  entryPointName: (c) => str(c.entryPoint),
  // Portico's: why the upstream exchange failed
  OriginError: (c) => (c.upstreamError ? str(c.upstreamError.message) : ''),
} satisfies Record<AccessLogField, FieldFn>;

/** The default line: every field, hand-concatenated (no plan loop on the hot path). */
function defaultLine(c: RequestContext): string {
  const v = FIELD_VALUES;
  const user = v.ClientUsername(c);
  const serviceAddrJson = v.ServiceAddr(c);
  const origin = originDurationNs(c);
  const tls = tlsInfo(c);
  return (
    `{"ClientAddr":${v.ClientAddr(c)},"ClientHost":${v.ClientHost(c)},"ClientPort":${v.ClientPort(c)}` +
    (user !== '' ? `,"ClientUsername":${user}` : '') +
    `,"DownstreamStatus":${c.res.statusCode},"DownstreamContentSize":${c.bytesOut}` +
    `,"Duration":${durationNs},"OriginStatus":${c.originStatus},"OriginContentSize":${c.bytesOut}` +
    `,"OriginDuration":${origin},"Overhead":${durationNs - origin}` +
    `,"RequestAddr":${v.RequestAddr(c)},"RequestHost":${v.RequestHost(c)},"RequestPort":${v.RequestPort(c)}` +
    `,"RequestMethod":${v.RequestMethod(c)},"RequestPath":${v.RequestPath(c)},"RequestProtocol":${v.RequestProtocol(c)}` +
    `,"RequestLine":${v.RequestLine(c)},"RequestScheme":${v.RequestScheme(c)},"RequestContentSize":${v.RequestContentSize(c)}` +
    `,"RequestCount":${requestCount},"RetryAttempts":${c.retryAttempts}` +
    `,"RouterName":${v.RouterName(c)},"ServiceName":${v.ServiceName(c)},"ServiceURL":${v.ServiceURL(c)}` +
    (serviceAddrJson !== '' ? `,"ServiceAddr":${serviceAddrJson}` : '') +
    `,"StartUTC":${v.StartUTC()},"StartLocal":${v.StartLocal()}` +
    (tls !== undefined ? `,"TLSVersion":${tls.version},"TLSCipher":${tls.cipher}` : '') +
    `,"TraceId":${v.TraceId(c)},"entryPointName":${v.entryPointName(c)}` +
    (c.upstreamError ? `,"OriginError":${v.OriginError(c)}` : '') +
    `,"level":"info","msg":"","time":"${new Date(nowMs).toISOString()}"}\n`
  );
}

// ---------------------------------------------------------------------------
// Headers

/** never written in clear unless a `names` entry says keep: credentials (issue #6) */
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);

const canonicalNames = new Map<string, string>();
/** Go's canonical header spelling (User-Agent), which Traefik's keys use */
function canonicalHeader(lower: string): string {
  let name = canonicalNames.get(lower);
  if (name === undefined) {
    name = lower.replace(
      /(^|-)([a-z])/g,
      (_m, dash: string, ch: string) => dash + ch.toUpperCase(),
    );
    if (canonicalNames.size >= 1024) canonicalNames.clear();
    canonicalNames.set(lower, name);
  }
  return name;
}

interface HeaderPlan {
  defaultMode: AccessLogFieldMode;
  /** lower-case name → mode, for the names configured */
  names: Map<string, AccessLogFieldMode>;
  /** with defaultMode drop, only these are looked at: [lower-case name, mode] */
  listed: [string, AccessLogFieldMode][];
}

function headerPlan(fields: AccessLogFields): HeaderPlan | undefined {
  const names = new Map<string, AccessLogFieldMode>();
  for (const [name, mode] of Object.entries(fields.headers.names))
    names.set(name.toLowerCase(), mode);
  const defaultMode = fields.headers.defaultMode;
  const listed = [...names].filter(([, mode]) => mode !== 'drop');
  if (defaultMode === 'drop' && listed.length === 0) return undefined;
  return { defaultMode, names, listed };
}

function modeOf(plan: HeaderPlan, lower: string): AccessLogFieldMode {
  const mode = plan.names.get(lower);
  if (mode !== undefined) return mode;
  // keep-by-default still does not write credentials
  if (plan.defaultMode === 'keep' && SECRET_HEADERS.has(lower)) return 'redact';
  return plan.defaultMode;
}

function headerEntry(
  prefix: string,
  lower: string,
  value: string,
  mode: AccessLogFieldMode,
): string {
  if (mode === 'drop') return '';
  return `,${str(prefix + canonicalHeader(lower))}:${mode === 'redact' ? '"REDACTED"' : str(value)}`;
}

/** request_<Name> entries from the request headers (after middlewares, as Traefik) */
function requestHeaderEntries(plan: HeaderPlan, ctx: RequestContext): string {
  const headers = ctx.req.headers;
  let out = '';
  if (plan.defaultMode === 'drop') {
    for (const [lower, mode] of plan.listed) {
      const v = headers[lower];
      if (v !== undefined)
        out += headerEntry('request_', lower, Array.isArray(v) ? v.join(',') : v, mode);
    }
    return out;
  }
  for (const lower in headers) {
    if (lower.charCodeAt(0) === 0x3a) continue; // HTTP/2 pseudo-headers
    const v = headers[lower];
    if (v === undefined) continue;
    out += headerEntry('request_', lower, Array.isArray(v) ? v.join(',') : v, modeOf(plan, lower));
  }
  return out;
}

/**
 * downstream_<Name> entries from the response head as sent. Handlers write
 * heads as flat lists, which node does not keep as a map: HTTP/1 heads are
 * read back from the serialised head, HTTP/2 ones from the stream.
 */
function downstreamHeaderEntries(plan: HeaderPlan, ctx: RequestContext): string {
  const values = new Map<string, string>();
  const res = ctx.res as ServerResponse & {
    _header?: string | null;
    stream?: { sentHeaders?: Record<string, string | string[] | number> };
  };
  const sent = res.stream?.sentHeaders;
  if (sent !== undefined) {
    for (const name in sent) {
      if (name.charCodeAt(0) === 0x3a) continue;
      const v = sent[name]!;
      values.set(name.toLowerCase(), Array.isArray(v) ? v.join(',') : String(v));
    }
  } else if (typeof res._header === 'string') {
    const head = res._header;
    let at = head.indexOf('\r\n') + 2;
    while (at > 1 && at < head.length) {
      const end = head.indexOf('\r\n', at);
      if (end <= at) break;
      const colon = head.indexOf(':', at);
      if (colon > at && colon < end) {
        const lower = head.slice(at, colon).toLowerCase();
        const value = head.slice(colon + 1, end).trim();
        const prev = values.get(lower);
        values.set(lower, prev === undefined ? value : `${prev},${value}`);
      }
      at = end + 2;
    }
  }
  let out = '';
  for (const [lower, value] of values) {
    out += headerEntry('downstream_', lower, value, modeOf(plan, lower));
  }
  return out;
}

// ---------------------------------------------------------------------------
// The configured line: a plan built once

interface FieldPlan {
  /** [`"Name":`, value function, redact] in line order */
  entries: [string, FieldFn, boolean][];
  headers: HeaderPlan | undefined;
}

/** undefined when the options change nothing: the default line applies */
function fieldPlan(fields: AccessLogFields | undefined): FieldPlan | undefined {
  if (fields === undefined) return undefined;
  const modes = new Map<string, AccessLogFieldMode>();
  for (const [name, mode] of Object.entries(fields.names)) modes.set(name.toLowerCase(), mode);
  const entries: [string, FieldFn, boolean][] = [];
  let changed = false;
  for (const name of ACCESS_LOG_FIELDS) {
    const mode = modes.get(name.toLowerCase()) ?? fields.defaultMode;
    if (mode !== 'keep') changed = true;
    if (mode !== 'drop') entries.push([`"${name}":`, FIELD_VALUES[name], mode === 'redact']);
  }
  const headers = headerPlan(fields);
  return changed || headers !== undefined ? { entries, headers } : undefined;
}

function plannedLine(plan: FieldPlan, c: RequestContext): string {
  let line = '{';
  for (const [key, fn, redact] of plan.entries) {
    const value = fn(c);
    if (value === '') continue;
    line += key + (redact ? '"REDACTED"' : value) + ',';
  }
  const headers = plan.headers;
  if (headers !== undefined) {
    // entries start with a comma: drop the first one, or the one after '{'
    const h = requestHeaderEntries(headers, c) + downstreamHeaderEntries(headers, c);
    if (h !== '') line += h.slice(1) + ',';
  }
  return line + `"level":"info","msg":"","time":"${new Date(nowMs).toISOString()}"}\n`;
}

// ---------------------------------------------------------------------------
// Filters (Traefik's keepAccessLog): any configured filter that matches keeps the line

type Filter = (status: number, ctx: RequestContext) => boolean;

function compileFilter(filters: AccessLogFilters | undefined): Filter | undefined {
  if (filters === undefined) return undefined;
  const ranges = filters.statusCodes;
  const retries = filters.retryAttempts;
  const minNs = filters.minDurationMs * 1e6;
  // `--accessLog.filters` with nothing set filters nothing, as in Traefik
  if (ranges.length === 0 && !retries && minNs <= 0) return undefined;
  return (status, ctx) => {
    for (const [from, to] of ranges) if (status >= from && status <= to) return true;
    if (retries && ctx.retryAttempts > 0) return true;
    return minNs > 0 && durationNs > minNs;
  };
}

// ---------------------------------------------------------------------------
// TCP connections and UDP sessions (issue 13 item 8). Traefik writes no line
// for them (traefik/traefik#7800); Portico writes one JSON line per
// connection or session at its close, with the HTTP line's names where they
// mean the same (ClientAddr, RouterName, ServiceAddr, Duration, StartUTC,
// entryPointName; RequestProtocol is "TCP" or "UDP") and its own for the rest.

type StreamFieldFn = (r: StreamRecord, durationNs: number, reason: string) => string;

const STREAM_FIELDS: [string, StreamFieldFn][] = [
  [
    'ClientAddr',
    (r) =>
      str(
        r.client.address.includes(':')
          ? `[${r.client.address}]:${r.client.port}`
          : `${r.client.address}:${r.client.port}`,
      ),
  ],
  ['ClientHost', (r) => str(r.client.address)],
  ['ClientPort', (r) => `"${r.client.port}"`],
  // bytes the server sent that were relayed to the client, and the client's relayed to the server
  ['DownstreamBytes', (r) => String(r.toClient)],
  ['UpstreamBytes', (r) => String(r.toServer)],
  ['DownstreamDatagrams', (r) => (r.protocol === 'UDP' ? String(r.datagramsToClient) : '')],
  ['UpstreamDatagrams', (r) => (r.protocol === 'UDP' ? String(r.datagramsToServer) : '')],
  ['Duration', (_r, ns) => String(ns)],
  ['RequestProtocol', (r) => `"${r.protocol}"`],
  ['RouterName', (r) => str(r.router)],
  ['ServiceName', (r) => str(r.service)],
  ['ServiceAddr', (r) => (r.serviceAddr === '' ? '' : str(r.serviceAddr))],
  ['StartUTC', (r) => `"${new Date(r.startMs).toISOString()}"`],
  ['StartLocal', (r) => `"${localTime(r.startMs)}"`],
  ['TLSMode', (r) => (r.tlsMode === undefined ? '' : `"${r.tlsMode}"`)],
  ['TLSServerName', (r) => (r.sni === undefined ? '' : str(r.sni))],
  ['TLSVersion', (r) => (r.tlsVersion === undefined ? '' : str(r.tlsVersion))],
  ['TLSCipher', (r) => (r.tlsCipher === undefined ? '' : str(r.tlsCipher))],
  ['CloseReason', (_r, _ns, reason) => str(reason)],
  ['entryPointName', (r) => str(r.entryPoint)],
];

/**
 * The stream line's fields under `fields`: the names HTTP lines share take their configured mode,
 * the TCP/UDP-only ones (DownstreamBytes, CloseReason, ...) follow defaultMode.
 */
function streamPlan(fields: AccessLogFields | undefined): [string, StreamFieldFn, boolean][] {
  const modes = new Map<string, AccessLogFieldMode>();
  for (const [name, mode] of Object.entries(fields?.names ?? {}))
    modes.set(name.toLowerCase(), mode);
  const out: [string, StreamFieldFn, boolean][] = [];
  for (const [name, fn] of STREAM_FIELDS) {
    const mode = modes.get(name.toLowerCase()) ?? fields?.defaultMode ?? 'keep';
    if (mode !== 'drop') out.push([`"${name}":`, fn, mode === 'redact']);
  }
  return out;
}

/**
 * Traefik's filters, read for a connection: it has no status code and no retries, so only
 * minDuration can keep it. With any filter set, TCP/UDP lines are written only for connections
 * longer than minDuration (statusCodes alone: none), which is how they are turned off.
 */
function streamFilter(filters: AccessLogFilters | undefined): (durationNs: number) => boolean {
  if (filters === undefined) return () => true;
  const minNs = filters.minDurationMs * 1e6;
  if (filters.statusCodes.length === 0 && !filters.retryAttempts && minNs <= 0) return () => true;
  return (ns) => minNs > 0 && ns > minNs;
}

// ---------------------------------------------------------------------------

export function createAccessLog(opts: AccessLogOptions): AccessLogger {
  // one write syscall per line costs more than the rest of the log line (profiled: ~8% of a
  // proxied request); batch up to 12 KiB (sonic-boom writes at most 16 KiB at once) and flush at least every 250 ms so lines stay timely
  const dest = pino.destination({
    dest: opts.filePath ?? 1,
    sync: false,
    minLength: opts.bufferingSize > 0 ? Math.min(opts.bufferingSize * 200, 12 * 1024) : 12 * 1024,
    mkdir: true,
  });
  const timer = setInterval(() => {
    try {
      dest.flush();
    } catch {
      // not open yet
    }
  }, 250);
  timer.unref();
  const json = opts.format === 'json';
  const filter = compileFilter(opts.filters);
  // CLF ignores fields, as in Traefik
  const plan = json ? fieldPlan(opts.fields) : undefined;
  // Traefik's RequestCount: requests received since start, written or filtered out
  let count = 0;
  const log = ((ctx: RequestContext) => {
    nowMs = Date.now();
    durationNs = Math.round(((ctx.endTime || performance.now()) - ctx.startTime) * 1e6);
    requestCount = ++count;
    const status = ctx.res.statusCode;
    if (filter !== undefined && !filter(status, ctx)) return;
    if (json) {
      dest.write(plan === undefined ? defaultLine(ctx) : plannedLine(plan, ctx));
      return;
    }
    // Traefik's CLF: common log format plus request count, router, service URL and duration in ms
    const req = ctx.req;
    const size = ctx.res.getHeader('content-length');
    dest.write(
      `${ctx.clientIp} - ${ctx.user === '' ? '-' : quoteUser(ctx.user)} [${clfTime(nowMs)}] "${ctx.method} ${ctx.target()} HTTP/${req.httpVersion}" ${status} ${size ?? ctx.bytesOut} ` +
        `${quote(req.headers.referer)} ${quote(req.headers['user-agent'])} ${requestCount} ${quote(ctx.routerName)} ${quote(ctx.upstreamUrl)} ${Math.round(durationNs / 1e6)}ms\n`,
    );
  }) as AccessLogger;
  const streamFields = streamPlan(opts.fields);
  const keepStream = streamFilter(opts.filters);
  log.stream = (r, ns, reason) => {
    // the Common Log Format has no place for a connection: JSON only (docs/access-log.md)
    if (!json || !keepStream(ns)) return;
    let line = '{';
    for (const [key, fn, redact] of streamFields) {
      const value = fn(r, ns, reason);
      if (value !== '') line += key + (redact ? '"REDACTED"' : value) + ',';
    }
    dest.write(line + `"level":"info","msg":"","time":"${new Date().toISOString()}"}\n`);
  };
  log.flush = () => {
    try {
      dest.flushSync();
    } catch {
      // nothing buffered, or the destination is not ready yet
    }
  };
  return log;
}
