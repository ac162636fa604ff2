/*
 * Errors: Traefik's errors middleware (custom error pages). When the
 * response coming back through this point of the chain has a status in
 * `status` (an upstream's 503, basicAuth's 401 further down the chain...),
 * its head and body are dropped and a GET for `query` is sent to the error
 * `service`; the client gets that page's headers and body with the original
 * status (or its statusRewrites replacement).
 *
 * How: ctx.writer is wrapped by a catcher that looks at the status at
 * writeHead. A caught response is discarded as it arrives (the page is
 * fetched at once, without waiting for the discarded body); anything else
 * passes through untouched and unbuffered. The page request runs in a
 * RequestContext of its own (GET, no body, the client's headers or those
 * listed in errorRequestHeaders), so the original request is left as it was.
 */
import { STATUS_CODES } from 'node:http';
import type { Logger } from 'pino';
import { ConfigElementError } from '../src/kernel/errors.js';
import { sendStatus } from '../src/kernel/status.js';
import { WriterWrapper } from '../src/kernel/writer.js';
import { RequestContext, type Handler, type ResponseWriter } from '../src/kernel/context.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { errors as schema } from '../src/config/schema/middlewares/response.js';

type Range = [from: number, to: number];

function parseRange(text: string, option: string): Range {
  const m = /^\s*(\d{3})\s*(?:-\s*(\d{3})\s*)?$/.exec(text);
  if (m === null)
    throw new ConfigElementError(`"${text}" is not a status code or a range like 500-599`, option);
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (from < 100 || to > 599 || from > to)
    throw new ConfigElementError(`"${text}" is not a valid status range (100-599)`, option);
  return [from, to];
}

/** Headers never copied to the page request: it is a GET without a body. */
const BODY_HEADERS = new Set(['content-length', 'transfer-encoding', 'expect', 'content-type']);

/** Go's url.QueryEscape: everything but unreserved characters escaped, space as +. */
function queryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (ch) => '%' + ch.charCodeAt(0).toString(16).toUpperCase())
    .replace(/%20/g, '+');
}

interface Compiled {
  /** status → caught, for 100..599: one array lookup per response */
  caught: Uint8Array;
  /** status → status sent to the client (0: unchanged) */
  rewrite: Uint16Array;
  query: string;
  hasUrl: boolean;
  /** lower-cased names to forward, or null for all */
  forward: Set<string> | null;
  handle: Handler;
}

/** Forwards the error page to the client with the caught (or rewritten) status. */
class PageWriter extends WriterWrapper {
  private headWritten = false;
  constructor(
    out: ResponseWriter,
    private readonly status: number,
  ) {
    super(out);
  }
  override get headersSent(): boolean {
    return this.headWritten;
  }
  override writeHead(status: number, _statusText: string | undefined, headers: string[]): unknown {
    if (status < 200) return this;
    this.headWritten = true;
    return this.inner.writeHead(this.status, STATUS_CODES[this.status], headers);
  }
}

/** Sits in front of the rest of the chain: passes responses through or catches them. */
class Catcher extends WriterWrapper {
  private headWritten = false;
  private caught = false;

  constructor(
    out: ResponseWriter,
    private readonly c: Compiled,
    private readonly ctx: RequestContext,
    private readonly path: string,
    private readonly rawQuery: string,
    private readonly log: Logger,
  ) {
    super(out);
  }

  override get headersSent(): boolean {
    return this.headWritten;
  }

  override writeHead(status: number, statusText: string | undefined, headers: string[]): unknown {
    if (status < 200) return this.inner.writeHead(status, statusText, headers);
    if (this.headWritten) return this;
    this.headWritten = true;
    if (status <= 599 && this.c.caught[status] === 1) {
      this.caught = true;
      try {
        this.fetchPage(status);
      } catch (err) {
        // never leave the client hanging: a bug here would otherwise vanish inside the proxy's callback
        this.log.error({ err }, 'error page request failed');
        sendStatus(this.inner, this.c.rewrite[status] || status);
      }
      return this;
    }
    return this.inner.writeHead(status, statusText, headers);
  }

