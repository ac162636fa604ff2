/*
 * The HTTP/2 side of a TLS entrypoint: an HTTP/2 server that never listens
 * itself (tls-server.ts hands it the connections that negotiated h2), with
 * the HTTP/1 limits and deadlines translated (Node's HTTP/2 server has none
 * of them), and its sessions tracked for GOAWAY on shutdown.
 */
import http2 from 'node:http2';
import type { Logger } from 'pino';
import type { EntryPointConfig } from '../config/static-types.js';
import type { RequestContext } from '../kernel/context.js';
import { sendStatus } from '../kernel/status.js';

/** Traefik's entryPoints.<n>.http2.maxConcurrentStreams default (Go's x/net/http2 value). */
export const H2_MAX_CONCURRENT_STREAMS = 250;

/**
 * HTTP/2 session limits. maxHeaderListSize is the HTTP/1 maxHeaderBytes (RFC 9113 §6.5.2 counts
 * name + value + 32 per field, so it also bounds the number of fields, and the pair limit is set
 * so that the size is the binding one, as on HTTP/1). The flood bounds are written out rather
 * than left to Node's defaults: invalid frames, refused streams (rapid reset, CVE-2023-44487:
 * nghttp2 also rate-limits resets itself), unanswered pings, entries per SETTINGS frame, and the
 * memory a session may hold before new streams are refused.
 */
export function h2SessionOptions(maxHeaderBytes: number): http2.ServerOptions {
  return {
    settings: {
      maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS,
      maxHeaderListSize: maxHeaderBytes,
      enablePush: false,
    },
    maxHeaderListPairs: Math.max(128, Math.ceil(maxHeaderBytes / 32) + 8),
    maxSessionInvalidFrames: 1000,
    maxSessionRejectedStreams: 100,
    maxOutstandingPings: 10,
    maxSettings: 32,
    maxSessionMemory: 32,
  };
}

/**
 * The HTTP/1 deadlines, for an HTTP/2 session (Node's HTTP/2 server has none of them):
 *  - the first request must arrive within readHeaderTimeout of the connection, as on HTTP/1.1
 *    (a HEADERS block trickled in CONTINUATION frames never becomes a stream, so this is what
 *    ends it);
 *  - a session with no open stream is closed with GOAWAY after idleTimeout (Go's IdleTimeout);
 *  - each stream's request must be read within readTimeout (readDeadline, below).
 * A client that ignores the GOAWAY is cut a little later.
 */
export function watchSession(
  session: http2.ServerHttp2Session,
  t: EntryPointConfig['transport']['respondingTimeouts'],
): void {
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const goaway = (): void => {
    timer = undefined;
    if (session.closed || session.destroyed) return;
    session.close();
    setTimeout(() => session.destroy(), 1000).unref();
  };
  const arm = (ms: number): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = ms > 0 ? setTimeout(goaway, ms) : undefined;
    timer?.unref();
  };
  arm(t.readHeaderTimeoutMs > 0 ? t.readHeaderTimeoutMs : t.idleTimeoutMs);
  session.on('stream', (stream: http2.ServerHttp2Stream) => {
    open++;
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    stream.once('close', () => {
      if (--open === 0) arm(t.idleTimeoutMs);
    });
  });
  session.once('close', () => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

/** The stream's request is complete: the client sent END_STREAM (RFC 9113 §5.1 half-closed (remote)). */
function requestReceived(stream: http2.ServerHttp2Stream): boolean {
  if (stream.endAfterHeaders || stream.destroyed) return true;
  const state = stream.state?.state;
  return (
    state === http2.constants.NGHTTP2_STREAM_STATE_HALF_CLOSED_REMOTE ||
    state === http2.constants.NGHTTP2_STREAM_STATE_CLOSED
  );
}

/**
 * readTimeout for one HTTP/2 stream, as Node applies requestTimeout to an HTTP/1.1 request:
 * a request not fully received in time is answered 408 if nothing was sent yet (then the stream is
 * closed with NO_ERROR, RFC 9113 §8.1), else reset; the upstream exchange is abandoned either way.
 */
export function readDeadline(ctx: RequestContext, ms: number): void {
  const stream = (ctx.req as unknown as { stream?: http2.ServerHttp2Stream }).stream;
  if (stream === undefined || requestReceived(stream)) return;
  const res = ctx.res;
  const timer = setTimeout(() => {
    if (requestReceived(stream)) return;
    ctx.clientGone = true;
    const abort = ctx.abortUpstream;
    ctx.abortUpstream = undefined;
    abort?.(new Error('request read timeout'));
    if (res.headersSent) {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      return;
    }
    res.once('finish', () => stream.close(http2.constants.NGHTTP2_NO_ERROR));
    sendStatus(res, 408);
  }, ms);
  timer.unref();
  res.once('close', () => clearTimeout(timer));
}

export interface H2Server {
  server: http2.Http2Server;
  /** the open sessions, for GOAWAY on shutdown */
  sessions: Set<http2.ServerHttp2Session>;
}

/** The entrypoint's HTTP/2 server: session limits, per-session deadlines, sessions tracked. */
export function createH2Server(ep: EntryPointConfig, log: Logger): H2Server {
  const server = http2.createServer(h2SessionOptions(ep.http.maxHeaderBytes));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    watchSession(session, ep.transport.respondingTimeouts);
  });
  // a protocol error in one session (flood, bad frame) is that session's end, not the process's
  server.on('sessionError', (err: Error) =>
    log.debug({ err: err.message }, 'http/2 session error'),
  );
  return { server, sessions };
}
