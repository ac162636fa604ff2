/*
 * The Gateway API translator (issue 15 items 1 and 2) on Traefik's own
 * fixtures (pkg/provider/kubernetes/gateway/fixtures, copied into
 * test/fixtures/k8s-gateway/ under their names) with the routers, services
 * and certificates Traefik's kubernetes_test.go expects of each (extracted
 * into traefik-cases.json: name, rule, priority, service, middlewares,
 * weighted children, server URLs); every translation then goes through
 * Portico's aggregation as `@kubernetesgateway` and compiles without errors.
 * Then the status report and the diagnostics on the spec's reasons, and
 * hostile objects.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import selfsigned from 'selfsigned';
import { mergeSnapshots } from '../../src/config/aggregate.js';
import { createRouterServer } from '../../src/routing/router-server.js';
import { translateGateway } from '../../providers/kubernetes/gateway/translate.js';
import type {
  GatewayProviderOptions,
  GatewayTranslation,
} from '../../providers/kubernetes/gateway/model.js';
import { viewOf, type KubeObject } from '../../providers/kubernetes/objects.js';
import { objectsOfYaml, viewOfYaml } from '../helpers/kube-view.js';
import { testStaticConfig } from '../helpers/portico.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'k8s-gateway');

interface TraefikCase {
  func: string;
  desc: string;
  paths: string[];
  entryPoints: Record<string, { port: number; httpTls: boolean }>;
  experimentalChannel: boolean;
  nativeLB: boolean;
  http: { routers: Record<string, ExpectedRouter>; services: Record<string, ExpectedService> };
  tcp: { routers: Record<string, ExpectedRouter>; services: Record<string, ExpectedService> };
  certificates: number;
}
interface ExpectedRouter {
  rule: string | null;
  priority: number | null;
  service: string | null;
  middlewares: string[];
  passthrough: boolean;
}
interface ExpectedService {
  weighted?: { name: string; weight?: number; status?: number }[];
  servers?: string[];
}

const CASES = JSON.parse(
  readFileSync(join(FIXTURES, 'traefik-cases.json'), 'utf8'),
) as TraefikCase[];

/**
 * Where Portico knowingly differs from Traefik's expectation, and why.
 * Everything else must match exactly.
 */
const DIFFERS: Record<string, string> = {
  'Empty caused by HTTPRoute with protocol TLS':
    'a certificateRef without group is the core group, as the API server defaults it (Traefik refuses a nil group)',
  'Empty caused by TCPRoute with protocol HTTPS': 'same: certificateRef group defaulted',
  'Empty caused by TLSRoute with protocol HTTPS': 'same: certificateRef group defaulted',
  'Simple HTTPRoute, backend filter request header modifier':
    'Portico services take no middlewares: the filters of a lone backendRef go on the router',
  'Simple HTTPRoute, redirect HTTP to HTTPS':
    'Portico weighted services are never empty: a rule without backendRefs gets a status-500 child',
  'Simple HTTPRoute, redirect HTTP to HTTPS with hostname': 'same: no empty weighted service',
  'Simple HTTPRoute and BackendTLSPolicy with CA certificate': 'BackendTLSPolicy is not read yet',
  'Simple HTTPRoute and BackendTLSPolicy with subjectAltNames': 'BackendTLSPolicy is not read yet',
  'Simple HTTPRoute and BackendTLSPolicy with System CA': 'BackendTLSPolicy is not read yet',
  'Simple GRPCRoute and BackendTLSPolicy with CA certificate': 'BackendTLSPolicy is not read yet',
  'Simple GRPCRoute and BackendTLSPolicy with subjectAltNames': 'BackendTLSPolicy is not read yet',
  'Simple GRPCRoute and BackendTLSPolicy with System CA': 'BackendTLSPolicy is not read yet',
};

function translateCase(c: TraefikCase): GatewayTranslation {
  const text = c.paths.map((p) => readFileSync(join(FIXTURES, p), 'utf8')).join('\n---\n');
  return translateGateway(viewOfYaml(text), {
    entryPoints: c.entryPoints,
    experimentalChannel: c.experimentalChannel,
    nativeLBByDefault: c.nativeLB,
  });
}

/** The translation in the shape of the extracted expectations. */
function shapeOf(t: GatewayTranslation) {
  const routers = (m: Record<string, Record<string, unknown>> | undefined) =>
    Object.fromEntries(
      Object.entries(m ?? {}).map(([k, r]) => [
        k,
        {
          rule: r.rule,
          priority: r.priority ?? null,
          service: r.service,
          middlewares: r.middlewares ?? [],
          passthrough: (r.tls as { passthrough?: boolean } | undefined)?.passthrough === true,
        },
      ]),
    );
  const services = (m: Record<string, Record<string, unknown>> | undefined) =>
    Object.fromEntries(
      Object.entries(m ?? {}).map(([k, s]) => {
        const out: ExpectedService = {};
        const w = s.weighted as { services: ExpectedService['weighted'] } | undefined;
        if (w) out.weighted = w.services;
        const lb = s.loadBalancer as { servers?: { url?: string; address?: string }[] } | undefined;
        if (lb) out.servers = (lb.servers ?? []).map((x) => x.url ?? x.address ?? '');
        return [k, out];
      }),
    );
  return {
    http: {
      routers: routers(t.config.http?.routers as never),
      services: services(t.config.http?.services as never),
    },
    tcp: {
      routers: routers(t.config.tcp?.routers as never),
      services: services(t.config.tcp?.services as never),
    },
    certificates: t.config.tls?.certificates?.length ?? 0,
  };
}

