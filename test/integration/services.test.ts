/*
 * Services against real upstream servers: load-balancer distribution, sticky
 * cookies, active and passive health checks, state kept across config swaps,
 * and the weighted, mirroring and failover composites.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { echo, type Upstream } from '../helpers/upstream.js';
import { eventually } from '../helpers/eventually.js';
import { closedPort, freePort, request, type Reply as HttpReply } from '../helpers/http.js';
import { useCleanups } from '../helpers/scope.js';

const { defer, upstream, router } = useCleanups();

interface Reply extends HttpReply {
  /** which upstream answered (its x-upstream header), '' for answers Portico made itself */
  from: string;
}

async function get(
  url: string,
  headers: Record<string, string> = {},
  method = 'GET',
  body?: string,
): Promise<Reply> {
  const res = await request(url, { method, headers, body });
  return { ...res, from: String(res.headers['x-upstream'] ?? '') };
}

/** sends n requests one after the other (order matters for round robin) */
async function sequence(
  url: string,
  n: number,
  headers: Record<string, string> = {},
): Promise<Reply[]> {
  const out: Reply[] = [];
  for (let i = 0; i < n; i++) out.push(await get(url, headers));
  return out;
}

function tally(replies: Reply[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of replies)
    out[r.from || String(r.status)] = (out[r.from || String(r.status)] ?? 0) + 1;
  return out;
}

/** An upstream whose /health answer can be flipped; every other path echoes with x-upstream: name. */
interface Flappy extends Upstream {
  healthy: boolean;
  /** requests seen other than health probes */
  traffic(): number;
}

async function flappy(name: string): Promise<Flappy> {
  const e = echo(name);
  const health = { up: true };
  const u = await upstream((req, res, body) => {
    if (req.url?.startsWith('/health')) {
      res.writeHead(health.up ? 200 : 500).end(health.up ? 'ok' : 'sick');
      return;
    }
    e(req, res, body);
  });
  // an accessor (not Object.assign, which would copy the value) so flipping it reaches the handler
  return Object.defineProperties(u, {
    healthy: { get: () => health.up, set: (v: boolean) => void (health.up = v) },
    traffic: { value: () => u.seen.filter((s) => !s.url.startsWith('/health')).length },
  }) as Flappy;
}

const fastHealth = { path: '/health', interval: '100ms', timeout: '500ms' };

function setCookies(r: Reply): string[] {
  return r.headers['set-cookie'] ?? [];
}

/** `name=value` of the first Set-Cookie, ready for a Cookie request header */
function cookiePair(r: Reply): string {
  const first = setCookies(r)[0];
  if (first === undefined) throw new Error('no Set-Cookie in the response');
  return first.split(';')[0]!;
}

function traefikDefaultCookieName(service: string): string {
  return `_${createHash('sha1').update(`_TRAEFIK_BACKEND_${service}`).digest('hex')}`.slice(0, 6);
}

function lbConfig(
  servers: { url: string; weight?: number; preservePath?: boolean }[],
  lb: Record<string, unknown> = {},
  extraRouters: Record<string, { rule: string; service: string }> = {},
): DynamicConfig {
  return {
    http: {
      routers: { r: { rule: 'PathPrefix(`/`)', service: 's' }, ...extraRouters },
      services: { s: { loadBalancer: { servers, ...lb } } },
    },
  };
}

describe('loadBalancer distribution', () => {
  it('splits 50 requests over weights 3,1,1 exactly 30/10/10, interleaved', async () => {
    const [a, b, c] = await Promise.all([upstream('a'), upstream('b'), upstream('c')]);
    const r = await router(
      lbConfig([
        { url: a.url, weight: 3 },
        { url: b.url, weight: 1 },
        { url: c.url, weight: 1 },
      ]),
    );
    const replies = await sequence(r.url + '/', 50);
    expect(replies.every((x) => x.status === 200)).toBe(true);
    expect(tally(replies)).toEqual({ a: 30, b: 10, c: 10 });
    // smooth WRR: the heavy server never takes the whole first half
    expect(
      replies
        .slice(0, 5)
        .map((x) => x.from)
        .sort(),
    ).toEqual(['a', 'a', 'a', 'b', 'c']);
    // and the upstreams agree with what the client saw
    expect([a.seen.length, b.seen.length, c.seen.length]).toEqual([30, 10, 10]);
  });

  it('rotates round robin over servers of equal weight', async () => {
    const [a, b, c] = await Promise.all([upstream('a'), upstream('b'), upstream('c')]);
    const r = await router(lbConfig([{ url: a.url }, { url: b.url }, { url: c.url }]));
    const order = (await sequence(r.url + '/', 9)).map((x) => x.from);
    expect(order).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
  });
});

