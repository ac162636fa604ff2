/*
 * h2c by upgrade (RFC 7540 3.2, as Go's h2c handler serves it for Traefik):
 * an HTTP/1.1 request with `Upgrade: h2c` and one `HTTP2-Settings` header is
 * answered 101, and the connection continues as HTTP/2 with that request as
 * stream 1. Node's HTTP/2 server has no way to adopt a request it did not
 * read, so the request is handed to it as what it would have been on the
 * wire: after the client's connection preface and first SETTINGS frame, a
 * HEADERS frame for stream 1 (HPACK literals, RFC 7541 6.2.2) with
 * END_STREAM. The session then answers stream 1 like any other.
 *
 * Only requests without a body are upgraded (what clients do: curl upgrades
 * bodyless requests; RFC 7540 lets a server ignore the upgrade otherwise),
 * and only when the request's header block fits one frame. Any other request
 * keeps HTTP/1.1.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_DATA = 0x0;
const FRAME_HEADERS = 0x1;
const FRAME_SETTINGS = 0x4;
const FLAG_END_STREAM = 0x1;
const FLAG_END_HEADERS = 0x4;
/** SETTINGS_MAX_FRAME_SIZE's initial value (RFC 9113 6.5.2): the largest frame before SETTINGS */
const MAX_FRAME = 16_384;
/** a client's first SETTINGS frame is small; more than this before it is not a client */
const MAX_FIRST_BYTES = PREFACE.length + 9 + 1024;

/** RFC 9113 8.2.2: connection-specific fields never go into an HTTP/2 header block */
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'upgrade',
  'http2-settings',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'host',
]);

function tokens(v: string | string[] | undefined): string[] {
  const all = Array.isArray(v) ? v.join(',') : (v ?? '');
  return all
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '');
}

/** Whether `req` asks for h2c in the form this server takes (RFC 7540 3.2, no body). */
export function wantsH2cUpgrade(req: IncomingMessage): boolean {
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor !== 1) return false;
  if (!tokens(req.headers.upgrade).includes('h2c')) return false;
  const connection = tokens(req.headers.connection);
  if (!connection.includes('upgrade') || !connection.includes('http2-settings')) return false;
  // exactly one HTTP2-Settings (RFC 7540 3.2.1)
  let settings = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    if (req.rawHeaders[i]!.toLowerCase() === 'http2-settings') settings++;
  if (settings !== 1) return false;
  if (req.headers['transfer-encoding'] !== undefined) return false;
  return bodyLength(req) !== undefined;
}

/** The body an upgraded request may carry: it must fit the peer's initial flow-control window. */
const MAX_BODY = 65_535;

/** The request's Content-Length when Portico can carry it into stream 1 (else undefined). */
function bodyLength(req: IncomingMessage): number | undefined {
  const raw = req.headers['content-length'];
  if (raw === undefined) return 0;
  if (!/^\d{1,9}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n <= MAX_BODY ? n : undefined;
}

/** HPACK integer with an n-bit prefix (RFC 7541 5.1). */
function hpackInt(value: number, prefixBits: number, firstByte: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByte | value];
  const out = [firstByte | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  return Buffer.concat([Buffer.from(hpackInt(bytes.length, 7, 0x00)), bytes]);
}

/**
 * A HEADERS frame for `streamId` carrying `fields` as literals without indexing (no dynamic table
 * state to share with the peer), END_HEADERS set, END_STREAM unless a body follows. Undefined when the block is
 * larger than one frame may be before the peer's SETTINGS.
 */
export function headersFrame(
  streamId: number,
  fields: readonly (readonly [string, string])[],
  endStream = true,
): Buffer | undefined {
  const block = Buffer.concat(
    fields.map(([name, value]) =>
      Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackString(value)]),
    ),
  );
  if (block.length > MAX_FRAME) return undefined;
  return frameOf(
    FRAME_HEADERS,
    FLAG_END_HEADERS | (endStream ? FLAG_END_STREAM : 0),
    streamId,
    block,
  );
}

function frameOf(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** DATA frames for `body` on `streamId`, at most one maximum frame each, the last with END_STREAM. */
export function dataFrames(streamId: number, body: Buffer): Buffer {
  const frames: Buffer[] = [];
  for (let off = 0; off < body.length; off += MAX_FRAME) {
    const end = Math.min(off + MAX_FRAME, body.length);
    frames.push(
      frameOf(
        FRAME_DATA,
        end === body.length ? FLAG_END_STREAM : 0,
        streamId,
        body.subarray(off, end),
      ),
    );
  }
  return Buffer.concat(frames);
}

/** The upgraded request as stream 1's header fields: pseudo-headers first, no connection fields. */
export function streamOneFields(req: IncomingMessage): [string, string][] {
  const fields: [string, string][] = [
    [':method', req.method ?? 'GET'],
    [':scheme', 'http'],
    [':authority', req.headers.host ?? ''],
    [':path', req.url ?? '/'],
  ];
  const named = new Set(tokens(req.headers.connection));
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    if (CONNECTION_SPECIFIC.has(name) || named.has(name)) continue;
    // RFC 9113 8.2.2: TE only as "trailers"
    if (name === 'te' && req.rawHeaders[i + 1]!.trim().toLowerCase() !== 'trailers') continue;
    fields.push([name, req.rawHeaders[i + 1]!]);
  }
  return fields;
}

