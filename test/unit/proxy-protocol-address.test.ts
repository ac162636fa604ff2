/*
 * The client address a PROXY header gives reaches RequestContext (issue 13
 * item 6), whatever runs over the raw connection: plain HTTP/1.1, TLS, and
 * HTTP/2 over TLS (whose req.socket is a proxy object). RequestContext's
 * clientIp/clientPort are what ClientIP rules, ipAllowList, X-Forwarded-For,
 * X-Real-Ip, forwardedHeaders trust and the access log read.
 */
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import selfsigned from 'selfsigned';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  clientAddressOf,
  localAddressOf,
  proxiedConnectionCount,
  setClientAddress,
} from '../../src/kernel/client-address.js';
import { RequestContext } from '../../src/kernel/context.js';
import { encodeProxyHeader, readProxyHeader } from '../../src/kernel/proxy-protocol.js';
import { eventually } from '../helpers/eventually.js';

let cert: { cert: string; key: string };
beforeAll(async () => {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'pp.test' }], {
    keyType: 'ec',
  });
  cert = { cert: pems.cert, key: pems.private };
});

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

/** what the request handler saw: RequestContext's client address */
interface Seen {
  clientIp: string;
  clientPort: number;
}

function contextOf(req: http.IncomingMessage, res: http.ServerResponse): Seen {
  const ctx = new RequestContext(req, res, 'web', 'http', 'x', 'x', '/', '');
  return { clientIp: ctx.clientIp, clientPort: ctx.clientPort };
}

/**
 * A listener that reads the PROXY header the way an entrypoint does (trusted
 * sender), records the address, and hands the connection to `inner`.
 */
function proxyListener(inner: net.Server): net.Server {
  return net.createServer((socket) => {
    socket.on('error', () => undefined);
    void readProxyHeader(socket, { trusted: true, timeoutMs: 2000 }).then((r) => {
      if (r.kind === 'error') return socket.destroy();
      if (r.kind === 'header' && r.client !== undefined) {
        setClientAddress(socket, r.client, r.header.destination);
      }
      if (r.rest.length > 0) socket.unshift(r.rest);
      inner.emit('connection', socket);
    });
  });
}

const header = (address: string, port: number) =>
  encodeProxyHeader(
    2,
    { address, port },
    { address: address.includes(':') ? '::1' : '127.0.0.1', port: 443 },
  );

describe('client address registry', () => {
  it('a plain socket: the registered address, then its own once it closed', async () => {
    let raw: net.Socket | undefined;
    const port = await listen(
      net.createServer((s) => {
        raw = s;
      }),
    );
    const client = net.connect(port, '127.0.0.1');
    await eventually(() => expect(raw).toBeDefined());
    const before = proxiedConnectionCount();
    setClientAddress(
      raw!,
      { address: '203.0.113.5', port: 4242 },
      { address: '10.0.0.1', port: 80 },
    );
    expect(clientAddressOf(raw!)).toEqual({ address: '203.0.113.5', port: 4242 });
    expect(localAddressOf(raw!)).toEqual({ address: '10.0.0.1', port: 80 });
    expect(proxiedConnectionCount()).toBe(before + 1);
    // another connection keeps its own address
    expect(clientAddressOf(client)).toEqual({ address: '127.0.0.1', port: raw!.localPort });
    const clientPort = client.localPort;
    client.destroy();
    await eventually(() => expect(proxiedConnectionCount()).toBe(before));
    expect(clientAddressOf(raw!)).toEqual({ address: '127.0.0.1', port: clientPort });
  });

  it('a TLSSocket made over the raw socket sees the same address', async () => {
    const seen: { tlsSocket?: tls.TLSSocket } = {};
    const port = await listen(
      net.createServer((raw) => {
        raw.on('error', () => undefined);
        setClientAddress(raw, { address: '2001:db8::9', port: 1234 });
        const t = new tls.TLSSocket(raw, {
          isServer: true,
          secureContext: tls.createSecureContext(cert),
        });
        t.on('error', () => undefined);
        t.on('secure', () => (seen.tlsSocket = t));
      }),
    );
    const client = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
    client.on('error', () => undefined);
    cleanups.push(() => client.destroy());
    await eventually(() => expect(seen.tlsSocket).toBeDefined());
    expect(clientAddressOf(seen.tlsSocket!)).toEqual({ address: '2001:db8::9', port: 1234 });
  });

  it('nothing registered: a connection is its own client, and nothing is kept', async () => {
    const port = await listen(
      net.createServer((s) => {
        s.end();
      }),
    );
    const client = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => client.once('connect', resolve));
    expect(clientAddressOf(client)).toEqual({ address: '127.0.0.1', port });
    client.destroy();
  });
});

