/*
 * PROXY protocol v1 and v2 (issue 13 item 6), against the HAProxy
 * specification (doc/proxy-protocol.txt) and what Traefik does with
 * github.com/pires/go-proxyproto: a trusted sender's header gives the client
 * address (policy USE), an untrusted sender's is read and dropped (IGNORE), a
 * connection without a header is used as it is, and a broken header closes
 * the connection. Every case runs over a real loopback socket, and the bytes
 * after the header must reach the caller unchanged.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createProxyTrustCheck,
  encodeProxyHeader,
  parseProxyHeader,
  readProxyHeader,
  type ProxyHeaderResult,
} from '../../src/kernel/proxy-protocol.js';

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** a v2 header by hand: version/command byte, family byte, then the address block and TLVs */
function v2(verCmd: number, fam: number, block: Buffer, declaredLength = block.length): Buffer {
  const head = Buffer.alloc(4);
  head[0] = verCmd;
  head[1] = fam;
  head.writeUInt16BE(declaredLength, 2);
  return Buffer.concat([SIG, head, block]);
}

function ipv4Block(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  Buffer.from(src).copy(b, 0);
  Buffer.from(dst).copy(b, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

function tlv(type: number, value: Buffer): Buffer {
  const b = Buffer.alloc(3);
  b[0] = type;
  b.writeUInt16BE(value.length, 1);
  return Buffer.concat([b, value]);
}

const HTTP_REQUEST = Buffer.from('GET /after HTTP/1.1\r\nHost: example.test\r\n\r\n');
/** a TLS ClientHello's first bytes: handshake record, TLS 1.0 record version */
const CLIENT_HELLO = Buffer.from([
  0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
]);

// --- a loopback server that runs readProxyHeader on each connection ---------

interface Accepted {
  result: ProxyHeaderResult;
  ms: number;
  socket: net.Socket;
}

let server: net.Server;
let port = 0;
let opts = { trusted: true, timeoutMs: 2000 } as {
  trusted: boolean;
  timeoutMs: number;
  maxBytes?: number;
};
const waiting: ((a: Accepted) => void)[] = [];

beforeAll(async () => {
  server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    const started = performance.now();
    void readProxyHeader(socket, opts).then((result) => {
      const next = waiting.shift();
      next?.({ result, ms: performance.now() - started, socket });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

/**
 * Connects, writes each part (a pause between parts lets them arrive as
 * separate reads), optionally half-closes, and returns what readProxyHeader
 * said on the server side.
 */
async function exchange(
  parts: Buffer[],
  o: Partial<typeof opts> & { end?: boolean; gapMs?: number } = {},
): Promise<Accepted & { client: net.Socket }> {
  opts = { trusted: o.trusted ?? true, timeoutMs: o.timeoutMs ?? 2000, maxBytes: o.maxBytes };
  const accepted = new Promise<Accepted>((resolve) => waiting.push(resolve));
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => undefined);
  await new Promise((resolve) => client.once('connect', resolve));
  // written in the background: a slow sender may still be writing when the server has decided
  void (async () => {
    for (const [i, part] of parts.entries()) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, o.gapMs ?? 30));
      if (client.destroyed) return;
      client.write(part);
    }
    if (o.end === true) client.end();
  })();
  const a = await accepted;
  return { ...a, client };
}

/** the result's bytes after the header, plus whatever the socket still holds (nothing is lost) */
async function remainder(a: Accepted, expected: number): Promise<Buffer> {
  const chunks: Buffer[] = [a.result.rest];
  let total = a.result.rest.length;
  a.socket.on('data', (c: Buffer) => {
    chunks.push(c);
    total += c.length;
  });
  a.socket.resume();
  const deadline = Date.now() + 2000;
  while (total < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  return Buffer.concat(chunks);
}

function close(a: { socket: net.Socket; client: net.Socket }): void {
  a.socket.destroy();
  a.client.destroy();
}

// --- parsing: table-driven, pure ---------------------------------------------

describe('parseProxyHeader (pure)', () => {
  it.each([
    [
      'v1 TCP4',
      'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n',
      { transport: 'tcp4', source: ['192.168.0.1', 56324], destination: ['192.168.0.11', 443] },
    ],
    [
      'v1 TCP6, canonicalised',
      'PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::1 1 65535\r\n',
      { transport: 'tcp6', source: ['2001:db8::1', 1], destination: ['::1', 65535] },
    ],
    [
      'v1 TCP6 carrying IPv4 (nginx stream module, accepted by go-proxyproto)',
      'PROXY TCP6 10.1.2.3 ::1 80 8080\r\n',
      { transport: 'tcp6', source: ['::ffff:10.1.2.3', 80], destination: ['::1', 8080] },
    ],
    [
      'v1 longest TCP6 line (104 bytes)',
      'PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n',
      {
        transport: 'tcp6',
        source: ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 65535],
        destination: ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 65535],
      },
    ],
  ])('%s', (_, line, want) => {
    const buf = Buffer.from(line, 'latin1');
    const out = parseProxyHeader(buf);
    expect(out.state).toBe('header');
    if (out.state !== 'header') return;
    expect(out.length).toBe(buf.length);
    expect(out.header).toMatchObject({
      version: 1,
      command: 'proxy',
      transport: want.transport,
      source: { address: want.source[0], port: want.source[1] },
      destination: { address: want.destination[0], port: want.destination[1] },
    });
  });

  it('v1 UNKNOWN (short and long form) says: use the real connection', () => {
    for (const line of [
      'PROXY UNKNOWN\r\n',
      'PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n',
    ]) {
      const out = parseProxyHeader(Buffer.from(line));
      expect(out).toMatchObject({ state: 'header', length: line.length });
      if (out.state === 'header') {
        expect(out.header.command).toBe('local');
        expect(out.header.source).toBeUndefined();
      }
    }
  });

  it('v2 PROXY over TCP/IPv4, UDP/IPv6, and TLVs skipped by their declared length', () => {
    const tlvs = Buffer.concat([
      tlv(0x01, Buffer.from('h2')), // PP2_TYPE_ALPN
      tlv(0x02, Buffer.from('example.com')), // PP2_TYPE_AUTHORITY
      tlv(0x04, Buffer.alloc(0)), // PP2_TYPE_NOOP
    ]);
    const h4 = v2(
      0x21,
      0x11,
      Buffer.concat([ipv4Block([203, 0, 113, 7], [10, 0, 0, 1], 40000, 443), tlvs]),
    );
    const o4 = parseProxyHeader(h4);
    expect(o4).toMatchObject({
      state: 'header',
      length: h4.length,
      header: {
        version: 2,
        command: 'proxy',
        transport: 'tcp4',
        source: { address: '203.0.113.7', port: 40000 },
        destination: { address: '10.0.0.1', port: 443 },
      },
    });
    if (o4.state === 'header') expect(o4.header.tlvs.equals(tlvs)).toBe(true);

    const block6 = Buffer.alloc(36);
    block6[0] = 0x20;
    block6[1] = 0x01;
    block6[2] = 0x0d;
    block6[3] = 0xb8;
    block6[15] = 0x05;
    block6[31] = 0x01; // ::1
    block6.writeUInt16BE(5353, 32);
    block6.writeUInt16BE(53, 34);
    const o6 = parseProxyHeader(v2(0x21, 0x22, block6));
    expect(o6).toMatchObject({
      state: 'header',
      header: {
        transport: 'udp6',
        source: { address: '2001:db8::5', port: 5353 },
        destination: { address: '::1', port: 53 },
      },
    });
  });

  it('v2 LOCAL (health checks) keeps the real addresses, even with an address block', () => {
    for (const h of [
      v2(0x20, 0x00, Buffer.alloc(0)),
      v2(0x20, 0x11, ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)),
    ]) {
      const out = parseProxyHeader(h);
      expect(out).toMatchObject({
        state: 'header',
        length: h.length,
        header: { command: 'local' },
      });
      if (out.state === 'header') expect(out.header.source).toBeUndefined();
    }
  });

  it('v2 AF_UNIX is read (216-byte block skipped) and falls back to the real connection', () => {
    const block = Buffer.alloc(216);
    block.write('/run/haproxy.sock', 0);
    const out = parseProxyHeader(v2(0x21, 0x31, block));
    expect(out).toMatchObject({
      state: 'header',
      length: 232,
      header: { command: 'proxy', transport: 'unix-stream' },
    });
    if (out.state === 'header') expect(out.header.source).toBeUndefined();
  });

  it.each([
    ['HTTP request', HTTP_REQUEST],
    ['TLS ClientHello', CLIENT_HELLO],
    ['"P" then not PROXY (PUT)', Buffer.from('PUT / HTTP/1.1\r\n')],
    ['CR LF then not the v2 signature (an empty line)', Buffer.from('\r\n\r\nx')],
  ])('no header: %s', (_, bytes) => {
    expect(parseProxyHeader(bytes)).toEqual({ state: 'none' });
  });

  it.each([
    ['nothing yet', Buffer.alloc(0), false],
    ['"PRO"', Buffer.from('PRO'), false],
    ['part of the v2 signature', SIG.subarray(0, 7), false],
    ['a v1 line without its CRLF yet', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2'), true],
    ['a v2 fixed part without its address block', v2(0x21, 0x11, Buffer.alloc(4), 12), true],
  ])('needs more: %s', (_, bytes, started) => {
    expect(parseProxyHeader(bytes)).toEqual({ state: 'need-more', started });
  });

  it.each([
    ['v1 ends with LF alone', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', 'invalid'],
    ['v1 two spaces', 'PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n', 'invalid'],
    ['v1 unknown protocol', 'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n', 'invalid'],
    ['v1 missing port', 'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', 'invalid'],
    ['v1 extra field', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n', 'invalid'],
    ['v1 port above 65535', 'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n', 'invalid'],
    ['v1 port with a heading zero', 'PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n', 'invalid'],
    ['v1 negative port', 'PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n', 'invalid'],
    ['v1 IPv4 with a heading zero', 'PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n', 'invalid'],
    ['v1 IPv6 in TCP4', 'PROXY TCP4 ::1 5.6.7.8 1 2\r\n', 'invalid'],
    ['v1 IPv6 with a zone', 'PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n', 'invalid'],
    ['v1 hostname', 'PROXY TCP4 lb.example 5.6.7.8 1 2\r\n', 'invalid'],
    ['v1 "PROXY" not followed by a space', 'PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n', 'invalid'],
    ['v1 NUL inside', 'PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n', 'invalid'],
    ['v1 no CRLF in 107 bytes', 'PROXY UNKNOWN ' + 'f'.repeat(120), 'too-long'],
  ])('%s', (_, line, code) => {
    const out = parseProxyHeader(Buffer.from(line, 'latin1'));
    expect(out).toMatchObject({ state: 'error', code });
  });

  it.each([
    [
      'version 1 in the v2 format',
      v2(0x11, 0x11, ipv4Block([1, 1, 1, 1], [2, 2, 2, 2], 1, 2)),
      'invalid',
    ],
    ['version 3', v2(0x31, 0x11, ipv4Block([1, 1, 1, 1], [2, 2, 2, 2], 1, 2)), 'invalid'],
    ['command 2', v2(0x22, 0x11, ipv4Block([1, 1, 1, 1], [2, 2, 2, 2], 1, 2)), 'invalid'],
    ['family 4', v2(0x21, 0x41, Buffer.alloc(12)), 'invalid'],
    ['protocol 3', v2(0x21, 0x13, Buffer.alloc(12)), 'invalid'],
    ['PROXY with AF_UNSPEC (go-proxyproto refuses it)', v2(0x21, 0x00, Buffer.alloc(0)), 'invalid'],
    ['IPv4 length shorter than the address block', v2(0x21, 0x11, Buffer.alloc(8)), 'invalid'],
    ['IPv6 length shorter than the address block', v2(0x21, 0x21, Buffer.alloc(12)), 'invalid'],
    [
      'length beyond maxBytes (go-proxyproto: 4 KiB)',
      v2(0x21, 0x11, Buffer.alloc(0), 4097),
      'too-long',
    ],
    ['length 65535', v2(0x21, 0x11, Buffer.alloc(0), 65535), 'too-long'],
  ])('v2 %s', (_, bytes, code) => {
    expect(parseProxyHeader(bytes)).toMatchObject({ state: 'error', code });
  });

  it('maxBytes bounds the v2 header size', () => {
    const h = v2(
      0x21,
      0x11,
      Buffer.concat([ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2), Buffer.alloc(100)]),
    );
    expect(parseProxyHeader(h, 200)).toMatchObject({ state: 'header' });
    expect(parseProxyHeader(h, 100)).toMatchObject({ state: 'error', code: 'too-long' });
  });

  it('never throws on random bytes after either signature', () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 3000; i++) {
      const body = Buffer.alloc(Math.floor(rand() * 300));
      for (let j = 0; j < body.length; j++) body[j] = Math.floor(rand() * 256);
      const prefix = i % 2 === 0 ? Buffer.from('PROXY ') : SIG;
      if (i % 3 === 0 && prefix === SIG) body[0] = i % 6 === 0 ? 0x21 : 0x20;
      expect(() => parseProxyHeader(Buffer.concat([prefix, body]))).not.toThrow();
    }
  });
});

