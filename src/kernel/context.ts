/*
 * The per-request context: everything the router, middlewares, services and
 * the access log share about one request. It is created once per request with
 * a fixed shape (V8 keeps one hidden class) and the expensive parts (query
 * parsing) are lazy.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { proxiedClientAddress } from './client-address.js';
import { generateTraceparent, isValidTraceparent } from './trace-context.js';

/**
 * Where a handler writes its response. The client's ServerResponse is one;
 * middlewares that must see or change what the next handler answers
 * (compress, errors, retry, circuit breaker, buffering) install a wrapper in
 * `ctx.writer` before calling next and forward to the one they replaced, as
 * Go's ResponseWriter wrappers do. Headers are a flat [name, value, ...] list.
 */
export interface ResponseWriter {
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  writeHead(status: number, statusText: string | undefined, headers: string[]): unknown;
  write(chunk: Buffer | string): boolean;
  end(chunk?: Buffer | string): unknown;
  destroy(err?: Error): unknown;
  once(event: 'drain', listener: () => void): unknown;
  on(event: 'drain', listener: () => void): unknown;
  /** upstream trailers (flat list), when the writer wants them (gRPC-Web turns them into a body frame) */
  addTrailers?(trailers: string[]): void;
}

export class RequestContext {
  readonly req: IncomingMessage;
  /** the client's response: the access log and connection bookkeeping read it */
  readonly res: ServerResponse;
  /** what handlers write to: the client's response, or a middleware's wrapper around it */
  writer: ResponseWriter;
  readonly entryPoint: string;
  readonly scheme: 'http' | 'https';
  /** canonical host: lower-case, no port, no trailing dot; '' when the request has none */
  readonly host: string;
  /** the Host header as received (with port), forwarded when passHostHeader is true */
  /** the Host sent upstream when passHostHeader is true; starts as received, middlewares may replace it */
  rawHost: string;
  /** the Host header exactly as the client sent it (X-Forwarded-Host, X-Forwarded-Port) */
  readonly requestHost: string;
  /** normalised path, used for routing and forwarded upstream; middlewares may rewrite it */
  path: string;
  /** raw query string without '?' */
  rawQuery: string;
  readonly method: string;
  /** the socket's remote address, or a trusted PROXY protocol header's source (IPv4-mapped IPv6 unwrapped) */
  readonly clientIp: string;
  readonly clientPort: number;
  readonly startTime: number;
  /** performance.now() when the response closed: set once in finish(), read by the access log and metrics */
  endTime = 0;
  /** set for WebSocket/upgrade requests: the raw client socket and the bytes read past the headers */
  readonly upgrade: { socket: Duplex; head: Buffer } | undefined;
  /** HTTP/2 only: the session's socket, kept because the stream forgets its session when it closes (access log TLS fields) */
  readonly sessionSocket: unknown;
  /** filled in as the request moves along, for the access log */
  routerName = '';
  serviceName = '';
  upstreamUrl = '';
  originStatus = 0;
  /** the client may set X-Forwarded-* (trusted source or insecure entrypoint) */
  trusted = false;
  /** the authenticated user (basicAuth, digestAuth, forwardAuth headerField), for the access log */
  user = '';
  /** response body bytes relayed to the client */
  bytesOut = 0;
  /** aborts the upstream exchange in progress; called when the client goes away */
  abortUpstream: ((err?: Error) => void) | undefined = undefined;
  /** the client closed its side before the response finished */
  clientGone = false;
  /** the request body when a step had to read it whole (mirroring, retries); forwarded instead of the stream */
  body: Buffer | undefined = undefined;
  /**
   * The last upstream failure (could not connect, reset, timed out, bad
   * response), set by the proxy before it answers it. The one signal that
   * the answer being written is for a network error: retry, buffering and the
   * circuit breaker read it, never the 502/504 status (issue 12 §4). Also the
   * access log's OriginError.
   */
  upstreamError: Error | undefined = undefined;
  /** retries the retry middleware made (attempts - 1), for the access log's RetryAttempts */
  retryAttempts = 0;
  /** performance.now() when the last upstream attempt started and ended (0: none), for OriginDuration */
  originStart = 0;
  originEnd = 0;
  /** the incoming traceparent was valid and is forwarded as it is, with its tracestate */
  traceContinued = false;
  /** middlewares that edit the response head register here (status, flat header list) */
  responseHeaderHooks:
    ((ctx: RequestContext, status: number, headers: string[]) => void)[] | undefined = undefined;
  private parsedQuery: URLSearchParams | undefined = undefined;
  private traceparentValue: string | undefined = undefined;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    entryPoint: string,
    scheme: 'http' | 'https',
    host: string,
    rawHost: string,
    path: string,
    rawQuery: string,
    upgrade?: { socket: Duplex; head: Buffer },
  ) {
    this.req = req;
    this.res = res;
    this.writer = res as unknown as ResponseWriter;
    this.entryPoint = entryPoint;
    this.scheme = scheme;
    this.host = host;
    this.rawHost = rawHost;
    this.requestHost = rawHost;
    this.path = path;
    this.rawQuery = rawQuery;
    this.method = req.method ?? 'GET';
    const socket = req.socket;
    // a trusted PROXY protocol header's source stands in for the peer (issue 13 item 6)
    const proxied = socket == null ? undefined : proxiedClientAddress(socket);
    const addr = proxied?.address ?? socket?.remoteAddress ?? '';
    this.clientIp = addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
    this.clientPort = proxied?.port ?? socket?.remotePort ?? 0;
    this.startTime = performance.now();
    this.upgrade = upgrade;
    this.sessionSocket =
      req.httpVersionMajor === 2
        ? (req as unknown as { stream?: { session?: { socket?: unknown } } }).stream?.session
            ?.socket
        : undefined;
  }

  get headers() {
    return this.req.headers;
  }

  query(): URLSearchParams {
    if (this.parsedQuery === undefined) this.parsedQuery = new URLSearchParams(this.rawQuery);
    return this.parsedQuery;
  }

  /**
   * The W3C traceparent sent upstream and logged: the client's when valid,
   * else a generated one. Decided once, so retries, mirrors, forwardAuth and
   * the access log all agree.
   */
  traceparent(): string {
    let value = this.traceparentValue;
    if (value === undefined) {
      const given = this.req.headers.traceparent;
      this.traceContinued = isValidTraceparent(given);
      value = this.traceparentValue = this.traceContinued
        ? (given as string)
        : generateTraceparent();
    }
    return value;
  }

  /** the path and query as they will be sent upstream */
  target(): string {
    return this.rawQuery === '' ? this.path : this.path + '?' + this.rawQuery;
  }
}

