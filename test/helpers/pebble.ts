/*
 * A real ACME server for integration tests (recipe: /work/shared/TESTENV-acme.md):
 * Debian's pebble plus pebble-challtestsrv as its DNS (every name resolves to
 * 127.0.0.1), all on free 127.0.0.1 ports. The test owns httpPort (HTTP-01)
 * and tlsPort (TLS-ALPN-01): pebble's validator connects there.
 *
 * Where pebble is missing, suites skip locally but fail in CI (CI=true), as
 * with dockerd.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import dns from 'node:dns';
import {
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  closeSync,
} from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import dgram from 'node:dgram';
import os from 'node:os';
import path from 'node:path';
import { eventually } from './eventually.js';

export const PEBBLE = '/usr/bin/pebble';
export const CHALLTESTSRV = '/usr/bin/pebble-challtestsrv';

export interface Pebble {
  dir: string;
  /** https://127.0.0.1:<port>/dir */
  directoryUrl: string;
  managementUrl: string;
  /** where pebble's validator sends HTTP-01 requests (the test listens there) */
  httpPort: number;
  /** where pebble's validator opens TLS-ALPN-01 handshakes (the test listens there) */
  tlsPort: number;
  /** the certificate of pebble's own HTTPS listeners (trust it for directoryUrl) */
  listenerCertPem: string;
  /** the issuing root; regenerated at every pebble start */
  rootPem: string;
  /** GET on the management API (trusting the listener cert) */
  management(pathname: string): Promise<string>;
  log(): string;
  stop(): Promise<void>;
}

function which(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function pebbleAvailability(): { ok: boolean; reason?: string } {
  if (!existsSync(PEBBLE) || !existsSync(CHALLTESTSRV))
    return { ok: false, reason: 'pebble is not installed (apt-get install pebble)' };
  if (!which('openssl')) return { ok: false, reason: 'openssl is not installed' };
  return { ok: true };
}

/** describe.skipIf helper: skip locally, but never in CI. */
export function skipPebble(): boolean {
  const a = pebbleAvailability();
  if (a.ok) return false;
  if (process.env.CI === 'true')
    throw new Error(`ACME integration suite cannot run in CI: ${a.reason}`);
  return true;
}

async function freeTcpPort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
    srv.on('error', reject);
  });
}

/** a port free for both TCP and UDP (the mock DNS listens on both) */
async function freeTcpUdpPort(): Promise<number> {
  for (;;) {
    const port = await freeTcpPort();
    const ok = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
}

async function distinctPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  ports.add(await freeTcpUdpPort());
  while (ports.size < n) ports.add(await freeTcpPort());
  return [...ports];
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

async function stopChild(c: ChildProcess | undefined): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}

/**
 * pebble's listener certificate (openssl, EC P-256, for 127.0.0.1/localhost) and its config
 * file in `dir`, for the given ports; shared by startPebble and startPebbleWithDns.
 */
