/*
 * Traefik's Let's Encrypt guides, as their users copy them (issue 13 item 1):
 * the router carries `tls.certresolver`, its entrypoint `websecure` has no TLS
 * of its own, and the certificate comes from the ACME server (a real pebble)
 * through TLS-ALPN-01 on websecure or HTTP-01 on web. Once with the routers
 * in a file, once with the guide's labels on a container of a real dockerd.
 * The real command, with its default worker setup.
 */
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { freePort, request } from '../helpers/http.js';
import { skipPebble, startPebble, type Pebble } from '../helpers/pebble.js';
import { runPortico, type PorticoProcess } from '../helpers/process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { skipDocker, startDockerd, TEST_IMAGE, type Dockerd } from '../helpers/dockerd.js';

interface Reply {
  status: number;
  body: string;
  issuer: string;
  san: string;
}

/** GET https://<host>/ on 127.0.0.1:port, trusting only the ACME server's root. */
function trustedGet(port: number, rootPem: string, host: string): Promise<Reply> {
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
        const cert = (res.socket as tls.TLSSocket).getPeerCertificate();
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            issuer: String(cert.issuer?.CN ?? ''),
            san: cert.subjectaltname ?? '',
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The guide's resolver flags, spelled as the guide spells them (lower case), pointed at pebble. */
function resolverFlags(pebble: Pebble, dir: string, challenge: 'tls' | 'http'): string[] {
  const ca = path.join(dir, 'pebble-listener.pem');
  writeFileSync(ca, pebble.listenerCertPem);
  return [
    ...(challenge === 'tls'
      ? ['--certificatesresolvers.myresolver.acme.tlschallenge=true']
      : ['--certificatesresolvers.myresolver.acme.httpchallenge.entrypoint=web']),
    '--certificatesresolvers.myresolver.acme.email=postmaster@example.com',
    `--certificatesresolvers.myresolver.acme.storage=${path.join(dir, `acme-${challenge}.json`)}`,
    `--certificatesresolvers.myresolver.acme.caserver=${pebble.directoryUrl}`,
    `--certificatesresolvers.myresolver.acme.caCertificates=${ca}`,
  ];
}

describe.skipIf(skipPebble())(
  "Traefik's Let's Encrypt guide, routers in a file (real pebble)",
  () => {
    let pebble: Pebble;
    let up: Upstream;
    let dir: string;
    const running: PorticoProcess[] = [];

    beforeAll(async () => {
      pebble = await startPebble();
      up = await startUpstream('guide-upstream');
      dir = mkdtempSync(path.join(os.tmpdir(), 'portico-acme-guide-'));
    }, 60_000);

    afterAll(async () => {
      for (const p of running) await p.stop('SIGKILL');
      await up?.close();
      await pebble?.stop();
    });

    function dynamic(host: string): string {
      const file = path.join(dir, `${host}.yml`);
      writeFileSync(
        file,
        [
          'http:',
          '  routers:',
          '    whoami:',
          `      rule: Host(\`${host}\`)`,
          '      entryPoints: [websecure]',
          '      service: whoami',
          '      tls:',
          '        certResolver: myresolver',
          '    plain:',
          `      rule: Host(\`${host}\`)`,
          '      entryPoints: [websecure]',
          '      service: plain',
          '  services:',
          '    whoami:',
          '      loadBalancer:',
          `        servers: [{ url: "${up.url}" }]`,
          '    plain:',
          '      loadBalancer:',
          '        servers: [{ url: "http://127.0.0.1:1" }]',
          '',
        ].join('\n'),
      );
      return file;
    }

    it('TLS-ALPN-01 on websecure, which has no TLS of its own: the certificate is ordered and served', async () => {
      const host = 'whoami.example.com';
      const p = runPortico([
        `--entryPoints.websecure.address=127.0.0.1:${pebble.tlsPort}`,
        ...resolverFlags(pebble, dir, 'tls'),
        `--providers.file.filename=${dynamic(host)}`,
      ]);
      running.push(p);
      const reply = await eventually(() => trustedGet(pebble.tlsPort, pebble.rootPem, host), {
        timeoutMs: 45_000,
        intervalMs: 250,
      }).catch((err) => {
        console.log(p.stdout().slice(-4000), p.stderr().slice(-2000));
        throw err;
      });
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body).name).toBe('guide-upstream');
      expect(reply.san).toBe(`DNS:${host}`);
      expect(reply.issuer).toMatch(/pebble/i);
      // the same host over plain HTTP on that entrypoint reaches the router without tls
      const plain = await request(`http://127.0.0.1:${pebble.tlsPort}/`, { headers: { host } });
      expect(plain.status).toBe(502);
      expect((await p.stop('SIGTERM')).code).toBe(0);
    }, 60_000);

    it('HTTP-01 on web, the router on websecure without TLS on the entrypoint', async () => {
      const host = 'http01.example.com';
      const securePort = await freePort();
      const p = runPortico([
        `--entryPoints.web.address=127.0.0.1:${pebble.httpPort}`,
        `--entryPoints.websecure.address=127.0.0.1:${securePort}`,
        ...resolverFlags(pebble, dir, 'http'),
        `--providers.file.filename=${dynamic(host)}`,
      ]);
      running.push(p);
      const reply = await eventually(() => trustedGet(securePort, pebble.rootPem, host), {
        timeoutMs: 45_000,
        intervalMs: 250,
      });
      expect(reply.status).toBe(200);
      expect(reply.san).toBe(`DNS:${host}`);
      expect((await p.stop('SIGTERM')).code).toBe(0);
    }, 60_000);
  },
);

