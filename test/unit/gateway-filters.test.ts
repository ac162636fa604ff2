/*
 * The Gateway API filters Portico's public middlewares cannot express
 * (issue 15 items 1 and 3), served end to end: HTTPRoutes translated,
 * aggregated as `@kubernetesgateway` and applied to a real router, requests
 * to 127.0.0.1 reaching real upstreams. What a user of the Gateway API sees:
 * a header `add` appends to the value the request (or response) already has,
 * a redirect keeps its 303/307/308 and answers even when the target is the
 * request's own URL, the listener's port is in Location, and a rewrite of
 * host and path is one filter. Then the internal middleware types behind
 * them: usable by the Gateway provider only, absent from files, labels,
 * CRDs and the docs.
 */
import type http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeSnapshots } from '../../src/config/aggregate.js';
import { middlewareSchemas } from '../../src/config/schema/middlewares/index.js';
import { internalMiddlewareSchemas } from '../../src/config/schema/middlewares/gateway.js';
import { decodeLabels } from '../../src/config/labels.js';
import { translateGateway } from '../../providers/kubernetes/gateway/translate.js';
import { internalMiddlewareDefinitions } from '../../middlewares/registry.js';
import { modifiedPath } from '../../middlewares/gateway-url-rewrite.js';
import { viewOfYaml } from '../helpers/kube-view.js';
import { request, type Reply } from '../helpers/http.js';
import { startRouter, type TestRouter } from '../helpers/portico.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const root = join(import.meta.dirname, '..', '..');

const MANIFESTS = (port: number) => `
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
    - { name: http, protocol: HTTP, port: 80 }
    - { name: alt, protocol: HTTP, port: 8080 }
---
kind: Service
apiVersion: v1
metadata: { name: svc, namespace: apps }
spec: { ports: [{ name: http, port: 80 }] }
---
kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata: { name: svc-1, namespace: apps, labels: { kubernetes.io/service-name: svc } }
addressType: IPv4
ports: [{ name: http, port: ${port} }]
endpoints: [{ addresses: [127.0.0.1], conditions: { ready: true } }]
---
kind: HTTPRoute
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: filters, namespace: apps }
spec:
  parentRefs: [{ name: gw, sectionName: http }]
  hostnames: [shop.example.com]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /req } }]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier:
            set: [{ name: X-Set, value: set-by-gateway }]
            add: [{ name: X-Add, value: added }, { name: x-lower-add, value: "b,c" }]
            remove: [X-Remove-Me]
      backendRefs: [{ name: svc, port: 80 }]
    - matches: [{ path: { type: PathPrefix, value: /resp } }]
      filters:
        - type: ResponseHeaderModifier
          responseHeaderModifier:
            set: [{ name: X-Up-Set, value: replaced }]
            add: [{ name: X-Up-Add, value: added }, { name: Set-Cookie, value: "b=2" }, { name: X-New, value: fresh }]
            remove: [X-Up-Gone]
      backendRefs: [{ name: svc, port: 80 }]
    - matches: [{ path: { type: PathPrefix, value: /see-other } }]
      filters: [{ type: RequestRedirect, requestRedirect: { statusCode: 303 } }]
    - matches: [{ path: { type: PathPrefix, value: /temporary } }]
      filters: [{ type: RequestRedirect, requestRedirect: { statusCode: 307, hostname: other.example.com } }]
    - matches: [{ path: { type: PathPrefix, value: /permanent } }]
      filters:
        - type: RequestRedirect
          requestRedirect: { statusCode: 308, path: { type: ReplacePrefixMatch, replacePrefixMatch: /moved } }
    - matches: [{ path: { type: PathPrefix, value: /rewrite } }]
      filters:
        - type: URLRewrite
          urlRewrite: { hostname: internal.example.com, path: { type: ReplacePrefixMatch, replacePrefixMatch: /new } }
      backendRefs: [{ name: svc, port: 80 }]
---
kind: HTTPRoute
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: alt, namespace: apps }
spec:
  parentRefs: [{ name: gw, sectionName: alt }]
  hostnames: [alt.example.com]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /same } }]
      filters: [{ type: RequestRedirect, requestRedirect: {} }]
    - matches: [{ path: { type: PathPrefix, value: /to-http } }]
      filters: [{ type: RequestRedirect, requestRedirect: { scheme: http } }]
`;

/** every value of a header as separate fields, from the raw list */
function fields(raw: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i]!.toLowerCase() === name.toLowerCase()) out.push(raw[i + 1]!);
  return out;
}

