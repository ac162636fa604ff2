/*
 * ReDoS through a real router (issue 11, item 6): user regexes come from
 * container labels, so a pattern that backtracks exponentially plus a crafted
 * request must not stall the process. Each regex middleware gets the hostile
 * patterns and a request built to trigger them; the router keeps answering
 * other requests meanwhile. A pattern RE2 refuses disables only its own
 * router or middleware, with an error naming it; Go's syntax (inline flags,
 * named groups, Expand rules) reaches the middlewares. No timing assertion: on a
 * backtracking engine these requests take minutes, so vitest's timeout fails
 * the test; on RE2 they take microseconds.
 */
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { request, type Reply } from '../helpers/http.js';
import { useCleanups } from '../helpers/scope.js';

const { upstream, router } = useCleanups();

const N = 34;
/** [pattern, request path] for the path-based entry points */
const HOSTILE_PATHS: readonly [string, string][] = [
  ['^/(a+)+$', '/' + 'a'.repeat(N) + '!'],
  ['(a|a)*b', '/' + 'a'.repeat(N)],
  ['(x+x+)+y', '/' + 'x'.repeat(N)],
];

function withMiddleware(server: string, middleware: Record<string, unknown>): DynamicConfig {
  return {
    http: {
      routers: { r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: ['m'] } },
      services: { s: { loadBalancer: { servers: [{ url: server }] } } },
      middlewares: { m: middleware } as never,
    },
  };
}

describe('a hostile path on a PathRegexp router', () => {
  it.each(HOSTILE_PATHS)(
    'PathRegexp(`%s`) answers, and another router keeps serving',
    async (pattern, path) => {
      const slow = await upstream();
      const normal = await upstream();
      const r = await router({
        http: {
          routers: {
            hostile: { rule: `PathRegexp(\`${pattern}\`)`, service: 'slow' },
            normal: { rule: 'Host(`ok.test`)', service: 'normal' },
          },
          services: {
            slow: { loadBalancer: { servers: [{ url: slow.url }] } },
            normal: { loadBalancer: { servers: [{ url: normal.url }] } },
          },
        },
      });
      // both in flight at once: the normal request must not wait behind the hostile one
      const [hostile, ok] = await Promise.all([
        request(r.url + path),
        request(r.url + '/', { headers: { host: 'ok.test' } }),
      ]);
      expect(hostile.status).toBe(404);
      expect(ok.status).toBe(200);
      expect(normal.seen).toHaveLength(1);
      expect(slow.seen).toHaveLength(0);
    },
  );
});

describe('hostile input to each regex middleware', () => {
  it.each(HOSTILE_PATHS)('stripPrefixRegex `%s`', async (pattern, path) => {
    const u = await upstream();
    const r = await router(withMiddleware(u.url, { stripPrefixRegex: { regex: [pattern] } }));
    expect((await request(r.url + path)).status).toBe(200);
    expect(u.seen[0]!.url).toBe(path);
  });

  it.each(HOSTILE_PATHS)('replacePathRegex `%s`', async (pattern, path) => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u.url, { replacePathRegex: { regex: pattern, replacement: '/x' } }),
    );
    expect((await request(r.url + path)).status).toBe(200);
    expect(u.seen[0]!.url).toBe(path);
  });

  it.each(HOSTILE_PATHS)('redirectRegex `%s`', async (pattern, path) => {
    const u = await upstream();
    // matched against the whole URL; an unanchored pattern still meets the crafted path
    const anchored = pattern.replace(/^\^/, '');
    const r = await router(
      withMiddleware(u.url, {
        redirectRegex: { regex: anchored, replacement: 'http://elsewhere.test/' },
      }),
    );
    expect((await request(r.url + path)).status).toBe(200);
    expect(u.seen[0]!.url).toBe(path);
  });

  it.each(HOSTILE_PATHS)(
    'headers accessControlAllowOriginListRegex `%s` against Origin',
    async (pattern, path) => {
      const u = await upstream();
      const r = await router(
        withMiddleware(u.url, {
          headers: {
            accessControlAllowOriginListRegex: [pattern],
            accessControlAllowMethods: ['GET'],
          },
        }),
      );
      const reply: Reply = await request(r.url + '/', { headers: { origin: path } });
      expect(reply.status).toBe(200);
      expect(reply.headers['access-control-allow-origin']).toBeUndefined();
    },
  );

  it.each<[string, string]>([
    ['^X-A(a+)+$', 'x-a' + 'a'.repeat(N) + '!'],
    ['(a|a)*b', 'x-' + 'a'.repeat(N)],
    ['(x+x+)+y', 'x-' + 'x'.repeat(N)],
  ])(
    'forwardAuth authResponseHeadersRegex `%s` against a client header name',
    async (pattern, name) => {
      const auth = await upstream((_req, res) => {
        res.writeHead(200);
        res.end();
      });
      const u = await upstream();
      const r = await router(
        withMiddleware(u.url, {
          forwardAuth: { address: auth.url, authResponseHeadersRegex: pattern },
        }),
      );
      expect((await request(r.url + '/', { headers: { [name]: 'v' } })).status).toBe(200);
      expect(u.seen[0]!.headers[name]).toBe('v');
    },
  );
});

