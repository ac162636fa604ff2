/*
 * ContentType: Traefik v3 no longer guesses a Content-Type for responses the
 * upstream sent without one; this middleware turns the guess back on. The
 * guess is Go's http.DetectContentType (the WHATWG MIME sniffing table) over
 * the first body chunk, done in a ResponseWriter wrapper that holds the
 * response head until that chunk arrives. Responses that have a Content-Type,
 * or no body, are passed through untouched.
 */
import type { RequestContext } from '../src/kernel/context.js';
import { WriterWrapper } from '../src/kernel/writer.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { contentType as schema } from '../src/config/schema/middlewares/response.js';

const SNIFF_LEN = 512;

type Sig = (data: Buffer, firstNonWS: number) => string;

function isWS(b: number): boolean {
  return b === 0x09 || b === 0x0a || b === 0x0c || b === 0x0d || b === 0x20;
}

/** Case-insensitive HTML tag signature followed by a space or '>' (whitespace skipped first). */
function html(sig: string): Sig {
  const bytes = Buffer.from(sig, 'latin1');
  return (data, ws) => {
    if (data.length - ws < bytes.length + 1) return '';
    for (let i = 0; i < bytes.length; i++) {
      let b = data[ws + i]!;
      const s = bytes[i]!;
      if (s >= 0x41 && s <= 0x5a) b &= 0xdf;
      if (b !== s) return '';
    }
    const t = data[ws + bytes.length]!;
    return t === 0x20 || t === 0x3e ? 'text/html; charset=utf-8' : '';
  };
}

function exact(sig: string, ct: string): Sig {
  const bytes = Buffer.from(sig, 'latin1');
  return (data) =>
    data.length >= bytes.length && data.subarray(0, bytes.length).equals(bytes) ? ct : '';
}

function masked(mask: string, pat: string, ct: string, skipWS = false): Sig {
  const m = Buffer.from(mask, 'latin1');
  const p = Buffer.from(pat, 'latin1');
  return (data, ws) => {
    const off = skipWS ? ws : 0;
    if (data.length - off < m.length) return '';
    for (let i = 0; i < m.length; i++) if ((data[off + i]! & m[i]!) !== p[i]) return '';
    return ct;
  };
}

function mp4(data: Buffer): string {
  if (data.length < 12) return '';
  const box = data.readUInt32BE(0);
  if (box % 4 !== 0 || data.length < box) return '';
  if (data.toString('latin1', 4, 8) !== 'ftyp') return '';
  for (let st = 8; st < box; st += 4) {
    if (st === 12) continue; // minor version
    if (data.toString('latin1', st, st + 3) === 'mp4') return 'video/mp4';
  }
  return '';
}

function text(data: Buffer, ws: number): string {
  for (let i = ws; i < data.length; i++) {
    const b = data[i]!;
    if (b <= 0x08 || b === 0x0b || (b >= 0x0e && b <= 0x1a) || (b >= 0x1c && b <= 0x1f)) return '';
  }
  return 'text/plain; charset=utf-8';
}

const FF4 = '\xff\xff\xff\xff';
const RIFF_MASK = FF4 + '\x00\x00\x00\x00' + FF4;

