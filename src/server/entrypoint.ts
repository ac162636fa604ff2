/*
 * One entrypoint: a Node HTTP server with strict parsing, header limits and
 * slow-client timeouts, turning each request into a RequestContext and
 * handing it to the current routing table. The table is read once per
 * request, so a request finishes on the table it started with.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { BlockList, isIPv6, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { EntryPointConfig } from '../config/static-types.js';
import { findRoute, type RoutingTable } from '../routing/table.js';
import { sendStatus } from '../proxy/errors.js';
import type { AccessLogger } from '../observability/access-log.js';
import { canonicalHost, RequestContext } from './context.js';
import { BadPathError, normaliseTarget, type PathPolicy } from './path.js';

export interface TableHolder {
  current: RoutingTable;
}

export interface EntryPointServer {
  name: string;
  server: http.Server;
  listen(): Promise<{ host: string; port: number }>;
  /** stop accepting, let in-flight requests finish up to graceMs, then cut what is left */
  shutdown(graceMs: number): Promise<void>;
  inFlight(): number;
  /** whether a client address may set X-Forwarded-* */
  isTrusted(ip: string): boolean;
}

export function createTrustCheck(ep: EntryPointConfig): (ip: string) => boolean {
  if (ep.forwardedHeaders.insecure) return () => true;
  if (ep.forwardedHeaders.trustedIPs.length === 0) return () => false;
  const list = new BlockList();
  for (const entry of ep.forwardedHeaders.trustedIPs) {
    const [addr, prefix] = entry.split('/');
    const type = isIPv6(addr!) ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(addr!, type);
    else list.addSubnet(addr!, Number(prefix), type);
  }
  return (ip) => {
    try {
      return list.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4');
    } catch {
      return false;
    }
  };
}

const kTrusted = Symbol('portico.trusted');
type TrustedSocket = Socket & { [kTrusted]?: boolean };

