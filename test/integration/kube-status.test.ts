/*
 * Ingress status written by one elected replica (issue 14 section 6), two
 * replicas against the test API server through @kubernetes/client-node:
 * what the status says for each ingressEndpoint form (Traefik's
 * updateIngressStatus), who writes it, and what happens when the leader goes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startKubeApiServer, type KubeApiServer, type Obj } from '../helpers/kube-apiserver.js';
import { eventually } from '../helpers/eventually.js';
import {
  createLeaderElector,
  leaseSettingsFromEnv,
  type LeaderElector,
} from '../../providers/kubernetes/lease.js';
import {
  createIngressStatusWriter,
  startIngressStatus,
  type IngressEndpoint,
  type IngressStatusWriter,
} from '../../providers/kubernetes/status.js';
import { viewOf, type KubeObject } from '../../providers/kubernetes/objects.js';

interface LogLine {
  level: string;
  o: object;
  msg: string;
}
const logger = (lines: LogLine[]) => ({
  debug: (o: object, msg: string) => lines.push({ level: 'debug', o, msg }),
  info: (o: object, msg: string) => lines.push({ level: 'info', o, msg }),
  warn: (o: object, msg: string) => lines.push({ level: 'warn', o, msg }),
  error: (o: object, msg: string) => lines.push({ level: 'error', o, msg }),
});

interface Replica {
  identity: string;
  elector: LeaderElector;
  writer: IngressStatusWriter;
  abort: AbortController;
  log: LogLine[];
}

let api: KubeApiServer | undefined;
let replicas: Replica[] = [];
let feeder: NodeJS.Timeout | undefined;
afterEach(async () => {
  clearInterval(feeder);
  for (const r of replicas) {
    await r.writer.stop();
    await r.elector.stop();
  }
  replicas = [];
  await api?.stop();
  api = undefined;
});

/** The view the provider would hand over: the cluster as it is now. */
const view = () =>
  viewOf({
    Ingress: api!.list('ingresses') as KubeObject[],
    Service: api!.list('services') as KubeObject[],
    Node: api!.list('nodes') as KubeObject[],
  });
const accepted = () =>
  api!.list('ingresses').map((o) => ({ namespace: o.metadata.namespace, name: o.metadata.name }));

function replica(
  identity: string,
  ingressEndpoint: IngressEndpoint,
  lease: { duration?: number; retry?: number } = {},
): Replica {
  const kc = api!.kubeConfig({ token: identity });
  const log: LogLine[] = [];
  const elector = createLeaderElector({
    kc,
    namespace: 'default',
    name: 'portico-leader',
    identity,
    leaseDurationSeconds: lease.duration ?? 15,
    retryPeriodSeconds: lease.retry ?? 0.2,
    logger: logger(log),
  });
  const writer = createIngressStatusWriter({
    kc,
    ingressEndpoint,
    elector,
    logger: logger(log),
    retryMs: 200,
  });
  const abort = new AbortController();
  elector.start(abort.signal);
  const r = { identity, elector, writer, abort, log };
  replicas.push(r);
  return r;
}

/** Like the provider: every replica gets a snapshot after each change (here: every 100 ms). */
function feed(): void {
  feeder = setInterval(() => {
    for (const r of replicas) r.writer.update(accepted(), view());
  }, 100);
}

const ingress = (name: string, status?: Obj): Obj => ({
  metadata: { name, namespace: 'apps' },
  spec: { rules: [{ host: `${name}.example.com` }] },
  ...(status ? { status } : {}),
});
const lbOf = (name: string): unknown =>
  api!.get('ingresses', 'apps', name)?.status?.loadBalancer?.ingress;
const statusWrites = (name?: string) =>
  api!.requests.filter(
    (r) =>
      (r.method === 'PATCH' || r.method === 'PUT') &&
      r.path.startsWith('/apis/networking.k8s.io/v1/namespaces/apps/ingresses/') &&
      r.path.endsWith('/status') &&
      (name === undefined || r.path.includes(`/ingresses/${name}/`)),
  );