  override write(chunk: Buffer | string): boolean {
    return this.caught ? true : this.inner.write(chunk);
  }
  override end(chunk?: Buffer | string): unknown {
    return this.caught ? this : this.inner.end(chunk);
  }
  override destroy(err?: Error): unknown {
    // the caught response failing mid-body does not matter: the page is what the client gets
    return this.caught ? this : this.inner.destroy(err);
  }
  override addTrailers(trailers: string[]): void {
    // a caught response's trailers belong to the response the page replaces
    if (!this.caught) super.addTrailers(trailers);
  }

  private fetchPage(original: number): void {
    const c = this.c;
    const ctx = this.ctx;
    const status = c.rewrite[original] || original;
    let target = c.query
      .replaceAll('{status}', String(status))
      .replaceAll('{originalStatus}', String(original));
    if (c.hasUrl) {
      const url = this.rawQuery === '' ? this.path : `${this.path}?${this.rawQuery}`;
      target = target.replaceAll('{url}', queryEscape(url));
    }
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);
    const rawQuery = q === -1 ? '' : target.slice(q + 1);

    const headers: Record<string, string | string[] | undefined> = {};
    const src = ctx.req.headers;
    for (const name in src) {
      if (BODY_HEADERS.has(name)) continue;
      if (c.forward !== null && !c.forward.has(name)) continue;
      headers[name] = src[name];
    }
    // the page request: the client's connection and host, a GET of its own
    // (the client's IncomingMessage may be finished and have let go of its socket: give the address)
    const req = Object.create(ctx.req, {
      method: { value: 'GET', enumerable: true },
      url: { value: target, enumerable: true },
      headers: { value: headers, enumerable: true, writable: true },
      socket: { value: { remoteAddress: ctx.clientIp, remotePort: ctx.clientPort } },
    }) as typeof ctx.req;
    const page = new RequestContext(
      req,
      ctx.res,
      ctx.entryPoint,
      ctx.scheme,
      ctx.host,
      ctx.rawHost,
      path,
      rawQuery,
    );
    page.trusted = ctx.trusted;
    page.routerName = ctx.routerName;
    page.writer = new PageWriter(this.inner, status);
    // the entrypoint aborts ctx's upstream when the client leaves; do the same for the page's
    ctx.res.once('close', () => {
      if (ctx.res.writableFinished) return;
      page.clientGone = true;
      const abort = page.abortUpstream;
      page.abortUpstream = undefined;
      abort?.(new Error('client closed the connection'));
    });
    c.handle(page);
  }
}

export const errors: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw, build) {
    const o = decodeOptions(schema.options, raw);
    if (o.status.length === 0)
      throw new ConfigElementError('must list at least one status', 'status');
    const caught = new Uint8Array(600);
    for (const [i, s] of o.status.entries()) {
      const [from, to] = parseRange(s, `status[${i}]`);
      for (let code = from; code <= to; code++) caught[code] = 1;
    }
    // first listed rewrite wins where ranges overlap
    const rewrite = new Uint16Array(600);
    for (const [key, value] of Object.entries(o.statusRewrites ?? {})) {
      const [from, to] = parseRange(key, `statusRewrites.${key}`);
      const n = Number(value);
      if (!/^\s*\d{3}\s*$/.test(value) || n < 100 || n > 599)
        throw new ConfigElementError(
          `must be a status code (100-599), got ${JSON.stringify(value)}`,
          `statusRewrites.${key}`,
        );
      for (let code = from; code <= to; code++) if (rewrite[code] === 0) rewrite[code] = n;
    }
    if (o.service.trim() === '') throw new ConfigElementError('must name a service', 'service');
    let handle: Handler;
    try {
      handle = build.service(o.service).handle;
    } catch (err) {
      throw new ConfigElementError((err as Error).message, 'service', { cause: err });
    }
    const query = o.query === undefined || o.query === '' ? '/' : '/' + o.query.replace(/^\/+/, '');
    const c: Compiled = {
      caught,
      rewrite,
      query,
      hasUrl: query.includes('{url}'),
      forward:
        o.errorRequestHeaders === undefined
          ? null
          : new Set(o.errorRequestHeaders.map((h) => h.toLowerCase())),
      handle,
    };
    return (next) => (ctx) => {
      // the URL as this middleware received it, for {url}
      ctx.writer = new Catcher(ctx.writer, c, ctx, ctx.path, ctx.rawQuery, build.logger);
      next(ctx);
    };
  },
};
