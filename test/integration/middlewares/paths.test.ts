/*
 * Path middlewares against a real upstream: StripPrefix, AddPrefix,
 * StripPrefixRegex, ReplacePath, ReplacePathRegex and chains of them; what
 * the upstream sees (path, query, X-Forwarded-Prefix, X-Replaced-Path), the
 * normalised path shared by routing and rewriting, config errors and labels.
 */
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import { decodeLabels } from '../../../src/config/labels.js';
import { parseGoTemplate, replaceAllGo } from '../../../middlewares/replace-path-regex.js';
import { compileRe2 } from '../../../src/rules/regex.js';
import type { Upstream } from '../../helpers/upstream.js';
import { request, type Reply } from '../../helpers/http.js';
import { useCleanups } from '../../helpers/scope.js';

const { upstream, router } = useCleanups();

/** raw request target: node sends the path exactly as given, dots and all */
const get = (base: string, path: string, headers: Record<string, string> = {}): Promise<Reply> =>
  request(base + path, { headers });

function withMiddlewares(
  u: Upstream,
  middlewares: Record<string, unknown>,
  use: string[] = ['m'],
): DynamicConfig {
  return {
    http: {
      routers: { r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: use } },
      services: { s: { loadBalancer: { servers: [{ url: u.url }] } } },
      middlewares: middlewares as never,
    },
  };
}

function labels(l: Record<string, string>): Record<string, unknown> {
  return decodeLabels(l, { prefixes: ['traefik'] }).http.middlewares;
}

/** builds a config that must fail and returns the middleware's error text */
async function configError(middleware: Record<string, unknown>): Promise<string> {
  const u = await upstream();
  const r = await router({});
  const table = r.apply(withMiddlewares(u, { m: middleware }));
  expect(table.routers.get('r@file')!.status).toBe('disabled');
  return table.middlewares.get('m@file')!.errors.join('\n');
}

describe('stripPrefix', () => {
  it('removes the longest matching prefix and sets X-Forwarded-Prefix', async () => {
    const u = await upstream();
    const r = await router(
      withMiddlewares(u, { m: { stripPrefix: { prefixes: ['/api', '/api/v1'] } } }),
    );
    expect((await get(r.url, '/api/v1/users?x=1')).status).toBe(200);
    expect(u.seen[0]!.url).toBe('/users?x=1');
    expect(u.seen[0]!.headers['x-forwarded-prefix']).toBe('/api/v1');
    await get(r.url, '/api');
    expect(u.seen[1]!.url).toBe('/');
    await get(r.url, '/other');
    expect(u.seen[2]!.url).toBe('/other');
    expect(u.seen[2]!.headers['x-forwarded-prefix']).toBeUndefined();
  });

  it('rewrites the same normalised path routing matched: /a/../api/x reaches the upstream as /x', async () => {
    const u = await upstream();
    const r = await router({
      http: {
        routers: {
          r: { rule: 'PathPrefix(`/api`)', service: 's', middlewares: ['m'] },
        },
        services: { s: { loadBalancer: { servers: [{ url: u.url }] } } },
        middlewares: { m: { stripPrefix: { prefixes: ['/api'] } } },
      },
    });
    expect((await get(r.url, '/a/../api/x')).status).toBe(200);
    expect(u.seen[0]!.url).toBe('/x');
    expect(u.seen[0]!.headers['x-forwarded-prefix']).toBe('/api');
    // encoded dots are decoded before dot segments go, so they cannot smuggle a prefix past routing
    expect((await get(r.url, '/api/%2e%2e/secret')).status).toBe(404);
  });

  it('replaces an X-Forwarded-Prefix the client forged', async () => {
    const u = await upstream();
    const r = await router(withMiddlewares(u, { m: { stripPrefix: { prefixes: ['/api'] } } }));
    await get(r.url, '/api/x', { 'x-forwarded-prefix': '/evil' });
    expect(u.seen[0]!.headers['x-forwarded-prefix']).toBe('/api');
    // not stripped: the untrusted value is gone all the same (the entrypoint drops it)
    await get(r.url, '/x', { 'x-forwarded-prefix': '/evil' });
    expect(u.seen[1]!.headers['x-forwarded-prefix']).toBeUndefined();
  });

  it.each([
    ['missing prefixes', {}, 'stripPrefix.prefixes: is required'],
    ['a number', { prefixes: { a: 1 } }, 'stripPrefix.prefixes: must be a list'],
    ['an unknown option', { prefix: ['/a'] }, 'stripPrefix.prefix: unknown field "prefix"'],
  ])('refuses %s', async (_name, options, message) => {
    expect(await configError({ stripPrefix: options })).toContain(message);
  });

  it('decodes Docker labels', async () => {
    const u = await upstream();
    const r = await router(
      withMiddlewares(
        u,
        labels({ 'traefik.http.middlewares.m.stripprefix.prefixes': '/foobar,/fiibar' }),
      ),
    );
    await get(r.url, '/fiibar/x');
    expect(u.seen[0]!.url).toBe('/x');
  });
});

