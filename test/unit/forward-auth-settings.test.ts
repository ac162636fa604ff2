/*
 * forwardAuth's options resolved at compile time (middlewares/forward-auth-settings.ts):
 * what a valid configuration turns into, and which option a bad one names
 * (the compiler turns the throw into the router's error).
 */
import { describe, expect, it } from 'vitest';
import { forwardAuthSettings } from '../../middlewares/forward-auth-settings.js';
import { canonical } from '../../middlewares/forward-auth-exchange.js';
import { ConfigElementError } from '../../src/kernel/errors.js';

describe('forwardAuthSettings', () => {
  it('applies Traefik defaults to a bare address', () => {
    const s = forwardAuthSettings({ address: 'http://auth.local:9000/check?x=1' });
    expect(s).toMatchObject({
      path: '/check?x=1',
      responseHeaders: [],
      requestAllow: undefined,
      responseRegex: undefined,
      userHeader: undefined,
      trustForwardHeader: false,
      forwardBody: false,
      maxBodySize: -1,
      maxResponseBodySize: -1,
      preserveLocationHeader: false,
      preserveRequestMethod: false,
      connect: {},
    });
    expect(s.address.origin).toBe('http://auth.local:9000');
    expect([...s.authCookies]).toEqual([]);
  });

  it('reads header names in lower case and keeps the TLS choice for https', () => {
    const s = forwardAuthSettings({
      address: 'https://auth.local/',
      authResponseHeaders: ['X-User', 'X-Groups'],
      authRequestHeaders: ['Cookie'],
      authResponseHeadersRegex: '^X-Auth-',
      headerField: 'X-User',
      addAuthCookiesToResponse: ['session'],
      tls: { insecureSkipVerify: true },
    });
    expect(s.responseHeaders).toEqual(['x-user', 'x-groups']);
    expect([...(s.requestAllow ?? [])]).toEqual(['cookie']);
    expect(s.responseRegex?.test('X-Auth-Id')).toBe(true);
    expect(s.userHeader).toBe('x-user');
    expect([...s.authCookies]).toEqual(['session']);
    expect(s.connect).toEqual({ rejectUnauthorized: false });
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['not a URL', { address: 'nope' }, 'address', /is not a URL/],
    ['another scheme', { address: 'ftp://auth.local' }, 'address', /http or https/],
    ['credentials', { address: 'http://u:p@auth.local' }, 'address', /credentials/],
    [
      'a bad header name',
      { address: 'http://a', authResponseHeaders: ['X-Ok', 'bad name'] },
      'authResponseHeaders[1]',
      /not a valid header name/,
    ],
    [
      'a regex RE2 refuses',
      { address: 'http://a', authResponseHeadersRegex: '(?=x)' },
      'authResponseHeadersRegex',
      /invalid regex/,
    ],
    [
      'cert without key',
      { address: 'https://a', tls: { cert: '/etc/x.pem' } },
      'tls.key',
      /cert and key must be set together/,
    ],
    [
      'an unreadable CA file',
      { address: 'https://a', tls: { ca: '/nonexistent/ca.pem' } },
      'tls.ca',
      /cannot read \/nonexistent\/ca\.pem: ENOENT/,
    ],
  ])('refuses %s, naming the option', (_name, raw, field, message) => {
    let error: unknown;
    try {
      forwardAuthSettings(raw);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigElementError);
    expect((error as ConfigElementError).message).toMatch(message);
    expect((error as ConfigElementError).field).toBe(field);
  });

  it('ignores TLS options for an http auth server, as Traefik does', () => {
    expect(forwardAuthSettings({ address: 'http://a', tls: { cert: '/x' } }).connect).toEqual({});
  });
});

describe('canonical', () => {
  it.each([
    ['x-auth-user', 'X-Auth-User'],
    ['www-authenticate', 'Www-Authenticate'],
    ['content-md5', 'Content-Md5'],
  ])('%s → %s (Go http.CanonicalHeaderKey)', (lower, expected) => {
    expect(canonical(lower)).toBe(expected);
  });
});
