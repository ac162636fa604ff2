/*
 * The ingress-nginx compatibility provider end to end: Portico's runtime with
 * providers.kubernetesIngressNGINX on the in-test API server, an Ingress of
 * class nginx with ingress-nginx's own documentation annotations, served to
 * a real upstream; and one with a snippet, refused and reported.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadStaticConfig } from '../../src/config/static.js';
import { runSingle, type RunningPortico } from '../../src/runtime.js';
import { serviceTo } from '../helpers/kube-objects.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';
import { request } from '../helpers/http.js';
import { startUpstream } from '../helpers/upstream.js';
import { eventually } from '../helpers/eventually.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setup(): Promise<{ server: KubeApiServer; run: RunningPortico; api: string }> {
  const server = await startKubeApiServer();
  cleanups.push(() => server.stop());
  const up = await startUpstream('web');
  cleanups.push(() => up.close());
  server.create('IngressClass', {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: { name: 'nginx' },
    spec: { controller: 'k8s.io/ingress-nginx' },
  });
  serviceTo(server, 'apps', 'web', up.port);
  const sc = loadStaticConfig({
    argv: [
      '--entryPoints.web.address=127.0.0.1:0',
      '--entryPoints.traefik.address=127.0.0.1:0',
      '--api.insecure=true',
      '--workers=0',
      '--log.level=fatal',
      `--providers.kubernetesIngressNGINX.endpoint=${server.url}`,
      '--providers.kubernetesIngressNGINX.publishStatusAddress=198.51.100.4',
    ],
    env: {},
    cwd: process.cwd(),
  });
  const run = await runSingle(sc, pino({ level: process.env.PORTICO_TEST_LOG ?? 'silent' }));
  cleanups.push(() => run.close());
  await run.ready;
  return { server, run, api: `http://127.0.0.1:${run.addresses.traefik!.port}` };
}

function nginxIngress(name: string, host: string, path: string, annotations: object): object {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { namespace: 'apps', name, annotations },
    spec: {
      ingressClassName: 'nginx',
      rules: [
        {
          host,
          http: {
            paths: [
              {
                path,
                pathType: 'ImplementationSpecific',
                backend: { service: { name: 'web', port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    },
  };
}

describe('ingress-nginx compatibility provider, end to end', () => {
  it("serves ingress-nginx's rewrite example (capture groups), and refuses a snippet", async () => {
    const { server, run, api } = await setup();
    // ingress-nginx docs/examples/rewrite: /something(/|$)(.*) → /$2
    server.create(
      'Ingress',
      nginxIngress('rewrite', 'rewrite.bar.com', '/something(/|$)(.*)', {
        'nginx.ingress.kubernetes.io/use-regex': 'true',
        'nginx.ingress.kubernetes.io/rewrite-target': '/$2',
      }),
    );
    server.create(
      'Ingress',
      nginxIngress('snippet', 'snippet.bar.com', '/', {
        'nginx.ingress.kubernetes.io/configuration-snippet': 'more_set_headers "X: y";',
      }),
    );
    const web = `http://127.0.0.1:${run.addresses.web!.port}`;
    await eventually(async () => {
      const r = await request(`${web}/something/new`, { headers: { host: 'rewrite.bar.com' } });
      expect(r.status).toBe(200);
      expect((JSON.parse(r.body) as { url: string }).url).toBe('/new');
    });
    const r = await request(`${web}/something`, { headers: { host: 'rewrite.bar.com' } });
    expect((JSON.parse(r.body) as { url: string }).url).toBe('/');

    // the snippet Ingress is not served, and says why
    expect((await request(`${web}/`, { headers: { host: 'snippet.bar.com' } })).status).toBe(404);
    const providers = JSON.parse((await request(`${api}/api/providers`)).body) as {
      name: string;
      diagnostics: { object: string; field: string; message: string }[];
    }[];
    const p = providers.find((x) => x.name === 'kubernetesingressnginx')!;
    const d = p.diagnostics.find((x) => x.object === 'Ingress apps/snippet');
    expect(d?.field).toContain('configuration-snippet');
    expect(d?.message).toMatch(/snippet/i);
  });

  it('writes publishStatusAddress to the status of the Ingresses it serves, through its own Lease', async () => {
    const { server } = await setup();
    server.create('Ingress', nginxIngress('plain', 'plain.bar.com', '/', {}));
    await eventually(() =>
      expect(server.get('Ingress', 'apps', 'plain')!.status?.loadBalancer?.ingress).toEqual([
        { ip: '198.51.100.4' },
      ]),
    );
    expect(server.get('Lease', 'default', 'portico-ingress-nginx-status')).toBeDefined();
  });
});
