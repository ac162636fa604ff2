/*
 * The ingress-nginx compatibility translator (issue 15 item 4) on
 * ingress-nginx's own documentation examples (test/fixtures/k8s-nginx, one
 * file per example, see its README): each case asserts the translated
 * configuration and what a client sees through a real Portico router, the
 * Services' endpoints being upstream servers on 127.0.0.1. Then class
 * selection, the diagnostics of refused and unsupported annotations, a
 * hostile table, and the migration report (item 5).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import selfsigned from 'selfsigned';
import { mergeSnapshots } from '../../src/config/aggregate.js';
import {
  translateNginxIngresses,
  type NginxProviderOptions,
  type NginxTranslation,
} from '../../providers/kubernetes/nginx/translate.js';
import { formatMigrateReport, migrateReport } from '../../providers/kubernetes/nginx/migrate.js';
import { viewOf, type KubeObject, type ResourceKind } from '../../providers/kubernetes/objects.js';
import { objectsOfYaml } from '../helpers/kube-view.js';
import { request, type Reply } from '../helpers/http.js';
import { startRouter, type TestRouter } from '../helpers/portico.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'k8s-nginx');
type Objects = Partial<Record<ResourceKind, KubeObject[]>>;

const fixture = (name: string): Objects =>
  objectsOfYaml(readFileSync(join(FIXTURES, `${name}.yml`), 'utf8'));

/** Every Service an Ingress names, with port 80/5000 named http, its EndpointSlice at `ports[service]`. */
function withBackends(objects: Objects, ports: Record<string, number>): Objects {
  const out: Objects = { ...objects, Service: [...(objects.Service ?? [])], EndpointSlice: [] };
  const seen = new Set<string>();
  const visit = (ns: string, backend: unknown) => {
    const svc = (backend as { service?: { name?: string; port?: { number?: number } } })?.service;
    if (!svc?.name || seen.has(`${ns}/${svc.name}`)) return;
    seen.add(`${ns}/${svc.name}`);
    out.Service!.push({
      metadata: { name: svc.name, namespace: ns },
      spec: { ports: [{ name: 'http', port: svc.port?.number ?? 80 }] },
    });
    const port = ports[svc.name];
    if (port !== undefined)
      out.EndpointSlice!.push({
        metadata: {
          name: `${svc.name}-x`,
          namespace: ns,
          labels: { 'kubernetes.io/service-name': svc.name },
        },
        addressType: 'IPv4',
        ports: [{ name: 'http', port }],
        endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
      });
  };
  for (const ing of objects.Ingress ?? []) {
    const ns = (ing.metadata as { namespace?: string } | undefined)?.namespace ?? 'default';
    const spec = ing.spec as { rules?: { http?: { paths?: { backend?: unknown }[] } }[] };
    for (const r of Array.isArray(spec?.rules) ? spec.rules : [])
      for (const p of Array.isArray(r?.http?.paths) ? r.http.paths : []) visit(ns, p?.backend);
  }
  return out;
}

function annotate(objects: Objects, name: string, annotations: Record<string, string>): Objects {
  for (const ing of objects.Ingress ?? [])
    if (ing.metadata.name === name)
      ing.metadata.annotations = { ...ing.metadata.annotations, ...annotations };
  return objects;
}

let router: TestRouter;
const upstreams: Record<string, Upstream> = {};
let httpsUpstream: { port: number; close(): Promise<void> };
let authServer: Upstream;
let grpcServer: { port: number; close(): Promise<void> };
let securePort: number;

beforeAll(async () => {
  router = await startRouter({}, { flags: ['--entryPoints.websecure.address=127.0.0.1:0'] });
  securePort = (router.router.entryPoints.get('websecure')!.listener.address() as AddressInfo).port;
  for (const name of [
    'http-svc',
    'docker-registry',
    'production',
    'canary',
    'service1',
    'service2',
    'service3',
    'test',
  ])
    upstreams[name] = await startUpstream(name);
  // the external-auth example's httpbin /basic-auth/user/passwd, on loopback
  authServer = await startUpstream((req, res) => {
    const ok =
      req.headers.authorization === `Basic ${Buffer.from('user:passwd').toString('base64')}`;
    res.writeHead(
      ok ? 200 : 401,
      ok ? { 'x-auth-user': 'user' } : { 'www-authenticate': 'Basic realm="Fake Realm"' },
    );
    res.end(ok ? '{"authenticated": true}' : '');
  });
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'backend.local' }], {
    keyType: 'ec',
  });
  const server = https.createServer({ cert: pems.cert, key: pems.private }, (req, res) => {
    res.writeHead(200, { 'x-upstream': 'https-backend' });
    res.end(String(req.url));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  httpsUpstream = {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
});

beforeAll(async () => {
  // a gRPC server speaking HTTP/2 without TLS (h2c), as backend-protocol GRPC expects
  const server = http2.createServer((req, res) => {
    res.writeHead(200, {
      'content-type': 'application/grpc',
      'x-upstream': `grpc h${req.httpVersion}`,
      'grpc-status': '0',
    });
    res.end(req.url);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => sessions.add(s));
  grpcServer = {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  };
});

afterAll(async () => {
  await grpcServer?.close();
  await router?.close();
  for (const u of Object.values(upstreams)) await u.close();
  await authServer?.close();
  await httpsUpstream?.close();
});

function ports(): Record<string, number> {
  return Object.fromEntries(Object.entries(upstreams).map(([k, u]) => [k, u.port]));
}

/** Translates and applies to the shared router; the compiled table must have no errors. */
function serve(objects: Objects, opts: NginxProviderOptions = {}): NginxTranslation {
  const t = translateNginxIngresses(viewOf(objects), opts);
  const merged = mergeSnapshots([
    { provider: 'kubernetesingressnginx', config: t.config, errors: [] },
  ]);
  expect(merged.errors).toEqual([]);
  expect(router.router.applyConfig(merged.config, merged.errors).errors).toEqual([]);
  return t;
}

const get = (
  host: string,
  path: string,
  opts: Parameters<typeof request>[1] = {},
): Promise<Reply> =>
  request(`${router.url}${path}`, { ...opts, headers: { host, ...opts.headers } });

const upstreamPath = (r: Reply): string => (JSON.parse(r.body) as { url: string }).url;

/** A kubernetes.io/tls Secret with a fresh self-signed certificate for `host`. */
async function tlsSecret(name: string, host: string): Promise<KubeObject> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: host }], {
    keyType: 'ec',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: host }] }],
  });
  return {
    metadata: { name, namespace: 'default' },
    type: 'kubernetes.io/tls',
    data: {
      'tls.crt': Buffer.from(pems.cert).toString('base64'),
      'tls.key': Buffer.from(pems.private).toString('base64'),
    },
  };
}

