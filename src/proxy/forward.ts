/*
 * The upstream pass for HTTP/1.1 requests: Portico's HTTP/1.1 client
 * (h1-pool.ts), streaming both ways with backpressure and nothing buffered.
 */
import type { Pool } from 'undici';
import { BAD_RESPONSE, UpstreamError, type H1Handler, type H1Pool } from './h1-pool.js';
import { requestHasBody, type RequestContext } from '../kernel/context.js';
import { responseHeaders, upstreamHeaders, type UpstreamHeaderOptions } from './headers.js';
import { statusForUpstreamError } from './errors.js';
import { sendStatus } from '../kernel/status.js';
import { writeTrailers } from '../kernel/writer.js';
import { unrelayableHead, writeUpstreamHead } from './response-head.js';

export interface UpstreamServer {
  url: string;
  /** scheme://host:port */
  origin: string;
  /** host[:port] as written in the server URL */
  hostPort: string;
  /** the server URL's path, prefixed to the request path when preservePath is set */
  basePath: string;
  /** undici's pool: the mirroring service sends its copies through it */
  pool: Pool;
  /** Portico's HTTP/1.1 client: what forward() uses */
  h1: H1Pool;
}

/** Told about each attempt's outcome: passive health checks and metrics listen here. */
export interface ForwardObserver {
  failure(server: UpstreamServer, err: Error): void;
  success(server: UpstreamServer, status: number): void;
}

export interface ForwardOptions extends Omit<UpstreamHeaderOptions, 'serverHost'> {
  observer?: ForwardObserver;
}

class ForwardHandler implements H1Handler {
  private resume: (() => void) | null = null;
  private drainHooked = false;
  private abort: ((err?: Error) => void) | undefined = undefined;

  constructor(
    private readonly ctx: RequestContext,
    private readonly server: UpstreamServer,
    private readonly observer: ForwardObserver | undefined,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    const ctx = this.ctx;
    // the request stream may be consumed already (mirroring reads the body first): look at the client side
    if (ctx.clientGone || ctx.writer.destroyed) {
      abort(new Error('client went away'));
      return;
    }
    ctx.abortUpstream = abort;
    this.abort = abort;
  }

  /** the final response (the client skips 1xx interim ones: 103 Early Hints is not relayed yet) */
  onHeaders(
    statusCode: number,
    rawHeaders: string[],
    resume: () => void,
    _statusText: string,
  ): boolean {
    this.resume = resume;
    const ctx = this.ctx;
    ctx.originStatus = statusCode;
    const res = ctx.writer;
    if (res.headersSent || res.destroyed) return false;
    // the upstream's reason phrase is dropped (response-head.ts): Traefik writes the status text itself
    const refused =
      unrelayableHead(statusCode, rawHeaders) ??
      writeUpstreamHead(ctx, statusCode, responseHeaders(rawHeaders));
    if (refused !== null) {
      this.abort?.(new UpstreamError(`invalid upstream response: ${refused}`, BAD_RESPONSE));
      return false;
    }
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

  onComplete(trailers: string[] | null): void {
    const ctx = this.ctx;
    ctx.abortUpstream = undefined;
    ctx.originEnd = performance.now();
    if (trailers !== null && trailers.length > 0) writeTrailers(ctx.writer, trailers);
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
      cutResponse(ctx, err);
      return;
    }
    sendStatus(ctx.writer, statusForUpstreamError(err));
  }
}

/**
 * The upstream failed after the response started: the status cannot change,
 * so the client must see the response end early. What was relayed goes out
 * first and then the connection closes (FIN): a chunked body without its last
 * chunk, or fewer bytes than Content-Length, which every client reads as
 * truncated. Destroying at once would drop the corked head too (an empty
 * reply), and destroying with the error would report it as the client's.
 * Shared with the HTTP/2 forwarder.
 */
export function cutResponse(ctx: RequestContext, err: Error): void {
  const res = ctx.res;
  if (ctx.req.httpVersionMajor !== 1) {
    // HTTP/2: a reset with an error code (INTERNAL_ERROR) ends only this stream; without one
    // (NO_ERROR) a client could take the truncated body for a complete one
    ctx.writer.destroy(err);
    return;
  }
  const socket = res.socket;
  if (ctx.writer !== (res as unknown) || socket === null || socket.destroyed) {
    // a middleware's wrapper may still hold bytes back: the connection goes
    ctx.writer.destroy();
    return;
  }
  res.shouldKeepAlive = false;
  socket.end();
  const timer = setTimeout(() => socket.destroy(), 1000);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
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
  server.h1.dispatch(
    {
      path,
      method: ctx.method,
      headers,
      body: ctx.body !== undefined ? ctx.body : body ? ctx.req : null,
    },
    new ForwardHandler(ctx, server, opts.observer),
  );
}
