/*
 * The test Kubernetes API server (test/helpers/kube-apiserver.ts) proved
 * against the real, unmodified @kubernetes/client-node: if these pass, the
 * providers' tests exercise the client the way a real cluster would (issue 14,
 * ../shared/TESTENV-kubernetes.md sections 2, 4 and 5).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';
import selfsigned from 'selfsigned';
import { createKubeClient } from '../../providers/kubernetes/client.js';
import { startKubeApiServer, type KubeApiServer, type Obj } from '../helpers/kube-apiserver.js';
import { eventually } from '../helpers/eventually.js';

const execFileAsync = promisify(execFile);

let api: KubeApiServer | undefined;
const informers: k8s.Informer<k8s.KubernetesObject>[] = [];
afterEach(async () => {
  for (const i of informers.splice(0)) await i.stop();
  await api?.stop();
  api = undefined;
});

const ingress = (ns: string, name: string, labels?: Record<string, string>): k8s.V1Ingress => ({
  metadata: { name, namespace: ns, ...(labels ? { labels } : {}) },
  spec: { rules: [{ host: `${name}.example.com` }] },
});

/** Start an Ingress informer over every namespace and record its callbacks. */
async function ingressInformer(kc: k8s.KubeConfig, labelSelector?: string) {
  const net = kc.makeApiClient(k8s.NetworkingV1Api);
  // makeInformer builds a ListWatch; its latestResourceVersion() tells when the cache caught up.
  const informer = k8s.makeInformer<k8s.V1Ingress>(
    kc,
    '/apis/networking.k8s.io/v1/ingresses',
    () => net.listIngressForAllNamespaces(labelSelector ? { labelSelector } : {}),
    labelSelector,
  ) as k8s.ListWatch<k8s.V1Ingress>;
  const seen: string[] = [];
  const errors: unknown[] = [];
  informer.on(k8s.ADD, (o) => seen.push(`add ${o.metadata?.name}`));
  informer.on(k8s.UPDATE, (o) => seen.push(`update ${o.metadata?.name}`));
  informer.on(k8s.DELETE, (o) => seen.push(`delete ${o.metadata?.name}`));
  informer.on(k8s.ERROR, (e) => errors.push(e));
  informers.push(informer as unknown as k8s.Informer<k8s.KubernetesObject>);
  await informer.start();
  return { informer, seen, errors };
}

const names = (list: readonly k8s.V1Ingress[]): string[] =>
  list.map((o) => o.metadata!.name!).sort();

