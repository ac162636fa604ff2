/*
 * Retry: sends the request again when the upstream could not be reached,
 * before anything of a response went to the client. Each attempt calls the
 * rest of the chain again, so the load balancer picks a server afresh.
 *
 * How an attempt is observed: ctx.writer is replaced by an attempt writer.
 * When the first thing written answers a network failure (the proxy set
 * ctx.upstreamError before answering) and another attempt is allowed, the
 * attempt writer swallows it, clears ctx.upstreamError, waits the backoff and
 * calls next(ctx) again; anything else goes straight through and ends the
 * retrying. The last attempt gets the real writer. The status of that answer
 * is never looked at (issue 12 §4): the proxy's 502/504, or whatever an
 * errors page between here and the proxy rewrote it to, is retried alike, and
 * an upstream's own 502/504 (no ctx.upstreamError) is an answer, as in
 * Traefik, whose retry writer swallows whatever follows a failure as long as
 * nothing reached the upstream.
 *
 * Which failures are retried: a network failure before any byte of the
 * request was written upstream (refused, dial timeout, TLS failure), for
 * every method; once the request headers were written, none, whatever the
 * method, as Traefik does (its retry middleware watches httptrace's
 * WroteHeaders/WroteRequest; issue 11 item 9): the upstream may have acted on
 * a PUT or DELETE it read. The HTTP/1.1 client says which (requestWritten on
 * its errors); for errors of other transports that do not say, a failure
 * while connecting is retried for every method and any other only for
 * idempotent ones. Status-based retries (`status`, Traefik v3.7) are for
 * idempotent methods, unless retryNonIdempotentMethod.
 *
 * A request body is buffered into ctx.body (up to maxRequestBodyBytes, 2 MiB)
 * so that every attempt can send it; a body announced larger is streamed once
 * with retries off, and a chunked body that turns out larger is refused (413).
 *
 * Backoff is Traefik's: initialInterval, growing by 2^(1/(attempts-1)) per
 * attempt so the last wait is about twice the first, with ±50% jitter.
 */
import { ConfigElementError } from '../src/kernel/errors.js';
import { DIAL_TIMEOUT, upstreamRequestWritten } from '../src/proxy/errors.js';
import { sendStatus } from '../src/kernel/status.js';
import { readWholeBody } from '../src/kernel/body.js';
import { WriterWrapper } from '../src/kernel/writer.js';
import { requestHasBody, type RequestContext, type ResponseWriter } from '../src/kernel/context.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { retry as schema } from '../src/config/schema/middlewares/traffic.js';

const DEFAULT_MAX_BODY = 2 * 1024 * 1024;
const NON_IDEMPOTENT = new Set(['POST', 'PATCH', 'LOCK']);
/** transports that do not say whether the request was written: these failures happen before a byte left */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  DIAL_TIMEOUT,
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);

/** "500", "500-599" (both ends included) → [from, to] pairs */
export function parseStatusRanges(list: string[], path: string): [number, number][] {
  return list.map((item, i) => {
    const m = /^\s*(\d{3})\s*(?:-\s*(\d{3})\s*)?$/.exec(item);
    const from = m ? Number(m[1]) : NaN;
    const to = m ? Number(m[2] ?? m[1]) : NaN;
    if (!m || from < 100 || to > 599 || from > to)
      throw new ConfigElementError(
        `"${item}" is not a status or status range like 500-599`,
        `${path}[${i}]`,
      );
    return [from, to];
  });
}

interface Policy {
  attempts: number;
  initialMs: number;
  multiplier: number;
  timeoutMs: number;
  ranges: [number, number][] | null;
  retryNetwork: boolean;
  retryNonIdempotent: boolean;
}

/** One attempt's view of the response: holds back what would be retried, passes the rest. */
class AttemptWriter extends WriterWrapper {
  /** 0: nothing written yet, 1: passing through, 2: swallowed (a retry follows) */
  private mode = 0;
  private settled = false;

  constructor(
    out: ResponseWriter,
    private readonly ctx: RequestContext,
    private readonly shouldRetry: (status: number) => boolean,
    private readonly retry: () => void,
  ) {
    super(out);
  }

  override get headersSent(): boolean {
    return this.mode === 2 ? true : this.inner.headersSent;
  }

  override writeHead(status: number, statusText: string | undefined, headers: string[]): unknown {
    if (this.mode === 0 && this.shouldRetry(status)) {
      this.mode = 2;
      return this;
    }
    this.mode = 1;
    return this.inner.writeHead(status, statusText, headers);
  }

  override write(chunk: Buffer | string): boolean {
    return this.mode === 2 ? true : this.inner.write(chunk);
  }