const leaders = () => replicas.filter((r) => r.elector.isLeader()).map((r) => r.identity);

describe('ingress status with leader election', () => {
  it('is written by exactly one of two replicas, with the ingressEndpoint ip', async () => {
    api = await startKubeApiServer();
    api.create('ingresses', ingress('web'));
    api.create('ingresses', ingress('api'));
    replica('a', { ip: '192.0.2.10' });
    replica('b', { ip: '192.0.2.10' });
    feed();
    await eventually(() => {
      expect(lbOf('web')).toEqual([{ ip: '192.0.2.10' }]);
      expect(lbOf('api')).toEqual([{ ip: '192.0.2.10' }]);
    });
    expect(leaders()).toHaveLength(1);
    // One writer, one write per Ingress, while both replicas keep getting snapshots.
    await new Promise((r) => setTimeout(r, 500));
    expect(new Set(statusWrites().map((r) => r.token))).toEqual(new Set(leaders()));
    expect(statusWrites()).toHaveLength(2);
    expect(leaders()).toHaveLength(1);
    // The write is a merge patch on /status (the main resource would ignore it).
    expect(statusWrites()[0]?.contentType).toBe('application/merge-patch+json');
  });

  it('writes the hostname, and nothing when the status already says it', async () => {
    api = await startKubeApiServer();
    api.create(
      'ingresses',
      ingress('same', { loadBalancer: { ingress: [{ hostname: 'lb.example.com' }] } }),
    );
    api.create(
      'ingresses',
      ingress('other', { loadBalancer: { ingress: [{ ip: '192.0.2.99' }] } }),
    );
    replica('a', { hostname: 'lb.example.com' });
    feed();
    await eventually(() => expect(lbOf('other')).toEqual([{ hostname: 'lb.example.com' }]));
    expect(statusWrites('same')).toEqual([]);
    expect(statusWrites('other')).toHaveLength(1);
  });

  it('writes once while its view lags behind its own write, and again when someone else changes it', async () => {
    api = await startKubeApiServer();
    api.create('ingresses', ingress('web'));
    const a = replica('a', { ip: '192.0.2.10' });
    await eventually(() => expect(a.elector.isLeader()).toBe(true));
    const stale = view();
    a.writer.update(accepted(), stale);
    await eventually(() => expect(lbOf('web')).toEqual([{ ip: '192.0.2.10' }]));
    for (let i = 0; i < 5; i++) a.writer.update(accepted(), stale);
    await new Promise((r) => setTimeout(r, 300));
    expect(statusWrites('web')).toHaveLength(1);

    const web = api.get('ingresses', 'apps', 'web')!;
    api.update('ingresses', {
      ...web,
      status: { loadBalancer: { ingress: [{ ip: '192.0.2.66' }] } },
    });
    a.writer.update(accepted(), view());
    await eventually(() => expect(lbOf('web')).toEqual([{ ip: '192.0.2.10' }]));
    expect(statusWrites('web')).toHaveLength(2);
  });

  it('copies the published LoadBalancer Service status and follows it when it changes', async () => {
    api = await startKubeApiServer();
    api.create('services', {
      metadata: { name: 'portico', namespace: 'edge' },
      spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] },
    });
    api.create('ingresses', ingress('web'));
    const a = replica('a', { publishedService: 'edge/portico' });
    feed();
    // No load balancer address yet: nothing written, nothing failing.
    await eventually(() => expect(a.elector.isLeader()).toBe(true));
    await new Promise((r) => setTimeout(r, 300));
    expect(statusWrites()).toEqual([]);

    const svc = api.get('services', 'edge', 'portico')!;
    api.update('services', {
      ...svc,
      status: { loadBalancer: { ingress: [{ ip: '203.0.113.5' }] } },
    });
    await eventually(() => expect(lbOf('web')).toEqual([{ ip: '203.0.113.5' }]));
    const again = api.get('services', 'edge', 'portico')!;
    api.update('services', {
      ...again,
      status: { loadBalancer: { ingress: [{ hostname: 'elb.example.com' }] } },
    });
    await eventually(() => expect(lbOf('web')).toEqual([{ hostname: 'elb.example.com' }]));
    expect(a.log.filter((l) => l.level === 'error')).toEqual([]);
  });

  it.each([
    {
      type: 'ClusterIP with externalIPs',
      spec: {
        ports: [{ port: 443, protocol: 'TCP' }],
        externalIPs: ['198.51.100.1', '198.51.100.2'],
      },
      want: [
        { ip: '198.51.100.1', ports: [{ port: 443, protocol: 'TCP' }] },
        { ip: '198.51.100.2', ports: [{ port: 443, protocol: 'TCP' }] },
      ],
    },
    {
      type: 'NodePort',
      spec: { type: 'NodePort', ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }] },
      want: [{ ip: '198.51.100.7', ports: [{ port: 30080, protocol: 'TCP' }] }],
    },
    {
      type: 'ExternalName',
      spec: { type: 'ExternalName', externalName: 'edge.example.net' },
      want: [{ hostname: 'edge.example.net' }],
    },
  ])('publishes a $type Service as Traefik does', async ({ spec, want }) => {
    api = await startKubeApiServer();
    api.create('nodes', {
      metadata: { name: 'n1' },
      status: {
        addresses: [
          { type: 'InternalIP', address: '10.0.0.7' },
          { type: 'ExternalIP', address: '198.51.100.7' },
        ],
      },
    });
    api.create('services', { metadata: { name: 'portico', namespace: 'edge' }, spec });
    api.create('ingresses', ingress('web'));
    replica('a', { publishedService: 'edge/portico' });
    feed();
    await eventually(() => expect(lbOf('web')).toEqual(want));
  });

  it('reports a missing published Service without writing or throwing', async () => {
    api = await startKubeApiServer();
    api.create('ingresses', ingress('web'));
    const a = replica('a', { publishedService: 'edge/nope' });
    feed();
    await eventually(() =>
      expect(
        a.log.some((l) => l.level === 'error' && /missing service/.test(JSON.stringify(l.o))),
      ).toBe(true),
    );
    expect(statusWrites()).toEqual([]);
    // Retried every 200 ms, but reported once (then at debug).
    await eventually(() =>
      expect(
        a.log.filter((l) => l.level === 'debug' && /missing service/.test(JSON.stringify(l.o)))
          .length,
      ).toBeGreaterThan(1),
    );
    expect(
      a.log.filter((l) => l.level === 'error' && /missing service/.test(JSON.stringify(l.o))),
    ).toHaveLength(1);
  });

  it('hands over at once when the leader stops (the lease is released)', async () => {
    api = await startKubeApiServer();
    api.create('ingresses', ingress('web'));
    // A 30 s lease: a takeover within the deadline below can only come from the release.
    const a = replica('a', { ip: '192.0.2.10' }, { duration: 30 });
    await eventually(() => expect(a.elector.isLeader()).toBe(true));
    const b = replica('b', { ip: '192.0.2.10' }, { duration: 30 });
    feed();
    await eventually(() => expect(lbOf('web')).toEqual([{ ip: '192.0.2.10' }]));
    expect(b.elector.isLeader()).toBe(false);

    await a.writer.stop();
    await a.elector.stop();
    expect(a.elector.isLeader()).toBe(false);
    await eventually(() => expect(b.elector.isLeader()).toBe(true), { timeoutMs: 10_000 });
    api.create('ingresses', ingress('later'));
    await eventually(() => expect(lbOf('later')).toEqual([{ ip: '192.0.2.10' }]));
    expect(statusWrites('later').map((r) => r.token)).toEqual(['b']);
    const lease = api.get('leases', 'default', 'portico-leader')!;
    expect(lease.spec.holderIdentity).toBe('b');
    expect(lease.spec.leaseTransitions).toBeGreaterThanOrEqual(1);
  });

  it('takes over after a crashed leader stops renewing, within the lease duration', async () => {
    api = await startKubeApiServer();
    api.create('ingresses', ingress('web'));
    const a = replica('a', { ip: '192.0.2.10' }, { duration: 2 });
    await eventually(() => expect(a.elector.isLeader()).toBe(true));
    const b = replica('b', { ip: '192.0.2.10' }, { duration: 2 });
    feed();
    await eventually(() => expect(lbOf('web')).toEqual([{ ip: '192.0.2.10' }]));

    // A crash: renewals stop and nothing is released.
    a.abort.abort();
    await eventually(() => expect(a.elector.isLeader()).toBe(false));
    expect(api.get('leases', 'default', 'portico-leader')!.spec.holderIdentity).toBe('a');
    // Someone changed the status meanwhile; the new leader puts it back.
    const web = api.get('ingresses', 'apps', 'web')!;
    api.update('ingresses', {
      ...web,
      status: { loadBalancer: { ingress: [{ ip: '192.0.2.66' }] } },
    });
    await eventually(() => expect(b.elector.isLeader()).toBe(true), { timeoutMs: 15_000 });
    await eventually(() => expect(lbOf('web')).toEqual([{ ip: '192.0.2.10' }]));
    expect(statusWrites('web').map((r) => r.token)).toEqual(['a', 'b']);
  });

  it('runs elector and writer together from the pod environment, and releases on stop', async () => {
    api = await startKubeApiServer();
    api.create('ingresses', ingress('web'));
    const log: LogLine[] = [];
    const status = startIngressStatus({
      kc: api.kubeConfig(),
      ingressEndpoint: { hostname: 'edge.example.com' },
      logger: logger(log),
      env: { POD_NAMESPACE: 'edge', POD_NAME: 'portico-0' },
      lease: { retryPeriodSeconds: 0.2 },
    });
    try {
      api.create('namespaces', { metadata: { name: 'edge' } });
      await eventually(() => {
        status.update(accepted(), view());
        expect(lbOf('web')).toEqual([{ hostname: 'edge.example.com' }]);
      });
      expect(api.get('leases', 'edge', 'portico-ingress-status')?.spec.holderIdentity).toBe(
        'portico-0',
      );
    } finally {
      await status.stop();
    }
    expect(api.get('leases', 'edge', 'portico-ingress-status')?.spec.holderIdentity).toBe('');
  });

  it('names the lease and the replica from the Downward API environment', () => {
    expect(leaseSettingsFromEnv({ POD_NAMESPACE: 'edge', POD_NAME: 'portico-7d9f-abc' })).toEqual({
      namespace: 'edge',
      name: 'portico-ingress-status',
      identity: 'portico-7d9f-abc',
    });
    expect(leaseSettingsFromEnv({ HOSTNAME: 'pod-b' })).toMatchObject({
      namespace: 'default',
      identity: 'pod-b',
    });
  });

  it.each([409, 500])('logs a %i on a write and tries again', async (code) => {
    api = await startKubeApiServer();
    api.create('ingresses', ingress('web'));
    const a = replica('a', { ip: '192.0.2.10' });
    await eventually(() => expect(a.elector.isLeader()).toBe(true));
    api.failNext({ method: 'PATCH', path: '/ingresses/web/status', status: code, times: 2 });
    // One snapshot only: the retry must come from the writer itself.
    a.writer.update(accepted(), view());
    await eventually(() => expect(lbOf('web')).toEqual([{ ip: '192.0.2.10' }]));
    expect(statusWrites('web').map((r) => r.status)).toEqual([code, code, 200]);
    const errors = a.log.filter((l) => l.level === 'error');
    expect(errors[0]?.o).toMatchObject({ kind: 'Ingress', namespace: 'apps', name: 'web' });
  });

  it('stops leading before the lease expires when renewals hang', async () => {
    api = await startKubeApiServer();
    const a = replica('a', { ip: '192.0.2.10' }, { duration: 3 });
    await eventually(() => expect(a.elector.isLeader()).toBe(true));
    // Every Lease request from now on hangs (or drops): no renewal can succeed.
    api.failNext({ path: '/leases/portico-leader', status: 0, hang: true, times: 1000 });
    await eventually(() => expect(a.elector.isLeader()).toBe(false), { timeoutMs: 10_000 });
    expect(a.log.some((l) => l.msg === 'lease lost or not renewed in time')).toBe(true);
  });

  it('gives up on a write that hangs: stop() does not wait for it, and the next try writes', async () => {
    api = await startKubeApiServer();
    api.create('ingresses', ingress('web'));
    const a = replica('a', { ip: '192.0.2.10' });
    const hung = createIngressStatusWriter({
      kc: api.kubeConfig({ token: 'a' }),
      ingressEndpoint: { ip: '192.0.2.10' },
      elector: a.elector,
      logger: logger(a.log),
      retryMs: 100,
      requestTimeoutMs: 300,
    });
    await eventually(() => expect(a.elector.isLeader()).toBe(true));
    api.failNext({ method: 'PATCH', path: '/ingresses/web/status', status: 0, hang: true });
    hung.update(accepted(), view());
    await eventually(() => expect(lbOf('web')).toEqual([{ ip: '192.0.2.10' }]));
    expect(statusWrites('web').map((r) => r.status)).toEqual([0, 200]);
    expect(a.log.some((l) => /timed out/.test(JSON.stringify(l.o)))).toBe(true);

    api.failNext({ method: 'PATCH', path: '/ingresses/web/status', status: 0, hang: true });
    const web = api.get('ingresses', 'apps', 'web')!;
    api.update('ingresses', { ...web, status: {} });
    hung.update(accepted(), view());
    await eventually(() => expect(statusWrites('web')).toHaveLength(3));
    const t0 = Date.now();
    await hung.stop();
    // Bounded by the request deadline (300 ms), not by the hung request; generous bound.
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('steps down while the API server is away and leads again once it is back', async () => {
    api = await startKubeApiServer();
    api.create('ingresses', ingress('web'));
    const a = replica('a', { ip: '192.0.2.10' }, { duration: 3 });
    await eventually(() => expect(a.elector.isLeader()).toBe(true));
    await api.stop();
    await eventually(() => expect(a.elector.isLeader()).toBe(false), { timeoutMs: 10_000 });
    await api.start();
    // Still the holder on record: it takes its own Lease back at once.
    await eventually(() => expect(a.elector.isLeader()).toBe(true), { timeoutMs: 10_000 });
    a.writer.update(accepted(), view());
    await eventually(() => expect(lbOf('web')).toEqual([{ ip: '192.0.2.10' }]));
  });

  it('keeps the leader through a short API outage and writes nothing while it follows', async () => {
    api = await startKubeApiServer();
    api.create('ingresses', ingress('web'));
    const a = replica('a', { ip: '192.0.2.10' }, { duration: 15 });
    await eventually(() => expect(a.elector.isLeader()).toBe(true));
    // A 500 on one renewal is not the end of the term (renewDeadline is 10 s).
    api.failNext({ path: '/leases/portico-leader', status: 500, times: 2 });
    await eventually(() =>
      expect(a.log.some((l) => l.msg === 'lease election failed, retrying')).toBe(true),
    );
    expect(a.elector.isLeader()).toBe(true);
    const b = replica('b', { ip: '192.0.2.10' }, { duration: 15 });
    b.writer.update(accepted(), view());
    await new Promise((r) => setTimeout(r, 500));
    expect(b.elector.isLeader()).toBe(false);
    expect(statusWrites().filter((r) => r.token === 'b')).toEqual([]);
  });
});
