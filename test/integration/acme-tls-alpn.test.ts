/*
 * ACME through the running router, over TLS-ALPN-01 (RFC 8737): pebble's
 * validator opens a handshake offering only `acme-tls/1` on the TLS
 * entrypoint; the worker reads the ClientHello, relays it to the primary's
 * challenge responder, and the certificate is then served on the same port.
 * Then renewal: a certificate stored near the end of its life is served,
 * renewed by the running process when it falls due, and the new one is
 * served without a restart. Real pebble, the real `portico` command, one
 * worker process (the cluster path).
 */
import https from 'node:https';
import tls from 'node:tls';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import {
  pebbleResolverFlags,
  pebbleRoutersYaml,
  skipPebble,
  startPebble,
  type Pebble,
} from '../helpers/pebble.js';
import { runPortico, type PorticoProcess } from '../helpers/process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { FileStorage } from '../../src/tls/storage/file.js';
import { storedCertificateFrom } from '../../src/tls/storage/types.js';

const skip = skipPebble();

interface Served {
  status: number;
  serial: string;
  issuer: string;
}

function get(port: number, servername: string, ca?: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        servername,
        headers: { host: servername },
        ...(ca ? { ca } : { rejectUnauthorized: false }),
        agent: false,
        timeout: 5000,
      },
      (res) => {
        const cert = (res.socket as tls.TLSSocket).getPeerCertificate();
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            serial: cert.serialNumber,
            issuer: String(cert.issuer.CN),
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(skip)(
  'ACME over TLS-ALPN-01 and renewal, through the running router (real pebble)',
  () => {
    let pebble: Pebble;
    let up: Upstream;
    let p: PorticoProcess;
    let seededSerial = '';
    let pid: number | undefined;

    beforeAll(async () => {
      pebble = await startPebble();
      up = await startUpstream('alpn-upstream');
      const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-acme-alpn-'));
      writeFileSync(
        path.join(dir, 'dynamic.yml'),
        pebbleRoutersYaml({ alpn: 'alpn.test', renew: 'renew.test' }, up.url),
      );
      // renew.test: stored, still valid, due for renewal (a third of its life left) about 27 s from now
      const now = Date.now();
      const seeded = await selfsigned.generate([{ name: 'commonName', value: 'renew.test' }], {
        keyType: 'ec',
        notBeforeDate: new Date(now - 60_000),
        notAfterDate: new Date(now + 70_000),
        extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'renew.test' }] }],
      });
      const stored = storedCertificateFrom({ main: 'renew.test' }, seeded.cert, seeded.private);
      seededSerial = stored.serialNumber;
      const storage = new FileStorage(path.join(dir, 'acme.json'));
      await storage.saveCertificate('pebble', stored);
      p = runPortico([
        `--entryPoints.websecure.address=127.0.0.1:${pebble.tlsPort}`,
        '--entryPoints.websecure.http.tls',
        ...pebbleResolverFlags(pebble, dir, {
          storage: path.join(dir, 'acme.json'),
          challenge: 'tls-alpn-01',
        }),
        `--providers.file.filename=${path.join(dir, 'dynamic.yml')}`,
        '--workers=1',
      ]);
    }, 60_000);

    afterAll(async () => {
      await p?.stop('SIGKILL');
      await up?.close();
      await pebble?.stop();
    });

    it('serves the stored certificate while it is not due', async () => {
      const before = await eventually(() => get(pebble.tlsPort, 'renew.test'), {
        timeoutMs: 20_000,
        intervalMs: 200,
      });
      expect(before.serial).toBe(seededSerial);
      pid = p.child.pid;
    }, 30_000);

    it('obtains a certificate through TLS-ALPN-01 on the TLS entrypoint and serves it, trusted by the CA root', async () => {
      const reply = await eventually(() => get(pebble.tlsPort, 'alpn.test', pebble.rootPem), {
        timeoutMs: 45_000,
        intervalMs: 250,
      }).catch((err: unknown) => {
        // what the resolver said is the useful part of a failure here
        const acme = p.lines.filter((l) => l.component === 'acme' || l.resolver !== undefined);
        throw new Error(
          `${String(err)}\nacme log:\n${acme.map((l) => JSON.stringify(l)).join('\n')}`,
        );
      });
      expect(reply.status).toBe(200);
      // the resolver has tlsChallenge only, and no plain-HTTP entrypoint exists for HTTP-01
      expect(
        p.lines.some((l) => l.msg === 'certificate obtained' && l.domain === 'alpn.test'),
      ).toBe(true);
    }, 60_000);

    it('renews a certificate that falls due and serves the new one without a restart', async () => {
      // once due, the certificate the running process renewed, trusted by pebble's root
      const after = await eventually(
        async () => {
          const r = await get(pebble.tlsPort, 'renew.test', pebble.rootPem);
          if (r.serial === seededSerial) throw new Error('still the old certificate');
          return r;
        },
        { timeoutMs: 45_000, intervalMs: 250 },
      );
      expect(after.status).toBe(200);
      expect(p.child.pid).toBe(pid);
      expect(p.child.exitCode).toBeNull();
      expect(
        p.lines.some((l) => l.msg === 'renewing certificate' && l.domain === 'renew.test'),
      ).toBe(true);
    }, 70_000);

    it('a malformed or truncated ClientHello never takes the entrypoint down', async () => {
      const net = await import('node:net');
      const garbage = [
        Buffer.from('GET / HTTP/1.1\r\n\r\n'),
        Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0xff, 0xff, 0xff, 0x00]),
        Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff]),
        Buffer.from([0x16, 0x03, 0x01, 0x00, 0x30, 0x01, 0x00, 0x00, 0x2c, 0x03, 0x03]),
      ];
      for (const bytes of garbage) {
        await new Promise<void>((resolve) => {
          const s = net.connect(pebble.tlsPort, '127.0.0.1', () => s.end(bytes));
          s.on('error', () => resolve());
          s.on('close', () => resolve());
          s.resume();
        });
      }
      expect((await get(pebble.tlsPort, 'alpn.test', pebble.rootPem)).status).toBe(200);
    }, 30_000);
  },
);
