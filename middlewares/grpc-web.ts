/*
 * GrpcWeb: lets browsers call gRPC services. A gRPC-Web request
 * (application/grpc-web, or application/grpc-web-text whose body is base64)
 * is turned into a gRPC request, and the gRPC response back into gRPC-Web:
 * content type renamed, trailers moved into a final length-prefixed frame
 * flagged 0x80, everything base64-encoded in text mode. CORS preflights that
 * ask for x-grpc-web are answered here for the origins in allowOrigins, as
 * Traefik (improbable-eng/grpc-web + rs/cors) does.
 *
 * The gRPC server is reached through an h2c service (src/proxy/forward-h2.ts),
 * whose forwarder hands the response trailers to the writer below through
 * `addTrailers()`.
 */
import type { RequestContext, ResponseWriter } from '../src/kernel/context.js';
import { sendStatus } from '../src/kernel/status.js';
import { readWholeBody } from '../src/kernel/body.js';
import { WriterWrapper } from '../src/kernel/writer.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { grpcWeb as schema } from '../src/config/schema/middlewares/response.js';

const GRPC = 'application/grpc';
const GRPC_WEB = 'application/grpc-web';
const GRPC_WEB_TEXT = 'application/grpc-web-text';
/** a gRPC-Web request is one message (no client streaming): a text body over this is refused */
export const MAX_TEXT_BODY_BYTES = 16 * 1024 * 1024;
const PREFLIGHT_MAX_AGE = '600';

/** Whether this is a gRPC-Web call: POST with an application/grpc-web* content type. */
export function isGrpcWebRequest(method: string, contentType: string | undefined): boolean {
  return method === 'POST' && contentType !== undefined && contentType.startsWith(GRPC_WEB);
}

/** Whether this is a CORS preflight for a gRPC-Web call. */
export function isGrpcWebPreflight(method: string, requestHeaders: string | undefined): boolean {
  return (
    method === 'OPTIONS' &&
    requestHeaders !== undefined &&
    requestHeaders.toLowerCase().includes('x-grpc-web')
  );
}

/** The gRPC content type for a gRPC-Web one (`application/grpc-web-text+proto` → `application/grpc+proto`). */
export function grpcContentType(webContentType: string): { contentType: string; text: boolean } {
  const text = webContentType.startsWith(GRPC_WEB_TEXT);
  return {
    contentType: webContentType.replace(text ? GRPC_WEB_TEXT : GRPC_WEB, GRPC),
    text,
  };
}

/**
 * Decodes a grpc-web-text body. Clients may send several base64 chunks, each
 * with its own padding, back to back: each padded group is decoded on its own.
 */
export function decodeTextBody(body: Buffer | string): Buffer {
  const s = (typeof body === 'string' ? body : body.toString('latin1')).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/=]*$/.test(s)) throw new Error('the grpc-web-text body is not base64');
  const parts: Buffer[] = [];
  for (const group of s.split(/(?<==)(?=[^=])/)) parts.push(Buffer.from(group, 'base64'));
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** A length-prefixed gRPC frame: flag byte, 4-byte big-endian length, payload. */
export function encodeFrame(flag: number, payload: Buffer): Buffer {
  const head = Buffer.allocUnsafe(5);
  head[0] = flag;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** Splits gRPC(-Web) frames; `rest` is an incomplete tail. */
export function decodeFrames(data: Buffer): {
  frames: { flag: number; payload: Buffer }[];
  rest: Buffer;
} {
  const frames: { flag: number; payload: Buffer }[] = [];
  let off = 0;
  while (data.length - off >= 5) {
    const len = data.readUInt32BE(off + 1);
    if (data.length - off - 5 < len) break;
    frames.push({ flag: data[off]!, payload: data.subarray(off + 5, off + 5 + len) });
    off += 5 + len;
  }
  return { frames, rest: data.subarray(off) };
}

/**
 * The trailer frame: flag 0x80, then the trailers as an HTTP/1 header block
 * ("name: value\r\n"), names lower-cased as the gRPC-Web spec asks and sorted
 * as Go's Header.Write sorts them.
 */
export function encodeTrailerFrame(trailers: readonly string[]): Buffer {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < trailers.length; i += 2)
    pairs.push([trailers[i]!.toLowerCase(), trailers[i + 1]!]);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let block = '';
  for (const [k, v] of pairs) block += `${k}: ${v}\r\n`;
  return encodeFrame(0x80, Buffer.from(block, 'utf8'));
}