  override end(chunk?: Buffer | string): unknown {
    if (this.mode === 2) {
      this.next();
      return this;
    }
    return this.inner.end(chunk);
  }

  override destroy(err?: Error): unknown {
    if (this.mode === 2) {
      // the swallowed response broke off: it was going to be replaced anyway
      this.next();
      return this;
    }
    return this.inner.destroy(err);
  }

  override on(event: 'drain', listener: () => void): unknown {
    if (this.mode !== 2) this.inner.on(event, listener);
    return this;
  }

  override once(event: 'drain', listener: () => void): unknown {
    if (this.mode !== 2) this.inner.once(event, listener);
    return this;
  }

  override addTrailers(trailers: string[]): void {
    // a swallowed response's trailers go with it
    if (this.mode !== 2) super.addTrailers(trailers);
  }

  private next(): void {
    if (this.settled) return;
    this.settled = true;
    this.ctx.upstreamError = undefined;
    this.retry();
  }
}

function run(
  ctx: RequestContext,
  next: (ctx: RequestContext) => void,
  p: Policy,
  idempotent: boolean,
): void {
  const out = ctx.writer;
  const started = performance.now();
  let attempt = 1;
  let interval = p.initialMs;

  const shouldRetry = (status: number): boolean => {
    if (p.timeoutMs > 0 && performance.now() - started >= p.timeoutMs) return false;
    const err = ctx.upstreamError;
    // the explicit signal: the proxy marked this attempt as failed at the network level
    if (err !== undefined) {
      if (!p.retryNetwork) return false;
      const written = upstreamRequestWritten(err);
      if (written !== undefined) return !written;
      const code = (err as { code?: string }).code;
      return (code !== undefined && CONNECT_CODES.has(code)) || idempotent;
    }
    if (p.ranges === null || !idempotent) return false;
    for (const [from, to] of p.ranges) if (status >= from && status <= to) return true;
    return false;
  };

  const backoff = (): number => {
    if (interval <= 0) return 0;
    const wait = interval * (0.5 + Math.random());
    interval = Math.min(interval * p.multiplier, 60_000);
    return wait;
  };

  const tryOnce = (): void => {
    if (ctx.clientGone || out.destroyed) return;
    if (attempt >= p.attempts) {
      ctx.writer = out;
      next(ctx);
      return;
    }
    ctx.writer = new AttemptWriter(out, ctx, shouldRetry, () => {
      attempt++;
      ctx.retryAttempts++;
      const wait = backoff();
      // never re-enter the chain from inside the failing attempt's callback
      if (wait > 0) setTimeout(tryOnce, wait);
      else setImmediate(tryOnce);
    });
    next(ctx);
  };
  tryOnce();
}

export const retry: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw) {
    const o = decodeOptions(schema.options, raw);
    const ranges =
      o.status !== undefined && o.status.length > 0 ? parseStatusRanges(o.status, 'status') : null;
    if (o.disableRetryOnNetworkError === true && ranges === null)
      throw new ConfigElementError(
        'needs status: with network retries disabled there is nothing to retry on',
        'disableRetryOnNetworkError',
      );
    const p: Policy = {
      attempts: o.attempts,
      initialMs: o.initialInterval ?? 0,
      multiplier: o.attempts > 1 ? 2 ** (1 / (o.attempts - 1)) : 1,
      timeoutMs: o.timeout ?? 0,
      ranges,
      retryNetwork: o.disableRetryOnNetworkError !== true,
      retryNonIdempotent: o.retryNonIdempotentMethod === true,
    };
    const maxBody = o.maxRequestBodyBytes ?? DEFAULT_MAX_BODY;

    return (next) => (ctx) => {
      if (p.attempts === 1 || ctx.upgrade !== undefined) {
        next(ctx);
        return;
      }
      const idempotent = p.retryNonIdempotent || !NON_IDEMPOTENT.has(ctx.method);
      const hasBody = ctx.body === undefined && requestHasBody(ctx.req);
      if (!hasBody) {
        run(ctx, next, p, idempotent);
        return;
      }
      const cl = ctx.req.headers['content-length'];
      if (maxBody >= 0 && cl !== undefined && Number(cl) > maxBody) {
        // too large to keep: sent once, as it streams
        next(ctx);
        return;
      }
      readWholeBody(ctx.req, maxBody, {
        done: (body) => {
          if (ctx.clientGone) return;
          ctx.body = body;
          run(ctx, next, p, idempotent);
        },
        tooLarge: () => {
          // discard the rest; the connection is not reused after the answer
          ctx.req.resume();
          ctx.res.shouldKeepAlive = false;
          sendStatus(ctx.writer, 413);
        },
        // the client went away mid-body: nothing to retry, nobody to answer
        gone: () => {},
      });
    };
  },
};