/** Traefik's expectation with the references to other providers' services left out (they are not ours). */
function expectedOf(c: TraefikCase) {
  const own = (m: Record<string, ExpectedService>) =>
    Object.fromEntries(
      Object.entries(m)
        .filter(([k]) => !k.includes('@'))
        .map(([k, s]) => [
          k,
          s.weighted ? { ...s, weighted: s.weighted.map((w) => ({ weight: 1, ...w })) } : s,
        ]),
    );
  const routers = (m: Record<string, ExpectedRouter>) =>
    Object.fromEntries(
      // Go cannot tell Priority 0 from unset: both are the router's default priority
      Object.entries(m).map(([k, r]) => [k, { ...r, priority: r.priority || null }]),
    );
  return {
    http: { routers: routers(c.http.routers), services: own(c.http.services) },
    tcp: { routers: routers(c.tcp.routers), services: own(c.tcp.services) },
    certificates: c.certificates,
  };
}

describe("Traefik's Gateway fixtures give Traefik's routers, services and certificates", () => {
  it.each(
    CASES.filter((c) => DIFFERS[c.desc] === undefined).map(
      (c) => [`${c.func}: ${c.desc}`, c] as const,
    ),
  )('%s', (_name, c) => {
    expect(shapeOf(translateCase(c))).toEqual(expectedOf(c));
  });

  it('the known differences are still differences (remove a line of DIFFERS when it starts matching)', () => {
    for (const c of CASES.filter((x) => DIFFERS[x.desc] !== undefined))
      expect(shapeOf(translateCase(c)), c.desc).not.toEqual(expectedOf(c));
  });
});

describe('every translation is accepted by Portico as it stands', () => {
  it.each(CASES.map((c) => [`${c.func}: ${c.desc}`, c] as const))(
    '%s: qualifies as @kubernetesgateway and compiles without errors',
    (_name, c) => {
      const t = translateCase(c);
      const merged = mergeSnapshots([
        { provider: 'kubernetesgateway', config: t.config, errors: [] },
      ]);
      expect(merged.errors).toEqual([]);
      const eps = Object.keys(c.entryPoints);
      const server = createRouterServer({
        staticConfig: testStaticConfig(eps.map((e) => `--entryPoints.${e}.address=127.0.0.1:0`)),
        logger: pino({ level: 'silent' }),
      });
      const table = server.applyConfig(merged.config, merged.errors);
      // references to other providers' services (api@internal, *@kubernetescrd, *@file) are not ours to define
      const foreign = (e: { message?: string }) =>
        /@(internal|kubernetescrd|file)/.test(JSON.stringify(e));
      expect(table.errors.filter((e) => !foreign(e))).toEqual([]);
    },
  );
});

/* ------------------------------------------------------------------ status */

const OPTS: GatewayProviderOptions = {
  entryPoints: { web: { port: 80, httpTls: false }, websecure: { port: 443, httpTls: true } },
  experimentalChannel: false,
  nativeLBByDefault: false,
};

const BASE = `
kind: GatewayClass
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: portico, generation: 3 }
spec: { controllerName: portico.io/gateway-controller }
---
kind: GatewayClass
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: other }
spec: { controllerName: example.com/other }
---
kind: Service
apiVersion: v1
metadata: { name: web, namespace: apps }
spec: { ports: [{ name: http, port: 80 }] }
---
kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata: { name: web-1, namespace: apps, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
ports: [{ name: http, port: 8080 }]
endpoints: [{ addresses: [10.0.0.1], conditions: { ready: true } }]
---
kind: Service
apiVersion: v1
metadata: { name: api, namespace: backend }
spec: { ports: [{ port: 8000 }] }
---
kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata: { name: api-1, namespace: backend, labels: { kubernetes.io/service-name: api } }
addressType: IPv4
ports: [{ name: "", port: 9000 }]
endpoints: [{ addresses: [10.0.1.1], conditions: { ready: true } }]
---
kind: Gateway
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: gw, namespace: apps, generation: 7 }
spec:
  gatewayClassName: portico
  listeners:
    - { name: http, protocol: HTTP, port: 80, hostname: "*.example.com" }
`;

function run(extra: string, opts: Partial<GatewayProviderOptions> = {}) {
  return translateGateway(viewOfYaml(`${BASE}\n---\n${extra}`), { ...OPTS, ...opts });
}

const route = (spec: string, ns = 'apps', name = 'r') => `
kind: HTTPRoute
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: ${name}, namespace: ${ns}, generation: 2 }
spec:
${spec}`;

const parentConds = (t: GatewayTranslation, name = 'r') =>
  Object.fromEntries(
    (t.status.routes.find((r) => r.name === name)?.parents[0]?.conditions ?? []).map((c) => [
      c.type,
      `${c.status}/${c.reason}`,
    ]),
  );

