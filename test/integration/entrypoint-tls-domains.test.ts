/*
 * entryPoints.<n>.http.tls.domains end to end (issue 13 item 1): the usual
 * Compose setup that asks the entrypoint for one certificate (main + sans)
 * for every router on it, here with Traefik's TRAEFIK_*_DOMAINS_0_* variables.
 * The router has no tls of its own; the certificate it is served is the
 * entrypoint's (both names, from pebble through TLS-ALPN-01), and no
 * certificate is ordered for its Host name alone. The real command.
 */
import https from 'node:https';
import type tls from 'node:tls';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { pebbleResolverFlags, skipPebble, startPebble, type Pebble } from '../helpers/pebble.js';
import { runPortico, type PorticoProcess } from '../helpers/process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/** GET https://<host>/ on 127.0.0.1:port trusting only pebble's root: status and the served SANs */
function trustedGet(
  port: number,
  rootPem: string,
  host: string,
): Promise<{ status: number; san: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        servername: host,
        headers: { host },
        ca: rootPem,
        agent: false,
      },
      (res) => {
        const san = (res.socket as tls.TLSSocket).getPeerCertificate().subjectaltname ?? '';
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, san }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(skipPebble())('entryPoints.websecure.http.tls.domains (real pebble)', () => {
  let pebble: Pebble;
  let up: Upstream;
  let dir: string;
  let p: PorticoProcess | undefined;

  beforeAll(async () => {
    pebble = await startPebble();
    up = await startUpstream('domains-upstream');
    dir = mkdtempSync(path.join(os.tmpdir(), 'portico-ep-domains-'));
  }, 60_000);

  afterAll(async () => {
    await p?.stop('SIGKILL');
    await up?.close();
    await pebble?.stop();
  });

  it('orders the listed domains for routers without tls, instead of their Host names', async () => {
    const file = path.join(dir, 'dynamic.yml');
    writeFileSync(
      file,
      [
        'http:',
        '  routers:',
        '    app:',
        '      rule: Host(`www.site.example.com`)',
        '      entryPoints: [websecure]',
        '      service: app',
        '  services:',
        '    app:',
        '      loadBalancer:',
        `        servers: [{ url: "${up.url}" }]`,
        '',
      ].join('\n'),
    );
    const storage = path.join(dir, 'acme.json');
    p = runPortico(
      [
        `--entryPoints.websecure.address=127.0.0.1:${pebble.tlsPort}`,
        '--entryPoints.websecure.http.tls.certResolver=pebble',
        ...pebbleResolverFlags(pebble, dir, { storage, challenge: 'tls-alpn-01' }),
        `--providers.file.filename=${file}`,
      ],
      {
        TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_0_MAIN: 'site.example.com',
        TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_0_SANS: 'www.site.example.com',
      },
    );
    const reply = await eventually(
      () => trustedGet(pebble.tlsPort, pebble.rootPem, 'www.site.example.com'),
      { timeoutMs: 45_000, intervalMs: 250 },
    );
    expect(reply.status).toBe(200);
    expect(reply.san.split(', ').sort()).toEqual([
      'DNS:site.example.com',
      'DNS:www.site.example.com',
    ]);
    // the main name is served the same certificate
    const main = await trustedGet(pebble.tlsPort, pebble.rootPem, 'site.example.com');
    expect(main.san).toBe(reply.san);
    // one certificate, for the entrypoint's domain: none for the router's Host name alone
    const stored = JSON.parse(readFileSync(storage, 'utf8')) as Record<
      string,
      { Certificates?: { domain: { main: string } }[] }
    >;
    expect(stored.pebble?.Certificates?.map((c) => c.domain.main)).toEqual(['site.example.com']);
  }, 60_000);
});
