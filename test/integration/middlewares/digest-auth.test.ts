/*
 * DigestAuth against a real upstream, with a small RFC 2617 client: the
 * challenge, a good login, wrong passwords, nonce-count replay protection,
 * stale nonces (unknown and expired), the request-URI check, headerField,
 * removeHeader, nonces surviving a config swap, config errors and labels.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import { decodeLabels } from '../../../src/config/labels.js';
import { NONCE_LIFETIME_MS } from '../../../middlewares/digest-auth.js';
import type { TestRouter } from '../../helpers/portico.js';
import type { Upstream } from '../../helpers/upstream.js';
import { request, type Reply } from '../../helpers/http.js';
import { useCleanups } from '../../helpers/scope.js';

const { upstream, router } = useCleanups();
// registered after useCleanups' hook, so it runs first: the cleanups need real timers
afterEach(() => {
  vi.useRealTimers();
});

const get = (url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> =>
  request(url, { method, headers });

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const ha1 = (user: string, realm: string, password: string): string =>
  md5(`${user}:${realm}:${password}`);

interface Challenge {
  realm: string;
  nonce: string;
  opaque: string;
  qop: string;
  algorithm: string;
  stale?: string;
}

function parseChallenge(header: string | undefined): Challenge {
  expect(header).toMatch(/^Digest /);
  const out: Record<string, string> = {};
  for (const m of header!.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g))
    out[m[1]!] = m[2] ?? m[3]!;
  return out as unknown as Challenge;
}

function authorization(
  ch: Challenge,
  opts: {
    user: string;
    password: string;
    method?: string;
    uri: string;
    nc: number;
    realm?: string;
  },
): string {
  const realm = opts.realm ?? ch.realm;
  const nc = opts.nc.toString(16).padStart(8, '0');
  const cnonce = 'c0ffee' + opts.nc;
  const h1 = ha1(opts.user, realm, opts.password);
  const h2 = md5(`${opts.method ?? 'GET'}:${opts.uri}`);
  const response = md5(`${h1}:${ch.nonce}:${nc}:${cnonce}:auth:${h2}`);
  return (
    `Digest username="${opts.user}", realm="${realm}", nonce="${ch.nonce}", uri="${opts.uri}", ` +
    `algorithm=MD5, response="${response}", opaque="${ch.opaque}", qop=auth, nc=${nc}, cnonce="${cnonce}"`
  );
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

const ALICE = `alice:traefik:${ha1('alice', 'traefik', 'secret')}`;

async function challenge(r: TestRouter, path = '/'): Promise<Challenge> {
  const reply = await get(r.url + path);
  expect(reply.status).toBe(401);
  return parseChallenge(reply.headers['www-authenticate']);
}

describe('digestAuth: login', () => {
  it('challenges with realm, nonce, opaque, MD5 and qop=auth, then admits the right answer', async () => {
    const u = await upstream();
    const r = await router(withMiddleware(u, { m: { digestAuth: { users: [ALICE] } } }));
    const ch = await challenge(r, '/a?b=1');
    expect(ch).toMatchObject({ realm: 'traefik', algorithm: 'MD5', qop: 'auth' });
    expect(ch.nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(ch.stale).toBeUndefined();
    const auth = authorization(ch, { user: 'alice', password: 'secret', uri: '/a?b=1', nc: 1 });
    expect((await get(r.url + '/a?b=1', { authorization: auth })).status).toBe(200);
    expect(u.seen[0]!.url).toBe('/a?b=1');
    expect(u.seen[0]!.headers.authorization).toBe(auth);
  });

  it.each([
    ['a wrong password', { password: 'nope' }],
    ['an unknown user', { user: 'mallory' }],
    ['a digest for another URI', { uri: '/other' }],
    ['a digest for another method', { method: 'POST' }],
  ])('refuses %s with a fresh, non-stale challenge', async (_case, change) => {
    const u = await upstream();
    const r = await router(withMiddleware(u, { m: { digestAuth: { users: [ALICE] } } }));
    const ch = await challenge(r);
    const auth = authorization(ch, {
      user: 'alice',
      password: 'secret',
      uri: '/',
      nc: 1,
      ...change,
    });
    const reply = await get(r.url + '/', { authorization: auth });
    expect(reply.status).toBe(401);
    const again = parseChallenge(reply.headers['www-authenticate']);
    expect(again.stale).toBeUndefined();
    expect(again.nonce).not.toBe(ch.nonce);
    expect(u.seen).toHaveLength(0);
  });

  it('refuses a wrong opaque, qop or algorithm and a malformed header', async () => {
    const u = await upstream();
    const r = await router(withMiddleware(u, { m: { digestAuth: { users: [ALICE] } } }));
    const ch = await challenge(r);
    const good = authorization(ch, { user: 'alice', password: 'secret', uri: '/', nc: 1 });
    for (const bad of [
      good.replace(`opaque="${ch.opaque}"`, 'opaque="x"'),
      good.replace('qop=auth', 'qop=auth-int'),
      good.replace('algorithm=MD5', 'algorithm=SHA-256'),
      good.replace(/cnonce="[^"]*"/, 'cnonce=""'),
      good.replace('nc=00000001', 'nc=1'),
      'Digest username="alice, nonce=',
      'Basic ' + Buffer.from('alice:secret').toString('base64'),
    ])
      expect((await get(r.url + '/', { authorization: bad })).status).toBe(401);
    expect((await get(r.url + '/', { authorization: good })).status).toBe(200);
  });

  it('requires the nonce count to grow: a replay is refused', async () => {
    const u = await upstream();
    const r = await router(withMiddleware(u, { m: { digestAuth: { users: [ALICE] } } }));
    const ch = await challenge(r);
    const first = authorization(ch, { user: 'alice', password: 'secret', uri: '/', nc: 1 });
    expect((await get(r.url + '/', { authorization: first })).status).toBe(200);
    expect((await get(r.url + '/', { authorization: first })).status).toBe(401);
    const third = authorization(ch, { user: 'alice', password: 'secret', uri: '/', nc: 3 });
    expect((await get(r.url + '/', { authorization: third })).status).toBe(200);
    const second = authorization(ch, { user: 'alice', password: 'secret', uri: '/', nc: 2 });
    expect((await get(r.url + '/', { authorization: second })).status).toBe(401);
    expect(u.seen).toHaveLength(2);
  });

  it('answers stale=true for a nonce it did not issue when the credentials are right', async () => {
    const u = await upstream();
    const r = await router(withMiddleware(u, { m: { digestAuth: { users: [ALICE] } } }));
    const ch = await challenge(r);
    const made = { ...ch, nonce: 'f'.repeat(32) };
    const reply = await get(r.url + '/', {
      authorization: authorization(made, { user: 'alice', password: 'secret', uri: '/', nc: 1 }),
    });
    expect(reply.status).toBe(401);
    expect(parseChallenge(reply.headers['www-authenticate']).stale).toBe('true');
    // wrong password with the made-up nonce: not stale, just refused
    const wrong = await get(r.url + '/', {
      authorization: authorization(made, { user: 'alice', password: 'x', uri: '/', nc: 1 }),
    });
    expect(parseChallenge(wrong.headers['www-authenticate']).stale).toBeUndefined();
  });

  it('expires nonces: after the lifetime the answer is stale=true, and the new nonce works', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const u = await upstream();
    const r = await router(withMiddleware(u, { m: { digestAuth: { users: [ALICE] } } }));
    const ch = await challenge(r);
    const auth = (c: Challenge, nc: number): Record<string, string> => ({
      authorization: authorization(c, { user: 'alice', password: 'secret', uri: '/', nc }),
    });
    expect((await get(r.url + '/', auth(ch, 1))).status).toBe(200);
    vi.setSystemTime(Date.now() + NONCE_LIFETIME_MS + 1000);
    const reply = await get(r.url + '/', auth(ch, 2));
    expect(reply.status).toBe(401);
    const fresh = parseChallenge(reply.headers['www-authenticate']);
    expect(fresh.stale).toBe('true');
    expect((await get(r.url + '/', auth(fresh, 1))).status).toBe(200);
  });

  it('keeps issued nonces across a configuration swap', async () => {
    const u = await upstream();
    const cfg = withMiddleware(u, { m: { digestAuth: { users: [ALICE] } } });
    const r = await router(cfg);
    const ch = await challenge(r);
    r.apply({
      ...cfg,
      http: {
        ...cfg.http,
        routers: { ...cfg.http!.routers, other: { rule: 'Path(`/x`)', service: 's' } },
      },
    });
    const auth = authorization(ch, { user: 'alice', password: 'secret', uri: '/', nc: 1 });
    expect((await get(r.url + '/', { authorization: auth })).status).toBe(200);
  });
});

describe('digestAuth: users and forwarding', () => {
  it('uses the configured realm: users of another realm cannot log in', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, {
        m: {
          digestAuth: {
            realm: 'office',
            users: [`bob:office:${ha1('bob', 'office', 'pw')}`, ALICE],
          },
        },
      }),
    );
    const ch = await challenge(r);
    expect(ch.realm).toBe('office');
    const bob = authorization(ch, { user: 'bob', password: 'pw', uri: '/', nc: 1 });
    expect((await get(r.url + '/', { authorization: bob })).status).toBe(200);
    const alice = authorization(ch, {
      user: 'alice',
      password: 'secret',
      uri: '/',
      nc: 2,
      realm: 'traefik',
    });
    expect((await get(r.url + '/', { authorization: alice })).status).toBe(401);
  });

  it('headerField replaces a forged value; removeHeader drops Authorization', async () => {
    const u = await upstream();
    const r = await router(
      withMiddleware(u, {
        m: { digestAuth: { users: [ALICE], headerField: 'X-WebAuth-User', removeHeader: true } },
      }),
    );
    expect((await get(r.url + '/', { 'x-webauth-user': 'admin' })).status).toBe(401);
    const ch = await challenge(r);
    const auth = authorization(ch, { user: 'alice', password: 'secret', uri: '/', nc: 1 });
    const reply = await get(r.url + '/', { authorization: auth, 'X-WebAuth-User': 'admin' });
    expect(reply.status).toBe(200);
    expect(u.seen).toHaveLength(1);
    expect(u.seen[0]!.headers['x-webauth-user']).toBe('alice');
    expect(u.seen[0]!.headers.authorization).toBeUndefined();
  });

  it('reads users from usersFile and merges users', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portico-digest-'));
    const file = join(dir, 'htdigest');
    writeFileSync(file, `# htdigest\ncarol:traefik:${ha1('carol', 'traefik', 'pw')}\n`);
    const u = await upstream();
    const r = await router(
      withMiddleware(u, { m: { digestAuth: { usersFile: file, users: [ALICE] } } }),
    );
    const ch = await challenge(r);
    const carol = authorization(ch, { user: 'carol', password: 'pw', uri: '/', nc: 1 });
    expect((await get(r.url + '/', { authorization: carol })).status).toBe(200);
    const alice = authorization(ch, { user: 'alice', password: 'secret', uri: '/', nc: 2 });
    expect((await get(r.url + '/', { authorization: alice })).status).toBe(200);
  });
});

describe('digestAuth: configuration errors', () => {
  it.each([
    [{ users: ['alice:secret'] }, 'digestAuth.users[0]: must be name:realm:hash'],
    [
      { users: ['alice:traefik:nothex'] },
      'digestAuth.users[0]: user "alice": the hash must be 32 hex digits',
    ],
    [
      { usersFile: '/nonexistent/htdigest' },
      'digestAuth.usersFile: cannot read /nonexistent/htdigest',
    ],
    [{ users: [ALICE], realm: 'bad"realm' }, 'digestAuth.realm: must not contain quotes'],
    [{ users: [ALICE], headerField: 'a b' }, 'digestAuth.headerField:'],
    [{ users: 42 }, 'digestAuth.users: must be a list'],
  ])('%j is refused: %s', async (opts, message) => {
    const u = await upstream();
    const r = await router(withMiddleware(u, { m: { digestAuth: opts } }));
    const table = r.router.holder.current;
    expect(table.routers.get('r@file')!.status).toBe('disabled');
    expect(table.middlewares.get('m@file')!.errors.join('\n')).toContain(message);
    expect((await get(r.url + '/')).status).toBe(404);
  });
});

describe('digestAuth: Docker labels', () => {
  it('decodes users, realm, headerField and removeHeader', async () => {
    const u = await upstream();
    const decoded = decodeLabels(
      {
        'traefik.http.middlewares.m.digestauth.users': `dave:lab:${ha1('dave', 'lab', 'pw')},${ALICE}`,
        'traefik.http.middlewares.m.digestauth.realm': 'lab',
        'traefik.http.middlewares.m.digestauth.headerfield': 'X-User',
        'traefik.http.middlewares.m.digestauth.removeheader': 'true',
      },
      { prefixes: ['traefik'] },
    ).http.middlewares;
    const r = await router(withMiddleware(u, decoded));
    const ch = await challenge(r);
    expect(ch.realm).toBe('lab');
    const auth = authorization(ch, { user: 'dave', password: 'pw', uri: '/', nc: 1 });
    expect((await get(r.url + '/', { authorization: auth })).status).toBe(200);
    expect(u.seen[0]!.headers['x-user']).toBe('dave');
    expect(u.seen[0]!.headers.authorization).toBeUndefined();
  });
});
