/*
 * Gateway API status written by the Lease holder only (issue 15 item 2),
 * replicas against the test API server through @kubernetes/client-node: what
 * lands on GatewayClass, Gateway and route `/status`, the metav1.Condition
 * rules the spec's "notes for implementors" set (lastTransitionTime moves only
 * when a condition's status does, observedGeneration, other types kept), a
 * route's parents entries of other controllers kept, no write when nothing
 * changed, leader handover, and conflicts / errors retried.
 *
 * The reports are written by hand here: the translator (translate.ts) is
 * tested on its own; this file checks what the writer does with its output.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  KUBE_TYPES,
  startKubeApiServer,
  type KubeApiServer,
  type Obj,
} from '../helpers/kube-apiserver.js';
import { eventually } from '../helpers/eventually.js';
import { createLeaderElector, type LeaderElector } from '../../providers/kubernetes/lease.js';
import {
  createGatewayStatusWriter,
  type GatewayStatusWriter,
} from '../../providers/kubernetes/gateway/status.js';
import type {
  Condition,
  GatewayStatusReport,
  RouteKind,
} from '../../providers/kubernetes/gateway/model.js';
import { GATEWAY_GROUP, viewOf, type KubeObject } from '../../providers/kubernetes/objects.js';

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
  writer: GatewayStatusWriter;
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

const OURS = 'portico.io/gateway-controller';
const OTHER = 'example.net/gateway-controller';
const RFC3339_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const OLD = '2020-01-02T03:04:05Z';

/** The view the provider would hand over: the cluster as it is now. */
const view = () =>
  viewOf({
    GatewayClass: api!.list('gatewayclasses') as KubeObject[],
    Gateway: api!.list('gateways') as KubeObject[],
    HTTPRoute: api!.list('httproutes') as KubeObject[],
    GRPCRoute: api!.list('grpcroutes') as KubeObject[],
    TLSRoute: api!.list('tlsroutes') as KubeObject[],
    TCPRoute: api!.list('tcproutes') as KubeObject[],
  });

function replica(identity: string, lease: { duration?: number } = {}): Replica {
  const kc = api!.kubeConfig({ token: identity });
  const log: LogLine[] = [];
  const elector = createLeaderElector({
    kc,
    namespace: 'default',
    name: 'portico-leader',
    identity,
    leaseDurationSeconds: lease.duration ?? 15,
    retryPeriodSeconds: 0.2,
    logger: logger(log),
  });
  const writer = createGatewayStatusWriter({ kc, elector, logger: logger(log), retryMs: 200 });
  elector.start();
  const r = { identity, elector, writer, log };
  replicas.push(r);
  return r;
}

/** Like the provider: every replica gets the report and a snapshot after each change (here: every 100 ms). */
function feed(report: () => GatewayStatusReport): void {
  feeder = setInterval(() => {
    for (const r of replicas) r.writer.update(report(), view());
  }, 100);
}

const cond = (
  type: string,
  status: Condition['status'],
  reason: string,
  message = '',
): Condition => ({ type, status, reason, message });

const ROUTE_PLURALS: Record<RouteKind, string> = {
  HTTPRoute: 'httproutes',
  GRPCRoute: 'grpcroutes',
  TLSRoute: 'tlsroutes',
  TCPRoute: 'tcproutes',
};

function cluster(): void {
  api!.create('gatewayclasses', {
    metadata: { name: 'portico' },
    spec: { controllerName: OURS },
  });
  api!.create('gateways', {
    metadata: { name: 'gw', namespace: 'apps' },
    spec: {
      gatewayClassName: 'portico',
      listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }],
    },
  });
  for (const [kind, plural] of Object.entries(ROUTE_PLURALS)) {
    api!.create(plural, {
      metadata: { name: kind.toLowerCase(), namespace: 'apps' },
      spec: { parentRefs: [{ name: 'gw' }] },
    });
  }
}

const routeParent = (conditions: Condition[], sectionName?: string) => ({
  parentRef: { name: 'gw', ...(sectionName ? { sectionName } : {}) },
  controllerName: OURS,
  conditions,
});

