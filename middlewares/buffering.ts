/*
 * Buffering: Traefik's buffering middleware (oxy's buffer). The request body
 * is read whole into ctx.body before the request goes on, so a body over
 * maxRequestBodyBytes is refused with 413 without the upstream seeing any of
 * it, and the buffered request can be sent again when retryExpression says so.
 * With maxResponseBodyBytes, the response is held whole too and sent with its
 * Content-Length, or replaced by a 500 when it grows past the limit.
 *
 * Differences from Traefik, on purpose:
 * - bodies are kept in memory only; memRequestBodyBytes/memResponseBodyBytes
 *   (Traefik's thresholds for spilling to disk) are validated and accepted,
 *   and the max* limits are what bound memory.
 * - the response is held only when maxResponseBodyBytes is set: holding an
 *   unbounded response in memory would trade streaming for nothing.
 * - retryExpression: the form `IsNetworkError() && Attempts() < N` (or <=, in
 *   either order) is supported; a network error is a failure to reach or read
 *   the upstream (ctx.upstreamError, set by the proxy before it answers),
 *   where oxy looks at a 502/504 status: an upstream's own 502/504 is not
 *   sent again, and the proxy's answer to a failure is, whatever status it
 *   ends up with (issue 12 §4).
 */
import { ConfigElementError } from '../src/kernel/errors.js';
import { sendStatus } from '../src/kernel/status.js';
import { readWholeBody } from '../src/kernel/body.js';
import { writeTrailers } from '../src/kernel/writer.js';
import {
  requestHasBody,
  type Handler,
  type RequestContext,
  type ResponseWriter,
} from '../src/kernel/context.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { buffering as schema } from '../src/config/schema/middlewares/response.js';
import { HeldResponse } from './held-response.js';

/** oxy's DefaultMaxRetryAttempts: retries stop after this many whatever the expression says */
const MAX_RETRIES = 10;

const RETRY_FORMS = [
  /^\s*IsNetworkError\(\)\s*&&\s*Attempts\(\)\s*(<=?)\s*(\d+)\s*$/,
  /^\s*Attempts\(\)\s*(<=?)\s*(\d+)\s*&&\s*IsNetworkError\(\)\s*$/,
];

/** The retry expression → how many attempts in all (1: no retry). */
function parseRetry(expr: string | undefined): number {
  if (expr === undefined || expr.trim() === '') return 1;
  for (const re of RETRY_FORMS) {
    const m = re.exec(expr);
    if (m === null) continue;
    const n = Number(m[2]);
    // Attempts() is 1 after the first try: "< N" allows N tries, "<= N" one more
    const total = m[1] === '<' ? n : n + 1;
    return Math.max(1, Math.min(total, MAX_RETRIES + 1));
  }
  throw new ConfigElementError(
    `unsupported expression ${JSON.stringify(expr)}; the supported form is "IsNetworkError() && Attempts() < N"`,
    'retryExpression',
  );
}

interface Compiled {
  maxRequest: number;
  maxResponse: number;
  attempts: number;
}

/** One request's retry bookkeeping. */
class Exchange {
  attempt = 0;
  private readonly path: string;
  private readonly rawQuery: string;
  private readonly hooks: number;

  constructor(
    readonly ctx: RequestContext,
    readonly c: Compiled,
    readonly client: ResponseWriter,
    readonly next: Handler,
  ) {
    // inner middlewares rewrite these per attempt (stripPrefix...): each attempt starts from here
    this.path = ctx.path;
    this.rawQuery = ctx.rawQuery;
    this.hooks = ctx.responseHeaderHooks?.length ?? 0;
  }

  run(): void {
    const ctx = this.ctx;
    if (this.attempt > 0) {
      if (ctx.clientGone || this.client.destroyed) return;
      ctx.path = this.path;
      ctx.rawQuery = this.rawQuery;
      if (ctx.responseHeaderHooks !== undefined) ctx.responseHeaderHooks.length = this.hooks;
      ctx.upstreamError = undefined;
    }
    this.attempt++;
    const canRetry = this.attempt < this.c.attempts;
    ctx.writer =
      canRetry || this.c.maxResponse > 0 ? new AttemptWriter(this, canRetry) : this.client;
    this.next(ctx);
  }
}

const enum Mode {
  Pending,
  Retrying,
  Hold,
  Pass,
  Overflow,
}

/**
 * The writer one attempt writes to: it swallows the answer to a network
 * failure (ctx.upstreamError, never the status) when another attempt is allowed, holds the response when its size
 * is limited, and passes everything else through.
 */
class AttemptWriter implements ResponseWriter {
  private mode = Mode.Pending;
  private headWritten = false;
  private readonly held = new HeldResponse();

  constructor(
    private readonly ex: Exchange,
    private readonly canRetry: boolean,
  ) {}

  get headersSent(): boolean {
    return this.headWritten;
  }
  get destroyed(): boolean {
    return this.ex.client.destroyed;
  }

