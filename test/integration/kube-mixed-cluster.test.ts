/*
 * A mixed cluster served at once (issue 15's "mixed cluster" test): an
 * Ingress (Traefik annotations), an IngressRoute, an HTTPRoute and an
 * nginx-class Ingress, all for one host, from the four Kubernetes providers
 * of one Portico on the in-test API server. Priorities are consistent across
 * providers and as documented (docs/kubernetes.md, "Priorities across
 * providers"): routers of the Ingress, CRD and ingress-nginx providers rank
 * by rule length (the longer, more specific rule wins, whoever made it);
 * Gateway API routes carry Traefik's encoding of the spec's precedence
 * (10,000 and up for a path match), so on a shared host they rank above
 * the others.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadStaticConfig } from '../../src/config/static.js';
import { runSingle } from '../../src/runtime.js';
import { serviceTo } from '../helpers/kube-objects.js';
import { startKubeApiServer } from '../helpers/kube-apiserver.js';
import { freePort, request } from '../helpers/http.js';
import { startUpstream } from '../helpers/upstream.js';
import { eventually } from '../helpers/eventually.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const path = (p: string, svc: string, pathType = 'Prefix'): object => ({
  path: p,
  pathType,
  backend: { service: { name: svc, port: { number: 80 } } },
});

describe('a mixed cluster: Ingress, IngressRoute, HTTPRoute and nginx-class Ingress at once', () => {
  it('routes each path by the documented priorities, whichever provider made it', async () => {
    const server = await startKubeApiServer();
    cleanups.push(() => server.stop());
    server.create('Namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } });
    for (const name of ['ingress', 'route', 'http', 'nginx']) {
      const up = await startUpstream(name);
      cleanups.push(() => up.close());
      serviceTo(server, 'apps', name, up.port);
    }
    const port = await freePort();
    // Traefik's Ingress: the catch-all of the host
    server.create('Ingress', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { namespace: 'apps', name: 'site' },
      spec: { rules: [{ host: 'shop.test', http: { paths: [path('/', 'ingress')] } }] },
    });
    // IngressRoute: /api
    server.create('IngressRoute', {
      apiVersion: 'traefik.io/v1alpha1',
      kind: 'IngressRoute',
      metadata: { namespace: 'apps', name: 'api' },
      spec: {
        entryPoints: ['web'],
        routes: [
          {
            kind: 'Rule',
            match: 'Host(`shop.test`) && PathPrefix(`/api`)',
            services: [{ name: 'route', port: 80 }],
          },
        ],
      },
    });
    // Gateway API: /api/v2
    server.create('GatewayClass', {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name: 'portico' },
      spec: { controllerName: 'portico.io/gateway-controller' },
    });
    server.create('Gateway', {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { namespace: 'apps', name: 'gw' },
      spec: { gatewayClassName: 'portico', listeners: [{ name: 'http', protocol: 'HTTP', port }] },
    });
    server.create('HTTPRoute', {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { namespace: 'apps', name: 'v2' },
      spec: {
        parentRefs: [{ name: 'gw' }],
        hostnames: ['shop.test'],
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/api/v2' } }],
            backendRefs: [{ name: 'http', port: 80 }],
          },
        ],
      },
    });
    // ingress-nginx: /admin and /api/v2/admin, with an nginx annotation
    server.create('IngressClass', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: { name: 'nginx' },
      spec: { controller: 'k8s.io/ingress-nginx' },
    });
    server.create('Ingress', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: {
        namespace: 'apps',
        name: 'admin',
        annotations: { 'nginx.ingress.kubernetes.io/whitelist-source-range': '127.0.0.0/8' },
      },
      spec: {
        ingressClassName: 'nginx',
        rules: [
          {
            host: 'shop.test',
            http: { paths: [path('/admin', 'nginx'), path('/api/v2/admin', 'nginx')] },
          },
        ],
      },
    });

    const sc = loadStaticConfig({
      argv: [
        `--entryPoints.web.address=127.0.0.1:${port}`,
        '--workers=0',
        '--log.level=fatal',
        `--providers.kubernetesIngress.endpoint=${server.url}`,
        `--providers.kubernetesCRD.endpoint=${server.url}`,
        `--providers.kubernetesGateway.endpoint=${server.url}`,
        `--providers.kubernetesIngressNGINX.endpoint=${server.url}`,
      ],
      env: {},
      cwd: process.cwd(),
    });
    const run = await runSingle(sc, pino({ level: process.env.PORTICO_TEST_LOG ?? 'silent' }));
    cleanups.push(() => run.close());
    await run.ready;

    const who = async (p: string): Promise<string | undefined> => {
      const r = await request(`http://127.0.0.1:${port}${p}`, { headers: { host: 'shop.test' } });
      const up = r.headers['x-upstream'];
      return typeof up === 'string' ? up : `status ${r.status}`;
    };
    await eventually(
      async () => {
        expect(await who('/')).toBe('ingress');
        expect(await who('/cart')).toBe('ingress');
        expect(await who('/api/items')).toBe('route');
        // nginx-class Ingress over the Ingress's catch-all: the longer rule
        expect(await who('/admin/users')).toBe('nginx');
        expect(await who('/api/v2/items')).toBe('http');
        // the Gateway band: the HTTPRoute's /api/v2 outranks the longer nginx path
        expect(await who('/api/v2/admin/users')).toBe('http');
      },
      { timeoutMs: 10_000 },
    );
  });
});
