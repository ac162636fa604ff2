/*
 * The Gateway API translator end to end (issue 15): Gateway + HTTPRoutes
 * translated, aggregated as `@kubernetesgateway` and applied to a real
 * Portico router; requests to 127.0.0.1 reach real upstream servers (the
 * "pods" of EndpointSlices) with what the Gateway API spec says a user
 * sees: matches and precedence, weights, header modifiers, redirects,
 * rewrites, mirrors, and the 500 of an invalid backend.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeSnapshots } from '../../src/config/aggregate.js';
import { translateGateway } from '../../providers/kubernetes/gateway/translate.js';
import type { GatewayTranslation } from '../../providers/kubernetes/gateway/model.js';
import { viewOf } from '../../providers/kubernetes/objects.js';
import { objectsOfYaml, viewOfYaml } from '../helpers/kube-view.js';
import { eventually } from '../helpers/eventually.js';
import { request } from '../helpers/http.js';
import { startRouter, type TestRouter } from '../helpers/portico.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const service = (name: string, port: number) => `
kind: Service
apiVersion: v1
metadata: { name: ${name}, namespace: apps }
spec: { ports: [{ name: http, port: 80 }] }
---
kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata: { name: ${name}-1, namespace: apps, labels: { kubernetes.io/service-name: ${name} } }
addressType: IPv4
ports: [{ name: http, port: ${port} }]
endpoints: [{ addresses: [127.0.0.1], conditions: { ready: true } }]
`;

const MANIFESTS = (a: number, b: number, m: number) => `
kind: GatewayClass
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: portico }
spec: { controllerName: portico.io/gateway-controller }
---
kind: Gateway
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: gw, namespace: apps }
spec:
  gatewayClassName: portico
  listeners: [{ name: http, protocol: HTTP, port: 80 }]
---
${service('svc-a', a)}
---
${service('svc-b', b)}
---
${service('svc-mirror', m)}
---
kind: HTTPRoute
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: shop, namespace: apps }
spec:
  parentRefs: [{ name: gw }]
  hostnames: [shop.example.com]
  rules:
    - matches: [{ path: { type: PathPrefix, value: / } }]
      backendRefs: [{ name: svc-a, port: 80 }]
    - matches: [{ path: { type: Exact, value: /exact } }]
      backendRefs: [{ name: svc-b, port: 80 }]
    - matches: [{ path: { type: PathPrefix, value: /v2 }, headers: [{ name: X-Canary, value: "yes" }] }]
      backendRefs: [{ name: svc-b, port: 80 }]
    - matches: [{ path: { type: PathPrefix, value: /split } }]
      backendRefs: [{ name: svc-a, port: 80, weight: 1 }, { name: svc-b, port: 80, weight: 3 }]
    - matches: [{ path: { type: PathPrefix, value: /half-broken } }]
      backendRefs: [{ name: svc-a, port: 80, weight: 1 }, { name: missing, port: 80, weight: 1 }]
    - matches: [{ path: { type: PathPrefix, value: /headers } }]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: { set: [{ name: X-Set, value: set-by-gateway }], remove: [X-Remove-Me] }
        - type: ResponseHeaderModifier
          responseHeaderModifier: { add: [{ name: X-Resp, value: from-gateway }] }
      backendRefs: [{ name: svc-a, port: 80 }]
    - matches: [{ path: { type: PathPrefix, value: /old } }]
      filters:
        - type: URLRewrite
          urlRewrite: { hostname: internal.example.com, path: { type: ReplacePrefixMatch, replacePrefixMatch: /new } }
      backendRefs: [{ name: svc-a, port: 80 }]
    - matches: [{ path: { type: PathPrefix, value: /strip } }]
      filters:
        - type: URLRewrite
          urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: / } }
      backendRefs: [{ name: svc-a, port: 80 }]
    - matches: [{ path: { type: PathPrefix, value: /moved } }]
      filters:
        - type: RequestRedirect
          requestRedirect: { scheme: https, hostname: www.example.com, statusCode: 301, path: { type: ReplacePrefixMatch, replacePrefixMatch: /here } }
    - matches: [{ path: { type: Exact, value: /port } }]
      filters:
        - type: RequestRedirect
          requestRedirect: { port: 8443 }
    - matches: [{ path: { type: PathPrefix, value: /mirrored } }]
      filters:
        - type: RequestMirror
          requestMirror: { backendRef: { name: svc-mirror, port: 80 } }
      backendRefs: [{ name: svc-a, port: 80 }]
    - matches: [{ path: { type: PathPrefix, value: /unsupported } }]
      filters: [{ type: Teleport }]
      backendRefs: [{ name: svc-a, port: 80 }]
`;

describe('Gateway API routes served by Portico', () => {
  let a: Upstream;
  let b: Upstream;
  let mirror: Upstream;
  let router: TestRouter;
  let t: GatewayTranslation;

  beforeAll(async () => {
    a = await startUpstream('a');
    b = await startUpstream('b');
    mirror = await startUpstream('mirror');
    router = await startRouter({});
    t = translateGateway(viewOfYaml(MANIFESTS(a.port, b.port, mirror.port)), {
      entryPoints: { web: { port: 80, httpTls: false } },
      experimentalChannel: false,
      nativeLBByDefault: false,
    });
    const merged = mergeSnapshots([
      { provider: 'kubernetesgateway', config: t.config, errors: [] },
    ]);
    expect(router.router.applyConfig(merged.config, merged.errors).errors).toEqual([]);
  });

  afterAll(async () => {
    await router?.close();
    await Promise.all([a?.close(), b?.close(), mirror?.close()]);
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    request(`${router.url}${path}`, { headers: { host: 'shop.example.com', ...headers } });

  it('matches: the most specific rule wins (Exact over prefix, headers over none); another host is 404', async () => {
    expect((await get('/anything')).headers['x-upstream']).toBe('a');
    expect((await get('/exact')).headers['x-upstream']).toBe('b');
    expect((await get('/exact/more')).headers['x-upstream']).toBe('a');
    expect((await get('/v2/x', { 'x-canary': 'yes' })).headers['x-upstream']).toBe('b');
    expect((await get('/v2/x')).headers['x-upstream']).toBe('a');
    // PathPrefix matches whole path elements: /v2x is not under /v2
    expect((await get('/v2x', { 'x-canary': 'yes' })).headers['x-upstream']).toBe('a');
    expect(
      (await request(`${router.url}/`, { headers: { host: 'other.example.com' } })).status,
    ).toBe(404);
  });

  it('weights: 1:3 between two backends', async () => {
    const counts: Record<string, number> = { a: 0, b: 0 };
    for (let i = 0; i < 40; i++) counts[(await get('/split'))!.headers['x-upstream'] as string]!++;
    expect(counts).toEqual({ a: 10, b: 30 });
  });

  it('an invalid backend answers 500 for its share, the valid one serves the rest', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await get('/half-broken')).status);
    expect(statuses.filter((s) => s === 500)).toHaveLength(5);
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    const shop = t.status.routes.find((r) => r.name === 'shop')!;
    expect(shop.parents[0]!.conditions.find((c) => c.type === 'ResolvedRefs')).toMatchObject({
      status: 'False',
      reason: 'BackendNotFound',
    });
  });

  it('header modifiers: the upstream sees the set header and not the removed one; the client sees the response header', async () => {
    const r = await get('/headers', { 'x-remove-me': '1', 'x-set': 'client' });
    expect(r.status).toBe(200);
    expect(r.headers['x-resp']).toBe('from-gateway');
    const seen = a.seen.at(-1)!;
    expect(seen.headers['x-set']).toBe('set-by-gateway');
    expect(seen.headers['x-remove-me']).toBeUndefined();
  });

  it('URL rewrite: prefix replaced and Host rewritten; "/" as the replacement strips the prefix', async () => {
    await get('/old/items?q=1');
    expect(a.seen.at(-1)).toMatchObject({
      url: '/new/items?q=1',
      headers: expect.objectContaining({ host: 'internal.example.com' }),
    });
    await get('/old');
    expect(a.seen.at(-1)!.url).toBe('/new');
    await get('/strip/x/y');
    expect(a.seen.at(-1)!.url).toBe('/x/y');
    await get('/strip');
    expect(a.seen.at(-1)!.url).toBe('/');
  });

  it('redirects: scheme, hostname, status and prefix path; a port alone keeps scheme and host', async () => {
    const r = await get('/moved/a/b?x=1');
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('https://www.example.com/here/a/b?x=1');
    const p = await get('/port');
    expect(p.status).toBe(302);
    expect(p.headers.location).toBe('http://shop.example.com:8443/port');
  });

  it('a mirror gets a copy of each request; the answer is the main backend’s', async () => {
    const before = mirror.seen.length;
    const r = await get('/mirrored/1');
    expect(r.headers['x-upstream']).toBe('a');
    await eventually(() => expect(mirror.seen.length).toBe(before + 1));
    expect(mirror.seen.at(-1)!.url).toBe('/mirrored/1');
  });

  it('an unsupported filter answers 500 on its rule only', async () => {
    expect((await get('/unsupported')).status).toBe(500);
    expect((await get('/anything')).status).toBe(200);
  });
});

describe('Gateway TLS: an HTTPS listener terminates with its Secret, a TLS listener passes through by SNI', () => {
  it('serves the certificateRef certificate on HTTPS, and hands a TLSRoute connection to the backend’s own TLS', async () => {
    const scope: (() => Promise<void>)[] = [];
    try {
      const pem = async (cn: string) =>
        selfsigned.generate([{ name: 'commonName', value: cn }], {
          keyType: 'ec',
          extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: cn }] }],
        });
      const gatewayCert = await pem('shop.example.com');
      const backendCert = await pem('db.example.com');
      const web = await startUpstream('web');
      scope.push(() => web.close());
      // the passthrough backend: its own TLS, answering with its name
      const tlsBackend = https.createServer(
        { cert: backendCert.cert, key: backendCert.private },
        (_req, res) => res.end('db-backend'),
      );
      await new Promise<void>((r) => tlsBackend.listen(0, '127.0.0.1', r));
      scope.push(() => new Promise((r) => tlsBackend.close(() => r())));
      const dbPort = (tlsBackend.address() as AddressInfo).port;

      const router = await startRouter(
        {},
        {
          flags: [
            '--entryPoints.websecure.address=127.0.0.1:0',
            '--entryPoints.tls.address=127.0.0.1:0',
          ],
        },
      );
      scope.push(() => router.close());
      const objects = objectsOfYaml(`
kind: GatewayClass
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: portico }
spec: { controllerName: portico.io/gateway-controller }
---
kind: Gateway
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: gw, namespace: apps }
spec:
  gatewayClassName: portico
  listeners:
    - { name: https, protocol: HTTPS, port: 443, tls: { certificateRefs: [{ name: shop-cert }] } }
    - { name: tls, protocol: TLS, port: 8443, tls: { mode: Passthrough } }
---
${service('web', web.port)}
---
${service('db', dbPort)}
---
kind: HTTPRoute
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: shop, namespace: apps }
spec:
  parentRefs: [{ name: gw, sectionName: https }]
  hostnames: [shop.example.com]
  rules: [{ backendRefs: [{ name: web, port: 80 }] }]
---
kind: TLSRoute
apiVersion: gateway.networking.k8s.io/v1alpha2
metadata: { name: db, namespace: apps }
spec:
  parentRefs: [{ name: gw, sectionName: tls }]
  hostnames: [db.example.com]
  rules: [{ backendRefs: [{ name: db, port: 80 }] }]
`);
      objects.Secret = [
        {
          metadata: { name: 'shop-cert', namespace: 'apps' },
          type: 'kubernetes.io/tls',
          data: {
            'tls.crt': Buffer.from(gatewayCert.cert).toString('base64'),
            'tls.key': Buffer.from(gatewayCert.private).toString('base64'),
          },
        },
      ];
      const t = translateGateway(viewOf(objects), {
        entryPoints: {
          websecure: { port: 443, httpTls: true },
          tls: { port: 8443, httpTls: false },
        },
        experimentalChannel: false,
        nativeLBByDefault: false,
      });
      expect(t.diagnostics).toEqual([]);
      const merged = mergeSnapshots([
        { provider: 'kubernetesgateway', config: t.config, errors: [] },
      ]);
      expect(router.router.applyConfig(merged.config, merged.errors).errors).toEqual([]);

      const portOf = (ep: string) =>
        (router.router.entryPoints.get(ep)!.listener.address() as AddressInfo).port;
      const getTls = (port: number, name: string) =>
        new Promise<{ status: number; cn: string; body: string }>((resolve, reject) => {
          const req = https.request(
            {
              host: '127.0.0.1',
              port,
              path: '/',
              servername: name,
              headers: { host: name },
              rejectUnauthorized: false,
              agent: false,
            },
            (res) => {
              const cn = String((res.socket as TLSSocket).getPeerCertificate().subject.CN);
              let body = '';
              res.on('data', (c: Buffer) => (body += c.toString()));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, cn, body }));
            },
          );
          req.on('error', reject);
          req.end();
        });

      const shop = await getTls(portOf('websecure'), 'shop.example.com');
      expect(shop).toMatchObject({ status: 200, cn: 'shop.example.com' });
      expect(web.seen).toHaveLength(1);
      // passthrough: the client sees the backend's certificate, not one of Portico's
      expect(await getTls(portOf('tls'), 'db.example.com')).toEqual({
        status: 200,
        cn: 'db.example.com',
        body: 'db-backend',
      });
    } finally {
      for (const close of scope.reverse()) await close();
    }
  });
});
