/*
 * The access log: one line per request with Traefik's field names (JSON) or
 * Traefik's Common Log Format, written to the configured file.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { createAccessLog, simpleRoute } from '../helpers/portico.js';
import { request } from '../helpers/http.js';
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
    });
    expect(typeof routed!.Duration).toBe('number');
    expect(routed!.Duration as number).toBeGreaterThan(0);
    expect(missing).toMatchObject({
      DownstreamStatus: 404,
      RouterName: '',
      RequestHost: 'other.test',
    });
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
