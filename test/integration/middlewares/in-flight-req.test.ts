/*
 * InFlightReq against a real upstream that holds its answers: the limit per
 * source, 429 over it, slots given back when responses finish or clients
 * leave, config errors and labels.
 */
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import { decodeLabels } from '../../../src/config/labels.js';
import type { Upstream } from '../../helpers/upstream.js';
import { eventually } from '../../helpers/eventually.js';
import { useCleanups } from '../../helpers/scope.js';

const { defer, upstream, router } = useCleanups();

/** an upstream that answers only when told to */
async function holdingUpstream(): Promise<{
  u: Upstream;
  held: http.ServerResponse[];
  releaseAll(): void;
}> {
  const held: http.ServerResponse[] = [];
  const u = await upstream((_req, res) => {
    held.push(res);
  });
  const releaseAll = (): void => {
    for (const res of held.splice(0)) if (!res.destroyed) res.end('ok');
  };
  defer(releaseAll);
  return { u, held, releaseAll };
}

function send(
  url: string,
  headers: Record<string, string> = {},
): { status: Promise<number>; req: http.ClientRequest } {
  let req!: http.ClientRequest;
  const status = new Promise<number>((resolve, reject) => {
    req = http.request(url, { headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
  return { status, req };
}

function withMiddleware(u: Upstream, middlewares: Record<string, unknown>): DynamicConfig {
  return {
    http: {
      routers: { r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: ['m'] } },
      services: { s: { loadBalancer: { servers: [{ url: u.url }] } } },
      middlewares: middlewares as never,
    },
  };
}

describe('inFlightReq', () => {
  it('answers 429 over amount and lets requests in again once responses finish', async () => {
    const { u, held, releaseAll } = await holdingUpstream();
    const r = await router(withMiddleware(u, { m: { inFlightReq: { amount: 2 } } }));
    const a = send(r.url + '/a');
    const b = send(r.url + '/b');
    await eventually(() => expect(held).toHaveLength(2));
    expect(await send(r.url + '/c').status).toBe(429);
    releaseAll();
    expect(await a.status).toBe(200);
    expect(await b.status).toBe(200);
    const d = send(r.url + '/d');
    await eventually(() => expect(held).toHaveLength(1));
    releaseAll();
    expect(await d.status).toBe(200);
  });

  it('gives the slot back when the client goes away', async () => {
    const { u, held, releaseAll } = await holdingUpstream();
    const r = await router(withMiddleware(u, { m: { inFlightReq: { amount: 1 } } }));
    const a = send(r.url + '/a');
    a.status.catch(() => undefined);
    await eventually(() => expect(held).toHaveLength(1));
    expect(await send(r.url + '/b').status).toBe(429);
    a.req.destroy();
    await eventually(async () => {
      const c = send(r.url + '/c');
      await eventually(() => expect(held.length).toBeGreaterThan(1), { timeoutMs: 300 });
      releaseAll();
      expect(await c.status).toBe(200);
    });
  });

  it('counts each source separately (requestHeaderName)', async () => {
    const { u, held, releaseAll } = await holdingUpstream();
    const r = await router(
      withMiddleware(u, {
        m: { inFlightReq: { amount: 1, sourceCriterion: { requestHeaderName: 'X-Tenant' } } },
      }),
    );
    const a = send(r.url + '/', { 'x-tenant': 'a' });
    await eventually(() => expect(held).toHaveLength(1));
    expect(await send(r.url + '/', { 'x-tenant': 'a' }).status).toBe(429);
    const b = send(r.url + '/', { 'x-tenant': 'b' });
    await eventually(() => expect(held).toHaveLength(2));
    releaseAll();
    expect(await a.status).toBe(200);
    expect(await b.status).toBe(200);
  });

  it('counts each router that uses the middleware separately, as Traefik builds one per router', async () => {
    const { u, held, releaseAll } = await holdingUpstream();
    const r = await router({
      http: {
        routers: {
          a: { rule: 'Path(`/a`)', service: 's', middlewares: ['m'] },
          b: { rule: 'Path(`/b`)', service: 's', middlewares: ['m'] },
        },
        services: { s: { loadBalancer: { servers: [{ url: u.url }] } } },
        middlewares: { m: { inFlightReq: { amount: 1 } } },
      },
    });
    const a = send(r.url + '/a');
    await eventually(() => expect(held).toHaveLength(1));
    expect(await send(r.url + '/a').status).toBe(429);
    const b = send(r.url + '/b');
    await eventually(() => expect(held).toHaveLength(2));
    releaseAll();
    expect(await a.status).toBe(200);
    expect(await b.status).toBe(200);
  });

  it('groups by Host by default', async () => {
    const { u, held, releaseAll } = await holdingUpstream();
    const r = await router(withMiddleware(u, { m: { inFlightReq: { amount: 1 } } }));
    const a = send(r.url + '/', { host: 'one.test' });
    await eventually(() => expect(held).toHaveLength(1));
    expect(await send(r.url + '/', { host: 'one.test' }).status).toBe(429);
    const b = send(r.url + '/', { host: 'two.test' });
    await eventually(() => expect(held).toHaveLength(2));
    releaseAll();
    expect(await a.status).toBe(200);
    expect(await b.status).toBe(200);
  });

  it.each([
    ['no amount', {}, 'inFlightReq.amount: is required'],
    ['amount 0', { amount: 0 }, 'amount: must be at least 1'],
    ['a text amount', { amount: 'ten' }, 'amount: must be a number'],
    [
      'two source criteria',
      { amount: 1, sourceCriterion: { requestHost: true, requestHeaderName: 'X-A' } },
      'sourceCriterion: requestHeaderName and requestHost are mutually exclusive',
    ],
    [
      'a bad excludedIPs entry',
      { amount: 1, sourceCriterion: { ipStrategy: { excludedIPs: ['10.0.0.0/99'] } } },
      'sourceCriterion.ipStrategy.excludedIPs[0]',
    ],
  ])('disables the router for %s', async (_name, options, message) => {
    const { u } = await holdingUpstream();
    const r = await router({});
    const table = r.apply(withMiddleware(u, { m: { inFlightReq: options } }));
    expect(table.routers.get('r@file')!.status).toBe('disabled');
    expect(table.middlewares.get('m@file')!.errors.join('\n')).toContain(message);
  });

  it('decodes Docker labels', async () => {
    const { u, held, releaseAll } = await holdingUpstream();
    const decoded = decodeLabels(
      {
        'traefik.http.middlewares.m.inflightreq.amount': '1',
        'traefik.http.middlewares.m.inflightreq.sourcecriterion.requestheadername': 'X-Tenant',
      },
      { prefixes: ['traefik'] },
    ).http.middlewares;
    const r = await router(withMiddleware(u, decoded));
    const a = send(r.url + '/', { 'x-tenant': 'a' });
    await eventually(() => expect(held).toHaveLength(1));
    expect(await send(r.url + '/', { 'x-tenant': 'a' }).status).toBe(429);
    releaseAll();
    expect(await a.status).toBe(200);
  });
});
