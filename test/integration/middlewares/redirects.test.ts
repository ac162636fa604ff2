/*
 * RedirectScheme and RedirectRegex against a real upstream: status codes by
 * method and permanence, the Location kept to host/path/query, requests
 * already on the target passing through, X-Forwarded-Proto from trusted
 * forwarders only, config errors and labels.
 */
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import { decodeLabels } from '../../../src/config/labels.js';
import type { Upstream } from '../../helpers/upstream.js';
import { request as send, type Reply } from '../../helpers/http.js';
import { useCleanups } from '../../helpers/scope.js';

const { upstream, router } = useCleanups();

function request(
  base: string,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Reply> {
  return send(base + path, { method, headers, body: method === 'POST' ? 'payload' : undefined });
}

function withMiddleware(u: Upstream, middlewares: Record<string, unknown>): DynamicConfig {
  return {
    http: {
      routers: { r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: ['m'] } },
      services: { s: { loadBalancer: { servers: [{ url: u.url }] } } },
      middlewares: middlewares as never,
    },
  };
}

async function configError(middleware: Record<string, unknown>): Promise<string> {
  const u = await upstream();
  const r = await router({});
  const table = r.apply(withMiddleware(u, { m: middleware }));
  expect(table.routers.get('r@file')!.status).toBe('disabled');
  return table.middlewares.get('m@file')!.errors.join('\n');
}

describe('redirectScheme', () => {
  it.each<[string, Record<string, unknown>, string, string, number, string]>([
    [
      'http → https, port dropped',
      { scheme: 'https' },
      'GET',
      'example.com:8000',
      302,
      'https://example.com/p?q=1',
    ],
    [
      'with a port',
      { scheme: 'https', port: '8443' },
      'GET',
      'example.com',
      302,
      'https://example.com:8443/p?q=1',
    ],
    [
      'default port omitted',
      { scheme: 'https', port: '443' },
      'GET',
      'example.com:80',
      302,
      'https://example.com/p?q=1',
    ],
    [
      'POST keeps its method: 307',
      { scheme: 'https' },
      'POST',
      'example.com',
      307,
      'https://example.com/p?q=1',
    ],
    [
      'HEAD is not GET: 307, as in Traefik',
      { scheme: 'https' },
      'HEAD',
      'example.com',
      307,
      'https://example.com/p?q=1',
    ],
    [
      'permanent GET: 301',
      { scheme: 'https', permanent: true },
      'GET',
      'example.com',
      301,
      'https://example.com/p?q=1',
    ],
    [
      'permanent POST: 308',
      { scheme: 'https', permanent: true },
      'POST',
      'example.com',
      308,
      'https://example.com/p?q=1',
    ],
    [
      'IPv6 host',
      { scheme: 'https', port: '8443' },
      'GET',
      '[::1]:80',
      302,
      'https://[::1]:8443/p?q=1',
    ],
    [
      'another port on the same scheme',
      { scheme: 'http', port: '8181' },
      'GET',
      'example.com:8080',
      302,
      'http://example.com:8181/p?q=1',
    ],
  ])('%s', async (_name, options, method, host, status, location) => {
    const u = await upstream();
    const r = await router(withMiddleware(u, { m: { redirectScheme: options } }));
    const reply = await request(r.url, '/p?q=1', { host }, method);
    expect(reply.status).toBe(status);
    expect(reply.headers.location).toBe(location);
    if (method !== 'HEAD') expect(reply.body).toBe(http.STATUS_CODES[status]);
    expect(u.seen).toHaveLength(0);
  });

  it('redirects the normalised path', async () => {
    const u = await upstream();
    const r = await router(withMiddleware(u, { m: { redirectScheme: { scheme: 'https' } } }));
    const reply = await request(r.url, '/a/../b//c', { host: 'example.com' });
    expect(reply.headers.location).toBe('https://example.com/b/c');
  });

  it('lets a request already on the target scheme and port through', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, { m: { redirectScheme: { scheme: 'http', port: '80' } } }),
    );
    expect((await request(r.url, '/x', { host: 'example.com' })).status).toBe(200);
    expect((await request(r.url, '/x', { host: 'example.com:80' })).status).toBe(200);
    expect(u.seen).toHaveLength(2);
  });

  it('believes X-Forwarded-Proto only from a trusted forwarder', async () => {
    const u = await upstream();
    const config = withMiddleware(u, { m: { redirectScheme: { scheme: 'https' } } });
    const untrusted = await router(config);
    const forged = await request(untrusted.url, '/x', {
      host: 'example.com',
      'x-forwarded-proto': 'https',
    });
    expect(forged.status).toBe(302);

    const trusted = await router(config, {
      flags: ['--entryPoints.web.forwardedHeaders.trustedIPs=127.0.0.1/32'],
    });
    for (const proto of ['https', 'wss', 'HTTPS'])
      expect(
        (await request(trusted.url, '/x', { host: 'example.com', 'x-forwarded-proto': proto }))
          .status,
      ).toBe(200);
    for (const proto of ['http', 'ws', 'bogus'])
      expect(
        (await request(trusted.url, '/x', { host: 'example.com', 'x-forwarded-proto': proto }))
          .status,
      ).toBe(302);
  });

  it.each([
    ['a missing scheme', {}, 'redirectScheme.scheme: is required'],
    ['an empty scheme', { scheme: ' ' }, 'redirectScheme.scheme: must not be empty'],
    [
      'a scheme with a colon',
      { scheme: 'https:' },
      'redirectScheme.scheme: is not a valid URL scheme',
    ],
    [
      'a port that is not a number',
      { scheme: 'https', port: 'abc' },
      'redirectScheme.port: must be a port number',
    ],
    [
      'a port out of range',
      { scheme: 'https', port: '70000' },
      'redirectScheme.port: must be a port number',
    ],
    [
      'a permanent that is not a bool',
      { scheme: 'https', permanent: 'yes' },
      'redirectScheme.permanent: must be true or false',
    ],
  ])('refuses %s', async (_name, options, message) => {
    expect(await configError({ redirectScheme: options })).toContain(message);
  });

  it('takes a numeric port from YAML', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, { m: { redirectScheme: { scheme: 'https', port: 8443 } } }),
    );
    const reply = await request(r.url, '/', { host: 'example.com' });
    expect(reply.headers.location).toBe('https://example.com:8443/');
  });

  it('decodes Docker labels', async () => {
    const u = await upstream();
    const middlewares = decodeLabels(
      {
        'traefik.http.middlewares.m.redirectscheme.scheme': 'https',
        'traefik.http.middlewares.m.redirectscheme.port': '8443',
        'traefik.http.middlewares.m.redirectscheme.permanent': 'true',
      },
      { prefixes: ['traefik'] },
    ).http.middlewares;
    const r = await router(withMiddleware(u, middlewares));
    const reply = await request(r.url, '/x', { host: 'example.com' });
    expect(reply.status).toBe(301);
    expect(reply.headers.location).toBe('https://example.com:8443/x');
  });
});