// --- encoding -----------------------------------------------------------------

describe('encodeProxyHeader', () => {
  it.each([
    [
      1,
      ['192.168.0.1', 56324],
      ['192.168.0.11', 443],
      'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n',
    ],
    [1, ['2001:db8::1', 1], ['::1', 2], 'PROXY TCP6 2001:db8::1 ::1 1 2\r\n'],
    // Node reports IPv4 clients of a dual-stack listener as IPv4-mapped: they are IPv4 (Go's To4)
    [1, ['::ffff:10.0.0.1', 1], ['::ffff:10.0.0.2', 2], 'PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n'],
    // spec 2.1: "UNKNOWN" when the line cannot be filled correctly
    [1, ['10.0.0.1', 1], ['::1', 2], 'PROXY UNKNOWN\r\n'],
    [1, ['', 0], ['10.0.0.2', 2], 'PROXY UNKNOWN\r\n'],
  ] as const)('v%d %j → %j', (version, src, dst, line) => {
    const out = encodeProxyHeader(
      version,
      { address: src[0], port: src[1] },
      { address: dst[0], port: dst[1] },
    );
    expect(out.toString('latin1')).toBe(line);
  });

  it.each([
    [['203.0.113.7', 40000], ['10.0.0.1', 443], 'tcp4'],
    [['2001:db8::5', 5353], ['fe80::1', 53], 'tcp6'],
    [['::ffff:198.51.100.1', 1], ['198.51.100.2', 2], 'tcp4'],
  ] as const)('v1 and v2 round trip %j → %j', (src, dst, transport) => {
    for (const version of [1, 2] as const) {
      const bytes = encodeProxyHeader(
        version,
        { address: src[0], port: src[1] },
        { address: dst[0], port: dst[1] },
      );
      const out = parseProxyHeader(Buffer.concat([bytes, HTTP_REQUEST]));
      expect(out).toMatchObject({
        state: 'header',
        length: bytes.length,
        header: {
          version,
          command: 'proxy',
          transport,
          source: { address: src[0].replace('::ffff:', ''), port: src[1] },
          destination: { address: dst[0], port: dst[1] },
        },
      });
    }
  });

  it('v2 for mixed families or no address is LOCAL with AF_UNSPEC (go-proxyproto sends LOCAL)', () => {
    const h = encodeProxyHeader(2, { address: '10.0.0.1', port: 1 }, { address: '::1', port: 2 });
    expect(h.equals(v2(0x20, 0x00, Buffer.alloc(0)))).toBe(true);
    expect(parseProxyHeader(h)).toMatchObject({ state: 'header', header: { command: 'local' } });
  });

  it('v2 TCP/IPv4 bytes are exactly the specification layout', () => {
    const h = encodeProxyHeader(
      2,
      { address: '1.2.3.4', port: 0x0102 },
      { address: '5.6.7.8', port: 0x0304 },
    );
    expect(h.equals(v2(0x21, 0x11, ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 0x0102, 0x0304)))).toBe(
      true,
    );
  });
});