/**
 * Whether the client's request carries a body: Content-Length above 0 or
 * Transfer-Encoding on HTTP/1.1; on HTTP/2 (which frames bodies itself) a
 * stream that did not end with its headers.
 */
export function requestHasBody(req: IncomingMessage): boolean {
  const h = req.headers;
  const cl = h['content-length'];
  if (cl !== undefined) return cl !== '0';
  if (h['transfer-encoding'] !== undefined) return true;
  const stream = (req as { stream?: { endAfterHeaders?: boolean } }).stream;
  return req.httpVersionMajor === 2 && stream?.endAfterHeaders === false;
}

/** A step in the request pipeline: a router's middleware chain ends in a service handler. */
export type Handler = (ctx: RequestContext) => void;

/** Host header → canonical host (lower-case, port and trailing dot removed). */
export function canonicalHost(raw: string): string {
  if (raw === '') return '';
  let end = raw.length;
  if (raw.charCodeAt(0) === 0x5b) {
    // [v6]:port
    const close = raw.indexOf(']');
    return close === -1 ? raw.toLowerCase() : raw.slice(0, close + 1).toLowerCase();
  }
  const colon = raw.lastIndexOf(':');
  if (colon !== -1) end = colon;
  if (raw.charCodeAt(end - 1) === 0x2e) end--;
  const host = end === raw.length ? raw : raw.slice(0, end);
  // most Host headers are already lower-case: skip the copy then
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return host.toLowerCase();
  }
  return host;
}
