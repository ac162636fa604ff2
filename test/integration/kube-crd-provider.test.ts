/*
 * The Kubernetes CRD provider end to end: Traefik's IngressRoute, Middleware
 * and TraefikService objects, as users apply them, served by Portico's
 * runtime from the in-test API server (the real list/watch protocol), with
 * real upstreams behind EndpointSlices.
 */
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import selfsigned from 'selfsigned';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadStaticConfig } from '../../src/config/static.js';
import { runSingle, type RunningPortico } from '../../src/runtime.js';
import { serviceTo } from '../helpers/kube-objects.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';
import { request } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { eventually } from '../helpers/eventually.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setup(
  flags: string[] = [],
): Promise<{ server: KubeApiServer; run: RunningPortico; a: Upstream; b: Upstream }> {
  const server = await startKubeApiServer();
  cleanups.push(() => server.stop());
  const a = await startUpstream('a');
  const b = await startUpstream('b');
  cleanups.push(
    () => a.close(),
    () => b.close(),
  );
  for (const [name, u] of [
    ['svc-a', a],
    ['svc-b', b],
  ] as const) {
    serviceTo(server, 'apps', name, u.port);
  }
  const sc = loadStaticConfig({
    argv: [
      '--entryPoints.web.address=127.0.0.1:0',
      '--workers=0',
      '--log.level=fatal',
      `--providers.kubernetesCRD.endpoint=${server.url}`,
      ...flags,
    ],
    env: {},
    cwd: process.cwd(),
  });
  const run = await runSingle(sc, pino({ level: process.env.PORTICO_TEST_LOG ?? 'silent' }));
  cleanups.push(() => run.close());
  await run.ready;
  return { server, run, a, b };
}

async function get(
  run: RunningPortico,
  host: string,
  path = '/',
): Promise<{ status: number; upstream?: string; url?: string }> {
  const r = await request(`http://127.0.0.1:${run.addresses.web!.port}${path}`, {
    headers: { host },
  });
  const up = r.headers['x-upstream'];
  let url: string | undefined;
  try {
    url = (JSON.parse(r.body) as { url?: string }).url;
  } catch {
    url = undefined;
  }
  return {
    status: r.status,
    ...(typeof up === 'string' ? { upstream: up } : {}),
    ...(url !== undefined ? { url } : {}),
  };
}

const ingressRoute = (
  name: string,
  routes: object[],
  group = 'traefik.io',
  ns = 'apps',
): object => ({
  apiVersion: `${group}/v1alpha1`,
  kind: 'IngressRoute',
  metadata: { namespace: ns, name },
  spec: { entryPoints: ['web'], routes },
});

