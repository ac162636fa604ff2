/*
 * Compress: Traefik's compress middleware. Picks gzip, br or zstd from the
 * request's Accept-Encoding (q-values first, the configured order on ties)
 * and compresses the response on its way out through a ctx.writer wrapper.
 *
 * Why a wrapper and not a hook: the decision needs the response head
 * (Content-Encoding, Content-Type, Content-Length) and then every body
 * chunk, whoever writes them (proxy, error page, inner middleware).
 *
 * Streaming: the compressor is flushed after every chunk the handler writes,
 * so Server-Sent Events and long polls reach the client as they are produced
 * (a sync flush costs a few bytes per chunk, not the dictionary). Backpressure
 * runs end to end: the compressor pauses while the client's socket is full,
 * its input buffer then fills and write() returns false, and 'drain' comes
 * from the compressor when it has room again.
 *
 * The size decision uses Content-Length when the response has one; otherwise
 * up to minResponseBodyBytes are held back before deciding, and a response
 * that ends below that goes out uncompressed with its Content-Length set.
 *
 * zstd: Node's zlib has it only from Node 22.15/23.8; on older Node the name
 * is accepted (configurations stay portable) and skipped when negotiating.
 */
import zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import { ConfigElementError } from '../src/kernel/errors.js';
import type { RequestContext, ResponseWriter } from '../src/kernel/context.js';
import { WriterWrapper } from '../src/kernel/writer.js';
import { HeldResponse } from './held-response.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import {
  compress as schema,
  type CompressOptions as Options,
} from '../src/config/schema/middlewares/response.js';

type Encoding = 'gzip' | 'br' | 'zstd';
const KNOWN: readonly Encoding[] = ['gzip', 'br', 'zstd'];
const DEFAULT_MIN = 1024;

type ZstdZlib = typeof zlib & {
  createZstdCompress?: (opts?: object) => Transform;
  constants: { ZSTD_e_flush?: number };
};
const zstdAvailable = typeof (zlib as ZstdZlib).createZstdCompress === 'function';

function available(e: Encoding): boolean {
  return e !== 'zstd' || zstdAvailable;
}

interface MediaType {
  type: string;
  params: Map<string, string> | null;
}

const MEDIA = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/;

/** "text/html; charset=UTF-8" → type and parameters (names lower-cased, values unquoted), or null. */
function parseMediaType(value: string): MediaType | null {
  const parts = value.split(';');
  const type = parts[0]!.trim().toLowerCase();
  if (!MEDIA.test(type)) return null;
  let params: Map<string, string> | null = null;
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i]!.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq <= 0) return null;
    let v = p.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    (params ??= new Map()).set(p.slice(0, eq).trim().toLowerCase(), v);
  }
  return { type, params };
}

/** gzhttp's rule: an entry without parameters matches any; with parameters they must all be equal. */
function mediaMatches(entry: MediaType, got: MediaType): boolean {
  if (entry.type !== got.type) return false;
  if (entry.params === null) return true;
  if (got.params === null || got.params.size !== entry.params.size) return false;
  for (const [k, v] of entry.params) if (got.params.get(k) !== v) return false;
  return true;
}

interface Compiled {
  encodings: Encoding[];
  /** server preference per Accept-Encoding token: lower is preferred; * first, identity last */
  priority: Map<string, number>;
  defaultEncoding: Encoding | undefined;
  /** what `*` resolves to */
  wildcard: Encoding | undefined;
  minSize: number;
  included: MediaType[];
  excluded: MediaType[];
  withParams: boolean;
  /** Accept-Encoding value → chosen encoding, small and bounded: browsers send few distinct values */
  cache: Map<string, Encoding | null>;
  /** zstd was configured but this Node has no zstd */
  zstdSkipped: boolean;
}

