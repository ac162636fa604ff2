/*
 * ACME pieces that need no CA: challenge answers reach the responders and are
 * withdrawn (src/tls/acme/order.ts), a wildcard is refused before anything is
 * sent, an unreachable CA is named with its cause (ca-server.ts), and a
 * resolver whose CA is down backs off and reports it in status() (resolver.ts).
 */
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHttp01Responder, createTlsAlpnResponder } from '../../src/tls/acme/challenges.js';
import { describeCaError } from '../../src/tls/acme/ca-server.js';
import { silentLogger } from '../../src/tls/acme/errors.js';
import { applyChallenge, orderCertificate } from '../../src/tls/acme/order.js';
import { createAcmeResolver } from '../../src/tls/acme/resolver.js';
import { FileStorage } from '../../src/tls/storage/file.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-order-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** a loopback port nothing listens on */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

async function get(port: number, pathname: string, host: string): Promise<[number, string]> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: pathname, headers: { host } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve([res.statusCode ?? 0, body]));
      })
      .on('error', reject);
  });
}

describe('applyChallenge', () => {
  it('an HTTP-01 answer is served for its domain while published, then withdrawn', async () => {
    const http01 = createHttp01Responder();
    const server = http.createServer((req, res) => {
      if (!http01.handle(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    try {
      const c = {
        type: 'http-01' as const,
        domain: 'a.test',
        token: 'tok',
        keyAuthorization: 'tok.thumb',
      };
      await applyChallenge({ http01 }, { ...c, action: 'add' });
      expect(await get(port, '/.well-known/acme-challenge/tok', 'a.test')).toEqual([
        200,
        'tok.thumb',
      ]);
      expect((await get(port, '/.well-known/acme-challenge/tok', 'b.test'))[0]).toBe(404);
      await applyChallenge({ http01 }, { ...c, action: 'remove' });
      expect((await get(port, '/.well-known/acme-challenge/tok', 'a.test'))[0]).toBe(404);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('a TLS-ALPN-01 answer is a certificate for acme-tls/1 handshakes only, then withdrawn', async () => {
    const tlsAlpn = createTlsAlpnResponder();
    const c = {
      type: 'tls-alpn-01' as const,
      domain: 'B.test',
      token: 't',
      keyAuthorization: 't.k',
    };
    await applyChallenge({ tlsAlpn }, { ...c, action: 'add' });
    expect(tlsAlpn.getCertificate('b.test', ['acme-tls/1'])).toBeDefined();
    expect(tlsAlpn.getCertificate('b.test', ['h2'])).toBeUndefined();
    await applyChallenge({ tlsAlpn }, { ...c, action: 'remove' });
    expect(tlsAlpn.size).toBe(0);
  });

  it('a challenge type this process has no responder for is ignored', async () => {
    await expect(
      applyChallenge(
        {},
        { type: 'http-01', action: 'add', domain: 'a.test', token: 't', keyAuthorization: 'k' },
      ),
    ).resolves.toBeUndefined();
  });
});

describe('orderCertificate', () => {
  it('refuses a wildcard before asking for the account', async () => {
    let asked = false;
    await expect(
      orderCertificate(
        { main: 'a.test', sans: ['*.a.test'] },
        {
          resolver: 'le',
          challenge: 'http-01',
          keyType: 'EC256',
          challengeDelayMs: 0,
          client: () => {
            asked = true;
            throw new Error('no CA here');
          },
          share: async () => {},
          log: silentLogger,
        },
      ),
    ).rejects.toThrow('*.a.test: wildcard certificates need the DNS-01 challenge');
    expect(asked).toBe(false);
  });
});

describe('describeCaError', () => {
  it("replaces acme-client's lost transport error with the probed cause", async () => {
    const ca = `http://127.0.0.1:${await closedPort()}/dir`;
    const lost = new TypeError("Cannot read properties of undefined (reading 'config')");
    expect(await describeCaError(lost, ca)).toBe(`cannot reach CA server ${ca}: ECONNREFUSED`);
    expect(await describeCaError(new Error('rateLimited'), ca)).toBe('rateLimited');
  });
});

describe('a resolver whose CA is down', () => {
  it('fails the order with the cause, backs off, and says so in status()', async () => {
    const ca = `http://127.0.0.1:${await closedPort()}/dir`;
    let clock = Date.UTC(2030, 0, 1);
    const r = createAcmeResolver({
      name: 'le',
      email: 'ops@example.test',
      caServer: ca,
      storage: new FileStorage(path.join(dir, 'down.json')),
      accountKeyType: 'EC256',
      keyType: 'EC256',
      challenge: 'http-01',
      http01: createHttp01Responder(),
      retryMinMs: 60_000,
      now: () => clock,
    });
    try {
      await expect(r.obtain({ main: 'Down.test' })).rejects.toMatchObject({
        code: 'PORTICO_ERR_ACME_ORDER',
        domain: 'down.test',
        message: `down.test: cannot reach CA server ${ca}: ECONNREFUSED`,
      });
      // within the backoff the CA is not asked again
      clock += 30_000;
      await expect(r.obtain({ main: 'down.test' })).rejects.toMatchObject({
        code: 'PORTICO_ERR_ACME_BACKOFF',
      });
      expect(r.status()).toEqual([
        {
          domain: 'down.test',
          sans: [],
          failures: 1,
          lastError: `cannot reach CA server ${ca}: ECONNREFUSED`,
          lastErrorAt: new Date(Date.UTC(2030, 0, 1)),
          nextAttempt: new Date(Date.UTC(2030, 0, 1) + 60_000),
        },
      ]);
    } finally {
      await r.close();
    }
    await expect(r.obtain({ main: 'down.test' })).rejects.toMatchObject({
      code: 'PORTICO_ERR_ACME_CLOSED',
    });
  });

  it.each([
    [{ email: '' }, 'email is required'],
    [{ http01: undefined }, 'http-01 needs an HTTP-01 responder'],
    [{ caServer: 'not a url' }, 'invalid caServer not a url'],
  ])('refuses %j at creation (PORTICO_ERR_ACME_CONFIG)', (patch, message) => {
    expect(() =>
      createAcmeResolver({
        name: 'le',
        email: 'ops@example.test',
        storage: new FileStorage(path.join(dir, 'cfg.json')),
        challenge: 'http-01',
        http01: createHttp01Responder(),
        ...patch,
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'PORTICO_ERR_ACME_CONFIG',
        message: `resolver le: ${message}`,
      }),
    );
  });
});