  writeHead(status: number, statusText: string | undefined, headers: string[]): unknown {
    if (status < 200) return this.ex.client.writeHead(status, statusText, headers);
    this.headWritten = true;
    if (this.canRetry && this.ex.ctx.upstreamError !== undefined) {
      this.mode = Mode.Retrying;
      return this;
    }
    if (this.ex.c.maxResponse > 0) {
      this.mode = Mode.Hold;
      this.held.holdHead(status, statusText, headers);
      return this;
    }
    this.mode = Mode.Pass;
    return this.ex.client.writeHead(status, statusText, headers);
  }

  private hold(chunk: Buffer | string): void {
    this.held.add(chunk);
    if (this.held.bytes > this.ex.c.maxResponse) {
      // the rest of the body is read and dropped: aborting would count as an upstream failure
      this.mode = Mode.Overflow;
      this.held.drop();
      sendStatus(this.ex.client, 500);
    }
  }

  write(chunk: Buffer | string): boolean {
    switch (this.mode) {
      case Mode.Pass:
        return this.ex.client.write(chunk);
      case Mode.Hold:
        this.hold(chunk);
        return true;
      default:
        return true;
    }
  }

  end(chunk?: Buffer | string): unknown {
    switch (this.mode) {
      case Mode.Pass:
        return this.ex.client.end(chunk);
      case Mode.Retrying:
        // the failed attempt is finished: start the next one outside the proxy's callback
        setImmediate(() => this.ex.run());
        return this;
      case Mode.Hold: {
        if (chunk !== undefined && chunk.length > 0) this.hold(chunk);
        if (this.mode !== Mode.Hold) return this;
        return this.held.sendWithLength(this.ex.client, this.held.take());
      }
      case Mode.Pending:
        return this.ex.client.end(chunk);
      default:
        return this;
    }
  }

  destroy(err?: Error): unknown {
    if (this.mode === Mode.Retrying || this.mode === Mode.Overflow) return this;
    if (
      this.mode === Mode.Hold &&
      this.canRetry &&
      this.ex.ctx.upstreamError !== undefined &&
      !this.ex.client.destroyed
    ) {
      // the upstream failed mid-body: nothing reached the client yet, so this is retryable too
      this.mode = Mode.Retrying;
      this.held.drop();
      setImmediate(() => this.ex.run());
      return this;
    }
    this.held.drop();
    return this.ex.client.destroy(err);
  }

  once(event: 'drain', listener: () => void): unknown {
    return this.ex.client.once(event, listener);
  }
  on(event: 'drain', listener: () => void): unknown {
    return this.ex.client.on(event, listener);
  }
  addTrailers(trailers: string[]): void {
    // a held response goes out with a Content-Length, where HTTP/1.1 has no place for trailers;
    // a swallowed attempt's go with it
    if (this.mode === Mode.Pass || this.mode === Mode.Pending)
      writeTrailers(this.ex.client, trailers);
  }
}

function tooLarge(ctx: RequestContext): void {
  // the rest of the body is not read: the connection cannot be reused
  // (shouldKeepAlive rather than a Connection header, which HTTP/2 forbids)
  ctx.res.shouldKeepAlive = false;
  sendStatus(ctx.writer, 413);
}

/** Reads the request body into ctx.body, then calls done; answers 413 itself when it is too large. */
function readBody(ctx: RequestContext, max: number, done: () => void): void {
  const h = ctx.req.headers;
  const cl = h['content-length'];
  if (cl !== undefined) {
    const n = Number(cl);
    if (max > 0 && n > max) {
      tooLarge(ctx);
      return;
    }
    if (n === 0) {
      done();
      return;
    }
  } else if (!requestHasBody(ctx.req)) {
    done(); // no body at all
    return;
  }
  readWholeBody(ctx.req, max > 0 ? max : -1, {
    done: (body) => {
      ctx.body = body;
      // the body now goes out as one buffer with a known length
      delete h['transfer-encoding'];
      h['content-length'] = String(body.length);
      done();
    },
    tooLarge: () => tooLarge(ctx),
    // the client went away mid-body: nothing to forward, nobody to answer
    gone: () => {},
  });
}

export const buffering: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw) {
    const o = decodeOptions(schema.options, raw);
    const c: Compiled = {
      maxRequest: o.maxRequestBodyBytes ?? 0,
      maxResponse: o.maxResponseBodyBytes ?? 0,
      attempts: parseRetry(o.retryExpression),
    };
    // memRequestBodyBytes / memResponseBodyBytes (1 MiB in Traefik) are only validated
    const direct = c.attempts === 1 && c.maxResponse === 0;
    return (next) => (ctx) => {
      const start = direct
        ? (): void => next(ctx)
        : (): void => new Exchange(ctx, c, ctx.writer, next).run();
      if (ctx.body !== undefined) {
        // an earlier step already read it
        if (c.maxRequest > 0 && ctx.body.length > c.maxRequest) tooLarge(ctx);
        else start();
        return;
      }
      readBody(ctx, c.maxRequest, start);
    };
  },
};
