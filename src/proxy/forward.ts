/*
 * The upstream pass for plain HTTP requests: undici's dispatcher, streaming
 * both ways with backpressure and nothing buffered. undici's raw handler
 * interface is used on purpose: it hands over raw header buffers without
 * building objects, which keeps the hot path short (see docs/benchmarks.md).
 */
import type { Dispatcher, Pool } from 'undici';
import type { H1Handler, H1Pool } from './h1-pool.js';
import { requestHasBody, type RequestContext, type ResponseWriter } from '../server/context.js';
import { responseHeaders, upstreamHeaders, type UpstreamHeaderOptions } from './headers.js';
import { sendStatus, statusForUpstreamError } from './errors.js';

export interface UpstreamServer {
  url: string;
  /** scheme://host:port */
  origin: string;
  /** host[:port] as written in the server URL */
  hostPort: string;
  /** the server URL's path, prefixed to the request path when preservePath is set */
  basePath: string;
  /** undici's pool: mirrors */
  pool: Pool;
  /** Portico's HTTP/1.1 client: what forward() uses (undici's pool when absent) */
  h1?: H1Pool | undefined;
}

/** Told about each attempt's outcome: passive health checks and metrics listen here. */
export interface ForwardObserver {
  failure(server: UpstreamServer, err: Error): void;
  success(server: UpstreamServer, status: number): void;
}

export interface ForwardOptions extends Omit<UpstreamHeaderOptions, 'serverHost'> {
  observer?: ForwardObserver;
}

class ForwardHandler implements Dispatcher.DispatchHandler, H1Handler {
  private abortUpstream: ((err?: Error) => void) | null = null;
  private resume: (() => void) | null = null;
  private drainHooked = false;

  constructor(
    private readonly ctx: RequestContext,
    private readonly server: UpstreamServer,
    private readonly observer: ForwardObserver | undefined,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    const ctx = this.ctx;
    // the request stream may be consumed already (mirroring reads the body first): look at the client side
    if (ctx.clientGone || ctx.writer.destroyed) {
      abort(new Error('client went away'));
      return;
    }
    ctx.abortUpstream = abort;
  }

  onHeaders(
    statusCode: number,
    rawHeaders: Buffer[] | string[] | null,
    resume: () => void,
    statusText: string,
  ): boolean {
    if (statusCode < 200) {
      // 1xx interim responses (103 Early Hints) are not relayed yet; 101 goes through the upgrade path
      return true;
    }
    this.resume = resume;
    const ctx = this.ctx;
    ctx.originStatus = statusCode;
    const res = ctx.writer;
    if (res.headersSent || res.destroyed) return false;
    const headers = responseHeaders(rawHeaders ?? []);
    const hooks = ctx.responseHeaderHooks;
    if (hooks !== undefined) for (const hook of hooks) hook(ctx, statusCode, headers);
    // HTTP/2 has no reason phrase (RFC 9113 §8.3.2): node warns if one is given
    res.writeHead(
      statusCode,
      ctx.req.httpVersionMajor === 2 ? undefined : statusText || undefined,
      headers,
    );
    this.observer?.success(this.server, statusCode);
    return true;
  }

  onData(chunk: Buffer): boolean {
    const res = this.ctx.writer;
    this.ctx.bytesOut += chunk.length;
    if (res.write(chunk)) return true;
    if (!this.drainHooked) {
      this.drainHooked = true;
      res.on('drain', () => this.resume?.());
    }
    return false;
  }

  onComplete(trailers: Buffer[] | string[] | null): void {
    const ctx = this.ctx;
    ctx.abortUpstream = undefined;
    ctx.originEnd = performance.now();
    if (trailers !== null && trailers.length > 0) relayTrailers(ctx, trailers);
    ctx.writer.end();
  }

  onError(err: Error): void {
    const ctx = this.ctx;
    ctx.abortUpstream = undefined;
    ctx.originEnd = performance.now();
    if (ctx.writer.destroyed || ctx.clientGone) return; // the client left first: nothing to answer
    ctx.upstreamError = err;
    this.observer?.failure(this.server, err);
    if (ctx.writer.headersSent) {
      ctx.writer.destroy(err);
      return;
    }
    sendStatus(ctx.writer, statusForUpstreamError(err));
  }
}

function relayTrailers(ctx: RequestContext, raw: Buffer[] | string[]): void {
  if (typeof raw[0] === 'string') {
    relayTrailerList(ctx, raw as string[]);
    return;
  }
  const flat: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2)
    flat.push(raw[i]!.toString('latin1'), raw[i + 1]!.toString('latin1'));
  relayTrailerList(ctx, flat);
}

/**
 * Upstream trailers (gRPC status, checksums; flat [name, value, ...]) go on to
 * the client, or to a writer that wants them. Shared with the HTTP/2 forwarder.
 */
export function relayTrailerList(ctx: RequestContext, flat: string[]): void {
  const writer = ctx.writer as ResponseWriter & { addTrailers?: (t: string[]) => void };
  if (writer !== (ctx.res as unknown)) {
    writer.addTrailers?.(flat);
    return;
  }
  const pairs: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
  // node sends trailers only on chunked responses; on others they are dropped, as HTTP/1.1 requires
  ctx.res.addTrailers(pairs);
}

/** Sends the request in ctx to one upstream server and streams the answer back. */
export function forward(
  ctx: RequestContext,
  server: UpstreamServer,
  opts: ForwardOptions,
  preservePath = false,
): void {
  ctx.upstreamUrl = server.url;
  ctx.originStart = performance.now();
  ctx.originEnd = 0;
  const body = requestHasBody(ctx.req);
  const path =
    preservePath && server.basePath !== '' ? server.basePath + ctx.target() : ctx.target();
  const headers = upstreamHeaders(ctx, {
    passHostHeader: opts.passHostHeader,
    serverHost: server.hostPort,
    trusted: opts.trusted,
    entryPointPort: opts.entryPointPort,
  });
  const requestBody = ctx.body !== undefined ? ctx.body : body ? ctx.req : null;
  const handler = new ForwardHandler(ctx, server, opts.observer);
  if (server.h1 !== undefined) {
    server.h1.dispatch({ path, method: ctx.method, headers, body: requestBody }, handler);
    return;
  }
  server.pool.dispatch(
    { path, method: ctx.method as Dispatcher.HttpMethod, headers, body: requestBody },
    handler,
  );
}
