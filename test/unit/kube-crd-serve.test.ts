/*
 * What a user notices: an IngressRoute with middlewares, weights and a
 * TraefikService, translated and applied as provider `kubernetescrd`,
 * answers on a real router with real upstreams on 127.0.0.1
 * (translate/serve-ingressroute.yml).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeSnapshots } from '../../src/config/aggregate.js';
import { createRouterServer, type RouterServer } from '../../src/routing/router-server.js';
import { translateCrds } from '../../providers/kubernetes/crd/translate.js';
import { CRD_PROVIDER } from '../../providers/kubernetes/objects.js';
import { testStaticConfig } from '../helpers/portico.js';
import { request } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { DEFAULTS, objectsOfYaml, viewOfObjects } from './kube-crd-helpers.js';

const fixture = join(import.meta.dirname, '../fixtures/k8s-crd/translate/serve-ingressroute.yml');
const ALICE = `Basic ${Buffer.from('alice:secret').toString('base64')}`;

describe('an IngressRoute served end to end', () => {
  let a: Upstream;
  let b: Upstream;
  let router: RouterServer;
  let url: string;

  beforeAll(async () => {
    a = await startUpstream('a');
    b = await startUpstream('b');
    const yaml = readFileSync(fixture, 'utf8')
      .replaceAll('__PORT_A__', String(a.port))
      .replaceAll('__PORT_B__', String(b.port));
    const { config, diagnostics } = translateCrds(viewOfObjects(objectsOfYaml(yaml)), {
      ...DEFAULTS,
      allowCrossNamespace: true,
    });
    expect(diagnostics).toEqual([]);
    const merged = mergeSnapshots([{ provider: CRD_PROVIDER, config, errors: [] }]);
    expect(merged.errors).toEqual([]);
    router = createRouterServer({
      staticConfig: testStaticConfig(),
      logger: pino({ level: 'silent' }),
    });
    const addresses = await router.listen();
    url = `http://127.0.0.1:${addresses.web!.port}`;
    router.applyConfig(merged.config, merged.errors);
  });

  afterAll(async () => {
    await router?.shutdown(100);
    await a?.close();
    await b?.close();
  });

  it('refuses a request without the credentials of the basic-auth Secret', async () => {
    expect((await request(`${url}/shop/cart`)).status).toBe(401);
    expect(
      (await request(`${url}/shop/cart`, { headers: { authorization: 'Basic eDp5' } })).status,
    ).toBe(401);
  });

  it('strips the prefix and adds the header of the other namespace', async () => {
    const reply = await request(`${url}/shop/cart`, { headers: { authorization: ALICE } });
    expect(reply.status).toBe(200);
    const seen = JSON.parse(reply.body) as { url: string; headers: Record<string, string> };
    expect(seen.url).toBe('/cart');
    expect(seen.headers['x-via']).toBe('portico');
  });

  it('spreads requests over both Services weighted 1:1', async () => {
    const names = new Set<string>();
    for (let i = 0; i < 20 && names.size < 2; i++) {
      const reply = await request(`${url}/shop/`, { headers: { authorization: ALICE } });
      names.add(String(reply.headers['x-upstream']));
    }
    expect([...names].sort()).toEqual(['a', 'b']);
  });

  it('sends everything to the Service of weight 3 in the TraefikService (the other has 0)', async () => {
    const before = b.seen.length;
    for (let i = 0; i < 10; i++) {
      const reply = await request(`${url}/open/${i}`);
      expect(reply.status).toBe(200);
      expect(reply.headers['x-upstream']).toBe('a');
    }
    expect(b.seen.length).toBe(before);
  });
});
