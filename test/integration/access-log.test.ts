/*
 * The access log: one line per request with Traefik's field names (JSON) or
 * Traefik's Common Log Format, written to the configured file; Traefik's
 * fields (keep/drop/redact, headers) and filters (status codes, retries,
 * minimum duration), configured through the real static options.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import selfsigned from 'selfsigned';
import { describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { createAccessLog, simpleRoute, testStaticConfig } from '../helpers/portico.js';
import { freePort, request } from '../helpers/http.js';
import { useCleanups } from '../helpers/scope.js';

const { upstream, router } = useCleanups();

async function get(url: string, headers: Record<string, string> = {}): Promise<number> {
  return (await request(url, { headers })).status;
}

async function setup(format: 'json' | 'common') {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'portico-al-')), 'access.log');
  const accessLog = createAccessLog({ filePath: file, format, bufferingSize: 0 });
  const up = await upstream((_req, res) =>
    res.writeHead(201, { 'content-length': '5' }).end('hello'),
  );
  const r = await router(simpleRoute([up.url], { rule: 'Host(`log.test`)' }), { accessLog });
  const lines = async (n: number): Promise<string[]> =>
    eventually(() => {
      accessLog.flush();
      const all = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
      if (all.length < n) throw new Error(`only ${all.length} lines`);
      return all;
    });
  return { r, up, lines };
}

describe('access log', () => {
  it('writes Traefik JSON fields for a routed request and for a 404', async () => {
    const { r, up, lines } = await setup('json');
    expect(await get(`${r.url}/path?q=1`, { host: 'log.test', 'user-agent': 'test-agent' })).toBe(
      201,
    );
    expect(await get(`${r.url}/nowhere`, { host: 'other.test' })).toBe(404);
    const [routed, missing] = (await lines(2)).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(routed).toMatchObject({
      ClientHost: '127.0.0.1',
      DownstreamStatus: 201,
      OriginStatus: 201,
      DownstreamContentSize: 5,
      RequestHost: 'log.test',
      RequestMethod: 'GET',
      RequestPath: '/path?q=1',
      RequestProtocol: 'HTTP/1.1',
      RouterName: 'r@file',
      ServiceName: 's@file',
      ServiceURL: up.url,
      entryPointName: 'web',
      RequestAddr: 'log.test',
      RequestPort: '-',
      RequestLine: 'GET /path?q=1 HTTP/1.1',
      ServiceAddr: new URL(up.url).host,
      OriginContentSize: 5,
      RetryAttempts: 0,
      RequestCount: 1,
    });
    expect(routed!.TraceId).toMatch(/^[0-9a-f]{32}$/);
    expect(routed!.StartLocal).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$/);
    expect(routed!.OriginDuration as number).toBeGreaterThan(0);
    expect(routed!.Overhead).toBe(
      (routed!.Duration as number) - (routed!.OriginDuration as number),
    );
    expect(typeof routed!.Duration).toBe('number');
    expect(routed!.Duration as number).toBeGreaterThan(0);
    expect(missing).toMatchObject({
      DownstreamStatus: 404,
      RouterName: '',
      RequestHost: 'other.test',
      OriginDuration: 0,
      RequestCount: 2,
    });
    expect(missing).not.toHaveProperty('ServiceAddr');
  });

  it('records the user basicAuth authenticated (ClientUsername), never the password', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'portico-al-')), 'access.log');
    const accessLog = createAccessLog({ filePath: file, format: 'json', bufferingSize: 0 });
    const up = await upstream('up');
    const hash = '{SHA}' + createHash('sha1').update('s3cret').digest('base64');
    const r = await router(
      {
        http: {
          routers: { r: { rule: 'Host(`log.test`)', service: 's', middlewares: ['auth'] } },
          middlewares: { auth: { basicAuth: { users: [`alice:${hash}`] } } },
          services: { s: { loadBalancer: { servers: [{ url: up.url }] } } },
        },
      },
      { accessLog },
    );
    const basic = 'Basic ' + Buffer.from('alice:s3cret').toString('base64');
    expect(await get(`${r.url}/`, { host: 'log.test', authorization: basic })).toBe(200);
    const line = await eventually(() => {
      accessLog.flush();
      const text = readFileSync(file, 'utf8').trim();
      if (text === '') throw new Error('no line yet');
      return text;
    });
    expect(JSON.parse(line)).toMatchObject({ ClientUsername: 'alice', DownstreamStatus: 200 });
    expect(line).not.toContain('s3cret');
  });

  it('writes Common Log Format lines', async () => {
    const { r, up, lines } = await setup('common');
    await get(`${r.url}/clf`, {
      host: 'log.test',
      'user-agent': 'agent/1.0',
      referer: 'http://ref.test/',
    });
    const [line] = await lines(1);
    expect(line).toMatch(
      new RegExp(
        String.raw`^127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET /clf HTTP/1\.1" 201 5 "http://ref\.test/" "agent/1\.0" 1 "r@file" "${up.url.replace(/\./g, '\\.')}" \d+ms$`,
      ),
    );
  });
});

/** a JSON access log configured through the real static options (flags), in a temp file */
function jsonLog(flags: string[] = [], format: 'json' | 'common' = 'json') {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'portico-al-')), 'access.log');
  const sc = testStaticConfig([`--accessLog.format=${format}`, ...flags]);
  const accessLog = createAccessLog({ ...sc.accessLog!, filePath: file });
  const lines = async (n: number): Promise<string[]> =>
    eventually(() => {
      accessLog.flush();
      const all = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
      if (all.length < n) throw new Error(`only ${all.length} lines`);
      return all;
    });
  const records = async (n: number): Promise<Record<string, unknown>[]> =>
    (await lines(n)).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { accessLog, lines, records };
}

