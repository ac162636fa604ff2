/*
 * W3C Trace Context: a valid traceparent (and its tracestate) reaches the
 * upstream unchanged; a missing or invalid one is replaced by a generated
 * one, which the JSON access log records as TraceId and forwardAuth's auth
 * request carries too.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { createAccessLog, simpleRoute } from '../helpers/portico.js';
import { request } from '../helpers/http.js';
import { useCleanups } from '../helpers/scope.js';

const { upstream, router } = useCleanups();

const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const GENERATED = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

async function setup() {
  const up = await upstream('traced');
  const r = await router(simpleRoute([up.url]));
  const send = async (headers: Record<string, string | string[]> = {}) => {
    await request(`${r.url}/`, { headers });
    return up.seen[up.seen.length - 1]!.headers;
  };
  return { send };
}

describe('traceparent', () => {
  it('forwards a valid traceparent and its tracestate unchanged', async () => {
    const { send } = await setup();
    const seen = await send({ traceparent: VALID, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa' });
    expect(seen.traceparent).toBe(VALID);
    expect(seen.tracestate).toBe('congo=t61rcWkgMzE,rojo=00f067aa');
  });

  it.each([
    ['upper-case hex', VALID.toUpperCase()],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`],
    ['an all-zero parent id', `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`],
    ['another version', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    ['a short trace id', '00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01'],
    ['garbage', 'not-a-traceparent'],
  ])('replaces a traceparent with %s and drops its tracestate', async (_name, value) => {
    const { send } = await setup();
    const seen = await send({ traceparent: value, tracestate: 'rojo=1' });
    expect(seen.traceparent).toMatch(GENERATED);
    expect(seen.traceparent).not.toBe(value);
    expect(seen).not.toHaveProperty('tracestate');
  });

  it('replaces two traceparent headers (invalid together)', async () => {
    const { send } = await setup();
    const seen = await send({
      traceparent: [VALID, '00-11111111111111111111111111111111-2222222222222222-01'],
    });
    expect(seen.traceparent).toMatch(GENERATED);
  });

  it('generates a fresh one for each request without one', async () => {
    const { send } = await setup();
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const seen = await send();
      expect(seen.traceparent).toMatch(GENERATED);
      ids.add(String(seen.traceparent));
    }
    expect(ids.size).toBe(20);
  });

  it('logs the trace id sent upstream as TraceId, generated or received', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'portico-tp-')), 'access.log');
    const accessLog = createAccessLog({ filePath: file, format: 'json', bufferingSize: 0 });
    const up = await upstream('traced');
    const r = await router(simpleRoute([up.url]), { accessLog });
    await request(`${r.url}/a`);
    await request(`${r.url}/b`, { headers: { traceparent: VALID } });
    const lines = await eventually(() => {
      accessLog.flush();
      const all = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
      if (all.length < 2) throw new Error(`only ${all.length} lines`);
      return all.map((l) => JSON.parse(l) as { TraceId: string });
    });
    const generated = GENERATED.exec(String(up.seen[0]!.headers.traceparent));
    expect(lines[0]!.TraceId).toBe(generated?.[1]);
    expect(lines[1]!.TraceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('sends the same traceparent to the forwardAuth server as to the upstream', async () => {
    const auth = await upstream('auth');
    const up = await upstream('app');
    const r = await router({
      http: {
        routers: { r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: ['fa'] } },
        middlewares: {
          fa: { forwardAuth: { address: auth.url, authRequestHeaders: ['X-Only-This'] } },
        },
        services: { s: { loadBalancer: { servers: [{ url: up.url }] } } },
      },
    });
    expect((await request(`${r.url}/`)).status).toBe(200);
    expect(auth.seen[0]!.headers.traceparent).toMatch(GENERATED);
    expect(up.seen[0]!.headers.traceparent).toBe(auth.seen[0]!.headers.traceparent);
    await request(`${r.url}/`, { headers: { traceparent: VALID, tracestate: 'k=v' } });
    expect(auth.seen[1]!.headers).toMatchObject({ traceparent: VALID, tracestate: 'k=v' });
    expect(up.seen[1]!.headers).toMatchObject({ traceparent: VALID, tracestate: 'k=v' });
  });
});
