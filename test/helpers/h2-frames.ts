/*
 * A raw HTTP/2 client for hostile-client tests: exact frames over TLS (ALPN
 * h2), with no client library to tidy them up, so tests can send what a real
 * client never would (CONTINUATION trickles, floods, rapid resets, requests
 * without :authority) and see the server's frames as they come.
 *
 * HPACK is the minimum: requests are literal fields without indexing and
 * without Huffman coding (RFC 7541 §6.2.2); from a response only `:status` is
 * decoded (static-table entries, or a literal with Huffman-coded digits).
 */
import tls from 'node:tls';

export const FRAME = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;

export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;

export interface H2Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

function hpackInt(value: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/** A header block of literal fields without indexing, new names, no Huffman (RFC 7541 §6.2.2). */
export function headerBlock(fields: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    parts.push(Buffer.from([0x00, ...hpackInt(n.length, 7, 0)]), n);
    parts.push(Buffer.from(hpackInt(v.length, 7, 0)), v);
  }
  return Buffer.concat(parts);
}

/** The pseudo-headers of a GET to `path`; `authority` null leaves :authority out. */
export function getRequest(path = '/', authority: string | null = 'a.test'): [string, string][] {
  const fields: [string, string][] = [
    [':method', 'GET'],
    [':scheme', 'https'],
    [':path', path],
  ];
  if (authority !== null) fields.push([':authority', authority]);
  return fields;
}

export function headersFrame(
  streamId: number,
  fields: [string, string][] | Buffer,
  opts: { endStream?: boolean; endHeaders?: boolean } = {},
): Buffer {
  const block = Buffer.isBuffer(fields) ? fields : headerBlock(fields);
  const flags =
    (opts.endStream !== false ? FLAG.END_STREAM : 0) |
    (opts.endHeaders !== false ? FLAG.END_HEADERS : 0);
  return frame(FRAME.HEADERS, flags, streamId, block);
}

export function rstStream(streamId: number, code = 0x8 /* CANCEL */): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, streamId, p);
}

export function settingsFrame(entries: [number, number][] = []): Buffer {
  const p = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, value], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(FRAME.SETTINGS, 0, 0, p);
}

export function pingFrame(n = 0): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(n >>> 0, 4);
  return frame(FRAME.PING, 0, 0, p);
}

/** RFC 7541 Appendix B codes of the ten digits: all a status line needs. */
const HUFFMAN_DIGITS: [number, number, string][] = [
  [0b00000, 5, '0'],
  [0b00001, 5, '1'],
  [0b00010, 5, '2'],
  [0b011001, 6, '3'],
  [0b011010, 6, '4'],
  [0b011011, 6, '5'],
  [0b011100, 6, '6'],
  [0b011101, 6, '7'],
  [0b011110, 6, '8'],
  [0b011111, 6, '9'],
];

function huffmanDigits(bytes: Buffer): string {
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  let out = '';
  let i = 0;
  while (out.length < 3 && i < bits.length) {
    const hit = HUFFMAN_DIGITS.find(([code, len]) => parseInt(bits.slice(i, i + len), 2) === code);
    if (hit === undefined || i + hit[1] > bits.length) break;
    out += hit[2];
    i += hit[1];
  }
  return out;
}

const STATIC_STATUS: Record<number, number> = {
  8: 200,
  9: 204,
  10: 206,
  11: 304,
  12: 400,
  13: 404,
  14: 500,
};

/** :status of a response header block; servers put it first (RFC 9113 §8.3). */
export function decodeStatus(block: Buffer): number | undefined {
  const b = block[0];
  if (b === undefined) return undefined;
  if (b & 0x80) return STATIC_STATUS[b & 0x7f];
  // literal with the indexed name :status (static index 8): with (0x40) or without (0x00/0x10) indexing
  const index = b & 0x40 ? b & 0x3f : b & 0x0f;
  if (index !== 8) return undefined;
  const lenByte = block[1]!;
  const len = lenByte & 0x7f;
  const value = block.subarray(2, 2 + len);
  const text = lenByte & 0x80 ? huffmanDigits(value) : value.toString('latin1');
  return Number(text);
}

