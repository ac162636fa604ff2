/*
 * WebSocket (and any HTTP/1.1 Upgrade) pass-through with http-proxy-3, the
 * chosen library for this part: it handles the 101 handshake and pipes both
 * sockets. Headers are computed by Portico (forwarded family, hop-by-hop) and
 * handed over ready, so http-proxy-3 adds nothing of its own (xfwd off).
 */
import { createProxyServer } from 'http-proxy-3';
import type { Socket } from 'node:net';
import type { RequestContext } from '../kernel/context.js';
import type { ForwardOptions, UpstreamServer } from './forward.js';
import { upstreamHeaders } from './headers.js';
import { statusForUpstreamError } from './errors.js';
import { STATUS_CODES } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isIP } from 'node:net';

function serverHostName(origin: string): string {
  const host = new URL(origin).hostname;
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  return isIP(bare) === 0 ? bare : '';
}

/** One agent per serversTransport serverName; sockets of upgrades are detached from it anyway. */
const sniAgents = new Map<string, HttpsAgent>();
function sniAgent(servername: string): HttpsAgent {
  let agent = sniAgents.get(servername);
  if (agent === undefined) {
    if (sniAgents.size >= 256) sniAgents.clear();
    agent = new HttpsAgent({ servername, keepAlive: false });
    sniAgents.set(servername, agent);
  }
  return agent;
}

const proxy = createProxyServer({ ws: true, xfwd: false, prependPath: true, changeOrigin: false });
// errors are answered per call in the callback; this keeps an unhandled 'error' event from crashing
proxy.on('error', () => undefined);

function rejectUpgrade(socket: Socket, status: number): void {
  if (socket.destroyed) return;
  const text = STATUS_CODES[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${text.length + 1}\r\n\r\n${text}\n`,
  );
}

export interface WebSocketTls {
  rejectUnauthorized?: boolean;
  ca?: string | Buffer | (string | Buffer)[];
  servername?: string;
}

export function forwardWebSocket(
  ctx: RequestContext,
  server: UpstreamServer,
  opts: ForwardOptions,
  preservePath = false,
  tls: WebSocketTls = {},
): void {
  const upgrade = ctx.upgrade!;
  ctx.upstreamUrl = server.url;
  const flat = upstreamHeaders(ctx, { ...opts, serverHost: server.hostPort }, true);
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i]!;
    const prev = headers[k];
    headers[k] = prev === undefined ? flat[i + 1]! : ([] as string[]).concat(prev, flat[i + 1]!);
  }
  const req = ctx.req;
  req.headers = headers as typeof req.headers;
  req.url = preservePath && server.basePath !== '' ? server.basePath + ctx.target() : ctx.target();
  const socket = upgrade.socket as Socket;
  // for the access log: the response object on an upgraded socket never writes a status line itself
  ctx.res.statusCode = 101;
  ctx.originStatus = 101;
  // the serversTransport's TLS settings apply to upgrades as to every other request
  const target = server.origin.startsWith('https:')
    ? {
        target: server.origin,
        secure: tls.rejectUnauthorized !== false,
        ...(tls.ca
          ? { ca: Array.isArray(tls.ca) ? tls.ca.map(String).join('\n') : String(tls.ca) }
          : {}),
        // http-proxy-3 copies no servername from its target, and Node would take the SNI name
        // from the Host header (the client's, with passHostHeader): an agent's options win over both.
        // As Go's transport: serverName, else the URL's host name (no SNI for an IP, RFC 6066 §3)
        agent: sniAgent(tls.servername ?? serverHostName(server.origin)),
      }
    : { target: server.origin };
  proxy.ws(req, socket, upgrade.head, target, (err: Error) => {
    ctx.upstreamError = err;
    ctx.originStatus = 0;
    ctx.res.statusCode = statusForUpstreamError(err);
    opts.observer?.failure(server, err);
    rejectUpgrade(socket, statusForUpstreamError(err));
  });
  opts.observer?.success(server, 101);
}