describe('status: GatewayClass, Gateway and listeners', () => {
  it('a class of ours is Accepted; another controller’s class is not reported; Gateway and listener conditions and addresses', () => {
    const t = run(
      route(`  parentRefs: [{ name: gw }]\n  rules: [{ backendRefs: [{ name: web, port: 80 }] }]`),
      {
        statusAddress: { ip: '192.0.2.10' },
      },
    );
    expect(t.status.gatewayClasses).toEqual([
      {
        name: 'portico',
        conditions: [
          expect.objectContaining({
            type: 'Accepted',
            status: 'True',
            reason: 'Accepted',
            observedGeneration: 3,
          }),
        ],
      },
    ]);
    const gw = t.status.gateways[0]!;
    expect(gw.addresses).toEqual([{ type: 'IPAddress', value: '192.0.2.10' }]);
    expect(
      gw.conditions.map((c) => `${c.type}/${c.status}/${c.reason}/${c.observedGeneration}`),
    ).toEqual(['Accepted/True/Accepted/7', 'Programmed/True/Programmed/7']);
    expect(gw.listeners).toEqual([
      {
        name: 'http',
        attachedRoutes: 1,
        supportedKinds: [
          { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' },
          { group: 'gateway.networking.k8s.io', kind: 'GRPCRoute' },
        ],
        conditions: [
          expect.objectContaining({ type: 'Accepted', status: 'True', reason: 'Accepted' }),
          expect.objectContaining({ type: 'Programmed', status: 'True', reason: 'Programmed' }),
          expect.objectContaining({ type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs' }),
          expect.objectContaining({ type: 'Conflicted', status: 'False', reason: 'NoConflicts' }),
        ],
      },
    ]);
    expect(t.status.routes[0]!.parents[0]!.controllerName).toBe('portico.io/gateway-controller');
    expect(parentConds(t)).toEqual({
      Accepted: 'True/Accepted',
      ResolvedRefs: 'True/ResolvedRefs',
    });
    expect(t.diagnostics).toEqual([]);
  });

  it('the address of a LoadBalancer Service (Traefik statusAddress.service)', () => {
    const t = run(
      `kind: Service
apiVersion: v1
metadata: { name: portico, namespace: edge }
spec: { ports: [{ port: 80 }] }
status: { loadBalancer: { ingress: [{ ip: 203.0.113.5 }, { hostname: lb.example.net }] } }`,
      { statusAddress: { service: { namespace: 'edge', name: 'portico' } } },
    );
    expect(t.status.gateways[0]!.addresses).toEqual([
      { type: 'IPAddress', value: '203.0.113.5' },
      { type: 'Hostname', value: 'lb.example.net' },
    ]);
  });

  const listenerCase = (listener: string, extra = '') =>
    run(`kind: Gateway
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: gw2, namespace: apps }
spec:
  gatewayClassName: portico
  listeners:
    - ${listener}
${extra}`);

  it.each([
    [
      'no entrypoint on the port',
      '{ name: l, protocol: HTTP, port: 8081 }',
      'Accepted',
      'PortUnavailable',
    ],
    [
      'HTTP on an entrypoint with http.tls only',
      '{ name: l, protocol: HTTP, port: 443 }',
      'Accepted',
      'PortUnavailable',
    ],
    [
      'an unknown protocol',
      '{ name: l, protocol: QUIC, port: 80 }',
      'Accepted',
      'UnsupportedProtocol',
    ],
    [
      'TCP without the experimental channel',
      '{ name: l, protocol: TCP, port: 80 }',
      'Accepted',
      'UnsupportedProtocol',
    ],
    [
      'HTTPS without tls',
      '{ name: l, protocol: HTTPS, port: 443 }',
      'Accepted',
      'InvalidTLSConfiguration',
    ],
    [
      'HTTPS passthrough',
      '{ name: l, protocol: HTTPS, port: 443, tls: { mode: Passthrough } }',
      'Accepted',
      'UnsupportedProtocol',
    ],
    [
      'HTTPS without certificateRefs',
      '{ name: l, protocol: HTTPS, port: 443, tls: {} }',
      'ResolvedRefs',
      'InvalidCertificateRef',
    ],
    [
      'a missing Secret',
      '{ name: l, protocol: HTTPS, port: 443, tls: { certificateRefs: [{ name: nope }] } }',
      'ResolvedRefs',
      'InvalidCertificateRef',
    ],
    [
      'a ConfigMap certificateRef',
      '{ name: l, protocol: HTTPS, port: 443, tls: { certificateRefs: [{ kind: ConfigMap, name: c }] } }',
      'ResolvedRefs',
      'InvalidCertificateRef',
    ],
    [
      'a Secret of another namespace without ReferenceGrant',
      '{ name: l, protocol: HTTPS, port: 443, tls: { certificateRefs: [{ name: s, namespace: certs }] } }',
      'ResolvedRefs',
      'RefNotPermitted',
    ],
    [
      'a route kind the protocol does not carry',
      '{ name: l, protocol: HTTP, port: 80, allowedRoutes: { kinds: [{ kind: TLSRoute }] } }',
      'ResolvedRefs',
      'InvalidRouteKinds',
    ],
    [
      'a malformed namespace selector',
      '{ name: l, protocol: HTTP, port: 80, allowedRoutes: { namespaces: { from: Selector, selector: { matchExpressions: [{ key: a, operator: Near }] } } } }',
      'ResolvedRefs',
      'InvalidRouteNamespacesSelector',
    ],
  ])('%s: %s is %s', (_what, listener, type, reason) => {
    const t = listenerCase(listener);
    const gw = t.status.gateways.find((g) => g.name === 'gw2')!;
    const l = gw.listeners[0]!;
    expect(l.conditions.find((c) => c.type === type)).toMatchObject({ status: 'False', reason });
    expect(l.conditions.find((c) => c.type === 'Programmed')).toMatchObject({
      status: 'False',
      reason: 'Invalid',
    });
    expect(gw.conditions[0]).toMatchObject({
      type: 'Accepted',
      status: 'False',
      reason: 'ListenersNotValid',
    });
    expect(t.diagnostics).toContainEqual(
      expect.objectContaining({
        kind: 'Gateway',
        namespace: 'apps',
        name: 'gw2',
        field: expect.stringMatching(/^spec\.listeners\[0\]/),
      }),
    );
  });

  it('listeners of incompatible protocols on one port are Conflicted (ProtocolConflict); duplicates are HostnameConflict', () => {
    const t = listenerCase(
      '{ name: a, protocol: HTTP, port: 80 }',
      `    - { name: b, protocol: HTTPS, port: 80, tls: { certificateRefs: [{ name: x }] } }
    - { name: c, protocol: HTTP, port: 80, hostname: a.example.com }
    - { name: d, protocol: HTTP, port: 80, hostname: a.example.com }`,
    );
    const gw = t.status.gateways.find((g) => g.name === 'gw2')!;
    const conflicted = (n: string) =>
      gw.listeners.find((l) => l.name === n)!.conditions.find((c) => c.type === 'Conflicted');
    expect(conflicted('a')).toMatchObject({ status: 'True', reason: 'ProtocolConflict' });
    expect(conflicted('b')).toMatchObject({ status: 'True', reason: 'ProtocolConflict' });
  });

  it('a class with parametersRef is not Accepted (InvalidParameters)', () => {
    const t = translateGateway(
      viewOfYaml(`kind: GatewayClass
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: p }
spec: { controllerName: traefik.io/gateway-controller, parametersRef: { group: x, kind: Y, name: z } }`),
      OPTS,
    );
    expect(t.status.gatewayClasses[0]!.conditions[0]).toMatchObject({
      status: 'False',
      reason: 'InvalidParameters',
    });
  });
});

describe('status: route parents with the spec’s reasons', () => {
  it.each([
    [
      'a sectionName no listener has',
      `  parentRefs: [{ name: gw, sectionName: nope }]\n  rules: [{ backendRefs: [{ name: web, port: 80 }] }]`,
      { Accepted: 'False/NoMatchingParent', ResolvedRefs: 'True/ResolvedRefs' },
    ],
    [
      'a port no listener has',
      `  parentRefs: [{ name: gw, port: 8080 }]\n  rules: [{ backendRefs: [{ name: web, port: 80 }] }]`,
      { Accepted: 'False/NoMatchingParent', ResolvedRefs: 'True/ResolvedRefs' },
    ],
    [
      'no hostname in common with the listener',
      `  parentRefs: [{ name: gw }]\n  hostnames: [example.org]\n  rules: [{ backendRefs: [{ name: web, port: 80 }] }]`,
      { Accepted: 'False/NoMatchingListenerHostname', ResolvedRefs: 'True/ResolvedRefs' },
    ],
    [
      'a missing Service',
      `  parentRefs: [{ name: gw }]\n  rules: [{ backendRefs: [{ name: nope, port: 80 }] }]`,
      { Accepted: 'True/Accepted', ResolvedRefs: 'False/BackendNotFound' },
    ],
    [
      'a Service port that does not exist',
      `  parentRefs: [{ name: gw }]\n  rules: [{ backendRefs: [{ name: web, port: 81 }] }]`,
      { Accepted: 'True/Accepted', ResolvedRefs: 'False/BackendNotFound' },
    ],
    [
      'a Service of another namespace without ReferenceGrant',
      `  parentRefs: [{ name: gw }]\n  rules: [{ backendRefs: [{ name: api, namespace: backend, port: 8000 }] }]`,
      { Accepted: 'True/Accepted', ResolvedRefs: 'False/RefNotPermitted' },
    ],
    [
      'a backend kind that is not a Service',
      `  parentRefs: [{ name: gw }]\n  rules: [{ backendRefs: [{ group: example.com, kind: Bucket, name: b }] }]`,
      { Accepted: 'True/Accepted', ResolvedRefs: 'False/InvalidKind' },
    ],
    [
      'a path match type that does not exist (every rule)',
      `  parentRefs: [{ name: gw }]\n  rules: [{ matches: [{ path: { type: Glob, value: /x } }], backendRefs: [{ name: web, port: 80 }] }]`,
      { Accepted: 'False/UnsupportedValue', ResolvedRefs: 'True/ResolvedRefs' },
    ],
    [
      'one rule of two with an unsupported value',
      `  parentRefs: [{ name: gw }]
  rules:
    - { matches: [{ path: { type: RegularExpression, value: "(" } }], backendRefs: [{ name: web, port: 80 }] }
    - { backendRefs: [{ name: web, port: 80 }] }`,
      {
        Accepted: 'True/Accepted',
        ResolvedRefs: 'True/ResolvedRefs',
        PartiallyInvalid: 'True/UnsupportedValue',
      },
    ],
  ])('%s', (_what, spec, conds) => {
    const t = run(route(spec));
    expect(parentConds(t)).toEqual(conds);
    expect(t.diagnostics.length).toBeGreaterThan(0);
    for (const d of t.diagnostics)
      expect(d).toMatchObject({ kind: 'HTTPRoute', namespace: 'apps', name: 'r' });
  });

  it('a route of another namespace is NotAllowedByListeners with from: Same, allowed with All, and with a Selector matching its namespace labels', () => {
    const spec = `  parentRefs: [{ name: gw, namespace: apps }]\n  rules: [{ backendRefs: [{ name: web, namespace: apps, port: 80 }] }]`;
    const ns = `kind: Namespace
apiVersion: v1
metadata: { name: team, labels: { shared: "yes" } }`;
    const gw = (from: string) => `kind: Gateway
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: gw, namespace: apps }
spec:
  gatewayClassName: portico
  listeners: [{ name: http, protocol: HTTP, port: 80, allowedRoutes: { namespaces: ${from} } }]`;
    const grant = `kind: ReferenceGrant
apiVersion: gateway.networking.k8s.io/v1beta1
metadata: { name: g, namespace: apps }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: team }]
  to: [{ group: "", kind: Service, name: web }]`;
    const build = (from: string) => {
      const objects = objectsOfYaml(
        `${BASE}\n---\n${route(spec, 'team')}\n---\n${ns}\n---\n${grant}`,
      );
      objects.Gateway = objectsOfYaml(gw(from)).Gateway!;
      return translateGateway(viewOf(objects), OPTS);
    };
    expect(parentConds(build('{ from: Same }'))).toMatchObject({
      Accepted: 'False/NotAllowedByListeners',
    });
    expect(parentConds(build('{ from: All }'))).toEqual({
      Accepted: 'True/Accepted',
      ResolvedRefs: 'True/ResolvedRefs',
    });
    expect(
      parentConds(build('{ from: Selector, selector: { matchLabels: { shared: "yes" } } }')),
    ).toMatchObject({ Accepted: 'True/Accepted' });
    expect(
      parentConds(
        build(
          '{ from: Selector, selector: { matchExpressions: [{ key: shared, operator: NotIn, values: ["yes"] }] } }',
        ),
      ),
    ).toMatchObject({ Accepted: 'False/NotAllowedByListeners' });
    // the attached route counts on the listener only when allowed
    expect(build('{ from: All }').status.gateways[0]!.listeners[0]!.attachedRoutes).toBe(1);
    expect(build('{ from: Same }').status.gateways[0]!.listeners[0]!.attachedRoutes).toBe(0);
  });

  it('a ReferenceGrant lets a route use a Service of another namespace; one for another kind or name does not', () => {
    const spec = `  parentRefs: [{ name: gw }]\n  rules: [{ backendRefs: [{ name: api, namespace: backend, port: 8000 }] }]`;
    const grant = (to: string, fromKind = 'HTTPRoute') => `kind: ReferenceGrant
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: g, namespace: backend }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: ${fromKind}, namespace: apps }]
  to: [${to}]`;
    expect(
      parentConds(run(`${route(spec)}\n---\n${grant('{ group: "", kind: Service }')}`)),
    ).toMatchObject({ ResolvedRefs: 'True/ResolvedRefs' });
    expect(
      parentConds(run(`${route(spec)}\n---\n${grant('{ group: "", kind: Service, name: api }')}`)),
    ).toMatchObject({ ResolvedRefs: 'True/ResolvedRefs' });
    expect(
      parentConds(
        run(`${route(spec)}\n---\n${grant('{ group: "", kind: Service, name: other }')}`),
      ),
    ).toMatchObject({ ResolvedRefs: 'False/RefNotPermitted' });
    expect(
      parentConds(
        run(`${route(spec)}\n---\n${grant('{ group: "", kind: Service }', 'GRPCRoute')}`),
      ),
    ).toMatchObject({ ResolvedRefs: 'False/RefNotPermitted' });
    const ok = run(`${route(spec)}\n---\n${grant('{ group: "", kind: Service }')}`);
    const svc = Object.entries(ok.config.http!.services!).find(([k]) =>
      k.endsWith('-svc-backend-api-0'),
    );
    expect(svc?.[1]).toEqual({ loadBalancer: { servers: [{ url: 'http://10.0.1.1:9000' }] } });
  });

  it('routes of other controllers’ Gateways are not reported, and do not serve', () => {
    const t = run(`kind: Gateway
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: theirs, namespace: apps }
spec: { gatewayClassName: other, listeners: [{ name: http, protocol: HTTP, port: 80 }] }
---
${route(`  parentRefs: [{ name: theirs }]\n  rules: [{ backendRefs: [{ name: web, port: 80 }] }]`)}`);
    expect(t.status.routes).toEqual([]);
    expect(t.status.gateways.map((g) => g.name)).toEqual(['gw']);
    expect(t.config.http!.routers).toEqual({});
  });
});

describe('HTTPRoute matches, hostnames and filters as Portico configuration', () => {
  const one = (t: GatewayTranslation) => Object.values(t.config.http!.routers!);

  it.each([
    [
      'no hostname: the listener’s wildcard',
      '',
      'HostRegexp("^[a-z0-9-\\\\.]+\\\\.example\\\\.com$") && PathPrefix("/")',
    ],
    [
      'a hostname under the listener’s wildcard',
      '  hostnames: [a.example.com]\n',
      'Host("a.example.com") && PathPrefix("/")',
    ],
    [
      'a wildcard route hostname under the listener’s',
      '  hostnames: ["*.b.example.com", "x.other.org"]\n',
      'HostRegexp("^[a-z0-9-\\\\.]+\\\\.b\\\\.example\\\\.com$") && PathPrefix("/")',
    ],
  ])('%s', (_what, hosts, rule) => {
    const t = run(
      route(
        `  parentRefs: [{ name: gw }]\n${hosts}  rules: [{ backendRefs: [{ name: web, port: 80 }] }]`,
      ),
    );
    expect(one(t).map((r) => r.rule)).toEqual([rule]);
  });

  it('matches: exact and prefix paths, headers, query parameters and method, with precedence in priorities', () => {
    const t = run(
      route(`  parentRefs: [{ name: gw }]
  hostnames: [a.example.com]
  rules:
    - matches:
        - path: { type: Exact, value: /exact }
        - path: { type: PathPrefix, value: /pre/ }
          method: POST
          headers: [{ name: X-A, value: "1" }, { type: RegularExpression, name: X-B, value: "^b+$" }]
          queryParams: [{ name: q, value: "x y" }]
        - path: { type: RegularExpression, value: "/re/[0-9]+" }
      backendRefs: [{ name: web, port: 80 }]`),
    );
    const byRule = Object.fromEntries(one(t).map((r) => [r.rule, r.priority]));
    expect(byRule).toEqual({
      'Host("a.example.com") && Path("/exact")': 100000 + 13 + 1,
      'Host("a.example.com") && (Path("/pre") || PathPrefix("/pre/")) && Method("POST") && Header("X-A","1") && HeaderRegexp("X-B","^b+$") && Query("q","x y")':
        10000 + 5 * 100 + 1000 + 200 + 10 + 13 + 1,
      'Host("a.example.com") && PathRegexp("/re/[0-9]+")': 10000 + 10 * 100 + 13 + 1,
    });
  });

  it('weights: a weighted service over one load balancer per backendRef; weight 0 sends nothing; an invalid backend answers 500 for its share', () => {
    const t = run(
      route(`  parentRefs: [{ name: gw }]
  rules:
    - backendRefs:
        - { name: web, port: 80, weight: 3 }
        - { name: nope, port: 80, weight: 1 }
        - { name: web, port: 80, weight: 0 }`),
    );
    const r = one(t)[0]!;
    expect(t.config.http!.services![r.service!]).toEqual({
      weighted: {
        services: [
          { name: `${r.service!.slice(0, -4)}-svc-apps-web-0`, weight: 3 },
          { name: `${r.service!.slice(0, -4)}-svc-apps-nope-1`, weight: 1, status: 500 },
        ],
      },
    });
  });

  it('filters: header modifiers, redirect, rewrite, mirror and a Traefik Middleware, named as Traefik names them', () => {
    const t = run(
      route(`  parentRefs: [{ name: gw }]
  hostnames: [a.example.com]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /old } }]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: { set: [{ name: X-Set, value: s }], add: [{ name: X-Add, value: a }], remove: [X-Gone] }
        - type: ResponseHeaderModifier
          responseHeaderModifier: { set: [{ name: X-Resp, value: r }] }
        - type: URLRewrite
          urlRewrite: { hostname: internal.example.com, path: { type: ReplacePrefixMatch, replacePrefixMatch: /new } }
        - type: RequestMirror
          requestMirror: { backendRef: { name: web, port: 80 }, percent: 25 }
        - type: ExtensionRef
          extensionRef: { group: traefik.io, kind: Middleware, name: my-auth }
      backendRefs: [{ name: web, port: 80 }]
    - matches: [{ path: { type: Exact, value: /go } }]
      filters:
        - type: RequestRedirect
          requestRedirect: { scheme: https, hostname: b.example.com, statusCode: 301 }`),
    );
    const routers = Object.entries(t.config.http!.routers!);
    const [name, r] = routers.find(([, x]) => x.rule!.includes('/old'))!;
    expect(r.middlewares).toEqual([
      `${name}-requestheadermodifier-0`,
      `${name}-responseheadermodifier-1`,
      `${name}-urlrewrite-2`,
      'apps-my-auth@kubernetescrd',
    ]);
    // Traefik's internal Gateway middleware types (middlewares/gateway-*.ts)
    const mw = t.config.http!.middlewares!;
    expect(mw[`${name}-requestheadermodifier-0`]).toEqual({
      requestHeaderModifier: { set: { 'X-Set': 's' }, add: { 'X-Add': 'a' }, remove: ['X-Gone'] },
    });
    expect(mw[`${name}-responseheadermodifier-1`]).toEqual({
      responseHeaderModifier: { set: { 'X-Resp': 'r' }, add: {}, remove: [] },
    });
    expect(mw[`${name}-urlrewrite-2`]).toEqual({
      URLRewrite: { hostname: 'internal.example.com', path: '/new', pathPrefix: '/old' },
    });
    expect(r.service).toBe(`${name}-mirror`);
    expect(t.config.http!.services![`${name}-mirror`]).toEqual({
      mirroring: {
        service: `${name}-wrr`,
        mirrors: [{ name: `${name}-requestmirror-3-svc-apps-web`, percent: 25 }],
      },
    });
    const [rname] = routers.find(([, x]) => x.rule!.includes('/go'))!;
    expect(mw[`${rname}-requestredirect-0`]).toEqual({
      requestRedirect: { scheme: 'https', hostname: 'b.example.com', port: '', statusCode: 301 },
    });
  });

  it.each([
    [
      'hostname only, listener on 8080: the listener port',
      8080,
      '{ hostname: x.example.com }',
      { hostname: 'x.example.com', port: '8080' },
    ],
    // the middleware leaves 80 out of an http Location
    [
      'hostname only, listener on 80',
      80,
      '{ hostname: x.example.com }',
      { hostname: 'x.example.com', port: '80' },
    ],
    [
      'a scheme without port: its well-known port, left out',
      8080,
      '{ scheme: https }',
      { scheme: 'https', port: '' },
    ],
    ['a scheme and a port', 80, '{ scheme: https, port: 8443 }', { scheme: 'https', port: '8443' }],
    ['a port', 8080, '{ port: 80 }', { port: '80' }],
    [
      'a full path',
      80,
      '{ path: { type: ReplaceFullPath, replaceFullPath: /a$b } }',
      { port: '80', path: '/a$b' },
    ],
  ])('RequestRedirect port and scheme (the spec’s rules): %s', (_what, port, filter, options) => {
    const t = translateGateway(
      viewOfYaml(`${BASE}\n---\nkind: Gateway
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: alt, namespace: apps }
spec: { gatewayClassName: portico, listeners: [{ name: l, protocol: HTTP, port: ${port} }] }
---
${route(`  parentRefs: [{ name: alt }]\n  rules: [{ filters: [{ type: RequestRedirect, requestRedirect: ${filter} }] }]`)}`),
      { ...OPTS, entryPoints: { ...OPTS.entryPoints, alt: { port: 8080, httpTls: false } } },
    );
    const mw = Object.values(t.config.http!.middlewares!)[0];
    expect(mw).toEqual({ requestRedirect: { ...options, statusCode: 302 } });
  });

  it('an unsupported filter answers 500 on its rule (Traefik’s -err-wrr) and is reported', () => {
    const t = run(
      route(`  parentRefs: [{ name: gw }]
  rules:
    - filters: [{ type: Teleport }]
      backendRefs: [{ name: web, port: 80 }]`),
    );
    const r = one(t)[0]!;
    expect(r.service).toMatch(/-err-wrr$/);
    expect(t.config.http!.services![r.service!]).toEqual({
      weighted: { services: [{ name: 'invalid-httproute-filter', weight: 1, status: 500 }] },
    });
    expect(t.diagnostics).toContainEqual(
      expect.objectContaining({
        field: 'spec.rules[0].filters[0].type',
        message: 'unsupported filter "Teleport"',
      }),
    );
  });
});

describe('GRPCRoute, TLSRoute and TCPRoute', () => {
  it('a TLSRoute on an HTTP listener is NotAllowedByListeners; a GRPCRoute there is Accepted', () => {
    const t = run(`kind: TLSRoute
apiVersion: gateway.networking.k8s.io/v1alpha2
metadata: { name: t, namespace: apps }
spec:
  parentRefs: [{ name: gw }]
  rules: [{ backendRefs: [{ name: web, port: 80 }] }]
---
kind: GRPCRoute
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: g, namespace: apps }
spec:
  parentRefs: [{ name: gw }]
  rules: [{ backendRefs: [{ name: web, port: 80 }] }]`);
    expect(parentConds(t, 't')).toEqual({
      Accepted: 'False/NotAllowedByListeners',
      ResolvedRefs: 'True/ResolvedRefs',
    });
    expect(parentConds(t, 'g')).toEqual({
      Accepted: 'True/Accepted',
      ResolvedRefs: 'True/ResolvedRefs',
    });
    expect(t.status.routes.map((r) => `${r.kind} ${r.name}`).sort()).toEqual([
      'GRPCRoute g',
      'TLSRoute t',
    ]);
  });

  it('an HTTPS listener takes a Secret of another namespace only with a ReferenceGrant from Gateways', async () => {
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'a.example.com' }], {
      keyType: 'ec',
    });
    const secret: KubeObject = {
      metadata: { name: 'cert', namespace: 'certs' },
      type: 'kubernetes.io/tls',
      data: {
        'tls.crt': Buffer.from(pems.cert).toString('base64'),
        'tls.key': Buffer.from(pems.private).toString('base64'),
      },
    };
    const gw = `kind: Gateway
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: secure, namespace: apps }
spec:
  gatewayClassName: portico
  listeners: [{ name: https, protocol: HTTPS, port: 443, tls: { certificateRefs: [{ name: cert, namespace: certs }] } }]`;
    const grant = `kind: ReferenceGrant
apiVersion: gateway.networking.k8s.io/v1beta1
metadata: { name: g, namespace: certs }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: Gateway, namespace: apps }]
  to: [{ group: "", kind: Secret }]`;
    const build = (extra: string) => {
      const objects = objectsOfYaml(`${BASE}\n---\n${gw}${extra}`);
      objects.Secret = [secret];
      return translateGateway(viewOf(objects), OPTS);
    };
    const without = build('');
    expect(without.config.tls?.certificates ?? []).toEqual([]);
    expect(
      without.status.gateways
        .find((g) => g.name === 'secure')!
        .listeners[0]!.conditions.find((c) => c.type === 'ResolvedRefs'),
    ).toMatchObject({ status: 'False', reason: 'RefNotPermitted' });
    const withGrant = build(`\n---\n${grant}`);
    expect(withGrant.config.tls?.certificates).toEqual([
      { certFile: pems.cert, keyFile: pems.private },
    ]);
    expect(withGrant.status.gateways.find((g) => g.name === 'secure')!.conditions[0]).toMatchObject(
      {
        type: 'Accepted',
        status: 'True',
      },
    );
  });

  it('GRPCRoute: service/method as a path regexp to h2c servers', () => {
    const t = run(`kind: GRPCRoute
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: g, namespace: apps }
spec:
  parentRefs: [{ name: gw }]
  hostnames: [grpc.example.com]
  rules:
    - matches: [{ method: { service: helloworld.Greeter, method: SayHello } }]
      backendRefs: [{ name: web, port: 80 }]`);
    const [name, r] = Object.entries(t.config.http!.routers!)[0]!;
    expect(r.rule).toBe(
      'Host("grpc.example.com") && PathRegexp("^/helloworld\\\\.Greeter/SayHello$")',
    );
    expect(name).toMatch(/^grpcroute-apps-g-gw-apps-gw-ep-web-0-[0-9a-f]{20}$/);
    expect(t.config.http!.services![`${name}-svc-apps-web-0`]).toEqual({
      loadBalancer: { servers: [{ url: 'h2c://10.0.0.1:8080' }] },
    });
  });

  it('TLSRoute on a Passthrough listener: HostSNI router passed through; TCPRoute only with the experimental channel', () => {
    const objs = `kind: Gateway
apiVersion: gateway.networking.k8s.io/v1
metadata: { name: l4, namespace: apps }
spec:
  gatewayClassName: portico
  listeners:
    - { name: tls, protocol: TLS, port: 8443, tls: { mode: Passthrough } }
    - { name: tcp, protocol: TCP, port: 9000 }
---
kind: TLSRoute
apiVersion: gateway.networking.k8s.io/v1alpha2
metadata: { name: t, namespace: apps }
spec:
  parentRefs: [{ name: l4, sectionName: tls }]
  hostnames: [db.example.com]
  rules: [{ backendRefs: [{ name: web, port: 80 }] }]
---
kind: TCPRoute
apiVersion: gateway.networking.k8s.io/v1alpha2
metadata: { name: c, namespace: apps }
spec:
  parentRefs: [{ name: l4, sectionName: tcp }]
  rules: [{ backendRefs: [{ name: web, port: 80 }] }]`;
    const eps = {
      ...OPTS.entryPoints,
      tls: { port: 8443, httpTls: false },
      tcp: { port: 9000, httpTls: false },
    };
    const std = run(objs, { entryPoints: eps });
    const tls = Object.entries(std.config.tcp!.routers!).find(([k]) => k.startsWith('tlsroute-'))!;
    expect(tls[1]).toMatchObject({
      rule: 'HostSNI("db.example.com")',
      tls: { passthrough: true },
      entryPoints: ['tls'],
    });
    expect(std.config.tcp!.services![`${tls[0]}-svc-apps-web-0`]).toEqual({
      loadBalancer: { servers: [{ address: '10.0.0.1:8080' }] },
    });
    expect(Object.keys(std.config.tcp!.routers!).some((k) => k.startsWith('tcproute-'))).toBe(
      false,
    );
    expect(std.status.routes.map((r) => r.kind)).toEqual(['TLSRoute']);
    const exp = run(objs, { entryPoints: eps, experimentalChannel: true });
    expect(
      Object.entries(exp.config.tcp!.routers!).find(([k]) => k.startsWith('tcproute-'))?.[1],
    ).toMatchObject({
      rule: 'HostSNI("*")',
      entryPoints: ['tcp'],
    });
  });
});

