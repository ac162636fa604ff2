/*
 * ForwardAuth against a real auth server and a real upstream (both node
 * servers that record what they saw): admission and refusal, the
 * X-Forwarded-* sent to the auth server (never the client's unless
 * trustForwardHeader), authResponseHeaders(Regex) replacing client values,
 * authRequestHeaders, forwardBody/maxBodySize, Location handling, methods,
 * cookies, an unreachable or TLS auth server, config errors and labels.
 */
import https from 'node:https';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import { decodeLabels } from '../../../src/config/labels.js';
import type { Upstream, UpstreamHandler } from '../../helpers/upstream.js';
import { eventually } from '../../helpers/eventually.js';
import { closedPort, request as send, type Reply } from '../../helpers/http.js';
import { useCleanups } from '../../helpers/scope.js';

const { defer, upstream, router } = useCleanups();

function request(
  url: string,
  headers: Record<string, string | string[]> = {},
  method = 'GET',
  body?: string,
): Promise<Reply> {
  return send(url, { method, headers, body });
}

function withAuth(u: Upstream, forwardAuth: Record<string, unknown>): DynamicConfig {
  return {
    http: {
      routers: { r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: ['m'] } },
      services: { s: { loadBalancer: { servers: [{ url: u.url }] } } },
      middlewares: { m: { forwardAuth } } as never,
    },
  };
}

/** An auth server that admits requests with `authorization: letmein` and tells who it is. */
const gate: UpstreamHandler = (req, res) => {
  if (req.headers.authorization === 'letmein') {
    res.writeHead(200, {
      'x-auth-user': 'alice',
      'x-auth-role': 'admin',
      'x-other': 'not-copied',
    });
    res.end('ok');
    return;
  }
  res.writeHead(401, {
    'www-authenticate': 'Bearer realm="auth"',
    'x-auth-reason': 'no token',
    'content-type': 'application/json',
  });
  res.end('{"error":"denied"}');
};

const IN = { authorization: 'letmein' };

describe('forwardAuth: decision', () => {
  it('lets a 2xx through and returns any other answer verbatim', async () => {
    const auth = await upstream(gate);
    const u = await upstream('app');
    const r = await router(withAuth(u, { address: auth.url + '/verify?x=1' }));
    const ok = await request(r.url + '/page?q=2', IN);
    expect(ok.status).toBe(200);
    expect(ok.headers['x-upstream']).toBe('app');
    expect(u.seen[0]!.url).toBe('/page?q=2');
    expect(auth.seen[0]!.url).toBe('/verify?x=1');
    expect(auth.seen[0]!.method).toBe('GET');

    const no = await request(r.url + '/page');
    expect(no.status).toBe(401);
    expect(no.body).toBe('{"error":"denied"}');
    expect(no.headers['www-authenticate']).toBe('Bearer realm="auth"');
    expect(no.headers['x-auth-reason']).toBe('no token');
    expect(no.headers['content-type']).toBe('application/json');
    expect(u.seen).toHaveLength(1);
  });

  it.each([
    [403, 'forbidden'],
    [500, 'auth broke'],
    [302, ''],
  ])('relays a %i from the auth server', async (status, body) => {
    const auth = await upstream((_req, res) => {
      res.writeHead(status, { 'x-from': 'auth' });
      res.end(body);
    });
    const u = await upstream();
    const r = await router(withAuth(u, { address: auth.url }));
    const reply = await request(r.url + '/');
    expect(reply).toMatchObject({ status, body });
    expect(reply.headers['x-from']).toBe('auth');
    expect(u.seen).toHaveLength(0);
  });

  it('relays no hop-by-hop header of a refusing auth answer (the one shared list, issue 12 §4)', async () => {
    const auth = await upstream((_req, res) => {
      res.writeHead(403, { 'proxy-connection': 'keep-alive', 'x-from': 'auth' });
      res.end('no');
    });
    const r = await router(withAuth(await upstream(), { address: auth.url }));
    const reply = await request(r.url + '/');
    expect(reply.status).toBe(403);
    expect(reply.headers['x-from']).toBe('auth');
    expect(reply.headers['proxy-connection']).toBeUndefined();
  });

  it('answers 500 when the auth server cannot be reached', async () => {
    const port = await closedPort();
    const u = await upstream();
    const r = await router(withAuth(u, { address: `http://127.0.0.1:${port}/auth` }));
    expect((await request(r.url + '/')).status).toBe(500);
    expect(u.seen).toHaveLength(0);
  });

  it('answers 500 when the auth answer is over maxResponseBodySize', async () => {
    const auth = await upstream((_req, res) => {
      res.writeHead(401);
      res.end('x'.repeat(100));
    });
    const u = await upstream();
    const r = await router(withAuth(u, { address: auth.url, maxResponseBodySize: 10 }));
    expect((await request(r.url + '/')).status).toBe(500);
    r.apply(withAuth(u, { address: auth.url, maxResponseBodySize: 100 }));
    expect((await request(r.url + '/')).status).toBe(401);
  });
});

