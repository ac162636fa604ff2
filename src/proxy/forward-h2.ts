/*
 * The upstream pass for h2c servers (`h2c://host:port`: HTTP/2 over cleartext
 * TCP, what gRPC servers speak without TLS), with node:http2. One client
 * session per origin and transport settings, shared by every service that
 * reaches it and kept in the StateRegistry like the HTTP/1 pools; requests are
 * streams multiplexed on it. The session is replaced when it closes, fails or
 * receives GOAWAY, and closed (gracefully) when no configuration uses it.
 *
 * Headers get the same treatment as on the HTTP/1 path (upstreamHeaders), then
 * HTTP/2's rules: connection-specific headers dropped, Host carried as
 * :authority, only `te: trailers` kept. Response trailers (gRPC status) are
 * relayed like forward.ts does.
 */
import http2 from 'node:http2';
import type {
  ClientHttp2Session,
  ClientHttp2Stream,
  IncomingHttpHeaders,
  OutgoingHttpHeaders,
} from 'node:http2';
import { requestHasBody, type RequestContext } from '../kernel/context.js';
import { cutResponse } from './forward.js';
import { writeTrailers } from '../kernel/writer.js';
import { upstreamHeaders, type UpstreamHeaderOptions } from './headers.js';
import { H2_FORBIDDEN, HOP_BY_HOP } from '../kernel/hop-by-hop.js';
import { statusForUpstreamError } from './errors.js';
import { sendStatus } from '../kernel/status.js';
import { unrelayableHead, writeUpstreamHead } from './response-head.js';
import type { TransportSettings } from './transport.js';

const { NGHTTP2_CANCEL } = http2.constants;

function codedError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * A stream cancelled because its session failed (refused, dial timeout) reports
 * ERR_HTTP2_STREAM_CANCEL with the session's error as cause: that one decides the status.
 */
function rootCause(err: Error): Error {
  const cause = (err as { cause?: unknown }).cause;
  return (err as { code?: string }).code === 'ERR_HTTP2_STREAM_CANCEL' && cause instanceof Error
    ? cause
    : err;
}

/**
 * The HTTP/2 session to one h2c origin (`http://host:port`) with one set of
 * transport settings: opened on first use, reopened when it is gone.
 */
export class H2cSession {
  private current: ClientHttp2Session | undefined = undefined;
  private closed = false;

  constructor(
    readonly origin: string,
    readonly transport: TransportSettings,
  ) {}

  /** Opens a stream; a session that is closing is replaced (once) by a fresh one. */
  request(
    headers: OutgoingHttpHeaders,
    options: http2.ClientSessionRequestOptions,
  ): ClientHttp2Stream {
    if (this.closed) {
      // a request still in flight from a configuration that was just swapped out: one-off session
      const session = this.connect();
      try {
        const stream = session.request(headers, options);
        stream.once('close', () => session.close());
        return stream;
      } catch (err) {
        session.close();
        throw err;
      }
    }
    const session = this.session();
    try {
      return session.request(headers, options);
    } catch (err) {
      // GOAWAY received or the session closed between the check and the call
      if (session.closed || session.destroyed) {
        if (this.current === session) this.current = undefined;
        return this.session().request(headers, options);
      }
      throw err;
    }
  }

  private session(): ClientHttp2Session {
    const s = this.current;
    if (s !== undefined && !s.closed && !s.destroyed) return s;
    const fresh = this.connect();
    this.current = fresh;
    return fresh;
  }

  private connect(): ClientHttp2Session {
    const t = this.transport;
    const session = http2.connect(this.origin, {
      settings: { enablePush: false },
      maxHeaderListPairs: 512,
    });
    const forget = (): void => {
      if (this.current === session) this.current = undefined;
    };
    const dialMs = t.dialTimeoutMs > 0 ? t.dialTimeoutMs : 30_000;
    const dial = setTimeout(
      () => session.destroy(codedError(`h2c dial timeout after ${dialMs} ms`, 'ETIMEDOUT')),
      dialMs,
    );
    dial.unref();
    session.once('connect', () => clearTimeout(dial));
    session.once('close', () => {
      clearTimeout(dial);
      forget();
    });
    // the error reaches each stream on this session: the requests answer it, not the session
    session.on('error', forget);
    // the server is going away: streams in flight finish, new ones go to a new session
    session.on('goaway', forget);
    const idleMs = t.idleConnTimeoutMs > 0 ? t.idleConnTimeoutMs : 90_000;
    session.setTimeout(idleMs, () => {
      forget();
      session.close();
    });
    // an idle session must not keep the process alive (undici's pools do not either)
    session.unref();
    return session;
  }

