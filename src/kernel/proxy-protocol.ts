/*
 * The PROXY protocol, versions 1 (text) and 2 (binary), as HAProxy specifies
 * it (doc/proxy-protocol.txt) and as Traefik uses it through
 * github.com/pires/go-proxyproto (issue 13 item 6):
 *
 * - entrypoints read a header at the start of a connection: a trusted
 *   sender's header gives the client address (go-proxyproto policy USE); an
 *   untrusted sender's header is read and dropped, the real peer address
 *   stays (IGNORE); a connection with no header is used as it is, from any
 *   sender (go-proxyproto looks at the first bytes and carries on); a broken
 *   header closes the connection, from any sender;
 * - TCP services send one to their servers (serversTransport proxyProtocol).
 *
 * Nothing here imports above the kernel, so src/server (reading) and
 * src/proxy (sending) can both use it.
 */
import { isIPv4, isIPv6, SocketAddress, type Socket } from 'node:net';
import { compileIpMatcher } from './ip-match.js';

export interface ProxyAddress {
  address: string;
  port: number;
}

export type ProxyTransport =
  'tcp4' | 'tcp6' | 'udp4' | 'udp6' | 'unix-stream' | 'unix-dgram' | 'unspec';

/** A PROXY header as read from the wire. */
export interface ProxyHeader {
  version: 1 | 2;
  /**
   * 'proxy': the connection was relayed for `source`; 'local': use the real
   * endpoints (v2 LOCAL, sent by health checks; v1 UNKNOWN)
   */
  command: 'proxy' | 'local';
  transport: ProxyTransport;
  /** set for a 'proxy' header over IPv4/IPv6; an AF_UNIX one has no address Portico can use */
  source?: ProxyAddress;
  destination?: ProxyAddress;
  /** v2 type-length-value extensions, not interpreted (empty for v1) */
  tlvs: Buffer;
}

export type ProxyHeaderErrorCode =
  | 'ERR_PROXY_HEADER_INVALID'
  | 'ERR_PROXY_HEADER_TOO_LONG'
  | 'ERR_PROXY_HEADER_TIMEOUT'
  | 'ERR_PROXY_HEADER_CLOSED';

/**
 * What readProxyHeader found. In every case the socket is left paused and
 * `rest` holds the bytes read past the header (the whole read for 'none'):
 * the caller gives them back with `socket.unshift(rest)` before anything else
 * reads the socket.
 */
export type ProxyHeaderResult =
  /**
   * No header: the connection is used as it is. `timedOut`: timeoutMs passed
   * before the first bytes could tell (go-proxyproto turns that deadline into
   * "no PROXY protocol" too).
   */
  | { kind: 'none'; timedOut: boolean; rest: Buffer }
  /**
   * A header was read and removed. `client` is the address to use: the
   * header's source when the sender is trusted and the header carries one,
   * else undefined (keep the socket's own address).
   */
  | { kind: 'header'; header: ProxyHeader; client: ProxyAddress | undefined; rest: Buffer }
  /** A broken, oversized, unfinished or cut-off header: the caller closes the connection. */
  | { kind: 'error'; code: ProxyHeaderErrorCode; message: string; rest: Buffer };

/** What parseProxyHeader makes of the bytes received so far. */
export type ProxyParse =
  | { state: 'none' }
  /** `started`: a signature was seen, the header is incomplete */
  | { state: 'need-more'; started: boolean }
  | { state: 'header'; header: ProxyHeader; length: number }
  | { state: 'error'; code: 'invalid' | 'too-long'; message: string };

const V1_SIGNATURE = Buffer.from('PROXY', 'latin1');
const V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
/** spec 2.1: "PROXY UNKNOWN" + two full IPv6 addresses and ports + CRLF */
const V1_MAX = 107;
/**
 * go-proxyproto's bound on a v2 header's address block and TLVs (4 KiB, room
 * for a client certificate TLV); the wire format allows 64 KiB
 */
export const DEFAULT_MAX_V2_BYTES = 16 + 4096;

const EMPTY = Buffer.alloc(0);

/** how much of `sig` `buf` matches: all of it, a prefix so far, or not */
function matchSignature(buf: Buffer, sig: Buffer): 'full' | 'prefix' | 'no' {
  const n = Math.min(buf.length, sig.length);
  for (let i = 0; i < n; i++) if (buf[i] !== sig[i]) return 'no';
  return buf.length >= sig.length ? 'full' : 'prefix';
}

const invalid = (message: string): ProxyParse => ({ state: 'error', code: 'invalid', message });

/**
 * Reads a PROXY header from the start of `buf`, the bytes a connection has
 * received so far. Pure and total: any input gives an answer, never a throw.
 * `maxBytes` bounds a v2 header (16 bytes + address block + TLVs).
 */