describe('forwardAuth: what the auth server sees', () => {
  it('computes X-Forwarded-Method/Proto/Host/Uri/For and ignores forged ones', async () => {
    const auth = await upstream(gate);
    const u = await upstream();
    // the entrypoint trusts this client, so only the middleware stands between forged values and the auth server
    const r = await router(withAuth(u, { address: auth.url }), {
      flags: ['--entryPoints.web.forwardedHeaders.insecure=true'],
    });
    await request(
      r.url + '/secret/page?a=b',
      {
        ...IN,
        host: 'app.example:8080',
        'x-forwarded-uri': '/public',
        'x-forwarded-method': 'GET',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'https',
        'x-forwarded-for': '6.6.6.6',
        'x-custom': 'kept',
      },
      'DELETE',
    );
    const h = auth.seen[0]!.headers;
    expect(h['x-forwarded-uri']).toBe('/secret/page?a=b');
    expect(h['x-forwarded-method']).toBe('DELETE');
    expect(h['x-forwarded-host']).toBe('app.example:8080');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-port']).toBe('8080');
    expect(h['x-custom']).toBe('kept');
    expect(h.authorization).toBe('letmein');
    expect(h.host).toBe(new URL(auth.url).host);
    expect(auth.seen[0]!.method).toBe('GET');
  });

  it('with trustForwardHeader passes a trusted client’s X-Forwarded-* on', async () => {
    const auth = await upstream(gate);
    const u = await upstream();
    const r = await router(withAuth(u, { address: auth.url, trustForwardHeader: true }), {
      flags: ['--entryPoints.web.forwardedHeaders.insecure=true'],
    });
    await request(r.url + '/real', {
      ...IN,
      'x-forwarded-uri': '/original',
      'x-forwarded-proto': 'https',
      'x-forwarded-for': '10.0.0.1',
    });
    const h = auth.seen[0]!.headers;
    expect(h['x-forwarded-uri']).toBe('/original');
    expect(h['x-forwarded-proto']).toBe('https');
    expect(h['x-forwarded-for']).toBe('10.0.0.1, 127.0.0.1');
    expect(h['x-forwarded-method']).toBe('GET');
  });

  it('authRequestHeaders limits what is sent; hop-by-hop headers never go', async () => {
    const auth = await upstream(gate);
    const u = await upstream();
    const r = await router(
      withAuth(u, { address: auth.url, authRequestHeaders: ['Authorization', 'X-Keep'] }),
    );
    await request(r.url + '/', { ...IN, 'x-keep': '1', 'x-drop': '2', cookie: 'a=b' });
    const h = auth.seen[0]!.headers;
    expect(h.authorization).toBe('letmein');
    expect(h['x-keep']).toBe('1');
    expect(h['x-drop']).toBeUndefined();
    expect(h.cookie).toBeUndefined();
    expect(h['x-forwarded-uri']).toBe('/');
    // everything reaches the upstream as before
    expect(u.seen[0]!.headers['x-drop']).toBe('2');
  });

  it('preserveRequestMethod calls the auth server with the request method', async () => {
    const auth = await upstream(gate);
    const u = await upstream();
    const r = await router(withAuth(u, { address: auth.url, preserveRequestMethod: true }));
    await request(r.url + '/', IN, 'PUT', 'data');
    expect(auth.seen[0]!.method).toBe('PUT');
    expect(auth.seen[0]!.body).toBe(''); // no forwardBody: the body stays for the upstream
    expect(u.seen[0]!.body).toBe('data');
  });

  it('forwardBody sends the body to both; over maxBodySize the answer is 401', async () => {
    const auth = await upstream(gate);
    const u = await upstream();
    const r = await router(withAuth(u, { address: auth.url, forwardBody: true, maxBodySize: 10 }));
    const ok = await request(r.url + '/', { ...IN, 'content-type': 'text/plain' }, 'POST', 'hello');
    expect(ok.status).toBe(200);
    expect(auth.seen[0]!.body).toBe('hello');
    expect(u.seen[0]!.body).toBe('hello');
    const big = await request(r.url + '/', IN, 'POST', 'x'.repeat(11));
    expect(big.status).toBe(401);
    expect(auth.seen).toHaveLength(1);
    expect(u.seen).toHaveLength(1);
    // without a limit (-1, the default) a large body goes through
    r.apply(withAuth(u, { address: auth.url, forwardBody: true }));
    const large = 'y'.repeat(200_000);
    expect((await request(r.url + '/', IN, 'POST', large)).status).toBe(200);
    expect(auth.seen[1]!.body).toBe(large);
    expect(u.seen[1]!.body).toBe(large);
  });
});