describe('addPrefix', () => {
  it('puts the prefix in front of the path and keeps the query', async () => {
    const u = await upstream();
    const r = await router(withMiddlewares(u, { m: { addPrefix: { prefix: '/v2' } } }));
    await get(r.url, '/users?id=3');
    expect(u.seen[0]!.url).toBe('/v2/users?id=3');
  });

  it.each([
    ['a prefix without a leading slash', { prefix: 'v2' }, 'addPrefix.prefix: must start with /'],
    ['a missing prefix', {}, 'addPrefix.prefix: is required'],
  ])('refuses %s', async (_name, options, message) => {
    expect(await configError({ addPrefix: options })).toContain(message);
  });

  it('decodes Docker labels', async () => {
    const u = await upstream();
    const r = await router(
      withMiddlewares(u, labels({ 'traefik.http.middlewares.m.addprefix.prefix': '/foo' })),
    );
    await get(r.url, '/bar');
    expect(u.seen[0]!.url).toBe('/foo/bar');
  });
});

describe('stripPrefixRegex', () => {
  it('strips the matched prefix and sets X-Forwarded-Prefix to it', async () => {
    const u = await upstream();
    const r = await router(
      withMiddlewares(u, { m: { stripPrefixRegex: { regex: ['/foo/[a-z0-9]+/[0-9]+/'] } } }),
    );
    await get(r.url, '/foo/abc/123/bar?q=1');
    expect(u.seen[0]!.url).toBe('/bar?q=1');
    expect(u.seen[0]!.headers['x-forwarded-prefix']).toBe('/foo/abc/123/');
  });

  it('only strips a match at the start, tries the expressions in order, and never leaves an empty path', async () => {
    const u = await upstream();
    const r = await router(
      withMiddlewares(u, { m: { stripPrefixRegex: { regex: ['/b/[0-9]+', '^/a/[0-9]+'] } } }),
    );
    await get(r.url, '/x/b/1/y'); // /b/1 matches, but not at the start
    expect(u.seen[0]!.url).toBe('/x/b/1/y');
    expect(u.seen[0]!.headers['x-forwarded-prefix']).toBeUndefined();
    await get(r.url, '/a/42/z');
    expect(u.seen[1]!.url).toBe('/z');
    await get(r.url, '/a/42');
    expect(u.seen[2]!.url).toBe('/');
    await get(r.url, '/b/7z'); // strips /b/7, the rest gets its slash back
    expect(u.seen[3]!.url).toBe('/z');
    expect(u.seen[3]!.headers['x-forwarded-prefix']).toBe('/b/7');
  });

  it('replaces a forged X-Forwarded-Prefix', async () => {
    const u = await upstream();
    const r = await router(withMiddlewares(u, { m: { stripPrefixRegex: { regex: ['/api'] } } }));
    await get(r.url, '/api/x', { 'x-forwarded-prefix': '/evil' });
    expect(u.seen[0]!.headers['x-forwarded-prefix']).toBe('/api');
  });

  it.each([
    ['missing regex', {}, 'stripPrefixRegex.regex: is required'],
    ['an empty list', { regex: [] }, 'stripPrefixRegex.regex: must list at least one expression'],
    [
      'a regex that does not compile',
      { regex: ['/ok', '/(a'] },
      'stripPrefixRegex.regex[1]: invalid regular expression',
    ],
    ['a backreference (not RE2)', { regex: ['/(a)\\1'] }, 'backreferences are not supported'],
    ['a lookahead (not RE2)', { regex: ['/(?=a)'] }, 'lookaround assertions are not supported'],
  ])('refuses %s', async (_name, options, message) => {
    expect(await configError({ stripPrefixRegex: options })).toContain(message);
  });

  it('decodes Docker labels', async () => {
    const u = await upstream();
    const r = await router(
      withMiddlewares(
        u,
        labels({ 'traefik.http.middlewares.m.stripprefixregex.regex': '/foo/[a-z0-9]+/[0-9]+/' }),
      ),
    );
    await get(r.url, '/foo/x1/9/rest');
    expect(u.seen[0]!.url).toBe('/rest');
  });
});