function compile(o: Options): Compiled {
  if ((o.includedContentTypes?.length ?? 0) > 0 && (o.excludedContentTypes?.length ?? 0) > 0)
    throw new ConfigElementError(
      'excludedContentTypes and includedContentTypes are mutually exclusive',
      'includedContentTypes',
    );
  const parseList = (list: string[] | undefined, option: string): MediaType[] =>
    (list ?? []).map((v, i) => {
      const m = parseMediaType(v);
      if (m === null) throw new ConfigElementError(`"${v}" is not a media type`, `${option}[${i}]`);
      return m;
    });
  const included = parseList(o.includedContentTypes, 'includedContentTypes');
  const excluded = parseList(o.excludedContentTypes, 'excludedContentTypes');

  const configured = o.encodings ?? [...KNOWN];
  if (configured.length === 0)
    throw new ConfigElementError('at least one encoding must be specified', 'encodings');
  const encodings: Encoding[] = [];
  for (const [i, raw] of configured.entries()) {
    const e = raw.toLowerCase() as Encoding;
    if (!KNOWN.includes(e))
      throw new ConfigElementError(
        `unsupported encoding "${raw}"; use gzip, br or zstd`,
        `encodings[${i}]`,
      );
    if (!encodings.includes(e)) encodings.push(e);
  }
  let defaultEncoding: Encoding | undefined;
  if (o.defaultEncoding !== undefined && o.defaultEncoding !== '') {
    const d = o.defaultEncoding.toLowerCase() as Encoding;
    if (!encodings.includes(d))
      throw new ConfigElementError(
        `"${o.defaultEncoding}" is not among the encodings (${encodings.join(', ')})`,
        'defaultEncoding',
      );
    defaultEncoding = d;
  }
  const usable = encodings.filter(available);
  const priority = new Map<string, number>([
    ['*', -1],
    ['identity', encodings.length],
  ]);
  usable.forEach((e) => priority.set(e, encodings.indexOf(e)));
  return {
    encodings: usable,
    priority,
    defaultEncoding: defaultEncoding && available(defaultEncoding) ? defaultEncoding : undefined,
    wildcard: defaultEncoding
      ? available(defaultEncoding)
        ? defaultEncoding
        : undefined
      : usable[0],
    minSize:
      o.minResponseBodyBytes !== undefined && o.minResponseBodyBytes > 0
        ? o.minResponseBodyBytes
        : DEFAULT_MIN,
    included,
    excluded,
    withParams: [...included, ...excluded].some((m) => m.params !== null),
    cache: new Map(),
    zstdSkipped: usable.length < encodings.length,
  };
}

/** RFC 9110 negotiation as Traefik does it: q=0 and unknown codings dropped, highest q, ties by priority. */
function negotiate(c: Compiled, accept: string): Encoding | null {
  if (accept.trim() === '') return null; // present but empty: the client wants no coding
  const list: { name: string; q: number }[] = [];
  for (const item of accept.split(',')) {
    const semi = item.indexOf(';');
    const name = (semi === -1 ? item : item.slice(0, semi)).trim().toLowerCase();
    if (!c.priority.has(name)) continue;
    let q = 1;
    if (semi !== -1) {
      const m = /(?:^|;)\s*q\s*=\s*([0-9.]+)/i.exec(item.slice(semi));
      if (m) q = Number(m[1]);
      if (!Number.isFinite(q)) q = 0;
    }
    if (q > 0) list.push({ name, q });
  }
  if (list.length === 0) return null;
  list.sort((a, b) => b.q - a.q || c.priority.get(a.name)! - c.priority.get(b.name)!);
  const first = list[0]!.name;
  if (first === '*') return c.wildcard ?? null;
  if (first === 'identity') return null;
  return first as Encoding;
}

function choose(c: Compiled, accept: string): Encoding | null {
  let hit = c.cache.get(accept);
  if (hit === undefined) {
    hit = negotiate(c, accept);
    if (c.cache.size >= 256) c.cache.clear();
    c.cache.set(accept, hit);
  }
  return hit;
}

