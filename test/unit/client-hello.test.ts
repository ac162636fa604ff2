/*
 * The ClientHello reader (TLS-ALPN-01 detection) on real ClientHellos sent by
 * node:tls, split at every byte and across records, and on malformed input;
 * plus the certificate store's list() and its expiry warning.
 */
import net from 'node:net';
import tls from 'node:tls';
import { pino } from 'pino';
import selfsigned from 'selfsigned';
import { describe, expect, it } from 'vitest';
import { parseClientHello } from '../../src/tls/client-hello.js';
import { buildCertificateStore } from '../../src/tls/store.js';

/** The first bytes node:tls sends for these connect options, read by a plain TCP server. */
async function clientHello(opts: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      server.once('connection', (s) => {
        let buf = Buffer.alloc(0);
        s.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          if (parseClientHello(buf).kind !== 'incomplete') {
            resolve(buf);
            s.destroy();
          }
        });
      });
      const c = tls.connect({ host: '127.0.0.1', port, ...opts });
      c.on('error', () => undefined);
      setTimeout(() => reject(new Error('no hello')), 5000).unref();
    });
  } finally {
    server.close();
  }
}

/** Re-frames one handshake message into records of at most `size` bytes (a legal fragmentation). */
function fragment(hello: Buffer, size: number): Buffer {
  const body = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) {
    const part = body.subarray(i, i + size);
    const header = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
    header.writeUInt16BE(part.length, 3);
    out.push(header, part);
  }
  return Buffer.concat(out);
}

describe('parseClientHello', () => {
  it('reads SNI and ALPN from a real ClientHello, and says incomplete for every prefix', async () => {
    const hello = await clientHello({ servername: 'Acme.Test', ALPNProtocols: ['acme-tls/1'] });
    expect(parseClientHello(hello)).toEqual({
      kind: 'complete',
      hello: { servername: 'acme.test', alpn: ['acme-tls/1'] },
    });
    for (let n = 0; n < hello.length; n++)
      expect(parseClientHello(hello.subarray(0, n)).kind).toBe('incomplete');
  });

  it('reads a ClientHello split across several records', async () => {
    const hello = await clientHello({
      servername: 'split.test',
      ALPNProtocols: ['h2', 'http/1.1'],
    });
    const split = fragment(hello, 40);
    expect(parseClientHello(split)).toMatchObject({
      kind: 'complete',
      hello: { servername: 'split.test', alpn: ['h2', 'http/1.1'] },
    });
  });

  it('reports no SNI and no ALPN when the client sends neither', async () => {
    const hello = await clientHello({});
    expect(parseClientHello(hello)).toEqual({
      kind: 'complete',
      hello: { servername: undefined, alpn: undefined },
    });
  });

  it.each([
    ['plain HTTP', Buffer.from('GET / HTTP/1.1\r\n')],
    ['a record that is not a handshake', Buffer.from([0x17, 3, 3, 0, 1, 0])],
    ['a zero-length record', Buffer.from([0x16, 3, 1, 0, 0])],
    ['an oversized record', Buffer.from([0x16, 3, 1, 0xff, 0xff])],
    ['a ServerHello', Buffer.from([0x16, 3, 1, 0, 4, 0x02, 0, 0, 0])],
    [
      'a ClientHello whose fields overrun it',
      Buffer.from([0x16, 3, 1, 0, 8, 0x01, 0, 0, 4, 3, 3, 0xff, 0xff]),
    ],
  ])('never throws on %s', (_name, bytes) => {
    expect(parseClientHello(bytes).kind).toBe('invalid');
  });
});

describe('CertificateStore.list() and expiry warnings', () => {
  it('lists every certificate with its source and warns once when one is served within its renewal window', async () => {
    const now = Date.now();
    const near = await selfsigned.generate([{ name: 'commonName', value: 'near.test' }], {
      keyType: 'ec',
      notBeforeDate: new Date(now - 80 * 86_400_000),
      notAfterDate: new Date(now + 10 * 86_400_000),
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'www.near.test' }] }],
    });
    const fine = await selfsigned.generate([{ name: 'commonName', value: 'fine.test' }], {
      keyType: 'ec',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'fine.test' }] }],
    });
    const lines: { msg: string; domains?: string[] }[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const store = buildCertificateStore(
      [
        { certFile: near.cert, keyFile: near.private, resolver: 'le' },
        { certFile: fine.cert, keyFile: fine.private },
      ],
      { defaultCertificate: { cert: fine.cert, key: fine.private }, logger },
    );
    expect(store.list()).toEqual([
      expect.objectContaining({
        domains: ['near.test', 'www.near.test'],
        source: 'acme',
        resolver: 'le',
      }),
      expect.objectContaining({ domains: ['fine.test'], source: 'file' }),
      expect.objectContaining({ source: 'default' }),
    ]);
    expect(store.list()[0]!.notAfter).toBeInstanceOf(Date);
    store.select('fine.test');
    expect(lines).toEqual([]);
    store.select('www.near.test');
    store.select('www.near.test');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.msg).toMatch(/near\.test.*within its renewal window/);
  });
});
