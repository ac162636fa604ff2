/*
 * The HTTP/1.1 side of an entrypoint: Node's HTTP/1 server options (strict
 * parser, header limit, slow-client deadlines), the raw answers written when
 * Node's parser gives up on a request, and upgrade requests turned into
 * ordinary request/response pairs. The same options serve plain HTTP/1.1 and
 * HTTP/1.1 over TLS (tls-server.ts).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { EntryPointConfig } from '../config/static-types.js';

/** How often Node sweeps connections for the header/request deadlines: a fraction of the shorter one. */
export function checkingInterval(headersMs: number, requestMs: number): number {
  const shortest = Math.min(
    headersMs > 0 ? headersMs : Infinity,
    requestMs > 0 ? requestMs : Infinity,
  );
  if (shortest === Infinity) return 30_000;
  return Math.max(25, Math.min(1000, Math.floor(shortest / 4)));
}

/**
 * One set of limits for every transport (issue 11 item 4): plain HTTP/1.1 and
 * HTTP/1.1 over TLS are the same Node HTTP/1 server options; HTTP/2 gets the
 * equivalents (http2.ts).
 */
export function http1Options(ep: EntryPointConfig): http.ServerOptions {
  const t = ep.transport.respondingTimeouts;
  return {
    // never the lenient parser: request smuggling hides in what it accepts
    insecureHTTPParser: false,
    maxHeaderSize: ep.http.maxHeaderBytes,
    requestTimeout: t.readTimeoutMs,
    headersTimeout: t.readHeaderTimeoutMs,
    keepAliveTimeout: t.idleTimeoutMs,
    // Node enforces the two timeouts above only when this timer sweeps (default every 30 s)
    connectionsCheckingInterval: checkingInterval(t.readHeaderTimeoutMs, t.readTimeoutMs),
    requireHostHeader: true,
    joinDuplicateHeaders: false,
    noDelay: true,
  };
}

/** The limits Node keeps on the server object rather than in its options. */
export function applyServerLimits(server: http.Server, ep: EntryPointConfig): void {
  // header count is bounded by maxHeaderBytes alone, as in Go: Node's default (2000) drops the rest silently
  server.maxHeadersCount = 0;
  server.maxRequestsPerSocket =
    ep.transport.keepAliveMaxRequests > 0 ? ep.transport.keepAliveMaxRequests : 0;
  server.timeout = 0;
}

/** Raw answers on the socket when Node's parser gave up on the request (no ServerResponse exists). */
const CLIENT_ERROR_RESPONSES = new Map<number, string>(
  (
    [
      [400, 'Bad Request'],
      [408, 'Request Timeout'],
      [413, 'Content Too Large'],
      [431, 'Request Header Fields Too Large'],
    ] as const
  ).map(([status, text]) => [
    status,
    `HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-type: text/plain; charset=utf-8\r\n` +
      `content-length: ${text.length + 1}\r\n\r\n${text}\n`,
  ]),
);

/** The status for a clientError: llhttp codes (HPE_*) and Node's own timeout error. */
export function clientErrorStatus(code: string | undefined): number {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 431;
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return 413;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 408;
    default:
      // every other parse error (framing, tokens, line endings, Content-Length, chunk size) is the client's
      return 400;
  }
}

type SocketWithMessage = Duplex & {
  _httpMessage?: (ServerResponse & { req?: IncomingMessage }) | null;
};

/**
 * Node's parser refused the bytes (HPE_*), a timeout fired (ERR_HTTP_REQUEST_TIMEOUT, which carries
 * no bytesParsed), or the socket failed mid-parse (ECONNRESET). Nothing of the request was handed
 * to a router, so nothing reached an upstream. An answer is written only when no response has
 * started on this socket (as Node does), so a pipelined response is never corrupted; then the
 * connection is closed, because after a framing error the next byte's meaning is unknown.
 */
export function answerClientError(
  err: NodeJS.ErrnoException,
  socket: Duplex,
  log: Pick<Logger, 'debug'>,
): void {
  log.debug({ err: err.message, code: err.code }, 'client error');
  const msg = (socket as SocketWithMessage)._httpMessage;
  if (
    !socket.writable ||
    socket.destroyed ||
    err.code === 'ECONNRESET' ||
    (msg != null && msg.headersSent)
  ) {
    socket.destroy();
    return;
  }
  if (msg != null && msg.req?.complete === true) {
    // the error is in a pipelined request after one still being answered: an answer now would be
    // read as that one's. Let it finish, then close (nothing after the bad bytes is parsed).
    msg.shouldKeepAlive = false;
    return;
  }
  const response =
    CLIENT_ERROR_RESPONSES.get(clientErrorStatus(err.code)) ?? CLIENT_ERROR_RESPONSES.get(400)!;
  socket.end(response);
  if (msg != null) {
    // the request in flight has a malformed body (bad chunk size, chunk overflow...): its response
    // must not write after this one, and its body must never reach an upstream. Destroying it now,
    // in the same tick as the parse error, makes the forwarder's onConnect abort before undici
    // writes a byte upstream (undici starts a streamed body on a later microtask at the earliest).
    msg.shouldKeepAlive = false;
    const req = msg.req;
    if (req !== undefined && !req.destroyed) req.destroy();
  }
  // destroy once flushed, and in any case soon: a peer that never reads must not hold the socket
  socket.once('finish', () => socket.destroy());
  setTimeout(() => socket.destroy(), 1000).unref();
}

/**
 * An upgrade request (WebSocket) as a request/response pair on the raw socket, so
 * middlewares answer it (401, 403, 404) as any request; anything but a 101 ends the socket.
 */
export function upgradeResponse(req: IncomingMessage, socket: Duplex): ServerResponse {
  socket.on('error', () => socket.destroy());
  const res = new http.ServerResponse(req);
  res.assignSocket(socket as Socket);
  res.shouldKeepAlive = false;
  res.once('finish', () => {
    if (res.statusCode !== 101) socket.end();
  });
  return res;
}

/**
 * The HTTP servers of an entrypoint never listen themselves (connection.ts hands them their
 * connections), but Node starts the sweep that enforces headersTimeout and requestTimeout, and
 * the connection list closeIdleConnections() walks, when a server emits 'listening'. So the
 * entrypoint emits it once, before any connection. Whether the sweep started is read back from
 * the server's own symbols (Node 20-24: `http.server.connectionsCheckingInterval`); false when
 * this Node lays its server out otherwise, and the caller then says that those deadlines are off.
 */
export function trackConnections(server: http.Server): boolean {
  server.emit('listening');
  return Object.getOwnPropertySymbols(server).some(
    (s) => s.description === 'http.server.connectionsCheckingInterval',
  );
}