describe('createProxyTrustCheck (entryPoints.<n>.proxyProtocol)', () => {
  it.each([
    [{ trustedIPs: ['127.0.0.1'], insecure: false }, '127.0.0.1', true],
    // a dual-stack listener reports IPv4 peers IPv4-mapped
    [{ trustedIPs: ['10.0.0.0/8'], insecure: false }, '::ffff:10.1.2.3', true],
    [{ trustedIPs: ['10.0.0.0/8'], insecure: false }, '127.0.0.1', false],
    [{ trustedIPs: ['fe80::/10%eth0'], insecure: false }, 'fe80::1', true],
    [{ trustedIPs: ['::1'], insecure: false }, '::1', true],
    [{ trustedIPs: [], insecure: true }, '192.0.2.1', true],
    [{ trustedIPs: ['10.0.0.0/8'], insecure: true }, '192.0.2.1', true],
  ])('%j trusts %s: %s', (cfg, ip, want) => {
    expect(createProxyTrustCheck(cfg)(ip)).toBe(want);
  });
});

// --- readProxyHeader on real sockets ------------------------------------------------

describe('readProxyHeader', () => {
  it.each([
    ['v1', Buffer.from('PROXY TCP4 203.0.113.9 127.0.0.1 51000 80\r\n')],
    [
      'v2',
      encodeProxyHeader(
        2,
        { address: '203.0.113.9', port: 51000 },
        { address: '127.0.0.1', port: 80 },
      ),
    ],
  ])(
    'trusted %s header: the client address comes from it, the request after it is intact',
    async (_, header) => {
      const a = await exchange([Buffer.concat([header, HTTP_REQUEST])]);
      expect(a.result.kind).toBe('header');
      if (a.result.kind !== 'header') return;
      expect(a.result.client).toEqual({ address: '203.0.113.9', port: 51000 });
      expect((await remainder(a, HTTP_REQUEST.length)).equals(HTTP_REQUEST)).toBe(true);
      close(a);
    },
  );

  it('untrusted sender: the header is read and dropped, the real address stays (go-proxyproto IGNORE)', async () => {
    const header = Buffer.from('PROXY TCP4 203.0.113.9 127.0.0.1 51000 80\r\n');
    const a = await exchange([Buffer.concat([header, HTTP_REQUEST])], { trusted: false });
    expect(a.result).toMatchObject({ kind: 'header', client: undefined, header: { version: 1 } });
    expect((await remainder(a, HTTP_REQUEST.length)).equals(HTTP_REQUEST)).toBe(true);
    close(a);
  });

  it('untrusted sender with a broken header: closed as go-proxyproto does for IGNORE', async () => {
    const a = await exchange([Buffer.from('PROXY TCP4 nonsense\r\nGET / HTTP/1.1\r\n\r\n')], {
      trusted: false,
    });
    expect(a.result).toMatchObject({ kind: 'error', code: 'ERR_PROXY_HEADER_INVALID' });
    close(a);
  });

  it('v2 LOCAL (a health check): no client address, the request after it is intact', async () => {
    const a = await exchange([Buffer.concat([v2(0x20, 0x00, Buffer.alloc(0)), HTTP_REQUEST])]);
    expect(a.result).toMatchObject({
      kind: 'header',
      client: undefined,
      header: { command: 'local' },
    });
    expect((await remainder(a, HTTP_REQUEST.length)).equals(HTTP_REQUEST)).toBe(true);
    close(a);
  });

  it.each([
    ['an HTTP request', HTTP_REQUEST],
    ['a TLS ClientHello', CLIENT_HELLO],
  ])(
    'trusted sender without a header (%s): used as it is, no bytes lost (go-proxyproto USE)',
    async (_, bytes) => {
      const a = await exchange([bytes]);
      expect(a.result).toMatchObject({ kind: 'none', timedOut: false });
      expect((await remainder(a, bytes.length)).equals(bytes)).toBe(true);
      close(a);
    },
  );

  it('a header split over several reads is accepted (the spec recommends tolerance)', async () => {
    const line = Buffer.from('PROXY TCP6 2001:db8::7 ::1 4444 80\r\n');
    const a = await exchange([
      line.subarray(0, 3),
      line.subarray(3, 20),
      Buffer.concat([line.subarray(20), HTTP_REQUEST]),
    ]);
    expect(a.result).toMatchObject({
      kind: 'header',
      client: { address: '2001:db8::7', port: 4444 },
    });
    expect((await remainder(a, HTTP_REQUEST.length)).equals(HTTP_REQUEST)).toBe(true);
    close(a);
  });

  it('bytes after the header are preserved byte-exact, binary and large', async () => {
    const payload = Buffer.alloc(300_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + 3) & 0xff;
    const header = encodeProxyHeader(
      2,
      { address: '198.51.100.4', port: 1 },
      { address: '127.0.0.1', port: 2 },
    );
    const a = await exchange([
      Buffer.concat([header, payload.subarray(0, 1000)]),
      payload.subarray(1000),
    ]);
    expect(a.result).toMatchObject({ kind: 'header', client: { address: '198.51.100.4' } });
    const got = await remainder(a, payload.length);
    expect(got.length).toBe(payload.length);
    expect(got.equals(payload)).toBe(true);
    close(a);
  });

  it.each([
    [
      'garbage after the v1 signature',
      [Buffer.from('PROXY GARBAGE\r\n')],
      'ERR_PROXY_HEADER_INVALID',
    ],
    [
      'an oversized v1 line',
      [Buffer.from('PROXY TCP4 ' + '1'.repeat(200))],
      'ERR_PROXY_HEADER_TOO_LONG',
    ],
    [
      'an oversized v2 length',
      [v2(0x21, 0x11, Buffer.alloc(16), 60000)],
      'ERR_PROXY_HEADER_TOO_LONG',
    ],
    [
      'a v2 header with a bad version',
      [v2(0x41, 0x11, Buffer.alloc(12))],
      'ERR_PROXY_HEADER_INVALID',
    ],
  ])('%s: an error the caller closes on, at once', async (_, parts, code) => {
    const a = await exchange(parts, { timeoutMs: 10_000 });
    expect(a.result).toMatchObject({ kind: 'error', code });
    // decided on the bytes, not on the timeout
    expect(a.ms).toBeLessThan(5000);
    close(a);
  });

  it.each([
    ['a truncated v1 line', Buffer.from('PROXY TCP4 1.2.3.4 5.6')],
    ['a truncated v2 header', v2(0x21, 0x11, Buffer.alloc(5), 12)],
  ])('%s then silence: timeout error within timeoutMs', async (_, bytes) => {
    const a = await exchange([bytes], { timeoutMs: 200 });
    expect(a.result).toMatchObject({ kind: 'error', code: 'ERR_PROXY_HEADER_TIMEOUT' });
    expect(a.ms).toBeGreaterThanOrEqual(150);
    expect(a.ms).toBeLessThan(5000);
    close(a);
  });

  it.each([
    ['nothing', Buffer.alloc(0)],
    ['a prefix of the v2 signature', SIG.subarray(0, 4)],
  ])(
    'a sender that sends %s: no header after timeoutMs, bytes kept (go-proxyproto treats the deadline as no header)',
    async (_, bytes) => {
      const a = await exchange(bytes.length === 0 ? [] : [bytes], { timeoutMs: 200 });
      expect(a.result).toMatchObject({ kind: 'none', timedOut: true });
      expect(a.result.rest.equals(bytes)).toBe(true);
      expect(a.ms).toBeLessThan(5000);
      close(a);
    },
  );

  it('a slow-loris header (one byte every 40 ms) is cut at timeoutMs', async () => {
    const line = Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n');
    const parts = [...line].map((b) => Buffer.from([b]));
    const a = await exchange(parts, { timeoutMs: 300, gapMs: 40 });
    expect(a.result).toMatchObject({ kind: 'error', code: 'ERR_PROXY_HEADER_TIMEOUT' });
    expect(a.ms).toBeLessThan(1200);
    close(a);
  });

  it('the sender closes mid-header: a closed error, no throw', async () => {
    const a = await exchange([Buffer.from('PROXY TCP4 1.2')], { end: true });
    expect(a.result).toMatchObject({ kind: 'error', code: 'ERR_PROXY_HEADER_CLOSED' });
    close(a);
  });

  it('the sender resets the connection mid-header: a closed error, no throw', async () => {
    opts = { trusted: true, timeoutMs: 2000 };
    const accepted = new Promise<Accepted>((resolve) => waiting.push(resolve));
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    await new Promise((resolve) => client.once('connect', resolve));
    client.write('PROXY TCP');
    await new Promise((r) => setTimeout(r, 30));
    client.resetAndDestroy();
    const a = await accepted;
    expect(a.result).toMatchObject({ kind: 'error', code: 'ERR_PROXY_HEADER_CLOSED' });
  });

  it('a socket already destroyed resolves at once', async () => {
    const socket = new net.Socket();
    socket.destroy();
    await expect(
      readProxyHeader(socket, { trusted: true, timeoutMs: 1000 }),
    ).resolves.toMatchObject({
      kind: 'error',
      code: 'ERR_PROXY_HEADER_CLOSED',
    });
  });

  it('works on a socket accepted with pauseOnConnect', async () => {
    const results: ProxyHeaderResult[] = [];
    const ln = net.createServer({ pauseOnConnect: true }, (socket) => {
      void readProxyHeader(socket, { trusted: true, timeoutMs: 2000 }).then((r) => results.push(r));
    });
    await new Promise<void>((resolve) => ln.listen(0, '127.0.0.1', resolve));
    const client = net.connect((ln.address() as net.AddressInfo).port, '127.0.0.1');
    client.write('PROXY TCP4 192.0.2.8 127.0.0.1 9 80\r\nrest');
    const deadline = Date.now() + 2000;
    while (results.length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    expect(results[0]).toMatchObject({ kind: 'header', client: { address: '192.0.2.8', port: 9 } });
    // one write on loopback: 'rest' normally came with the header (the byte-exact cases are above)
    expect('rest'.startsWith(results[0]!.rest.toString())).toBe(true);
    client.destroy();
    await new Promise((resolve) => ln.close(resolve));
  });

  it('the caller hands the socket to an HTTP server with socket.unshift(rest)', async () => {
    // the recipe the entrypoint uses: read the header, unshift what follows it, emit 'connection'
    const seen: string[] = [];
    const hs = http.createServer((req, res) => {
      seen.push(req.url ?? '');
      res.end('ok');
    });
    const ln = net.createServer((socket) => {
      void readProxyHeader(socket, { trusted: true, timeoutMs: 2000 }).then((r) => {
        if (r.kind === 'error') return socket.destroy();
        if (r.rest.length > 0) socket.unshift(r.rest);
        hs.emit('connection', socket);
      });
    });
    await new Promise<void>((resolve) => ln.listen(0, '127.0.0.1', resolve));
    const lnPort = (ln.address() as net.AddressInfo).port;
    const client = net.connect(lnPort, '127.0.0.1');
    let answer = '';
    client.on('data', (d: Buffer) => (answer += d.toString()));
    await new Promise((resolve) => client.once('connect', resolve));
    client.write('PROXY TCP4 203.0.113.9 127.0.0.1 1 80\r\nGET /one HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 30));
    client.write('GET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await new Promise((resolve) => client.once('close', resolve));
    expect(seen).toEqual(['/one', '/two']);
    expect(answer.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
    await new Promise((resolve) => ln.close(resolve));
    hs.close();
  });
});