describe('fake kube-apiserver with @kubernetes/client-node', () => {
  it('serves typed list, create, replace and the status subresource', async () => {
    api = await startKubeApiServer();
    const kc = api.kubeConfig();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const net = kc.makeApiClient(k8s.NetworkingV1Api);

    await core.createNamespace({ body: { metadata: { name: 'apps' } } });
    const created = await net.createNamespacedIngress({
      namespace: 'apps',
      body: ingress('apps', 'web'),
    });
    expect(created.metadata?.uid).toBeTruthy();
    expect(created.metadata?.generation).toBe(1);

    const list = await net.listNamespacedIngress({ namespace: 'apps' });
    expect(names(list.items)).toEqual(['web']);
    expect(list.metadata?.resourceVersion).toBe(String(api.rv()));
    // Built-in list items carry no kind (kubernetes#3030): the raw JSON says so.
    const raw = (await (
      await fetch(`${api.url}/apis/networking.k8s.io/v1/namespaces/apps/ingresses`)
    ).json()) as {
      items: { kind?: string }[];
    };
    expect(raw.items[0]?.kind).toBeUndefined();

    // The main resource ignores .status; the /status subresource changes only .status.
    const withStatus = { ...created, status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } } };
    const replaced = await net.replaceNamespacedIngress({
      name: 'web',
      namespace: 'apps',
      body: withStatus,
    });
    expect(replaced.status?.loadBalancer?.ingress ?? []).toEqual([]);
    expect(replaced.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion); // no-op write
    const statusWritten = await net.replaceNamespacedIngressStatus({
      name: 'web',
      namespace: 'apps',
      body: withStatus,
    });
    expect(statusWritten.status?.loadBalancer?.ingress).toEqual([{ ip: '192.0.2.1' }]);
    expect(statusWritten.metadata?.generation).toBe(1);

    // Merge patch on /status, as the status writer sends it.
    const patched = await net.patchNamespacedIngressStatus(
      {
        name: 'web',
        namespace: 'apps',
        body: { status: { loadBalancer: { ingress: [{ hostname: 'lb.example.com' }] } } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    expect(patched.status?.loadBalancer?.ingress).toEqual([{ hostname: 'lb.example.com' }]);
    // JSON patch (the client's default content type) on the main resource bumps the generation.
    const jp = await net.patchNamespacedIngress({
      name: 'web',
      namespace: 'apps',
      body: [{ op: 'replace', path: '/spec/rules/0/host', value: 'www.example.com' }],
    });
    expect(jp.spec?.rules?.[0]?.host).toBe('www.example.com');
    expect(jp.metadata?.generation).toBe(2);

    // A stale resourceVersion is a 409 Conflict; a missing object a 404; apply is 415.
    await expect(
      net.replaceNamespacedIngress({ name: 'web', namespace: 'apps', body: created }),
    ).rejects.toMatchObject({
      code: 409,
    });
    await expect(
      net.readNamespacedIngress({ name: 'nope', namespace: 'apps' }),
    ).rejects.toMatchObject({ code: 404 });
    await expect(
      net.patchNamespacedIngress(
        { name: 'web', namespace: 'apps', body: {} },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply),
      ),
    ).rejects.toMatchObject({ code: 415 });
    await expect(
      net.createNamespacedIngress({ namespace: 'apps', body: ingress('apps', 'web') }),
    ).rejects.toMatchObject({
      code: 409,
    });
    await expect(
      net.createNamespacedIngress({ namespace: 'ghost', body: ingress('ghost', 'x') }),
    ).rejects.toMatchObject({
      code: 404,
    });
    await net.deleteNamespacedIngress({ name: 'web', namespace: 'apps' });
    expect(api.get('ingresses', 'apps', 'web')).toBeUndefined();
  });

  it('feeds an informer its adds, updates and deletes, and resumes after a watch timeout without a re-list', async () => {
    api = await startKubeApiServer({ watchTimeoutSeconds: 1 });
    api.create('ingresses', ingress('apps', 'keep'));
    const { informer, seen, errors } = await ingressInformer(api.kubeConfig());
    expect(names(informer.list())).toEqual(['keep']);

    api.create('ingresses', ingress('apps', 'new'));
    const keep = api.get('ingresses', 'apps', 'keep')!;
    api.update('ingresses', { ...keep, spec: { rules: [{ host: 'changed.example.com' }] } });
    api.delete('ingresses', 'apps', 'new');
    await eventually(() => expect(informer.latestResourceVersion()).toBe(String(api!.rv())));
    expect(seen).toEqual(['add keep', 'add new', 'update keep', 'delete new']);

    // The server ends the watch after 1 s; the client watches again from its last event's RV.
    const lastRv = String(api.rv());
    await eventually(
      () =>
        expect(
          api!.requests.filter(
            (r) => r.watch && r.query.resourceVersion === lastRv && r.status === 200,
          ).length,
        ).toBeGreaterThan(0),
      { timeoutMs: 10_000 },
    );
    api.create('ingresses', ingress('apps', 'after'));
    await eventually(() => expect(names(informer.list())).toEqual(['after', 'keep']));
    expect(api.requests.filter((r) => !r.watch && r.method === 'GET').length).toBe(1);
    expect(errors).toEqual([]);
  });

  it.each(['event', 'http'] as const)(
    'forces a 410 re-list (%s) that brings the cache back in step',
    async (mode) => {
      api = await startKubeApiServer();
      api.setWatch410Mode(mode);
      api.create('ingresses', ingress('apps', 'keep'));
      api.create('ingresses', ingress('apps', 'edit'));
      api.create('ingresses', ingress('apps', 'gone'));
      const { informer, seen } = await ingressInformer(api.kubeConfig());
      seen.length = 0;

      // TESTENV §5: pause, mutate, compact, close — the client comes back with a stale RV.
      api.pauseWatches();
      api.create('ingresses', ingress('apps', 'born'));
      const edit = api.get('ingresses', 'apps', 'edit')!;
      api.update('ingresses', { ...edit, spec: { rules: [{ host: 'edited.example.com' }] } });
      api.delete('ingresses', 'apps', 'gone');
      api.compact();
      api.closeWatches();

      await eventually(() => expect(names(informer.list())).toEqual(['born', 'edit', 'keep']));
      expect(informer.get('edit', 'apps')?.spec?.rules?.[0]?.host).toBe('edited.example.com');
      expect(seen).toContain('delete gone');
      expect(seen).toContain('add born');
      expect(api.requests.filter((r) => !r.watch && r.method === 'GET').length).toBe(2);
      expect(
        api.requests.some(
          (r) => r.watch && (mode === 'http' ? r.status === 410 : r.status === 200),
        ),
      ).toBe(true);
    },
  );

  it('turns label selector transitions into ADDED and DELETED', async () => {
    api = await startKubeApiServer();
    api.create('ingresses', ingress('apps', 'a', { tier: 'edge' }));
    api.create('ingresses', ingress('apps', 'b', { tier: 'internal' }));
    const { informer, seen } = await ingressInformer(api.kubeConfig(), 'tier in (edge),!skip');
    expect(names(informer.list())).toEqual(['a']);

    const b = api.get('ingresses', 'apps', 'b')!;
    api.update('ingresses', { ...b, metadata: { ...b.metadata, labels: { tier: 'edge' } } });
    const a = api.get('ingresses', 'apps', 'a')!;
    api.update('ingresses', {
      ...a,
      metadata: { ...a.metadata, labels: { tier: 'edge', skip: 'yes' } },
    });
    await eventually(() => expect(names(informer.list())).toEqual(['b']));
    expect(seen).toEqual(['add a', 'add b', 'delete a']);
    // The watch carried the selector, and a field selector works on a list.
    expect(api.requests.find((r) => r.watch)?.query.labelSelector).toBe('tier in (edge),!skip');
    const net = api.kubeConfig().makeApiClient(k8s.NetworkingV1Api);
    const byName = await net.listIngressForAllNamespaces({ fieldSelector: 'metadata.name=a' });
    expect(names(byName.items)).toEqual(['a']);
  });

  it('lets one of two racing Lease creates win and refuses a millisecond MicroTime', async () => {
    api = await startKubeApiServer();
    const co = api.kubeConfig().makeApiClient(k8s.CoordinationV1Api);
    const lease = (holder: string): k8s.V1Lease => ({
      metadata: { name: 'portico-leader', namespace: 'default' },
      spec: { holderIdentity: holder, leaseDurationSeconds: 15, renewTime: new k8s.V1MicroTime() },
    });
    const results = await Promise.allSettled([
      co.createNamespacedLease({ namespace: 'default', body: lease('a') }),
      co.createNamespacedLease({ namespace: 'default', body: lease('b') }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toMatchObject({ code: 409 });

    const current = await co.readNamespacedLease({ name: 'portico-leader', namespace: 'default' });
    // MicroTime comes back as a string with six fractional digits.
    expect(String(current.spec?.renewTime)).toMatch(/\.\d{6}Z$/);
    const res = await fetch(
      `${api.url}/apis/coordination.k8s.io/v1/namespaces/default/leases/portico-leader`,
      {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          ...current,
          spec: { ...current.spec, renewTime: new Date().toISOString() },
        }),
      },
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(((await res.json()) as { message: string }).message).toContain(
      '2006-01-02T15:04:05.000000Z07:00',
    );

    // Two replaces from the same read: one wins, one gets 409 Conflict.
    const again = await Promise.allSettled(
      ['a', 'b'].map((h) =>
        co.replaceNamespacedLease({
          name: 'portico-leader',
          namespace: 'default',
          body: {
            ...current,
            spec: { ...current.spec, holderIdentity: h, renewTime: new k8s.V1MicroTime() },
          },
        }),
      ),
    );
    expect(again.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
  });

  it('answers discovery so KubernetesObjectApi can list custom resources in both groups', async () => {
    api = await startKubeApiServer();
    api.create('traefik.io/middlewares', {
      apiVersion: 'traefik.io/v1alpha1',
      kind: 'Middleware',
      metadata: { name: 'strip', namespace: 'apps' },
      spec: { stripPrefix: { prefixes: ['/api'] } },
    });
    api.create('Middleware', {
      apiVersion: 'portico.io/v1alpha1',
      kind: 'Middleware',
      metadata: { name: 'own', namespace: 'apps' },
      spec: {},
    });
    const objects = k8s.KubernetesObjectApi.makeApiClient(api.kubeConfig());
    const traefik = await objects.list('traefik.io/v1alpha1', 'Middleware', 'apps');
    expect(traefik.items.map((o) => o.metadata?.name)).toEqual(['strip']);
    // Custom resource items keep kind/apiVersion.
    expect(traefik.items[0]?.kind).toBe('Middleware');
    const portico = await objects.list('portico.io/v1alpha1', 'Middleware', 'apps');
    expect(portico.items.map((o) => o.metadata?.name)).toEqual(['own']);
    expect(api.requests.some((r) => r.path === '/apis/traefik.io/v1alpha1')).toBe(true);
    const custom = api.kubeConfig().makeApiClient(k8s.CustomObjectsApi);
    const routes = (await custom.listClusterCustomObject({
      group: 'traefik.io',
      version: 'v1alpha1',
      plural: 'ingressroutes',
    })) as {
      items: unknown[];
    };
    expect(routes.items).toEqual([]);
    const groups = (await (await fetch(`${api.url}/apis`)).json()) as {
      groups: { name: string }[];
    };
    expect(groups.groups.map((g) => g.name)).toEqual(
      expect.arrayContaining(['traefik.io', 'portico.io', 'coordination.k8s.io']),
    );
  });

  it('keeps its objects across a restart on the same port, and the informer errors then recovers when started again', async () => {
    api = await startKubeApiServer();
    api.create('ingresses', ingress('apps', 'web'));
    const { informer, errors } = await ingressInformer(api.kubeConfig());
    const port = api.port;
    await api.stop();
    await eventually(() => expect(errors.length).toBeGreaterThan(0));
    await api.start();
    expect(api.port).toBe(port);
    api.create('ingresses', ingress('apps', 'second'));
    await informer.start();
    await eventually(() => expect(names(informer.list())).toEqual(['second', 'web']));
  });
});

/** Open a raw watch and collect its lines until the server ends the stream. */
async function rawWatch(
  url: string,
): Promise<{ status: number; lines: () => unknown[]; done: Promise<void> }> {
  const res = await fetch(url);
  const collected: unknown[] = [];
  let buf = '';
  const done = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        collected.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
    }
  })();
  return { status: res.status, lines: () => collected, done };
}

