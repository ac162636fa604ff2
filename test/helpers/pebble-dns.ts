/*
 * pebble for the DNS-01 tests: started with `-dnsserver` pointing at a real
 * DNS server (test/helpers/knot.ts) instead of pebble-challtestsrv, so its
 * DNS-01 validation reads the TXT records Portico published there. Same
 * loopback-only listeners and listener certificate as test/helpers/pebble.ts
 * (which always starts challtestsrv as the DNS, hence this second helper).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { eventually } from './eventually.js';
import { PEBBLE, writePebbleConfig } from './pebble.js';

export interface DnsPebble {
  directoryUrl: string;
  /** where pebble's validator sends HTTP-01 requests (the test listens there) */
  httpPort: number;
  /** trust it for directoryUrl (written to caCertificates) */
  listenerCertPem: string;
  /** the issuing root */
  rootPem: string;
  log(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
    srv.on('error', reject);
  });
}

function get(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, agent: false, timeout: 2000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('timeout', function (this: { destroy(e: Error): void }) {
        this.destroy(new Error('timeout'));
      })
      .on('error', reject);
  });
}

/** pebble validating DNS-01 against `dnsServer` ("127.0.0.1:<port>"). */
export async function startPebbleWithDns(dnsServer: string): Promise<DnsPebble> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-pebble-dns-'));
  const acmePort = await freePort();
  let mgmtPort = await freePort();
  while (mgmtPort === acmePort) mgmtPort = await freePort();
  let httpPort = await freePort();
  while (httpPort === acmePort || httpPort === mgmtPort) httpPort = await freePort();
  const { configPath, listenerCertPem } = writePebbleConfig(dir, {
    acmePort,
    mgmtPort,
    httpPort,
    tlsPort: await freePort(),
  });
  const logPath = path.join(dir, 'pebble.log');
  const fd = openSync(logPath, 'a');
  const child: ChildProcess = spawn(PEBBLE, ['-config', configPath, '-dnsserver', dnsServer], {
    stdio: ['ignore', fd, fd],
    // no random validation sleeps, no deliberate badNonce, no authz reuse
    env: {
      ...process.env,
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_WFE_NONCEREJECT: '0',
      PEBBLE_AUTHZREUSE: '0',
    },
  });
  closeSync(fd);
  const log = (): string => {
    try {
      return readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const ready = async (url: string): Promise<string> => {
    if (child.exitCode !== null) throw new Error(`pebble exited ${child.exitCode}`);
    const r = await get(url, listenerCertPem);
    if (r.status !== 200) throw new Error(`${url}: HTTP ${r.status}`);
    return r.body;
  };
  try {
    const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
    await eventually(() => ready(directoryUrl), { timeoutMs: 10_000, intervalMs: 50 });
    const rootPem = await eventually(() => ready(`https://127.0.0.1:${mgmtPort}/roots/0`), {
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    return { directoryUrl, httpPort, listenerCertPem, rootPem, log, stop };
  } catch (err) {
    const text = log();
    await stop();
    throw new Error(`pebble did not start: ${String(err)}\n${text}`);
  }
}
