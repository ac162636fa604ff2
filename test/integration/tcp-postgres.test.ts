/*
 * Postgres STARTTLS on entrypoints with TLS TCP routers (issue 13 item 4,
 * Traefik's pkg/server/router/tcp/postgres.go): a client's SSLRequest (the
 * 8 bytes 00 00 00 08 04 d2 16 2f) is answered 'S', its ClientHello read and
 * the connection routed by SNI among the TLS TCP routers, terminated or
 * passed through (then the server gets the SSLRequest and its 'S' is not
 * repeated to the client). A plain startup message still reaches the
 * HostSNI(`*`) router. Real sockets on 127.0.0.1; the clients speak the
 * SSLRequest themselves, then TLS over the same socket.
 */
import net from 'node:net';
import tls from 'node:tls';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/http.js';
import { startRouter, type TestRouter } from '../helpers/portico.js';

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]);
/** a protocol 3.0 StartupMessage: length, 196608, user=u, end */
const STARTUP = (() => {
  const body = Buffer.concat([Buffer.from([0, 3, 0, 0]), Buffer.from('user\0u\0\0', 'latin1')]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length + 4);
  return Buffer.concat([len, body]);
})();

async function certFor(name: string): Promise<{ cert: string; key: string }> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: name }] }],
  });
  return { cert: pems.cert, key: pems.private };
}

interface Server {
  port: number;
  /** the first bytes of each connection, hex */
  first: string[];
  close(): Promise<void>;
}

async function listen(server: net.Server, first: string[]): Promise<Server> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    first,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A server speaking in clear: echoes with `plain:`. */
function plainServer(): Promise<Server> {
  const first: string[] = [];
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', (d: Buffer) => first.push(d.toString('hex')));
    s.on('data', (d: Buffer) => s.write(Buffer.concat([Buffer.from('plain:'), d])));
    s.on('end', () => s.end());
  });
  return listen(server, first);
}

/**
 * A Postgres-like server with its own certificate: reads the SSLRequest, answers 'S', then TLS.
 * Like Postgres (CVE-2021-23214) it refuses bytes sent after the SSLRequest before its 'S'.
 */
async function startTlsServer(name: string): Promise<Server> {
  const pair = await certFor(name);
  const context = tls.createSecureContext(pair);
  const first: string[] = [];
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', (d: Buffer) => {
      first.push(d.toString('hex'));
      s.pause();
      if (!d.equals(SSL_REQUEST)) {
        s.destroy();
        return;
      }
      s.write('S');
      const t = new tls.TLSSocket(s, { isServer: true, secureContext: context });
      t.on('error', () => undefined);
      t.on('data', (x: Buffer) => t.write(`tls:${x.toString()}`));
      t.on('end', () => t.end());
    });
  });
  return listen(server, first);
}

interface StartTls {
  /** Portico's answer to the SSLRequest */
  answer: string;
  /** the CN of the certificate shown after it */
  subject: string;
  got: string;
}

/** SSLRequest, then (after 'S') TLS over the same socket with `servername`; sends `hi`. */
function startTls(port: number, servername: string): Promise<StartTls> {
  return new Promise((resolve) => {
    const out: StartTls = { answer: '', subject: '', got: '' };
    const raw = net.connect(port, '127.0.0.1');
    const done = (): void => {
      clearTimeout(timer);
      raw.destroy();
      resolve(out);
    };
    const timer = setTimeout(done, 3000);
    raw.on('error', done);
    raw.on('close', done);
    raw.on('connect', () => raw.write(SSL_REQUEST));
    raw.once('data', (d: Buffer) => {
      out.answer = d.toString('latin1');
      if (out.answer !== 'S') return;
      const t = tls.connect({ socket: raw, servername, rejectUnauthorized: false });
      t.on('error', done);
      t.on('secureConnect', () => {
        out.subject = String(t.getPeerCertificate().subject?.CN ?? '');
        t.write('hi');
      });
      t.on('data', (x: Buffer) => {
        out.got += x.toString();
        if (out.got.endsWith('hi')) t.end();
      });
    });
  });
}

/** Writes `bytes` in clear and reads until the close. */
function plainTalk(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, 3000);
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.length >= bytes.length) s.end();
    });
    s.on('close', done);
    s.on('error', done);
    s.on('connect', () => s.write(bytes));
  });
}