describe('forwardAuth: headers onto the upstream request', () => {
  it('authResponseHeaders replace client-sent values, even when the auth server sets none', async () => {
    const auth = await upstream(gate);
    const u = await upstream();
    const r = await router(
      withAuth(u, { address: auth.url, authResponseHeaders: ['X-Auth-User', 'X-Auth-Missing'] }),
    );
    await request(r.url + '/', {
      ...IN,
      'x-auth-user': 'forged',
      'X-Auth-Missing': 'forged',
      'x-auth-role': 'client',
    });
    const h = u.seen[0]!.headers;
    expect(h['x-auth-user']).toBe('alice');
    expect(h['x-auth-missing']).toBeUndefined();
    expect(h['x-auth-role']).toBe('client'); // not listed: left alone
    expect(h['x-other']).toBeUndefined();
    expect(u.seen[0]!.rawHeaders.join('\n')).not.toContain('forged');
  });

  it('authResponseHeadersRegex copies matches after removing matching client headers', async () => {
    const auth = await upstream(gate);
    const u = await upstream();
    const r = await router(
      withAuth(u, { address: auth.url, authResponseHeadersRegex: '^X-Auth-' }),
    );
    await request(r.url + '/', { ...IN, 'x-auth-forged': 'yes', 'x-auth-user': 'forged' });
    const h = u.seen[0]!.headers;
    expect(h['x-auth-user']).toBe('alice');
    expect(h['x-auth-role']).toBe('admin');
    expect(h['x-auth-forged']).toBeUndefined();
    expect(h['x-other']).toBeUndefined();
  });

  it('addAuthCookiesToResponse replaces the upstream cookies of those names', async () => {
    const auth = await upstream((_req, res) => {
      res.writeHead(200, { 'set-cookie': ['session=from-auth; Path=/', 'tracking=auth'] });
      res.end();
    });
    const u = await upstream((_req, res) => {
      res.writeHead(200, { 'set-cookie': ['session=from-app', 'prefs=dark'] });
      res.end('app');
    });
    const r = await router(
      withAuth(u, { address: auth.url, addAuthCookiesToResponse: ['session'] }),
    );
    const reply = await request(r.url + '/');
    expect(reply.status).toBe(200);
    expect(reply.headers['set-cookie']!.sort()).toEqual([
      'prefs=dark',
      'session=from-auth; Path=/',
    ]);
  });
});

describe('forwardAuth: Location', () => {
  const redirecting =
    (location: string): UpstreamHandler =>
    (_req, res) => {
      res.writeHead(302, { location });
      res.end();
    };

  it('resolves a relative Location against the address unless preserveLocationHeader', async () => {
    const auth = await upstream(redirecting('/login?next=x'));
    const u = await upstream();
    const r = await router(withAuth(u, { address: auth.url + '/oauth/check' }));
    const reply = await request(r.url + '/');
    expect(reply.status).toBe(302);
    expect(reply.headers.location).toBe(auth.url + '/login?next=x');
    r.apply(withAuth(u, { address: auth.url + '/oauth/check', preserveLocationHeader: true }));
    expect((await request(r.url + '/')).headers.location).toBe('/login?next=x');
  });

  it('keeps an absolute Location as it is', async () => {
    const auth = await upstream(redirecting('https://sso.example/login'));
    const u = await upstream();
    const r = await router(withAuth(u, { address: auth.url }));
    expect((await request(r.url + '/')).headers.location).toBe('https://sso.example/login');
  });
});