/** GET over TLS to the websecure entry point, with SNI `host`. */
function getSecure(host: string, path: string) {
  return new Promise<{ status: number; cn: string; upstream: unknown }>((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: securePort,
        path,
        servername: host,
        headers: { host },
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => {
        const cn = String((res.socket as TLSSocket).getPeerCertificate().subject?.CN);
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, cn, upstream: res.headers['x-upstream'] }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const messages = (t: NginxTranslation) =>
  t.diagnostics.map((d) => `${d.level} ${d.field}: ${d.message}`);

interface Case {
  fixture: string;
  prepare?: (o: Objects) => Objects | Promise<Objects>;
  check: (t: NginxTranslation) => Promise<void>;
}

const CASES: Case[] = [
  {
    fixture: 'rewrite',
    async check(t) {
      expect(t.config.http?.routers?.['default-rewrite-rule-0-path-0']).toEqual({
        rule: 'Host("rewrite.bar.com") && PathRegexp("(?i)^/something(/|$)(.*)")',
        service: 'default-rewrite-http-svc-80',
        middlewares: ['default-rewrite-rule-0-path-0-rewrite-target'],
      });
      expect(t.config.http?.middlewares?.['default-rewrite-rule-0-path-0-rewrite-target']).toEqual({
        replacePathRegex: { regex: '(?is)^(?:/something(/|$)(.*)).*', replacement: '/${2}' },
      });
      // the example's own table of rewrites
      for (const [from, to] of [
        ['/something', '/'],
        ['/something/', '/'],
        ['/something/new', '/new'],
        ['/SOMETHING/new?x=1', '/new?x=1'],
      ]) {
        const r = await get('rewrite.bar.com', from!);
        expect(r.status, from).toBe(200);
        expect(upstreamPath(r), from).toBe(to);
      }
      expect((await get('rewrite.bar.com', '/other')).status).toBe(404);
      expect(t.diagnostics).toEqual([
        expect.objectContaining({
          level: 'warning',
          message: expect.stringMatching(/use-regex|approximated/),
        }),
      ]);
    },
  },
  {
    fixture: 'app-root',
    async check(t) {
      expect(t.diagnostics).toEqual([]);
      const r = await get('approot.bar.com', '/');
      expect(r.status).toBe(302);
      expect(r.headers.location).toBe('http://approot.bar.com/app1');
      const app = await get('approot.bar.com', '/app1');
      expect(app.status).toBe(200);
      expect(upstreamPath(app)).toBe('/app1');
    },
  },
  {
    fixture: 'affinity-cookie',
    async check(t) {
      expect(
        t.config.http?.services?.['default-nginx-test-http-svc-80']?.loadBalancer?.sticky,
      ).toEqual({
        cookie: { name: 'route', httpOnly: true, path: '/', maxAge: 172800 },
      });
      const r = await get('stickyingress.example.com', '/');
      expect(r.status).toBe(200);
      const cookie = String(r.headers['set-cookie']);
      expect(cookie).toMatch(/^route=/);
      expect(cookie).toMatch(/Max-Age=172800/);
      expect(cookie).toMatch(/HttpOnly/);
      // session-cookie-expires is approximated (Max-Age only)
      expect(messages(t)).toEqual([expect.stringMatching(/session-cookie-expires.*approximated/)]);
    },
  },
  {
    fixture: 'auth-basic',
    async check(t) {
      expect(t.diagnostics).toEqual([]);
      const denied = await get('foo.bar.com', '/');
      expect(denied.status).toBe(401);
      expect(denied.headers['www-authenticate']).toBe(
        'Basic realm="Authentication Required - foo"',
      );
      const wrong = await get('foo.bar.com', '/', {
        headers: { authorization: `Basic ${Buffer.from('foo:nope').toString('base64')}` },
      });
      expect(wrong.status).toBe(401);
      const ok = await get('foo.bar.com', '/', {
        headers: { authorization: `Basic ${Buffer.from('foo:bar').toString('base64')}` },
      });
      expect(ok.status).toBe(200);
      expect(ok.headers['x-upstream']).toBe('http-svc');
    },
  },
  {
    fixture: 'external-auth',
    prepare: (o) =>
      annotate(o, 'external-auth', {
        'nginx.ingress.kubernetes.io/auth-url': `${authServer.url}/basic-auth/user/passwd`,
      }),
    async check(t) {
      expect(Object.values(t.config.http?.middlewares ?? {})).toEqual([
        { forwardAuth: { address: `${authServer.url}/basic-auth/user/passwd` } },
      ]);
      expect((await get('external-auth-01.sample.com', '/')).status).toBe(401);
      const ok = await get('external-auth-01.sample.com', '/', {
        headers: { authorization: `Basic ${Buffer.from('user:passwd').toString('base64')}` },
      });
      expect(ok.status).toBe(200);
      expect(ok.headers['x-upstream']).toBe('http-svc');
      expect(messages(t)).toEqual([
        expect.stringMatching(/^warning .*auth-url.*approximated: forwardAuth/),
      ]);
    },
  },
  {
    fixture: 'docker-registry',
    async check(t) {
      // proxy-body-size 0: no limit, no middleware
      expect(t.config.http?.middlewares).toBeUndefined();
      expect(t.config.http?.serversTransports).toEqual({
        'docker-registry-docker-registry': {
          forwardingTimeouts: { responseHeaderTimeout: '600s' },
        },
      });
      expect(
        t.config.http?.services?.['docker-registry-docker-registry-docker-registry-5000'],
      ).toEqual({
        loadBalancer: {
          servers: [{ url: `http://127.0.0.1:${upstreams['docker-registry']!.port}` }],
          serversTransport: 'docker-registry-docker-registry',
        },
      });
      const big = 'x'.repeat(2 * 1024 * 1024); // over nginx's default 1m
      const r = await get('registry.example.com', '/v2/', { method: 'PUT', body: big });
      expect(r.status).toBe(200);
      expect(r.headers['x-upstream']).toBe('docker-registry');
      expect(messages(t)).toEqual([
        expect.stringMatching(/proxy-body-size.*approximated/),
        expect.stringMatching(/proxy-read-timeout.*approximated/),
        expect.stringMatching(/^warning .*proxy-send-timeout.*not supported/),
      ]);
    },
  },
  {
    fixture: 'configuration-snippets',
    async check(t) {
      expect(t.config.http?.routers).toEqual({});
      expect(t.accepted).toEqual([{ namespace: 'default', name: 'nginx-configuration-snippet' }]);
      expect(t.diagnostics).toEqual([
        expect.objectContaining({
          level: 'error',
          field: 'metadata.annotations["nginx.ingress.kubernetes.io/configuration-snippet"]',
          message: expect.stringMatching(/refused: .*IngressNightmare.*CVE-2025-1974.*not served/),
        }),
      ]);
      expect((await get('custom.configuration.com', '/')).status).toBe(404);
    },
  },
  {
    fixture: 'annotations-server-snippet',
    async check(t) {
      expect(t.config.http?.routers).toEqual({});
      expect(messages(t)).toEqual([
        expect.stringMatching(/^error .*server-snippet.*IngressNightmare/),
      ]);
      expect((await get('snippet.example.com', '/')).status).toBe(404);
    },
  },
  {
    fixture: 'client-certs',
    async check(t) {
      expect(t.config.http?.routers).toEqual({});
      expect(t.diagnostics.length).toBe(5);
      for (const d of t.diagnostics) {
        expect(d.level).toBe('error');
        expect(d.field).toMatch(/auth-tls-/);
        expect(d.message).toMatch(/weaken security.*not served/);
      }
      expect((await get('mydomain.com', '/')).status).toBe(404);
    },
  },
  {
    fixture: 'canary-weight',
    async check(t) {
      expect(t.config.http?.services?.['default-production-production-80-wrr']).toEqual({
        weighted: {
          services: [
            { name: 'default-production-production-80', weight: 50 },
            { name: 'default-production-production-80-canary', weight: 50 },
          ],
        },
      });
      expect(t.config.http?.routers?.['default-production-rule-0-path-0']?.service).toBe(
        'default-production-production-80-wrr',
      );
      const seen: Record<string, number> = {};
      for (let i = 0; i < 20; i++) {
        const r = await get('echo.prod.mydomain.com', '/');
        expect(r.status).toBe(200);
        const u = String(r.headers['x-upstream']);
        seen[u] = (seen[u] ?? 0) + 1;
      }
      expect(seen.production).toBeGreaterThanOrEqual(5);
      expect(seen.canary).toBeGreaterThanOrEqual(5);
      expect(t.diagnostics).toEqual([]);
    },
  },
  {
    fixture: 'canary-by-header',
    async check(t) {
      expect(t.config.http?.routers?.['default-production-rule-0-path-0-canary']?.rule).toBe(
        '(Host("echo.prod.mydomain.com") && PathPrefix("/")) && (Header("X-Canary", "always"))',
      );
      const via = async (h?: string) =>
        (await get('echo.prod.mydomain.com', '/', h ? { headers: { 'x-canary': h } } : {})).headers[
          'x-upstream'
        ];
      expect(await via('always')).toBe('canary');
      expect(await via('never')).toBe('production');
      expect(await via('other')).toBe('production');
      expect(await via()).toBe('production');
    },
  },
  {
    fixture: 'canary-by-cookie',
    async check() {
      const via = async (cookie?: string) =>
        (await get('echo.prod.mydomain.com', '/', cookie ? { headers: { cookie } } : {})).headers[
          'x-upstream'
        ];
      expect(await via('a=1; canary=always')).toBe('canary');
      expect(await via('canary=never')).toBe('production');
      expect(await via('notcanary=always')).toBe('production');
      expect(await via()).toBe('production');
    },
  },
  {
    fixture: 'annotations-cors',
    async check(t) {
      expect(t.diagnostics).toEqual([]);
      expect(t.config.http?.middlewares?.['default-cors-rule-0-path-0-cors']).toEqual({
        headers: {
          accessControlAllowMethods: ['PUT', 'GET', 'POST', 'OPTIONS'],
          accessControlAllowHeaders: ['X-Forwarded-For', 'X-app123-XPTO'],
          accessControlExposeHeaders: ['*', 'X-CustomResponseHeader'],
          accessControlAllowOriginList: ['myprotocol://example.org:1199'],
          accessControlAllowOriginListRegex: [
            '^https://[A-Za-z0-9-]+\\.origin-site\\.com:4443$',
            '^http://[A-Za-z0-9-]+\\.origin-site\\.com$',
          ],
          accessControlMaxAge: 600,
          addVaryHeader: true,
        },
      });
      const preflight = await get('cors.example.com', '/', {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.origin-site.com:4443',
          'access-control-request-method': 'PUT',
        },
      });
      expect(preflight.headers['access-control-allow-origin']).toBe(
        'https://app.origin-site.com:4443',
      );
      expect(preflight.headers['access-control-max-age']).toBe('600');
      expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();
      const other = await get('cors.example.com', '/', {
        headers: { origin: 'https://evil.test' },
      });
      expect(other.status).toBe(200);
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    },
  },
  {
    fixture: 'annotations-whitelist-source-range',
    async check(t) {
      expect(Object.values(t.config.http?.middlewares ?? {})).toEqual([
        { ipAllowList: { sourceRange: ['10.0.0.0/24', '172.10.0.1'] } },
      ]);
      expect((await get('allow.example.com', '/')).status).toBe(403);
    },
  },
  {
    fixture: 'annotations-denylist-source-range',
    async check(t) {
      expect(t.config.http?.routers).toEqual({});
      expect(messages(t)).toEqual([
        expect.stringMatching(/^error .*denylist-source-range.*not served/),
      ]);
      expect((await get('deny.example.com', '/')).status).toBe(404);
    },
  },
  {
    fixture: 'annotations-force-ssl-redirect',
    async check() {
      const r = await get('force.example.com', '/a?b=1');
      expect(r.status).toBe(301);
      expect(r.headers.location).toBe('https://force.example.com/a?b=1');
      expect((await get('force.example.com', '/a', { method: 'POST', body: 'x' })).status).toBe(
        308,
      );
    },
  },
  {
    fixture: 'annotations-backend-protocol',
    prepare: (o) => {
      const out = withBackends(o, {});
      out.EndpointSlice = [
        {
          metadata: {
            name: 'https',
            namespace: 'default',
            labels: { 'kubernetes.io/service-name': 'http-svc' },
          },
          addressType: 'IPv4',
          ports: [{ name: 'http', port: httpsUpstream.port }],
          endpoints: [{ addresses: ['127.0.0.1'] }],
        },
      ];
      return out;
    },
    async check(t) {
      expect(
        t.config.http?.services?.['default-backend-protocol-http-svc-80']?.loadBalancer?.servers,
      ).toEqual([{ url: `https://127.0.0.1:${httpsUpstream.port}` }]);
      // nginx does not verify the servers' certificates unless proxy-ssl-verify: on
      expect(t.config.http?.serversTransports).toEqual({
        'default-backend-protocol': { insecureSkipVerify: true },
      });
      const r = await get('secure.example.com', '/x');
      expect(r.status).toBe(200);
      expect(r.headers['x-upstream']).toBe('https-backend');
    },
  },
  {
    fixture: 'annotations-permanent-redirect',
    async check(t) {
      const r = await get('moved.example.com', '/anything');
      expect(r.status).toBe(301);
      expect(r.headers.location).toBe('https://www.google.com');
      expect((await get('moved.example.com', '/', { method: 'POST', body: '' })).status).toBe(308);
      expect(messages(t)).toEqual([
        expect.stringMatching(
          /permanent-redirect-code.*approximated: 308 is answered as 301 \(GET, HEAD\)/,
        ),
      ]);
      expect(upstreams['http-svc']!.seen.some((s) => s.url === '/anything')).toBe(false);
    },
  },
  {
    fixture: 'annotations-temporal-redirect',
    async check(t) {
      expect(t.diagnostics).toEqual([]);
      const r = await get('away.example.com', '/');
      expect(r.status).toBe(302);
      expect(r.headers.location).toBe('https://www.google.com');
    },
  },
  {
    fixture: 'annotations-proxy-body-size',
    async check(t) {
      expect(Object.values(t.config.http?.middlewares ?? {})).toEqual([
        { buffering: { maxRequestBodyBytes: 8 * 1024 * 1024 } },
      ]);
      const over = await get('upload.example.com', '/', {
        method: 'POST',
        body: Buffer.alloc(8 * 1024 * 1024 + 1),
      });
      expect(over.status).toBe(413);
      const under = await get('upload.example.com', '/', { method: 'POST', body: 'small' });
      expect(under.status).toBe(200);
    },
  },
  {
    fixture: 'path-priority',
    async check(t) {
      // rewrite-target on test-ingress-2 makes every path of test.com a regex location
      expect(t.config.http?.routers?.['default-test-ingress-1-rule-0-path-1']?.rule).toBe(
        'Host("test.com") && PathRegexp("(?i)^/foo/bar/")',
      );
      // the example's three requests and their locations
      for (const [path, service, seen] of [
        ['/foo/bar/1', 'service3', '/1'],
        ['/foo/bar/', 'service2', '/foo/bar/'],
        ['/foo/bar', 'service1', '/foo/bar'],
      ]) {
        const r = await get('test.com', path!);
        expect(r.headers['x-upstream'], path).toBe(service);
        expect(upstreamPath(r), path).toBe(seen);
      }
    },
  },
  {
    fixture: 'path-priority-warning',
    async check(t) {
      // nginx tries the longer regex first, so /foo/bar/bar goes to `[A-Z0-9]{3}`; so does
      // Portico (the longer rule has the higher priority)
      const r0 = t.config.http?.routers?.['default-test-ingress-3-rule-0-path-0']?.rule ?? '';
      const r1 = t.config.http?.routers?.['default-test-ingress-3-rule-0-path-1']?.rule ?? '';
      expect(r1).toBe('Host("test.com") && PathRegexp("(?i)^/foo/bar/[A-Z0-9]{3}")');
      expect(r1.length).toBeGreaterThan(r0.length);
      expect((await get('test.com', '/FOO/BAR/abc')).headers['x-upstream']).toBe('test');
    },
  },
  {
    fixture: 'tls-termination',
    prepare: async (o) => ({
      ...withBackends(o, ports()),
      Secret: [await tlsSecret('tls-secret', 'foo.bar.com')],
    }),
    async check(t) {
      expect(t.diagnostics).toEqual([]);
      expect(await getSecure('foo.bar.com', '/')).toEqual({
        status: 200,
        cn: 'foo.bar.com',
        upstream: 'http-svc',
      });
      // ssl-redirect is on by default for a host with a certificate
      const plain = await get('foo.bar.com', '/a?b');
      expect(plain.status).toBe(301);
      expect(plain.headers.location).toBe('https://foo.bar.com/a?b');
    },
  },
  {
    fixture: 'grpc',
    prepare: async (o) => ({
      ...withBackends(o, { 'go-grpc-greeter-server': grpcServer.port }),
      Secret: [await tlsSecret('wildcard.dev.mydomain.com', 'grpctest.dev.mydomain.com')],
    }),
    async check(t) {
      expect(
        t.config.http?.services?.['default-fortune-ingress-go-grpc-greeter-server-80'],
      ).toEqual({ loadBalancer: { servers: [{ url: `h2c://127.0.0.1:${grpcServer.port}` }] } });
      const session = http2.connect(`https://127.0.0.1:${securePort}`, {
        servername: 'grpctest.dev.mydomain.com',
        rejectUnauthorized: false,
      });
      try {
        const reply = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
          const req = session.request({
            ':method': 'POST',
            ':path': '/helloworld.Greeter/SayHello',
            ':authority': 'grpctest.dev.mydomain.com',
            'content-type': 'application/grpc',
            te: 'trailers',
          });
          req.on('response', (h) => resolve(h));
          req.on('error', reject);
          req.resume();
          req.end(Buffer.from([0, 0, 0, 0, 0]));
        });
        expect(reply[':status']).toBe(200);
        expect(reply['x-upstream']).toBe('grpc h2.0');
      } finally {
        session.close();
      }
      expect((await get('grpctest.dev.mydomain.com', '/')).status).toBe(301);
    },
  },
];

