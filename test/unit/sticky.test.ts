import { createHash } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import type { StickyCookieConfig } from '../../src/config/dynamic.js';
import {
  createStickyCookie,
  defaultCookieName,
  readCookie,
  sanitizeCookieName,
  serverKey,
} from '../../src/services/sticky.js';

describe('sticky cookie name', () => {
  it.each([
    // Vectors from Traefik's pkg/server/cookie tests.
    { service: 'backend', expected: '_76eb3' },
    { service: '/my/BACKEND-v1.0~rc1', expected: '_5f7bc' },
  ])('derives $expected from service $service like Traefik', ({ service, expected }) => {
    expect(defaultCookieName(service)).toBe(expected);
  });

  it('is "_" plus the first 5 hex digits of sha1("_TRAEFIK_BACKEND_" + name)', () => {
    const hex = createHash('sha1').update('_TRAEFIK_BACKEND_whoami@docker').digest('hex');
    expect(createStickyCookie({}, 'whoami@docker').name).toBe(`_${hex.slice(0, 5)}`);
    expect(defaultCookieName('whoami@docker')).toMatch(/^_[0-9a-f]{5}$/);
  });

  it.each([
    { configured: 'lvl1', expected: 'lvl1' },
    { configured: '/my/BACKEND-v1.0~rc1', expected: '_my_BACKEND-v1.0~rc1' },
    { configured: "!#$%&'()*+-./:<=>?@[]^_`{|}~", expected: "!#$%&'__*+-._________^_`_|_~" },
    { configured: 'with space', expected: 'with_space' },
  ])('sanitizes configured name $configured', ({ configured, expected }) => {
    expect(sanitizeCookieName(configured)).toBe(expected);
    expect(createStickyCookie({ name: configured }, 'svc').name).toBe(expected);
  });

  it('uses the derived name when the configured one is empty', () => {
    expect(createStickyCookie({ name: '' }, 'backend').name).toBe('_76eb3');
  });
});

describe('serverKey', () => {
  it('is the first 16 hex digits of sha256(url) and does not reveal the url', () => {
    const url = 'http://10.0.0.7:8080';
    const key = serverKey(url);
    expect(key).toBe(createHash('sha256').update(url).digest('hex').slice(0, 16));
    expect(key).toMatch(/^[0-9a-f]{16}$/);
    expect(key).not.toContain('10.0.0.7');
  });

  it('is stable and distinguishes servers', () => {
    expect(serverKey('http://a:80')).toBe(serverKey('http://a:80'));
    expect(serverKey('http://a:80')).not.toBe(serverKey('http://b:80'));
  });
});