describe('fake kube-apiserver wire protocol', () => {
  it('sends bookmarks only when asked, and ends the watch at timeoutSeconds', async () => {
    api = await startKubeApiServer({ bookmarkIntervalMs: 100 });
    api.create('ingresses', ingress('apps', 'web'));
    const base = `${api.url}/apis/networking.k8s.io/v1/ingresses?watch=true`;
    const plain = await rawWatch(`${base}&timeoutSeconds=1`);
    const marked = await rawWatch(
      `${base}&timeoutSeconds=1&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan`,
    );
    await Promise.all([plain.done, marked.done]);
    const types = (w: { lines: () => unknown[] }) =>
      w.lines().map((l) => (l as { type: string }).type);
    expect(types(plain)).toEqual(['ADDED']);
    expect(types(marked).slice(0, 2)).toEqual(['ADDED', 'BOOKMARK']);
    expect(types(marked).filter((t) => t === 'BOOKMARK').length).toBeGreaterThan(2);
    const initialEnd = marked.lines()[1] as { object: { metadata: Record<string, unknown> } };
    expect(initialEnd.object.metadata).toEqual({
      resourceVersion: String(api.rv()),
      annotations: { 'k8s.io/initial-events-end': 'true' },
    });
  });

  it('replays from a resourceVersion, follows field selectors, and stamps a DELETED with its own RV', async () => {
    api = await startKubeApiServer();
    const from = api.rv();
    api.create('ingresses', ingress('apps', 'a'));
    api.create('ingresses', ingress('other', 'a'));
    api.delete('ingresses', 'apps', 'a');
    const w = await rawWatch(
      `${api.url}/apis/networking.k8s.io/v1/ingresses?watch=true&timeoutSeconds=1&resourceVersion=${from}&fieldSelector=metadata.namespace%3Dapps,metadata.name%3Da`,
    );
    await w.done;
    const events = w.lines() as {
      type: string;
      object: { kind: string; metadata: { namespace: string; resourceVersion: string } };
    }[];
    expect(events.map((e) => `${e.type} ${e.object.metadata.namespace}`)).toEqual([
      'ADDED apps',
      'DELETED apps',
    ]);
    expect(events[1]?.object.metadata.resourceVersion).toBe(String(api.rv()));
    // Watched objects carry kind and apiVersion.
    expect(events[0]?.object.kind).toBe('Ingress');
  });

  it('pages lists with limit and continue, deletes collections by selector, and cascades namespaces', async () => {
    api = await startKubeApiServer();
    for (const n of ['a', 'b', 'c'])
      api.create('configmaps', { metadata: { name: n, namespace: 'apps', labels: { n } } });
    const core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
    const first = await core.listNamespacedConfigMap({ namespace: 'apps', limit: 2 });
    expect(first.items.map((o) => o.metadata?.name)).toEqual(['a', 'b']);
    expect(first.metadata?.remainingItemCount).toBe(1);
    const rest = await core.listNamespacedConfigMap({
      namespace: 'apps',
      limit: 2,
      _continue: first.metadata!._continue!,
    });
    expect(rest.items.map((o) => o.metadata?.name)).toEqual(['c']);
    expect(rest.metadata?._continue).toBeUndefined();

    await core.deleteCollectionNamespacedConfigMap({
      namespace: 'apps',
      labelSelector: 'n in (a,b)',
    });
    expect(api.list('configmaps', 'apps').map((o) => o.metadata.name)).toEqual(['c']);
    await core.deleteNamespace({ name: 'apps' });
    expect(api.list('configmaps')).toEqual([]);
    // A namespace that does not exist lists as empty, like a real server.
    expect((await core.listNamespacedConfigMap({ namespace: 'apps' })).items).toEqual([]);
  });

  it('refuses bodies it cannot read with 415, and unknown paths with a 404 Status', async () => {
    api = await startKubeApiServer();
    const post = await fetch(`${api.url}/api/v1/namespaces/default/configmaps`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.kubernetes.protobuf' },
      body: 'k8s\0',
    });
    expect(post.status).toBe(415);
    // Injected faults: a dropped connection, then a 429 on watches only.
    api.failNext({ path: '/configmaps', status: 0 });
    await expect(fetch(`${api.url}/api/v1/configmaps`)).rejects.toThrow();
    api.failNext({ watch: true, status: 429 });
    expect((await fetch(`${api.url}/api/v1/configmaps`)).status).toBe(200);
    expect((await fetch(`${api.url}/api/v1/configmaps?watch=true`)).status).toBe(429);
    const missing = await fetch(`${api.url}/apis/example.com/v1/widgets`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/json');
    expect(await missing.json()).toMatchObject({ kind: 'Status', status: 'Failure', code: 404 });
  });

  it('leaves out groups whose CRDs are not installed, until they are', async () => {
    api = await startKubeApiServer({ omitGroups: ['portico.io'] });
    const custom = api.kubeConfig().makeApiClient(k8s.CustomObjectsApi);
    const list = () =>
      custom.listClusterCustomObject({
        group: 'portico.io',
        version: 'v1alpha1',
        plural: 'middlewares',
      });
    await expect(list()).rejects.toMatchObject({ code: 404 });
    const groups = (await (await fetch(`${api.url}/apis`)).json()) as {
      groups: { name: string }[];
    };
    expect(groups.groups.map((g) => g.name)).not.toContain('portico.io');
    api.serveGroup('portico.io', true);
    expect(await list()).toMatchObject({ items: [] });
  });

  it('starts a new server on the same port with the same store', async () => {
    const first = await startKubeApiServer();
    first.create('ingresses', ingress('apps', 'web'));
    const { port, store } = first;
    const rv = first.rv();
    await first.stop();
    api = await startKubeApiServer({ port, store });
    expect(api.port).toBe(port);
    const net = api.kubeConfig().makeApiClient(k8s.NetworkingV1Api);
    const list = await net.listIngressForAllNamespaces();
    expect(names(list.items)).toEqual(['web']);
    expect(list.metadata?.resourceVersion).toBe(String(rv));
  });
});