describe('RequestContext takes the client address from the PROXY header', () => {
  it('HTTP/1.1: every request of a keep-alive connection', async () => {
    const seen: Seen[] = [];
    const inner = http.createServer((req, res) => {
      seen.push(contextOf(req, res));
      res.end('ok');
    });
    cleanups.push(() => inner.close());
    const port = await listen(proxyListener(inner));
    const client = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => client.once('connect', resolve));
    client.write(
      Buffer.concat([
        header('198.51.100.20', 5555),
        Buffer.from('GET /1 HTTP/1.1\r\nHost: x\r\n\r\n'),
      ]),
    );
    await eventually(() => expect(seen).toHaveLength(1));
    client.write('GET /2 HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(() => expect(seen).toHaveLength(2));
    expect(seen).toEqual([
      { clientIp: '198.51.100.20', clientPort: 5555 },
      { clientIp: '198.51.100.20', clientPort: 5555 },
    ]);
    client.destroy();
  });

  it('an IPv4-mapped source is its IPv4 address, as for a socket', async () => {
    const seen: Seen[] = [];
    const inner = http.createServer((req, res) => {
      seen.push(contextOf(req, res));
      res.end('ok');
    });
    cleanups.push(() => inner.close());
    const port = await listen(proxyListener(inner));
    const client = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => client.once('connect', resolve));
    client.write('PROXY TCP6 ::ffff:192.0.2.1 ::1 7 80\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(() => expect(seen).toEqual([{ clientIp: '192.0.2.1', clientPort: 7 }]));
    client.destroy();
  });

  it('HTTPS (TLS over the raw socket)', async () => {
    const seen: Seen[] = [];
    const inner = https.createServer(cert, (req, res) => {
      seen.push(contextOf(req, res));
      res.end('ok');
    });
    cleanups.push(() => inner.close());
    const port = await listen(proxyListener(inner));
    const raw = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => raw.once('connect', resolve));
    raw.write(header('203.0.113.77', 6000));
    const t = tls.connect({ socket: raw, servername: 'pp.test', rejectUnauthorized: false });
    t.on('error', () => undefined);
    await new Promise((resolve) => t.once('secureConnect', resolve));
    t.write('GET / HTTP/1.1\r\nHost: pp.test\r\nConnection: close\r\n\r\n');
    await eventually(() => expect(seen).toEqual([{ clientIp: '203.0.113.77', clientPort: 6000 }]));
    t.destroy();
  });

  it('HTTP/2 over TLS (req.socket is the session proxy)', async () => {
    const seen: Seen[] = [];
    const inner = http2.createSecureServer(cert, (req, res) => {
      seen.push(
        contextOf(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse),
      );
      res.end('ok');
    });
    cleanups.push(() => inner.close());
    const port = await listen(proxyListener(inner as unknown as net.Server));
    const session = http2.connect(`https://127.0.0.1:${port}`, {
      rejectUnauthorized: false,
      createConnection: () => {
        const raw = net.connect(port, '127.0.0.1');
        raw.write(header('2001:db8::42', 7000));
        return tls.connect({ socket: raw, ALPNProtocols: ['h2'], rejectUnauthorized: false });
      },
    });
    session.on('error', () => undefined);
    cleanups.push(() => session.destroy());
    for (let i = 0; i < 2; i++) {
      const stream = session.request({ ':path': `/${i}` });
      stream.resume();
      await new Promise((resolve) => stream.once('close', resolve));
    }
    expect(seen).toEqual([
      { clientIp: '2001:db8::42', clientPort: 7000 },
      { clientIp: '2001:db8::42', clientPort: 7000 },
    ]);
  });

  it('without a PROXY header the socket address stays', async () => {
    const seen: Seen[] = [];
    const inner = http.createServer((req, res) => {
      seen.push(contextOf(req, res));
      res.end('ok');
    });
    cleanups.push(() => inner.close());
    const port = await listen(proxyListener(inner));
    const client = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => client.once('connect', resolve));
    client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(() => expect(seen).toHaveLength(1));
    expect(seen[0]).toEqual({ clientIp: '127.0.0.1', clientPort: client.localPort });
    client.destroy();
  });
});