describe('sticky cookie', () => {
  it('sets a cookie named as Traefik derives it on the first response', async () => {
    const [a, b] = await Promise.all([upstream('a'), upstream('b')]);
    const r = await router(lbConfig([{ url: a.url }, { url: b.url }], { sticky: { cookie: {} } }));
    const first = await get(r.url + '/');
    expect(first.status).toBe(200);
    const cookies = setCookies(first);
    expect(cookies).toHaveLength(1);
    const name = traefikDefaultCookieName('s@file');
    expect(cookies[0]).toMatch(new RegExp(`^${name}=[^;]+; Path=/$`));
    // the value identifies the server without revealing its address
    expect(cookies[0]).not.toContain('127.0.0.1');
  });

  it('shows custom name, httpOnly, secure, sameSite and maxAge in Set-Cookie', async () => {
    const [a, b] = await Promise.all([upstream('a'), upstream('b')]);
    const r = await router(
      lbConfig([{ url: a.url }, { url: b.url }], {
        sticky: {
          cookie: {
            name: 'portico_lb',
            httpOnly: true,
            secure: true,
            sameSite: 'strict',
            maxAge: 60,
          },
        },
      }),
    );
    const [cookie] = setCookies(await get(r.url + '/'));
    expect(cookie).toMatch(/^portico_lb=[^;]+;/);
    const attrs = cookie!.split('; ').slice(1);
    expect(attrs).toEqual(
      expect.arrayContaining(['Path=/', 'HttpOnly', 'Secure', 'SameSite=Strict', 'Max-Age=60']),
    );
  });

  it('keeps a client on its server, re-pins it when that server goes down, ignores forged values', async () => {
    const [a, b] = await Promise.all([flappy('a'), flappy('b')]);
    const r = await router(
      lbConfig([{ url: a.url }, { url: b.url }], {
        sticky: { cookie: { name: 'pin' } },
        healthCheck: fastHealth,
      }),
    );
    const first = await get(r.url + '/');
    const pinned = first.from;
    const other = pinned === 'a' ? 'b' : 'a';
    const cookie = cookiePair(first);

    // ten requests with the cookie: all on the same server, no new cookie
    const kept = await sequence(r.url + '/', 10, { cookie: `theme=dark; ${cookie}` });
    expect(kept.map((x) => x.from)).toEqual(Array(10).fill(pinned));
    expect(kept.every((x) => setCookies(x).length === 0)).toBe(true);

    // a forged or unknown value is ignored: round robin answers and pins anew
    const forged = await sequence(r.url + '/', 4, { cookie: 'pin=deadbeefdeadbeef' });
    expect(new Set(forged.map((x) => x.from))).toEqual(new Set(['a', 'b']));
    for (const x of forged) expect(cookiePair(x)).toMatch(/^pin=/);
    expect(forged.map(cookiePair)).not.toContain('pin=deadbeefdeadbeef');

    // the pinned server fails its health check: the client moves and gets a new cookie
    (pinned === 'a' ? a : b).healthy = false;
    const pinnedServer = pinned === 'a' ? a : b;
    await eventually(() => {
      expect(
        r.router.holder.current.serviceRuntimes.get('s@file')!.serverStatus()[pinnedServer.url],
      ).toBe('DOWN');
    });
    const moved = await get(r.url + '/', { cookie });
    expect(moved.status).toBe(200);
    expect(moved.from).toBe(other);
    const newCookie = cookiePair(moved);
    expect(newCookie).not.toBe(cookie);
    const after = await sequence(r.url + '/', 5, { cookie: newCookie });
    expect(after.map((x) => x.from)).toEqual(Array(5).fill(other));
  });
});

