/*
 * ACME end to end through the real command: a router with tls.certResolver
 * gets a certificate from a real ACME server (pebble) over HTTP-01 answered on
 * the web entrypoint, serves it on the TLS entrypoint (verified against
 * pebble's root), and a restart reuses the stored certificate without a new
 * order. Runs with a worker process, as in production.
 */
import https from 'node:https';
import tls from 'node:tls';
import { mkdtempSync, writeFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/http.js';
import {
  pebbleResolverFlags,
  pebbleRoutersYaml,
  skipPebble,
  startPebble,
  type Pebble,
} from '../helpers/pebble.js';
import { runPortico, type PorticoProcess } from '../helpers/process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { skipRedis, startRedis, type RedisServer } from '../helpers/redis.js';

const skip = skipPebble() || skipRedis();

function trustedGet(
  port: number,
  rootPem: string,
  servername = 'acme.test',
): Promise<{ status: number; body: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        servername,
        headers: { host: servername },
        ca: rootPem,
        agent: false,
      },
      (res) => {
        const serial = (res.socket as tls.TLSSocket).getPeerCertificate().serialNumber;
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, serial }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(skip)('ACME certificates for routers (real pebble)', () => {
  let pebble: Pebble;
  let up: Upstream;
  let dir: string;
  let args: string[];
  let securePort: number;
  const running: PorticoProcess[] = [];

  beforeAll(async () => {
    pebble = await startPebble();
    up = await startUpstream('acme-upstream');
    dir = mkdtempSync(path.join(os.tmpdir(), 'portico-acme-e2e-'));
    writeFileSync(
      path.join(dir, 'dynamic.yml'),
      pebbleRoutersYaml({ secure: 'acme.test' }, up.url),
    );
    securePort = await freePort();
    args = [
      `--entryPoints.web.address=127.0.0.1:${pebble.httpPort}`,
      `--entryPoints.websecure.address=127.0.0.1:${securePort}`,
      '--entryPoints.websecure.http.tls',
      ...pebbleResolverFlags(pebble, dir, {
        storage: path.join(dir, 'acme.json'),
        challenge: 'http-01',
      }),
      `--providers.file.filename=${path.join(dir, 'dynamic.yml')}`,
      '--workers=1',
    ];
  }, 60_000);

  afterAll(async () => {
    for (const p of running) await p.stop('SIGKILL');
    await up?.close();
    await pebble?.stop();
  });

  let firstSerial = '';

  it('obtains a certificate over HTTP-01 and serves it, trusted by the CA root', async () => {
    const p = runPortico(args);
    running.push(p);
    const reply = await eventually(() => trustedGet(securePort, pebble.rootPem), {
      timeoutMs: 45_000,
      intervalMs: 250,
    });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body).name).toBe('acme-upstream');
    firstSerial = reply.serial;
    // stored for the next start, readable only by its owner
    expect(statSync(path.join(dir, 'acme.json')).mode & 0o777).toBe(0o600);
    expect((await p.stop('SIGTERM')).code).toBe(0);
  }, 60_000);

  it('reuses the stored certificate after a restart, without a new order', async () => {
    const p = runPortico(args);
    running.push(p);
    const reply = await eventually(() => trustedGet(securePort, pebble.rootPem), {
      timeoutMs: 20_000,
      intervalMs: 250,
    });
    expect(reply.serial).toBe(firstSerial);
    expect((await p.stop('SIGTERM')).code).toBe(0);
  }, 40_000);

  it('two Portico processes sharing Redis place exactly one order and both serve the certificate', async () => {
    const redis: RedisServer = await startRedis();
    try {
      const shared = path.join(dir, 'shared.yml');
      writeFileSync(shared, pebbleRoutersYaml({ shared: 'shared.test' }, up.url));
      // replica A owns the port the CA validates on; replica B only serves HTTPS: whichever of them
      // orders, the challenge is answered (Redis shares pending challenges between replicas)
      const common = (webPort: number, tlsPort: number): string[] => [
        `--entryPoints.web.address=127.0.0.1:${webPort}`,
        `--entryPoints.websecure.address=127.0.0.1:${tlsPort}`,
        '--entryPoints.websecure.http.tls',
        ...pebbleResolverFlags(pebble, dir, {
          storage: `redis://127.0.0.1:${redis.port}`,
          challenge: 'http-01',
        }),
        `--providers.file.filename=${shared}`,
        '--workers=0',
      ];
      const tlsA = await freePort();
      const tlsB = await freePort();
      const a = runPortico(common(pebble.httpPort, tlsA));
      const b = runPortico(common(await freePort(), tlsB));
      running.push(a, b);
      const [ra, rb] = await Promise.all([
        eventually(() => trustedGet(tlsA, pebble.rootPem, 'shared.test'), {
          timeoutMs: 45_000,
          intervalMs: 250,
        }),
        eventually(() => trustedGet(tlsB, pebble.rootPem, 'shared.test'), {
          timeoutMs: 45_000,
          intervalMs: 250,
        }),
      ]);
      expect(ra.status).toBe(200);
      expect(rb.status).toBe(200);
      // one order: both replicas serve the very same certificate
      expect(ra.serial).toBe(rb.serial);
      const ordered = [...a.lines, ...b.lines].filter(
        (l) => l.msg === 'ordering certificate' && l.domain === 'shared.test',
      );
      expect(ordered).toHaveLength(1);
      await a.stop('SIGTERM');
      await b.stop('SIGTERM');
    } finally {
      await redis.stop();
    }
  }, 90_000);
});