describe('Gateway API filters served by Portico', () => {
  let up: Upstream;
  let router: TestRouter;

  beforeAll(async () => {
    up = await startUpstream((req, res) => {
      // the /resp rules' backend answers with headers for the response filter to edit
      const headers: http.OutgoingHttpHeaders = { 'x-upstream': 'svc' };
      if (req.url?.startsWith('/resp')) {
        headers['x-up-set'] = 'original';
        headers['x-up-add'] = 'original';
        headers['x-up-gone'] = 'gone';
        headers['set-cookie'] = ['a=1'];
      }
      res.writeHead(200, headers);
      res.end('ok');
    });
    router = await startRouter({});
    const t = translateGateway(viewOfYaml(MANIFESTS(up.port)), {
      entryPoints: { web: { port: 80, httpTls: false }, alt: { port: 8080, httpTls: false } },
      experimentalChannel: false,
      nativeLBByDefault: false,
    });
    expect(t.diagnostics).toEqual([]);
    // the test router has one entrypoint: the 8080 listener's routers are served on it too
    // (the listener's port is part of their translation, not of the socket)
    for (const r of Object.values(t.config.http?.routers ?? {})) r.entryPoints = ['web'];
    const merged = mergeSnapshots([
      { provider: 'kubernetesgateway', config: t.config, errors: [] },
    ]);
    expect(router.router.applyConfig(merged.config, merged.errors).errors).toEqual([]);
  });

  afterAll(async () => {
    await router?.close();
    await up?.close();
  });

  // the router's one entrypoint serves both listeners' routers here: hosts tell them apart
  const get = (host: string, path: string, headers: Record<string, string> = {}) =>
    request(`${router.url}${path}`, { headers: { host, ...headers } });
  const shop = (path: string, headers?: Record<string, string>) =>
    get('shop.example.com', path, headers);

  it('RequestHeaderModifier add appends to the value the request already has (the spec: foo + bar,baz = foo,bar,baz)', async () => {
    const r = await shop('/req', { 'X-Add': 'original', 'X-Lower-Add': 'a' });
    expect(r.status).toBe(200);
    const seen = up.seen.at(-1)!;
    expect(fields(seen.rawHeaders, 'x-add')).toEqual(['original,added']);
    expect(fields(seen.rawHeaders, 'x-lower-add')).toEqual(['a,b,c']);
  });

  it('RequestHeaderModifier add without the header adds it; set replaces; remove removes', async () => {
    await shop('/req', { 'X-Set': 'from-client', 'X-Remove-Me': '1' });
    const seen = up.seen.at(-1)!;
    expect(fields(seen.rawHeaders, 'x-add')).toEqual(['added']);
    expect(fields(seen.rawHeaders, 'x-set')).toEqual(['set-by-gateway']);
    expect(fields(seen.rawHeaders, 'x-remove-me')).toEqual([]);
  });

  it('ResponseHeaderModifier add appends to the upstream’s value, Set-Cookie gets a field of its own; set replaces; remove removes', async () => {
    const r: Reply = await shop('/resp');
    expect(r.status).toBe(200);
    expect(fields(r.rawHeaders, 'x-up-add')).toEqual(['original,added']);
    expect(fields(r.rawHeaders, 'x-new')).toEqual(['fresh']);
    expect(fields(r.rawHeaders, 'set-cookie')).toEqual(['a=1', 'b=2']);
    expect(fields(r.rawHeaders, 'x-up-set')).toEqual(['replaced']);
    expect(fields(r.rawHeaders, 'x-up-gone')).toEqual([]);
  });

  it.each([
    ['/see-other?x=1', 303, 'http://shop.example.com/see-other?x=1'],
    ['/temporary/a', 307, 'http://other.example.com/temporary/a'],
    ['/permanent/a/b', 308, 'http://shop.example.com/moved/a/b'],
  ])(
    'RequestRedirect %s keeps its status %i, even to the request’s own URL',
    async (path, status, location) => {
      const r = await shop(path);
      expect(r.status).toBe(status);
      expect(r.headers.location).toBe(location);
    },
  );

  it('RequestRedirect without port is to the listener’s port (8080); with scheme http, to its well-known port (none)', async () => {
    const same = await get('alt.example.com', '/same');
    expect(same.status).toBe(302);
    expect(same.headers.location).toBe('http://alt.example.com:8080/same');
    const toHttp = await get('alt.example.com:8080', '/to-http');
    expect(toHttp.status).toBe(302);
    expect(toHttp.headers.location).toBe('http://alt.example.com/to-http');
  });

  it('URLRewrite of hostname and path is one middleware; the upstream sees both', async () => {
    await shop('/rewrite/items?q=1');
    expect(up.seen.at(-1)).toMatchObject({
      url: '/new/items?q=1',
      headers: expect.objectContaining({ host: 'internal.example.com' }),
    });
  });
});