describe.skipIf(skipPebble())(
  'certResolver on the entrypoint (entryPoints.websecure.http.tls.certResolver)',
  () => {
    let pebble: Pebble;
    let up: Upstream;
    let dir: string;
    let p: PorticoProcess | undefined;

    beforeAll(async () => {
      pebble = await startPebble();
      up = await startUpstream('model-upstream');
      dir = mkdtempSync(path.join(os.tmpdir(), 'portico-acme-model-'));
    }, 60_000);

    afterAll(async () => {
      await p?.stop('SIGKILL');
      await up?.close();
      await pebble?.stop();
    });

    it('routers without tls on that entrypoint become HTTPS routers and get their Host certificates', async () => {
      const host = 'model.example.com';
      const file = path.join(dir, 'dynamic.yml');
      writeFileSync(
        file,
        [
          'http:',
          '  routers:',
          '    app:',
          `      rule: Host(\`${host}\`)`,
          '      entryPoints: [websecure]',
          '      service: app',
          '  services:',
          '    app:',
          '      loadBalancer:',
          `        servers: [{ url: "${up.url}" }]`,
          '',
        ].join('\n'),
      );
      p = runPortico([
        `--entryPoints.websecure.address=127.0.0.1:${pebble.tlsPort}`,
        '--entryPoints.websecure.http.tls.certResolver=myresolver',
        ...resolverFlags(pebble, dir, 'tls'),
        `--providers.file.filename=${file}`,
      ]);
      const reply = await eventually(() => trustedGet(pebble.tlsPort, pebble.rootPem, host), {
        timeoutMs: 45_000,
        intervalMs: 250,
      });
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body).name).toBe('model-upstream');
      expect(reply.san).toBe(`DNS:${host}`);
    }, 60_000);
  },
);

