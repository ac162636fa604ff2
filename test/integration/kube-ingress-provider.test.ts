/*
 * The Kubernetes Ingress provider end to end: Portico's runtime with
 * providers.kubernetesIngress pointed at the in-test API server (the real
 * list/watch protocol, @kubernetes/client-node unmodified), real upstreams on
 * 127.0.0.1 reached through EndpointSlices, requests through the router.
 */
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import selfsigned from 'selfsigned';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadStaticConfig } from '../../src/config/static.js';
import { runSingle, type RunningPortico } from '../../src/runtime.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';
import { request } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { eventually } from '../helpers/eventually.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function api(opts: Parameters<typeof startKubeApiServer>[0] = {}): Promise<KubeApiServer> {
  const s = await startKubeApiServer(opts);
  cleanups.push(() => s.stop());
  return s;
}

async function upstream(name: string): Promise<Upstream> {
  const u = await startUpstream(name);
  cleanups.push(() => u.close());
  return u;
}

async function portico(server: KubeApiServer, flags: string[] = []): Promise<RunningPortico> {
  const sc = loadStaticConfig({
    argv: [
      '--entryPoints.web.address=127.0.0.1:0',
      '--workers=0',
      '--log.level=fatal',
      `--providers.kubernetesIngress.endpoint=${server.url}`,
      ...flags,
    ],
    env: {},
    cwd: process.cwd(),
  });
  const run = await runSingle(sc, pino({ level: process.env.PORTICO_TEST_LOG ?? 'silent' }));
  cleanups.push(() => run.close());
  await run.ready;
  return run;
}

function service(ns: string, name: string, port = 80, portName = 'http'): object {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace: ns, name },
    spec: {
      type: 'ClusterIP',
      clusterIP: '10.96.0.10',
      ports: [{ name: portName, port, protocol: 'TCP', targetPort: portName }],
    },
  };
}

interface Ep {
  port: number;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

function slice(ns: string, svc: string, eps: Ep[], portName = 'http'): object {
  // one slice per upstream port is how tests reach several 127.0.0.1 servers:
  // a real slice has one port per name for every endpoint
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: ns, name: `${svc}-abc`, labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    ports: [{ name: portName, port: eps[0]?.port ?? 1, protocol: 'TCP' }],
    endpoints: eps.map((e) => ({
      addresses: ['127.0.0.1'],
      conditions: {
        ready: e.ready ?? true,
        serving: e.serving ?? e.ready ?? true,
        terminating: e.terminating ?? false,
      },
    })),
  };
}

function ingress(
  ns: string,
  name: string,
  rules: { host?: string; path?: string; pathType?: string; svc: string; port?: number | string }[],
  extra: { annotations?: Record<string, string>; tls?: object[]; className?: string } = {},
): object {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      namespace: ns,
      name,
      ...(extra.annotations ? { annotations: extra.annotations } : {}),
    },
    spec: {
      ...(extra.className ? { ingressClassName: extra.className } : {}),
      ...(extra.tls ? { tls: extra.tls } : {}),
      rules: rules.map((r) => ({
        ...(r.host ? { host: r.host } : {}),
        http: {
          paths: [
            {
              path: r.path ?? '/',
              pathType: r.pathType ?? 'Prefix',
              backend: {
                service: {
                  name: r.svc,
                  port: typeof r.port === 'string' ? { name: r.port } : { number: r.port ?? 80 },
                },
              },
            },
          ],
        },
      })),
    },
  };
}

async function get(
  run: RunningPortico,
  host: string,
  path = '/',
): Promise<{ status: number; upstream?: string }> {
  const r = await request(`http://127.0.0.1:${run.addresses.web!.port}${path}`, {
    headers: { host },
  });
  const up = r.headers['x-upstream'];
  return { status: r.status, ...(typeof up === 'string' ? { upstream: up } : {}) };
}

/** A self-signed EC certificate for `host`, with `org` to tell two apart. */
async function certFor(host: string, org: string): Promise<{ cert: string; key: string }> {
  const pems = await selfsigned.generate(
    [
      { name: 'commonName', value: host },
      { name: 'organizationName', value: org },
    ],
    {
      keyType: 'ec' as const,
      curve: 'P-256',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: host }] }],
    },
  );
  return { cert: pems.cert, key: pems.private };
}