export function parseProxyHeader(buf: Buffer, maxBytes = DEFAULT_MAX_V2_BYTES): ProxyParse {
  if (buf.length === 0) return { state: 'need-more', started: false };
  const v1 = matchSignature(buf, V1_SIGNATURE);
  if (v1 === 'full') return parseV1(buf);
  if (v1 === 'prefix') return { state: 'need-more', started: false };
  const v2 = matchSignature(buf, V2_SIGNATURE);
  if (v2 === 'full') return parseV2(buf, maxBytes);
  if (v2 === 'prefix') return { state: 'need-more', started: false };
  return { state: 'none' };
}

// --- version 1 ----------------------------------------------------------------

/** spec 2.1: decimal 0..65535, no heading zero (octal confusion) */
const V1_PORT = /^(?:0|[1-9]\d{0,4})$/;

function parseV1(buf: Buffer): ProxyParse {
  const lf = buf.subarray(0, V1_MAX).indexOf(0x0a);
  if (lf === -1) {
    if (buf.length >= V1_MAX) {
      return { state: 'error', code: 'too-long', message: 'no CRLF in the first 107 bytes' };
    }
    return { state: 'need-more', started: true };
  }
  // spec: a lone LF must not end the line
  if (lf === 0 || buf[lf - 1] !== 0x0d) return invalid('line does not end with CRLF');
  const length = lf + 1;
  const fields = buf.toString('latin1', 0, lf - 1).split(' ');
  if (fields[0] !== 'PROXY') return invalid('"PROXY" is not followed by one space');
  const proto = fields[1];
  if (proto === 'UNKNOWN') {
    // spec: the receiver ignores the rest of the line and uses the real connection
    return {
      state: 'header',
      length,
      header: { version: 1, command: 'local', transport: 'unspec', tlvs: EMPTY },
    };
  }
  if (proto !== 'TCP4' && proto !== 'TCP6') return invalid(`unknown protocol ${quote(proto)}`);
  if (fields.length !== 6) return invalid(`${fields.length - 2} fields after ${proto}, want 4`);
  const src = v1Address(proto, fields[2]!);
  const dst = v1Address(proto, fields[3]!);
  if (src === undefined || dst === undefined) {
    return invalid(`bad ${proto} address ${quote(src === undefined ? fields[2] : fields[3])}`);
  }
  const sport = v1Port(fields[4]!);
  const dport = v1Port(fields[5]!);
  if (sport === undefined || dport === undefined) {
    return invalid(`bad port ${quote(sport === undefined ? fields[4] : fields[5])}`);
  }
  return {
    state: 'header',
    length,
    header: {
      version: 1,
      command: 'proxy',
      transport: proto === 'TCP4' ? 'tcp4' : 'tcp6',
      source: { address: src, port: sport },
      destination: { address: dst, port: dport },
      tlvs: EMPTY,
    },
  };
}