describe.skipIf(skipPebble() || skipDocker())(
  "Traefik's Let's Encrypt guide, labels on a container (real dockerd and pebble)",
  () => {
    let pebble: Pebble;
    let d: Dockerd;
    let dir: string;
    let p: PorticoProcess | undefined;

    beforeAll(async () => {
      [pebble, d] = await Promise.all([startPebble(), startDockerd()]);
      dir = mkdtempSync(path.join(os.tmpdir(), 'portico-acme-guide-docker-'));
    }, 120_000);

    afterAll(async () => {
      await p?.stop('SIGKILL');
      await d?.stop();
      await pebble?.stop();
    });

    it("the guide's labels (websecure + tls.certresolver) get a certificate through TLS-ALPN-01", async () => {
      const host = 'whoami.example.com';
      const webPort = await freePort();
      // the guide's whoami, as a busybox httpd on the host network (no registry here)
      d.docker(
        'run',
        '-d',
        '--name',
        'whoami',
        '--network',
        'host',
        '--label',
        'traefik.enable=true',
        '--label',
        `traefik.http.routers.whoami.rule=Host(\`${host}\`)`,
        '--label',
        'traefik.http.routers.whoami.entrypoints=websecure',
        '--label',
        'traefik.http.routers.whoami.tls.certresolver=myresolver',
        '--label',
        `traefik.http.services.whoami.loadbalancer.server.port=${webPort}`,
        TEST_IMAGE,
        'sh',
        '-c',
        `mkdir -p /w && echo whoami-container > /w/index.html && exec httpd -f -p 127.0.0.1:${webPort} -h /w`,
      );
      p = runPortico([
        '--providers.docker=true',
        `--providers.docker.endpoint=unix://${d.socket}`,
        '--providers.docker.exposedbydefault=false',
        `--entryPoints.websecure.address=127.0.0.1:${pebble.tlsPort}`,
        ...resolverFlags(pebble, dir, 'tls'),
      ]);
      const reply = await eventually(() => trustedGet(pebble.tlsPort, pebble.rootPem, host), {
        timeoutMs: 60_000,
        intervalMs: 250,
      });
      expect(reply.status).toBe(200);
      expect(reply.body.trim()).toBe('whoami-container');
      expect(reply.san).toBe(`DNS:${host}`);
      expect(reply.issuer).toMatch(/pebble/i);
    }, 90_000);

    it('the HTTP challenge variant of the guide (web + websecure, httpchallenge.entrypoint=web)', async () => {
      await p?.stop('SIGTERM');
      const host = 'whoami-http.example.com';
      const webPort = await freePort();
      const securePort = await freePort();
      d.docker(
        'run',
        '-d',
        '--name',
        'whoami-http',
        '--network',
        'host',
        '--label',
        'traefik.enable=true',
        '--label',
        `traefik.http.routers.whoami-http.rule=Host(\`${host}\`)`,
        '--label',
        'traefik.http.routers.whoami-http.entrypoints=websecure',
        '--label',
        'traefik.http.routers.whoami-http.tls.certresolver=myresolver',
        '--label',
        `traefik.http.services.whoami-http.loadbalancer.server.port=${webPort}`,
        TEST_IMAGE,
        'sh',
        '-c',
        `mkdir -p /w && echo whoami-http > /w/index.html && exec httpd -f -p 127.0.0.1:${webPort} -h /w`,
      );
      p = runPortico([
        '--providers.docker=true',
        `--providers.docker.endpoint=unix://${d.socket}`,
        '--providers.docker.exposedbydefault=false',
        `--entryPoints.web.address=127.0.0.1:${pebble.httpPort}`,
        `--entryPoints.websecure.address=127.0.0.1:${securePort}`,
        ...resolverFlags(pebble, dir, 'http'),
      ]);
      const reply = await eventually(() => trustedGet(securePort, pebble.rootPem, host), {
        timeoutMs: 60_000,
        intervalMs: 250,
      });
      expect(reply.status).toBe(200);
      expect(reply.body.trim()).toBe('whoami-http');
      expect(reply.san).toBe(`DNS:${host}`);
    }, 90_000);
  },
);

describe.skipIf(skipPebble())(
  'ACME for a TCP router that terminates TLS (tcp.routers.<r>.tls.certResolver)',
  () => {
    let pebble: Pebble;
    let dir: string;
    let p: PorticoProcess | undefined;
    let echo: net.Server;
    let echoPort: number;

    beforeAll(async () => {
      pebble = await startPebble();
      dir = mkdtempSync(path.join(os.tmpdir(), 'portico-acme-tcp-'));
      echo = net.createServer((s) => {
        s.on('error', () => undefined);
        s.on('data', (d: Buffer) => s.end(`tcp:${d.toString()}`));
      });
      await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
      echoPort = (echo.address() as net.AddressInfo).port;
    }, 60_000);

    afterAll(async () => {
      await p?.stop('SIGKILL');
      await new Promise<void>((r) => echo.close(() => r()));
      await pebble?.stop();
    });

    it('orders the HostSNI name and serves it on the TCP router, trusted by the CA root', async () => {
      const host = 'tcp.example.com';
      const file = path.join(dir, 'dynamic.yml');
      writeFileSync(
        file,
        [
          'tcp:',
          '  routers:',
          '    db:',
          `      rule: HostSNI(\`${host}\`)`,
          '      entryPoints: [websecure]',
          '      service: db',
          '      tls:',
          '        certResolver: myresolver',
          '  services:',
          '    db:',
          '      loadBalancer:',
          `        servers: [{ address: "127.0.0.1:${echoPort}" }]`,
          '',
        ].join('\n'),
      );
      p = runPortico([
        `--entryPoints.websecure.address=127.0.0.1:${pebble.tlsPort}`,
        ...resolverFlags(pebble, dir, 'tls'),
        `--providers.file.filename=${file}`,
      ]);
      const got = await eventually(
        () =>
          new Promise<string>((resolve, reject) => {
            const s = tls.connect(
              { host: '127.0.0.1', port: pebble.tlsPort, servername: host, ca: pebble.rootPem },
              () => s.write('ping'),
            );
            let out = '';
            s.on('data', (d: Buffer) => (out += d.toString()));
            s.on('end', () => resolve(out));
            s.on('error', reject);
          }),
        { timeoutMs: 45_000, intervalMs: 250 },
      );
      expect(got).toBe('tcp:ping');
    }, 60_000);
  },
);
