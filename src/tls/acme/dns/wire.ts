/*
 * The DNS wire format, as much of it as DNS-01 needs: queries (TXT, SOA, NS,
 * CNAME) for the propagation check, and dynamic updates (RFC 2136) signed with
 * TSIG (RFC 8945) for the rfc2136 provider. Written here rather than taken from
 * npm: the maintained DNS packages there either lack TSIG or UPDATE, and
 * node:dns can neither send updates nor pick the RD bit (lego queries
 * authoritative servers with RD=0) and may cache answers between polls.
 *
 * Messages go over UDP and are retried over TCP when truncated (RFC 1035
 * 4.2.2 framing: a two-byte length before each message).
 */
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, TXT: 16, AAAA: 28, TSIG: 250 } as const;
const CLASS_IN = 1;
const CLASS_NONE = 254;
const CLASS_ANY = 255;
const OPCODE_UPDATE = 5;

export const RCODE_NAMES = [
  'NOERROR',
  'FORMERR',
  'SERVFAIL',
  'NXDOMAIN',
  'NOTIMP',
  'REFUSED',
  'YXDOMAIN',
  'YXRRSET',
  'NXRRSET',
  'NOTAUTH',
  'NOTZONE',
];
const TSIG_ERRORS: Record<number, string> = { 16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME' };

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? TSIG_ERRORS[rcode] ?? `RCODE${rcode}`;
}

/** `name` with exactly one trailing dot, lower-cased (DNS names compare case-insensitively). */
export function fqdn(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n : `${n}.`;
}