  /** Graceful: streams in flight finish, then the connection closes. */
  close(): void {
    this.closed = true;
    const s = this.current;
    this.current = undefined;
    s?.close();
  }
}

/** An `h2c://` server of a load balancer. */
export interface H2cServer {
  url: string;
  /** http://host:port, what the session connects to */
  origin: string;
  /** host[:port] as written in the server URL */
  hostPort: string;
  /** the server URL's path, prefixed to the request path when preservePath is set */
  basePath: string;
  session: H2cSession;
}

/** Told about each attempt's outcome (passive health checks), as ForwardObserver for HTTP/1. */
export interface H2cObserver {
  failure(server: H2cServer, err: Error): void;
  success(server: H2cServer, status: number): void;
}

export interface H2cForwardOptions extends Omit<UpstreamHeaderOptions, 'serverHost'> {
  observer?: H2cObserver;
}

/** The request head for the h2c server: pseudo-headers, then upstreamHeaders minus what HTTP/2 forbids. */
function requestHeaders(
  ctx: RequestContext,
  server: H2cServer,
  opts: Omit<UpstreamHeaderOptions, 'serverHost'>,
  preservePath: boolean,
): OutgoingHttpHeaders {
  const flat = upstreamHeaders(ctx, {
    passHostHeader: opts.passHostHeader,
    serverHost: server.hostPort,
    trusted: opts.trusted,
    entryPointPort: opts.entryPointPort,
  });
  const out: OutgoingHttpHeaders = {
    ':method': ctx.method,
    ':scheme': 'http',
    ':authority': opts.passHostHeader ? ctx.rawHost || server.hostPort : server.hostPort,
    ':path': preservePath && server.basePath !== '' ? server.basePath + ctx.target() : ctx.target(),
  };
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase();
    const value = flat[i + 1]!;
    // Host becomes :authority
    if (H2_FORBIDDEN.has(name) || name === 'host') continue;
    if (name === 'te' && value !== 'trailers') continue;
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [String(prev), value];
  }
  return out;
}

/** An HTTP/2 header object as the flat [name, value, ...] list, without pseudo-headers. */
function flatHeaders(h: IncomingHttpHeaders, skip: ReadonlySet<string> | null): string[] {
  const out: string[] = [];
  for (const name in h) {
    if (name.charCodeAt(0) === 0x3a) continue; // ':status' and friends
    if (skip !== null && skip.has(name)) continue;
    const value = h[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, String(value));
  }
  return out;
}