describe('ingress-nginx documentation examples, translated and served', () => {
  it.each(CASES.map((c) => [c.fixture, c] as const))('%s', async (_name, c) => {
    const objects = fixture(c.fixture);
    const prepared = c.prepare ? await c.prepare(objects) : objects;
    const t = serve(prepared.EndpointSlice ? prepared : withBackends(prepared, ports()));
    await c.check(t);
  });
});

const ING = (
  name: string,
  extra: {
    annotations?: Record<string, unknown>;
    className?: unknown;
    host?: string;
    path?: string;
  } = {},
): KubeObject => ({
  metadata: {
    name,
    namespace: 'default',
    annotations: extra.annotations as Record<string, string>,
  },
  spec: {
    ...(extra.className !== undefined ? { ingressClassName: extra.className } : {}),
    rules: [
      {
        host: extra.host ?? `${name}.example.com`,
        http: {
          paths: [
            {
              path: extra.path ?? '/',
              pathType: 'Prefix',
              backend: { service: { name: 'http-svc', port: { number: 80 } } },
            },
          ],
        },
      },
    ],
  },
});

describe('priorities: nginx location order within a host', () => {
  it('an Exact path beats the root prefix, and a canary takes only its own path', async () => {
    const main: KubeObject = {
      metadata: { name: 'shop', namespace: 'default' },
      spec: {
        ingressClassName: 'nginx',
        rules: [
          {
            host: 'shop.example.com',
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: 'production', port: { number: 80 } } },
                },
                {
                  path: '/x',
                  pathType: 'Exact',
                  backend: { service: { name: 'service1', port: { number: 80 } } },
                },
                {
                  path: '/api',
                  pathType: 'Prefix',
                  backend: { service: { name: 'service2', port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    };
    const canary = ING('shop-canary', {
      className: 'nginx',
      host: 'shop.example.com',
      annotations: {
        'nginx.ingress.kubernetes.io/canary': 'true',
        'nginx.ingress.kubernetes.io/canary-by-header': 'X-Canary',
      },
    });
    (
      canary.spec as { rules: { http: { paths: { backend: unknown }[] } }[] }
    ).rules[0]!.http.paths[0]!.backend = {
      service: { name: 'canary', port: { number: 80 } },
    };
    const t = serve(withBackends({ Ingress: [main, canary] }, ports()));
    expect(t.diagnostics).toEqual([]);
    const via = async (path: string, canaryHeader?: string) =>
      (
        await get(
          'shop.example.com',
          path,
          canaryHeader ? { headers: { 'x-canary': canaryHeader } } : {},
        )
      ).headers['x-upstream'];
    // nginx: `location = /x` first, then the longest prefix; the canary only shares `/`
    expect(await via('/x')).toBe('service1');
    expect(await via('/x', 'always')).toBe('service1');
    expect(await via('/api/1', 'always')).toBe('service2');
    expect(await via('/other', 'always')).toBe('canary');
    expect(await via('/other', 'never')).toBe('production');
    expect(await via('/other')).toBe('production');
  });
});

describe('oauth-external-auth example: auth-url with $host', () => {
  it('expands $host to the rule host, and refuses it where the host is not one name', () => {
    const t = translateNginxIngresses(
      viewOf(withBackends(fixture('oauth-external-auth'), { 'http-svc': 1 })),
    );
    expect(t.config.http?.middlewares).toEqual({
      'default-application-rule-0-path-0-forward-auth': {
        forwardAuth: { address: 'https://foo.bar.com/oauth2/auth' },
      },
    });
    expect(messages(t)).toEqual([
      expect.stringMatching(/auth-url.*approximated/),
      expect.stringMatching(
        /auth-signin.*approximated: Portico forwardAuth cannot redirect on 401/,
      ),
    ]);
    const wildcard = fixture('oauth-external-auth');
    (wildcard.Ingress![0]!.spec as { rules: { host: string }[] }).rules[0]!.host = '*.bar.com';
    const w = translateNginxIngresses(viewOf(withBackends(wildcard, { 'http-svc': 1 })));
    expect(w.config.http?.routers).toEqual({});
    expect(messages(w)).toContainEqual(expect.stringMatching(/^error .*auth-url.*\$host needs/));
  });
});

describe('ssl-redirect follows the certificate hosts of spec.tls', () => {
  it.each([
    [['a.bar.com'], {}, true],
    [['*.bar.com'], {}, true],
    [['b.bar.com'], {}, false],
    [['a.bar.com'], { 'nginx.ingress.kubernetes.io/ssl-redirect': 'false' }, false],
    [[], { 'nginx.ingress.kubernetes.io/force-ssl-redirect': 'true' }, true],
  ] as const)('tls hosts %j, annotations %j: redirect %s', (hosts, annotations, redirect) => {
    const ing = ING('a', { className: 'nginx', host: 'a.bar.com', annotations });
    if (hosts.length > 0) (ing.spec as Record<string, unknown>).tls = [{ hosts }];
    const t = translateNginxIngresses(viewOf(withBackends({ Ingress: [ing] }, { 'http-svc': 1 })));
    expect(t.config.http?.routers?.['default-a-rule-0-path-0']?.middlewares).toEqual(
      redirect ? ['default-a-rule-0-path-0-redirect-scheme'] : undefined,
    );
    expect(t.config.http?.routers?.['default-a-rule-0-path-0-tls']?.middlewares).toBeUndefined();
  });
});

describe('a path whose Service is missing answers 503, as ingress-nginx does', () => {
  it('keeps the router, reports the Service', async () => {
    const t = serve({
      Ingress: [
        {
          ...ING('lost', { className: 'nginx' }),
          spec: {
            ingressClassName: 'nginx',
            rules: [
              {
                host: 'lost.example.com',
                http: {
                  paths: [
                    {
                      path: '/',
                      pathType: 'Prefix',
                      backend: { service: { name: 'nowhere', port: { number: 80 } } },
                    },
                  ],
                },
              },
            ],
          },
        },
      ],
    });
    expect(messages(t)).toEqual([
      'warning spec.rules[0].http.paths[0].backend.service.name: service default/nowhere not found; the path answers 503, as ingress-nginx does',
    ]);
    expect((await get('lost.example.com', '/')).status).toBe(503);
  });
});

describe('more annotations, served', () => {
  it('limit-rps, upstream-vhost, x-forwarded-prefix and server-alias', async () => {
    const t = serve(
      withBackends(
        {
          Ingress: [
            ING('limited', {
              className: 'nginx',
              annotations: {
                'nginx.ingress.kubernetes.io/limit-rps': '1',
                'nginx.ingress.kubernetes.io/limit-burst-multiplier': '1',
                'nginx.ingress.kubernetes.io/upstream-vhost': 'internal.svc',
                'nginx.ingress.kubernetes.io/x-forwarded-prefix': '/shop',
                'nginx.ingress.kubernetes.io/server-alias': 'alias.example.com, other.example.com',
              },
            }),
          ],
        },
        ports(),
      ),
    );
    expect(t.config.http?.routers?.['default-limited-rule-0-path-0']?.rule).toBe(
      '(Host("limited.example.com") || Host("alias.example.com") || Host("other.example.com")) && PathPrefix("/")',
    );
    const seen = upstreams['http-svc']!.seen;
    const before = seen.length;
    const r = await get('alias.example.com', '/p');
    expect(r.status).toBe(200);
    const req = seen[before]!;
    expect(req.headers.host).toBe('internal.svc');
    expect(req.headers['x-forwarded-prefix']).toBe('/shop');
    // one request a second, no burst: most of five at once are refused
    const statuses = await Promise.all(
      Array.from({ length: 5 }, () => get('limited.example.com', '/').then((x) => x.status)),
    );
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
  });

  it('a basic-auth user whose hash Portico cannot check refuses the Ingress, naming the user', () => {
    const t = translateNginxIngresses(
      viewOf(
        withBackends(
          {
            Secret: [
              {
                metadata: { name: 'users', namespace: 'default' },
                stringData: {
                  auth: 'alice:$apr1$OFG3Xybp$ckL0FHDAkoXYIlH9.cysT0\nbob:plaintext\n',
                },
              },
            ],
            Ingress: [
              ING('weak', {
                className: 'nginx',
                annotations: {
                  'nginx.ingress.kubernetes.io/auth-type': 'basic',
                  'nginx.ingress.kubernetes.io/auth-secret': 'users',
                },
              }),
            ],
          },
          ports(),
        ),
      ),
    );
    expect(t.config.http?.routers).toEqual({});
    expect(messages(t)).toEqual([
      expect.stringMatching(/^error .*auth-secret.*user "bob" has a hash Portico cannot check/),
    ]);
    expect(messages(t).join()).not.toContain('plaintext');
  });
});

describe("provider options: globalAuthURL and defaultBackendService (Traefik's)", () => {
  it('every path without auth-url goes through the global auth unless enable-global-auth is false; unmatched requests reach the default backend', async () => {
    const objects = withBackends(
      {
        Ingress: [
          ING('guarded', { className: 'nginx' }),
          ING('public', {
            className: 'nginx',
            annotations: { 'nginx.ingress.kubernetes.io/enable-global-auth': 'false' },
          }),
        ],
      },
      ports(),
    );
    objects.Service!.push({
      metadata: { name: 'fallback', namespace: 'infra' },
      spec: { ports: [{ name: 'http', port: 80 }] },
    });
    objects.EndpointSlice!.push({
      metadata: {
        name: 'fallback-x',
        namespace: 'infra',
        labels: { 'kubernetes.io/service-name': 'fallback' },
      },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: upstreams.production!.port }],
      endpoints: [{ addresses: ['127.0.0.1'] }],
    });
    const t = serve(objects, {
      globalAuthURL: `${authServer.url}/check`,
      defaultBackendService: 'infra/fallback',
    });
    expect(t.diagnostics).toEqual([]);
    expect((await get('guarded.example.com', '/')).status).toBe(401);
    const ok = await get('guarded.example.com', '/', {
      headers: { authorization: `Basic ${Buffer.from('user:passwd').toString('base64')}` },
    });
    expect(ok.status).toBe(200);
    expect((await get('public.example.com', '/')).status).toBe(200);
    const fallback = await get('nobody.example.com', '/x');
    expect(fallback.status).toBe(200);
    expect(fallback.headers['x-upstream']).toBe('production');
    expect(t.config.http?.routers?.['default-backend']).toEqual({
      rule: 'PathPrefix("/")',
      priority: -2147483648,
      service: 'default-backend',
    });
  });

  it('a defaultBackendService that is not namespace/name or does not exist is reported', () => {
    for (const ref of ['fallback', 'infra/missing']) {
      const t = translateNginxIngresses(viewOf({}), { defaultBackendService: ref });
      expect(t.config.http?.routers).toEqual({});
      expect(t.diagnostics).toEqual([
        expect.objectContaining({ field: 'defaultBackendService', level: 'error' }),
      ]);
    }
  });
});

describe('digest authentication (annotations.md "Authentication": auth-type digest)', () => {
  it('challenges with the realm and lets the htdigest user in', async () => {
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    const secret: KubeObject = {
      metadata: { name: 'digest-users', namespace: 'default' },
      stringData: { auth: `foo:staff:${md5('foo:staff:bar')}\n` },
    };
    const t = serve(
      withBackends(
        {
          Secret: [secret],
          Ingress: [
            ING('digest', {
              className: 'nginx',
              annotations: {
                'nginx.ingress.kubernetes.io/auth-type': 'digest',
                'nginx.ingress.kubernetes.io/auth-secret': 'digest-users',
                'nginx.ingress.kubernetes.io/auth-realm': 'staff',
              },
            }),
          ],
        },
        ports(),
      ),
    );
    expect(t.diagnostics).toEqual([]);
    const challenge = await get('digest.example.com', '/');
    expect(challenge.status).toBe(401);
    const header = String(challenge.headers['www-authenticate']);
    expect(header).toMatch(/^Digest realm="staff"/);
    const nonce = /nonce="([^"]+)"/.exec(header)![1]!;
    const opaque = /opaque="([^"]+)"/.exec(header)?.[1];
    const ha1 = md5('foo:staff:bar');
    const ha2 = md5('GET:/');
    const response = md5(`${ha1}:${nonce}:00000001:abcdef:auth:${ha2}`);
    const auth =
      `Digest username="foo", realm="staff", nonce="${nonce}", uri="/", qop=auth, nc=00000001, ` +
      `cnonce="abcdef", response="${response}"` +
      (opaque !== undefined ? `, opaque="${opaque}"` : '');
    const ok = await get('digest.example.com', '/', { headers: { authorization: auth } });
    expect(ok.status).toBe(200);
    expect(ok.headers['x-upstream']).toBe('http-svc');
  });
});

