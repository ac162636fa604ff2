/*
 * The headers middleware against a real upstream: custom request/response
 * headers, CORS (preflights answered by Portico), security headers, allowed
 * hosts, option validation and Docker-label decoding.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { request as send, type Reply } from '../../helpers/http.js';
import { useCleanups } from '../../helpers/scope.js';
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import { decodeLabels } from '../../../src/config/labels.js';
import { headers } from '../../../middlewares/headers.js';
import type { MiddlewareBuildContext } from '../../../middlewares/types.js';

const { upstream, router } = useCleanups();

const request = (
  url: string,
  reqHeaders: Record<string, string> = {},
  method = 'GET',
): Promise<Reply> => send(url, { method, headers: reqHeaders });

function withMiddlewares(
  server: string,
  middlewares: Record<string, Record<string, unknown>>,
  chain: string[] = Object.keys(middlewares),
): DynamicConfig {
  return {
    http: {
      routers: { r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: chain } },
      services: { s: { loadBalancer: { servers: [{ url: server }] } } },
      middlewares,
    } as DynamicConfig['http'],
  };
}

const buildCtx: MiddlewareBuildContext = {
  name: 'm@file',
  state: undefined as never,
  logger: pino({ level: 'silent' }),
  service: () => {
    throw new Error('no services here');
  },
};

describe('custom headers', () => {
  it('sets and removes request headers on the way upstream, and Host', async () => {
    const u = await upstream();
    const r = await router(
      withMiddlewares(u.url, {
        m: {
          headers: {
            customRequestHeaders: {
              'X-Script-Name': 'test',
              'X-Remove-Me': '',
              Host: 'inner.test',
            },
          },
        },
      }),
    );
    const res = await request(r.url + '/', { 'x-remove-me': 'secret', 'x-keep': '1' });
    expect(res.status).toBe(200);
    const seen = u.seen[0]!.headers;
    expect(seen['x-script-name']).toBe('test');
    expect(seen['x-remove-me']).toBeUndefined();
    expect(seen['x-keep']).toBe('1');
    expect(seen.host).toBe('inner.test');
    // the client's Host stays visible to the upstream, as in Traefik
    expect(seen['x-forwarded-host']).toBe(`127.0.0.1:${r.port}`);
  });

  it('sets and removes response headers on proxied responses', async () => {
    const u = await upstream((_req, res) => {
      res.writeHead(200, { server: 'upstream/1.0', 'x-powered-by': 'php', 'x-keep': 'k' });
      res.end('ok');
    });
    const r = await router(
      withMiddlewares(u.url, {
        m: {
          headers: {
            customResponseHeaders: { 'X-Custom': 'value', Server: '', 'X-Powered-By': '' },
          },
        },
      }),
    );
    const res = await request(r.url + '/');
    expect(res.headers['x-custom']).toBe('value');
    expect(res.headers.server).toBeUndefined();
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-keep']).toBe('k');
    expect(res.body).toBe('ok');
  });

  it('applies response headers to responses Portico writes itself (502 from a dead upstream)', async () => {
    const r = await router(
      withMiddlewares('http://127.0.0.1:1', {
        m: { headers: { customResponseHeaders: { 'X-Custom': 'v' }, frameDeny: true } },
      }),
    );
    const res = await request(r.url + '/');
    expect(res.status).toBe(502);
    expect(res.headers['x-custom']).toBe('v');
    expect(res.headers['x-frame-options']).toBe('DENY');
  });

  it('applies them to a status written by an inner middleware (errors page chain)', async () => {
    const u = await upstream((_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('down');
    });
    const pages = await upstream((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`page ${req.url}`);
    });
    const config = withMiddlewares(u.url, {
      h: { headers: { customResponseHeaders: { 'X-Custom': 'v' } } },
      e: { errors: { status: ['500-599'], service: 'pages', query: '/{status}.html' } },
    });
    config.http!.services!.pages = { loadBalancer: { servers: [{ url: pages.url }] } };
    const r = await router(config);
    const res = await request(r.url + '/');
    expect(res.status).toBe(503);
    expect(res.body).toBe('page /503.html');
    expect(res.headers['x-custom']).toBe('v');
  });
});

describe('CORS', () => {
  const cors = {
    accessControlAllowMethods: ['GET', 'OPTIONS', 'PUT'],
    accessControlAllowHeaders: ['X-Custom', 'Content-Type'],
    accessControlAllowOriginList: ['https://a.test'],
    accessControlAllowOriginListRegex: ['^https://[a-z]+\\.b\\.test$'],
    accessControlExposeHeaders: ['X-Total'],
    accessControlMaxAge: 100,
    accessControlAllowCredentials: true,
    addVaryHeader: true,
  };

  it('answers a preflight itself, without reaching the upstream', async () => {
    const u = await upstream();
    const r = await router(withMiddlewares(u.url, { m: { headers: cors } }));
    const res = await request(
      r.url + '/',
      { origin: 'https://a.test', 'access-control-request-method': 'PUT' },
      'OPTIONS',
    );
    expect(res.status).toBe(200);
    expect(res.body).toBe('');
    expect(res.headers['access-control-allow-origin']).toBe('https://a.test');
    expect(res.headers['access-control-allow-methods']).toBe('GET,OPTIONS,PUT');
    expect(res.headers['access-control-allow-headers']).toBe('X-Custom,Content-Type');
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(res.headers['access-control-max-age']).toBe('100');
    expect(u.seen).toHaveLength(0);
  });

  it('leaves Access-Control-Allow-Origin out of a preflight from an unknown origin', async () => {
    const u = await upstream();
    const r = await router(withMiddlewares(u.url, { m: { headers: cors } }));
    const res = await request(
      r.url + '/',
      { origin: 'https://evil.test', 'access-control-request-method': 'PUT' },
      'OPTIONS',
    );
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(u.seen).toHaveLength(0);
  });

  it('forwards an OPTIONS request that is not a preflight', async () => {
    const u = await upstream();
    const r = await router(withMiddlewares(u.url, { m: { headers: cors } }));
    await request(r.url + '/', { origin: 'https://a.test' }, 'OPTIONS');
    expect(u.seen).toHaveLength(1);
  });

  it('adds the CORS headers to simple requests, matching by list or regex', async () => {
    const u = await upstream((_req, res) => {
      res.writeHead(200, { vary: 'Accept-Encoding', 'access-control-allow-origin': 'upstream' });
      res.end('ok');
    });
    const r = await router(withMiddlewares(u.url, { m: { headers: cors } }));
    const listed = await request(r.url + '/', { origin: 'https://a.test' });
    expect(listed.headers['access-control-allow-origin']).toBe('https://a.test');
    expect(listed.headers['access-control-allow-credentials']).toBe('true');
    expect(listed.headers['access-control-expose-headers']).toBe('X-Total');
    expect(listed.headers.vary).toBe('Accept-Encoding,Origin');
    const byRegex = await request(r.url + '/', { origin: 'https://x.b.test' });
    expect(byRegex.headers['access-control-allow-origin']).toBe('https://x.b.test');
    // not allowed: Traefik leaves what the upstream said
    const other = await request(r.url + '/', { origin: 'https://x.c.test' });
    expect(other.headers['access-control-allow-origin']).toBe('upstream');
  });

  it('answers * when the list allows any origin', async () => {
    const u = await upstream();
    const r = await router(
      withMiddlewares(u.url, { m: { headers: { accessControlAllowOriginList: ['*'] } } }),
    );
    const res = await request(r.url + '/', { origin: 'https://whoever.test' });
    expect(res.headers['access-control-allow-origin']).toBe('*');
    const pre = await request(
      r.url + '/',
      { origin: 'https://whoever.test', 'access-control-request-method': 'GET' },
      'OPTIONS',
    );
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect(pre.headers['access-control-max-age']).toBe('0');
  });
});

describe('security headers', () => {
  it('sends the configured security headers; STS only on HTTPS unless forced', async () => {
    const u = await upstream();
    const opts = {
      frameDeny: true,
      contentTypeNosniff: true,
      browserXssFilter: true,
      contentSecurityPolicy: "default-src 'self'",
      contentSecurityPolicyReportOnly: 'default-src https:',
      referrerPolicy: 'same-origin',
      permissionsPolicy: 'camera=()',
      stsSeconds: 31536000,
      stsIncludeSubdomains: true,
      stsPreload: true,
      publicKey: 'pin-sha256="x"',
      // X-Forwarded-Proto from an untrusted client is dropped before routing: a header of our own
      sslProxyHeaders: { 'X-Is-Tls': 'on' },
    };
    const r = await router(withMiddlewares(u.url, { m: { headers: opts } }));
    const plain = await request(r.url + '/');
    expect(plain.headers['x-frame-options']).toBe('DENY');
    expect(plain.headers['x-content-type-options']).toBe('nosniff');
    expect(plain.headers['x-xss-protection']).toBe('1; mode=block');
    expect(plain.headers['content-security-policy']).toBe("default-src 'self'");
    expect(plain.headers['content-security-policy-report-only']).toBe('default-src https:');
    expect(plain.headers['referrer-policy']).toBe('same-origin');
    expect(plain.headers['permissions-policy']).toBe('camera=()');
    expect(plain.headers['strict-transport-security']).toBeUndefined();
    expect(plain.headers['public-key-pins']).toBeUndefined();

    const tls = await request(r.url + '/', { 'x-is-tls': 'on' });
    expect(tls.headers['strict-transport-security']).toBe(
      'max-age=31536000; includeSubDomains; preload',
    );
    expect(tls.headers['public-key-pins']).toBe('pin-sha256="x"');

    const forced = await router(
      withMiddlewares(u.url, { m: { headers: { ...opts, forceSTSHeader: true } } }),
    );
    const res = await request(forced.url + '/');
    expect(res.headers['strict-transport-security']).toBe(
      'max-age=31536000; includeSubDomains; preload',
    );
  });

  it('uses the custom frame and XSS values over the flags, and lets customResponseHeaders win', async () => {
    const u = await upstream();
    const r = await router(
      withMiddlewares(u.url, {
        m: {
          headers: {
            frameDeny: true,
            customFrameOptionsValue: 'SAMEORIGIN',
            browserXssFilter: true,
            customBrowserXSSValue: '0',
            contentTypeNosniff: true,
            customResponseHeaders: { 'X-Content-Type-Options': '' },
          },
        },
      }),
    );
    const res = await request(r.url + '/');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['x-xss-protection']).toBe('0');
    expect(res.headers['x-content-type-options']).toBeUndefined();
  });

  it('isDevelopment turns STS and allowedHosts off', async () => {
    const u = await upstream();
    const r = await router(
      withMiddlewares(u.url, {
        m: {
          headers: {
            isDevelopment: true,
            stsSeconds: 60,
            forceSTSHeader: true,
            allowedHosts: ['only.test'],
          },
        },
      }),
    );
    const res = await request(r.url + '/', { host: 'other.test' });
    expect(res.status).toBe(200);
    expect(res.headers['strict-transport-security']).toBeUndefined();
  });

  it('refuses hosts outside allowedHosts with 500 Bad Host, and reads hostsProxyHeaders first', async () => {
    const u = await upstream();
    const r = await router(
      withMiddlewares(u.url, {
        m: {
          headers: {
            allowedHosts: ['good.test', 'Proxied.test'],
            hostsProxyHeaders: ['X-Original-Host'],
          },
        },
      }),
    );
    expect((await request(r.url + '/', { host: 'good.test' })).status).toBe(200);
    const bad = await request(r.url + '/', { host: 'bad.test' });
    expect(bad.status).toBe(500);
    expect(bad.body).toBe('Bad Host\n');
    expect(
      (await request(r.url + '/', { host: 'bad.test', 'x-original-host': 'proxied.test' })).status,
    ).toBe(200);
    expect(u.seen).toHaveLength(2);
  });
});

describe('configuration', () => {
  it.each([
    [{}, 'no header option is set'],
    [
      { sslRedirect: true },
      'sslRedirect: removed in traefik v3; use the redirectScheme middleware',
    ],
    [{ featurePolicy: 'x' }, 'featurePolicy: removed in traefik v3; use permissionsPolicy'],
    [{ accessControlAllowOrigin: '*' }, 'accessControlAllowOrigin: removed in traefik v3'],
    [{ stsSeconds: -1 }, 'stsSeconds: must be at least 0'],
    [{ frameDeny: 'maybe' }, 'frameDeny: must be true or false'],
    [{ customResponseHeaders: { 'Bad Name': 'x' } }, 'not a valid header name'],
    [{ customRequestHeaders: { 'X-A': 'a\r\nb' } }, 'must not contain control characters'],
    [{ accessControlAllowOriginListRegex: ['(?<=x)a'] }, 'accessControlAllowOriginListRegex[0]'],
    [{ accessControlAllowOriginListRegex: ['(a'] }, 'invalid regular expression'],
    [{ frameDeni: true }, 'frameDeni: unknown field "frameDeni", did you mean "frameDeny"?'],
  ])('rejects %j', (raw, message) => {
    expect(() => headers.create(raw, buildCtx)).toThrow(message);
  });

  it('accepts option names in any case (labels arrive lower-cased)', () => {
    expect(() =>
      headers.create(
        { framedeny: 'true', stsseconds: '10', customresponseheaders: { A: 'b' } },
        buildCtx,
      ),
    ).not.toThrow();
  });

  it('disables only the routers using a bad headers middleware', async () => {
    const u = await upstream();
    const config = withMiddlewares(u.url, { m: { headers: { sslRedirect: true } } });
    config.http!.routers!.ok = { rule: 'Path(`/ok`)', service: 's' };
    const r = await router(config);
    const table = r.apply(config);
    expect(table.routers.get('r@file')?.status).toBe('disabled');
    expect(table.routers.get('r@file')?.errors.join(' ')).toContain('headers.sslRedirect');
    expect((await request(r.url + '/ok')).status).toBe(200);
  });
});

describe('Docker labels', () => {
  it('decodes a headers middleware from labels and applies it', async () => {
    const u = await upstream();
    const decoded = decodeLabels(
      {
        'traefik.http.middlewares.m.headers.customresponseheaders.X-Label': 'from-label',
        'traefik.http.middlewares.m.headers.accesscontrolalloworiginlist':
          'https://a.test,https://b.test',
        'traefik.http.middlewares.m.headers.accesscontrolallowmethods': 'GET,POST',
        'traefik.http.middlewares.m.headers.accesscontrolmaxage': '42',
        'traefik.http.middlewares.m.headers.framedeny': 'true',
      },
      { prefixes: ['traefik'] },
    );
    expect(decoded.issues).toEqual([]);
    const r = await router(withMiddlewares(u.url, decoded.http.middlewares));
    const res = await request(r.url + '/', { origin: 'https://b.test' });
    expect(res.headers['x-label']).toBe('from-label');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['access-control-allow-origin']).toBe('https://b.test');
    const pre = await request(
      r.url + '/',
      { origin: 'https://a.test', 'access-control-request-method': 'POST' },
      'OPTIONS',
    );
    expect(pre.headers['access-control-allow-methods']).toBe('GET,POST');
    expect(pre.headers['access-control-max-age']).toBe('42');
  });
});