/** Splits an absolute-form target (`GET http://host/path`): RFC 9112 §3.2.2 says its authority wins over Host. */
function splitAbsolute(url: string): { host: string; target: string } | null {
  const m = /^https?:\/\/([^/?#]*)(.*)$/i.exec(url);
  if (m === null) return null;
  const rest = m[2] ?? '';
  return { host: m[1] ?? '', target: rest === '' ? '/' : rest.startsWith('?') ? '/' + rest : rest };
}

/**
 * An untrusted client's X-Forwarded-* (and X-Real-Ip, Forwarded) are removed
 * before anything reads them, so no middleware or upstream can be fooled by a
 * forged value (X-Forwarded-Prefix, X-Forwarded-User...), as Traefik does.
 */
function dropForwardedHeaders(headers: IncomingMessage['headers']): void {
  for (const name in headers) {
    if (name.charCodeAt(0) !== 0x78 && name.charCodeAt(0) !== 0x66) continue; // 'x' or 'f'
    if (name.startsWith('x-forwarded-') || name === 'x-real-ip' || name === 'forwarded') delete headers[name];
  }
}

export function createEntryPoint(opts: {
  config: EntryPointConfig;
  holder: TableHolder;
  logger: Logger;
  accessLog?: AccessLogger | undefined;
  scheme?: 'http' | 'https';
}): EntryPointServer {
  const ep = opts.config;
  const name = ep.name;
  const log = opts.logger.child({ entryPoint: name });
  const scheme = opts.scheme ?? 'http';
  const accessLog = opts.accessLog;
  const isTrusted = createTrustCheck(ep);
  const policy: PathPolicy = { sanitize: ep.http.sanitizePath, encoded: ep.http.encodedCharacters };
  const t = ep.transport.respondingTimeouts;
  let inFlight = 0;
  let draining = false;
  let drained: (() => void) | null = null;

  const server = http.createServer({
    // never the lenient parser: request smuggling hides in what it accepts
    insecureHTTPParser: false,
    maxHeaderSize: ep.http.maxHeaderBytes,
    requestTimeout: t.readTimeoutMs,
    headersTimeout: t.readHeaderTimeoutMs,
    keepAliveTimeout: t.idleTimeoutMs,
    requireHostHeader: true,
    joinDuplicateHeaders: false,
    noDelay: true,
  });
  // connectionsCheckingInterval enforces the two timeouts above; a short one catches slow clients sooner
  server.maxRequestsPerSocket = ep.transport.keepAliveMaxRequests > 0 ? ep.transport.keepAliveMaxRequests : 0;
  server.timeout = 0;

  const trustedFor = (socket: TrustedSocket, ip: string): boolean => {
    let v = socket[kTrusted];
    if (v === undefined) socket[kTrusted] = v = isTrusted(ip);
    return v;
  };

  const finish = (ctx: RequestContext): void => {
    inFlight--;
    if (!ctx.res.writableFinished) {
      ctx.clientGone = true;
      const abort = ctx.abortUpstream;
      if (abort !== undefined) {
        ctx.abortUpstream = undefined;
        abort(new Error('client closed the connection'));
      }
    }
    if (accessLog !== undefined) accessLog(ctx);
    if (draining && inFlight === 0) drained?.();
  };

  const handle = (req: IncomingMessage, res: ServerResponse, upgrade?: { socket: Duplex; head: Buffer }): void => {
    const table = opts.holder.current;
    let rawHost = req.headers.host ?? '';
    let url = req.url ?? '/';
    if (url.charCodeAt(0) !== 0x2f) {
      const abs = splitAbsolute(url);
      if (abs === null) {
        sendStatus(res, 400);
        return;
      }
      rawHost = abs.host;
      url = abs.target;
    }
    let path: string;
    let query: string;
    try {
      const split = normaliseTarget(url, policy);
      path = split.path;
      query = split.query;
    } catch (err) {
      if (err instanceof BadPathError) log.debug({ url, reason: err.message }, 'bad request path');
      sendStatus(res, 400);
      return;
    }
    const ctx = new RequestContext(req, res, name, scheme, canonicalHost(rawHost), rawHost, path, query, upgrade);
    ctx.trusted = trustedFor(req.socket as TrustedSocket, ctx.clientIp);
    if (!ctx.trusted) dropForwardedHeaders(req.headers);
    inFlight++;
    res.once('close', () => finish(ctx));
    if (draining) res.shouldKeepAlive = false;
    const routes = table.entryPoints.get(name);
    const route = routes === undefined ? undefined : findRoute(routes, ctx);
    if (route === undefined) {
      sendStatus(res, 404);
      return;
    }
    ctx.routerName = route.name;
    try {
      route.handler(ctx);
    } catch (err) {
      log.error({ err, router: route.name }, 'request handler failed');
      sendStatus(res, 500);
    }
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => handle(req, res));

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    // a response object on the raw socket lets middlewares answer (401, 403, 404) as for any request
    const res = new http.ServerResponse(req);
    res.assignSocket(socket as Socket);
    res.shouldKeepAlive = false;
    res.once('finish', () => {
      if (res.statusCode !== 101) socket.end();
    });
    handle(req, res, { socket, head });
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    log.debug({ err: err.message, code: err.code }, 'client error');
    if (!socket.writable || (err as { bytesParsed?: number }).bytesParsed === undefined) {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const text = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
    socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });

  server.on('connection', (socket: Socket) => {
    socket.on('error', () => undefined);
  });

  return {
    name,
    server,
    isTrusted,
    inFlight: () => inFlight,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port: ep.port, host: ep.host === '' ? undefined : ep.host }, () => {
          server.off('error', reject);
          const a = server.address();
          resolve(typeof a === 'object' && a !== null ? { host: a.address, port: a.port } : { host: ep.host, port: ep.port });
        });
      }),
    shutdown: (graceMs) =>
      new Promise<void>((resolve) => {
        draining = true;
        server.close();
        server.closeIdleConnections();
        const done = (): void => {
          clearTimeout(timer);
          server.closeAllConnections();
          resolve();
        };
        const timer = setTimeout(done, graceMs);
        timer.unref();
        if (inFlight === 0) done();
        else drained = done;
      }),
  };
}