export function unFqdn(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

function encodeName(name: string): Buffer {
  const parts: Buffer[] = [];
  for (const label of unFqdn(name).split('.')) {
    if (label === '') continue;
    const b = Buffer.from(label, 'utf8');
    if (b.length > 63) throw new Error(`dns: label too long in ${name}`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** TXT rdata: the value split into character-strings of at most 255 bytes (RFC 1035 3.3.14). */
function txtRdata(value: string): Buffer {
  const b = Buffer.from(value, 'utf8');
  if (b.length === 0) return Buffer.from([0]);
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length; i += 255) {
    const chunk = b.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function rr(name: string, type: number, cls: number, ttl: number, rdata: Buffer): Buffer {
  return Buffer.concat([encodeName(name), u16(type), u16(cls), u32(ttl), u16(rdata.length), rdata]);
}

function header(id: number, flags: number, counts: [number, number, number, number]): Buffer {
  return Buffer.concat([u16(id), u16(flags), ...counts.map(u16)]);
}

export function buildQuery(id: number, name: string, type: number, recursive: boolean): Buffer {
  const question = Buffer.concat([encodeName(name), u16(type), u16(CLASS_IN)]);
  return Buffer.concat([header(id, recursive ? 0x0100 : 0, [1, 0, 0, 0]), question]);
}

export interface TxtChange {
  /** add: an RR to the RRset (RFC 2136 2.5.1); delete: that one RR (2.5.4) */
  action: 'add' | 'delete';
  name: string;
  value: string;
  ttl: number;
}

/** An UPDATE message for `zone` (RFC 2136 2): no prerequisites, the changes in the update section. */
export function buildUpdate(id: number, zone: string, changes: readonly TxtChange[]): Buffer {
  const zoneSection = Buffer.concat([encodeName(zone), u16(TYPE.SOA), u16(CLASS_IN)]);
  const updates = changes.map((c) =>
    c.action === 'add'
      ? rr(c.name, TYPE.TXT, CLASS_IN, c.ttl, txtRdata(c.value))
      : rr(c.name, TYPE.TXT, CLASS_NONE, 0, txtRdata(c.value)),
  );
  return Buffer.concat([
    header(id, OPCODE_UPDATE << 11, [1, 0, updates.length, 0]),
    zoneSection,
    ...updates,
  ]);
}

// --- TSIG (RFC 8945) ------------------------------------------------------------

/** TSIG algorithm names (RFC 8945 6) and the HMAC digest behind each. */
const TSIG_ALGORITHMS: Record<string, string> = {
  'hmac-md5.sig-alg.reg.int.': 'md5',
  'hmac-sha1.': 'sha1',
  'hmac-sha224.': 'sha224',
  'hmac-sha256.': 'sha256',
  'hmac-sha384.': 'sha384',
  'hmac-sha512.': 'sha512',
};

export interface TsigKey {
  name: string;
  /** as RFC2136_TSIG_ALGORITHM spells it; with or without the trailing dot */
  algorithm: string;
  /** base64 */
  secret: string;
}

/** The canonical algorithm name, or undefined when unsupported. */
export function tsigAlgorithm(name: string): string | undefined {
  const n = fqdn(name);
  if (n === 'hmac-md5.') return 'hmac-md5.sig-alg.reg.int.';
  return TSIG_ALGORITHMS[n] ? n : undefined;
}

export const TSIG_ALGORITHM_NAMES = Object.keys(TSIG_ALGORITHMS);

function tsigVariables(
  key: TsigKey,
  algorithm: string,
  timeSigned: number,
  fudge: number,
  error: number,
  other: Buffer,
): Buffer {
  const time = Buffer.alloc(6);
  time.writeUIntBE(timeSigned, 0, 6);
  return Buffer.concat([
    encodeName(fqdn(key.name)),
    u16(CLASS_ANY),
    u32(0),
    encodeName(algorithm),
    time,
    u16(fudge),
    u16(error),
    u16(other.length),
    other,
  ]);
}

function hmac(algorithm: string, secret: string, ...parts: Buffer[]): Buffer {
  const h = createHmac(TSIG_ALGORITHMS[algorithm]!, Buffer.from(secret, 'base64'));
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Appends a TSIG RR to `msg` (RFC 8945 5.3); returns the signed message and its MAC. */
export function signTsig(
  msg: Buffer,
  key: TsigKey,
  now = Math.floor(Date.now() / 1000),
): { message: Buffer; mac: Buffer } {
  const algorithm = tsigAlgorithm(key.algorithm);
  if (!algorithm) throw new Error(`dns: unsupported TSIG algorithm ${key.algorithm}`);
  const fudge = 300;
  const mac = hmac(
    algorithm,
    key.secret,
    msg,
    tsigVariables(key, algorithm, now, fudge, 0, Buffer.alloc(0)),
  );
  const time = Buffer.alloc(6);
  time.writeUIntBE(now, 0, 6);
  const rdata = Buffer.concat([
    encodeName(algorithm),
    time,
    u16(fudge),
    u16(mac.length),
    mac,
    msg.subarray(0, 2), // original id
    u16(0),
    u16(0),
  ]);
  const out = Buffer.concat([msg, rr(fqdn(key.name), TYPE.TSIG, CLASS_ANY, 0, rdata)]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return { message: out, mac };
}

// --- parsing ----------------------------------------------------------------------

export interface DnsRecord {
  name: string;
  type: number;
  ttl: number;
  /** TXT: the character-strings joined; NS/CNAME: the target; SOA: the primary name server */
  data: string;
  /** offset of the RR in the message and its raw rdata (TSIG verification) */
  offset: number;
  rdata: Buffer;
}

export interface Message {
  id: number;
  flags: number;
  rcode: number;
  truncated: boolean;
  answers: DnsRecord[];
  authority: DnsRecord[];
  additional: DnsRecord[];
}

function readName(buf: Buffer, start: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = start;
  let next = -1;
  for (let jumps = 0; jumps < 64;) {
    const len = buf[pos];
    if (len === undefined) throw new Error('dns: truncated name');
    if ((len & 0xc0) === 0xc0) {
      if (next < 0) next = pos + 2;
      pos = buf.readUInt16BE(pos) & 0x3fff;
      jumps++;
      continue;
    }
    if (len === 0) {
      if (next < 0) next = pos + 1;
      return { name: labels.length ? `${labels.join('.')}.` : '.', next };
    }
    labels.push(buf.toString('utf8', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  throw new Error('dns: name compression loop');
}

function readRecords(
  buf: Buffer,
  pos: number,
  count: number,
): { records: DnsRecord[]; next: number } {
  const records: DnsRecord[] = [];
  for (let i = 0; i < count; i++) {
    const offset = pos;
    const { name, next } = readName(buf, pos);
    if (next + 10 > buf.length) throw new Error('dns: truncated record');
    const type = buf.readUInt16BE(next);
    const ttl = buf.readUInt32BE(next + 4);
    const len = buf.readUInt16BE(next + 8);
    const start = next + 10;
    if (start + len > buf.length) throw new Error('dns: truncated rdata');
    const rdata = buf.subarray(start, start + len);
    let data = '';
    if (type === TYPE.TXT) {
      const parts: string[] = [];
      for (let p = 0; p < rdata.length;) {
        const l = rdata[p]!;
        parts.push(rdata.toString('utf8', p + 1, p + 1 + l));
        p += 1 + l;
      }
      data = parts.join('');
    } else if (type === TYPE.NS || type === TYPE.CNAME || type === TYPE.SOA) {
      data = readName(buf, start).name;
    } else if (type === TYPE.A && len === 4) {
      data = [...rdata].join('.');
    } else if (type === TYPE.AAAA && len === 16) {
      const groups: string[] = [];
      for (let g = 0; g < 16; g += 2) groups.push(rdata.readUInt16BE(g).toString(16));
      data = groups.join(':');
    }
    records.push({ name: name.toLowerCase(), type, ttl, data, offset, rdata });
    pos = start + len;
  }
  return { records, next: pos };
}

export function parseMessage(buf: Buffer): Message {
  if (buf.length < 12) throw new Error('dns: short message');
  const flags = buf.readUInt16BE(2);
  let pos = 12;
  for (let i = 0; i < buf.readUInt16BE(4); i++) pos = readName(buf, pos).next + 4;
  const an = readRecords(buf, pos, buf.readUInt16BE(6));
  const ns = readRecords(buf, an.next, buf.readUInt16BE(8));
  const ar = readRecords(buf, ns.next, buf.readUInt16BE(10));
  return {
    id: buf.readUInt16BE(0),
    flags,
    rcode: flags & 0x0f,
    truncated: (flags & 0x0200) !== 0,
    answers: an.records,
    authority: ns.records,
    additional: ar.records,
  };
}

/**
 * Checks a response's TSIG against the request MAC (RFC 8945 5.3.2, 5.4.1):
 * throws when the server's signature is missing or wrong, so a forged
 * NOERROR cannot pass for a successful update.
 */
export function verifyTsig(
  response: Buffer,
  parsed: Message,
  key: TsigKey,
  requestMac: Buffer,
): void {
  const tsig = parsed.additional.at(-1);
  if (!tsig || tsig.type !== TYPE.TSIG) throw new Error('dns: the response is not signed (TSIG)');
  const algorithm = tsigAlgorithm(key.algorithm)!;
  const r = tsig.rdata;
  const alg = readName(r, 0);
  let p = alg.next;
  const timeSigned = r.readUIntBE(p, 6);
  const fudge = r.readUInt16BE(p + 6);
  const macLen = r.readUInt16BE(p + 8);
  const mac = r.subarray(p + 10, p + 10 + macLen);
  p += 10 + macLen;
  const originalId = r.readUInt16BE(p);
  const error = r.readUInt16BE(p + 2);
  const other = r.subarray(p + 6, p + 6 + r.readUInt16BE(p + 4));
  if (error !== 0)
    throw new Error(`dns: the server rejected the TSIG signature: ${rcodeName(error)}`);
  const unsigned = Buffer.from(response.subarray(0, tsig.offset));
  unsigned.writeUInt16BE(originalId, 0);
  unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
  const expected = hmac(
    algorithm,
    key.secret,
    u16(requestMac.length),
    requestMac,
    unsigned,
    tsigVariables(key, algorithm, timeSigned, fudge, error, other),
  );
  if (expected.length !== mac.length || !timingSafeEqual(expected, mac))
    throw new Error('dns: the response TSIG signature does not verify');
}

// --- transport --------------------------------------------------------------------

/** "host:port" or "host" (port 53) or "[v6]:port" → host and port. */
export function parseServer(server: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(server) ?? /^([^:]+)(?::(\d+))?$/.exec(server);
  if (m) return { host: m[1]!, port: m[2] ? Number(m[2]) : 53 };
  if (net.isIPv6(server)) return { host: server, port: 53 };
  throw new Error(`dns: invalid server address ${server}`);
}

const hostPort = (host: string, port: number): string =>
  net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;

function exchangeUdp(msg: Buffer, host: string, port: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    const id = msg.readUInt16BE(0);
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`dns: no answer from ${hostPort(host, port)} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('message', (reply) => {
      if (reply.length < 2 || reply.readUInt16BE(0) !== id) return; // not ours
      clearTimeout(timer);
      sock.close();
      resolve(reply);
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      sock.close();
      reject(new Error(`dns: ${hostPort(host, port)}: ${err.message}`, { cause: err }));
    });
    // connected: replies from other addresses are dropped by the kernel, and an ICMP
    // port-unreachable surfaces at once as ECONNREFUSED instead of a timeout
    sock.connect(port, host, () => sock.send(msg));
  });
}

function exchangeTcp(msg: Buffer, host: string, port: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let data = Buffer.alloc(0);
    sock.setTimeout(timeoutMs, () =>
      sock.destroy(new Error(`dns: no answer from ${hostPort(host, port)} within ${timeoutMs} ms`)),
    );
    sock.on('connect', () => sock.write(Buffer.concat([u16(msg.length), msg])));
    sock.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
      if (data.length >= 2 && data.length >= 2 + data.readUInt16BE(0)) {
        sock.destroy();
        resolve(data.subarray(2, 2 + data.readUInt16BE(0)));
      }
    });
    sock.on('error', (err) =>
      reject(new Error(`dns: ${hostPort(host, port)}: ${err.message}`, { cause: err })),
    );
    sock.on('close', () => reject(new Error(`dns: ${hostPort(host, port)} closed the connection`)));
  });
}

/** Sends `msg` to `server`, over TCP when the UDP answer is truncated. */
export async function exchange(msg: Buffer, server: string, timeoutMs: number): Promise<Buffer> {
  const { host, port } = parseServer(server);
  const reply = await exchangeUdp(msg, host, port, timeoutMs);
  if ((reply.readUInt16BE(2) & 0x0200) === 0) return reply;
  return exchangeTcp(msg, host, port, timeoutMs);
}

export function newId(): number {
  return randomInt(0, 0x10000);
}

/** One query; the parsed answer (any rcode). */
export async function query(
  server: string,
  name: string,
  type: number,
  opts: { recursive: boolean; timeoutMs: number },
): Promise<Message> {
  return parseMessage(
    await exchange(buildQuery(newId(), fqdn(name), type, opts.recursive), server, opts.timeoutMs),
  );
}