describe('ReplacePrefixMatch as the spec’s table has it (HTTPPathModifier)', () => {
  it.each([
    ['/foo/bar', '/foo', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo', '/xyz/', '/xyz/bar'],
    ['/foo/bar', '/foo/', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo/', '/xyz/', '/xyz/bar'],
    ['/foo', '/foo', '/xyz', '/xyz'],
    ['/foo/', '/foo', '/xyz', '/xyz/'],
    ['/foo/bar', '/foo', '', '/bar'],
    ['/foo/', '/foo', '', '/'],
    ['/foo', '/foo', '', '/'],
    ['/foo/', '/foo', '/', '/'],
    ['/foo', '/foo', '/', '/'],
    // a prefix of "/" matches every path
    ['/a/b', '/', '/xyz', '/xyz/a/b'],
    // whole path elements only: /foobar is not under /foo
    ['/foobar', '/foo', '/xyz', '/foobar'],
  ])('%s, prefix %s, replaced by %j → %s', (path, prefix, repl, want) => {
    expect(modifiedPath(path, repl, prefix)).toBe(want);
  });
});

describe('the Gateway filter middlewares are internal to the Kubernetes Gateway provider', () => {
  const types = internalMiddlewareSchemas.map((m) => m.type);

  it('have factories with the schema’s options, for the kubernetesgateway provider only', () => {
    expect(internalMiddlewareDefinitions().map((d) => d.type)).toEqual(types);
    for (const d of internalMiddlewareDefinitions()) {
      const s = internalMiddlewareSchemas.find((m) => m.type === d.type)!;
      expect(d.options).toBe(s.options);
      expect(d.providers).toEqual(['kubernetesgateway']);
    }
  });

  it('are not public types: no JSON Schema, docs or CRD field names them', () => {
    const publicTypes = middlewareSchemas.map((m) => m.type.toLowerCase());
    for (const t of types) expect(publicTypes).not.toContain(t.toLowerCase());
    const crds = readFileSync(join(root, 'deploy/crds/portico-crds.yaml'), 'utf8');
    const reference = readFileSync(join(root, 'docs/middlewares/reference.md'), 'utf8');
    for (const t of types) {
      expect(crds).not.toMatch(new RegExp(`\\b${t}:`, 'i'));
      expect(reference).not.toContain(`## ${t}`);
    }
  });

  it.each([
    [
      'requestRedirect',
      { statusCode: 304 },
      /requestRedirect\.statusCode: 304 is not 301, 302, 303, 307 or 308/,
    ],
    ['requestRedirect', { scheme: 'ftp' }, /requestRedirect\.scheme: must be http or https/],
    [
      'requestHeaderModifier',
      { set: { 'Bad Name': 'x' } },
      /requestHeaderModifier\.set: header name/,
    ],
    [
      'responseHeaderModifier',
      { add: { 'X-A': 'a\r\nb' } },
      /responseHeaderModifier\.add: the value of X-A/,
    ],
    ['URLRewrite', { path: 'relative' }, /URLRewrite\.path: must start with \//],
    ['URLRewrite', {}, /URLRewrite: needs hostname or path/],
  ])(
    'a %s of the Gateway provider with bad options %j is its router’s error',
    async (type, options, message) => {
      const router = await startRouter({});
      try {
        const merged = mergeSnapshots([
          {
            provider: 'kubernetesgateway',
            config: {
              http: {
                routers: { r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: ['m'] } },
                services: { s: { loadBalancer: { servers: [{ url: 'http://127.0.0.1:1' }] } } },
                middlewares: { m: { [type]: options } },
              },
            },
            errors: [],
          },
        ]);
        const { errors } = router.router.applyConfig(merged.config, merged.errors);
        expect(errors).toContainEqual(
          expect.objectContaining({
            kind: 'middleware',
            name: 'm@kubernetesgateway',
            message: expect.stringMatching(message),
          }),
        );
      } finally {
        await router.close();
      }
    },
  );

  it('a file provider middleware of such a type is an unknown type: its router does not serve', async () => {
    const up = await startUpstream('up');
    const router = await startRouter({});
    try {
      const merged = mergeSnapshots([
        {
          provider: 'file',
          config: {
            http: {
              routers: {
                r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: ['m'] },
              },
              services: { s: { loadBalancer: { servers: [{ url: up.url }] } } },
              middlewares: { m: { requestRedirect: { statusCode: 308 } } },
            },
          },
          errors: [],
        },
      ]);
      const { errors } = router.router.applyConfig(merged.config, merged.errors);
      expect(errors).toContainEqual(
        expect.objectContaining({
          kind: 'middleware',
          name: 'm@file',
          message: expect.stringContaining('unknown middleware type "requestRedirect"'),
        }),
      );
      const r = await request(`${router.url}/x`);
      expect(r.status).not.toBe(308);
      expect(up.seen).toHaveLength(0);
    } finally {
      await router.close();
      await up.close();
    }
  });

  it('a Docker label of such a type is reported as an unknown middleware type', () => {
    const { issues } = decodeLabels(
      { 'traefik.http.middlewares.m.requestheadermodifier.set.x-a': 'b' },
      { prefixes: ['traefik'], providerKeys: ['enable'] },
    );
    expect(issues.map((i) => i.message).join('\n')).toMatch(
      /unknown middleware type "requestheadermodifier"/,
    );
  });
});
