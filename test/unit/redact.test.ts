/*
 * The one redaction rule set (src/config/redact.ts) that the API and the logger apply
 * (issue 11, item 8): which names are secret, what free text gives away, what a
 * structured value keeps, Traefik's "xxxx" mask, idempotence and linear time on
 * hostile input (label values are written by whoever starts a container).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  MASK,
  isSecretName,
  redact,
  redactLabelValue,
  redactText,
} from '../../src/config/redact.js';
import { createLogger } from '../../src/observability/logger.js';

describe('isSecretName', () => {
  it.each([
    'Authorization',
    'proxy-authorization',
    'Cookie',
    'Set-Cookie',
    'X-Api-Key',
    'x-apikey',
    'X-Auth-Token',
    'X-Vault-Token',
    'Ocp-Apim-Subscription-Key',
    'client_secret',
    'password',
    'dbPassword',
    'passwd',
    'api_key',
    'privateKey',
    'hmacSecret',
    'key',
    'keyFile',
    'tls.key',
    'customRequestHeaders.Authorization',
    'traefik.http.middlewares.h.headers.customrequestheaders.X-Api-Key',
    'web-1 label traefik.http.middlewares.fa.forwardauth.tls.key',
  ])('%s is secret', (name) => expect(isSecretName(name)).toBe(true));

  it.each([
    'X-Visible',
    'Host',
    'Content-Type',
    'publicKey',
    'Public-Key-Pins',
    'address',
    'users',
    'usersFile',
    'authResponseHeaders',
    'addAuthCookiesToResponse',
    'passHostHeader',
    'headerField',
    'X-Forwarded-User',
    'Access-Control-Allow-Credentials',
    'certFile',
    'tls.cert',
    // an element named like a secret is not a secret option
    'traefik.http.routers.apikey.rule',
    '',
  ])('%s is not secret', (name) => expect(isSecretName(name)).toBe(false));
});

describe('redactText', () => {
  const pem = (label: string): string =>
    `-----BEGIN ${label}-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASC\nAT8wggE7AgEAAkEA\n-----END ${label}-----`;

  it.each([
    // URL userinfo: the password, or a lone user (usually a token)
    ['http://user:pw123@host:1/p', 'http://user:xxxx@host:1/p'],
    ['https://ghp_abcdef@github.com/x', 'https://xxxx@github.com/x'],
    ['redis://:pw@127.0.0.1:6379/0', 'redis://:xxxx@127.0.0.1:6379/0'],
    ['must be http, got "ftp://u:p@h/a"', 'must be http, got "ftp://u:xxxx@h/a"'],
    ['see http://a:b@c and https://d:e@f/x@y', 'see http://a:xxxx@c and https://d:xxxx@f/x@y'],
    ['http://host:8080/path@x?q=a@b', 'http://host:8080/path@x?q=a@b'],
    ['mailto:a@b.example', 'mailto:a@b.example'],
    // PEM private keys, whatever their kind; certificates stay
    [`key ${pem('PRIVATE KEY')} end`, 'key xxxx end'],
    [`${pem('RSA PRIVATE KEY')}\n${pem('EC PRIVATE KEY')}`, 'xxxx\nxxxx'],
    [pem('ENCRYPTED PRIVATE KEY'), 'xxxx'],
    ['-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA', 'xxxx'],
    [pem('CERTIFICATE'), pem('CERTIFICATE')],
    // secret names followed by a value: header lines, YAML, JSON, labels, query strings
    ['Authorization: Bearer abc', 'Authorization: xxxx'],
    ['header X-Api-Key: k1 k2', 'header X-Api-Key: xxxx'],
    ['Set-Cookie: sid=abc; Path=/', 'Set-Cookie: xxxx'],
    ['{"password":"p","user":"u"}', '{"password":"xxxx","user":"u"}'],
    ['{"token": 12345, "n": 1}', '{"token": xxxx, "n": 1}'],
    ['  password: hunter2\n  user: me', '  password: xxxx\n  user: me'],
    [
      'label traefik.http.middlewares.h.headers.customrequestheaders.X-Api-Key="v 1": bad',
      'label traefik.http.middlewares.h.headers.customrequestheaders.X-Api-Key="xxxx": bad',
    ],
    ['/x?token=abc&q=1', '/x?token=xxxx&q=1'],
    // Node's JSON.parse quotes a few characters around the error
    ['..."Api-Key": S18-json-s"... is not valid JSON', '..."Api-Key": xxxx"... is not valid JSON'],
    // an error naming a secret option keeps its reason; a dotted field is not a header line
    ['tls.key: cert and key must be set together', 'tls.key: cert and key must be set together'],
    ['rule: error while parsing rule', 'rule: error while parsing rule'],
    ['password must be set', 'password must be set'],
    ['password: |', 'password: |'],
    // rule matchers on a secret header or query parameter
    ['Host(`a`) && Header(`X-Api-Key`, `k-123`)', 'Host(`a`) && Header(`X-Api-Key`, `xxxx`)'],
    ['HeaderRegexp("Authorization", "^Bearer .+$")', 'HeaderRegexp("Authorization", "xxxx")'],
    [
      'Query(`token`, `t`) || QueryRegexp(`q`, `x`)',
      'Query(`token`, `xxxx`) || QueryRegexp(`q`, `x`)',
    ],
    ['Header(`X-Env`, `prod`)', 'Header(`X-Env`, `prod`)'],
    // nothing to hide
    ['middleware "missing@file" does not exist', 'middleware "missing@file" does not exist'],
    ['', ''],
  ])('%j → %j', (input, expected) => {
    expect(redactText(input)).toBe(expected);
    // idempotent: the API redacts views, then whole answers
    expect(redactText(expected)).toBe(expected);
  });

  it.each([
    ['a long word before a separator', 'a'.repeat(200_000) + ':x'],
    ['many separators', 'token:'.repeat(40_000)],
    ['many equals', 'a='.repeat(100_000)],
    ['many URL markers', 'x://'.repeat(50_000)],
    ['an unterminated userinfo', 'http://' + 'u'.repeat(200_000)],
    ['many PEM openings', '-----BEGIN '.repeat(20_000)],
    ['many unclosed matchers', 'Header(`'.repeat(20_000)],
    ['many matchers with an unclosed quote', 'Header("\\'.repeat(20_000)],
    ['unclosed quoted values', 'token="'.repeat(40_000)],
  ])('stays linear on hostile text: %s', (_name, input) => {
    const start = performance.now();
    redactText(input);
    // generous: a quadratic scan of these inputs takes minutes
    expect(performance.now() - start).toBeLessThan(5_000);
  });
});

describe('redact', () => {
  it('masks secret options and headers at any depth, and only those (Traefik shape kept)', () => {
    const input = {
      headers: {
        customRequestHeaders: { Authorization: 'Bearer a1b2c3', 'X-Visible': 'shown' },
        customResponseHeaders: { 'Set-Cookie': 'sid=1', 'X-Frame-Options': 'DENY' },
        publicKey: 'pin-sha256="x"',
      },
      forwardAuth: {
        address: 'https://auth.example/check',
        authResponseHeaders: ['X-User'],
        addAuthCookiesToResponse: ['session'],
        tls: { cert: '/certs/client.pem', key: '/certs/client-key.pem', ca: '/ca.pem' },
      },
      plugin: { x: { apiKey: 'k', token: 't', hmacSecret: 'h', password: 'p', count: 3 } },
      loadBalancer: { sticky: { cookie: { name: 'lb', secure: true } } },
    };
    const copy = structuredClone(input);
    expect(redact(input)).toEqual({
      headers: {
        customRequestHeaders: { Authorization: MASK, 'X-Visible': 'shown' },
        customResponseHeaders: { 'Set-Cookie': MASK, 'X-Frame-Options': 'DENY' },
        publicKey: 'pin-sha256="x"',
      },
      forwardAuth: {
        address: 'https://auth.example/check',
        authResponseHeaders: ['X-User'],
        addAuthCookiesToResponse: ['session'],
        tls: { cert: '/certs/client.pem', key: MASK, ca: '/ca.pem' },
      },
      plugin: { x: { apiKey: MASK, token: MASK, hmacSecret: MASK, password: MASK, count: 3 } },
      loadBalancer: { sticky: { cookie: { name: 'lb', secure: true } } },
    });
    // a copy: the configuration in force is not touched
    expect(input).toEqual(copy);
  });

  it('keeps user names of auth user lists and masks their hashes', () => {
    expect(
      redact({
        basicAuth: { users: ['admin:$apr1$x$y', 'bob:$2y$05$z'], usersFile: '/etc/users' },
        digestAuth: { users: ['dig:traefik:0123456789abcdef0123456789abcdef'] },
      }),
    ).toEqual({
      basicAuth: { users: ['admin:xxxx', 'bob:xxxx'], usersFile: '/etc/users' },
      digestAuth: { users: ['dig:traefik:xxxx'] },
    });
  });

  it('masks each string of a secret list, as Traefik does', () => {
    expect(redact({ tokens: ['a', 'b'], keys: [{ kid: '1', key: 'k' }] })).toEqual({
      tokens: [MASK, MASK],
      keys: [{ kid: '1', key: MASK }],
    });
  });

  it('masks URL passwords in values and in keys (serverStatus is keyed by URL)', () => {
    expect(
      redact({
        servers: [{ url: 'http://u:pw@10.0.0.1:80' }],
        serverStatus: { 'http://u:pw@10.0.0.1:80': 'UP' },
      }),
    ).toEqual({
      servers: [{ url: 'http://u:xxxx@10.0.0.1:80' }],
      serverStatus: { 'http://u:xxxx@10.0.0.1:80': 'UP' },
    });
  });

  it('masks the value of a label diagnostic whose label is secret, and its quotes in the message', () => {
    expect(
      redact([
        {
          object: 'web-1',
          field: 'traefik.http.middlewares.h.headers.customrequestheader.Authorization',
          value: 'Bearer s3cr3t-value',
          message: 'unknown field "customrequestheader"; value "Bearer s3cr3t-value" ignored',
          level: 'error',
        },
        {
          object: 'web-1',
          field: 'traefik.http.middlewares.a.basicauth.users',
          value: 'admin:$2y$05$abcdef,bob:$apr1$x$y',
          message: 'bad',
        },
        { object: 'web-1', field: 'traefik.http.routers.r.priority', value: 'ten', message: 'x' },
      ]),
    ).toEqual([
      {
        object: 'web-1',
        field: 'traefik.http.middlewares.h.headers.customrequestheader.Authorization',
        value: MASK,
        message: 'unknown field "customrequestheader"; value "xxxx" ignored',
        level: 'error',
      },
      {
        object: 'web-1',
        field: 'traefik.http.middlewares.a.basicauth.users',
        value: 'admin:xxxx,bob:xxxx',
        message: 'bad',
      },
      { object: 'web-1', field: 'traefik.http.routers.r.priority', value: 'ten', message: 'x' },
    ]);
  });

  it('redacts rules, error messages and errors; handles cycles', () => {
    const err = new Error('connect http://u:pw@h:1 failed', {
      cause: new Error('token=abcdef'),
    });
    const cyclic: Record<string, unknown> = { name: 'c' };
    cyclic.self = cyclic;
    const out = redact({
      rule: 'Host(`a`) && Header(`Authorization`, `Basic YWxhZGRpbjpvcGVu`)',
      error: ['address: must be an http or https URL, got "ftp://u:pw@h"'],
      err,
      cyclic,
    }) as Record<string, any>;
    expect(out.rule).toBe('Host(`a`) && Header(`Authorization`, `xxxx`)');
    expect(out.error).toEqual(['address: must be an http or https URL, got "ftp://u:xxxx@h"']);
    expect(out.err).toMatchObject({
      type: 'Error',
      message: 'connect http://u:xxxx@h:1 failed',
      cause: { message: 'token=xxxx' },
    });
    expect(out.err.stack).toContain('connect http://u:xxxx@h:1 failed');
    expect(out.cyclic).toEqual({ name: 'c', self: '[Circular]' });
  });

  it('stays bounded when many masked values could be quoted in long texts', () => {
    const diagnostics = Array.from({ length: 2_000 }, (_, i) => ({
      field: `traefik.http.middlewares.m${i}.headers.customrequestheaders.X-Api-Key`,
      value: `${'a'.repeat(200)}${i}`,
      message: 'a'.repeat(5_000),
    }));
    const start = performance.now();
    const out = redact(diagnostics);
    expect(out[0]!.value).toBe(MASK);
    // generous: the unbounded search (2,000 values in 2,000 texts) takes minutes
    expect(performance.now() - start).toBeLessThan(5_000);
  });

  it('redactLabelValue: what a diagnostic may show of a label value', () => {
    expect(redactLabelValue('traefik.http.middlewares.fa.forwardauth.tls.key', 'pem')).toBe(MASK);
    expect(redactLabelValue('traefik.http.middlewares.a.basicauth.users', 'a:h,b:h')).toBe(
      'a:xxxx,b:xxxx',
    );
    expect(
      redactLabelValue('traefik.http.services.s.loadbalancer.server.url', 'http://u:p@h'),
    ).toBe('http://u:xxxx@h');
    expect(redactLabelValue('traefik.http.routers.r.priority', 'ten')).toBe('ten');
  });
});

describe('logger', () => {
  it.each(['json', 'common'] as const)(
    'applies the same rules to every record (%s format)',
    (format) => {
      const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'portico-log-')), 'log');
      const logger = createLogger({ level: 'info', format, filePath: file });
      const child = logger.child({ provider: 'docker' });
      child.error(
        {
          container: 'web-1',
          label: 'traefik.http.middlewares.h.headers.customrequestheaders.X-Api-Key',
          value: 'label-secret-1',
        },
        'container web-1: label traefik.http.middlewares.h.headers.customrequestheaders.X-Api-Key="label-secret-1": bad',
      );
      logger.warn({ headers: { authorization: 'Basic c2VjcmV0', accept: '*/*' } }, 'request');
      logger.error(new Error('dial http://u:url-secret-2@h:1 failed'));
      logger.info({ config: { basicAuth: { users: ['admin:$2y$05$hash-secret-3'] } } }, 'loaded');
      logger.info('token=query-secret-4 in a message');
      const text = readFileSync(file, 'utf8');
      for (const secret of [
        'label-secret-1',
        'c2VjcmV0',
        'url-secret-2',
        'hash-secret-3',
        'query-secret-4',
      ])
        expect(text).not.toContain(secret);
      for (const kept of ['web-1', '*/*', 'admin:xxxx', 'http://u:xxxx@h:1', 'provider'])
        expect(text).toContain(kept);
      if (format === 'json') {
        const lines = text
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, any>);
        // an error logged alone keeps pino's shape: err, and its message as msg
        const err = lines.find((l) => l.err !== undefined)!;
        expect(err.msg).toBe('dial http://u:xxxx@h:1 failed');
        expect(err.err).toMatchObject({ type: 'Error', message: 'dial http://u:xxxx@h:1 failed' });
        expect(lines[0]).toMatchObject({ provider: 'docker', value: MASK, level: 'error' });
      }
    },
  );
});