describe('replacePath', () => {
  it('replaces the path, keeps the query and passes the old path in X-Replaced-Path', async () => {
    const u = await upstream();
    const r = await router(withMiddlewares(u, { m: { replacePath: { path: '/foo' } } }));
    await get(r.url, '/a/b?c=d', { 'x-replaced-path': '/forged' });
    expect(u.seen[0]!.url).toBe('/foo?c=d');
    expect(u.seen[0]!.headers['x-replaced-path']).toBe('/a/b');
  });

  it('sees the normalised path', async () => {
    const u = await upstream();
    const r = await router(withMiddlewares(u, { m: { replacePath: { path: '/new%20path' } } }));
    await get(r.url, '/x/./y/../z');
    expect(u.seen[0]!.url).toBe('/new%20path');
    expect(u.seen[0]!.headers['x-replaced-path']).toBe('/x/z');
  });

  it.each([
    ['a missing path', {}, 'replacePath.path: is required'],
    ['a relative path', { path: 'foo' }, 'replacePath.path: must start with /'],
    ['a broken escape', { path: '/a%zz' }, 'replacePath.path: has a % that is not followed'],
    ['a typo', { pth: '/a' }, 'did you mean "path"?'],
  ])('refuses %s', async (_name, options, message) => {
    expect(await configError({ replacePath: options })).toContain(message);
  });

  it('decodes Docker labels', async () => {
    const u = await upstream();
    const r = await router(
      withMiddlewares(u, labels({ 'traefik.http.middlewares.m.replacepath.path': '/foo' })),
    );
    await get(r.url, '/bar');
    expect(u.seen[0]!.url).toBe('/foo');
  });
});