/** Base64 over a stream: whole 3-byte groups go out as they come, the padding only at the end. */
export class Base64Encoder {
  private carry: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): string {
    const data = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    const whole = data.length - (data.length % 3);
    this.carry = Buffer.from(data.subarray(whole));
    return data.subarray(0, whole).toString('base64');
  }

  finish(): string {
    const out = this.carry.toString('base64');
    this.carry = Buffer.alloc(0);
    return out;
  }
}

/** Go's http.CanonicalHeaderKey, for the Access-Control-Expose-Headers list. */
function canonical(name: string): string {
  return name
    .toLowerCase()
    .replace(/(^|-)([a-z])/g, (_, d: string, c: string) => d + c.toUpperCase());
}

/**
 * The response head of a gRPC response turned gRPC-Web: content type renamed,
 * Trailer and Content-Length dropped (the body grows by the trailer frame),
 * every header name exposed to the browser along with grpc-status and
 * grpc-message. `extra` (CORS headers) is appended first.
 */
export function grpcWebResponseHeaders(
  headers: readonly string[],
  text: boolean,
  extra: readonly string[] = [],
): string[] {
  const out: string[] = [...extra];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i]!;
    const lower = name.toLowerCase();
    if (
      lower === 'trailer' ||
      lower === 'content-length' ||
      lower === 'access-control-expose-headers'
    )
      continue;
    let value = headers[i + 1]!;
    if (lower === 'content-type') value = value.replace(GRPC, text ? GRPC_WEB_TEXT : GRPC_WEB);
    out.push(name, value);
  }
  const names: string[] = [];
  for (let i = 0; i < out.length; i += 2) {
    const c = canonical(out[i]!);
    if (!names.includes(c)) names.push(c);
  }
  names.push('grpc-status', 'grpc-message');
  out.push('access-control-expose-headers', names.join(', '));
  return out;
}

/**
 * Turns the gRPC response written by the next handler into gRPC-Web. A
 * response that is not gRPC (an error page, Portico's own 502) passes through
 * with the CORS headers only.
 */
export class GrpcWebResponseWriter extends WriterWrapper {
  private grpc = false;
  private started = false;
  private trailers: string[] = [];
  private readonly encoder: Base64Encoder | undefined;

  constructor(
    inner: ResponseWriter,
    private readonly text: boolean,
    private readonly cors: readonly string[],
  ) {
    super(inner);
    this.encoder = text ? new Base64Encoder() : undefined;
  }

  override get headersSent(): boolean {
    return this.started || this.inner.headersSent;
  }

  override writeHead(status: number, statusText: string | undefined, headers: string[]): unknown {
    this.started = true;
    let ct = '';
    for (let i = 0; i < headers.length; i += 2)
      if (headers[i]!.toLowerCase() === 'content-type') ct = headers[i + 1]!;
    this.grpc = ct.startsWith(GRPC);
    return this.inner.writeHead(
      status,
      statusText,
      this.grpc
        ? grpcWebResponseHeaders(headers, this.text, this.cors)
        : [...this.cors, ...headers],
    );
  }

  /** The gRPC trailers (flat list); they are sent as the final frame when the response ends. */
  override addTrailers(trailers: string[]): void {
    if (!this.grpc) {
      // not gRPC (an error page, Portico's own answer): trailers pass through like the rest
      super.addTrailers(trailers);
      return;
    }
    for (const t of trailers) this.trailers.push(t);
  }