describe("Go's syntax and Traefik's rules through the middlewares", () => {
  it.each<[string, Record<string, unknown>, string, string]>([
    [
      'replacePathRegex: an inline flag mid-pattern and a named group',
      { replacePathRegex: { regex: '^/api(?i)/USERS/(?P<id>[0-9]+)$', replacement: '/u/${id}' } },
      '/api/users/7',
      '/u/7',
    ],
    [
      'replacePathRegex: an empty replacement leaves the path alone, as in Traefik',
      { replacePathRegex: { regex: '^/foo', replacement: '' } },
      '/foo/bar',
      '/foo/bar',
    ],
    [
      'replacePathRegex: ${01} is a name, not group 1',
      { replacePathRegex: { regex: '^/(a)(.*)$', replacement: '/x${01}y$2' } },
      '/abc',
      '/xybc',
    ],
    [
      'stripPrefixRegex: a scoped case-insensitive group',
      { stripPrefixRegex: { regex: ['^/(?i:API)/v[0-9]+'] } },
      '/Api/v2/items',
      '/items',
    ],
  ])('%s', async (_name, middleware, path, seen) => {
    const u = await upstream();
    const r = await router(withMiddleware(u.url, middleware));
    expect((await request(r.url + path)).status).toBe(200);
    expect(u.seen[0]!.url).toBe(seen);
  });
});

describe('a pattern RE2 refuses', () => {
  it('disables only its own router, with an error naming it', async () => {
    const u = await upstream();
    const r = await router({});
    const table = r.apply({
      http: {
        routers: {
          look: { rule: 'PathRegexp(`^/a(?=b)`)', service: 's' },
          fine: { rule: 'PathRegexp(`^/(?i)OK$`)', service: 's' },
        },
        services: { s: { loadBalancer: { servers: [{ url: u.url }] } } },
      },
    });
    const look = table.routers.get('look@file')!;
    expect(look.status).toBe('disabled');
    expect(look.errors.join('\n')).toContain(
      'invalid regular expression for PathRegexp: invalid or unsupported Perl syntax: `(?=`',
    );
    expect(table.routers.get('fine@file')!.status).toBe('enabled');
    expect((await request(r.url + '/ok')).status).toBe(200);
  });

  it('disables only the routers using a refused middleware', async () => {
    const u = await upstream();
    const r = await router({});
    const table = r.apply({
      http: {
        routers: {
          bad: { rule: 'Path(`/bad`)', service: 's', middlewares: ['backref'] },
          good: { rule: 'Path(`/good`)', service: 's' },
        },
        services: { s: { loadBalancer: { servers: [{ url: u.url }] } } },
        middlewares: { backref: { replacePathRegex: { regex: '^/(a)\\1', replacement: '/' } } },
      },
    });
    expect(table.middlewares.get('backref@file')!.errors.join('\n')).toContain(
      'regex: invalid regular expression "^/(a)\\\\1": invalid escape sequence: `\\1` (backreferences are not supported by re2)',
    );
    expect(table.routers.get('bad@file')!.status).toBe('disabled');
    expect((await request(r.url + '/good')).status).toBe(200);
  });
});