// Go's table, in Go's order (net/http/sniff.go); JSON has no entry there and is text/plain
const SIGNATURES: Sig[] = [
  ...[
    '<!DOCTYPE HTML',
    '<HTML',
    '<HEAD',
    '<SCRIPT',
    '<IFRAME',
    '<H1',
    '<DIV',
    '<FONT',
    '<TABLE',
    '<A',
    '<STYLE',
    '<TITLE',
    '<B',
    '<BODY',
    '<BR',
    '<P',
    '<!--',
  ].map(html),
  masked('\xff\xff\xff\xff\xff', '<?xml', 'text/xml; charset=utf-8', true),
  exact('%PDF-', 'application/pdf'),
  exact('%!PS-Adobe-', 'application/postscript'),
  masked('\xff\xff\x00\x00', '\xfe\xff\x00\x00', 'text/plain; charset=utf-16be'),
  masked('\xff\xff\x00\x00', '\xff\xfe\x00\x00', 'text/plain; charset=utf-16le'),
  masked('\xff\xff\xff\x00', '\xef\xbb\xbf\x00', 'text/plain; charset=utf-8'),
  exact('GIF87a', 'image/gif'),
  exact('GIF89a', 'image/gif'),
  exact('\x89PNG\x0d\x0a\x1a\x0a', 'image/png'),
  exact('\xff\xd8\xff', 'image/jpeg'),
  exact('BM', 'image/bmp'),
  masked(
    FF4 + '\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff',
    'RIFF\x00\x00\x00\x00WEBPVP',
    'image/webp',
  ),
  exact('\x00\x00\x01\x00', 'image/x-icon'),
  masked(RIFF_MASK, 'RIFF\x00\x00\x00\x00WAVE', 'audio/wave'),
  masked(RIFF_MASK, 'FORM\x00\x00\x00\x00AIFF', 'audio/aiff'),
  masked(FF4, '.snd', 'audio/basic'),
  masked('\xff\xff\xff\xff\xff', 'OggS\x00', 'application/ogg'),
  masked('\xff'.repeat(8), 'MThd\x00\x00\x00\x06', 'audio/midi'),
  masked('\xff\xff\xff', 'ID3', 'audio/mpeg'),
  masked(RIFF_MASK, 'RIFF\x00\x00\x00\x00AVI ', 'video/avi'),
  masked('\x00'.repeat(34) + '\xff\xff', '\x00'.repeat(34) + 'LP', 'application/vnd.ms-fontobject'),
  exact('\x00\x01\x00\x00', 'font/ttf'),
  exact('OTTO', 'font/otf'),
  exact('ttcf', 'font/collection'),
  exact('wOFF', 'font/woff'),
  exact('wOF2', 'font/woff2'),
  exact('\x1f\x8b\x08', 'application/x-gzip'),
  exact('PK\x03\x04', 'application/zip'),
  exact('Rar!\x1a\x07\x00', 'application/x-rar-compressed'),
  exact('Rar!\x1a\x07\x01\x00', 'application/x-rar-compressed'),
  exact('\x00asm', 'application/wasm'),
  exact('\x1a\x45\xdf\xa3', 'video/webm'),
  mp4,
  text,
];

/** Go's http.DetectContentType: looks at up to 512 bytes, never fails (application/octet-stream). */
export function detectContentType(chunk: Buffer | string): string {
  let data = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
  if (data.length > SNIFF_LEN) data = data.subarray(0, SNIFF_LEN);
  let ws = 0;
  while (ws < data.length && isWS(data[ws]!)) ws++;
  for (const sig of SIGNATURES) {
    const ct = sig(data, ws);
    if (ct !== '') return ct;
  }
  return 'application/octet-stream';
}

function hasHeader(headers: string[], lower: string): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    const n = headers[i]!;
    if (n.length === lower.length && n.toLowerCase() === lower) return true;
  }
  return false;
}

/** Holds a Content-Type-less response head until the first body bytes say what it is. */
class SniffingWriter extends WriterWrapper {
  private status = 0;
  private statusText: string | undefined = undefined;
  private headers: string[] | null = null;

  override get headersSent(): boolean {
    return this.headers !== null || this.inner.headersSent;
  }

  override writeHead(status: number, statusText: string | undefined, headers: string[]): unknown {
    // no body (1xx, 204, 304) or a type already set: nothing to guess
    if (status < 200 || status === 204 || status === 304 || hasHeader(headers, 'content-type'))
      return this.inner.writeHead(status, statusText, headers);
    this.status = status;
    this.statusText = statusText;
    this.headers = headers;
    return this;
  }

  private flush(chunk: Buffer | string | undefined): void {
    const headers = this.headers!;
    this.headers = null;
    if (chunk !== undefined && chunk.length > 0)
      headers.push('content-type', detectContentType(chunk));
    this.inner.writeHead(this.status, this.statusText, headers);
  }

  override write(chunk: Buffer | string): boolean {
    if (this.headers !== null) {
      if (chunk.length === 0) return true;
      this.flush(chunk);
    }
    return this.inner.write(chunk);
  }

  override end(chunk?: Buffer | string): unknown {
    if (this.headers !== null) this.flush(chunk);
    return this.inner.end(chunk);
  }

  override destroy(err?: Error): unknown {
    this.headers = null;
    return this.inner.destroy(err);
  }
}

export const contentType: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw, build) {
    const o = decodeOptions(schema.options, raw);
    if (o.autoDetect !== undefined)
      build.logger.warn(
        'contentType.autoDetect is deprecated: the middleware only turns detection on; remove the option',
      );
    if (o.autoDetect === false) return (next) => next;
    return (next) => (ctx: RequestContext) => {
      // a HEAD answer has no body to look at
      if (ctx.method !== 'HEAD') ctx.writer = new SniffingWriter(ctx.writer);
      next(ctx);
    };
  },
};