function tlsSecret(ns: string, name: string, c: { cert: string; key: string }): object {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { namespace: ns, name },
    type: 'kubernetes.io/tls',
    data: {
      'tls.crt': Buffer.from(c.cert).toString('base64'),
      'tls.key': Buffer.from(c.key).toString('base64'),
    },
  };
}

/** The organization of the certificate the router presents for `servername`. */
function servedOrg(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect(
      { host: '127.0.0.1', port, servername, rejectUnauthorized: false },
      () => {
        const raw = sock.getPeerCertificate().raw;
        sock.destroy();
        const subject = new X509Certificate(raw).subject;
        resolve(/O=([^\n]+)/.exec(subject)?.[1] ?? subject);
      },
    );
    sock.on('error', reject);
  });
}

describe('Kubernetes Ingress provider, end to end', () => {
  it('serves an Ingress TLS Secret, and the rotated one without a restart', async () => {
    const server = await api();
    const a = await upstream('a');
    server.create('Service', service('apps', 'web'));
    server.create('EndpointSlice', slice('apps', 'web', [{ port: a.port }]));
    server.create('Secret', tlsSecret('apps', 'web-tls', await certFor('secure.test', 'first')));
    server.create(
      'Ingress',
      ingress('apps', 'web', [{ host: 'secure.test', svc: 'web' }], {
        tls: [{ hosts: ['secure.test'], secretName: 'web-tls' }],
      }),
    );
    const run = await portico(server);
    const port = run.addresses.web!.port;
    await eventually(async () => expect(await servedOrg(port, 'secure.test')).toBe('first'));

    const next = tlsSecret('apps', 'web-tls', await certFor('secure.test', 'second'));
    server.update('Secret', next);
    await eventually(async () => expect(await servedOrg(port, 'secure.test')).toBe('second'));
  });

  it('an Ingress created, changed and deleted is routed live', async () => {
    const server = await api();
    const a = await upstream('a');
    server.create('Service', service('apps', 'web'));
    server.create('EndpointSlice', slice('apps', 'web', [{ port: a.port }]));
    const run = await portico(server);

    expect((await get(run, 'web.example.com')).status).toBe(404);
    server.create('Ingress', ingress('apps', 'web', [{ host: 'web.example.com', svc: 'web' }]));
    await eventually(async () =>
      expect(await get(run, 'web.example.com')).toEqual({ status: 200, upstream: 'a' }),
    );

    // changed: the host moves
    const cur = server.get('Ingress', 'apps', 'web')!;
    cur.spec.rules[0].host = 'www.example.com';
    server.update('Ingress', cur);
    await eventually(async () => expect((await get(run, 'www.example.com')).status).toBe(200));
    expect((await get(run, 'web.example.com')).status).toBe(404);

    server.delete('Ingress', 'apps', 'web');
    await eventually(async () => expect((await get(run, 'www.example.com')).status).toBe(404));
  });

  it('endpoints scaled up and down; terminating endpoints leave rotation', async () => {
    const server = await api();
    const a = await upstream('a');
    const b = await upstream('b');
    server.create('Service', service('apps', 'web'));
    // two slices of the same service, one per upstream port
    const sa = slice('apps', 'web', [{ port: a.port }]) as { metadata: { name: string } };
    server.create('EndpointSlice', sa);
    server.create('Ingress', ingress('apps', 'web', [{ host: 'web.test', svc: 'web' }]));
    const run = await portico(server);
    await eventually(async () => expect((await get(run, 'web.test')).upstream).toBe('a'));

    const sb = slice('apps', 'web', [{ port: b.port }]) as { metadata: { name: string } };
    sb.metadata.name = 'web-def';
    server.create('EndpointSlice', sb);
    await eventually(async () => {
      const seen = new Set<string | undefined>();
      for (let i = 0; i < 8; i++) seen.add((await get(run, 'web.test')).upstream);
      expect([...seen].sort()).toEqual(['a', 'b']);
    });

    // a terminating (still serving) endpoint leaves rotation before its pod stops answering
    const cur = server.get('EndpointSlice', 'apps', 'web-abc')!;
    cur.endpoints[0].conditions = { ready: false, serving: true, terminating: true };
    server.update('EndpointSlice', cur);
    await eventually(async () => {
      for (let i = 0; i < 6; i++) expect((await get(run, 'web.test')).upstream).toBe('b');
    });
    expect(a.seen.length).toBeGreaterThan(0);

    // scaled to zero: no ready endpoint, the router is gone (Traefik: 404)
    server.delete('EndpointSlice', 'apps', 'web-def');
    await eventually(async () => expect((await get(run, 'web.test')).status).not.toBe(200));
  });

  it('a broken Ingress is reported by kind, name, field and reason while the others serve', async () => {
    const server = await api();
    const a = await upstream('a');
    server.create('Service', service('apps', 'web'));
    server.create('EndpointSlice', slice('apps', 'web', [{ port: a.port }]));
    server.create('Ingress', ingress('apps', 'good', [{ host: 'good.test', svc: 'web' }]));
    server.create(
      'Ingress',
      ingress('apps', 'bad', [{ host: 'bad.test', svc: 'web', port: 'nope' }]),
    );
    const run = await portico(server, [
      '--api.insecure=true',
      '--entryPoints.traefik.address=127.0.0.1:0',
    ]);
    await eventually(async () => expect((await get(run, 'good.test')).status).toBe(200));
    expect((await get(run, 'bad.test')).status).toBe(404);

    const r = await request(`http://127.0.0.1:${run.addresses.traefik!.port}/api/providers`);
    const body = JSON.parse(r.body) as unknown;
    const kube = (Array.isArray(body) ? body : (body as { providers: unknown[] }).providers).find(
      (p) => (p as { name: string }).name === 'kubernetes',
    ) as { diagnostics: { object: string; field: string; message: string; level: string }[] };
    expect(kube).toBeDefined();
    const d = kube.diagnostics.find((x) => x.object === 'Ingress apps/bad');
    expect(d).toBeDefined();
    expect(d!.field).toMatch(/^spec\.rules\[0\]\.http\.paths\[0\]\.backend\.service\.port/);
    expect(d!.message).toMatch(/nope/);
    expect(d!.level).toBe('error');
  });

  it('catches up after a watch expiry (410 Gone → re-list)', async () => {
    const server = await api();
    const a = await upstream('a');
    server.create('Service', service('apps', 'web'));
    server.create('EndpointSlice', slice('apps', 'web', [{ port: a.port }]));
    server.create('Ingress', ingress('apps', 'one', [{ host: 'one.test', svc: 'web' }]));
    const run = await portico(server);
    await eventually(async () => expect((await get(run, 'one.test')).status).toBe(200));

    // the watches miss a change, the history is compacted, the streams end:
    // the informers come back with a stale resourceVersion, get 410 and re-list
    server.pauseWatches();
    server.create('Ingress', ingress('apps', 'two', [{ host: 'two.test', svc: 'web' }]));
    server.delete('Ingress', 'apps', 'one');
    server.compact();
    server.closeWatches();
    server.resumeWatches();
    await eventually(async () => {
      expect((await get(run, 'two.test')).status).toBe(200);
      expect((await get(run, 'one.test')).status).toBe(404);
    });
    // the catch-up came from a second list, not from the (paused) watch
    const lists = server.requests.filter(
      (q) => !q.watch && q.method === 'GET' && q.path === '/apis/networking.k8s.io/v1/ingresses',
    );
    expect(lists.length).toBeGreaterThanOrEqual(2);
  });

  it('keeps serving while the API server is away and catches up when it is back', async () => {
    const server = await api();
    const a = await upstream('a');
    server.create('Service', service('apps', 'web'));
    server.create('EndpointSlice', slice('apps', 'web', [{ port: a.port }]));
    server.create('Ingress', ingress('apps', 'one', [{ host: 'one.test', svc: 'web' }]));
    const run = await portico(server, []);
    await eventually(async () => expect((await get(run, 'one.test')).status).toBe(200));

    await server.stop();
    // the last good configuration keeps serving
    for (let i = 0; i < 3; i++) expect((await get(run, 'one.test')).status).toBe(200);
    // changes made while it was away (the store outlives the listener)
    server.create('Ingress', ingress('apps', 'two', [{ host: 'two.test', svc: 'web' }]));
    await new Promise((r) => setTimeout(r, 300));
    await server.start();
    await eventually(async () => expect((await get(run, 'two.test')).status).toBe(200), {
      timeoutMs: 15_000,
    });
    expect((await get(run, 'one.test')).status).toBe(200);
  });

  it('two replicas: one elected writer puts ingressEndpoint in the Ingress status', async () => {
    const server = await api();
    const a = await upstream('a');
    server.create('Service', service('apps', 'web'));
    server.create('EndpointSlice', slice('apps', 'web', [{ port: a.port }]));
    server.create('Ingress', ingress('apps', 'web', [{ host: 'web.test', svc: 'web' }]));
    server.create('Namespace', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'portico' },
    });
    const flags = ['--providers.kubernetesIngress.ingressEndpoint.ip=203.0.113.7'];
    process.env.POD_NAMESPACE = 'portico';
    let first!: RunningPortico;
    let second!: RunningPortico;
    try {
      process.env.POD_NAME = 'replica-1';
      first = await portico(server, flags);
      process.env.POD_NAME = 'replica-2';
      second = await portico(server, flags);
    } finally {
      delete process.env.POD_NAME;
      delete process.env.POD_NAMESPACE;
    }
    await eventually(
      () =>
        expect(server.get('Ingress', 'apps', 'web')!.status?.loadBalancer?.ingress).toEqual([
          { ip: '203.0.113.7' },
        ]),
      { timeoutMs: 10_000 },
    );
    // written once: an equal status is not written again
    const writes = server.requests.filter(
      (r) => r.path.endsWith('/ingresses/web/status') && r.method !== 'GET' && r.status === 200,
    );
    expect(writes).toHaveLength(1);

    // the leader stops cleanly: it releases the Lease and the other replica takes over
    const holder = server.get('Lease', 'portico', 'portico-ingress-status')?.spec?.holderIdentity;
    expect(['replica-1', 'replica-2']).toContain(holder);
    await (holder === 'replica-1' ? first : second).close();
    await eventually(
      () =>
        expect(server.get('Lease', 'portico', 'portico-ingress-status')?.spec?.holderIdentity).toBe(
          holder === 'replica-1' ? 'replica-2' : 'replica-1',
        ),
      { timeoutMs: 10_000 },
    );
  });

  it('records a Kubernetes Event on the broken Ingress (kubectl describe shows why), once', async () => {
    const server = await api();
    const a = await upstream('a');
    server.create('Service', service('apps', 'web'));
    server.create('EndpointSlice', slice('apps', 'web', [{ port: a.port }]));
    server.create(
      'Ingress',
      ingress('apps', 'bad', [{ host: 'bad.test', svc: 'web', port: 'nope' }]),
    );
    const run = await portico(server);
    const events = (): Record<string, any>[] =>
      server.list('Event', 'apps').filter((e) => e.involvedObject?.name === 'bad');
    await eventually(() => expect(events()).toHaveLength(1));
    const ev = events()[0]!;
    expect(ev.involvedObject).toMatchObject({
      kind: 'Ingress',
      namespace: 'apps',
      name: 'bad',
      apiVersion: 'networking.k8s.io/v1',
      uid: server.get('Ingress', 'apps', 'bad')!.metadata.uid,
    });
    expect(ev.type).toBe('Warning');
    expect(ev.reason).toBe('TranslationFailed');
    expect(ev.message).toMatch(/^spec\.rules\[0\]\.http\.paths\[0\]\.backend\.service\.port.*nope/);

    // another change elsewhere re-translates: the same problem is not recorded again
    server.create('Ingress', ingress('apps', 'good', [{ host: 'good.test', svc: 'web' }]));
    await eventually(async () => expect((await get(run, 'good.test')).status).toBe(200));
    expect(events()).toHaveLength(1);
  });

  it('an Exact path wins over the root Prefix of the same host (as the Ingress spec says)', async () => {
    const server = await api();
    const a = await upstream('a');
    const b = await upstream('b');
    server.create('Service', service('apps', 'root'));
    server.create('EndpointSlice', slice('apps', 'root', [{ port: a.port }]));
    server.create('Service', service('apps', 'exact'));
    server.create('EndpointSlice', slice('apps', 'exact', [{ port: b.port }]));
    server.create(
      'Ingress',
      ingress('apps', 'site', [
        { host: 'shop.test', path: '/', pathType: 'Prefix', svc: 'root' },
        // short: by rule length alone Path("/v") is shorter than PathPrefix("/")
        { host: 'shop.test', path: '/v', pathType: 'Exact', svc: 'exact' },
      ]),
    );
    const run = await portico(server);
    await eventually(async () => expect((await get(run, 'shop.test', '/v')).upstream).toBe('b'));
    expect((await get(run, 'shop.test', '/vz')).upstream).toBe('a');
    expect((await get(run, 'shop.test', '/v/x')).upstream).toBe('a');
    expect((await get(run, 'shop.test', '/')).upstream).toBe('a');
  });
});
