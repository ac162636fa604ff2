/*
 * ContentType, PassTLSClientCert and GrpcWeb: real upstreams for what goes
 * through the proxy, a real mutual-TLS connection (certificates made with
 * openssl) for the certificate formats, since entrypoints are plain HTTP
 * until the TLS issue, and the gRPC-Web framing functions on their own.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import { decodeLabels } from '../../../src/config/labels.js';
import type { RequestContext, ResponseWriter } from '../../../src/kernel/context.js';
import { StateRegistry } from '../../../src/kernel/state.js';
import { detectContentType } from '../../../middlewares/content-type.js';
import {
  formatCertificateInfo,
  formatCertificatePem,
  goQueryEscape,
  passTLSClientCert,
  peerCertificateChain,
} from '../../../middlewares/pass-tls-client-cert.js';
import {
  Base64Encoder,
  decodeFrames,
  decodeTextBody,
  encodeFrame,
  encodeTrailerFrame,
  GrpcWebResponseWriter,
  grpcContentType,
  grpcWebResponseHeaders,
} from '../../../middlewares/grpc-web.js';
import type { Upstream, UpstreamHandler } from '../../helpers/upstream.js';
import {
  request as send,
  type Reply as HttpReply,
  type RequestOptions,
} from '../../helpers/http.js';
import { useCleanups } from '../../helpers/scope.js';

const { defer, upstream, router } = useCleanups();

/** the body stays bytes: gRPC-Web frames and binary payloads */
type Reply = Omit<HttpReply, 'body'> & { body: Buffer };

async function request(url: string, opts: RequestOptions = {}): Promise<Reply> {
  const res = await send(url, opts);
  return { ...res, body: res.bytes };
}

function withMiddleware(u: Upstream | null, middlewares: Record<string, unknown>): DynamicConfig {
  return {
    http: {
      routers: { r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: ['m'] } },
      services: { s: { loadBalancer: { servers: u === null ? [] : [{ url: u.url }] } } },
      middlewares: middlewares as never,
    },
  };
}

async function configError(middleware: Record<string, unknown>): Promise<string> {
  const r = await router({});
  const table = r.apply(withMiddleware(null, { m: middleware }));
  expect(table.routers.get('r@file')!.status).toBe('disabled');
  return table.middlewares.get('m@file')!.errors.join('\n');
}

function labels(l: Record<string, string>): Record<string, unknown> {
  return decodeLabels(l, { prefixes: ['traefik'] }).http.middlewares;
}

/** an upstream that answers the given bytes without a Content-Type */
function untyped(body: Buffer | string, status = 200): UpstreamHandler {
  return (_req, res) => {
    res.writeHead(status);
    res.end(body);
  };
}

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