/** an upstream answering /status/NNN with NNN, /slow after 600 ms, and a cookie on every answer */
async function statusUpstream() {
  return upstream((req, res) => {
    const m = /^\/status\/(\d{3})/.exec(req.url ?? '');
    const send = (): void => {
      res.writeHead(m ? Number(m[1]) : 200, {
        'content-type': 'text/plain',
        'set-cookie': 'session=abc123',
        'x-upstream-note': 'note',
      });
      res.end('ok');
    };
    if (req.url === '/slow') setTimeout(send, 600);
    else send();
  });
}

describe('access log fields (accessLog.fields)', () => {
  it('drops, redacts and keeps fields by name', async () => {
    const { accessLog, records } = jsonLog([
      '--accessLog.fields.names.ClientHost=redact',
      '--accessLog.fields.names.RequestPath=drop',
      // the path is in RequestLine too
      '--accessLog.fields.names.RequestLine=drop',
      '--accessLog.fields.names.StartLocal=drop',
    ]);
    const up = await statusUpstream();
    const r = await router(simpleRoute([up.url]), { accessLog });
    expect(await get(`${r.url}/secret/path`)).toBe(200);
    const [rec] = await records(1);
    expect(rec!.ClientHost).toBe('REDACTED');
    expect(rec).not.toHaveProperty('RequestPath');
    expect(rec).not.toHaveProperty('StartLocal');
    expect(rec).toMatchObject({ DownstreamStatus: 200, RequestMethod: 'GET' });
    expect(JSON.stringify(rec)).not.toContain('/secret/path');
  });

  it('with defaultMode drop writes only the fields named keep', async () => {
    const { accessLog, records } = jsonLog([
      '--accessLog.fields.defaultMode=drop',
      '--accessLog.fields.names.DownstreamStatus=keep',
      '--accessLog.fields.names.RouterName=keep',
    ]);
    const up = await statusUpstream();
    const r = await router(simpleRoute([up.url]), { accessLog });
    await get(`${r.url}/status/204`);
    const [rec] = await records(1);
    expect(Object.keys(rec!).sort()).toEqual(
      ['DownstreamStatus', 'RouterName', 'level', 'msg', 'time'].sort(),
    );
    expect(rec).toMatchObject({ DownstreamStatus: 204, RouterName: 'r@file' });
  });

  it('writes the same fields through a configured plan as through the default line', async () => {
    // a header name that never occurs forces the planned path without changing any field
    const planned = jsonLog(['--accessLog.fields.headers.names.X-Never-Sent=keep']);
    const plain = jsonLog();
    const up = await statusUpstream();
    const a = await router(simpleRoute([up.url]), { accessLog: planned.accessLog });
    const b = await router(simpleRoute([up.url]), { accessLog: plain.accessLog });
    await get(`${a.url}/x?y=1`);
    await get(`${b.url}/x?y=1`);
    const [p] = await planned.records(1);
    const [d] = await plain.records(1);
    expect(Object.keys(p!).sort()).toEqual(Object.keys(d!).sort());
    for (const key of ['RequestLine', 'RequestPath', 'ServiceAddr', 'RequestCount', 'OriginStatus'])
      expect(p![key]).toEqual(d![key]);
  });
});