describe('serialize', () => {
  const cases: { desc: string; config: StickyCookieConfig; expected: string }[] = [
    { desc: 'defaults', config: { name: 'c' }, expected: 'c=v; Path=/' },
    { desc: 'custom path', config: { name: 'c', path: '/app' }, expected: 'c=v; Path=/app' },
    { desc: 'empty path omitted', config: { name: 'c', path: '' }, expected: 'c=v' },
    {
      desc: 'path cannot inject',
      config: { name: 'c', path: '/a; Secure\n' },
      expected: 'c=v; Path=/a Secure',
    },
    {
      desc: 'domain',
      config: { name: 'c', domain: 'example.com' },
      expected: 'c=v; Path=/; Domain=example.com',
    },
    {
      desc: 'leading dot in domain dropped',
      config: { name: 'c', domain: '.example.com' },
      expected: 'c=v; Path=/; Domain=example.com',
    },
    {
      desc: 'domain with injection ignored',
      config: { name: 'c', domain: 'x.com; Secure' },
      expected: 'c=v; Path=/',
    },
    { desc: 'maxAge 0 omitted', config: { name: 'c', maxAge: 0 }, expected: 'c=v; Path=/' },
    {
      desc: 'maxAge positive',
      config: { name: 'c', maxAge: 3600 },
      expected: 'c=v; Path=/; Max-Age=3600',
    },
    {
      desc: 'maxAge negative expires',
      config: { name: 'c', maxAge: -1 },
      expected: 'c=v; Path=/; Max-Age=0',
    },
    { desc: 'httpOnly', config: { name: 'c', httpOnly: true }, expected: 'c=v; Path=/; HttpOnly' },
    { desc: 'secure', config: { name: 'c', secure: true }, expected: 'c=v; Path=/; Secure' },
    {
      desc: 'sameSite none',
      config: { name: 'c', sameSite: 'none' },
      expected: 'c=v; Path=/; SameSite=None',
    },
    {
      desc: 'sameSite lax',
      config: { name: 'c', sameSite: 'lax' },
      expected: 'c=v; Path=/; SameSite=Lax',
    },
    {
      desc: 'sameSite strict',
      config: { name: 'c', sameSite: 'strict' },
      expected: 'c=v; Path=/; SameSite=Strict',
    },
    {
      desc: 'sameSite empty omitted',
      config: { name: 'c', sameSite: '' },
      expected: 'c=v; Path=/',
    },
    {
      desc: 'everything, in Go attribute order',
      config: {
        name: 'c',
        path: '/p',
        domain: 'd.io',
        maxAge: 10,
        httpOnly: true,
        secure: true,
        sameSite: 'lax',
      },
      expected: 'c=v; Path=/p; Domain=d.io; Max-Age=10; HttpOnly; Secure; SameSite=Lax',
    },
  ];
  it.each(cases)('$desc', ({ config, expected }) => {
    expect(createStickyCookie(config, 'svc').serialize('v')).toBe(expected);
  });

  it('writes the default name and a hashed server key', () => {
    const cookie = createStickyCookie({}, 'backend');
    const key = serverKey('http://127.0.0.1:9000');
    expect(cookie.serialize(key)).toBe(`_76eb3=${key}; Path=/`);
  });

  it('cannot be tricked into extra attributes by the value', () => {
    expect(createStickyCookie({ name: 'c' }, 's').serialize('a;b\\c"d')).toBe('c=abcd; Path=/');
    expect(createStickyCookie({ name: 'c' }, 's').serialize('a b')).toBe('c="a b"; Path=/');
  });

  it('round-trips through read()', () => {
    const cookie = createStickyCookie({ name: 'sticky', secure: true }, 's');
    const setCookie = cookie.serialize(serverKey('http://x'));
    const pair = setCookie.split(';')[0];
    expect(cookie.read(`other=1; ${pair}`)).toBe(serverKey('http://x'));
  });
});

describe('read', () => {
  const cases: {
    desc: string;
    header: string | string[] | undefined;
    expected: string | undefined;
  }[] = [
    { desc: 'no header', header: undefined, expected: undefined },
    { desc: 'empty header', header: '', expected: undefined },
    { desc: 'only cookie', header: 'sticky=abc', expected: 'abc' },
    { desc: 'among others', header: 'a=1; sticky=abc; b=2', expected: 'abc' },
    { desc: 'no spaces', header: 'a=1;sticky=abc;b=2', expected: 'abc' },
    { desc: 'extra spaces', header: '  a=1 ;   sticky = abc  ;b=2', expected: 'abc' },
    { desc: 'quoted value', header: 'sticky="abc"', expected: 'abc' },
    { desc: 'empty value', header: 'sticky=', expected: '' },
    { desc: 'value containing =', header: 'sticky=a=b', expected: 'a=b' },
    { desc: 'name is a prefix of another', header: 'stickyx=1; xsticky=2', expected: undefined },
    { desc: 'case-sensitive name', header: 'STICKY=abc', expected: undefined },
    { desc: 'malformed pairs ignored', header: 'garbage; ;=x; sticky=abc', expected: 'abc' },
    { desc: 'first valid occurrence wins', header: 'sticky=one; sticky=two', expected: 'one' },
    { desc: 'invalid value skipped', header: 'sticky=a"b; sticky=ok', expected: 'ok' },
    { desc: 'backslash value skipped', header: 'sticky=a\\b', expected: undefined },
    { desc: 'trailing semicolon', header: 'sticky=abc;', expected: 'abc' },
    { desc: 'several headers', header: ['a=1', 'sticky=abc'], expected: 'abc' },
    { desc: 'lone quote kept invalid', header: 'sticky="', expected: undefined },
  ];
  it.each(cases)('$desc', ({ header, expected }) => {
    expect(createStickyCookie({ name: 'sticky' }, 's').read(header)).toBe(expected);
    expect(readCookie(header, 'sticky')).toBe(expected);
  });
});