describe('Kubernetes CRD provider, end to end', () => {
  it('an IngressRoute with a Middleware and two weighted services', async () => {
    const { server, run } = await setup();
    server.create('Middleware', {
      apiVersion: 'traefik.io/v1alpha1',
      kind: 'Middleware',
      metadata: { namespace: 'apps', name: 'strip' },
      spec: { stripPrefix: { prefixes: ['/api'] } },
    });
    server.create(
      'IngressRoute',
      ingressRoute('web', [
        {
          kind: 'Rule',
          match: 'Host(`crd.test`) && PathPrefix(`/api`)',
          middlewares: [{ name: 'strip' }],
          services: [
            { name: 'svc-a', port: 80, weight: 3 },
            { name: 'svc-b', port: 'http', weight: 1 },
          ],
        },
      ]),
    );
    await eventually(async () => expect((await get(run, 'crd.test', '/api/x')).status).toBe(200));
    const counts: Record<string, number> = {};
    for (let i = 0; i < 40; i++) {
      const r = await get(run, 'crd.test', '/api/x');
      expect(r.url).toBe('/x'); // the middleware ran
      counts[r.upstream ?? '?'] = (counts[r.upstream ?? '?'] ?? 0) + 1;
    }
    // weighted round robin 3:1 over 40 requests
    expect(counts.a).toBe(30);
    expect(counts.b).toBe(10);
  });

  it('objects of the portico.io group are served the same way', async () => {
    const { server, run } = await setup();
    server.create(
      'IngressRoute',
      ingressRoute(
        'own',
        [{ kind: 'Rule', match: 'Host(`own.test`)', services: [{ name: 'svc-b', port: 80 }] }],
        'portico.io',
      ),
    );
    await eventually(async () =>
      expect(await get(run, 'own.test')).toMatchObject({ status: 200, upstream: 'b' }),
    );
  });

  it('a cross-namespace reference is refused (by default) and reported; the rest serves', async () => {
    const { server, run } = await setup([
      '--api.insecure=true',
      '--entryPoints.traefik.address=127.0.0.1:0',
    ]);
    server.create('Middleware', {
      apiVersion: 'traefik.io/v1alpha1',
      kind: 'Middleware',
      metadata: { namespace: 'other', name: 'add' },
      spec: { addPrefix: { prefix: '/x' } },
    });
    server.create(
      'IngressRoute',
      ingressRoute('cross', [
        {
          kind: 'Rule',
          match: 'Host(`cross.test`)',
          middlewares: [{ name: 'add', namespace: 'other' }],
          services: [{ name: 'svc-a', port: 80 }],
        },
      ]),
    );
    server.create(
      'IngressRoute',
      ingressRoute('fine', [
        { kind: 'Rule', match: 'Host(`fine.test`)', services: [{ name: 'svc-a', port: 80 }] },
      ]),
    );
    await eventually(async () => expect((await get(run, 'fine.test')).status).toBe(200));
    expect((await get(run, 'cross.test')).status).toBe(404);
    const r = await request(`http://127.0.0.1:${run.addresses.traefik!.port}/api/providers`);
    const body = JSON.parse(r.body) as unknown;
    const list = (Array.isArray(body) ? body : (body as { providers: unknown[] }).providers) as {
      name: string;
      diagnostics: { object: string; field: string; message: string }[];
    }[];
    const crd = list.find((p) => p.name === 'kubernetescrd')!;
    const d = crd.diagnostics.find((x) => x.object === 'IngressRoute apps/cross');
    expect(d).toBeDefined();
    expect(d!.field).toMatch(/^spec\.routes\[0\]\.middlewares\[0\]/);
    expect(d!.message).toMatch(/namespace/i);
  });

  it('with allowCrossNamespace the reference works', async () => {
    const { server, run } = await setup(['--providers.kubernetesCRD.allowCrossNamespace=true']);
    server.create('Middleware', {
      apiVersion: 'traefik.io/v1alpha1',
      kind: 'Middleware',
      metadata: { namespace: 'other', name: 'add' },
      spec: { addPrefix: { prefix: '/x' } },
    });
    server.create(
      'IngressRoute',
      ingressRoute('cross', [
        {
          kind: 'Rule',
          match: 'Host(`cross.test`)',
          middlewares: [{ name: 'add', namespace: 'other' }],
          services: [{ name: 'svc-a', port: 80 }],
        },
      ]),
    );
    await eventually(async () =>
      expect(await get(run, 'cross.test', '/y')).toMatchObject({ status: 200, url: '/x/y' }),
    );
  });

  it('an IngressRoute with tls.secretName serves that certificate over HTTPS', async () => {
    const { server, run } = await setup();
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'secure.crd.test' }], {
      keyType: 'ec' as const,
      curve: 'P-256',
      algorithm: 'sha256',
      extensions: [
        { name: 'subjectAltName', altNames: [{ type: 2 as const, value: 'secure.crd.test' }] },
      ],
    });
    server.create('Secret', {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { namespace: 'apps', name: 'crd-tls' },
      type: 'kubernetes.io/tls',
      data: {
        'tls.crt': Buffer.from(pems.cert).toString('base64'),
        'tls.key': Buffer.from(pems.private).toString('base64'),
      },
    });
    server.create(
      'IngressRoute',
      ingressRoute('secure', [
        { kind: 'Rule', match: 'Host(`secure.crd.test`)', services: [{ name: 'svc-b', port: 80 }] },
      ]),
    );
    const cur = server.get('IngressRoute', 'apps', 'secure')!;
    cur.spec.tls = { secretName: 'crd-tls' };
    server.update('IngressRoute', cur);
    const port = run.addresses.web!.port;
    const fetchTls = (): Promise<{ cn: string; body: string }> =>
      new Promise((resolve, reject) => {
        const sock = tls.connect(
          { host: '127.0.0.1', port, servername: 'secure.crd.test', rejectUnauthorized: false },
          () => {
            const cn = new X509Certificate(sock.getPeerCertificate().raw).subject;
            sock.write('GET / HTTP/1.1\r\nhost: secure.crd.test\r\nconnection: close\r\n\r\n');
            let body = '';
            sock.on('data', (d: Buffer) => (body += d.toString()));
            sock.on('end', () => resolve({ cn, body }));
          },
        );
        sock.on('error', reject);
      });
    await eventually(async () => {
      const r = await fetchTls();
      expect(r.cn).toContain('CN=secure.crd.test');
      expect(r.body).toMatch(/^HTTP\/1\.1 200/);
      expect(r.body).toMatch(/x-upstream: b/i);
    });
  });
});