describe('active health check', () => {
  it('takes a failing server out of rotation within a few intervals and brings it back', async () => {
    const [a, b, c] = await Promise.all([flappy('a'), flappy('b'), flappy('c')]);
    const r = await router(
      lbConfig([{ url: a.url }, { url: b.url }, { url: c.url }], { healthCheck: fastHealth }),
    );
    expect(tally(await sequence(r.url + '/', 6))).toEqual({ a: 2, b: 2, c: 2 });

    b.healthy = false;
    const flipped = Date.now();
    await eventually(
      async () => {
        const before = b.traffic();
        const replies = await sequence(r.url + '/', 4);
        expect(b.traffic()).toBe(before);
        expect(replies.every((x) => x.status === 200)).toBe(true);
      },
      { timeoutMs: 2000 },
    );
    // one interval to notice, plus request time: well under a second
    expect(Date.now() - flipped).toBeLessThan(1000);
    const during = tally(await sequence(r.url + '/', 10));
    expect(during).toEqual({ a: 5, c: 5 });

    b.healthy = true;
    await eventually(
      async () => {
        expect(tally(await sequence(r.url + '/', 3)).b).toBeGreaterThan(0);
      },
      { timeoutMs: 2000 },
    );
  });

  it('sends the configured hostname and headers to the health endpoint', async () => {
    const u = await flappy('u');
    await router(
      lbConfig([{ url: u.url }], {
        healthCheck: {
          ...fastHealth,
          path: '/health?deep=1',
          hostname: 'health.example',
          headers: { 'X-Probe': 'portico' },
        },
      }),
    );
    const probe = await eventually(() => {
      const p = u.seen.find((s) => s.url.startsWith('/health'));
      expect(p).toBeDefined();
      return p!;
    });
    expect(probe.url).toBe('/health?deep=1');
    expect(probe.headers.host).toBe('health.example');
    expect(probe.headers['x-probe']).toBe('portico');
  });

  it('answers 503 when every server is down', async () => {
    const [a, b] = await Promise.all([flappy('a'), flappy('b')]);
    a.healthy = false;
    b.healthy = false;
    const r = await router(lbConfig([{ url: a.url }, { url: b.url }], { healthCheck: fastHealth }));
    await eventually(async () => expect((await get(r.url + '/')).status).toBe(503));
    expect((await sequence(r.url + '/', 3)).map((x) => x.status)).toEqual([503, 503, 503]);
    expect(a.traffic() + b.traffic()).toBeLessThanOrEqual(2); // at most the requests sent before the first probe
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

/** A real HTTPS upstream with the self-signed test certificate; counts its health probes. */
async function httpsUpstream(name: string): Promise<{ url: string; probes: () => number }> {
  let probes = 0;
  const server = https.createServer({ key: TEST_KEY, cert: TEST_CERT }, (req, res) => {
    if (req.url === '/health') probes++;
    res.writeHead(200, { 'x-upstream': name }).end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  defer(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    probes: () => probes,
  };
}

describe('active health check over HTTPS', () => {
  it.each([
    ['insecureSkipVerify', () => ({ insecureSkipVerify: true })],
    [
      'rootCAs',
      () => {
        const dir = mkdtempSync(join(tmpdir(), 'portico-ca-'));
        defer(() => rmSync(dir, { recursive: true, force: true }));
        writeFileSync(join(dir, 'ca.pem'), TEST_CERT);
        return { rootCAs: [join(dir, 'ca.pem')] };
      },
    ],
  ])('probes through the serversTransport TLS settings (%s)', async (_label, transport) => {
    const u = await httpsUpstream('secure');
    const r = await router({
      http: {
        routers: { r: { rule: 'PathPrefix(`/`)', service: 's' } },
        services: {
          s: {
            loadBalancer: {
              servers: [{ url: u.url }],
              serversTransport: 'tls',
              healthCheck: fastHealth,
            },
          },
        },
        serversTransports: { tls: transport() },
      },
    });
    await eventually(() => expect(u.probes()).toBeGreaterThanOrEqual(2));
    expect(r.router.holder.current.serviceRuntimes.get('s@file')!.serverStatus()).toEqual({
      [u.url]: 'UP',
    });
    const reply = await get(r.url + '/');
    expect(reply.status).toBe(200);
    expect(reply.from).toBe('secure');
  });
});

describe('passive health check', () => {
  it('ejects a server that refuses connections for failureWindow', async () => {
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const live = await upstream('live');
    const r = await router(
      lbConfig([{ url: dead }, { url: live.url }], {
        passiveHealthCheck: { failureWindow: '400ms', maxFailedAttempts: 1 },
      }),
    );
    const first = await get(r.url + '/');
    expect(first.status).toBe(502);
    const ejectedAt = Date.now();
    const during = await sequence(r.url + '/', 10);
    expect(during.map((x) => x.from)).toEqual(Array(10).fill('live'));
    expect(r.router.holder.current.serviceRuntimes.get('s@file')!.serverStatus()).toEqual({
      [dead]: 'DOWN',
      [live.url]: 'UP',
    });
    // after the window the server is tried again (and fails again)
    await eventually(async () => expect((await get(r.url + '/')).status).toBe(502), {
      timeoutMs: 3000,
    });
    expect(Date.now() - ejectedAt).toBeGreaterThanOrEqual(350);
  });
});

describe('state across config swaps', () => {
  it('keeps health and round-robin position when the service is unchanged', async () => {
    const [a, b, c] = await Promise.all([flappy('a'), flappy('b'), flappy('c')]);
    b.healthy = false;
    const servers = [{ url: a.url }, { url: b.url }, { url: c.url }];
    const cfg = lbConfig(servers, { healthCheck: fastHealth });
    const r = await router(cfg);
    await eventually(() => {
      expect(r.router.holder.current.serviceRuntimes.get('s@file')!.serverStatus()[b.url]).toBe(
        'DOWN',
      );
    });
    expect((await get(r.url + '/')).from).toBe('a');
    const bTraffic = b.traffic();
    const probesBefore = b.seen.length - bTraffic;

    {
      const other = await upstream('other');
      const table = r.apply({
        http: {
          routers: {
            ...cfg.http!.routers,
            extra: { rule: 'Path(`/other-service`)', service: 'o' },
          },
          services: {
            ...cfg.http!.services,
            o: { loadBalancer: { servers: [{ url: other.url }] } },
          },
        },
      });
      expect(table.routers.get('extra@file')!.status).toBe('enabled');
      // right after the swap: B is still DOWN and the rotation continues where it was (c, not a)
      expect(table.serviceRuntimes.get('s@file')!.serverStatus()[b.url]).toBe('DOWN');
      const after = await sequence(r.url + '/', 4);
      expect(after.map((x) => x.from)).toEqual(['c', 'a', 'c', 'a']);
      expect(b.traffic()).toBe(bTraffic);
      expect((await get(r.url + '/other-service')).from).toBe('other');
    }
    // the same checker keeps probing (it was not closed by the swap)
    await eventually(() => expect(b.seen.length - b.traffic()).toBeGreaterThan(probesBefore + 1));
  });

  it('gives a changed service fresh state', async () => {
    const [a, b, c] = await Promise.all([flappy('a'), flappy('b'), flappy('c')]);
    b.healthy = false;
    const r = await router(lbConfig([{ url: a.url }, { url: b.url }], { healthCheck: fastHealth }));
    await eventually(() => {
      expect(r.router.holder.current.serviceRuntimes.get('s@file')!.serverStatus()[b.url]).toBe(
        'DOWN',
      );
    });
    expect((await sequence(r.url + '/', 2)).map((x) => x.from)).toEqual(['a', 'a']);

    // a third server and a health path that B passes: the rotation restarts and B is judged anew
    const table = r.apply(
      lbConfig([{ url: a.url }, { url: b.url }, { url: c.url }], {
        healthCheck: { ...fastHealth, path: '/ready' },
      }),
    );
    expect(table.serviceRuntimes.get('s@file')!.serverStatus()[b.url]).toBe('UP');
    await eventually(() => expect(b.seen.some((s) => s.url === '/ready')).toBe(true));
    expect((await sequence(r.url + '/', 3)).map((x) => x.from)).toEqual(['a', 'b', 'c']);
  });
});

function weightedConfig(
  aUrl: string,
  bUrl: string,
  weighted: Record<string, unknown>,
  bLb: Record<string, unknown> = {},
): DynamicConfig {
  return {
    http: {
      routers: { r: { rule: 'PathPrefix(`/`)', service: 'w' } },
      services: {
        w: {
          weighted: {
            services: [
              { name: 'sa', weight: 2 },
              { name: 'sb', weight: 1 },
            ],
            ...weighted,
          },
        },
        sa: { loadBalancer: { servers: [{ url: aUrl }] } },
        sb: { loadBalancer: { servers: [{ url: bUrl }], ...bLb } },
      },
    },
  };
}

describe('weighted service', () => {
  it('splits traffic 2:1 between its children', async () => {
    const [a, b] = await Promise.all([upstream('a'), upstream('b')]);
    const r = await router(weightedConfig(a.url, b.url, {}));
    expect(tally(await sequence(r.url + '/', 30))).toEqual({ a: 20, b: 10 });
  });

  it('with healthCheck, skips a child whose servers are all down', async () => {
    const a = await upstream('a');
    const b = await flappy('b');
    b.healthy = false;
    const r = await router(
      weightedConfig(a.url, b.url, { healthCheck: {} }, { healthCheck: fastHealth }),
    );
    await eventually(() =>
      expect(r.router.holder.current.serviceRuntimes.get('sb@file')!.isUp()).toBe(false),
    );
    const replies = await sequence(r.url + '/', 9);
    expect(replies.map((x) => x.status)).toEqual(Array(9).fill(200));
    expect(tally(replies)).toEqual({ a: 9 });

    // without healthCheck on the weighted service the down child still gets its share (and answers 503)
    r.apply(weightedConfig(a.url, b.url, {}, { healthCheck: fastHealth }));
    await eventually(() =>
      expect(r.router.holder.current.serviceRuntimes.get('sb@file')!.isUp()).toBe(false),
    );
    expect(tally(await sequence(r.url + '/', 9))).toEqual({ a: 6, '503': 3 });
  });

  it('pins clients to a child with a sticky cookie', async () => {
    const [a, b] = await Promise.all([upstream('a'), upstream('b')]);
    const r = await router(weightedConfig(a.url, b.url, { sticky: { cookie: {} } }));
    const name = traefikDefaultCookieName('w@file');
    // the second request goes to b by rotation; its cookie must keep the client on b
    await get(r.url + '/');
    const second = await get(r.url + '/');
    expect(second.from).toBe('b');
    const cookie = cookiePair(second);
    expect(cookie.startsWith(`${name}=`)).toBe(true);
    const kept = await sequence(r.url + '/', 6, { cookie });
    expect(kept.map((x) => x.from)).toEqual(Array(6).fill('b'));
    expect(kept.every((x) => setCookies(x).length === 0)).toBe(true);
  });
});

function mirroringConfig(
  main: string,
  mirrors: { url: string; percent?: number }[],
  extra: Record<string, unknown> = {},
) {
  const services: Record<string, object> = {
    m: {
      mirroring: {
        service: 'main',
        mirrors: mirrors.map((m, i) => ({
          name: `mirror${i}`,
          ...(m.percent !== undefined ? { percent: m.percent } : {}),
        })),
        ...extra,
      },
    },
    main: { loadBalancer: { servers: [{ url: main }] } },
  };
  mirrors.forEach(
    (m, i) => (services[`mirror${i}`] = { loadBalancer: { servers: [{ url: m.url }] } }),
  );
  return {
    http: { routers: { r: { rule: 'PathPrefix(`/`)', service: 'm' } }, services },
  } as DynamicConfig;
}

describe('mirroring', () => {
  it('answers from main and mirrors exactly the configured share', async () => {
    const main = await upstream('main');
    const half = await upstream((_req, res) =>
      res.writeHead(500, { 'x-upstream': 'half' }).end('mirror answer'),
    );
    const none = await upstream('none');
    const unset = await upstream('unset');
    const r = await router(
      mirroringConfig(main.url, [
        { url: half.url, percent: 50 },
        { url: none.url, percent: 0 },
        { url: unset.url },
      ]),
    );
    const replies = await sequence(r.url + '/', 10);
    for (const x of replies) {
      expect(x.status).toBe(200);
      expect(x.from).toBe('main');
    }
    expect(main.seen.length).toBe(10);
    await eventually(() => expect(half.seen.length).toBe(5));
    // mirrored requests are fire-and-forget: give stragglers a moment before checking nothing more arrives
    await new Promise((res) => setTimeout(res, 100));
    expect(half.seen.length).toBe(5);
    expect(none.seen.length).toBe(0);
    expect(unset.seen.length).toBe(0); // percent defaults to 0
  });

  it('mirrors the request body', async () => {
    const main = await upstream('main');
    const mirror = await upstream('mirror');
    const r = await router(mirroringConfig(main.url, [{ url: mirror.url, percent: 100 }]));
    const reply = await get(
      r.url + '/submit?x=1',
      { 'content-type': 'text/plain' },
      'POST',
      'hello mirror',
    );
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body).body).toBe('hello mirror');
    expect(main.seen[0]).toMatchObject({
      method: 'POST',
      url: '/submit?x=1',
      body: 'hello mirror',
    });
    const seen = await eventually(() => {
      expect(mirror.seen).toHaveLength(1);
      return mirror.seen[0]!;
    });
    expect(seen).toMatchObject({ method: 'POST', url: '/submit?x=1', body: 'hello mirror' });
    expect(seen.headers['content-type']).toBe('text/plain');
  });

  it('is not affected by failing or hanging mirrors', async () => {
    const main = await upstream('main');
    const hanging = await upstream(() => undefined); // never answers
    const refused = `http://127.0.0.1:${await closedPort()}`;
    const r = await router(
      mirroringConfig(main.url, [
        { url: refused, percent: 100 },
        { url: hanging.url, percent: 100 },
      ]),
    );
    const started = Date.now();
    const replies = await Promise.all([
      get(r.url + '/'),
      get(r.url + '/', {}, 'POST', 'payload'),
      get(r.url + '/'),
    ]);
    expect(replies.map((x) => x.status)).toEqual([200, 200, 200]);
    expect(replies.map((x) => x.from)).toEqual(['main', 'main', 'main']);
    expect(Date.now() - started).toBeLessThan(2000);
    await eventually(() => expect(hanging.seen.length).toBe(3));
  });
});

describe('mirroring bodies (maxBodySize, mirrorBody)', () => {
  it('does not mirror a body over maxBodySize, and main still gets all of it', async () => {
    const main = await upstream('main');
    const mirror = await upstream('mirror');
    const r = await router(
      mirroringConfig(main.url, [{ url: mirror.url, percent: 100 }], { maxBodySize: 10 }),
    );
    const big = 'x'.repeat(100);
    // declared length over the limit, chunked over the limit, and one within it
    expect((await get(r.url + '/cl', {}, 'POST', big)).status).toBe(200);
    const chunked = await request(r.url + '/chunked', { method: 'POST', body: [big, big] });
    expect(chunked.status).toBe(200);
    expect((await get(r.url + '/small', {}, 'POST', 'tiny')).status).toBe(200);
    expect(main.seen.map((s) => [s.url, s.body])).toEqual([
      ['/cl', big],
      ['/chunked', big + big],
      ['/small', 'tiny'],
    ]);
    await eventually(() => expect(mirror.seen.map((s) => s.url)).toContain('/small'));
    expect(mirror.seen.map((s) => [s.url, s.body])).toEqual([['/small', 'tiny']]);
  });

  it('streams a body larger than what it holds to main and the mirror alike', async () => {
    const main = await upstream('main');
    const mirror = await upstream('mirror');
    const r = await router(mirroringConfig(main.url, [{ url: mirror.url, percent: 100 }]));
    // 3 MiB: over the 1 MiB read ahead, so main and the mirror get it as it streams
    const part = Buffer.alloc(1024 * 1024, 'm').toString();
    const body = [part + 'a', part + 'b', part + 'c'];
    for (const [path, opts] of [
      ['/declared', { body: body.join('') }],
      ['/chunked', { body }],
    ] as const) {
      const reply = await request(r.url + path, { method: 'POST', ...opts });
      expect(reply.status).toBe(200);
    }
    expect(main.seen.map((s) => [s.url, s.body === body.join('')])).toEqual([
      ['/declared', true],
      ['/chunked', true],
    ]);
    await eventually(() => expect(mirror.seen).toHaveLength(2));
    expect(mirror.seen.map((s) => [s.url, s.body === body.join('')]).sort()).toEqual([
      ['/chunked', true],
      ['/declared', true],
    ]);
  });

  it('streams a large body through a mirroring service whose main service mirrors too', async () => {
    const [main, outer, inner] = await Promise.all([
      upstream('main'),
      upstream('outer'),
      upstream('inner'),
    ]);
    const lb = (url: string) => ({ loadBalancer: { servers: [{ url }] } });
    const r = await router({
      http: {
        routers: { r: { rule: 'PathPrefix(`/`)', service: 'outer-m' } },
        services: {
          'outer-m': { mirroring: { service: 'inner-m', mirrors: [{ name: 'o', percent: 100 }] } },
          'inner-m': { mirroring: { service: 'main', mirrors: [{ name: 'i', percent: 100 }] } },
          main: lb(main.url),
          o: lb(outer.url),
          i: lb(inner.url),
        },
      },
    });
    const part = Buffer.alloc(1024 * 1024, 'n').toString();
    const body = [part + 'a', part + 'b', part + 'c'];
    for (const [path, opts] of [
      ['/chunked', { body }],
      ['/declared', { body: body.join('') }],
    ] as const) {
      const reply = await request(r.url + path, { method: 'POST', ...opts });
      expect(reply.status).toBe(200);
    }
    await eventually(() => {
      for (const u of [outer, inner]) expect(u.seen).toHaveLength(2);
    });
    for (const u of [main, outer, inner])
      expect(u.seen.map((s) => [s.url, s.body === body.join('')]).sort()).toEqual([
        ['/chunked', true],
        ['/declared', true],
      ]);
  });

  it('aborts the copy of a chunked body that outgrows maxBodySize past what it holds', async () => {
    const main = await upstream('main');
    const aborted: string[] = [];
    const mirror = await upstream('mirror');
    mirror.server.on('request', (req: IncomingMessage) =>
      req.on('close', () => {
        if (!req.complete) aborted.push(req.url ?? '');
      }),
    );
    const r = await router(
      mirroringConfig(main.url, [{ url: mirror.url, percent: 100 }], {
        maxBodySize: 2 * 1024 * 1024,
      }),
    );
    const part = Buffer.alloc(1024 * 1024, 'm');
    const reply = await request(r.url + '/grows', { method: 'POST', body: [part, part, part] });
    expect(reply.status).toBe(200);
    expect(main.seen.map((s) => [s.url, s.body.length])).toEqual([['/grows', 3 * 1024 * 1024]]);
    // the copy had started (the size was unknown); it is cut off, never completed short
    await eventually(() => expect(aborted).toEqual(['/grows']));
    expect(mirror.seen).toEqual([]);
  });

  it('mirrors HTTP/2 request bodies, small and streamed', async () => {
    const main = await upstream('main');
    const mirror = await upstream('mirror');
    const port = await freePort();
    const config = mirroringConfig(main.url, [{ url: mirror.url, percent: 100 }]);
    config.http!.routers!.r = { ...config.http!.routers!.r!, entryPoints: ['websecure'], tls: {} };
    await router(config, {
      flags: [
        `--entryPoints.websecure.address=127.0.0.1:${port}`,
        '--entryPoints.websecure.http.tls',
      ],
    });
    const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    defer(() => session.close());
    const post = (path: string, body: Buffer): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': path });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
        req.resume();
        req.end(body);
      });
    const big = Buffer.alloc(3 * 1024 * 1024, 'h');
    expect(await post('/small', Buffer.from('tiny'))).toBe(200);
    expect(await post('/big', big)).toBe(200);
    await eventually(() => expect(mirror.seen).toHaveLength(2));
    for (const u of [main, mirror])
      expect(u.seen.map((s) => [s.url, s.body.length])).toEqual([
        ['/small', 4],
        ['/big', big.length],
      ]);
  });

  it('mirrorBody: false sends the copy without its body', async () => {
    const main = await upstream('main');
    const mirror = await upstream('mirror');
    const r = await router(
      mirroringConfig(main.url, [{ url: mirror.url, percent: 100 }], { mirrorBody: false }),
    );
    const reply = await get(r.url + '/post', { 'content-type': 'text/plain' }, 'POST', 'payload');
    expect(reply.status).toBe(200);
    expect(main.seen[0]).toMatchObject({ url: '/post', body: 'payload' });
    const seen = await eventually(() => {
      expect(mirror.seen).toHaveLength(1);
      return mirror.seen[0]!;
    });
    expect(seen).toMatchObject({ method: 'POST', url: '/post', body: '' });
    expect(seen.headers['content-length']).not.toBe('7');
  });

  it('mirrors a body a middleware already read (retry buffers it)', async () => {
    const main = await upstream('main');
    const mirror = await upstream('mirror');
    const config = mirroringConfig(main.url, [{ url: mirror.url, percent: 100 }]);
    config.http!.middlewares = { again: { retry: { attempts: 2 } } };
    config.http!.routers!.r!.middlewares = ['again'];
    const r = await router(config);
    const reply = await get(r.url + '/retried', {}, 'POST', 'read before');
    expect(reply.status).toBe(200);
    expect(main.seen[0]).toMatchObject({ url: '/retried', body: 'read before' });
    await eventually(() =>
      expect(mirror.seen.map((s) => [s.url, s.body])).toEqual([['/retried', 'read before']]),
    );
  });
});

describe('failover', () => {
  it('uses main while it is up, the fallback while it is down, and main again after', async () => {
    const main = await flappy('main');
    const fallback = await upstream('fallback');
    const r = await router({
      http: {
        routers: { r: { rule: 'PathPrefix(`/`)', service: 'f' } },
        services: {
          f: { failover: { service: 'main', fallback: 'fb' } },
          main: { loadBalancer: { servers: [{ url: main.url }], healthCheck: fastHealth } },
          fb: { loadBalancer: { servers: [{ url: fallback.url }] } },
        },
      },
    });
    expect((await sequence(r.url + '/', 3)).map((x) => x.from)).toEqual(['main', 'main', 'main']);
    main.healthy = false;
    await eventually(async () => expect((await get(r.url + '/')).from).toBe('fallback'), {
      timeoutMs: 2000,
    });
    expect((await sequence(r.url + '/', 3)).map((x) => x.from)).toEqual([
      'fallback',
      'fallback',
      'fallback',
    ]);
    main.healthy = true;
    await eventually(async () => expect((await get(r.url + '/')).from).toBe('main'), {
      timeoutMs: 2000,
    });
  });
});

describe('configuration errors', () => {
  it('disables a router whose weighted service references a missing service', async () => {
    const ok = await upstream('ok');
    const r = await router({
      http: {
        routers: {
          r: { rule: 'Path(`/broken`)', service: 'w' },
          good: { rule: 'Path(`/good`)', service: 'ok' },
        },
        services: {
          w: {
            weighted: {
              services: [
                { name: 'ok', weight: 1 },
                { name: 'ghost', weight: 1 },
              ],
            },
          },
          ok: { loadBalancer: { servers: [{ url: ok.url }] } },
        },
      },
    });
    const table = r.router.holder.current;
    const info = table.routers.get('r@file')!;
    expect(info.status).toBe('disabled');
    expect(info.errors.join('\n')).toContain('ghost@file');
    expect(table.services.get('w@file')!.status).toBe('disabled');
    expect(table.errors.some((e) => e.name === 'r@file' && e.message.includes('ghost@file'))).toBe(
      true,
    );
    expect((await get(r.url + '/broken')).status).toBe(404);
    expect((await get(r.url + '/good')).from).toBe('ok');
  });

  it('reports a service cycle and keeps the other routers serving', async () => {
    const ok = await upstream('ok');
    const r = await router({
      http: {
        routers: {
          r: { rule: 'Path(`/loop`)', service: 'a' },
          good: { rule: 'Path(`/good`)', service: 'ok' },
        },
        services: {
          a: { weighted: { services: [{ name: 'b' }] } },
          b: { weighted: { services: [{ name: 'a' }] } },
          ok: { loadBalancer: { servers: [{ url: ok.url }] } },
        },
      },
    });
    const table = r.router.holder.current;
    expect(table.routers.get('r@file')!.status).toBe('disabled');
    expect(table.routers.get('r@file')!.errors.join('\n')).toMatch(/cycle/);
    expect(table.errors.some((e) => e.kind === 'service' && /cycle/.test(e.message))).toBe(true);
    expect(table.routers.get('good@file')!.status).toBe('enabled');
    expect((await get(r.url + '/loop')).status).toBe(404);
    expect((await get(r.url + '/good')).from).toBe('ok');
  });
});

describe('preservePath', () => {
  it('prefixes the server URL path only when preservePath is set', async () => {
    const u = await upstream('u');
    const r = await router(lbConfig([{ url: `${u.url}/base`, preservePath: true }]));
    const kept = JSON.parse((await get(r.url + '/path?q=1')).body).url;
    expect(kept).toBe('/base/path?q=1');

    r.apply(lbConfig([{ url: `${u.url}/base` }]));
    expect(JSON.parse((await get(r.url + '/path?q=1')).body).url).toBe('/path?q=1');
  });

  it('applies preservePath per server', async () => {
    const [a, b] = await Promise.all([upstream('a'), upstream('b')]);
    const r = await router(
      lbConfig([{ url: `${a.url}/base`, preservePath: true }, { url: `${b.url}/other` }]),
    );
    const replies = await sequence(r.url + '/path', 2);
    expect(replies.map((x) => [x.from, JSON.parse(x.body).url])).toEqual([
      ['a', '/base/path'],
      ['b', '/path'],
    ]);
  });
});