describe('contentType', () => {
  it('adds nothing without the middleware (Traefik v3 default)', async () => {
    const u = await upstream(untyped('<html><body>hi</body></html>'));
    const r = await router({
      http: {
        routers: { r: { rule: 'PathPrefix(`/`)', service: 's' } },
        services: { s: { loadBalancer: { servers: [{ url: u.url }] } } },
      },
    });
    expect((await request(r.url + '/')).headers['content-type']).toBeUndefined();
  });

  it.each<[string, Buffer | string, string]>([
    ['html', '  <!DOCTYPE html><html></html>', 'text/html; charset=utf-8'],
    ['json (Go has no JSON rule)', '{"a":1}', 'text/plain; charset=utf-8'],
    ['png', PNG, 'image/png'],
    ['binary', Buffer.from([0, 1, 2, 3, 250]), 'application/octet-stream'],
  ])('detects %s from the body the upstream sent', async (_name, body, type) => {
    const u = await upstream(untyped(body));
    const r = await router(withMiddleware(u, { m: { contentType: {} } }));
    const reply = await request(r.url + '/');
    expect(reply.headers['content-type']).toBe(type);
    expect(reply.body.equals(Buffer.from(body))).toBe(true);
  });

  it('keeps the type the upstream set, and leaves bodiless answers alone', async () => {
    const typed = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-custom' });
      res.end('<html>');
    });
    const r = await router(withMiddleware(typed, { m: { contentType: {} } }));
    expect((await request(r.url + '/')).headers['content-type']).toBe('application/x-custom');

    const empty = await upstream(untyped(''));
    r.apply(withMiddleware(empty, { m: { contentType: {} } }));
    expect((await request(r.url + '/')).headers['content-type']).toBeUndefined();

    const noContent = await upstream(untyped('', 204));
    r.apply(withMiddleware(noContent, { m: { contentType: {} } }));
    const reply = await request(r.url + '/');
    expect(reply.status).toBe(204);
    expect(reply.headers['content-type']).toBeUndefined();
  });

  it('streams a long body after sniffing its first chunk', async () => {
    const big = Buffer.alloc(256 * 1024, 'a');
    const u = await upstream((_req, res) => {
      res.writeHead(200);
      res.write('<p>first</p>');
      setTimeout(() => res.end(big), 20);
    });
    const r = await router(withMiddleware(u, { m: { contentType: {} } }));
    const reply = await request(r.url + '/');
    expect(reply.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(reply.body.length).toBe(12 + big.length);
  });

  it('is a no-op with the deprecated autoDetect: false', async () => {
    const u = await upstream(untyped('<html></html>'));
    const r = await router(withMiddleware(u, { m: { contentType: { autoDetect: false } } }));
    expect((await request(r.url + '/')).headers['content-type']).toBeUndefined();
  });

  it.each([
    [
      'a non-boolean autoDetect',
      { autoDetect: 'maybe' },
      'contentType.autoDetect: must be true or false',
    ],
    ['an unknown option', { detect: true }, 'contentType.detect: unknown field "detect"'],
  ])('refuses %s', async (_name, options, message) => {
    expect(await configError({ contentType: options })).toContain(message);
  });

  it('decodes Docker labels (`contenttype=true`)', async () => {
    const u = await upstream(untyped('plain words'));
    const r = await router(
      withMiddleware(u, labels({ 'traefik.http.middlewares.m.contenttype': 'true' })),
    );
    expect((await request(r.url + '/')).headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it.each<[string, Buffer | string, string]>([
    ['xml', '\n<?xml version="1.0"?><a/>', 'text/xml; charset=utf-8'],
    ['pdf', '%PDF-1.7', 'application/pdf'],
    ['gif', 'GIF89a....', 'image/gif'],
    ['jpeg', Buffer.from([0xff, 0xd8, 0xff, 0xe0]), 'image/jpeg'],
    ['gzip', Buffer.from([0x1f, 0x8b, 0x08, 0]), 'application/x-gzip'],
    ['utf-8 BOM', Buffer.from([0xef, 0xbb, 0xbf, 0x41]), 'text/plain; charset=utf-8'],
    ['html needs a tag end', '<htmlx', 'text/plain; charset=utf-8'],
    ['case-insensitive tags', '<HtMl>', 'text/html; charset=utf-8'],
    ['empty', '', 'text/plain; charset=utf-8'],
  ])('sniffs %s as Go does', (_name, data, type) => {
    expect(detectContentType(data)).toBe(type);
  });
});

/* ---------------------------------------------------------------- certificates */

let dir = '';
const pem: Record<string, string> = {};

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'portico-mtls-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  writeFileSync(
    join(dir, 'ca.ext'),
    'basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n',
  );
  writeFileSync(
    join(dir, 'leaf.ext'),
    'subjectAltName=DNS:a.example,DNS:b.example,email:t@example.org,IP:10.0.1.2,IP:::1,URI:spiffe://x/y\n',
  );
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '30',
    '-subj',
    '/DC=org/DC=cheese/C=FR/ST=Signing State/L=TOULOUSE/O=Cheese/O=Cheese 2/CN=Test CA\\, Inc',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=keyCertSign,cRLSign',
  );
  openssl(
    'req',
    ...ec,
    '-keyout',
    'int.key',
    '-out',
    'int.csr',
    '-subj',
    '/C=US/O=Cheese/CN=Intermediate',
  );
  openssl(
    'x509',
    '-req',
    '-in',
    'int.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-set_serial',
    '7',
    '-days',
    '20',
    '-extfile',
    'ca.ext',
    '-out',
    'int.pem',
  );
  openssl(
    'req',
    ...ec,
    '-keyout',
    'leaf.key',
    '-out',
    'leaf.csr',
    '-subj',
    '/C=FR/ST=Some-State/L=LYON/O=Cheese/OU=Sec 1/OU=Sec 2/serialNumber=42/CN=client.example',
  );
  openssl(
    'x509',
    '-req',
    '-in',
    'leaf.csr',
    '-CA',
    'int.pem',
    '-CAkey',
    'int.key',
    '-set_serial',
    '123456789012345678901234567890',
    '-days',
    '10',
    '-extfile',
    'leaf.ext',
    '-out',
    'leaf.pem',
  );
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-set_serial',
    '9',
    '-days',
    '10',
    '-extfile',
    'server.ext',
    '-out',
    'server.pem',
  );
  for (const f of ['ca.pem', 'int.pem', 'leaf.pem', 'leaf.key', 'server.pem', 'server.key'])
    pem[f] = readFileSync(join(dir, f), 'utf8');
});

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** openssl's own reading of a date, in Unix seconds */
function opensslDate(file: string, which: 'startdate' | 'enddate'): number {
  const out = execFileSync('openssl', ['x509', '-in', file, '-noout', `-${which}`], { cwd: dir })
    .toString()
    .trim();
  return Math.floor(Date.parse(out.slice(out.indexOf('=') + 1)) / 1000);
}

