/*
 * BasicAuth against a real upstream: every htpasswd hash family, the
 * challenge, headerField (a forged value never gets through), removeHeader,
 * usersFile merging, the verification cache, config errors and labels.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import { decodeLabels } from '../../../src/config/labels.js';
import type { Upstream } from '../../helpers/upstream.js';
import { request, type Reply } from '../../helpers/http.js';
import { useCleanups } from '../../helpers/scope.js';

const { upstream, router } = useCleanups();

const get = (url: string, headers: Record<string, string> = {}): Promise<Reply> =>
  request(url, { headers });

function basic(user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`, 'utf8').toString('base64');
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

// all for the password "secret" unless noted; produced by htpasswd/openssl
const BCRYPT = bcrypt.hashSync('secret', 4).replace(/^\$2b\$/, '$2y$');
const APR1 = '$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/'; // openssl passwd -apr1 -salt abcdefgh secret
const APR1_UTF8 = '$apr1$x.Y/z$6FXIo8VKVgF/hJwoaaf6/0'; // password "pässword" (UTF-8 bytes)
const MD5 = '$1$abc$iCQ2D3nhptRYi27fDYv2s1'; // openssl passwd -1 -salt abc secret
const SHA = '{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=';

describe('basicAuth: hashes', () => {
  it.each([
    ['bcrypt $2y$', BCRYPT, 'secret'],
    ['bcrypt $2a$', BCRYPT.replace('$2y$', '$2a$'), 'secret'],
    ['bcrypt $2b$', BCRYPT.replace('$2y$', '$2b$'), 'secret'],
    ['apr1', APR1, 'secret'],
    ['apr1 with a non-ASCII password', APR1_UTF8, 'pässword'],
    ['md5-crypt $1$', MD5, 'secret'],
    ['sha1', SHA, 'secret'],
  ])('%s: the right password passes, a wrong one gets 401', async (_kind, hash, password) => {
    const u = await upstream();
    const r = await router(withMiddleware(u, { m: { basicAuth: { users: [`alice:${hash}`] } } }));
    expect((await get(r.url + '/', { authorization: basic('alice', password) })).status).toBe(200);
    const bad = await get(r.url + '/', { authorization: basic('alice', password + 'x') });
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toBe('Basic realm="traefik"');
    expect(u.seen).toHaveLength(1);
  });
});

describe('basicAuth: challenge', () => {
  it.each([
    ['no Authorization header', undefined],
    ['an unknown user', basic('mallory', 'secret')],
    ['another scheme', 'Bearer abc'],
    ['malformed base64', 'Basic !!!'],
    ['no colon', 'Basic ' + Buffer.from('alice').toString('base64')],
  ])('answers 401 with the realm for %s', async (_case, authorization) => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, { m: { basicAuth: { users: [`alice:${SHA}`], realm: 'My Site' } } }),
    );
    const reply = await get(r.url + '/', authorization ? { authorization } : {});
    expect(reply.status).toBe(401);
    expect(reply.headers['www-authenticate']).toBe('Basic realm="My Site"');
    expect(u.seen).toHaveLength(0);
  });

  it('accepts the scheme name in any case', async () => {
    const u = await upstream();
    const r = await router(withMiddleware(u, { m: { basicAuth: { users: [`alice:${SHA}`] } } }));
    const creds = basic('alice', 'secret').slice(6);
    expect((await get(r.url + '/', { authorization: 'bAsIc ' + creds })).status).toBe(200);
  });
});

describe('basicAuth: forwarding', () => {
  it('keeps Authorization by default and removes it with removeHeader', async () => {
    const u = await upstream();
    const r = await router(withMiddleware(u, { m: { basicAuth: { users: [`alice:${SHA}`] } } }));
    await get(r.url + '/', { authorization: basic('alice', 'secret') });
    expect(u.seen[0]!.headers.authorization).toBe(basic('alice', 'secret'));
    r.apply(
      withMiddleware(u, { m: { basicAuth: { users: [`alice:${SHA}`], removeHeader: true } } }),
    );
    await get(r.url + '/', { authorization: basic('alice', 'secret') });
    expect(u.seen[1]!.headers.authorization).toBeUndefined();
  });

  it('headerField carries the user name and a client-forged value never gets through', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, {
        m: { basicAuth: { users: [`alice:${SHA}`, `bob:${APR1}`], headerField: 'X-WebAuth-User' } },
      }),
    );
    // forged, no credentials: refused, nothing reaches the upstream
    expect((await get(r.url + '/', { 'x-webauth-user': 'admin' })).status).toBe(401);
    // forged, wrong credentials
    const wrong = { 'X-WebAuth-User': 'admin', authorization: basic('alice', 'nope') };
    expect((await get(r.url + '/', wrong)).status).toBe(401);
    expect(u.seen).toHaveLength(0);
    // forged with valid credentials: replaced by the authenticated name
    const forged = { 'X-WEBAUTH-USER': 'admin', authorization: basic('bob', 'secret') };
    expect((await get(r.url + '/', forged)).status).toBe(200);
    expect(u.seen[0]!.headers['x-webauth-user']).toBe('bob');
    expect(u.seen[0]!.rawHeaders.join('\n')).not.toContain('admin');
  });

  it('merges usersFile (comments and blank lines skipped) with users', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portico-basic-'));
    const file = join(dir, 'htpasswd');
    writeFileSync(file, `# users\n\nfile-user:${APR1}\n  spaced:${SHA}  \n`);
    const u = await upstream();
    const r = await router(
      withMiddleware(u, { m: { basicAuth: { usersFile: file, users: [`inline:${BCRYPT}`] } } }),
    );
    for (const user of ['file-user', 'spaced', 'inline'])
      expect((await get(r.url + '/', { authorization: basic(user, 'secret') })).status).toBe(200);
  });

  it('serves repeated and concurrent bcrypt logins (cached after the first check)', async () => {
    const u = await upstream();
    const hash = bcrypt.hashSync('secret', 10);
    const r = await router(withMiddleware(u, { m: { basicAuth: { users: [`alice:${hash}`] } } }));
    const auth = { authorization: basic('alice', 'secret') };
    const first = await Promise.all(Array.from({ length: 8 }, () => get(r.url + '/', auth)));
    expect(first.map((x) => x.status)).toEqual(Array(8).fill(200));
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) expect((await get(r.url + '/', auth)).status).toBe(200);
    // 20 bcrypt checks at cost 10 would take well over a second
    expect(performance.now() - t0).toBeLessThan(1000);
    // a wrong password is not served from the cache
    expect((await get(r.url + '/', { authorization: basic('alice', 'x') })).status).toBe(401);
  });
});

describe('basicAuth: configuration errors', () => {
  it.each([
    [{ users: ['alice:plaintext'] }, 'basicAuth.users[0]: user "alice": unsupported password hash'],
    [{ users: [`ok:${SHA}`, 'bob:$2y$10$short'] }, 'basicAuth.users[1]: user "bob": malformed'],
    [{ users: ['no-colon'] }, 'basicAuth.users[0]: must be name:hash'],
    [{ users: [`a:b:${SHA}`] }, 'basicAuth.users[0]: must be name:hash'],
    [
      { usersFile: '/nonexistent/htpasswd' },
      'basicAuth.usersFile: cannot read /nonexistent/htpasswd',
    ],
    [{ users: [`a:${SHA}`], realm: 'a"b' }, 'basicAuth.realm: must not contain quotes'],
    [{ users: [`a:${SHA}`], headerField: 'bad header' }, 'basicAuth.headerField:'],
    [{ users: [`a:${SHA}`], removeHeader: 'yes' }, 'basicAuth.removeHeader: must be true or false'],
    [
      { users: [`a:${SHA}`], realmm: 'x' },
      'basicAuth.realmm: unknown field "realmm", did you mean "realm"?',
    ],
  ])('%j is refused: %s', async (opts, message) => {
    const u = await upstream();
    const r = await router(withMiddleware(u, { m: { basicAuth: opts } }));
    const table = r.router.holder.current;
    expect(table.routers.get('r@file')!.status).toBe('disabled');
    expect(table.middlewares.get('m@file')!.errors.join('\n')).toContain(message);
    expect((await get(r.url + '/')).status).toBe(404);
  });

  it('names the user in a users file with a bad hash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portico-basic-'));
    const file = join(dir, 'htpasswd');
    writeFileSync(file, `good:${SHA}\ncarol:{MD4}abc\n`);
    const u = await upstream();
    const r = await router(withMiddleware(u, { m: { basicAuth: { usersFile: file } } }));
    expect(r.router.holder.current.middlewares.get('m@file')!.errors.join('\n')).toContain(
      'basicAuth.usersFile: user "carol": unsupported password hash',
    );
  });
});

describe('basicAuth: Docker labels', () => {
  it('decodes users, realm, headerField and removeHeader', async () => {
    const u = await upstream();
    const decoded = decodeLabels(
      {
        'traefik.http.middlewares.m.basicauth.users': `alice:${SHA},bob:${APR1}`,
        'traefik.http.middlewares.m.basicauth.realm': 'labels',
        'traefik.http.middlewares.m.basicauth.headerfield': 'X-User',
        'traefik.http.middlewares.m.basicauth.removeheader': 'true',
      },
      { prefixes: ['traefik'] },
    ).http.middlewares;
    const r = await router(withMiddleware(u, decoded));
    expect((await get(r.url + '/')).headers['www-authenticate']).toBe('Basic realm="labels"');
    expect((await get(r.url + '/', { authorization: basic('bob', 'secret') })).status).toBe(200);
    expect(u.seen[0]!.headers['x-user']).toBe('bob');
    expect(u.seen[0]!.headers.authorization).toBeUndefined();
  });
});
