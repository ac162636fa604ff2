/*
 * The access log: one line per request with Traefik's field names, JSON or
 * Common Log Format. Lines are built as strings and handed to an async
 * buffered writer (sonic-boom through pino.destination), so logging costs a
 * string concatenation on the request path, not a serialisation library.
 */
import { pino } from 'pino';
import type { RequestContext } from '../server/context.js';

export interface AccessLogOptions {
  filePath?: string | undefined;
  format: 'json' | 'common';
  bufferingSize: number;
}

export type AccessLogger = ((ctx: RequestContext) => void) & { flush(): void };

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let clfSecond = 0;
let clfDate = '';

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

/** CLF user field: no spaces or quotes may break the line format */
function quoteUser(user: string): string {
  return /^[\x21-\x7e]+$/.test(user) && !user.includes('"') ? user : JSON.stringify(user);
}

function quote(s: string | undefined): string {
  return s === undefined || s === '' ? '"-"' : JSON.stringify(s);
}

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
  // Traefik's CLF carries the number of requests received since start
  let requestCount = 0;
  const log = ((ctx: RequestContext) => {
    const now = Date.now();
    const durationNs = Math.round((performance.now() - ctx.startTime) * 1e6);
    const status = ctx.res.statusCode;
    const req = ctx.req;
    const proto = `HTTP/${req.httpVersion}`;
    const size = ctx.res.getHeader('content-length');
    requestCount++;
    if (json) {
      dest.write(
        `{"ClientAddr":${JSON.stringify(`${ctx.clientIp}:${ctx.clientPort}`)},"ClientHost":${JSON.stringify(ctx.clientIp)},"ClientPort":"${ctx.clientPort}"` +
          (ctx.user !== '' ? `,"ClientUsername":${JSON.stringify(ctx.user)}` : '') +
          `,"DownstreamStatus":${status},"DownstreamContentSize":${ctx.bytesOut}` +
          `,"Duration":${durationNs},"OriginStatus":${ctx.originStatus}` +
          `,"RequestHost":${JSON.stringify(ctx.host)},"RequestMethod":${JSON.stringify(ctx.method)},"RequestPath":${JSON.stringify(ctx.target())}` +
          `,"RequestProtocol":"${proto}","RequestScheme":"${ctx.scheme}","RequestContentSize":${Number(req.headers['content-length'] ?? 0) || 0}` +
          `,"RouterName":${JSON.stringify(ctx.routerName)},"ServiceName":${JSON.stringify(ctx.serviceName)},"ServiceURL":${JSON.stringify(ctx.upstreamUrl)}` +
          `,"entryPointName":"${ctx.entryPoint}","StartUTC":"${new Date(now - durationNs / 1e6).toISOString()}"` +
          (ctx.upstreamError ? `,"OriginError":${JSON.stringify(ctx.upstreamError.message)}` : '') +
          `,"level":"info","msg":"","time":"${new Date(now).toISOString()}"}\n`,
      );
    } else {
      // Traefik's CLF: common log format plus request count, router, service URL and duration in ms
      dest.write(
        `${ctx.clientIp} - ${ctx.user === '' ? '-' : quoteUser(ctx.user)} [${clfTime(now)}] "${ctx.method} ${ctx.target()} ${proto}" ${status} ${size ?? ctx.bytesOut} ` +
          `${quote(req.headers.referer)} ${quote(req.headers['user-agent'])} ${requestCount} ${quote(ctx.routerName)} ${quote(ctx.upstreamUrl)} ${Math.round(durationNs / 1e6)}ms\n`,
      );
    }
  }) as AccessLogger;
  log.flush = () => {
    try {
      dest.flushSync();
    } catch {
      // nothing buffered, or the destination is not ready yet
    }
  };
  return log;
}