describe('Postgres STARTTLS', () => {
  let plain: Server;
  let pg: Server;
  let r: TestRouter;
  let dbPort: number;

  beforeAll(async () => {
    [plain, pg] = await Promise.all([plainServer(), startTlsServer('pass.test')]);
    dbPort = await freePort();
    const term = await certFor('term.test');
    const lb = (port: number): { loadBalancer: { servers: { address: string }[] } } => ({
      loadBalancer: { servers: [{ address: `127.0.0.1:${port}` }] },
    });
    r = await startRouter(
      {
        tls: { certificates: [{ certFile: term.cert, keyFile: term.key }] },
        tcp: {
          routers: {
            term: {
              rule: 'HostSNI(`term.test`)',
              service: 'plain',
              entryPoints: ['db'],
              tls: {},
            },
            pass: {
              rule: 'HostSNI(`pass.test`)',
              service: 'pg',
              entryPoints: ['db'],
              tls: { passthrough: true },
            },
            any: { rule: 'HostSNI(`*`)', service: 'plain', entryPoints: ['db'] },
            // 'web' has no TLS TCP router: an SSLRequest there is the server's to answer
            webAny: { rule: 'HostSNI(`*`)', service: 'plain', entryPoints: ['web'] },
          },
          services: { plain: lb(plain.port), pg: lb(pg.port) },
        },
      },
      { flags: [`--entryPoints.db.address=127.0.0.1:${dbPort}`] },
    );
  });

  afterAll(async () => {
    await r?.close();
    await plain?.close();
    await pg?.close();
  });

  it("answers 'S' and terminates TLS for the TLS TCP router of the SNI: the server gets clear bytes", async () => {
    const got = await startTls(dbPort, 'term.test');
    expect(got).toEqual({ answer: 'S', subject: 'term.test', got: 'plain:hi' });
    // the server saw the client's bytes, not the SSLRequest
    expect(plain.first.at(-1)).toBe(Buffer.from('hi').toString('hex'));
  });

  it("passes STARTTLS through: the server gets the SSLRequest, its own 'S' is not repeated, its certificate reaches the client", async () => {
    const got = await startTls(dbPort, 'pass.test');
    expect(got).toEqual({ answer: 'S', subject: 'pass.test', got: 'tls:hi' });
    expect(pg.first.at(-1)).toBe(SSL_REQUEST.toString('hex'));
  });

  it('closes a STARTTLS connection whose SNI no TLS TCP router takes, as Traefik', async () => {
    const got = await startTls(dbPort, 'other.test');
    expect(got.answer).toBe('S');
    expect(got.got).toBe('');
  });

  it('sends a plain startup message to the HostSNI(`*`) router', async () => {
    const got = await plainTalk(dbPort, STARTUP);
    expect(got).toBe(`plain:${STARTUP.toString('latin1')}`);
  });

  it('gives back bytes that began like an SSLRequest and went on otherwise (plain router)', async () => {
    const bytes = Buffer.from([0, 0, 0, 8, 9, 9, 9, 9, 0x41]);
    const got = await new Promise<string>((resolve) => {
      const s = net.connect(dbPort, '127.0.0.1');
      let out = '';
      const done = (): void => {
        clearTimeout(timer);
        s.destroy();
        resolve(out);
      };
      const timer = setTimeout(done, 3000);
      s.on('data', (d: Buffer) => {
        out += d.toString('latin1');
        if (out.length >= 'plain:'.length + bytes.length) s.end();
      });
      s.on('close', done);
      s.on('error', done);
      // the first write is a prefix of the SSLRequest: Portico has to read on to tell
      s.on('connect', () => {
        s.write(bytes.subarray(0, 3));
        setTimeout(() => s.write(bytes.subarray(3)), 50);
      });
    });
    expect(got.replace(/plain:/g, '')).toBe(bytes.toString('latin1'));
  });

  it('leaves the SSLRequest to the server where no TLS TCP router could take it', async () => {
    const got = await plainTalk(r.port, SSL_REQUEST);
    expect(got).toBe(`plain:${SSL_REQUEST.toString('latin1')}`);
  });
});
