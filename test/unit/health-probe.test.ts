/*
 * One probe on its own (src/services/health-probe.ts): the answer a probe
 * gives for a real server, and the gRPC response decoder. The scheduling of
 * probes (intervals, transitions, close) is in health-check.test.ts.
 */
import http from 'node:http';
import https from 'node:https';
import { afterEach, describe, expect, it } from 'vitest';
import type { HealthCheckConfig } from '../../src/config/dynamic.js';
import {
  decodeServingStatus,
  probeServer,
  type ProbeContext,
} from '../../src/services/health-probe.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function context(config: HealthCheckConfig): ProbeContext {
  const httpAgent = new http.Agent({ keepAlive: false });
  const httpsAgent = new https.Agent({ keepAlive: false });
  cleanups.push(() => {
    httpAgent.destroy();
    httpsAgent.destroy();
  });
  return { config, tls: undefined, httpAgent, httpsAgent };
}

/** A gRPC length-prefixed frame around `message`. */
function frame(message: number[]): Buffer {
  const b = Buffer.alloc(5 + message.length);
  b.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(b, 5);
  return b;
}

describe('decodeServingStatus', () => {
  it('reads field 1 (SERVING = 1, NOT_SERVING = 2)', () => {
    expect(decodeServingStatus(frame([0x08, 0x01]))).toBe(1);
    expect(decodeServingStatus(frame([0x08, 0x02]))).toBe(2);
  });

  it('skips other fields before it', () => {
    // field 2, length-delimited "ab", then field 1 = 1
    expect(decodeServingStatus(frame([0x12, 0x02, 0x61, 0x62, 0x08, 0x01]))).toBe(1);
  });

  it('gives UNKNOWN (0) for an empty message or a short frame', () => {
    expect(decodeServingStatus(frame([]))).toBe(0);
    expect(decodeServingStatus(Buffer.alloc(3))).toBe(0);
  });
});

describe('probeServer over HTTP', () => {
  let up: Upstream;

  it('is healthy on 2xx and gives the reason otherwise', async () => {
    let status = 200;
    up = await startUpstream((_req, res) => {
      res.statusCode = status;
      res.end();
    });
    cleanups.push(() => up.close());
    const ctx = context({ path: '/health' });
    expect(await probeServer(ctx, up.url, AbortSignal.timeout(10_000))).toBeUndefined();
    status = 503;
    expect(await probeServer(ctx, up.url, AbortSignal.timeout(10_000))).toBe('received status 503');
    const strict = context({ path: '/health', status: 204 });
    status = 200;
    expect(await probeServer(strict, up.url, AbortSignal.timeout(10_000))).toBe(
      'received status 200, expected 204',
    );
  });

  it('follows a redirect to the healthy page', async () => {
    up = await startUpstream((req, res) => {
      if (req.url === '/health') {
        res.writeHead(302, { location: '/real' });
        res.end();
      } else {
        res.statusCode = req.url === '/real' ? 200 : 500;
        res.end();
      }
    });
    cleanups.push(() => up.close());
    const ctx = context({ path: '/health' });
    expect(await probeServer(ctx, up.url, AbortSignal.timeout(10_000))).toBeUndefined();
    const noFollow = context({ path: '/health', followRedirects: false, status: 200 });
    expect(await probeServer(noFollow, up.url, AbortSignal.timeout(10_000))).toBe(
      'received status 302, expected 200',
    );
  });
});