function report(programmed: Condition['status'] = 'True'): GatewayStatusReport {
  return {
    gatewayClasses: [
      {
        name: 'portico',
        conditions: [cond('Accepted', 'True', 'Accepted', 'handled by portico')],
      },
    ],
    gateways: [
      {
        namespace: 'apps',
        name: 'gw',
        addresses: [{ type: 'IPAddress', value: '192.0.2.10' }],
        conditions: [
          cond('Accepted', 'True', 'Accepted'),
          cond('Programmed', programmed, programmed === 'True' ? 'Programmed' : 'Invalid'),
        ],
        listeners: [
          {
            name: 'http',
            supportedKinds: [
              { group: GATEWAY_GROUP, kind: 'HTTPRoute' },
              { group: GATEWAY_GROUP, kind: 'GRPCRoute' },
            ],
            attachedRoutes: 2,
            conditions: [
              cond('Accepted', 'True', 'Accepted'),
              cond('Conflicted', 'False', 'NoConflicts'),
              cond('ResolvedRefs', 'True', 'ResolvedRefs'),
              cond('Programmed', 'True', 'Programmed'),
            ],
          },
        ],
      },
    ],
    routes: (Object.keys(ROUTE_PLURALS) as RouteKind[]).map((kind) => ({
      kind,
      namespace: 'apps',
      name: kind.toLowerCase(),
      parents: [
        routeParent([
          cond('Accepted', 'True', 'Accepted'),
          cond('ResolvedRefs', 'True', 'ResolvedRefs'),
        ]),
      ],
    })),
  };
}

const statusOf = (plural: string, name: string, namespace?: string): Obj | undefined =>
  api!.get(plural, namespace ?? (plural === 'gatewayclasses' ? undefined : 'apps'), name)?.status;
const writes = (match?: string) =>
  api!.requests.filter(
    (r) =>
      (r.method === 'PATCH' || r.method === 'PUT') &&
      r.path.startsWith(`/apis/${GATEWAY_GROUP}/`) &&
      r.path.endsWith('/status') &&
      r.status < 300 &&
      (match === undefined || r.path.includes(match)),
  );
const failedWrites = () =>
  api!.requests.filter(
    (r) => r.method === 'PATCH' && r.path.endsWith('/status') && r.status >= 300,
  );
/** the version the test API server serves a Gateway API kind at */
const v = (plural: string) =>
  KUBE_TYPES.find((t) => t.group === GATEWAY_GROUP && t.plural === plural)!.version;
const leaders = () => replicas.filter((r) => r.elector.isLeader()).map((r) => r.identity);
/** conditions without their times, for toEqual */
const plain = (conds: Obj[] | undefined) =>
  (conds ?? []).map(({ lastTransitionTime: _t, ...c }) => c);
const settle = () => new Promise((r) => setTimeout(r, 500));