/**
 * The upgraded socket as a stream that yields `first` and then the socket's bytes. A socket
 * Node's HTTP/1 server gave up at an upgrade cannot have bytes put back in front for an HTTP/2
 * session (the session reads its handle directly and misses them: "bad client magic"), so the
 * session gets this stream, with the addresses RequestContext reads.
 */
function relayedSocket(socket: Socket, first: Buffer): Duplex {
  const out = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end();
      cb();
    },
    destroy(err, cb) {
      socket.destroy();
      cb(err);
    },
  });
  for (const key of ['remoteAddress', 'remotePort', 'localAddress', 'localPort'] as const)
    Object.defineProperty(out, key, { get: () => socket[key] });
  out.push(first);
  socket.on('data', (d: Buffer) => {
    if (!out.push(d)) socket.pause();
  });
  socket.once('end', () => out.push(null));
  socket.once('close', () => out.destroy());
  socket.on('error', (err) => out.destroy(err));
  return out;
}

/**
 * Answers 101 and, once the client's preface and first SETTINGS frame are in, hands the
 * connection to `h2` with the request as stream 1. False (nothing written) when the request
 * cannot be carried; the caller then answers it over HTTP/1.1. A client that does not follow
 * with a preface within `timeoutMs` is closed.
 */
export function acceptH2cUpgrade(opts: {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  timeoutMs: number;
  handOver(socket: Duplex): void;
}): boolean {
  const length = bodyLength(opts.req) ?? 0;
  const headers = headersFrame(1, streamOneFields(opts.req), length === 0);
  if (headers === undefined) return false;
  const socket = opts.socket as Socket;
  // RFC 7540 3.2: the request, body included, comes whole before the 101; the preface after it
  let body: Buffer | undefined = length === 0 ? Buffer.alloc(0) : undefined;
  let buf: Buffer = opts.head;
  const upgrade = (): void => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
  };
  const finish = (ok: boolean): void => {
    clearTimeout(timer);
    socket.removeListener('data', onData);
    if (!ok) {
      socket.destroy();
      return;
    }
    // preface + SETTINGS, then stream 1 (its head and body), then what followed the SETTINGS
    const settingsEnd = PREFACE.length + 9 + buf.readUIntBE(PREFACE.length, 3);
    const stream1 = body!.length === 0 ? headers : Buffer.concat([headers, dataFrames(1, body!)]);
    opts.handOver(
      relayedSocket(
        socket,
        Buffer.concat([buf.subarray(0, settingsEnd), stream1, buf.subarray(settingsEnd)]),
      ),
    );
  };
  const check = (): void => {
    const n = Math.min(buf.length, PREFACE.length);
    if (!buf.subarray(0, n).equals(PREFACE.subarray(0, n))) return finish(false);
    if (buf.length < PREFACE.length + 9) {
      if (buf.length > MAX_FIRST_BYTES) finish(false);
      return;
    }
    if (buf[PREFACE.length + 3] !== FRAME_SETTINGS) return finish(false);
    const len = buf.readUIntBE(PREFACE.length, 3);
    if (len > MAX_FIRST_BYTES) return finish(false);
    if (buf.length >= PREFACE.length + 9 + len) finish(true);
  };
  const takeBody = (): void => {
    if (buf.length < length) return;
    body = buf.subarray(0, length);
    buf = buf.subarray(length);
    upgrade();
  };
  const onData = (chunk: Buffer): void => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    if (body === undefined) takeBody();
    if (body !== undefined) check();
  };
  const timer = setTimeout(() => finish(false), opts.timeoutMs);
  timer.unref();
  socket.on('data', onData);
  if (body === undefined) takeBody();
  else upgrade();
  if (body !== undefined && buf.length > 0) check();
  return true;
}

/** Whether the request names h2c among its Upgrade protocols (taken or not). */
export function asksForH2c(req: IncomingMessage): boolean {
  return tokens(req.headers.upgrade).includes('h2c');
}

/**
 * An `Upgrade: h2c` request Portico does not take (a chunked or large body) is served as the
 * HTTP/1.1 request it also is (RFC 7540 3.2: a server may ignore the upgrade). Node's HTTP/1
 * server has already handed the socket over as an upgrade, so the request head is written back
 * in front of the bytes that followed it, without its upgrade fields, and the socket is given to
 * `http1` again as a new connection.
 */
export function replayWithoutUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  http1: { emit(event: 'connection', socket: Duplex): boolean },
): void {
  const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (lower === 'upgrade' || lower === 'http2-settings') continue;
    let value = req.rawHeaders[i + 1]!;
    if (lower === 'connection') {
      value = value
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== '' && !['upgrade', 'http2-settings'].includes(t.toLowerCase()))
        .join(', ');
      if (value === '') continue;
    }
    lines.push(`${name}: ${value}`);
  }
  const s = socket as Socket;
  s.pause();
  s.unshift(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), head]));
  http1.emit('connection', s);
  s.resume();
}
