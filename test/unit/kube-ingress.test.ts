/*
 * The Ingress translator (issue 14 item 3) on Traefik's own fixtures
 * (pkg/provider/kubernetes/ingress/fixtures, copied (prettier-formatted) into
 * test/fixtures/k8s-ingress/ under their names), with the routers and
 * services Traefik's kubernetes_test.go expects of each; then Portico's
 * own cases: annotations, TLS Secrets, diagnostics and hostile objects.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import selfsigned from 'selfsigned';
import { mergeSnapshots } from '../../src/config/aggregate.js';
import { createRouterServer } from '../../src/routing/router-server.js';
import { parseRule } from '../../src/rules/parser.js';
import { goQuote, pathRule } from '../../providers/kubernetes/ingress/rules.js';
import {
  translateIngresses,
  type IngressProviderOptions,
  type IngressTranslation,
} from '../../providers/kubernetes/ingress/translate.js';
import { viewOf, type KubeObject, type ResourceKind } from '../../providers/kubernetes/objects.js';
import { objectsOfYaml, viewOfYaml } from '../helpers/kube-view.js';
import { request } from '../helpers/http.js';
import { startRouter, testStaticConfig } from '../helpers/portico.js';
import { startUpstream } from '../helpers/upstream.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'k8s-ingress');

const DEFAULTS: IngressProviderOptions = {
  allowEmptyServices: false,
  allowExternalNameServices: false,
  nativeLBByDefault: false,
  disableClusterScopeResources: false,
  strictPrefixMatching: false,
};

function translateFixture(name: string, opts: Partial<IngressProviderOptions> = {}) {
  const text = readFileSync(join(FIXTURES, `${name}.yml`), 'utf8');
  return translateIngresses(viewOfYaml(text), { ...DEFAULTS, ...opts });
}

const rules = (t: IngressTranslation) =>
  Object.fromEntries(Object.entries(t.config.http?.routers ?? {}).map(([k, r]) => [k, r.rule]));
const urls = (t: IngressTranslation) =>
  Object.fromEntries(
    Object.entries(t.config.http?.services ?? {}).map(([k, s]) => [
      k,
      (s.loadBalancer?.servers ?? []).map((x) => x.url),
    ]),
  );

type Case = [
  fixture: string,
  opts: Partial<IngressProviderOptions>,
  routers: Record<string, string>,
  services: Record<string, string[]>,
];

const S1 = ['http://10.10.0.1:8080', 'http://10.21.0.1:8080'];
const ONE = ['http://10.10.0.1:8080'];
const TCHOUK_BAR = 'Host("traefik.tchouk") && PathPrefix("/bar")';

// Traefik's expectations (kubernetes_test.go), the fixture named after the case
const TRAEFIK_CASES: Case[] = [
  ['Empty-ingresses', {}, {}, {}],
  ['Ingress-one-rule-host-only', {}, {}, {}],
  [
    'Ingress-with-a-basic-rule-on-one-path',
    {},
    { 'testing-bar': 'PathPrefix("/bar")' },
    { 'testing-service1-80': S1 },
  ],
  [
    'Ingress-with-two-different-rules-with-one-path',
    {},
    { 'testing-bar': 'PathPrefix("/bar")', 'testing-foo': 'PathPrefix("/foo")' },
    { 'testing-service1-80': S1 },
  ],
  [
    'Ingress-with-conflicting-routers-on-host',
    {},
    {
      'testing-bar-bar-41871576e140babe40bd': 'Host("*.bar") && PathPrefix("/bar")',
      'testing-bar-bar-605945111a3c9f84dc65': 'Host("bar") && PathPrefix("/bar")',
    },
    { 'testing-service1-80': S1 },
  ],
  [
    'Ingress-with-conflicting-routers-on-path',
    {},
    {
      'testing-foo-bar-930f0e8b221e60bc7ab7': 'PathPrefix("/foo/bar")',
      'testing-foo-bar-207cc2245cb31ba18e29': 'PathPrefix("/foo-bar")',
    },
    { 'testing-service1-80': S1 },
  ],
  [
    'Ingress-one-rule-with-two-paths',
    {},
    { 'testing-bar': 'PathPrefix("/bar")', 'testing-foo': 'PathPrefix("/foo")' },
    { 'testing-service1-80': S1 },
  ],
  [
    'Ingress-one-rule-with-one-path-and-one-host',
    {},
    { 'testing-traefik-tchouk-bar': TCHOUK_BAR },
    { 'testing-service1-80': S1 },
  ],
  [
    'Ingress-with-one-host-without-path',
    {},
    { 'testing-example-com': 'Host("example.com")' },
    { 'testing-example-com-80': ['http://10.11.0.1:80'] },
  ],
  [
    'Ingress-one-rule-with-one-host-and-two-paths',
    {},
    {
      'testing-traefik-tchouk-bar': TCHOUK_BAR,
      'testing-traefik-tchouk-foo': 'Host("traefik.tchouk") && PathPrefix("/foo")',
    },
    { 'testing-service1-80': S1 },
  ],
  [
    'Ingress-with-two-services',
    {},
    {
      'testing-traefik-tchouk-bar': TCHOUK_BAR,
      'testing-traefik-courgette-carotte': 'Host("traefik.courgette") && PathPrefix("/carotte")',
    },
    {
      'testing-service1-80': S1,
      'testing-service2-8082': ['http://10.10.0.2:8080', 'http://10.21.0.2:8080'],
    },
  ],
  [
    'Ingress-with-one-service-without-endpoints-subset',
    { allowEmptyServices: true },
    { 'testing-traefik-tchouk-bar': TCHOUK_BAR },
    { 'testing-service1-80': [] },
  ],
  ['Ingress-with-backend-resource', { allowEmptyServices: true }, {}, {}],
  ['Ingress-without-backend', { allowEmptyServices: true }, {}, {}],
  ['Ingress-with-defaultbackend-with-resource', {}, {}, {}],
  ['Ingress-with-empty-defaultbackend', {}, {}, {}],
  ['Ingress-with-one-service-without-endpoint', {}, {}, {}],
  [
    'Single-Service-Ingress-(without-any-rules)',
    {},
    { 'default-router': 'PathPrefix("/")' },
    { 'default-backend': S1 },
  ],
  [
    'Ingress-with-port-value-in-backend-and-no-pod-replica',
    {},
    { 'testing-traefik-tchouk-bar': TCHOUK_BAR },
    { 'testing-service1-80': ['http://10.10.0.1:8089', 'http://10.21.0.1:8089'] },
  ],
  [
    'Ingress-with-port-name-in-backend-and-no-pod-replica',
    {},
    { 'testing-traefik-tchouk-bar': TCHOUK_BAR },
    { 'testing-service1-tchouk': ['http://10.10.0.1:8089', 'http://10.21.0.1:8089'] },
  ],
  [
    'Ingress-with-port-name-in-backend-and-2-pod-replica',
    {},
    { 'testing-traefik-tchouk-bar': TCHOUK_BAR },
    { 'testing-service1-tchouk': ['http://10.10.0.1:8089', 'http://10.10.0.2:8089'] },
  ],
  [
    'Ingress-with-two-paths-using-same-service-and-different-port-name',
    {},
    {
      'testing-traefik-tchouk-bar': TCHOUK_BAR,
      'testing-traefik-tchouk-foo': 'Host("traefik.tchouk") && PathPrefix("/foo")',
    },
    {
      'testing-service1-tchouk': ['http://10.10.0.1:8089', 'http://10.10.0.2:8089'],
      'testing-service1-carotte': ['http://10.10.0.1:8090', 'http://10.10.0.2:8090'],
    },
  ],
  [
    'Ingress-with-a-named-port-matching-subset-of-service-pods',
    {},
    { 'testing-traefik-tchouk-bar': TCHOUK_BAR },
    { 'testing-service1-tchouk': ['http://10.10.0.1:8089', 'http://10.10.0.2:8089'] },
  ],
  [
    '2-ingresses-in-different-namespace-with-same-service-name',
    {},
    {
      'testing-traefik-tchouk-bar': TCHOUK_BAR,
      'toto-toto-traefik-tchouk-bar': 'Host("toto.traefik.tchouk") && PathPrefix("/bar")',
    },
    {
      'testing-service1-tchouk': ['http://10.10.0.1:8089', 'http://10.10.0.2:8089'],
      'toto-service1-tchouk': ['http://10.11.0.1:8089', 'http://10.11.0.2:8089'],
    },
  ],
  ['Ingress-with-unknown-service-port-name', {}, {}, {}],
  ['Ingress-with-unknown-service-port', {}, {}, {}],
  [
    'Ingress-with-port-invalid-for-one-service',
    {},
    { 'testing-traefik-port-port': 'Host("traefik.port") && PathPrefix("/port")' },
    { 'testing-service1-8080': ['http://10.0.0.1:8080'] },
  ],
  [
    'TLS-support',
    {},
    { 'testing-example-com': 'Host("example.com")' },
    { 'testing-example-com-80': ['http://10.11.0.1:80'] },
  ],
  [
    'Ingress-with-a-basic-rule-on-one-path-with-https-(port-==-443)',
    {},
    { 'testing-bar': 'PathPrefix("/bar")' },
    { 'testing-service1-443': ['https://10.10.0.1:8443', 'https://10.21.0.1:8443'] },
  ],
  [
    'Ingress-with-a-basic-rule-on-one-path-with-https-(portname-==-https)',
    {},
    { 'testing-bar': 'PathPrefix("/bar")' },
    { 'testing-service1-8443': ['https://10.10.0.1:8443', 'https://10.21.0.1:8443'] },
  ],
  [
    'Ingress-with-a-basic-rule-on-one-path-with-https-(portname-starts-with-https)',
    {},
    { 'testing-bar': 'PathPrefix("/bar")' },
    { 'testing-service1-8443': ['https://10.10.0.1:8443', 'https://10.21.0.1:8443'] },
  ],
  [
    'Double-Single-Service-Ingress',
    {},
    { 'default-router': 'PathPrefix("/")' },
    { 'default-backend': ['http://10.30.0.1:8080', 'http://10.41.0.1:8080'] },
  ],
  [
    'Ingress-with-default-traefik-ingressClass',
    {},
    { 'testing-bar': 'PathPrefix("/bar")' },
    { 'testing-service1-80': ONE },
  ],
  ['Ingress-without-provider-traefik-ingressClass-and-unknown-annotation', {}, {}, {}],
  [
    'Ingress-with-non-matching-provider-traefik-ingressClass-and-annotation',
    { ingressClass: 'tchouk' },
    {},
    {},
  ],
  ['Ingress-with-ingressClass-without-annotation', { ingressClass: 'tchouk' }, {}, {}],
  ['Ingress-with-ingressClass-without-annotation', { ingressClass: 'toto' }, {}, {}],
  [
    'Ingress-with-wildcard-host',
    {},
    { 'testing-foobar-com-bar': 'Host("*.foobar.com") && PathPrefix("/bar")' },
    { 'testing-service1-80': ONE },
  ],
  [
    'Ingress-with-multiple-ingressClasses',
    {},
    { 'testing-foo': 'PathPrefix("/foo")', 'testing-bar': 'PathPrefix("/bar")' },
    { 'testing-service1-80': ONE },
  ],
  [
    'Ingress-with-ingressClasses-filter',
    { ingressClass: 'traefik-lb2' },
    { 'testing-foo': 'PathPrefix("/foo")' },
    { 'testing-service1-80': ONE },
  ],
  [
    'Ingress-with-prefix-pathType',
    {},
    { 'testing-bar': 'PathPrefix("/bar")' },
    { 'testing-service1-80': ONE },
  ],
  [
    'Ingress-with-empty-pathType',
    {},
    { 'testing-bar': 'Path("/bar")' },
    { 'testing-service1-80': ONE },
  ],
  [
    'Ingress-with-exact-pathType',
    {},
    { 'testing-bar': 'Path("/bar")' },
    { 'testing-service1-80': ONE },
  ],
  [
    'Ingress-with-implementationSpecific-pathType',
    {},
    { 'testing-bar': 'Path("/bar")' },
    { 'testing-service1-80': ONE },
  ],
  [
    'Ingress-with-ingress-annotation',
    {},
    { 'testing-bar': 'PathPrefix("/bar")' },
    { 'testing-service1-80': ONE },
  ],
  [
    'Ingress-with-ingressClass',
    {},
    { 'testing-bar': 'PathPrefix("/bar")' },
    { 'testing-service1-80': ONE },
  ],
  // Traefik: without IngressClass lookups, an Ingress naming a class is not taken
  ['Ingress-with-ingressClass', { disableClusterScopeResources: true }, {}, {}],
  [
    'Ingress-with-named-port',
    {},
    { 'testing-bar': 'PathPrefix("/bar")' },
    { 'testing-service1-foobar': ['http://10.10.0.1:4711'] },
  ],
  ['Ingress-with-missing-ingressClass', {}, {}, {}],
  [
    'Ingress-with-defaultbackend',
    {},
    { 'default-router': 'PathPrefix("/")' },
    { 'default-backend': ONE },
  ],
  // Traefik keeps 10.10.0.3-4 (terminating, serving) as fenced servers; Portico takes them out of rotation
  [
    'Ingress-with-endpoint-conditions',
    {},
    { 'testing-bar': 'PathPrefix("/bar")' },
    { 'testing-service1-80': ['http://10.10.0.1:8080', 'http://10.10.0.2:8080'] },
  ],
  [
    'Ingress-with-strict-prefix-matching',
    { strictPrefixMatching: true },
    { 'testing-bar': '(Path("/bar") || PathPrefix("/bar/"))' },
    { 'testing-service1-80': S1 },
  ],
  ['Ingress-with-invalid-pathmatcher-annotation', {}, {}, { 'testing-service1-80': ONE }],
  [
    'Ingress-with-nil-endpointslice-port-name',
    { allowEmptyServices: true },
    {
      'default-ingress-with-nil-endpointslice-port-name-whoami-localhost':
        'Host("whoami.localhost") && PathPrefix("/")',
    },
    { 'default-whoami-nil-port-name-80': [] },
  ],
  [
    'Ingress-with-nil-endpointslice-port-value',
    { allowEmptyServices: true },
    {
      'default-ingress-with-nil-endpointslice-port-value-whoami-localhost':
        'Host("whoami.localhost") && PathPrefix("/")',
    },
    { 'default-whoami-nil-port-value-80': [] },
  ],
  ['Ingress-with-service-with-externalName', {}, {}, {}],
  [
    'Ingress-with-service-with-externalName-enabled',
    { allowExternalNameServices: true },
    { 'testing-traefik-tchouk-bar': TCHOUK_BAR },
    { 'testing-service1-8080': ['http://traefik.wtf:8080'] },
  ],
  [
    'Ingress-with-IPv6-endpoints',
    {},
    { 'testing-example-com-bar': 'PathPrefix("/bar")' },
    { 'testing-service-bar-8080': ['http://[2001:0db8:3c4d:0015:0000:0000:1a2f:1a2b]:8080'] },
  ],
  [
    'Ingress-with-IPv6-endpoints-externalname-enabled',
    { allowExternalNameServices: true },
    { 'testing-example-com-foo': 'PathPrefix("/foo")' },
    { 'testing-service-foo-8080': ['http://[2001:0db8:3c4d:0015:0000:0000:1a2f:2a3b]:8080'] },
  ],
  [
    'Ingress-with-native-service-lb',
    {},
    { 'testing-traefik-tchouk-bar': TCHOUK_BAR },
    { 'testing-service1-8080': ['http://10.0.0.1:8080'] },
  ],
  [
    'Ingress-with-node-port-lb',
    {},
    { 'testing-traefik-tchouk-bar': TCHOUK_BAR },
    { 'testing-service1-8080': ['http://172.16.4.4:32456'] },
  ],
  [
    'Ingress-with-node-port-lb-cluster-scope-disabled',
    { disableClusterScopeResources: true },
    {},
    {},
  ],
  [
    'Ingress-with-native-lb-by-default',
    { nativeLBByDefault: true },
    { 'default-global-native-lb-traefik-tchouk-bar': TCHOUK_BAR },
    { 'default-service1-8080': ['http://10.0.0.1:8080'] },
  ],
  [
    'Ingress-with-native-lb-by-default-but-service-has-disabled-nativelb',
    { nativeLBByDefault: true },
    { 'default-global-native-lb-traefik-tchouk-bar': TCHOUK_BAR },
    { 'default-native-disabled-svc-web': ['http://10.10.0.20:8080', 'http://10.10.0.21:8080'] },
  ],
];

describe("translateIngresses on Traefik's fixtures", () => {
  it.each(TRAEFIK_CASES)('%s %j', (fixture, opts, routers, services) => {
    const t = translateFixture(fixture, opts);
    expect(rules(t)).toEqual(routers);
    expect(urls(t)).toEqual(services);
  });
});

describe('annotations (Traefik fixture Ingress-with-annotations)', () => {
  const t = translateFixture('Ingress-with-annotations');

  it('router.* annotations shape the router; middleware and TLS option references stay as written', () => {
    expect(t.config.http?.routers?.['testing-bar']).toEqual({
      rule: 'Path("/bar")',
      service: 'testing-service1-80',
      entryPoints: ['ep1', 'ep2'],
      middlewares: ['md1', 'md2'],
      priority: 42,
      tls: {
        certResolver: 'foobar',
        domains: [
          { main: 'domain.com', sans: ['one.domain.com', 'two.domain.com'] },
          { main: 'example.com', sans: ['one.example.com', 'two.example.com'] },
        ],
        options: 'foobar',
      },
      observability: { accessLogs: true, metrics: true, tracing: true },
    });
  });

  it('service.* annotations of the Service shape its load balancer', () => {
    expect(t.config.http?.services?.['testing-service1-80']).toEqual({
      loadBalancer: {
        servers: [{ url: 'protocol://10.10.0.1:8080' }, { url: 'protocol://10.21.0.1:8080' }],
        passHostHeader: true,
        sticky: { cookie: { name: 'foobar', secure: true, httpOnly: true } },
        serversTransport: 'foobar@file',
      },
    });
  });

  it('warns about the v2 rule syntax and a scheme that is not http, https or h2c', () => {
    expect(t.diagnostics).toEqual([
      expect.objectContaining({
        kind: 'Ingress',
        namespace: 'testing',
        field: 'metadata.annotations["traefik.ingress.kubernetes.io/router.rulesyntax"]',
        level: 'warning',
      }),
      expect.objectContaining({
        field: 'spec.rules[0].http.paths[0].backend.service.name',
        message: expect.stringMatching(/servers scheme "protocol"/),
        level: 'warning',
      }),
    ]);
  });
});

describe('IngressClass selection', () => {
  const view = viewOfYaml(readFileSync(join(FIXTURES, 'portico-class-selection.yml'), 'utf8'));
  const taken = (opts: Partial<IngressProviderOptions>) =>
    translateIngresses(view, { ...DEFAULTS, ...opts })
      .accepted.map((a) => a.name)
      .sort();

  it.each([
    [
      'no option: both controllers, the legacy annotation, and unclassed Ingresses',
      {},
      ['by-legacy-annotation', 'by-portico-class', 'by-traefik-class', 'unclassed'],
    ],
    // Portico's addition: the default class also takes unclassed Ingresses when the option names it
    [
      'ingressClass=portico: that class, and unclassed ones since it is the default',
      { ingressClass: 'portico' },
      ['by-portico-class', 'unclassed'],
    ],
    [
      'ingressClass=traefik: that class and the annotation',
      { ingressClass: 'traefik' },
      ['by-legacy-annotation', 'by-traefik-class'],
    ],
    [
      'ingressClass=nginx: not our controller, only the annotation',
      { ingressClass: 'nginx' },
      ['by-other-annotation'],
    ],
    [
      'disableClusterScopeResources: no class lookups, as in Traefik',
      { disableClusterScopeResources: true },
      ['by-legacy-annotation', 'unclassed'],
    ],
  ])('%s', (_d, opts, names) => {
    expect(taken(opts)).toEqual(names);
  });

  it('Ingresses of other controllers are skipped without a diagnostic', () => {
    expect(translateIngresses(view, DEFAULTS).diagnostics).toEqual([]);
  });
});

describe('diagnostics: a broken part skips only itself', () => {
  const t = translateFixture('portico-broken-parts');
  const at = (field: string) => t.diagnostics.filter((d) => d.field === field);

  it('the good path keeps serving', () => {
    expect(rules(t)).toEqual({
      'apps-mixed-good-example-com-ok': 'Host("good.example.com") && PathPrefix("/ok")',
    });
    expect(urls(t)).toEqual({ 'apps-web-80': ['http://10.0.0.1:8080'] });
    expect(t.accepted).toEqual([{ namespace: 'apps', name: 'mixed' }]);
  });

  const p = (i: number) => `spec.rules[0].http.paths[${i}]`;
  it.each([
    [`${p(1)}.backend.service.name`, /service apps\/nope not found/],
    [`${p(2)}.backend.service.port.name`, /port "grpc" not found in service apps\/web/],
    [`${p(3)}.backend.resource`, /resource backends are not supported/],
    [`${p(4)}.path`, /must start with "\/" for Path;/],
    [`${p(5)}.backend.service.name`, /externalName services not allowed: apps\/outside/],
    [`${p(6)}.backend.service.name`, /no endpoints found for service apps\/idle/],
    [`${p(7)}.backend.service.name`, /service\.sticky\.cookie\.maxage/],
    ['spec.rules[1].host', /not a DNS name.*the rule is skipped/],
    ['spec.tls[0].secretName', /secret apps\/absent does not exist/],
    [
      'spec.tls[1].secretName',
      /secret apps\/keyless is missing the following TLS data entries: tls.key/,
    ],
    ['spec.tls[2].secretName', /not valid base64/],
    ['spec.tls[3].secretName', /tls.crt is not PEM text/],
  ])('%s', (field, message) => {
    expect(at(field)).toEqual([
      {
        kind: 'Ingress',
        namespace: 'apps',
        name: 'mixed',
        field,
        message: expect.stringMatching(message),
        level: 'error',
      },
    ]);
  });

  it('a default backend next to rules is ignored with a warning, as Traefik ignores it', () => {
    expect(at('spec.defaultBackend')).toEqual([expect.objectContaining({ level: 'warning' })]);
    expect(t.config.http?.routers?.['default-router']).toBeUndefined();
  });

  it('nothing else is reported, and no certificate comes from a broken Secret', () => {
    expect(t.diagnostics).toHaveLength(13);
    expect(t.config.tls).toBeUndefined();
  });
});

describe('router annotations that do not decode refuse the whole Ingress (as in Traefik)', () => {
  const ingress = (annotations: Record<string, unknown>): KubeObject => ({
    metadata: {
      name: 'web',
      namespace: 'apps',
      annotations: annotations as Record<string, string>,
    },
    spec: {
      rules: [
        {
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: 'web', port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    },
  });
  const view = (annotations: Record<string, unknown>) =>
    viewOf({
      ...objectsOfYaml(readFileSync(join(FIXTURES, 'portico-class-selection.yml'), 'utf8')),
      Ingress: [ingress(annotations)],
    });
  const A = 'traefik.ingress.kubernetes.io/';

  it.each([
    [{ [`${A}router.priority`]: 'high' }, `${A}router.priority`, /expected an integer, got "high"/],
    [
      { [`${A}router.entrypoint`]: 'web' },
      `${A}router.entrypoint`,
      /did you mean "router.entrypoints"/,
    ],
    [{ [`${A}router.tls.certresolvr`]: 'le' }, `${A}router.tls.certresolvr`, /certresolvr/],
    [
      { [`${A}router.tls.domains.0.sans`]: 'a.example', [`${A}router.tls.domains.0.mian`]: 'x' },
      `${A}router.tls.domains.0.mian`,
      /mian/,
    ],
    [
      { [`${A}router.rule`]: 'PathPrefix(`/`)' },
      `${A}router.rule`,
      /unknown annotation field "router.rule"/,
    ],
  ])('%j', (annotations, key, message) => {
    const t = translateIngresses(view(annotations), DEFAULTS);
    expect(t.config.http?.routers).toEqual({});
    expect(t.diagnostics).toContainEqual(
      expect.objectContaining({
        field: `metadata.annotations[${JSON.stringify(key)}]`,
        message: expect.stringMatching(message),
        level: 'error',
      }),
    );
  });

  it('keys of other tools and non-text values are ignored', () => {
    const t = translateIngresses(
      view({
        'nginx.ingress.kubernetes.io/rewrite-target': '/',
        [`${A}foo`]: 'bar',
        [`${A}router.priority`]: 7,
      }),
      DEFAULTS,
    );
    expect(rules(t)).toEqual({ 'apps-web': 'PathPrefix("/")' });
    expect(t.diagnostics).toEqual([]);
  });
});

describe('hostile objects never throw, and what comes out is valid configuration', () => {
  const base = (): Partial<Record<ResourceKind, KubeObject[]>> =>
    objectsOfYaml(`
kind: Ingress
apiVersion: networking.k8s.io/v1
metadata:
  name: web
  namespace: apps
  annotations:
    traefik.ingress.kubernetes.io/router.priority: "10"
    traefik.ingress.kubernetes.io/router.pathmatcher: PathRegexp
spec:
  tls: [{ hosts: [a.example.com], secretName: cert }]
  rules:
    - host: a.example.com
      http:
        paths:
          - { path: /x, pathType: Exact, backend: { service: { name: web, port: { number: 80 } } } }
          - { path: "^/y[0-9]+$", pathType: ImplementationSpecific, backend: { service: { name: web, port: { name: http } } } }
    - http:
        paths:
          - { path: /z, pathType: Prefix, backend: { service: { name: web, port: { number: 80 } } } }
---
kind: Service
apiVersion: v1
metadata:
  name: web
  namespace: apps
  annotations: { traefik.ingress.kubernetes.io/service.sticky.cookie.name: s }
spec:
  ports: [{ name: http, port: 80 }]
---
kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata: { name: web-1, namespace: apps, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
ports: [{ name: http, port: 8080 }]
endpoints: [{ addresses: [10.0.0.1], conditions: { ready: true } }]
---
kind: Secret
apiVersion: v1
metadata: { name: cert, namespace: apps }
type: kubernetes.io/tls
stringData:
  tls.crt: "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n"
  tls.key: "-----BEGIN PRIVATE KEY-----\\nMIIB\\n-----END PRIVATE KEY-----\\n"
`);

  /** every path to a value inside `v`, e.g. ['spec', 'rules', 0, 'host'] */
  function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
    const out: (string | number)[][] = [prefix];
    if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
    else if (v !== null && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
    return out;
  }

  function setAt(root: unknown, path: (string | number)[], value: unknown): void {
    let cur = root as Record<string | number, unknown>;
    for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
    cur[path[path.length - 1]!] = value;
  }

  const HUGE = 'a'.repeat(300_000);
  const HOSTILE: unknown[] = [
    null,
    42,
    -1,
    1.5,
    'x',
    '',
    '`',
    '"\\',
    [],
    {},
    true,
    HUGE,
    [null],
    { length: 3 },
  ];

  it('any field of the Ingress, Service, EndpointSlice or Secret replaced by a value of the wrong kind: the result validates and compiles', () => {
    let translations = 0;
    const server = createRouterServer({
      staticConfig: testStaticConfig(),
      logger: pino({ level: 'silent' }),
    });
    for (const kind of ['Ingress', 'Service', 'EndpointSlice', 'Secret'] as const) {
      for (const path of paths(base()[kind]![0]).slice(1)) {
        // the caches (and viewOf) index objects by metadata.name/namespace: those are always there
        if (
          path[0] === 'metadata' &&
          (path.length === 1 || path[1] === 'name' || path[1] === 'namespace')
        )
          continue;
        for (const value of HOSTILE) {
          const objects = base();
          setAt(objects[kind]![0], path, value);
          const t = translateIngresses(viewOf(objects), DEFAULTS);
          translations++;
          const merged = mergeSnapshots([{ provider: 'kubernetes', config: t.config, errors: [] }]);
          merged.errors.push(...server.applyConfig(merged.config, merged.errors).errors);
          if (merged.errors.length > 0)
            throw new Error(
              `${kind} ${path.join('.')} = ${String(value).slice(0, 20)}: ${JSON.stringify(merged.errors)}`,
            );
          for (const d of t.diagnostics) expect(d.message.length).toBeLessThanOrEqual(500);
        }
      }
    }
    expect(translations).toBeGreaterThan(500);
  });

  it('a huge host is refused, a huge path is quoted whole; a backtick or quote cannot end a value', () => {
    const objects = base();
    const ing = objects.Ingress![0]!;
    setAt(ing, ['spec', 'rules', 0, 'host'], HUGE);
    setAt(ing, ['spec', 'rules', 1, 'http', 'paths', 0, 'path'], `/${HUGE}"\`) || Host(\`x`);
    const t = translateIngresses(viewOf(objects), DEFAULTS);
    expect(t.diagnostics).toContainEqual(
      expect.objectContaining({
        field: 'spec.rules[0].host',
        message: expect.stringMatching(/300000 characters/),
      }),
    );
    const rule = Object.values(t.config.http!.routers!)[0]!.rule;
    expect(rule).toBe(`PathPrefix("/${HUGE}\\"\`) || Host(\`x")`);
  });
});