  override write(chunk: Buffer | string): boolean {
    if (!this.grpc || this.encoder === undefined) return this.inner.write(chunk);
    const out = this.encoder.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    return out === '' ? true : this.inner.write(out);
  }

  override end(chunk?: Buffer | string): unknown {
    if (!this.grpc) return this.inner.end(chunk);
    if (chunk !== undefined && chunk.length > 0) this.write(chunk);
    const frame = encodeTrailerFrame(this.trailers);
    if (this.encoder === undefined) return this.inner.end(frame);
    return this.inner.end(this.encoder.push(frame) + this.encoder.finish());
  }
}

function header(ctx: RequestContext, name: string): string | undefined {
  const v = ctx.headers[name];
  return typeof v === 'string' ? v : undefined;
}

export const grpcWeb: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw) {
    const o = decodeOptions(schema.options, raw);
    const list = o.allowOrigins ?? [];
    const any = list.includes('*');
    const origins = new Set(list);
    const allowed = (origin: string | undefined): origin is string =>
      origin !== undefined && origin !== '' && (any || origins.has(origin));

    const preflight = (ctx: RequestContext): void => {
      const out = [
        'vary',
        'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
        'content-length',
        '0',
      ];
      const origin = header(ctx, 'origin');
      const method = (header(ctx, 'access-control-request-method') ?? '').toUpperCase();
      // rs/cors' defaults: GET, POST and HEAD may be asked for
      if (allowed(origin) && (method === 'POST' || method === 'GET' || method === 'HEAD')) {
        out.push('access-control-allow-origin', origin, 'access-control-allow-methods', method);
        const requested = header(ctx, 'access-control-request-headers');
        if (requested !== undefined && requested !== '')
          out.push('access-control-allow-headers', requested);
        out.push(
          'access-control-allow-credentials',
          'true',
          'access-control-max-age',
          PREFLIGHT_MAX_AGE,
        );
      }
      ctx.writer.writeHead(204, undefined, out);
      ctx.writer.end();
    };

    const corsHeaders = (ctx: RequestContext): string[] => {
      const origin = header(ctx, 'origin');
      if (!allowed(origin)) return origin === undefined ? [] : ['vary', 'Origin'];
      return [
        'vary',
        'Origin',
        'access-control-allow-origin',
        origin,
        'access-control-allow-credentials',
        'true',
      ];
    };

    return (next) => (ctx) => {
      if (isGrpcWebPreflight(ctx.method, header(ctx, 'access-control-request-headers'))) {
        preflight(ctx);
        return;
      }
      const ct = header(ctx, 'content-type');
      if (!isGrpcWebRequest(ctx.method, ct)) {
        next(ctx);
        return;
      }
      const { contentType, text } = grpcContentType(ct!);
      const headers = ctx.req.headers;
      headers['content-type'] = contentType;
      // gRPC servers insist on it, and the proxy keeps it end to end
      headers.te = 'trailers';
      ctx.writer = new GrpcWebResponseWriter(ctx.writer, text, corsHeaders(ctx));
      if (!text) {
        next(ctx);
        return;
      }
      // text mode: the body must be decoded before it goes on; it is one message, so it is small
      readWholeBody(ctx.req, MAX_TEXT_BODY_BYTES, {
        done: (raw) => {
          let body: Buffer;
          try {
            body = decodeTextBody(raw);
          } catch {
            sendStatus(ctx.writer, 400);
            return;
          }
          ctx.body = body;
          delete headers['transfer-encoding'];
          headers['content-length'] = String(body.length);
          next(ctx);
        },
        tooLarge: () => {
          sendStatus(ctx.writer, 413);
          ctx.req.resume(); // discard the rest
        },
        // the client went away mid-body: nothing to forward, nobody to answer
        gone: () => {},
      });
    };
  },
};