describe('gateway status with leader election', () => {
  it('is written by exactly one of two replicas, on every kind, through /status', async () => {
    api = await startKubeApiServer();
    cluster();
    const started = new Date(Date.now() - 1000);
    replica('a');
    replica('b');
    feed(() => report());
    await eventually(() => {
      expect(plain(statusOf('gatewayclasses', 'portico')?.conditions)).toEqual([
        {
          type: 'Accepted',
          status: 'True',
          reason: 'Accepted',
          message: 'handled by portico',
          observedGeneration: 1,
        },
      ]);
      for (const kind of Object.keys(ROUTE_PLURALS) as RouteKind[]) {
        expect(statusOf(ROUTE_PLURALS[kind], kind.toLowerCase())?.parents).toHaveLength(1);
      }
      expect(statusOf('gateways', 'gw')?.listeners).toHaveLength(1);
    });
    expect(leaders()).toHaveLength(1);

    const gw = statusOf('gateways', 'gw')!;
    expect(gw.addresses).toEqual([{ type: 'IPAddress', value: '192.0.2.10' }]);
    expect(plain(gw.conditions)).toEqual([
      { type: 'Accepted', status: 'True', reason: 'Accepted', message: '', observedGeneration: 1 },
      {
        type: 'Programmed',
        status: 'True',
        reason: 'Programmed',
        message: '',
        observedGeneration: 1,
      },
    ]);
    expect(gw.listeners[0]).toMatchObject({
      name: 'http',
      attachedRoutes: 2,
      supportedKinds: [
        { group: GATEWAY_GROUP, kind: 'HTTPRoute' },
        { group: GATEWAY_GROUP, kind: 'GRPCRoute' },
      ],
    });
    expect(gw.listeners[0].conditions.map((c: Obj) => c.type)).toEqual([
      'Accepted',
      'Conflicted',
      'ResolvedRefs',
      'Programmed',
    ]);
    for (const c of [...gw.conditions, ...gw.listeners[0].conditions]) {
      expect(c.lastTransitionTime).toMatch(RFC3339_SECONDS);
      expect(Date.parse(c.lastTransitionTime)).toBeGreaterThanOrEqual(started.getTime());
    }
    expect(statusOf('httproutes', 'httproute')?.parents).toEqual([
      {
        parentRef: { name: 'gw' },
        controllerName: OURS,
        conditions: [
          expect.objectContaining({ type: 'Accepted', status: 'True', observedGeneration: 1 }),
          expect.objectContaining({ type: 'ResolvedRefs', status: 'True' }),
        ],
      },
    ]);

    // One writer, one write per object, while both replicas keep getting reports.
    await settle();
    expect(new Set(writes().map((r) => r.token))).toEqual(new Set(leaders()));
    expect(leaders()).toHaveLength(1);
    expect(writes()).toHaveLength(6);
    // At the version each object was read at (v1, and v1alpha2 for TCPRoute, as v1.5.1 serves them).
    expect(new Set(writes().map((r) => r.path))).toEqual(
      new Set([
        `/apis/${GATEWAY_GROUP}/${v('gatewayclasses')}/gatewayclasses/portico/status`,
        `/apis/${GATEWAY_GROUP}/${v('gateways')}/namespaces/apps/gateways/gw/status`,
        `/apis/${GATEWAY_GROUP}/${v('httproutes')}/namespaces/apps/httproutes/httproute/status`,
        `/apis/${GATEWAY_GROUP}/${v('grpcroutes')}/namespaces/apps/grpcroutes/grpcroute/status`,
        `/apis/${GATEWAY_GROUP}/${v('tlsroutes')}/namespaces/apps/tlsroutes/tlsroute/status`,
        `/apis/${GATEWAY_GROUP}/${v('tcproutes')}/namespaces/apps/tcproutes/tcproute/status`,
      ]),
    );
    expect(writes().every((r) => r.contentType === 'application/merge-patch+json')).toBe(true);
  });

  it('writes nothing when the status already says it, server defaults included', async () => {
    api = await startKubeApiServer();
    const t = (c: Condition, g = 1) => ({ ...c, observedGeneration: g, lastTransitionTime: OLD });
    const r = report();
    // As a real API server stores what the writer sent: CRD defaults filled in
    // (parentRef group/kind), keys in another order.
    api.create('gatewayclasses', {
      metadata: { name: 'portico' },
      spec: { controllerName: OURS },
      status: { conditions: r.gatewayClasses[0]!.conditions.map((c) => t(c)) },
    });
    const g = r.gateways[0]!;
    api.create('gateways', {
      metadata: { name: 'gw', namespace: 'apps' },
      spec: { gatewayClassName: 'portico', listeners: [{ name: 'http', port: 80 }] },
      status: {
        listeners: g.listeners.map((l) => ({
          conditions: l.conditions.map((c) => t(c)),
          attachedRoutes: l.attachedRoutes,
          supportedKinds: l.supportedKinds,
          name: l.name,
        })),
        conditions: g.conditions.map((c) => t(c)),
        addresses: g.addresses,
      },
    });
    for (const route of r.routes) {
      api.create(ROUTE_PLURALS[route.kind], {
        metadata: { name: route.name, namespace: 'apps' },
        spec: { parentRefs: [{ name: 'gw' }] },
        status: {
          parents: route.parents.map((p) => ({
            conditions: p.conditions.map((c) => t(c)),
            controllerName: p.controllerName,
            parentRef: { group: GATEWAY_GROUP, kind: 'Gateway', ...p.parentRef },
          })),
        },
      });
    }
    replica('a');
    feed(() => r);
    await eventually(() => expect(leaders()).toEqual(['a']));
    await settle();
    expect(writes()).toEqual([]);
    expect(replicas[0]!.log.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('moves lastTransitionTime only when a condition changes status, and keeps other types', async () => {
    api = await startKubeApiServer();
    cluster();
    // generation 2: the spec changed once since creation.
    const gw = api.get('gateways', 'apps', 'gw')!;
    api.update('gateways', {
      ...gw,
      spec: { ...gw.spec, listeners: [{ name: 'http', port: 8080, protocol: 'HTTP' }] },
    });
    api.patch(
      'gateways',
      'apps',
      'gw',
      {
        status: {
          conditions: [
            {
              type: 'Accepted',
              status: 'True',
              reason: 'Pending',
              message: 'old',
              observedGeneration: 1,
              lastTransitionTime: OLD,
            },
            {
              type: 'special.io/SomeField',
              status: 'True',
              reason: 'Theirs',
              message: 'not ours',
              lastTransitionTime: OLD,
            },
            {
              type: 'Programmed',
              status: 'False',
              reason: 'Pending',
              message: '',
              observedGeneration: 1,
              lastTransitionTime: OLD,
            },
          ],
          listeners: [
            {
              name: 'http',
              attachedRoutes: 0,
              supportedKinds: [],
              conditions: [
                {
                  type: 'Accepted',
                  status: 'True',
                  reason: 'Accepted',
                  message: '',
                  lastTransitionTime: OLD,
                },
              ],
            },
            { name: 'removed', attachedRoutes: 0, supportedKinds: [], conditions: [] },
          ],
        },
      },
      { type: 'merge', mode: 'status' },
    );
    // The GatewayClass condition was written by a newer generation than the
    // view knows: the spec says leave it alone.
    api.patch(
      'gatewayclasses',
      undefined,
      'portico',
      {
        status: {
          conditions: [
            {
              type: 'Accepted',
              status: 'False',
              reason: 'InvalidParameters',
              message: 'from the future',
              observedGeneration: 7,
              lastTransitionTime: OLD,
            },
          ],
        },
      },
      { type: 'merge', mode: 'status' },
    );
    const before = Date.now() - 1000;
    replica('a');
    feed(() => report());
    await eventually(() =>
      expect(statusOf('gateways', 'gw')?.conditions?.[2]?.status).toBe('True'),
    );
    const conds = statusOf('gateways', 'gw')!.conditions as Obj[];
    expect(conds.map((c) => [c.type, c.status, c.reason, c.observedGeneration])).toEqual([
      ['Accepted', 'True', 'Accepted', 2],
      ['special.io/SomeField', 'True', 'Theirs', undefined],
      ['Programmed', 'True', 'Programmed', 2],
    ]);
    // Accepted stayed True (reason and message changed): its time stays.
    expect(conds[0]!.lastTransitionTime).toBe(OLD);
    expect(conds[1]!.lastTransitionTime).toBe(OLD);
    // Programmed went False → True: now.
    expect(conds[2]!.lastTransitionTime).toMatch(RFC3339_SECONDS);
    expect(Date.parse(conds[2]!.lastTransitionTime)).toBeGreaterThanOrEqual(before);
    const listeners = statusOf('gateways', 'gw')!.listeners as Obj[];
    expect(listeners.map((l) => l.name)).toEqual(['http']);
    expect(listeners[0]!.conditions[0]).toMatchObject({
      type: 'Accepted',
      lastTransitionTime: OLD,
      observedGeneration: 2,
    });
    expect(statusOf('gatewayclasses', 'portico')!.conditions).toEqual([
      expect.objectContaining({
        status: 'False',
        message: 'from the future',
        observedGeneration: 7,
      }),
    ]);

    // Programmed goes False: a new transition, once.
    const n = writes('/gateways/').length;
    clearInterval(feeder);
    feed(() => report('False'));
    await eventually(() =>
      expect(statusOf('gateways', 'gw')?.conditions?.[2]).toMatchObject({
        status: 'False',
        reason: 'Invalid',
      }),
    );
    await settle();
    expect(writes('/gateways/')).toHaveLength(n + 1);
  });

  it("replaces only its own route parents: other controllers' entries kept, stale ones removed", async () => {
    api = await startKubeApiServer();
    cluster();
    const theirs = {
      parentRef: { group: GATEWAY_GROUP, kind: 'Gateway', name: 'their-gw' },
      controllerName: OTHER,
      conditions: [
        {
          type: 'Accepted',
          status: 'True',
          reason: 'Accepted',
          message: 'theirs',
          lastTransitionTime: OLD,
        },
      ],
    };
    const oursNow = {
      parentRef: { group: GATEWAY_GROUP, kind: 'Gateway', name: 'gw' },
      controllerName: OURS,
      conditions: [
        {
          type: 'Accepted',
          status: 'True',
          reason: 'Accepted',
          message: '',
          observedGeneration: 1,
          lastTransitionTime: OLD,
        },
        {
          type: 'ResolvedRefs',
          status: 'True',
          reason: 'ResolvedRefs',
          message: '',
          observedGeneration: 1,
          lastTransitionTime: OLD,
        },
      ],
    };
    const oursStale = { ...oursNow, parentRef: { name: 'gone' } };
    api.patch(
      'httproutes',
      'apps',
      'httproute',
      { status: { parents: [oursStale, theirs, oursNow] } },
      { type: 'merge', mode: 'status' },
    );
    // A route no longer in the report (its parentRefs moved elsewhere) keeps only others' entries.
    api.create('httproutes', {
      metadata: { name: 'moved', namespace: 'apps' },
      spec: { parentRefs: [{ name: 'their-gw' }] },
      status: { parents: [oursNow, theirs] },
    });
    const r = report();
    const http = r.routes.find((x) => x.kind === 'HTTPRoute')!;
    http.parents = [
      routeParent([
        cond('Accepted', 'True', 'Accepted'),
        cond('ResolvedRefs', 'False', 'BackendNotFound', 'service apps/missing not found'),
      ]),
    ];
    replica('a');
    feed(() => r);
    await eventually(() => expect(statusOf('httproutes', 'httproute')?.parents).toHaveLength(2));
    await eventually(() => expect(statusOf('httproutes', 'moved')?.parents).toHaveLength(1));
    const parents = statusOf('httproutes', 'httproute')!.parents as Obj[];
    expect(parents[0]).toEqual(theirs);
    expect(parents[1]!.controllerName).toBe(OURS);
    expect(parents[1]!.parentRef).toEqual({ name: 'gw' });
    expect(parents[1]!.conditions[0]).toMatchObject({ type: 'Accepted', lastTransitionTime: OLD });
    expect(parents[1]!.conditions[1]).toMatchObject({
      type: 'ResolvedRefs',
      status: 'False',
      reason: 'BackendNotFound',
      message: 'service apps/missing not found',
    });
    expect(parents[1]!.conditions[1].lastTransitionTime).not.toBe(OLD);
    expect(statusOf('httproutes', 'moved')!.parents).toEqual([theirs]);
    await settle();
    expect(writes('/httproutes/httproute/')).toHaveLength(1);
    expect(writes('/httproutes/moved/')).toHaveLength(1);
  });

  it('hands over: the new leader writes what differs at once, without a new report', async () => {
    api = await startKubeApiServer();
    cluster();
    // A 30 s lease: a takeover within the deadline below can only come from the release.
    const a = replica('a', { duration: 30 });
    await eventually(() => expect(a.elector.isLeader()).toBe(true));
    const b = replica('b', { duration: 30 });
    feed(() => report());
    await eventually(() => {
      expect(statusOf('gateways', 'gw')?.conditions?.[1]?.status).toBe('True');
      for (const kind of Object.keys(ROUTE_PLURALS) as RouteKind[]) {
        expect(statusOf(ROUTE_PLURALS[kind], kind.toLowerCase())?.parents).toHaveLength(1);
      }
    });
    expect(b.elector.isLeader()).toBe(false);
    clearInterval(feeder);

    // Both replicas learn that the Gateway is no longer programmed; the leader
    // is going away and must not write it; the follower must not write yet.
    await a.writer.stop();
    for (const r of replicas) r.writer.update(report('False'), view());
    await settle();
    expect(statusOf('gateways', 'gw')?.conditions?.[1]?.status).toBe('True');
    const before = writes().length;

    await a.elector.stop();
    await eventually(() => expect(b.elector.isLeader()).toBe(true), { timeoutMs: 10_000 });
    await eventually(() =>
      expect(statusOf('gateways', 'gw')?.conditions?.[1]).toMatchObject({
        status: 'False',
        reason: 'Invalid',
      }),
    );
    expect(
      writes()
        .slice(before)
        .map((w) => w.token),
    ).toEqual(['b']);
  });

  it('retries a conflict at once from a fresh read, and a 500 later, without throwing', async () => {
    api = await startKubeApiServer();
    cluster();
    const a = replica('a');
    await eventually(() => expect(a.elector.isLeader()).toBe(true));
    api.failNext({ method: 'PATCH', path: '/gateways/gw/status', status: 409 });
    api.failNext({ method: 'PATCH', path: '/httproutes/httproute/status', status: 500, times: 2 });
    const r = report();
    expect(() => a.writer.update(r, view())).not.toThrow();
    await eventually(() => {
      expect(statusOf('gateways', 'gw')?.conditions).toHaveLength(2);
      expect(statusOf('httproutes', 'httproute')?.parents).toHaveLength(1);
    });
    // The conflict: a GET of the object, then the write again.
    const gwReqs = api.requests
      .filter((q) => q.path.includes('/gateways/gw'))
      .map((q) => `${q.method} ${q.status}`);
    expect(gwReqs).toEqual(['PATCH 409', 'GET 200', 'PATCH 200']);
    // The 500s: logged once at error level, then retried after retryMs.
    expect(failedWrites().filter((q) => q.path.includes('/httproutes/'))).toHaveLength(2);
    const errors = a.log.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.o).toMatchObject({ kind: 'HTTPRoute', namespace: 'apps', name: 'httproute' });
  });

  it.skipIf(v('tlsroutes') !== 'v1' || v('tcproutes') !== 'v1alpha2')(
    "writes at Gateway API v1.5.1's versions when the object does not say which it was read at",
    async () => {
      api = await startKubeApiServer();
      cluster();
      const a = replica('a');
      await eventually(() => expect(a.elector.isLeader()).toBe(true));
      const bare = (plural: string) =>
        api!.list(plural).map(({ apiVersion: _v, ...o }) => o) as KubeObject[];
      a.writer.update(
        report(),
        viewOf({ TLSRoute: bare('tlsroutes'), TCPRoute: bare('tcproutes') }),
      );
      await eventually(() => expect(writes()).toHaveLength(2));
      expect(writes().map((w) => w.path.split('/').slice(2, 4).join('/'))).toEqual([
        `${GATEWAY_GROUP}/v1`,
        `${GATEWAY_GROUP}/v1alpha2`,
      ]);
    },
  );

  it('ignores objects deleted since the view was taken', async () => {
    api = await startKubeApiServer();
    cluster();
    const a = replica('a');
    await eventually(() => expect(a.elector.isLeader()).toBe(true));
    const stale = view();
    api.delete('grpcroutes', 'apps', 'grpcroute');
    api.delete('gateways', 'apps', 'gw');
    a.writer.update(report(), stale);
    await eventually(() => expect(statusOf('httproutes', 'httproute')?.parents).toHaveLength(1));
    await eventually(() => expect(statusOf('tcproutes', 'tcproute')?.parents).toHaveLength(1));
    await settle();
    expect(a.log.filter((l) => l.level === 'error' || l.level === 'warn')).toEqual([]);
    // One try each: a deleted object is not retried.
    expect(
      failedWrites().map((q) => [q.path.split('/').slice(-3, -1).join('/'), q.status]),
    ).toEqual([
      ['gateways/gw', 404],
      ['grpcroutes/grpcroute', 404],
    ]);
  });
});
