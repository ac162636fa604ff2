/*
 * The per-request path of an entrypoint: the admission checks, the
 * RequestContext, trust, deadlines, then the router the table in force finds
 * (entrypoint.ts builds the servers that call it).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { EntryPointConfig } from '../config/static-types.js';
import { findRoute, type RoutingTable } from '../table/table.js';
import { sendStatus } from '../kernel/status.js';
import type { AccessLogger } from '../observability/access-log.js';
import type { RequestMetrics } from '../observability/metrics.js';
import { canonicalHost, RequestContext } from '../kernel/context.js';
import { BadPathError, normaliseTarget, type PathPolicy } from './path.js';
import { cleanArrivalHeaders } from '../proxy/headers.js';
import {
  acceptableHost,
  dropForwardedHeaders,
  framingProblem,
  splitAbsolute,
} from './admission.js';
import { readDeadline } from './http2.js';
import type { InFlight } from './drain.js';

export interface TableHolder {
  current: RoutingTable;
}

const kTrusted = Symbol('portico.trusted');
type TrustedSocket = Socket & { [kTrusted]?: boolean };
/** set on a connection once a refusal with "connection: close" was sent on it */
const kClosing = Symbol('portico.closing');
type ClosingSocket = Socket & { [kClosing]?: boolean };

export type Handle = (
  req: IncomingMessage,
  res: ServerResponse,
  upgrade?: { socket: Duplex; head: Buffer },
) => void;

export interface HandlerDeps {
  ep: EntryPointConfig;
  holder: TableHolder;
  log: Logger;
  scheme: 'http' | 'https';
  tlsTerminating: boolean;
  accessLog: AccessLogger | undefined;
  metrics: RequestMetrics | undefined;
  isTrusted: (ip: string) => boolean;
  inFlight: InFlight;
}

/**
 * The per-request path: admission checks, the RequestContext, trust, deadlines,
 * then the router the table in force finds. Every refusal before routing closes
 * the connection, as framing may be in doubt.
 */
export function createRequestHandler(d: HandlerDeps): Handle {
  const { ep, holder, log, scheme, tlsTerminating, accessLog, metrics, isTrusted, inFlight } = d;
  const name = ep.name;
  const policy: PathPolicy = { sanitize: ep.http.sanitizePath, encoded: ep.http.encodedCharacters };
  const writeTimeoutMs = ep.transport.respondingTimeouts.writeTimeoutMs;
  const readTimeoutMs = ep.transport.respondingTimeouts.readTimeoutMs;

  const trustedFor = (socket: TrustedSocket, ip: string): boolean => {
    let v = socket[kTrusted];
    if (v === undefined) socket[kTrusted] = v = isTrusted(ip);
    return v;
  };

  const finish = (ctx: RequestContext): void => {
    inFlight.count--;
    // Http2ServerResponse has writableEnded but no writableFinished
    if (!(ctx.res.writableFinished ?? ctx.res.writableEnded)) {
      ctx.clientGone = true;
      const abort = ctx.abortUpstream;
      if (abort !== undefined) {
        ctx.abortUpstream = undefined;
        abort(new Error('client closed the connection'));
      }
    }
    // one clock read for both (performance.now() costs ~0.2 us on these VMs)
    if (accessLog !== undefined || metrics !== undefined) ctx.endTime = performance.now();
    if (accessLog !== undefined) accessLog(ctx);
    if (metrics !== undefined) metrics.onRequestEnd(ctx);
    inFlight.settle();
  };

  /** a refusal before routing: the connection is closed after it, as framing may be in doubt */
  const refuse = (req: IncomingMessage, res: ServerResponse, status: number): void => {
    res.shouldKeepAlive = false;
    // HTTP/2 closes only the stream, and its socket is the whole session's
    if (req.httpVersionMajor === 1) (req.socket as ClosingSocket)[kClosing] = true;
    sendStatus(res, status);
  };

  /** The router the table finds, or 404; a throw is logged and answered 500. */
  const dispatch = (table: RoutingTable, ctx: RequestContext, res: ServerResponse): void => {
    // a throw here would be an uncaught exception in a server listener: the whole process would go
    try {
      const routes = (tlsTerminating ? table.tlsEntryPoints : table.entryPoints).get(name);
      const route = routes === undefined ? undefined : findRoute(routes, ctx);
      if (route === undefined) {
        sendStatus(res, 404);
        return;
      }
      ctx.routerName = route.name;
      route.handler(ctx);
    } catch (err) {
      log.error({ err, router: ctx.routerName }, 'request handler failed');
      try {
        sendStatus(res, 500);
      } catch {
        res.destroy();
      }
    }
  };

  return (req, res, upgrade) => {
    // RFC 9112 §9.6: after a response with "close", no further request on that connection is
    // processed. Node has already parsed (and emits) requests pipelined behind a refused one: they
    // are left unanswered, and the connection closes once the refusal is out.
    if ((req.socket as ClosingSocket | null)?.[kClosing] === true) return;
    const table = holder.current;
    // HTTP/2 reaches this handler only from its own servers (ALPN on TLS, the h2c preface in clear)
    const problem = framingProblem(req, true);
    if (problem !== 0) {
      refuse(req, res, problem);
      return;
    }
    // HTTP/2 carries the host in :authority (browsers send no Host header)
    let rawHost = req.headers.host ?? (req.headers[':authority'] as string | undefined) ?? '';
    let url = req.url ?? '/';
    if (url.charCodeAt(0) !== 0x2f) {
      const abs = splitAbsolute(url);
      if (abs === null) {
        refuse(req, res, 400);
        return;
      }
      rawHost = abs.host;
      url = abs.target;
    }
    if (!acceptableHost(rawHost, req.httpVersionMajor)) {
      refuse(req, res, 400);
      return;
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
    const ctx = new RequestContext(
      req,
      res,
      name,
      scheme,
      canonicalHost(rawHost),
      rawHost,
      path,
      query,
      upgrade,
    );
    if (tlsTerminating && table.tls?.hasHostOptions(name) === true) {
      // domain fronting: the Host's TLS options (e.g. client certificates) must be the ones negotiated
      const sni = (req.socket as tls.TLSSocket).servername;
      if (table.tls.misdirected(name, typeof sni === 'string' ? sni : undefined, ctx.host)) {
        sendStatus(res, 421);
        return;
      }
    }
    ctx.trusted = trustedFor(req.socket as TrustedSocket, ctx.clientIp);
    if (!ctx.trusted) dropForwardedHeaders(req.headers);
    // before routing and every middleware: what the client's Connection header names, and
    // underscore spellings of identity headers (issue 11 items 5 and 9), are gone from here on
    cleanArrivalHeaders(req);
    inFlight.count++;
    res.once('close', () => finish(ctx));
    if (readTimeoutMs > 0 && req.httpVersionMajor === 2) readDeadline(ctx, readTimeoutMs);
    if (inFlight.draining) res.shouldKeepAlive = false;
    if (writeTimeoutMs > 0 && upgrade === undefined) {
      // Go's WriteTimeout: the whole response must be written within this, or the connection is cut
      const timer = setTimeout(() => {
        if (!(res.writableFinished ?? res.writableEnded)) res.destroy();
      }, writeTimeoutMs);
      timer.unref();
      res.once('close', () => clearTimeout(timer));
    }
    dispatch(table, ctx, res);
  };
}
