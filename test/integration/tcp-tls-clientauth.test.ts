/*
 * Client certificates for TCP routers that terminate TLS (issue 13 item 4):
 * the TLS options' clientAuth (clientAuthType, caFiles) chosen for the SNI
 * name applies to TCP routers as to HTTPS ones (Traefik builds one tls.Config
 * per options for both). A refused client never reaches the service. The CA
 * and the client certificates are made by openssl for the test.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRouter, type TestRouter } from '../helpers/portico.js';

interface Pair {
  cert: string;
  key: string;
}

/** A CA, a client certificate it signed (alice), and a self-signed one it did not (mallory). */
function clientPki(dir: string): { caFile: string; alice: Pair; mallory: Pair } {
  const f = (n: string): string => path.join(dir, n);
  const openssl = (args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(
    ['req', '-x509', ...ec, '-days', '2', '-subj', '/CN=Test Client CA'].concat([
      '-keyout',
      f('ca.key'),
      '-out',
      f('ca.crt'),
    ]),
  );
  openssl(['req', ...ec, '-subj', '/CN=alice', '-keyout', f('alice.key'), '-out', f('alice.csr')]);
  openssl(
    ['x509', '-req', '-in', f('alice.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key')].concat([
      '-CAcreateserial',
      '-days',
      '1',
      '-out',
      f('alice.crt'),
    ]),
  );
  openssl(
    ['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=mallory'].concat([
      '-keyout',
      f('mallory.key'),
      '-out',
      f('mallory.crt'),
    ]),
  );
  const read = (n: string): string => readFileSync(f(n), 'utf8');
  return {
    caFile: f('ca.crt'),
    alice: { cert: read('alice.crt'), key: read('alice.key') },
    mallory: { cert: read('mallory.crt'), key: read('mallory.key') },
  };
}

/** Connects with TLS (client certificate optional), sends `hi`, and reads until the close. */
function tlsTalk(port: number, servername: string, client?: Pair): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({
      port,
      host: '127.0.0.1',
      servername,
      rejectUnauthorized: false,
      ...(client ?? {}),
    });
    let got = '';
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, 3000);
    s.on('secureConnect', () => s.write('hi'));
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('hi')) s.end();
    });
    s.on('close', done);
    s.on('error', done);
  });
}

describe('TCP routers terminating TLS: client certificates', () => {
  let r: TestRouter;
  let echo: net.Server;
  let reached = 0;

  beforeAll(async () => {
    const pki = clientPki(mkdtempSync(path.join(os.tmpdir(), 'portico-tcp-mtls-')));
    echo = net.createServer((s) => {
      reached++;
      s.on('error', () => undefined);
      s.on('data', (d: Buffer) => s.write(`echo:${d.toString()}`));
      s.on('end', () => s.end());
    });
    await new Promise<void>((res) => echo.listen(0, '127.0.0.1', res));
    const port = (echo.address() as net.AddressInfo).port;
    const names = ['verify.test', 'ifgiven.test', 'any.test', 'open.test'];
    const pems = await selfsigned.generate([{ name: 'commonName', value: names[0]! }], {
      keyType: 'ec',
      extensions: [
        { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) },
      ],
    });
    const router = (host: string, options?: string): Record<string, unknown> => ({
      rule: `HostSNI(\`${host}\`)`,
      service: 'echo',
      entryPoints: ['web'],
      tls: options === undefined ? {} : { options },
    });
    r = await startRouter({
      tls: {
        certificates: [{ certFile: pems.cert, keyFile: pems.private }],
        options: {
          verify: { clientAuth: { caFiles: [pki.caFile] } },
          ifgiven: {
            clientAuth: { caFiles: [pki.caFile], clientAuthType: 'VerifyClientCertIfGiven' },
          },
          any: { clientAuth: { clientAuthType: 'RequireAnyClientCert' } },
        },
      },
      tcp: {
        routers: {
          verify: router('verify.test', 'verify'),
          ifgiven: router('ifgiven.test', 'ifgiven'),
          any: router('any.test', 'any'),
          open: router('open.test'),
        },
        services: { echo: { loadBalancer: { servers: [{ address: `127.0.0.1:${port}` }] } } },
      },
    } as never);
    cases.alice = pki.alice;
    cases.mallory = pki.mallory;
  });

  afterAll(async () => {
    await r?.close();
    await new Promise<void>((res) => (echo ? echo.close(() => res()) : res()));
  });

  const cases: Record<string, Pair | undefined> = { none: undefined };

  it.each([
    ['verify.test', 'alice', true],
    ['verify.test', 'none', false],
    ['verify.test', 'mallory', false],
    ['ifgiven.test', 'none', true],
    ['ifgiven.test', 'alice', true],
    ['ifgiven.test', 'mallory', false],
    ['any.test', 'mallory', true],
    ['any.test', 'none', false],
    ['open.test', 'none', true],
    ['open.test', 'mallory', true],
  ])('%s with client certificate %s: served %s', async (host, who, served) => {
    const before = reached;
    const got = await tlsTalk(r.port, host, cases[who]);
    if (served) expect(got).toBe('echo:hi');
    else {
      expect(got).toBe('');
      // a refused client is closed before the service dials its server
      expect(reached).toBe(before);
    }
  });
});