describe('replacePathRegex', () => {
  it('rewrites with Go-style group references and passes the old path in X-Replaced-Path', async () => {
    const u = await upstream();
    const r = await router(
      withMiddlewares(u, {
        m: { replacePathRegex: { regex: '^/foo/(.*)', replacement: '/bar/$1' } },
      }),
    );
    await get(r.url, '/foo/baz?q=1');
    expect(u.seen[0]!.url).toBe('/bar/baz?q=1');
    expect(u.seen[0]!.headers['x-replaced-path']).toBe('/foo/baz');
    await get(r.url, '/other');
    expect(u.seen[1]!.url).toBe('/other');
    expect(u.seen[1]!.headers['x-replaced-path']).toBeUndefined();
  });

  it('supports ${n}, named groups and $$', async () => {
    const u = await upstream();
    const r = await router(
      withMiddlewares(u, {
        m: {
          replacePathRegex: {
            regex: '^/(?P<first>[a-z]+)/([0-9]+)$',
            replacement: '/${2}x/${first}/$$',
          },
        },
      }),
    );
    await get(r.url, '/abc/12');
    expect(u.seen[0]!.url).toBe('/12x/abc/$');
  });

  it('answers 500 when the rewritten path has a broken escape, as Traefik does', async () => {
    const u = await upstream();
    const r = await router(
      withMiddlewares(u, { m: { replacePathRegex: { regex: '^/(.*)', replacement: '/%$1' } } }),
    );
    expect((await get(r.url, '/zz')).status).toBe(500);
    expect(u.seen).toHaveLength(0);
  });

  it.each([
    ['a missing regex', { replacement: '/a' }, 'replacePathRegex.regex: is required'],
    [
      'a regex that does not compile',
      { regex: '(', replacement: '/' },
      'replacePathRegex.regex: invalid regular expression',
    ],
    [
      'a lookahead (not RE2)',
      { regex: '^/a(?=b)', replacement: '/' },
      'lookaround assertions are not supported by re2',
    ],
  ])('refuses %s', async (_name, options, message) => {
    expect(await configError({ replacePathRegex: options })).toContain(message);
  });

  it('decodes Docker labels', async () => {
    const u = await upstream();
    const r = await router(
      withMiddlewares(
        u,
        labels({
          'traefik.http.middlewares.m.replacepathregex.regex': '^/foo/(.*)',
          'traefik.http.middlewares.m.replacepathregex.replacement': '/bar/$$1',
        }),
      ),
    );
    await get(r.url, '/foo/x');
    // label values are taken literally: $$ is a dollar in Go's expansion
    expect(u.seen[0]!.url).toBe('/bar/$1');
  });

  it.each<[string, string, string, string]>([
    ['$1x is the group named "1x": empty', '(a)(b)', '$1x', 'c'],
    ['${1}x', '(a)(b)', '${1}x', 'axc'],
    ['unknown group is empty', '(a)', '[$9]', '[]bc'],
    ['a lone $ is kept', '(a)', '$-', '$-bc'],
    ['every match is replaced', 'b', 'X', 'aXc'],
  ])('expands like Go: %s', (_name, pattern, template, expected) => {
    expect(replaceAllGo(compileRe2(pattern), 'abc', parseGoTemplate(template))).toBe(expected);
  });

  it('skips an empty match right after a match, as Go does', () => {
    expect(replaceAllGo(compileRe2('a*'), 'baaac', parseGoTemplate('-'))).toBe('-b-c-');
  });
});

describe('chain', () => {
  it('runs its members in order', async () => {
    const u = await upstream();
    const r = await router(
      withMiddlewares(
        u,
        {
          c: { chain: { middlewares: ['strip', 'add', 'rewrite'] } },
          strip: { stripPrefix: { prefixes: ['/public'] } },
          add: { addPrefix: { prefix: '/v1' } },
          rewrite: { replacePathRegex: { regex: '^/v1/(.*)$', replacement: '/api/v1/$1' } },
        },
        ['c'],
      ),
    );
    await get(r.url, '/public/items');
    expect(u.seen[0]!.url).toBe('/api/v1/items');
    expect(u.seen[0]!.headers['x-forwarded-prefix']).toBe('/public');
    expect(u.seen[0]!.headers['x-replaced-path']).toBe('/v1/items');
  });

  it('disables the router when a member does not exist', async () => {
    const u = await upstream();
    const r = await router({});
    const table = r.apply(
      withMiddlewares(
        u,
        {
          c: { chain: { middlewares: ['strip', 'nope'] } },
          strip: { stripPrefix: { prefixes: ['/a'] } },
        },
        ['c'],
      ),
    );
    const info = table.routers.get('r@file')!;
    expect(info.status).toBe('disabled');
    expect(info.errors.join('\n')).toContain('middleware "nope@file" does not exist');
    expect((await get(r.url, '/a/x')).status).toBe(404);
  });

  it('disables the router when a member is misconfigured, naming the option', async () => {
    const u = await upstream();
    const r = await router({});
    const table = r.apply(
      withMiddlewares(
        u,
        { c: { chain: { middlewares: ['bad'] } }, bad: { replacePath: { path: 'x' } } },
        ['c'],
      ),
    );
    expect(table.routers.get('r@file')!.errors.join('\n')).toContain(
      'replacePath.path: must start with /',
    );
  });

  it('decodes Docker labels', async () => {
    const u = await upstream();
    const r = await router(
      withMiddlewares(
        u,
        labels({
          'traefik.http.middlewares.c.chain.middlewares': 'strip,add',
          'traefik.http.middlewares.strip.stripprefix.prefixes': '/x',
          'traefik.http.middlewares.add.addprefix.prefix': '/y',
        }),
        ['c'],
      ),
    );
    await get(r.url, '/x/z');
    expect(u.seen[0]!.url).toBe('/y/z');
  });
});