describe('forwardAuth: connection pool', () => {
  it('keeps its connections across a swap that leaves it unchanged and closes them when it goes', async () => {
    const auth = await upstream(gate);
    const ports: number[] = [];
    let closed = 0;
    auth.server.on('connection', (sock: net.Socket) => {
      ports.push(sock.remotePort ?? 0);
      sock.on('close', () => closed++);
    });
    const u = await upstream();
    const cfg = withAuth(u, { address: auth.url });
    const r = await router(cfg);
    expect((await request(r.url + '/', IN)).status).toBe(200);
    // another router appears: the middleware's config is the same, so is its pool
    r.apply({
      http: {
        ...cfg.http,
        routers: { ...cfg.http!.routers, x: { rule: 'Path(`/x`)', service: 's' } },
      },
    });
    expect((await request(r.url + '/', IN)).status).toBe(200);
    expect(ports).toHaveLength(1);
    expect(closed).toBe(0);
    // the middleware is gone: its pool closes its connections
    r.apply({
      http: { ...cfg.http, routers: { x: { rule: 'Path(`/x`)', service: 's' } }, middlewares: {} },
    });
    await eventually(() => expect(closed).toBe(1));
  });
});

// self-signed P-256 certificate for localhost / 127.0.0.1, valid until 2126 (test only)
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgLSB53cJ3avHz3cg3
AFsTG5siDPOAItr87ILqu50d8gWhRANCAAR33dnEKYo8vC80zfJMToVJQycKvx9B
BYOwjxtIeT1ivaujtLj87mfAAXCaCTYH8S3tBz2HvTAsfChJBNcHxy3M
-----END PRIVATE KEY-----
`;
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUHX1jdk5YiuIvfuqSBMAcWDe+J/QwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyODAxNTM0N1oYDzIxMjYxMTA0
MDE1MzQ3WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAR33dnEKYo8vC80zfJMToVJQycKvx9BBYOwjxtIeT1ivaujtLj87mfA
AXCaCTYH8S3tBz2HvTAsfChJBNcHxy3Mo28wbTAdBgNVHQ4EFgQUSMQwAoQY2c3P
BctakwG32PI+K/kwHwYDVR0jBBgwFoAUSMQwAoQY2c3PBctakwG32PI+K/kwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIgGuKGF3f8qP+djMnovbrem1KbjKt4gND5Jcuckt6zbcgCIQD/
PSH9XuGhkoNEvl3O22hHP8B78pspR72IzpT27Fg+VQ==
-----END CERTIFICATE-----
`;

describe('forwardAuth: TLS', () => {
  async function httpsAuth(requestCert = false): Promise<{ url: string; clientCerts: boolean[] }> {
    const clientCerts: boolean[] = [];
    const server = https.createServer(
      { key: TEST_KEY, cert: TEST_CERT, requestCert, rejectUnauthorized: false, ca: TEST_CERT },
      (req, res) => {
        clientCerts.push((req.socket as import('node:tls').TLSSocket).authorized);
        res.writeHead(200, { 'x-auth-user': 'tls' });
        res.end();
      },
    );
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    defer(
      () =>
        new Promise<void>((res) => {
          server.closeAllConnections();
          server.close(() => res());
        }),
    );
    return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, clientCerts };
  }

  it('verifies the auth server with tls.ca (PEM or file) and refuses an unknown one', async () => {
    const auth = await httpsAuth();
    const u = await upstream();
    const r = await router(withAuth(u, { address: auth.url }));
    expect((await request(r.url + '/')).status).toBe(500);
    r.apply(withAuth(u, { address: auth.url, tls: { insecureSkipVerify: true } }));
    expect((await request(r.url + '/')).status).toBe(200);
    const dir = mkdtempSync(join(tmpdir(), 'portico-fa-'));
    writeFileSync(join(dir, 'ca.pem'), TEST_CERT);
    for (const ca of [TEST_CERT, join(dir, 'ca.pem')]) {
      r.apply(
        withAuth(u, { address: auth.url, tls: { ca }, authResponseHeaders: ['X-Auth-User'] }),
      );
      expect((await request(r.url + '/')).status).toBe(200);
    }
    expect(u.seen.at(-1)!.headers['x-auth-user']).toBe('tls');
  });

  it('presents tls.cert/tls.key as a client certificate', async () => {
    const auth = await httpsAuth(true);
    const u = await upstream();
    const r = await router(
      withAuth(u, { address: auth.url, tls: { ca: TEST_CERT, cert: TEST_CERT, key: TEST_KEY } }),
    );
    expect((await request(r.url + '/')).status).toBe(200);
    expect(auth.clientCerts).toEqual([true]);
  });
});