describe('the translation is accepted by Portico as it stands', () => {
  const PORTICO_ONLY = new Set(['Ingress-with-annotations']); // ep1/md1/foobar name nothing, scheme "protocol"

  it.each(TRAEFIK_CASES.filter(([f]) => !PORTICO_ONLY.has(f)))(
    '%s validates, qualifies as @kubernetes and compiles without errors',
    (fixture, opts) => {
      const t = translateFixture(fixture, opts);
      const merged = mergeSnapshots([{ provider: 'kubernetes', config: t.config, errors: [] }]);
      expect(merged.errors).toEqual([]);
      for (const name of Object.keys(t.config.http?.routers ?? {}))
        expect(merged.config.http?.routers?.[`${name}@kubernetes`]?.service).toMatch(
          /@kubernetes$/,
        );
      const server = createRouterServer({
        staticConfig: testStaticConfig(),
        logger: pino({ level: 'silent' }),
      });
      const table = server.applyConfig(merged.config, merged.errors);
      expect(table.errors).toEqual([]);
      expect(table.routers.size).toBe(Object.keys(t.config.http?.routers ?? {}).length);
    },
  );
});

describe('end to end: Ingresses route real requests through Portico to their endpoints', () => {
  const SERVICE_AND_INGRESSES = (upA: number, upB: number) => `
kind: Ingress
apiVersion: networking.k8s.io/v1
metadata: { name: app, namespace: shop }
spec:
  rules:
    - host: app.example.test
      http:
        paths:
          - { path: /api, pathType: Prefix, backend: { service: { name: api, port: { name: http } } } }
          - { path: /empty, pathType: Prefix, backend: { service: { name: idle, port: { number: 80 } } } }
---
kind: Ingress
apiVersion: networking.k8s.io/v1
metadata:
  name: app-tls
  namespace: shop
  annotations:
    traefik.ingress.kubernetes.io/router.entrypoints: websecure
    traefik.ingress.kubernetes.io/router.tls: "true"
spec:
  tls: [{ secretName: app-cert }]
  rules:
    - host: app.example.test
      http:
        paths:
          - { path: /, pathType: Prefix, backend: { service: { name: api, port: { number: 8000 } } } }
---
kind: Service
apiVersion: v1
metadata: { name: api, namespace: shop }
spec:
  ports: [{ name: http, port: 8000, targetPort: http }]
---
kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata: { name: api-a, namespace: shop, labels: { kubernetes.io/service-name: api } }
addressType: IPv4
ports: [{ name: http, port: ${upA} }]
endpoints: [{ addresses: [127.0.0.1], conditions: { ready: true, serving: true, terminating: false } }]
---
kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata: { name: api-b, namespace: shop, labels: { kubernetes.io/service-name: api } }
addressType: IPv4
ports: [{ name: http, port: ${upB} }]
endpoints: [{ addresses: [127.0.0.1], conditions: { ready: false, serving: true, terminating: true } }]
---
kind: Service
apiVersion: v1
metadata: { name: idle, namespace: shop }
spec:
  ports: [{ port: 80 }]
`;

  it('routes by host and path to ready endpoints only, serves the Secret certificate, and answers an empty Service as Traefik does', async () => {
    const scope: (() => Promise<void>)[] = [];
    try {
      const podA = await startUpstream('pod-a');
      scope.push(() => podA.close());
      const podB = await startUpstream('pod-b (terminating)');
      scope.push(() => podB.close());
      const pems = await selfsigned.generate([{ name: 'commonName', value: 'app.example.test' }], {
        keyType: 'ec',
        extensions: [
          { name: 'subjectAltName', altNames: [{ type: 2, value: 'app.example.test' }] },
        ],
      });
      const objects = objectsOfYaml(SERVICE_AND_INGRESSES(podA.port, podB.port));
      objects.Secret = [
        {
          metadata: { name: 'app-cert', namespace: 'shop' },
          type: 'kubernetes.io/tls',
          data: {
            'tls.crt': Buffer.from(pems.cert).toString('base64'),
            'tls.key': Buffer.from(pems.private).toString('base64'),
          },
        },
      ];
      const router = await startRouter(
        {},
        { flags: ['--entryPoints.websecure.address=127.0.0.1:0'] },
      );
      scope.push(() => router.close());
      const apply = (opts: Partial<IngressProviderOptions>) => {
        const t = translateIngresses(viewOf(objects), { ...DEFAULTS, ...opts });
        const merged = mergeSnapshots([{ provider: 'kubernetes', config: t.config, errors: [] }]);
        expect(router.router.applyConfig(merged.config, merged.errors).errors).toEqual([]);
        return t;
      };
      const get = (path: string) =>
        request(`${router.url}${path}`, { headers: { host: 'app.example.test' } });

      const t = apply({});
      expect(t.diagnostics).toEqual([
        expect.objectContaining({
          field: 'spec.rules[0].http.paths[1].backend.service.name',
          message: expect.stringMatching(/no endpoints found for service shop\/idle/),
        }),
      ]);
      for (let i = 0; i < 6; i++) {
        const r = await get(`/api/items/${i}`);
        expect(r.status).toBe(200);
        expect(r.headers['x-upstream']).toBe('pod-a');
      }
      expect(podB.seen).toEqual([]);
      expect((await get('/elsewhere')).status).toBe(404);
      // without allowEmptyServices the path has no router (404); with it, a service without servers (503)
      expect((await get('/empty')).status).toBe(404);
      apply({ allowEmptyServices: true });
      expect((await get('/empty')).status).toBe(503);

      const securePort = (
        router.router.entryPoints.get('websecure')!.listener.address() as AddressInfo
      ).port;
      const getSecure = () =>
        new Promise<{ status: number; cn: string; upstream: unknown }>((resolve, reject) => {
          const req = https.request(
            {
              host: '127.0.0.1',
              port: securePort,
              path: '/',
              servername: 'app.example.test',
              headers: { host: 'app.example.test' },
              rejectUnauthorized: false,
              agent: false,
            },
            (res) => {
              const cn = (res.socket as TLSSocket).getPeerCertificate().subject.CN;
              res.resume();
              res.on('end', () =>
                resolve({
                  status: res.statusCode ?? 0,
                  cn: String(cn),
                  upstream: res.headers['x-upstream'],
                }),
              );
            },
          );
          req.on('error', reject);
          req.end();
        });
      expect(await getSecure()).toEqual({ status: 200, cn: 'app.example.test', upstream: 'pod-a' });

      // the Secret rotated: the next translation serves the new certificate
      const next = await selfsigned.generate(
        [{ name: 'commonName', value: 'rotated.example.test' }],
        {
          keyType: 'ec',
          extensions: [
            { name: 'subjectAltName', altNames: [{ type: 2, value: 'app.example.test' }] },
          ],
        },
      );
      objects.Secret[0]!.data = {
        'tls.crt': Buffer.from(next.cert).toString('base64'),
        'tls.key': Buffer.from(next.private).toString('base64'),
      };
      apply({});
      expect((await getSecure()).cn).toBe('rotated.example.test');
    } finally {
      for (const close of scope.reverse()) await close();
    }
  });
});