describe('which Ingresses are ingress-nginx ones', () => {
  const classes: KubeObject[] = [
    { metadata: { name: 'public-nginx' }, spec: { controller: 'k8s.io/ingress-nginx' } },
    { metadata: { name: 'traefik' }, spec: { controller: 'traefik.io/ingress-controller' } },
  ];
  it.each([
    ['class of the ingress-nginx controller', ING('a', { className: 'public-nginx' }), {}, true],
    ['class of another controller', ING('a', { className: 'traefik' }), {}, false],
    [
      'class "nginx" with no IngressClass object (manifests)',
      ING('a', { className: 'nginx' }),
      {},
      true,
    ],
    [
      'legacy annotation nginx',
      ING('a', { annotations: { 'kubernetes.io/ingress.class': 'nginx' } }),
      {},
      true,
    ],
    [
      'legacy annotation traefik',
      ING('a', { annotations: { 'kubernetes.io/ingress.class': 'traefik' } }),
      {},
      false,
    ],
    ['no class at all', ING('a'), {}, false],
    ['no class, watchIngressWithoutClass', ING('a'), { watchIngressWithoutClass: true }, true],
    [
      'ingressClass option',
      ING('a', { annotations: { 'kubernetes.io/ingress.class': 'internal' } }),
      { ingressClass: 'internal' },
      true,
    ],
    [
      'class named as the option, other controller, ingressClassByName',
      ING('a', { className: 'traefik' }),
      { ingressClass: 'traefik', ingressClassByName: true },
      true,
    ],
  ] as const)('%s', (_what, ingress, opts, taken) => {
    const t = translateNginxIngresses(viewOf({ Ingress: [ingress], IngressClass: classes }), opts);
    expect(t.accepted.length).toBe(taken ? 1 : 0);
  });
});