function pemBody(text: string): string {
  return text.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\n/g, '');
}

const ALL_DN = {
  country: true,
  province: true,
  locality: true,
  organization: true,
  organizationalUnit: true,
  commonName: true,
  serialNumber: true,
  domainComponent: true,
};

/** a real mutual-TLS connection on 127.0.0.1; `onRequest` sees the server side of it */
async function mtlsRequest(
  onRequest: (req: http.IncomingMessage) => void,
  headers: Record<string, string> = {},
): Promise<void> {
  const server = https.createServer(
    {
      key: pem['server.key'],
      cert: pem['server.pem'],
      ca: [pem['ca.pem']!],
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      onRequest(req);
      res.end('ok');
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  defer(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        headers,
        agent: false,
        ca: pem['ca.pem'],
        key: pem['leaf.key'],
        // the client sends its chain: leaf, then the intermediate
        cert: pem['leaf.pem']! + pem['int.pem']!,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve());
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('passTLSClientCert', () => {
  it('formats the PEM as Traefik v3 does: no BEGIN/END lines, no newlines, comma-separated', () => {
    const leaf = new X509Certificate(pem['leaf.pem']!);
    const int = new X509Certificate(pem['int.pem']!);
    expect(formatCertificatePem([leaf, int])).toBe(
      pemBody(pem['leaf.pem']!) + ',' + pemBody(pem['int.pem']!),
    );
  });

  it('formats the info in Traefik order, with every field', () => {
    const leaf = new X509Certificate(pem['leaf.pem']!);
    const info = formatCertificateInfo([leaf], {
      notAfter: true,
      notBefore: true,
      sans: true,
      serialNumber: true,
      subject: ALL_DN,
      issuer: ALL_DN,
    });
    expect(info).toBe(
      [
        'Subject="C=FR,ST=Some-State,L=LYON,O=Cheese,OU=Sec 1,OU=Sec 2,SN=42,CN=client.example"',
        'Issuer="C=US,O=Cheese,CN=Intermediate"',
        'SerialNumber="123456789012345678901234567890"',
        `NB="${opensslDate('leaf.pem', 'startdate')}"`,
        `NA="${opensslDate('leaf.pem', 'enddate')}"`,
        'SAN="a.example,b.example,t@example.org,10.0.1.2,::1,spiffe://x/y"',
      ].join(';'),
    );
    const ca = new X509Certificate(pem['ca.pem']!);
    expect(formatCertificateInfo([ca], { subject: ALL_DN })).toBe(
      'Subject="DC=org,DC=cheese,C=FR,ST=Signing State,L=TOULOUSE,O=Cheese,O=Cheese 2,CN=Test CA, Inc"',
    );
    expect(
      formatCertificateInfo([leaf], { subject: { organization: true }, issuer: { country: true } }),
    ).toBe('Subject="O=Cheese";Issuer="C=US"');
    // nothing selected that the certificate has: an empty entry, as in Traefik
    expect(formatCertificateInfo([ca], { subject: { organizationalUnit: true } })).toBe('');
  });

  it('escapes the info header as Go url.QueryEscape does', () => {
    expect(goQueryEscape('Subject="CN=a b,O=c";NB="1"')).toBe(
      'Subject%3D%22CN%3Da+b%2CO%3Dc%22%3BNB%3D%221%22',
    );
    expect(goQueryEscape("a-_.~!*'()é")).toBe('a-_.~%21%2A%27%28%29%C3%A9');
  });

  it('reads the chain the client presented over a real mutual-TLS connection', async () => {
    let chain: X509Certificate[] = [];
    await mtlsRequest((req) => {
      chain = peerCertificateChain(req.socket as tls.TLSSocket);
    });
    expect(chain.map((c) => c.subject.split('\n').at(-1))).toEqual([
      'CN=client.example',
      'CN=Intermediate',
    ]);
  });

  it('sets both headers on a mutual-TLS request and replaces values the client sent', async () => {
    const mw = passTLSClientCert.create(
      { pem: true, info: { subject: { commonName: true }, sans: true } },
      {
        name: 'm@file',
        state: new StateRegistry(),
        logger: pino({ level: 'silent' }),
        service: () => {
          throw new Error('no services here');
        },
      },
    );
    const seen: http.IncomingHttpHeaders[] = [];
    const handler = mw((ctx) => seen.push({ ...ctx.req.headers }));
    const call = (req: http.IncomingMessage): void =>
      handler({ req, headers: req.headers } as unknown as RequestContext);
    await mtlsRequest(call, {
      'x-forwarded-tls-client-cert': 'forged',
      'x-forwarded-tls-client-cert-info': 'forged',
    });
    await mtlsRequest(call);
    expect(seen).toHaveLength(2);
    for (const h of seen) {
      expect(h['x-forwarded-tls-client-cert']).toBe(
        pemBody(pem['leaf.pem']!) + ',' + pemBody(pem['int.pem']!),
      );
      expect(
        decodeURIComponent(String(h['x-forwarded-tls-client-cert-info']).replace(/\+/g, ' ')),
      ).toBe(
        'Subject="CN=client.example";SAN="a.example,b.example,t@example.org,10.0.1.2,::1,spiffe://x/y",' +
          'Subject="CN=Intermediate"',
      );
    }
  });

  it('adds nothing on plain HTTP and removes what a trusted client sent', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, { m: { passTLSClientCert: { pem: true, info: { notAfter: true } } } }),
      { flags: ['--entryPoints.web.forwardedHeaders.trustedIPs=127.0.0.1/32'] },
    );
    const reply = await request(r.url + '/', {
      headers: {
        'x-forwarded-tls-client-cert': 'forged',
        'x-forwarded-tls-client-cert-info': 'forged',
        'x-forwarded-for': '10.0.0.1',
      },
    });
    expect(reply.status).toBe(200);
    expect(u.seen[0]!.headers['x-forwarded-tls-client-cert']).toBeUndefined();
    expect(u.seen[0]!.headers['x-forwarded-tls-client-cert-info']).toBeUndefined();
    // the trusted forwarder's other headers are kept
    expect(u.seen[0]!.headers['x-forwarded-for']).toBe('10.0.0.1, 127.0.0.1');
  });

  it.each([
    ['a non-boolean pem', { pem: 'yes' }, 'passTLSClientCert.pem: must be true or false'],
    [
      'an unknown subject field',
      { info: { subject: { cn: true } } },
      'passTLSClientCert.info.subject.cn: unknown field "cn"',
    ],
    ['info that is not a map', { info: 'all' }, 'passTLSClientCert.info: options must be a map'],
  ])('refuses %s', async (_name, options, message) => {
    expect(await configError({ passTLSClientCert: options })).toContain(message);
  });

  it('decodes Docker labels', async () => {
    const u = await upstream();
    const r = await router({});
    const table = r.apply(
      withMiddleware(
        u,
        labels({
          'traefik.http.middlewares.m.passtlsclientcert.pem': 'true',
          'traefik.http.middlewares.m.passtlsclientcert.info.notafter': 'true',
          'traefik.http.middlewares.m.passtlsclientcert.info.subject.commonname': 'true',
          'traefik.http.middlewares.m.passtlsclientcert.info.issuer.organizationalunit': 'true',
        }),
      ),
    );
    expect(table.routers.get('r@file')!.status).toBe('enabled');
    expect((await request(r.url + '/')).status).toBe(200);
    expect(u.seen[0]!.headers['x-forwarded-tls-client-cert']).toBeUndefined();
  });
});

