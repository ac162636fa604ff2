/*
 * Mirroring must hold memory bounded whatever the request body size (issue 11,
 * item 7: a 300 MB upload through a mirroring service took the worker's RSS
 * from 89 to 681 MB, because the whole body was buffered whatever maxBodySize
 * said). The real command runs as a child process (one per test, so one
 * test's memory cannot hide another's) and a 200 MB body is streamed through
 * it; its peak resident set size (VmHWM, reset before the upload) is compared
 * with its size before. The upstreams hash what they receive.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { freePort, request } from '../helpers/http.js';
import { runPortico } from '../helpers/process.js';
import { useCleanups } from '../helpers/scope.js';

const { defer } = useCleanups();

const MiB = 1024 * 1024;
const BODY_BYTES = 200 * MiB;
/**
 * Generous: streaming the same 200 MB through a plain load balancer grows the
 * RSS by about 40 MB here (chunks not yet collected), while buffering the body
 * grows it by about twice the body size (420 MB before issue 11 was fixed).
 */
const MAX_RSS_GROWTH = 100 * MiB;

interface Received {
  url: string;
  bytes: number;
  sha256: string;
  /** the request body ended normally (false: the connection was cut before its end) */
  complete: boolean;
}

interface HashingUpstream {
  url: string;
  received: Received[];
  /** paths of the requests whose headers arrived, complete or not */
  started: string[];
}

/** An upstream that hashes request bodies as they stream (nothing kept) and answers with the hash. */
async function hashingUpstream(opts: { stall?: boolean } = {}): Promise<HashingUpstream> {
  const received: Received[] = [];
  const state: HashingUpstream = { url: '', received, started: [] };
  const server = http.createServer((req, res) => {
    state.started.push(req.url ?? '');
    // stall: never read the body, so whatever is sent to it piles up in the sender
    if (opts.stall === true) return;
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
    });
    req.on('end', () => {
      const sha256 = hash.digest('hex');
      received.push({ url: req.url ?? '', bytes, sha256, complete: true });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bytes, sha256 }));
    });
    req.on('close', () => {
      if (!req.complete) received.push({ url: req.url ?? '', bytes, sha256: '', complete: false });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  defer(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return state;
}

/** what an upstream received for /upload (the warm-up request aside) */
function uploads(u: HashingUpstream): Received[] {
  return u.received.filter((x) => x.url === '/upload');
}

function mirroringConfig(main: string, mirror: string, extra: Record<string, unknown>): object {
  return {
    http: {
      routers: { r: { rule: 'PathPrefix(`/`)', service: 'm' } },
      services: {
        m: { mirroring: { service: 'main', mirrors: [{ name: 'copy', percent: 100 }], ...extra } },
        main: { loadBalancer: { servers: [{ url: main }] } },
        copy: { loadBalancer: { servers: [{ url: mirror }] } },
      },
    },
  };
}

/** a /proc/<pid>/status field in bytes (Linux reports kB) */
function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
    readFileSync(`/proc/${pid}/status`, 'utf8'),
  );
  if (m === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

interface Router {
  url: string;
  /** the router's peak RSS since the last call, minus its RSS at that call */
  rssGrowth(): number;
  startMeasuring(): void;
}

/** the real command, one process (--workers=0), serving `config` from the file provider */
async function startRouter(config: object): Promise<Router> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-mirror-mem-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'dynamic.yml');
  // YAML is a superset of JSON
  writeFileSync(file, JSON.stringify(config));
  const port = await freePort();
  const p = runPortico([
    `--entryPoints.web.address=127.0.0.1:${port}`,
    `--providers.file.filename=${file}`,
    '--workers=0',
    '--log.level=error',
  ]);
  defer(() => p.stop('SIGKILL'));
  const url = `http://127.0.0.1:${port}`;
  // warm up: the route is live and a small mirrored request went through
  await eventually(
    async () =>
      expect((await request(url + '/warm', { method: 'POST', body: 'x' })).status).toBe(200),
    { timeoutMs: 15_000 },
  );
  const pid = p.child.pid!;
  let before = 0;
  return {
    url,
    startMeasuring() {
      before = procStatus(pid, 'VmRSS');
      try {
        // "5" resets the peak RSS (VmHWM) to the current RSS (Linux 4.0+)
        writeFileSync(`/proc/${pid}/clear_refs`, '5');
      } catch {
        // without the reset the peak may include start-up: only ever larger, so still a bound
      }
    },
    rssGrowth: () => procStatus(pid, 'VmHWM') - before,
  };
}