export function writePebbleConfig(
  dir: string,
  ports: { acmePort: number; mgmtPort: number; httpPort: number; tlsPort: number },
): { configPath: string; listenerCertPem: string } {
  const { acmePort, mgmtPort, httpPort, tlsPort } = ports;
  const keyPath = path.join(dir, 'listener-key.pem');
  const certPath = path.join(dir, 'listener-cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '7',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ],
    { stdio: 'ignore' },
  );
  const listenerCertPem = readFileSync(certPath, 'utf8');
  const configPath = path.join(dir, 'pebble-config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: certPath,
        privateKey: keyPath,
        httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  return { configPath, listenerCertPem };
}

export async function startPebble(): Promise<Pebble> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-pebble-'));
  const [dnsPort, acmePort, mgmtPort, challMgmtPort, httpPort, tlsPort] = (await distinctPorts(
    6,
  )) as [number, number, number, number, number, number];
  const { configPath, listenerCertPem } = writePebbleConfig(dir, {
    acmePort,
    mgmtPort,
    httpPort,
    tlsPort,
  });

  const children: ChildProcess[] = [];
  const logs = { chall: path.join(dir, 'challtestsrv.log'), pebble: path.join(dir, 'pebble.log') };
  const spawnLogged = (
    cmd: string,
    args: string[],
    logPath: string,
    env?: NodeJS.ProcessEnv,
  ): ChildProcess => {
    const fd = openSync(logPath, 'a');
    const c = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
    closeSync(fd);
    children.push(c);
    return c;
  };
  const readLog = (p: string): string => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return '';
    }
  };
  const log = (): string =>
    `--- challtestsrv\n${readLog(logs.chall)}\n--- pebble\n${readLog(logs.pebble)}`;
  const stop = async (): Promise<void> => {
    for (const c of children.reverse()) await stopChild(c);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    // explicit loopback addresses everywhere: the defaults bind all interfaces,
    // and the empty strings disable challtestsrv's own challenge responders
    const chall = spawnLogged(
      CHALLTESTSRV,
      [
        '-dns01',
        `127.0.0.1:${dnsPort}`,
        '-http01',
        '',
        '-https01',
        '',
        '-tlsalpn01',
        '',
        '-management',
        `127.0.0.1:${challMgmtPort}`,
        '-defaultIPv4',
        '127.0.0.1',
        '-defaultIPv6',
        '',
      ],
      logs.chall,
    );
    const resolver = new dns.promises.Resolver({ timeout: 200, tries: 1 });
    resolver.setServers([`127.0.0.1:${dnsPort}`]);
    await eventually(
      async () => {
        if (chall.exitCode !== null)
          throw new Error(`pebble-challtestsrv exited ${chall.exitCode}`);
        const a = await resolver.resolve4('probe.test');
        if (a[0] !== '127.0.0.1') throw new Error(`unexpected answer ${a.join(',')}`);
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );

    const pebble = spawnLogged(
      PEBBLE,
      ['-config', configPath, '-dnsserver', `127.0.0.1:${dnsPort}`],
      logs.pebble,
      // no random validation sleeps, no deliberate badNonce, no authz reuse (tests count challenges)
      { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    );
    const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
    const managementUrl = `https://127.0.0.1:${mgmtPort}`;
    const ready = async (url: string): Promise<string> => {
      if (pebble.exitCode !== null) throw new Error(`pebble exited ${pebble.exitCode}`);
      const r = await get(url, listenerCertPem);
      if (r.status !== 200) throw new Error(`${url}: HTTP ${r.status}`);
      return r.body;
    };
    await eventually(() => ready(directoryUrl), { timeoutMs: 10_000, intervalMs: 50 });
    const rootPem = await eventually(() => ready(`${managementUrl}/roots/0`), {
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    return {
      dir,
      directoryUrl,
      managementUrl,
      httpPort,
      tlsPort,
      listenerCertPem,
      rootPem,
      management: (pathname) => ready(`${managementUrl}${pathname}`),
      log,
      stop,
    };
  } catch (err) {
    const text = log();
    await stop();
    throw new Error(`pebble did not start: ${String(err)}\n${text}`);
  }
}

/**
 * `certificatesResolvers.pebble` flags for the real command: pebble's directory,
 * its listener certificate trusted through caCertificates (written into `dir`),
 * EC256 keys, and the given storage and challenge.
 */
export function pebbleResolverFlags(
  pebble: Pebble,
  dir: string,
  opts: { storage: string; challenge: 'http-01' | 'tls-alpn-01' },
): string[] {
  const ca = path.join(dir, 'pebble-listener.pem');
  writeFileSync(ca, pebble.listenerCertPem);
  const p = '--certificatesResolvers.pebble.acme';
  return [
    `${p}.caServer=${pebble.directoryUrl}`,
    `${p}.email=ops@example.com`,
    `${p}.storage=${opts.storage}`,
    `${p}.caCertificates=${ca}`,
    `${p}.keyType=EC256`,
    opts.challenge === 'http-01' ? `${p}.httpChallenge.entryPoint=web` : `${p}.tlsChallenge`,
  ];
}

/** A file-provider YAML: one router per `name: host` on `websecure` with `certResolver: pebble`, all to one upstream. */
export function pebbleRoutersYaml(routers: Record<string, string>, upstreamUrl: string): string {
  return [
    'http:',
    '  routers:',
    ...Object.entries(routers).flatMap(([name, host]) => [
      `    ${name}:`,
      `      rule: Host(\`${host}\`)`,
      '      entryPoints: [websecure]',
      '      service: app',
      '      tls:',
      '        certResolver: pebble',
    ]),
    '  services:',
    '    app:',
    '      loadBalancer:',
    '        servers:',
    `          - url: ${upstreamUrl}`,
    '',
  ].join('\n');
}