describe("values are quoted as Go's %q quotes them, and Portico's rule parser reads them back", () => {
  it.each([
    ['/plain', '"/plain"'],
    ['/a"b\\c', '"/a\\"b\\\\c"'],
    ['/tab\tnl\nbell\x07del\x7f', '"/tab\\tnl\\nbell\\adel\\x7f"'],
    ['/nbsp\u00a0soft\u00ad', '"/nbsp\\u00a0soft\\u00ad"'],
    ['/é/日本/😀', '"/é/日本/😀"'],
    ['/`) || Host(`x', '"/`) || Host(`x"'],
  ])('%j → %s', (value, quoted) => {
    expect(goQuote(value)).toBe(quoted);
    const node = parseRule(pathRule('Path', value, false));
    expect(node).toMatchObject({ type: 'matcher', name: 'Path', args: [value] });
  });
});

describe('scale', () => {
  // not a timing assertion: a step quadratic in the number of Ingresses takes this far past the deadline
  it('translates 5,000 Ingresses, each with its own Service and EndpointSlice, within the test deadline', () => {
    const n = 5000;
    const objects: Partial<Record<ResourceKind, KubeObject[]>> = {
      Ingress: [],
      Service: [],
      EndpointSlice: [],
    };
    for (let i = 0; i < n; i++) {
      const ns = `ns${i % 50}`;
      objects.Ingress!.push({
        metadata: { name: `app${i}`, namespace: ns },
        spec: {
          rules: [
            {
              host: `app${i}.example.com`,
              http: {
                paths: [
                  {
                    path: '/',
                    pathType: 'Prefix',
                    backend: { service: { name: `svc${i}`, port: { number: 80 } } },
                  },
                ],
              },
            },
          ],
        },
      });
      objects.Service!.push({
        metadata: { name: `svc${i}`, namespace: ns },
        spec: { ports: [{ port: 80 }] },
      });
      objects.EndpointSlice!.push({
        metadata: {
          name: `svc${i}-x`,
          namespace: ns,
          labels: { 'kubernetes.io/service-name': `svc${i}` },
        },
        addressType: 'IPv4',
        ports: [{ name: '', port: 8080 }],
        endpoints: [{ addresses: [`10.${(i >> 8) & 255}.${i & 255}.1`] }],
      });
    }
    const t = translateIngresses(viewOf(objects), DEFAULTS);
    expect(t.diagnostics).toEqual([]);
    expect(Object.keys(t.config.http!.routers!)).toHaveLength(n);
    expect(Object.keys(t.config.http!.services!)).toHaveLength(n);
  });
});