/** 64 KiB chunks, each different, so a dropped, repeated or reordered chunk changes the hash */
function chunkAt(i: number): Buffer {
  const c = Buffer.alloc(64 * 1024, i & 0xff);
  c.writeUInt32BE(i, 0);
  return c;
}

interface Upload {
  status: number;
  body: string;
  sha256: string;
}

/** POSTs `bytes` bytes as they are produced (backpressure respected), hashing what was sent. */
async function upload(url: string, bytes: number, chunked: boolean): Promise<Upload> {
  const hash = createHash('sha256');
  const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: chunked ? {} : { 'content-length': String(bytes) },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    let i = 0;
    let sent = 0;
    const pump = (): void => {
      while (sent < bytes) {
        const c = chunkAt(i++);
        const part = sent + c.length > bytes ? c.subarray(0, bytes - sent) : c;
        sent += part.length;
        hash.update(part);
        if (!req.write(part)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
  return { ...reply, sha256: hash.digest('hex') };
}

/** uploads through a fresh router and returns the reply and the router's RSS growth meanwhile */
async function measured(config: object, chunked: boolean): Promise<Upload & { rssGrowth: number }> {
  const r = await startRouter(config);
  r.startMeasuring();
  const up = await upload(r.url + '/upload', BODY_BYTES, chunked);
  return { ...up, rssGrowth: r.rssGrowth() };
}

describe.skipIf(!existsSync('/proc/self/status'))('mirroring memory stays bounded', () => {
  it.each([
    ['with Content-Length', false],
    ['chunked', true],
  ])(
    'a body over maxBodySize (%s) streams to main intact and is not mirrored',
    async (_name, chunked) => {
      const main = await hashingUpstream();
      const mirror = await hashingUpstream();
      const up = await measured(
        mirroringConfig(main.url, mirror.url, { maxBodySize: MiB }),
        chunked,
      );
      expect(up.status).toBe(200);
      expect(JSON.parse(up.body)).toEqual({ bytes: BODY_BYTES, sha256: up.sha256 });
      expect(uploads(main)).toEqual([
        { url: '/upload', bytes: BODY_BYTES, sha256: up.sha256, complete: true },
      ]);
      // Traefik: a body over maxBodySize is not mirrored at all
      expect(mirror.started).not.toContain('/upload');
      expect(up.rssGrowth).toBeLessThan(MAX_RSS_GROWTH);
    },
  );

  it('without maxBodySize (-1) the mirror gets a streamed copy, memory bounded', async () => {
    const main = await hashingUpstream();
    const mirror = await hashingUpstream();
    const up = await measured(mirroringConfig(main.url, mirror.url, {}), false);
    expect(up.status).toBe(200);
    expect(JSON.parse(up.body)).toEqual({ bytes: BODY_BYTES, sha256: up.sha256 });
    expect(up.rssGrowth).toBeLessThan(MAX_RSS_GROWTH);
    // the copy streams alongside the main request: whole and identical, or (had the mirror fallen
    // more than MIRROR_LAG_BYTES behind) aborted, never completed with different bytes
    const copy = await eventually(() => {
      expect(uploads(mirror)).toHaveLength(1);
      return uploads(mirror)[0]!;
    });
    if (copy.complete) expect(copy).toMatchObject({ bytes: BODY_BYTES, sha256: up.sha256 });
    else expect(copy.bytes).toBeLessThan(BODY_BYTES);
  });

  it('without maxBodySize (-1) a mirror that stops reading is dropped, not buffered for', async () => {
    const main = await hashingUpstream();
    const mirror = await hashingUpstream({ stall: true });
    const up = await measured(mirroringConfig(main.url, mirror.url, {}), true);
    expect(up.status).toBe(200);
    expect(JSON.parse(up.body)).toEqual({ bytes: BODY_BYTES, sha256: up.sha256 });
    expect(uploads(main)).toEqual([
      { url: '/upload', bytes: BODY_BYTES, sha256: up.sha256, complete: true },
    ]);
    expect(up.rssGrowth).toBeLessThan(MAX_RSS_GROWTH);
  });
});