describe('fake kube-apiserver over HTTPS with a required token', () => {
  async function tlsPair(): Promise<{ cert: string; key: string }> {
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'kubernetes' }], {
      keyType: 'ec' as const,
      curve: 'P-256',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7 as const, ip: '127.0.0.1' }] }],
    });
    return { cert: pems.cert, key: pems.private };
  }

  it('verifies the server against the CA and refuses other tokens with 401', async () => {
    api = await startKubeApiServer({ tls: await tlsPair(), token: 's3cret' });
    expect(api.url).toMatch(/^https:/);
    const net = api.kubeConfig().makeApiClient(k8s.NetworkingV1Api);
    expect((await net.listIngressForAllNamespaces()).items).toEqual([]);
    const wrong = api.kubeConfig({ token: 'guess' }).makeApiClient(k8s.NetworkingV1Api);
    await expect(wrong.listIngressForAllNamespaces()).rejects.toMatchObject({ code: 401 });
    // Another CA: the TLS handshake fails before any request is logged.
    const other = new k8s.KubeConfig();
    other.loadFromOptions({
      clusters: [
        {
          name: 'c',
          server: api.url,
          caData: Buffer.from((await tlsPair()).cert).toString('base64'),
        },
      ],
      users: [{ name: 'u', token: 's3cret' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const before = api.requests.length;
    await expect(
      other.makeApiClient(k8s.NetworkingV1Api).listIngressForAllNamespaces(),
    ).rejects.toThrow();
    expect(api.requests.length).toBe(before);
  });

  it("serves the providers' in-cluster client (service account token and CA files)", async () => {
    const pair = await tlsPair();
    api = await startKubeApiServer({ tls: pair, token: 'sa-token' });
    api.create('ingresses', ingress('apps', 'web'));
    const root = mkdtempSync(join(tmpdir(), 'sa-'));
    const sa = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'token'), 'sa-token');
    writeFileSync(join(sa, 'ca.crt'), pair.cert);
    writeFileSync(join(sa, 'namespace'), 'portico');
    try {
      const client = createKubeClient(
        {},
        { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) },
        root,
      );
      expect(client.mode).toBe('in-cluster');
      const net = client.kc.makeApiClient(k8s.NetworkingV1Api);
      expect(names((await net.listIngressForAllNamespaces()).items)).toEqual(['web']);
      expect(api.requests.at(-1)).toMatchObject({ token: 'sa-token', status: 200 });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('fake kube-apiserver with kubectl', () => {
  const kubectl = '/usr/bin/kubectl';
  it.skipIf(!existsSync(kubectl))(
    'takes kubectl apply (discovery, OpenAPI v3 field validation, strategic and merge patches)',
    async () => {
      api = await startKubeApiServer();
      const dir = mkdtempSync(join(tmpdir(), 'kubectl-'));
      const kubeconfig = join(dir, 'config');
      writeFileSync(
        kubeconfig,
        [
          'apiVersion: v1',
          'kind: Config',
          `clusters: [{name: fake, cluster: {server: "${api.url}"}}]`,
          'users: [{name: t, user: {token: any}}]',
          'contexts: [{name: fake, context: {cluster: fake, user: t, namespace: default}}]',
          'current-context: fake',
        ].join('\n'),
      );
      const manifest = (host: string, replicas: number, image: string, env: string[]): string => `
apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: sidecar, image: "log:1"}
      - name: web
        image: "${image}"
        ports: [{containerPort: 80, name: http}]
        env: [${env.map((e) => `{name: ${e}, value: "1"}`).join(', ')}]
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: web, namespace: apps}
spec:
  routes: [{match: "Host(\`${host}\`)", kind: Rule, services: [{name: web, port: 80}]}]
`;
      const file = join(dir, 'm.yaml');
      const apply = async (): Promise<string> => {
        const { stdout } = await execFileAsync(kubectl, ['apply', '-f', file], {
          env: { ...process.env, KUBECONFIG: kubeconfig },
          timeout: 20_000,
        });
        return stdout;
      };
      writeFileSync(file, manifest('a.example.com', 1, 'whoami:1', ['A', 'B']));
      expect(await apply()).toContain('ingressroute.traefik.io/web created');
      writeFileSync(file, manifest('b.example.com', 3, 'whoami:2', ['A', 'B', 'C']));
      const second = await apply();
      expect(second).toContain('deployment.apps/web configured');
      expect(second).toContain('ingressroute.traefik.io/web configured');
      expect(api.get('deployments', 'apps', 'web')?.spec.replicas).toBe(3);
      expect(api.get('ingressroutes', 'apps', 'web')?.spec.routes[0].match).toBe(
        'Host(`b.example.com`)',
      );
      const patches = api.requests.filter((r) => r.method === 'PATCH').map((r) => r.contentType);
      expect(patches.sort()).toEqual([
        'application/merge-patch+json',
        'application/strategic-merge-patch+json',
      ]);
      // The strategic patch changed one container and one list element by merge key.
      const container = (n: string) =>
        (api!.get('deployments', 'apps', 'web')?.spec.template.spec.containers as Obj[]).find(
          (c) => c.name === n,
        );
      expect(container('web')).toEqual({
        name: 'web',
        image: 'whoami:2',
        ports: [{ containerPort: 80, name: 'http' }],
        env: ['A', 'B', 'C'].map((name) => ({ name, value: '1' })),
      });
      expect(container('sidecar')).toEqual({ name: 'sidecar', image: 'log:1' });
      writeFileSync(file, manifest('b.example.com', 3, 'whoami:2', ['C', 'A']));
      await apply();
      expect(container('web')?.env).toEqual([
        { name: 'C', value: '1' },
        { name: 'A', value: '1' },
      ]);
      rmSync(dir, { recursive: true, force: true });
    },
  );
});