describe('access log headers (accessLog.fields.headers)', () => {
  it('logs no header by default (Traefik drops them)', async () => {
    const { accessLog, lines } = jsonLog();
    const up = await statusUpstream();
    const r = await router(simpleRoute([up.url]), { accessLog });
    await get(`${r.url}/`, { 'user-agent': 'agent/1', authorization: 'Bearer tok' });
    const [line] = await lines(1);
    expect(line).not.toMatch(/request_|downstream_/);
    expect(line).not.toContain('Bearer tok');
  });

  it('keeps named headers with request_ and downstream_ prefixes, redacts and drops others', async () => {
    const { accessLog, records } = jsonLog([
      '--accessLog.fields.headers.names.User-Agent=keep',
      '--accessLog.fields.headers.names.x-api-key=redact',
      '--accessLog.fields.headers.names.Content-Type=keep',
    ]);
    const up = await statusUpstream();
    const r = await router(simpleRoute([up.url]), { accessLog });
    await get(`${r.url}/`, {
      'user-agent': 'agent/1',
      'x-api-key': 'k-123',
      'x-other': 'other',
      authorization: 'Bearer tok',
    });
    const [rec] = await records(1);
    expect(rec).toMatchObject({
      'request_User-Agent': 'agent/1',
      'request_X-Api-Key': 'REDACTED',
      'downstream_Content-Type': 'text/plain',
    });
    expect(rec).not.toHaveProperty('request_X-Other');
    expect(rec).not.toHaveProperty('request_Authorization');
    expect(rec).not.toHaveProperty('downstream_X-Upstream-Note');
    expect(JSON.stringify(rec)).not.toContain('k-123');
  });

  it('with defaultMode keep still redacts credentials unless a name says keep', async () => {
    const { accessLog, records, lines } = jsonLog([
      '--accessLog.fields.headers.defaultMode=keep',
      '--accessLog.fields.headers.names.X-Drop-Me=drop',
      '--accessLog.fields.headers.names.User-Agent=redact',
      '--accessLog.fields.headers.names.Proxy-Authorization=keep',
    ]);
    const up = await statusUpstream();
    const r = await router(simpleRoute([up.url]), { accessLog });
    await get(`${r.url}/`, {
      'user-agent': 'agent/1',
      authorization: 'Bearer tok',
      cookie: 'sid=s3cret',
      'proxy-authorization': 'Basic visible',
      'x-drop-me': 'gone',
      'x-custom': 'kept',
    });
    const [rec] = await records(1);
    expect(rec).toMatchObject({
      'request_User-Agent': 'REDACTED',
      request_Authorization: 'REDACTED',
      request_Cookie: 'REDACTED',
      'request_Proxy-Authorization': 'Basic visible',
      'request_X-Custom': 'kept',
      'downstream_Set-Cookie': 'REDACTED',
      'downstream_X-Upstream-Note': 'note',
      'downstream_Content-Type': 'text/plain',
    });
    expect(rec).not.toHaveProperty('request_X-Drop-Me');
    const [line] = await lines(1);
    expect(line).not.toMatch(/Bearer tok|s3cret|abc123/);
  });
});