describe('annotations that cannot be honoured are reported per Ingress, never silently dropped', () => {
  const view = (annotations: Record<string, string>) =>
    viewOf(
      withBackends({ Ingress: [ING('x', { className: 'nginx', annotations })] }, { 'http-svc': 1 }),
    );
  it.each([
    ['auth-tls-secret', 'default/ca', 'error', /client certificate.*not served/],
    ['global-rate-limit', '5', 'error', /rate limits.*not served/],
    ['enable-global-auth', 'true', 'error', /global external authentication.*not served/],
    [
      'limit-rps',
      '5',
      'warning',
      /approximated: rateLimit of 5 per second per client IP, burst 25/,
    ],
    ['auth-tls-verify-client', 'off', 'error', /client certificate/],
    ['enable-modsecurity', 'true', 'error', /ModSecurity.*not served/],
    ['ssl-passthrough', 'true', 'error', /passthrough/],
    ['stream-snippet', 'x', 'error', /refused: .*IngressNightmare/],
    ['auth-snippet', 'proxy_set_header Foo 42;', 'error', /IngressNightmare/],
    ['upstream-hash-by', '$request_uri', 'warning', /not supported: .*ignored/],
    ['proxy-buffering', 'on', 'warning', /streamed; ignored/],
    ['some-future-annotation', 'on', 'warning', /not an ingress-nginx annotation Portico knows/],
    ['backend-protocol', 'FCGI', 'error', /FastCGI/],
    ['backend-protocol', 'SPDY', 'error', /invalid value/],
    ['rewrite-target', '/$host/$1', 'error', /nginx variable \$host/],
    [
      'auth-url',
      'https://auth.test/?rd=$escaped_request_uri',
      'error',
      /nginx variables other than \$host/,
    ],
    ['whitelist-source-range', '10.0.0.0/33', 'error', /not IPs or CIDRs/],
    ['proxy-body-size', 'lots', 'error', /nginx size/],
    ['use-regex', 'yes', 'error', /true or false/],
    ['cors-allow-origin', '*', 'warning', /without enable-cors/],
    ['canary-weight', '50', 'warning', /without canary: "true"/],
  ] as const)('%s: %s', (name, value, level, message) => {
    const t = translateNginxIngresses(view({ [`nginx.ingress.kubernetes.io/${name}`]: value }));
    expect(t.diagnostics).toEqual([
      expect.objectContaining({
        level,
        field: `metadata.annotations["nginx.ingress.kubernetes.io/${name}"]`,
        message: expect.stringMatching(message),
      }),
    ]);
    expect(Object.keys(t.config.http?.routers ?? {}).length).toBe(level === 'error' ? 0 : 2);
  });

  it('a PCRE-only path under use-regex skips that path, naming RE2', () => {
    const t = translateNginxIngresses(
      viewOf(
        withBackends(
          {
            Ingress: [
              ING('x', {
                className: 'nginx',
                path: '/(?!admin).*',
                annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true' },
              }),
            ],
          },
          { 'http-svc': 1 },
        ),
      ),
    );
    expect(t.config.http?.routers).toEqual({});
    expect(messages(t)).toContainEqual(
      expect.stringMatching(/paths\[0\]\.path: .*not an RE2 regular expression/),
    );
  });
});