/** Sends the request in ctx to an h2c server and streams the answer back. */
export function forwardH2c(
  ctx: RequestContext,
  server: H2cServer,
  opts: H2cForwardOptions,
  preservePath = false,
): void {
  ctx.upstreamUrl = server.url;
  // the request stream may be consumed already (mirroring, retries): look at the client side
  if (ctx.clientGone || ctx.writer.destroyed) return;
  ctx.originStart = performance.now();
  ctx.originEnd = 0;
  const observer = opts.observer;
  const body = ctx.body;
  const streamBody = body === undefined && requestHasBody(ctx.req);
  let done = false;
  let headerTimer: NodeJS.Timeout | undefined;

  const fail = (err: Error, stream?: ClientHttp2Stream): void => {
    if (done) return;
    done = true;
    ctx.originEnd = performance.now();
    clearTimeout(headerTimer);
    ctx.abortUpstream = undefined;
    if (stream !== undefined && !stream.destroyed) stream.close(NGHTTP2_CANCEL);
    if (ctx.writer.destroyed || ctx.clientGone) return; // the client left first: nothing to answer
    const cause = rootCause(err);
    ctx.upstreamError = cause;
    observer?.failure(server, cause);
    if (ctx.writer.headersSent) {
      cutResponse(ctx, cause);
      return;
    }
    sendStatus(ctx.writer, statusForUpstreamError(cause));
  };

  let stream: ClientHttp2Stream;
  try {
    stream = server.session.request(requestHeaders(ctx, server, opts, preservePath), {
      endStream: body === undefined && !streamBody,
    });
  } catch (err) {
    fail(err instanceof Error ? err : new Error(String(err)));
    return;
  }

  ctx.abortUpstream = () => {
    done = true;
    clearTimeout(headerTimer);
    if (streamBody) ctx.req.unpipe(stream);
    if (!stream.destroyed) stream.close(NGHTTP2_CANCEL);
  };

  const headerTimeoutMs = server.session.transport.responseHeaderTimeoutMs;
  let responded = false;
  if (headerTimeoutMs > 0) {
    // Go's ResponseHeaderTimeout: counted once the request (body included) is written
    stream.once('finish', () => {
      if (responded || done) return;
      headerTimer = setTimeout(
        () =>
          fail(codedError(`no response headers within ${headerTimeoutMs} ms`, 'ETIMEDOUT'), stream),
        headerTimeoutMs,
      );
    });
  }

  let trailers: string[] | undefined;
  let drainHooked = false;

  stream.on('response', (h) => {
    clearTimeout(headerTimer);
    responded = true;
    if (done) return;
    const status = Number(h[':status']);
    ctx.originStatus = status;
    const res = ctx.writer;
    if (res.headersSent || res.destroyed) {
      done = true;
      ctx.abortUpstream = undefined;
      stream.close(NGHTTP2_CANCEL);
      return;
    }
    const headers = flatHeaders(h, HOP_BY_HOP);
    // nothing the upstream sent may throw out of this listener (response-head.ts)
    const refused = unrelayableHead(status, []) ?? writeUpstreamHead(ctx, status, headers);
    if (refused !== null) {
      fail(codedError(`invalid upstream response: ${refused}`, 'PORTICO_ERR_BAD_RESPONSE'), stream);
      return;
    }
    observer?.success(server, status);
  });

  stream.on('data', (chunk: Buffer) => {
    if (done) return;
    const res = ctx.writer;
    ctx.bytesOut += chunk.length;
    if (res.write(chunk)) return;
    stream.pause();
    if (!drainHooked) {
      drainHooked = true;
      res.on('drain', () => stream.resume());
    }
  });

  stream.on('trailers', (h) => {
    trailers = flatHeaders(h, null);
  });

  stream.on('end', () => {
    if (done) return;
    if (!responded) {
      fail(new Error('h2c server ended the stream without a response'), stream);
      return;
    }
    done = true;
    ctx.abortUpstream = undefined;
    ctx.originEnd = performance.now();
    if (trailers !== undefined && trailers.length > 0) writeTrailers(ctx.writer, trailers);
    ctx.writer.end();
  });

  stream.on('error', (err) => fail(err, stream));

  stream.on('close', () => {
    clearTimeout(headerTimer);
    // reset by the server (RST_STREAM) without an error event, or closed before the end
    if (!done)
      fail(codedError(`h2c stream closed (code ${stream.rstCode ?? 0})`, 'ECONNRESET'), stream);
  });

  if (body !== undefined) stream.end(body);
  else if (streamBody) {
    ctx.req.pipe(stream);
    stream.once('error', () => ctx.req.unpipe(stream));
  }
}

/** Mirroring to an h2c server: the same request, the answer discarded. */
export function mirrorH2c(
  ctx: RequestContext,
  server: H2cServer,
  opts: Omit<UpstreamHeaderOptions, 'serverHost'>,
  preservePath: boolean,
  body: Buffer | null,
  onError: (err: Error) => void,
): void {
  const headers = requestHeaders(ctx, server, opts, preservePath);
  // mirrorBody: false sends the request without its body: its length no longer applies
  if (body === null) delete headers['content-length'];
  let stream: ClientHttp2Stream;
  try {
    stream = server.session.request(headers, { endStream: body === null || body.length === 0 });
  } catch (err) {
    onError(err instanceof Error ? err : new Error(String(err)));
    return;
  }
  stream.on('error', (err) => onError(rootCause(err)));
  stream.resume();
  if (body !== null && body.length > 0) stream.end(body);
}