describe('access log filters (accessLog.filters)', () => {
  it('writes only the status codes and ranges listed', async () => {
    const { accessLog, records } = jsonLog(['--accessLog.filters.statusCodes=200,300-302,418']);
    const up = await statusUpstream();
    const r = await router(simpleRoute([up.url]), { accessLog });
    for (const code of [200, 204, 301, 302, 303, 404, 500]) await get(`${r.url}/status/${code}`);
    expect(await get(`${r.url}/status/418`)).toBe(418);
    const recs = await records(4);
    expect(recs.map((x) => x.DownstreamStatus)).toEqual([200, 301, 302, 418]);
    // RequestCount counts the requests filtered out too, as Traefik's
    expect(recs.map((x) => x.RequestCount)).toEqual([1, 3, 4, 8]);
  });

  it('writes only requests slower than minDuration', async () => {
    const { accessLog, records } = jsonLog(['--accessLog.filters.minDuration=300ms']);
    const up = await statusUpstream();
    const r = await router(simpleRoute([up.url]), { accessLog });
    await get(`${r.url}/fast`);
    await get(`${r.url}/slow`);
    await get(`${r.url}/fast`);
    await get(`${r.url}/slow`);
    const recs = await records(2);
    expect(recs.map((x) => x.RequestPath)).toEqual(['/slow', '/slow']);
    expect(recs[0]!.Duration as number).toBeGreaterThan(300e6);
  });

  it('writes only retried requests with retryAttempts, counting the retries', async () => {
    const { accessLog, records } = jsonLog(['--accessLog.filters.retryAttempts=true']);
    const seen = new Map<string, number>();
    const up = await upstream((req, res) => {
      const n = (seen.get(req.url ?? '') ?? 0) + 1;
      seen.set(req.url ?? '', n);
      res.writeHead(req.url === '/flaky' && n === 1 ? 503 : 200).end('x');
    });
    const r = await router(
      {
        http: {
          routers: { r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: ['retry'] } },
          middlewares: { retry: { retry: { attempts: 3, status: ['503'] } } },
          services: { s: { loadBalancer: { servers: [{ url: up.url }] } } },
        },
      },
      { accessLog },
    );
    expect(await get(`${r.url}/steady`)).toBe(200);
    expect(await get(`${r.url}/flaky`)).toBe(200);
    expect(await get(`${r.url}/steady`)).toBe(200);
    const recs = await records(1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ RequestPath: '/flaky', RetryAttempts: 1, OriginStatus: 200 });
  });

  it('applies filters to Common Log Format lines too', async () => {
    const { accessLog, lines } = jsonLog(['--accessLog.filters.statusCodes=404'], 'common');
    const up = await statusUpstream();
    const r = await router(simpleRoute([up.url]), { accessLog });
    await get(`${r.url}/status/200`);
    await get(`${r.url}/status/404`);
    await get(`${r.url}/status/201`);
    const all = await lines(1);
    expect(all).toHaveLength(1);
    expect(all[0]).toMatch(/"GET \/status\/404 HTTP\/1\.1" 404 /);
  });
});

describe('access log: TLS fields', () => {
  it('writes TLSVersion and TLSCipher for HTTPS requests', async () => {
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'tls.test' }], {
      keyType: 'ec',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: 'tls.test' }] }],
    });
    const { accessLog, records } = jsonLog(['--accessLog.fields.headers.names.Content-Type=keep']);
    const up = await statusUpstream();
    const securePort = await freePort();
    const config = simpleRoute([up.url]);
    config.http!.routers!.r = { rule: 'PathPrefix(`/`)', service: 's', tls: {} };
    (config as Record<string, unknown>).tls = {
      certificates: [{ certFile: pems.cert, keyFile: pems.private }],
    };
    await router(config, {
      accessLog,
      flags: [
        `--entryPoints.websecure.address=127.0.0.1:${securePort}`,
        '--entryPoints.websecure.http.tls',
      ],
    });
    const status = await new Promise<number>((resolve, reject) => {
      https
        .get(
          {
            host: '127.0.0.1',
            port: securePort,
            path: '/tls',
            servername: 'tls.test',
            headers: { host: 'tls.test' },
            rejectUnauthorized: false,
            maxVersion: 'TLSv1.2',
            agent: false,
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        )
        .on('error', reject);
    });
    expect(status).toBe(200);
    // HTTP/2 (ALPN) keeps its TLS details on the session's socket and its head on the stream
    const session = http2.connect(`https://127.0.0.1:${securePort}`, {
      servername: 'tls.test',
      rejectUnauthorized: false,
    });
    const h2status = await new Promise<number>((resolve, reject) => {
      const stream = session.request({ ':path': '/h2', ':authority': 'tls.test' });
      stream.on('response', (h) => resolve(Number(h[':status'])));
      stream.on('error', reject);
      stream.resume();
    });
    session.close();
    expect(h2status).toBe(200);
    const [rec, h2rec] = await records(2);
    expect(rec).toMatchObject({
      RequestScheme: 'https',
      TLSVersion: '1.2',
      'downstream_Content-Type': 'text/plain',
    });
    // IANA names, as Go (and so Traefik) writes them
    expect(rec!.TLSCipher).toMatch(/^TLS_ECDHE_ECDSA_WITH_/);
    expect(h2rec).toMatchObject({
      RequestProtocol: 'HTTP/2.0',
      TLSVersion: '1.3',
      TLSCipher: expect.stringMatching(/^TLS_AES_|^TLS_CHACHA20_/),
      'downstream_Content-Type': 'text/plain',
    });
  });
});
