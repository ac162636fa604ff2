/*
 * Configuration swaps under load: a bounded load runs while the routing table
 * is replaced 100 times (routers added and removed, the service's servers
 * changed); not one request may fail.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startRouter, type TestRouter } from '../helpers/portico.js';
import { request } from '../helpers/http.js';

let a: Upstream;
let b: Upstream;
let c: Upstream;
let r: TestRouter;

function config(i: number): DynamicConfig {
  const routers: NonNullable<NonNullable<DynamicConfig['http']>['routers']> = {
    main: { rule: 'Host(`load.test`)', service: i % 2 === 0 ? 'svc' : 'svc2' },
  };
  // upstream c is only in some configurations: its pool is closed and re-created while requests are in flight
  // a varying set of unrelated routers, so every swap really changes the table
  for (let k = 0; k < (i % 7) + 1; k++)
    routers[`extra${k}`] = { rule: `Host(\`extra${k}-${i}.test\`)`, service: 'svc' };
  return {
    http: {
      routers,
      services: {
        svc: {
          loadBalancer: {
            servers: i % 3 === 0 ? [{ url: a.url }] : [{ url: a.url }, { url: c.url }],
          },
        },
        svc2: { loadBalancer: { servers: [{ url: b.url }] } },
      },
    },
  };
}

beforeAll(async () => {
  a = await startUpstream('a');
  b = await startUpstream('b');
  c = await startUpstream('c');
  r = await startRouter(config(0));
});

afterAll(async () => {
  await r.close();
  await a.close();
  await b.close();
  await c.close();
});

describe('swap under load', () => {
  it('serves every request while the table is swapped 100 times', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const statuses = new Map<number | string, number>();
    let stop = false;
    let sent = 0;
    const maxRequests = 20_000;
    const deadline = Date.now() + 20_000;
    const count = (key: number | string): void => {
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
    };
    const one = (): Promise<void> =>
      request(`${r.url}/`, { agent, headers: { host: 'load.test' } }).then(
        (res) => count(res.status),
        (err: NodeJS.ErrnoException) => count(err.code ?? 'error'),
      );
    const loop = async (): Promise<void> => {
      while (!stop && sent < maxRequests && Date.now() < deadline) {
        sent++;
        await one();
      }
    };
    const loops = Array.from({ length: 8 }, loop);
    let swaps = 0;
    for (let i = 1; i <= 100; i++) {
      r.apply(config(i));
      swaps++;
      await new Promise((res) => setTimeout(res, 10));
    }
    stop = true;
    await Promise.all(loops);
    agent.destroy();
    expect(swaps).toBe(100);
    expect(sent).toBeGreaterThan(200);
    expect(Object.fromEntries(statuses)).toEqual({ 200: sent });
    expect(r.router.holder.current.version).toBe(101);
  });
});