function mediaTypeOf(c: Compiled, value: string): MediaType | null {
  if (c.withParams) return parseMediaType(value);
  const semi = value.indexOf(';');
  return { type: (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase(), params: null };
}

/** Whether a response with this Content-Type may be compressed. */
function compressible(c: Compiled, contentType: string | undefined): boolean {
  if (contentType === undefined || contentType === '') return true;
  const m = mediaTypeOf(c, contentType);
  if (m === null) return false;
  // gRPC frames its own compression; a compressed stream would break it whatever the options
  if (m.type === 'application/grpc' || m.type.startsWith('application/grpc+')) return false;
  if (c.included.length > 0) return c.included.some((e) => mediaMatches(e, m));
  // server-sent events must reach the client event by event: not compressed unless listed
  // in includedContentTypes (Traefik v2 did the same; v3 users had to exclude it by hand, #11509)
  if (m.type === 'text/event-stream') return false;
  return !c.excluded.some((e) => mediaMatches(e, m));
}

function createCompressor(enc: Encoding, sizeHint: number | undefined): Transform {
  if (enc === 'gzip') return zlib.createGzip();
  if (enc === 'br') {
    const params: Record<number, number> = {
      // Node's default is quality 11, far too slow on the fly; 5 is the usual proxy setting
      [zlib.constants.BROTLI_PARAM_QUALITY]: 5,
    };
    if (sizeHint !== undefined) params[zlib.constants.BROTLI_PARAM_SIZE_HINT] = sizeHint;
    return zlib.createBrotliCompress({ params });
  }
  return (zlib as ZstdZlib).createZstdCompress!();
}

function flushKind(enc: Encoding): number | undefined {
  if (enc === 'gzip') return zlib.constants.Z_SYNC_FLUSH;
  if (enc === 'br') return zlib.constants.BROTLI_OPERATION_FLUSH;
  return (zlib as ZstdZlib).constants.ZSTD_e_flush;
}

const enum Mode {
  Pending,
  Buffering,
  Compress,
  Pass,
}

class CompressWriter extends WriterWrapper {
  private mode = Mode.Pending;
  private headWritten = false;
  private readonly held = new HeldResponse();
  private z: Transform | undefined = undefined;
  private waitingInner = false;

  constructor(
    inner: ResponseWriter,
    private readonly c: Compiled,
    private readonly enc: Encoding,
  ) {
    super(inner);
  }

  override get headersSent(): boolean {
    return this.headWritten;
  }

  override writeHead(status: number, statusText: string | undefined, headers: string[]): unknown {
    if (status < 200) return this.inner.writeHead(status, statusText, headers);
    this.headWritten = true;
    let encoded = false;
    let ranged = false;
    let contentType: string | undefined;
    let length: number | undefined;
    let vary = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      if (name.length < 4 || name.length > 16) continue;
      switch (name.toLowerCase()) {
        case 'content-encoding':
          if (headers[i + 1] !== '' && headers[i + 1] !== 'identity') encoded = true;
          break;
        case 'content-range':
          ranged = true;
          break;
        case 'content-type':
          contentType = headers[i + 1];
          break;
        case 'content-length':
          length = Number(headers[i + 1]);
          break;
        case 'vary':
          if (/(?:^|,)\s*(?:accept-encoding|\*)\s*(?:,|$)/i.test(headers[i + 1]!)) vary = true;
          break;
      }
    }
    // every response that went through negotiation varies on it, compressed or not (as Traefik)
    if (!vary) headers = [...headers, 'Vary', 'Accept-Encoding'];
    if (
      encoded ||
      ranged ||
      status === 204 ||
      status === 304 ||
      status === 206 ||
      length === 0 ||
      (length !== undefined && length < this.c.minSize) ||
      !compressible(this.c, contentType)
    ) {
      this.mode = Mode.Pass;
      return this.inner.writeHead(status, statusText, headers);
    }
    this.held.holdHead(status, statusText, headers);
    if (length !== undefined && Number.isFinite(length)) {
      this.startCompression(length);
      return this;
    }
    // an event stream cannot wait for minResponseBodyBytes: its first events may be all there is for a while
    if (contentType !== undefined && /^\s*text\/event-stream/i.test(contentType)) {
      this.startCompression(undefined);
      return this;
    }
    this.mode = Mode.Buffering;
    return this;
  }

  private startCompression(sizeHint: number | undefined): void {
    this.mode = Mode.Compress;
    const out: string[] = [];
    const h = this.held.head;
    for (let i = 0; i < h.length; i += 2) {
      const lower = h[i]!.toLowerCase();
      // the compressed length is not known in advance, and byte ranges of the original no longer apply
      if (lower === 'content-length' || lower === 'accept-ranges') continue;
      out.push(h[i]!, h[i + 1]!);
    }
    out.push('Content-Encoding', this.enc);
    this.held.head = [];
    this.inner.writeHead(this.held.status, this.held.statusText, out);
    const z = createCompressor(this.enc, sizeHint);
    this.z = z;
    z.on('data', (chunk: Buffer) => {
      if (!this.inner.write(chunk) && !this.waitingInner) {
        this.waitingInner = true;
        z.pause();
        this.inner.once('drain', () => {
          this.waitingInner = false;
          z.resume();
        });
      }
    });
    z.once('end', () => this.inner.end());
    z.once('error', (err: Error) => this.inner.destroy(err));
  }

  private compressChunk(chunk: Buffer | string): boolean {
    const z = this.z!;
    const ok = z.write(chunk);
    // one flush per chunk: what the handler produced reaches the client now (SSE)
    (z as zlib.Gzip).flush(flushKind(this.enc) as number);
    return ok;
  }

  override write(chunk: Buffer | string): boolean {
    switch (this.mode) {
      case Mode.Compress:
        return this.compressChunk(chunk);
      case Mode.Buffering: {
        this.held.add(chunk);
        if (this.held.bytes < this.c.minSize) return true;
        const all = this.held.take();
        this.startCompression(undefined);
        return this.compressChunk(all);
      }
      default:
        return this.inner.write(chunk);
    }
  }

  override end(chunk?: Buffer | string): unknown {
    switch (this.mode) {
      case Mode.Compress:
        if (chunk !== undefined && chunk.length > 0) this.z!.write(chunk);
        this.z!.end();
        return this;
      case Mode.Buffering: {
        if (chunk !== undefined && chunk.length > 0) this.held.add(chunk);
        const all = this.held.take();
        if (this.held.bytes >= this.c.minSize) {
          this.startCompression(all.length);
          this.z!.end(all);
          return this;
        }
        // too small to be worth it: out as it came, now with a length
        this.mode = Mode.Pass;
        return this.held.sendWithLength(this.inner, all);
      }
      default:
        return this.inner.end(chunk);
    }
  }

  override destroy(err?: Error): unknown {
    this.held.drop();
    this.z?.destroy();
    return this.inner.destroy(err);
  }

  override once(event: 'drain', listener: () => void): unknown {
    if (this.mode === Mode.Compress) this.z!.once(event, listener);
    else this.inner.once(event, listener);
    return this;
  }
  override on(event: 'drain', listener: () => void): unknown {
    if (this.mode === Mode.Compress) this.z!.on(event, listener);
    else this.inner.on(event, listener);
    return this;
  }
}

function requestExcluded(c: Compiled, ctx: RequestContext): boolean {
  // Traefik also looks at the request's Content-Type (a text/event-stream request, issue 2576)
  const ct = ctx.req.headers['content-type'];
  if (ct === undefined || c.excluded.length === 0) return false;
  const m = mediaTypeOf(c, ct);
  return m !== null && c.excluded.some((e) => mediaMatches(e, m));
}

export const compress: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw, build) {
    const c = compile(decodeOptions(schema.options, raw));
    if (c.zstdSkipped)
      build.logger.debug(
        { node: process.version },
        'zstd is not available in this Node version: it is never negotiated',
      );
    return (next) => (ctx) => {
      if (ctx.method === 'HEAD' || c.encodings.length === 0 || requestExcluded(c, ctx)) {
        next(ctx);
        return;
      }
      const accept = ctx.req.headers['accept-encoding'];
      const enc = accept === undefined ? (c.defaultEncoding ?? null) : choose(c, accept);
      if (enc !== null) ctx.writer = new CompressWriter(ctx.writer, c, enc);
      next(ctx);
    };
  },
};