describe('redirectRegex', () => {
  it('redirects with the groups of the full request URL', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, {
        m: {
          redirectRegex: {
            regex: '^http://localhost(:[0-9]+)?/old/(.*)',
            replacement: 'https://example.com/new/${2}',
          },
        },
      }),
    );
    const reply = await request(r.url, '/old/a/b?x=1', { host: 'localhost:8080' });
    expect(reply.status).toBe(302);
    expect(reply.headers.location).toBe('https://example.com/new/a/b?x=1');
    expect(reply.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(reply.body).toBe('Found');
  });

  it('passes through when nothing matches or the URL would not change', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, {
        m: { redirectRegex: { regex: '^http://([^/]+)/(.*)', replacement: 'http://${1}/${2}' } },
      }),
    );
    expect((await request(r.url, '/same', { host: 'a.test' })).status).toBe(200);
    const other = await router(
      withMiddleware(u, { m: { redirectRegex: { regex: '^https://', replacement: 'http://' } } }),
    );
    expect((await request(other.url, '/x')).status).toBe(200);
    expect(u.seen).toHaveLength(2);
  });

  it.each<[string, boolean, string, number]>([
    ['GET', false, 'GET', 302],
    ['POST', false, 'POST', 307],
    ['permanent GET', true, 'GET', 301],
    ['permanent PUT', true, 'PUT', 308],
  ])('answers %s with %s', async (_name, permanent, method, status) => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, {
        m: { redirectRegex: { regex: '^http://(.*)', replacement: 'https://$1', permanent } },
      }),
    );
    const reply = await request(r.url, '/x', { host: 'h.test' }, method);
    expect(reply.status).toBe(status);
    expect(reply.headers.location).toBe('https://h.test/x');
  });

  it('answers 502 when the new URL does not parse, as Traefik does', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, {
        m: { redirectRegex: { regex: '^(.*)$', replacement: 'http://192.168.0.%31/' } },
      }),
    );
    expect((await request(r.url, '/')).status).toBe(502);
    expect(u.seen).toHaveLength(0);
  });

  it('escapes what a Location header cannot carry', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, {
        m: {
          redirectRegex: { regex: '^http://[^/]+/(.*)', replacement: 'https://example.com/é ${1}' },
        },
      }),
    );
    const reply = await request(r.url, '/x?a=b');
    expect(reply.headers.location).toBe('https://example.com/%C3%A9%20x?a=b');
  });

  it.each([
    ['a missing regex', { replacement: 'x' }, 'redirectRegex.regex: is required'],
    ['a missing replacement', { regex: 'x' }, 'redirectRegex.replacement: is required'],
    [
      'a regex that does not compile',
      { regex: '^(.*', replacement: '$1' },
      'redirectRegex.regex: invalid regular expression',
    ],
    [
      'a lookbehind (not RE2)',
      { regex: '(?<=a)b', replacement: '$1' },
      'lookaround assertions are not supported',
    ],
  ])('refuses %s', async (_name, options, message) => {
    expect(await configError({ redirectRegex: options })).toContain(message);
  });

  it('decodes Docker labels', async () => {
    const u = await upstream();
    const middlewares = decodeLabels(
      {
        'traefik.http.middlewares.m.redirectregex.regex': '^http://localhost/(.*)',
        'traefik.http.middlewares.m.redirectregex.replacement': 'http://mydomain/${1}',
        'traefik.http.middlewares.m.redirectregex.permanent': 'true',
      },
      { prefixes: ['traefik'] },
    ).http.middlewares;
    const r = await router(withMiddleware(u, middlewares));
    const reply = await request(r.url, '/x', { host: 'localhost' });
    expect(reply.status).toBe(301);
    // the label value is what the container carries (Compose files write `$${1}` to get `${1}`)
    expect(reply.headers.location).toBe('http://mydomain/x');
  });
});