export interface H2Client {
  socket: tls.TLSSocket;
  frames: H2Frame[];
  /** the server's GOAWAY, once one arrived */
  goaway: { lastStreamId: number; errorCode: number } | undefined;
  closed: boolean;
  /** writes, ignoring a connection the server already closed */
  send(...bufs: Buffer[]): void;
  /** waits until `check()` holds, the connection closes, or `timeoutMs` passes; returns check() */
  until(check: () => boolean, timeoutMs: number): Promise<boolean>;
  /** the response status of a stream, when its HEADERS arrived */
  status(streamId: number): number | undefined;
  /** the stream ended (END_STREAM from the server) or was reset */
  ended(streamId: number): boolean;
  destroy(): void;
}

/**
 * Opens a TLS connection with ALPN h2, sends the preface and an empty SETTINGS,
 * and acknowledges the server's SETTINGS (unless ackSettings is false).
 */
export function connectH2(
  port: number,
  opts: { ackSettings?: boolean; read?: boolean } = {},
): Promise<H2Client> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ALPNProtocols: ['h2'],
      rejectUnauthorized: false,
    });
    let buf: Buffer = Buffer.alloc(0);
    const waiters = new Set<() => void>();
    const wake = (): void => {
      for (const w of waiters) w();
    };
    const client: H2Client = {
      socket,
      frames: [],
      goaway: undefined,
      closed: false,
      send(...bufs) {
        if (socket.destroyed || !socket.writable) return;
        socket.write(bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs));
      },
      until(check, timeoutMs) {
        return new Promise((done) => {
          const test = (): void => {
            if (check() || client.closed) finish();
          };
          const finish = (): void => {
            clearTimeout(timer);
            waiters.delete(test);
            done(check());
          };
          const timer = setTimeout(finish, timeoutMs);
          waiters.add(test);
          test();
        });
      },
      status(streamId) {
        const h = client.frames.find((f) => f.type === FRAME.HEADERS && f.streamId === streamId);
        return h === undefined ? undefined : decodeStatus(h.payload);
      },
      ended(streamId) {
        return client.frames.some(
          (f) =>
            f.streamId === streamId &&
            (f.type === FRAME.RST_STREAM ||
              ((f.type === FRAME.DATA || f.type === FRAME.HEADERS) && (f.flags & 1) === 1)),
        );
      },
      destroy() {
        socket.destroy();
      },
    };
    socket.on('secureConnect', () => {
      if (socket.alpnProtocol !== 'h2') {
        reject(new Error(`ALPN gave ${String(socket.alpnProtocol)}, not h2`));
        socket.destroy();
        return;
      }
      socket.write(Buffer.concat([PREFACE, settingsFrame()]));
      resolve(client);
    });
    socket.on('error', (err) => {
      if (!client.closed && socket.alpnProtocol === undefined) reject(err);
    });
    socket.on('close', () => {
      client.closed = true;
      wake();
    });
    if (opts.read === false) return;
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const f: H2Frame = {
          type: buf[3]!,
          flags: buf[4]!,
          streamId: buf.readUInt32BE(5) & 0x7fffffff,
          payload: buf.subarray(9, 9 + len),
        };
        buf = buf.subarray(9 + len);
        client.frames.push(f);
        if (f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) === 0 && opts.ackSettings !== false)
          client.send(frame(FRAME.SETTINGS, FLAG.ACK, 0));
        if (f.type === FRAME.GOAWAY && client.goaway === undefined)
          client.goaway = {
            lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff,
            errorCode: f.payload.readUInt32BE(4),
          };
      }
      wake();
    });
  });
}

/** The server's SETTINGS parameters (RFC 9113 §6.5.2), from its first SETTINGS frame. */
export function serverSettings(frames: H2Frame[]): Map<number, number> {
  const out = new Map<number, number>();
  const f = frames.find((x) => x.type === FRAME.SETTINGS && (x.flags & FLAG.ACK) === 0);
  if (f === undefined) return out;
  for (let i = 0; i + 6 <= f.payload.length; i += 6)
    out.set(f.payload.readUInt16BE(i), f.payload.readUInt32BE(i + 2));
  return out;
}

export const SETTING = {
  HEADER_TABLE_SIZE: 1,
  ENABLE_PUSH: 2,
  MAX_CONCURRENT_STREAMS: 3,
  INITIAL_WINDOW_SIZE: 4,
  MAX_FRAME_SIZE: 5,
  MAX_HEADER_LIST_SIZE: 6,
} as const;
