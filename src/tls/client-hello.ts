/*
 * Reading the TLS ClientHello before the TLS server sees the connection.
 *
 * Node's SNICallback is not told which ALPN protocols the client offers, yet
 * a TLS-ALPN-01 validation (RFC 8737) is recognised by exactly that: a
 * ClientHello offering only `acme-tls/1`. So TLS entrypoints peek at the
 * first bytes of a connection, parse SNI and ALPN here, and then either hand
 * the bytes (unshifted) to the normal TLS server or to the challenge
 * responder. The parser never throws: anything it cannot read is `invalid`,
 * and the TLS server then fails the handshake as it would have anyway.
 */
import type { Socket } from 'node:net';

export interface ClientHello {
  /** server_name (RFC 6066 3), lower case; undefined when the client sent none */
  servername: string | undefined;
  /** application_layer_protocol_negotiation (RFC 7301); undefined when not offered */
  alpn: string[] | undefined;
}

export type ClientHelloResult =
  | { kind: 'complete'; hello: ClientHello }
  /** more bytes are needed */
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string };

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;
/** RFC 8446 5.1: a record carries at most 2^14 bytes of plaintext */
const MAX_RECORD = 16_384;

/** Concatenates the handshake-record payloads at the start of `buf` (a ClientHello may span records). */
function handshakeBytes(buf: Buffer): { data: Buffer; complete: boolean } | string {
  const parts: Buffer[] = [];
  let off = 0;
  while (off + 5 <= buf.length) {
    if (buf[off] !== RECORD_HANDSHAKE)
      return parts.length === 0 ? 'not a TLS handshake' : 'bad record';
    const len = buf.readUInt16BE(off + 3);
    if (len === 0 || len > MAX_RECORD) return 'bad record length';
    if (off + 5 + len > buf.length) {
      parts.push(buf.subarray(off + 5));
      return { data: Buffer.concat(parts), complete: false };
    }
    parts.push(buf.subarray(off + 5, off + 5 + len));
    off += 5 + len;
    const data = Buffer.concat(parts);
    if (data.length >= 4 && data.length >= 4 + data.readUIntBE(1, 3))
      return { data, complete: true };
  }
  if (off === 0 && buf.length > 0 && buf[0] !== RECORD_HANDSHAKE) return 'not a TLS handshake';
  return { data: Buffer.concat(parts), complete: false };
}

/** A bounds-checked reader: every read past the end throws, and parseClientHello catches it. */
class Reader {
  constructor(
    private readonly buf: Buffer,
    public off = 0,
    private readonly end = buf.length,
  ) {}
  u8(): number {
    this.need(1);
    return this.buf[this.off++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.off);
    this.off += 2;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return b;
  }
  skip(n: number): void {
    this.need(n);
    this.off += n;
  }
  /** a sub-reader over the next n bytes */
  sub(n: number): Reader {
    this.need(n);
    const r = new Reader(this.buf, this.off, this.off + n);
    this.off += n;
    return r;
  }
  get left(): number {
    return this.end - this.off;
  }
  private need(n: number): void {
    if (this.off + n > this.end) throw new RangeError('truncated');
  }
}

function serverName(r: Reader): string | undefined {
  const list = r.sub(r.u16());
  while (list.left > 0) {
    const type = list.u8();
    const name = list.bytes(list.u16());
    // host_name (0) is the only type defined; names are ASCII (A-labels)
    if (type === 0) return name.toString('latin1').toLowerCase();
  }
  return undefined;
}

function alpnList(r: Reader): string[] {
  const list = r.sub(r.u16());
  const out: string[] = [];
  while (list.left > 0) out.push(list.bytes(list.u8()).toString('latin1'));
  return out;
}

function parseBody(body: Buffer): ClientHello {
  const r = new Reader(body);
  r.skip(2 + 32); // legacy_version, random
  r.skip(r.u8()); // legacy_session_id
  r.skip(r.u16()); // cipher_suites
  r.skip(r.u8()); // legacy_compression_methods
  const hello: ClientHello = { servername: undefined, alpn: undefined };
  if (r.left === 0) return hello; // no extensions at all (old clients)
  const exts = r.sub(r.u16());
  while (exts.left > 0) {
    const type = exts.u16();
    const data = exts.sub(exts.u16());
    if (type === EXT_SERVER_NAME) hello.servername = serverName(data);
    else if (type === EXT_ALPN) hello.alpn = alpnList(data);
  }
  return hello;
}

/** Parses the ClientHello at the start of `buf` (one or more TLS records). */
export function parseClientHello(buf: Buffer): ClientHelloResult {
  const hs = handshakeBytes(buf);
  if (typeof hs === 'string') return { kind: 'invalid', reason: hs };
  const { data, complete } = hs;
  if (data.length >= 1 && data[0] !== HANDSHAKE_CLIENT_HELLO)
    return { kind: 'invalid', reason: 'the first handshake message is not a ClientHello' };
  if (!complete) return { kind: 'incomplete' };
  const len = data.readUIntBE(1, 3);
  try {
    return { kind: 'complete', hello: parseBody(data.subarray(4, 4 + len)) };
  } catch (err) {
    return { kind: 'invalid', reason: `malformed ClientHello: ${(err as Error).message}` };
  }
}

export interface PeekResult {
  /** every byte read from the socket so far (to be unshifted) */
  bytes: Buffer;
  /** undefined when the hello could not be read (invalid, too large, too slow, closed) */
  hello: ClientHello | undefined;
}

/**
 * Reads from `socket` until a whole ClientHello has arrived, at most maxBytes
 * and timeoutMs. Leaves the socket paused, with no listener of its own, so
 * the caller can unshift `bytes` and pass the socket on.
 */
export function peekClientHello(
  socket: Socket,
  limits: { maxBytes: number; timeoutMs: number },
): Promise<PeekResult> {
  return new Promise((resolve) => {
    let bytes: Buffer = Buffer.alloc(0);
    const finish = (hello: ClientHello | undefined): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onEnd);
      socket.pause();
      resolve({ bytes, hello });
    };
    const onData = (chunk: Buffer): void => {
      bytes = bytes.length === 0 ? chunk : Buffer.concat([bytes, chunk]);
      const parsed = parseClientHello(bytes);
      if (parsed.kind === 'complete') finish(parsed.hello);
      else if (parsed.kind === 'invalid' || bytes.length >= limits.maxBytes) finish(undefined);
    };
    const onEnd = (): void => finish(undefined);
    const timer = setTimeout(() => finish(undefined), limits.timeoutMs);
    timer.unref();
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
}