describe('hostile objects never throw, and what comes out is valid configuration', () => {
  const long = 'a'.repeat(300_000);
  const hostile: [string, KubeObject][] = [
    ['metadata not an object', { metadata: 'x' as never, spec: {} }],
    [
      'annotations not strings',
      {
        ...ING('h1', { className: 'nginx' }),
        metadata: {
          name: 'h1',
          namespace: 'default',
          annotations: {
            'nginx.ingress.kubernetes.io/rewrite-target': 5 as never,
            'nginx.ingress.kubernetes.io/canary': null as never,
          },
        },
      },
    ],
    [
      'spec.rules not a list',
      {
        metadata: { name: 'h2', namespace: 'default' },
        spec: { ingressClassName: 'nginx', rules: 'x' },
      },
    ],
    [
      'a rule a number',
      {
        metadata: { name: 'h3', namespace: 'default' },
        spec: { ingressClassName: 'nginx', rules: [7, null] },
      },
    ],
    [
      'paths hostile',
      {
        metadata: { name: 'h4', namespace: 'default' },
        spec: {
          ingressClassName: 'nginx',
          rules: [
            { host: 'a.b', http: { paths: [null, { path: 5 }, { path: '/', backend: 'x' }] } },
          ],
        },
      },
    ],
    [
      'huge annotation values',
      ING('h5', {
        className: 'nginx',
        annotations: {
          'nginx.ingress.kubernetes.io/configuration-snippet': long,
          'nginx.ingress.kubernetes.io/rewrite-target': long,
          'nginx.ingress.kubernetes.io/cors-allow-origin': long,
        },
      }),
    ],
    [
      'quotes and backticks in values',
      ING('h6q', {
        className: 'nginx',
        annotations: {
          'nginx.ingress.kubernetes.io/canary': 'true',
          'nginx.ingress.kubernetes.io/canary-by-header': 'X`"y',
          'nginx.ingress.kubernetes.io/canary-by-header-value': '"); Host("evil',
        },
      }),
    ],
    [
      'a canary with hostile values',
      ING('h7', {
        className: 'nginx',
        host: 'h6.example.com',
        annotations: {
          'nginx.ingress.kubernetes.io/canary': 'true',
          'nginx.ingress.kubernetes.io/canary-by-header': 'X-C',
          'nginx.ingress.kubernetes.io/canary-by-header-value': '`) || PathPrefix(`/',
          'nginx.ingress.kubernetes.io/canary-weight': '30',
        },
      }),
    ],
    [
      'an auth-map secret missing',
      ING('h8', {
        className: 'nginx',
        annotations: {
          'nginx.ingress.kubernetes.io/auth-type': 'basic',
          'nginx.ingress.kubernetes.io/auth-secret': 'other/secret',
          'nginx.ingress.kubernetes.io/auth-secret-type': 'auth-map',
        },
      }),
    ],
    [
      'redirect to javascript',
      ING('h9', {
        className: 'nginx',
        annotations: {
          'nginx.ingress.kubernetes.io/permanent-redirect': 'javascript:alert(1)',
          'nginx.ingress.kubernetes.io/app-root': '//evil.example',
        },
      }),
    ],
  ];
  it('translates the lot without throwing; the result validates and compiles', () => {
    const objects = withBackends(
      { Ingress: [...hostile.map(([, o]) => o), ING('h6', { className: 'nginx' })] },
      { 'http-svc': 1 },
    );
    const t = translateNginxIngresses(viewOf(objects));
    const merged = mergeSnapshots([
      { provider: 'kubernetesingressnginx', config: t.config, errors: [] },
    ]);
    expect(merged.errors).toEqual([]);
    for (const d of t.diagnostics) expect(d.message.length).toBeLessThanOrEqual(500);
    // the backtick/quote values stay inside their quoted rule argument
    const canary = Object.entries(t.config.http?.routers ?? {}).find(([k]) =>
      k.endsWith('-canary'),
    );
    expect(canary?.[1].rule).toContain('Header("X-C", "`) || PathPrefix(`/")');
    expect(messages(t)).toContainEqual(
      expect.stringMatching(/auth-secret.*must be in the Ingress's namespace/),
    );
    expect(messages(t)).toContainEqual(expect.stringMatching(/permanent-redirect.*http\(s\) URL/));
  });
});

describe('portico migrate ingress-nginx: the report', () => {
  it('lists, per Ingress, what is supported, approximated, unsupported and refused', () => {
    const objects: Objects = {
      ...fixture('auth-basic'),
      Ingress: [
        ...fixture('auth-basic').Ingress!,
        ...fixture('rewrite').Ingress!,
        ...fixture('configuration-snippets').Ingress!,
        ...fixture('docker-registry').Ingress!,
        ING('plain', { className: 'nginx' }),
        ING('pcre', {
          className: 'nginx',
          path: '/(?!admin).*',
          annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true' },
        }),
        ING('other-class', { className: 'traefik' }),
      ],
    };
    const report = migrateReport(
      viewOf(withBackends(objects, { 'http-svc': 1, 'docker-registry': 2 })),
    );
    expect(report.ingresses.map((i) => [`${i.namespace}/${i.name}`, i.served])).toEqual([
      ['default/ingress-with-auth', true],
      ['default/nginx-configuration-snippet', false],
      ['default/pcre', true],
      ['default/plain', true],
      ['default/rewrite', true],
      ['docker-registry/docker-registry', true],
    ]);
    expect(report.ingresses[4]!.annotations).toEqual([
      {
        name: 'nginx.ingress.kubernetes.io/rewrite-target',
        value: '/$2',
        support: 'supported',
        note: expect.stringMatching(/replacePathRegex/),
      },
      {
        name: 'nginx.ingress.kubernetes.io/use-regex',
        value: 'true',
        support: 'approximated',
        note: expect.stringMatching(/PathRegexp/),
      },
    ]);
    const text = formatMigrateReport(report);
    expect(text).toContain(
      'Ingress default/nginx-configuration-snippet: NOT SERVED by Portico as it stands',
    );
    expect(text).toMatch(
      / {2}refused {6}nginx\.ingress\.kubernetes\.io\/configuration-snippet="more_set_headers/,
    );
    expect(text).toMatch(/CVE-2025-1974/);
    expect(text).toMatch(/unsupported {2}nginx\.ingress\.kubernetes\.io\/proxy-send-timeout="600"/);
    expect(text).toContain(
      'Ingress default/plain: served\n  (no nginx.ingress.kubernetes.io annotations)',
    );
    expect(text.trimEnd().split('\n').at(-1)).toBe(
      '6 Ingress(es), 1 not served; annotations: 1 refused, 1 unsupported, 4 approximated, 4 supported',
    );
  });
});

describe('scale', () => {
  it('3,000 annotated Ingresses with canaries translate within the test deadline (guards a quadratic step)', () => {
    const ingresses: KubeObject[] = [];
    for (let i = 0; i < 3000; i++) {
      ingresses.push(
        ING(`app${i}`, {
          className: 'nginx',
          annotations: {
            'nginx.ingress.kubernetes.io/rewrite-target': '/$1',
            'nginx.ingress.kubernetes.io/enable-cors': 'true',
            'nginx.ingress.kubernetes.io/whitelist-source-range': '10.0.0.0/8',
          },
          path: '/(.*)',
        }),
      );
      if (i % 10 === 0)
        ingresses.push(
          ING(`app${i}-canary`, {
            className: 'nginx',
            host: `app${i}.example.com`,
            path: '/(.*)',
            annotations: {
              'nginx.ingress.kubernetes.io/canary': 'true',
              'nginx.ingress.kubernetes.io/canary-weight': '10',
            },
          }),
        );
    }
    const view = viewOf(withBackends({ Ingress: ingresses }, { 'http-svc': 1 }));
    const started = Date.now();
    const t = translateNginxIngresses(view);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(t.diagnostics).toEqual([]);
    expect(Object.keys(t.config.http?.routers ?? {}).length).toBe(3000 * 2);
    expect(Object.keys(t.config.http?.services ?? {}).length).toBe(3000 + 300 * 2);
  });
});