/* ----------------------------------------------------------------- hostile */

describe('hostile objects never throw, and never take the others down', () => {
  const good = route(
    `  parentRefs: [{ name: gw }]\n  rules: [{ backendRefs: [{ name: web, port: 80 }] }]`,
    'apps',
    'good',
  );
  const HOSTILE: [string, unknown][] = [
    ['spec is a string', 'nope'],
    ['spec is an array', []],
    ['parentRefs is a number', { parentRefs: 5 }],
    [
      'parentRefs entries of the wrong kinds',
      { parentRefs: [null, 1, 'gw', { name: 7 }, { name: 'gw', port: 'x', sectionName: {} }] },
    ],
    ['rules is an object', { parentRefs: [{ name: 'gw' }], rules: { a: 1 } }],
    [
      'matches of the wrong kinds',
      {
        parentRefs: [{ name: 'gw' }],
        rules: [
          {
            matches: [
              null,
              'x',
              { path: 5 },
              { headers: 'h' },
              { headers: [{ name: 1 }] },
              { queryParams: [{}] },
              { method: 9 },
            ],
          },
        ],
      },
    ],
    [
      'hostnames of the wrong kinds',
      { parentRefs: [{ name: 'gw' }], hostnames: [1, null, {}, ''], rules: [{}] },
    ],
    [
      'backendRefs of the wrong kinds',
      {
        parentRefs: [{ name: 'gw' }],
        rules: [
          {
            backendRefs: [
              null,
              's',
              { name: 'web', port: -1, weight: 'x' },
              { name: 'web', port: 80, filters: 'f' },
            ],
          },
        ],
      },
    ],
    [
      'filters of the wrong kinds',
      {
        parentRefs: [{ name: 'gw' }],
        rules: [
          {
            filters: [
              null,
              { type: 'RequestHeaderModifier' },
              { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{}], remove: [1] } },
            ],
            backendRefs: [{ name: 'web', port: 80 }],
          },
        ],
      },
    ],
    [
      'redirect and rewrite with broken values',
      {
        parentRefs: [{ name: 'gw' }],
        rules: [
          {
            filters: [
              {
                type: 'RequestRedirect',
                requestRedirect: {
                  scheme: 'gopher',
                  port: 70000,
                  statusCode: 200,
                  path: { type: 'X' },
                },
              },
            ],
          },
          {
            filters: [
              {
                type: 'URLRewrite',
                urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: 7 } },
              },
            ],
          },
          { filters: [{ type: 'URLRewrite', urlRewrite: {} }] },
        ],
      },
    ],
    [
      'header modifiers that change nothing, or name headers badly',
      {
        parentRefs: [{ name: 'gw' }],
        rules: [
          {
            filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: {} }],
            backendRefs: [{ name: 'web', port: 80 }],
          },
          {
            filters: [
              {
                type: 'ResponseHeaderModifier',
                responseHeaderModifier: { set: [{ name: 'Bad Name', value: 'x\r\ny' }] },
              },
            ],
            backendRefs: [{ name: 'web', port: 80 }],
          },
        ],
      },
    ],
    [
      'a huge and quote-laden header value',
      {
        parentRefs: [{ name: 'gw' }],
        rules: [
          {
            matches: [{ headers: [{ name: 'X"`)', value: '"`) || Host(`evil'.repeat(1000) }] }],
            backendRefs: [{ name: 'web', port: 80 }],
          },
        ],
      },
    ],
  ];

  it.each(HOSTILE)('%s', (_what, spec) => {
    const objects = objectsOfYaml(`${BASE}\n---\n${good}`);
    objects.HTTPRoute!.push({ metadata: { name: 'bad', namespace: 'apps' }, spec } as KubeObject);
    const t = translateGateway(viewOf(objects), OPTS);
    // the good route still serves
    expect(
      Object.keys(t.config.http!.routers!).some((k) => k.startsWith('httproute-apps-good-')),
    ).toBe(true);
    expect(parentConds(t, 'good')).toEqual({
      Accepted: 'True/Accepted',
      ResolvedRefs: 'True/ResolvedRefs',
    });
    const merged = mergeSnapshots([
      { provider: 'kubernetesgateway', config: t.config, errors: [] },
    ]);
    expect(merged.errors).toEqual([]);
    const server = createRouterServer({
      staticConfig: testStaticConfig(),
      logger: pino({ level: 'silent' }),
    });
    expect(
      server
        .applyConfig(merged.config, merged.errors)
        .errors.filter((e) => !/@kubernetescrd/.test(JSON.stringify(e))),
    ).toEqual([]);
  });

  it.each([
    [
      'metadata without a name',
      { metadata: { namespace: 'apps' }, spec: { gatewayClassName: 'portico' } },
    ],
    [
      'a Gateway whose listeners are strings',
      {
        metadata: { name: 'g2', namespace: 'apps' },
        spec: { gatewayClassName: 'portico', listeners: ['x', null, 5] },
      },
    ],
    [
      'a Gateway whose listener fields are all of the wrong kind',
      {
        metadata: { name: 'g3', namespace: 'apps' },
        spec: {
          gatewayClassName: 'portico',
          listeners: [
            { name: 1, port: 'x', protocol: [], hostname: {}, tls: 'x', allowedRoutes: 'y' },
          ],
        },
      },
    ],
    [
      'a Gateway with a TLS listener whose certificateRefs are garbage',
      {
        metadata: { name: 'g4', namespace: 'apps' },
        spec: {
          gatewayClassName: 'portico',
          listeners: [
            {
              name: 'l',
              port: 443,
              protocol: 'HTTPS',
              tls: { mode: 'Terminate', certificateRefs: [null, 'x', { name: {} }] },
            },
          ],
        },
      },
    ],
  ])('gateway: %s', (_what, gw) => {
    const objects = objectsOfYaml(`${BASE}\n---\n${good}`);
    objects.Gateway!.push(gw as unknown as KubeObject);
    const t = translateGateway(viewOf(objects), OPTS);
    expect(parentConds(t, 'good')).toEqual({
      Accepted: 'True/Accepted',
      ResolvedRefs: 'True/ResolvedRefs',
    });
  });
});