/* ---------------------------------------------------------------- gRPC-Web */

/** a collecting ResponseWriter, to look at what the gRPC-Web writer produces */
class Collect implements ResponseWriter {
  headersSent = false;
  destroyed = false;
  status = 0;
  head: string[] = [];
  chunks: Buffer[] = [];
  writeHead(status: number, _t: string | undefined, headers: string[]): unknown {
    this.headersSent = true;
    this.status = status;
    this.head = headers;
    return this;
  }
  write(chunk: Buffer | string): boolean {
    this.chunks.push(Buffer.from(chunk));
    return true;
  }
  end(chunk?: Buffer | string): unknown {
    if (chunk !== undefined) this.chunks.push(Buffer.from(chunk));
    return this;
  }
  destroy(): unknown {
    this.destroyed = true;
    return this;
  }
  once(): unknown {
    return this;
  }
  on(): unknown {
    return this;
  }
  body(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function headerOf(flat: string[], name: string): string | undefined {
  for (let i = 0; i < flat.length; i += 2) if (flat[i]!.toLowerCase() === name) return flat[i + 1];
  return undefined;
}

/** an upstream that plays a gRPC server over HTTP/1.1: echoes the message back, framed */
function grpcEcho(extraHeaders: Record<string, string> = {}): UpstreamHandler {
  return (req, res, body) => {
    const { frames } = decodeFrames(Buffer.from(body, 'latin1'));
    const msg = frames[0]?.payload.toString() ?? '';
    res.writeHead(200, { 'content-type': 'application/grpc+proto', ...extraHeaders });
    res.end(encodeFrame(0, Buffer.from(`echo:${msg}`)));
  };
}

describe('grpcWeb framing', () => {
  it('maps content types', () => {
    expect(grpcContentType('application/grpc-web')).toEqual({
      contentType: 'application/grpc',
      text: false,
    });
    expect(grpcContentType('application/grpc-web+proto')).toEqual({
      contentType: 'application/grpc+proto',
      text: false,
    });
    expect(grpcContentType('application/grpc-web-text+proto')).toEqual({
      contentType: 'application/grpc+proto',
      text: true,
    });
  });

  it('decodes text bodies, including separately padded chunks', () => {
    const a = encodeFrame(0, Buffer.from('a'));
    const b = encodeFrame(0, Buffer.from('bc'));
    expect(decodeTextBody(a.toString('base64')).equals(a)).toBe(true);
    const joined = decodeTextBody(a.toString('base64') + b.toString('base64'));
    expect(joined.equals(Buffer.concat([a, b]))).toBe(true);
    expect(() => decodeTextBody('not base64!')).toThrow('not base64');
  });

  it('encodes and decodes length-prefixed frames', () => {
    const f = encodeFrame(0, Buffer.from('hello'));
    expect([...f.subarray(0, 5)]).toEqual([0, 0, 0, 0, 5]);
    const { frames, rest } = decodeFrames(Buffer.concat([f, f.subarray(0, 3)]));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.payload.toString()).toBe('hello');
    expect(rest.length).toBe(3);
  });

  it('writes trailers as a 0x80 frame with lower-cased, sorted names', () => {
    const frame = encodeTrailerFrame(['Grpc-Status', '0', 'grpc-message', 'OK', 'X-Extra', 'v']);
    const text = 'grpc-message: OK\r\ngrpc-status: 0\r\nx-extra: v\r\n';
    expect(frame[0]).toBe(0x80);
    expect(frame.readUInt32BE(1)).toBe(Buffer.byteLength(text));
    expect(frame.subarray(5).toString()).toBe(text);
  });

  it('streams base64 with padding only at the end', () => {
    const data = Buffer.from('the quick brown fox jumps');
    const enc = new Base64Encoder();
    let out = '';
    for (let i = 0; i < data.length; i += 4) out += enc.push(data.subarray(i, i + 4));
    out += enc.finish();
    expect(out).toBe(data.toString('base64'));
  });

  it('rewrites the response head and exposes every header', () => {
    const out = grpcWebResponseHeaders(
      [
        'content-type',
        'application/grpc+proto',
        'content-length',
        '12',
        'trailer',
        'grpc-status',
        'x-id',
        '1',
      ],
      true,
      ['vary', 'Origin'],
    );
    expect(headerOf(out, 'content-type')).toBe('application/grpc-web-text+proto');
    expect(headerOf(out, 'content-length')).toBeUndefined();
    expect(headerOf(out, 'trailer')).toBeUndefined();
    expect(headerOf(out, 'access-control-expose-headers')).toBe(
      'Vary, Content-Type, X-Id, grpc-status, grpc-message',
    );
  });

  it.each([false, true])(
    'turns a gRPC response and its trailers into gRPC-Web (text: %s)',
    (text) => {
      const inner = new Collect();
      const w = new GrpcWebResponseWriter(inner, text, []);
      w.writeHead(200, undefined, ['content-type', 'application/grpc']);
      const msg = encodeFrame(0, Buffer.from('payload'));
      w.write(msg.subarray(0, 4));
      w.write(msg.subarray(4));
      w.addTrailers(['grpc-status', '0', 'grpc-message', '']);
      w.end();
      const body = text ? Buffer.from(inner.body().toString(), 'base64') : inner.body();
      const { frames, rest } = decodeFrames(body);
      expect(rest.length).toBe(0);
      expect(frames.map((f) => f.flag)).toEqual([0, 0x80]);
      expect(frames[0]!.payload.toString()).toBe('payload');
      expect(frames[1]!.payload.toString()).toBe('grpc-message: \r\ngrpc-status: 0\r\n');
      expect(headerOf(inner.head, 'content-type')).toBe(
        text ? 'application/grpc-web-text' : 'application/grpc-web',
      );
    },
  );
});

describe('grpcWeb', () => {
  const cors = { m: { grpcWeb: { allowOrigins: ['https://app.example'] } } };

  it('converts a binary gRPC-Web call to gRPC and the answer back', async () => {
    const u = await upstream(grpcEcho());
    const r = await router(withMiddleware(u, cors));
    const reply = await request(r.url + '/pkg.Svc/Echo', {
      method: 'POST',
      headers: {
        'content-type': 'application/grpc-web+proto',
        'x-grpc-web': '1',
        origin: 'https://app.example',
      },
      body: encodeFrame(0, Buffer.from('hi')),
    });
    expect(u.seen[0]!.headers['content-type']).toBe('application/grpc+proto');
    expect(u.seen[0]!.headers.te).toBe('trailers');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/grpc-web+proto');
    expect(reply.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(reply.headers['access-control-allow-credentials']).toBe('true');
    expect(reply.headers['access-control-expose-headers']).toContain('grpc-status, grpc-message');
    const { frames, rest } = decodeFrames(reply.body);
    expect(rest.length).toBe(0);
    expect(frames[0]!.payload.toString()).toBe('echo:hi');
    // HTTP/1.1 upstreams hand over no trailers yet: the trailer frame is there, empty
    expect(frames[1]!.flag).toBe(0x80);
    expect(frames[1]!.payload.length).toBe(0);
  });

  it('decodes grpc-web-text requests and base64-encodes the answer', async () => {
    const u = await upstream(grpcEcho({ 'grpc-status': '0' }));
    const r = await router(withMiddleware(u, cors));
    const reply = await request(r.url + '/pkg.Svc/Echo', {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web-text' },
      body: encodeFrame(0, Buffer.from('text')).toString('base64'),
    });
    expect(u.seen[0]!.headers['content-type']).toBe('application/grpc');
    expect(u.seen[0]!.headers['content-length']).toBe('9');
    expect(reply.headers['content-type']).toBe('application/grpc-web-text+proto');
    // trailers-only style: the status came in the headers and stays there
    expect(reply.headers['grpc-status']).toBe('0');
    expect(reply.headers['access-control-allow-origin']).toBeUndefined();
    const { frames } = decodeFrames(Buffer.from(reply.body.toString(), 'base64'));
    expect(frames[0]!.payload.toString()).toBe('echo:text');
  });

  it('refuses a text body that is not base64 with 400', async () => {
    const u = await upstream(grpcEcho());
    const r = await router(withMiddleware(u, cors));
    const reply = await request(r.url + '/x', {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web-text' },
      body: '***',
    });
    expect(reply.status).toBe(400);
    expect(u.seen).toHaveLength(0);
  });

  it('answers CORS preflights itself, for allowed origins only', async () => {
    const u = await upstream();
    const r = await router(withMiddleware(u, cors));
    const preflight = (origin: string): Promise<Reply> =>
      request(r.url + '/pkg.Svc/Echo', {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,x-grpc-web,x-user-agent',
        },
      });
    const ok = await preflight('https://app.example');
    expect(ok.status).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(ok.headers['access-control-allow-methods']).toBe('POST');
    expect(ok.headers['access-control-allow-headers']).toBe('content-type,x-grpc-web,x-user-agent');
    expect(ok.headers['access-control-allow-credentials']).toBe('true');
    expect(ok.headers['access-control-max-age']).toBe('600');
    const refused = await preflight('https://evil.example');
    expect(refused.status).toBe(204);
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    expect(u.seen).toHaveLength(0);

    r.apply(withMiddleware(u, { m: { grpcWeb: { allowOrigins: ['*'] } } }));
    expect((await preflight('https://any.example')).headers['access-control-allow-origin']).toBe(
      'https://any.example',
    );
  });

  it('leaves other requests alone and passes non-gRPC answers through', async () => {
    const u = await upstream();
    const r = await router(withMiddleware(u, cors));
    const plain = await request(r.url + '/x', { headers: { origin: 'https://app.example' } });
    expect(plain.headers['content-type']).toBe('application/json');
    expect(plain.headers['access-control-allow-origin']).toBeUndefined();
    // a plain OPTIONS (no x-grpc-web asked for) goes to the upstream
    await request(r.url + '/x', { method: 'OPTIONS' });
    expect(u.seen.map((s) => s.method)).toEqual(['GET', 'OPTIONS']);

    r.apply(withMiddleware(null, cors));
    const down = await request(r.url + '/x', {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web', origin: 'https://app.example' },
      body: encodeFrame(0, Buffer.from('x')),
    });
    expect(down.status).toBe(503);
    expect(down.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(down.headers['access-control-allow-origin']).toBe('https://app.example');
  });

  it.each([
    [
      'allowOrigins that is a map',
      { allowOrigins: { a: 1 } },
      'grpcWeb.allowOrigins: must be a list',
    ],
    ['an unknown option', { allowOrigin: ['*'] }, 'did you mean "allowOrigins"?'],
  ])('refuses %s', async (_name, options, message) => {
    expect(await configError({ grpcWeb: options })).toContain(message);
  });

  it('decodes Docker labels', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(
        u,
        labels({
          'traefik.http.middlewares.m.grpcweb.alloworigins': 'https://a.example,https://b.example',
        }),
      ),
    );
    const reply = await request(r.url + '/x', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://b.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-grpc-web',
      },
    });
    expect(reply.headers['access-control-allow-origin']).toBe('https://b.example');
  });
});
