/*
 * The Gateway API provider end to end: Portico's runtime with
 * providers.kubernetesGateway on the in-test API server, a GatewayClass of
 * Traefik's controller, a Gateway whose listener port is the web
 * entrypoint's, an HTTPRoute to a real upstream; the status the spec
 * requires read back from the API server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadStaticConfig } from '../../src/config/static.js';
import { runSingle, type RunningPortico } from '../../src/runtime.js';
import { serviceTo } from '../helpers/kube-objects.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';
import { freePort, request } from '../helpers/http.js';
import { startUpstream } from '../helpers/upstream.js';
import { eventually } from '../helpers/eventually.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

type Cond = { type: string; status: string; reason: string };
const cond = (conds: unknown, type: string): Cond | undefined =>
  (Array.isArray(conds) ? (conds as Cond[]) : []).find((c) => c.type === type);

async function setup(): Promise<{ server: KubeApiServer; run: RunningPortico; port: number }> {
  const server = await startKubeApiServer();
  cleanups.push(() => server.stop());
  const up = await startUpstream('echo');
  cleanups.push(() => up.close());
  server.create('Namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } });
  serviceTo(server, 'apps', 'echo', up.port, 8080);
  const port = await freePort();
  const sc = loadStaticConfig({
    argv: [
      `--entryPoints.web.address=127.0.0.1:${port}`,
      '--workers=0',
      '--log.level=fatal',
      `--providers.kubernetesGateway.endpoint=${server.url}`,
      '--providers.kubernetesGateway.statusAddress.ip=203.0.113.9',
    ],
    env: {},
    cwd: process.cwd(),
  });
  const run = await runSingle(sc, pino({ level: process.env.PORTICO_TEST_LOG ?? 'silent' }));
  cleanups.push(() => run.close());
  await run.ready;
  return { server, run, port };
}

describe('Gateway API provider, end to end', () => {
  it('routes an HTTPRoute through its Gateway, and writes the status the spec requires', async () => {
    const { server, port } = await setup();
    server.create('GatewayClass', {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name: 'portico' },
      spec: { controllerName: 'traefik.io/gateway-controller' },
    });
    server.create('Gateway', {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { namespace: 'apps', name: 'gw' },
      spec: {
        gatewayClassName: 'portico',
        listeners: [
          { name: 'http', protocol: 'HTTP', port, allowedRoutes: { namespaces: { from: 'Same' } } },
        ],
      },
    });
    server.create('HTTPRoute', {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { namespace: 'apps', name: 'echo' },
      spec: {
        parentRefs: [{ name: 'gw' }],
        hostnames: ['echo.example.com'],
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/api' } }],
            backendRefs: [{ name: 'echo', port: 8080 }],
          },
        ],
      },
    });
    const web = `http://127.0.0.1:${port}`;
    await eventually(async () => {
      const r = await request(`${web}/api/x`, { headers: { host: 'echo.example.com' } });
      expect(r.status).toBe(200);
      expect(r.headers['x-upstream']).toBe('echo');
    });
    expect((await request(`${web}/other`, { headers: { host: 'echo.example.com' } })).status).toBe(
      404,
    );

    await eventually(() => {
      const gc = server.get('GatewayClass', undefined, 'portico')!;
      expect(cond(gc.status?.conditions, 'Accepted')?.status).toBe('True');
      const gw = server.get('Gateway', 'apps', 'gw')!;
      expect(cond(gw.status?.conditions, 'Programmed')?.status).toBe('True');
      expect(gw.status?.addresses).toEqual([{ type: 'IPAddress', value: '203.0.113.9' }]);
      expect(gw.status?.listeners?.[0]?.attachedRoutes).toBe(1);
      const route = server.get('HTTPRoute', 'apps', 'echo')!;
      const parent = route.status?.parents?.[0];
      expect(parent?.controllerName).toBe('traefik.io/gateway-controller');
      expect(cond(parent?.conditions, 'Accepted')?.status).toBe('True');
      expect(cond(parent?.conditions, 'ResolvedRefs')?.status).toBe('True');
    });
  });

  it('a backend that does not exist: ResolvedRefs False / BackendNotFound, and 500 as the spec says', async () => {
    const { server, port } = await setup();
    server.create('GatewayClass', {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name: 'portico' },
      spec: { controllerName: 'traefik.io/gateway-controller' },
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
      metadata: { namespace: 'apps', name: 'broken' },
      spec: {
        parentRefs: [{ name: 'gw' }],
        hostnames: ['broken.example.com'],
        rules: [{ backendRefs: [{ name: 'missing', port: 8080 }] }],
      },
    });
    await eventually(async () => {
      const r = await request(`http://127.0.0.1:${port}/`, {
        headers: { host: 'broken.example.com' },
      });
      expect(r.status).toBe(500);
    });
    await eventually(() => {
      const parent = server.get('HTTPRoute', 'apps', 'broken')!.status?.parents?.[0];
      expect(cond(parent?.conditions, 'ResolvedRefs')).toMatchObject({
        status: 'False',
        reason: 'BackendNotFound',
      });
    });
  });
});