function v1Port(text: string): number | undefined {
  if (!V1_PORT.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

/** canonical text of a v1 address, or undefined when it is not one of `proto`'s family */
function v1Address(proto: 'TCP4' | 'TCP6', text: string): string | undefined {
  // net.isIPv4 refuses heading zeros (spec 2.1: no octal confusion); a zone is no part of the format
  if (proto === 'TCP4') return isIPv4(text) ? text : undefined;
  if (text.includes('%')) return undefined;
  if (isIPv6(text)) return canonicalIPv6(text);
  // go-proxyproto accepts IPv4 in TCP6 (nginx's stream module sends it) as IPv4-mapped
  if (isIPv4(text)) return `::ffff:${text}`;
  return undefined;
}

// --- version 2 ----------------------------------------------------------------

/** address block length by family nibble (spec 2.2) */
const V2_BLOCK: Record<number, number> = { 0x0: 0, 0x1: 12, 0x2: 36, 0x3: 216 };
const V2_TRANSPORT: Record<number, ProxyTransport> = {
  0x00: 'unspec',
  0x11: 'tcp4',
  0x12: 'udp4',
  0x21: 'tcp6',
  0x22: 'udp6',
  0x31: 'unix-stream',
  0x32: 'unix-dgram',
};

function parseV2(buf: Buffer, maxBytes: number): ProxyParse {
  if (buf.length < 16) return { state: 'need-more', started: true };
  const verCmd = buf[12]!;
  // spec 2.2: the version must be 2; commands other than LOCAL and PROXY make the receiver drop the connection
  if (verCmd >> 4 !== 2) return invalid(`version ${verCmd >> 4} in a v2 header`);
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return invalid(`unknown command ${cmd}`);
  const fam = buf[13]!;
  const transport = V2_TRANSPORT[fam];
  // spec 2.2: other families and protocols "must be rejected as invalid by receivers"
  if (transport === undefined) return invalid(`unknown address family and protocol 0x${hex(fam)}`);
  // go-proxyproto refuses PROXY with AF_UNSPEC (the spec lets the receiver choose)
  if (cmd === 1 && transport === 'unspec') return invalid('PROXY command with AF_UNSPEC');
  const len = buf.readUInt16BE(14);
  const total = 16 + len;
  if (total > maxBytes) {
    return { state: 'error', code: 'too-long', message: `v2 header of ${total} bytes` };
  }
  const block = V2_BLOCK[fam >> 4]!;
  if (len < block) return invalid(`length ${len} is shorter than the ${block}-byte address block`);
  if (buf.length < total) return { state: 'need-more', started: true };
  // the TLVs are kept as bytes and never walked here, so a malformed one cannot hurt
  const tlvs = Buffer.from(buf.subarray(16 + block, total));
  const header: ProxyHeader = {
    version: 2,
    command: cmd === 1 ? 'proxy' : 'local',
    transport,
    tlvs,
  };
  // LOCAL: "discard the protocol block including the family" (spec 2.2); AF_UNIX paths are no client IP
  if (cmd === 1 && (block === 12 || block === 36)) {
    const size = block === 12 ? 4 : 16;
    const a = 16;
    const b = 16 + size;
    const ports = 16 + 2 * size;
    header.source = { address: binaryAddress(buf, a, size), port: buf.readUInt16BE(ports) };
    header.destination = {
      address: binaryAddress(buf, b, size),
      port: buf.readUInt16BE(ports + 2),
    };
  }
  return { state: 'header', header, length: total };
}

function binaryAddress(buf: Buffer, at: number, size: 4 | 16): string {
  if (size === 4) return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(buf.readUInt16BE(at + i).toString(16));
  return canonicalIPv6(groups.join(':'));
}

/**
 * RFC 5952 text (lower case, longest zero run as "::"), through Node's own
 * formatter; the text as given should it ever refuse what isIPv6 accepted
 * (this runs inside socket callbacks, where a throw would end the process)
 */
function canonicalIPv6(text: string): string {
  try {
    return new SocketAddress({ address: text, family: 'ipv6' }).address;
  } catch {
    return text.toLowerCase();
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

function quote(text: string | undefined): string {
  return JSON.stringify((text ?? '').slice(0, 60));
}

// --- reading from a connection --------------------------------------------------

/**
 * Whose headers give the client address, from entryPoints.<n>.proxyProtocol
 * (Traefik's buildProxyProtocolListener): everyone's with `insecure`, else
 * the peers inside `trustedIPs`. `ip` is the socket's remoteAddress.
 */
export function createProxyTrustCheck(cfg: {
  trustedIPs: readonly string[];
  insecure: boolean;
}): (ip: string) => boolean {
  if (cfg.insecure) return () => true;
  // the static configuration lets an IPv6 zone through (fe80::1%eth0), the matcher does not
  // (as for forwardedHeaders.trustedIPs in server/admission.ts)
  const list = compileIpMatcher(cfg.trustedIPs.map((e) => e.replace(/%[^/]*/, '')));
  return (ip) => list.contains(ip);
}

const ERROR_CODE = {
  invalid: 'ERR_PROXY_HEADER_INVALID',
  'too-long': 'ERR_PROXY_HEADER_TOO_LONG',
} as const;

/**
 * Reads an optional PROXY header (v1 or v2) from the start of a fresh
 * connection, before anything else reads it. Never rejects. `timeoutMs` is
 * the entrypoint's readTimeout, as Traefik passes it to go-proxyproto
 * (0: no deadline, as there); it bounds how long a header may take. A
 * trusted sender's header gives `client`; any other header is only removed.
 *
 * The socket needs an 'error' listener of the caller's once this resolves;
 * until then this function has its own.
 */
export function readProxyHeader(
  socket: Socket,
  opts: { trusted: boolean; timeoutMs: number; maxBytes?: number },
): Promise<ProxyHeaderResult> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_V2_BYTES;
  return new Promise<ProxyHeaderResult>((resolve) => {
    let buf: Buffer = EMPTY;
    let done = false;
    let timer: NodeJS.Timeout | undefined;

    const settle = (result: ProxyHeaderResult): void => {
      if (done) return;
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onClosed);
      socket.off('close', onClosed);
      socket.off('error', onError);
      // nothing reads the socket until the caller has put `rest` back in front
      socket.pause();
      resolve(result);
    };
    const fail = (code: ProxyHeaderErrorCode, message: string): void =>
      settle({ kind: 'error', code, message, rest: buf });

    const decide = (): void => {
      const out = parseProxyHeader(buf, maxBytes);
      switch (out.state) {
        case 'need-more':
          return;
        case 'none':
          return settle({ kind: 'none', timedOut: false, rest: buf });
        case 'error':
          return fail(ERROR_CODE[out.code], `proxy protocol: ${out.message}`);
        case 'header': {
          const h = out.header;
          const client =
            opts.trusted && h.command === 'proxy' && h.source !== undefined ? h.source : undefined;
          return settle({ kind: 'header', header: h, client, rest: buf.subarray(out.length) });
        }
      }
    };

    function onReadable(): void {
      let chunk: Buffer | null;
      while (!done && (chunk = socket.read() as Buffer | null) !== null) {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        decide();
      }
    }
    function onClosed(): void {
      fail('ERR_PROXY_HEADER_CLOSED', 'proxy protocol: connection closed before the header ended');
    }
    function onError(err: Error): void {
      fail('ERR_PROXY_HEADER_CLOSED', `proxy protocol: connection failed: ${err.message}`);
    }

    if (socket.destroyed || socket.readableEnded) {
      onClosed();
      return;
    }
    socket.on('readable', onReadable);
    socket.once('end', onClosed);
    socket.once('close', onClosed);
    socket.once('error', onError);
    if (opts.timeoutMs > 0) {
      timer = setTimeout(() => {
        const out = parseProxyHeader(buf, maxBytes);
        // the deadline before a signature could be told apart: go-proxyproto reads that as no header
        if (out.state === 'need-more' && !out.started) {
          settle({ kind: 'none', timedOut: true, rest: buf });
        } else {
          fail(
            'ERR_PROXY_HEADER_TIMEOUT',
            `proxy protocol: header unfinished after ${opts.timeoutMs} ms`,
          );
        }
      }, opts.timeoutMs);
      timer.unref();
    }
    onReadable();
  });
}

// --- sending ----------------------------------------------------------------------

/** an IPv4-mapped IPv6 address is its IPv4 address (Go's To4, which go-proxyproto uses) */
function family(address: string): { family: 4 | 6; address: string } | undefined {
  if (isIPv4(address)) return { family: 4, address };
  const bare = address.replace(/%.*$/, '');
  if (!isIPv6(bare)) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped !== null && isIPv4(mapped[1]!)) return { family: 4, address: mapped[1]! };
  return { family: 6, address: canonicalIPv6(bare) };
}

const validPort = (port: number): boolean => Number.isInteger(port) && port >= 0 && port <= 65535;

/**
 * The header a TCP service sends first to its server (serversTransport
 * proxyProtocol.version), for a client connection from `source` to
 * `destination`. Endpoints that cannot be written (mixed IPv4/IPv6, no
 * address: a socket already closed) give "PROXY UNKNOWN" (v1, spec 2.1) or
 * LOCAL with AF_UNSPEC (v2, what go-proxyproto sends then): the server then
 * uses the connection's own addresses.
 */
export function encodeProxyHeader(
  version: 1 | 2,
  source: ProxyAddress,
  destination: ProxyAddress,
): Buffer {
  if (version !== 1 && version !== 2) {
    throw new RangeError(`proxy protocol version ${String(version)} (want 1 or 2)`);
  }
  const src = family(source.address);
  const dst = family(destination.address);
  const usable =
    src !== undefined &&
    dst !== undefined &&
    src.family === dst.family &&
    validPort(source.port) &&
    validPort(destination.port);
  if (version === 1) {
    if (!usable) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
    const proto = src.family === 4 ? 'TCP4' : 'TCP6';
    return Buffer.from(
      `PROXY ${proto} ${src.address} ${dst.address} ${source.port} ${destination.port}\r\n`,
      'latin1',
    );
  }
  if (!usable) return Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
  const size = src.family === 4 ? 4 : 16;
  const out = Buffer.alloc(16 + 2 * size + 4);
  V2_SIGNATURE.copy(out, 0);
  out[12] = 0x21; // version 2, PROXY
  out[13] = src.family === 4 ? 0x11 : 0x21; // TCP over IPv4 / IPv6
  out.writeUInt16BE(2 * size + 4, 14);
  writeAddress(out, 16, src);
  writeAddress(out, 16 + size, dst);
  out.writeUInt16BE(source.port, 16 + 2 * size);
  out.writeUInt16BE(destination.port, 18 + 2 * size);
  return out;
}

function writeAddress(out: Buffer, at: number, a: { family: 4 | 6; address: string }): void {
  if (a.family === 4) {
    const parts = a.address.split('.');
    for (let i = 0; i < 4; i++) out[at + i] = Number(parts[i]);
    return;
  }
  const groups = expandIPv6(a.address);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(groups[i]!, at + 2 * i);
}

/** the 8 groups of a valid IPv6 text (checked by isIPv6), with "::" and a dotted IPv4 tail */
function expandIPv6(text: string): number[] {
  let t = text;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(t);
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    t = t.slice(0, dotted.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = t.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const tl = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : new Array<string>(8 - h.length - tl.length).fill('0');
  return [...h, ...zeros, ...tl].map((g) => parseInt(g, 16));
}