describe('forwardAuth: configuration errors', () => {
  it.each([
    [{}, 'forwardAuth.address: is required'],
    [{ address: 'not a url' }, 'forwardAuth.address: "not a url" is not a URL'],
    [{ address: 'ftp://auth' }, 'forwardAuth.address: must be an http or https URL'],
    [
      { address: 'http://a', authResponseHeadersRegex: '(' },
      'forwardAuth.authResponseHeadersRegex: invalid regex',
    ],
    [
      { address: 'http://a', authResponseHeaders: ['bad header'] },
      'forwardAuth.authResponseHeaders[0]:',
    ],
    [{ address: 'http://a', maxBodySize: -2 }, 'forwardAuth.maxBodySize: must be at least -1'],
    [
      { address: 'http://a', forwardBody: 'maybe' },
      'forwardAuth.forwardBody: must be true or false',
    ],
    [
      { address: 'https://a', tls: { cert: TEST_CERT } },
      'forwardAuth.tls.key: cert and key must be set together',
    ],
    [
      { address: 'https://a', tls: { ca: '/nonexistent/ca.pem' } },
      'forwardAuth.tls.ca: cannot read /nonexistent/ca.pem',
    ],
    [
      {
        address: 'https://a',
        tls: { ca: '-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----' },
      },
      'forwardAuth.tls.ca: invalid certificate',
    ],
    [
      {
        address: 'https://a',
        tls: {
          cert: TEST_CERT,
          key: 'garbage-key-\n-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----',
        },
      },
      'forwardAuth.tls: invalid TLS material',
    ],
    [
      { address: 'http://a', tls: { verify: true } },
      'forwardAuth.tls.verify: unknown field "verify"',
    ],
    [
      { address: 'http://a', authSigninUrl: 'x' },
      'forwardAuth.authSigninUrl: unknown field "authSigninUrl"',
    ],
  ])('%j is refused: %s', async (opts, message) => {
    const u = await upstream();
    const r = await router(withAuth(u, opts));
    const table = r.router.holder.current;
    expect(table.routers.get('r@file')!.status).toBe('disabled');
    expect(table.middlewares.get('m@file')!.errors.join('\n')).toContain(message);
    expect((await request(r.url + '/')).status).toBe(404);
  });
});

describe('forwardAuth: Docker labels', () => {
  it('decodes address, header lists, booleans and numbers', async () => {
    const auth = await upstream(gate);
    const u = await upstream();
    const decoded = decodeLabels(
      {
        'traefik.http.middlewares.m.forwardauth.address': auth.url + '/check',
        'traefik.http.middlewares.m.forwardauth.authresponseheaders': 'X-Auth-User,X-Auth-Role',
        'traefik.http.middlewares.m.forwardauth.authrequestheaders': 'Authorization',
        'traefik.http.middlewares.m.forwardauth.trustforwardheader': 'false',
        'traefik.http.middlewares.m.forwardauth.forwardbody': 'true',
        'traefik.http.middlewares.m.forwardauth.maxbodysize': '4',
        'traefik.http.middlewares.m.forwardauth.preserverequestmethod': 'true',
      },
      { prefixes: ['traefik'] },
    ).http.middlewares;
    const r = await router(withAuth(u, {}));
    r.apply({ http: { ...withAuth(u, {}).http, middlewares: decoded } });
    expect((await request(r.url + '/', IN, 'POST', 'abc')).status).toBe(200);
    expect(auth.seen[0]).toMatchObject({ method: 'POST', url: '/check', body: 'abc' });
    expect(u.seen[0]!.headers).toMatchObject({ 'x-auth-user': 'alice', 'x-auth-role': 'admin' });
    expect((await request(r.url + '/', IN, 'POST', 'abcde')).status).toBe(401);
  });
});
