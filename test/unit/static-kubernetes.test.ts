/*
 * providers.kubernetesIngress and providers.kubernetesCRD in the static
 * configuration (issue 14 item 1): Traefik's option names and defaults
 * (pkg/provider/kubernetes/{ingress,crd}/kubernetes.go), from a file, flags,
 * PORTICO_* and TRAEFIK_* variables; bad values refused naming the option as
 * the user wrote it; Traefik options Portico lacks refused by name.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadStaticConfig, staticWarnings } from '../../src/config/static.js';
import type {
  KubernetesCrdProviderConfig,
  KubernetesIngressProviderConfig,
  StaticConfig,
} from '../../src/config/static-types.js';
import {
  matchesLabelSelector,
  parseLabelSelector,
} from '../../src/config/kubernetes-label-selector.js';
import { StaticConfigError } from '../../src/kernel/errors.js';

let cwd: string;

beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'portico-static-k8s-'));
});

afterEach(() => {
  rmSync(cwd, { recursive: true, force: true });
});

function load(argv: string[] = [], env: NodeJS.ProcessEnv = {}): StaticConfig {
  return loadStaticConfig({ argv, env, cwd });
}

function loadFile(yaml: string, argv: string[] = [], env: NodeJS.ProcessEnv = {}): StaticConfig {
  writeFileSync(join(cwd, 'portico.yml'), yaml);
  return load(argv, env);
}

function errorOf(run: () => unknown): StaticConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(StaticConfigError);
    return error as StaticConfigError;
  }
  throw new Error('expected a StaticConfigError');
}

// Traefik's zero values: neither provider has a SetDefaults, and throttleDuration is 0s ("every event is caught")
const INGRESS_DEFAULTS: KubernetesIngressProviderConfig = {
  namespaces: [],
  throttleDurationMs: 0,
  allowEmptyServices: false,
  allowExternalNameServices: false,
  nativeLBByDefault: false,
  disableClusterScopeResources: false,
  strictPrefixMatching: false,
};
const CRD_DEFAULTS: KubernetesCrdProviderConfig = {
  namespaces: [],
  throttleDurationMs: 0,
  allowEmptyServices: false,
  allowExternalNameServices: false,
  nativeLBByDefault: false,
  disableClusterScopeResources: false,
  allowCrossNamespace: false,
};

describe('providers.kubernetesIngress and providers.kubernetesCRD: switching on', () => {
  it('are off unless configured', () => {
    const config = load();
    expect(config.providers.kubernetesIngress).toBeUndefined();
    expect(config.providers.kubernetesCRD).toBeUndefined();
  });

  it.each<[string, string[]]>([
    ['camel case', ['--providers.kubernetesIngress=true', '--providers.kubernetesCRD=true']],
    // Traefik's documentation writes the flags in lower case
    ['lower case', ['--providers.kubernetesingress', '--providers.kubernetescrd']],
  ])('turn on with Traefik defaults from a flag alone (%s)', (_, argv) => {
    const config = load(argv);
    expect(config.providers.kubernetesIngress).toEqual(INGRESS_DEFAULTS);
    expect(config.providers.kubernetesCRD).toEqual(CRD_DEFAULTS);
    expect(staticWarnings(config)).toEqual([]);
  });

  it('turn on from `{}` in a file, as in Traefik documentation', () => {
    const config = loadFile('providers:\n  kubernetesIngress: {}\n  kubernetesCRD: {}\n');
    expect(config.providers.kubernetesIngress).toEqual(INGRESS_DEFAULTS);
    expect(config.providers.kubernetesCRD).toEqual(CRD_DEFAULTS);
  });

  it('turn on when any of their options is set', () => {
    const config = load(['--providers.kubernetesIngress.namespaces=a,b']);
    expect(config.providers.kubernetesIngress).toEqual({
      ...INGRESS_DEFAULTS,
      namespaces: ['a', 'b'],
    });
    expect(config.providers.kubernetesCRD).toBeUndefined();
  });

  it('stay off when switched off explicitly', () => {
    const config = loadFile('providers:\n  kubernetesCRD: false\n');
    expect(config.providers.kubernetesCRD).toBeUndefined();
  });
});

describe('every option from a YAML file', () => {
  it('providers.kubernetesIngress', () => {
    const config = loadFile(`
providers:
  kubernetesIngress:
    endpoint: http://127.0.0.1:8001
    token: /var/run/secrets/token
    certAuthFilePath: certs/ca.crt
    namespaces: [default, apps]
    labelSelector: app=web,tier notin (cache),!canary
    ingressClass: portico
    throttleDuration: 2s
    allowEmptyServices: true
    allowExternalNameServices: true
    nativeLBByDefault: true
    disableClusterScopeResources: true
    strictPrefixMatching: true
    ingressEndpoint:
      ip: 192.0.2.10
      hostname: lb.example.com
      publishedService: kube-system/portico
`);
    expect(config.providers.kubernetesIngress).toEqual({
      endpoint: 'http://127.0.0.1:8001',
      token: '/var/run/secrets/token',
      certAuthFilePath: join(cwd, 'certs/ca.crt'),
      namespaces: ['default', 'apps'],
      labelSelector: 'app=web,tier notin (cache),!canary',
      ingressClass: 'portico',
      throttleDurationMs: 2000,
      allowEmptyServices: true,
      allowExternalNameServices: true,
      nativeLBByDefault: true,
      disableClusterScopeResources: true,
      strictPrefixMatching: true,
      ingressEndpoint: {
        ip: '192.0.2.10',
        hostname: 'lb.example.com',
        publishedService: 'kube-system/portico',
      },
    } satisfies KubernetesIngressProviderConfig);
  });

  it('providers.kubernetesCRD', () => {
    const config = loadFile(`
providers:
  kubernetescrd:
    endpoint: https://kubernetes.default.svc:443
    token: eyJhbGciOi
    certAuthFilePath: /etc/k8s/ca.crt
    namespaces: default
    labelSelector: environment in (production, qa)
    ingressClass: traefik-internal
    throttleDuration: 500ms
    allowEmptyServices: true
    allowExternalNameServices: true
    nativeLBByDefault: true
    disableClusterScopeResources: true
    allowCrossNamespace: true
`);
    expect(config.providers.kubernetesCRD).toEqual({
      endpoint: 'https://kubernetes.default.svc:443',
      token: 'eyJhbGciOi',
      certAuthFilePath: '/etc/k8s/ca.crt',
      namespaces: ['default'],
      labelSelector: 'environment in (production, qa)',
      ingressClass: 'traefik-internal',
      throttleDurationMs: 500,
      allowEmptyServices: true,
      allowExternalNameServices: true,
      nativeLBByDefault: true,
      disableClusterScopeResources: true,
      allowCrossNamespace: true,
    } satisfies KubernetesCrdProviderConfig);
  });

  it('the deprecated disableIngressClassLookup means disableClusterScopeResources, with a warning', () => {
    const config = loadFile(
      'providers:\n  kubernetesIngress:\n    disableIngressClassLookup: true\n',
    );
    expect(config.providers.kubernetesIngress?.disableClusterScopeResources).toBe(true);
    expect(staticWarnings(config).join('\n')).toMatch(
      /disableIngressClassLookup is deprecated.*disableClusterScopeResources/,
    );
  });
});

describe('flags and variables', () => {
  it('flags, as Traefik documentation and its Helm chart write them', () => {
    const config = load([
      '--providers.kubernetesingress.ingressendpoint.publishedservice=traefik/traefik',
      '--providers.kubernetesingress.allowEmptyServices=true',
      '--providers.kubernetesIngress.throttleDuration=1.5s',
      '--providers.kubernetescrd.allowCrossNamespace=true',
      '--providers.kubernetescrd.allowExternalNameServices',
      '--providers.kubernetesCRD.labelSelector=app in (a,b)',
    ]);
    expect(config.providers.kubernetesIngress).toEqual({
      ...INGRESS_DEFAULTS,
      allowEmptyServices: true,
      throttleDurationMs: 1500,
      ingressEndpoint: { publishedService: 'traefik/traefik' },
    });
    expect(config.providers.kubernetesCRD).toEqual({
      ...CRD_DEFAULTS,
      allowCrossNamespace: true,
      allowExternalNameServices: true,
      labelSelector: 'app in (a,b)',
    });
  });

  // what Traefik's chart passes with rbac.namespaced: a Role, no cluster-scope reads
  it('the namespaced RBAC flags of Traefik Helm chart', () => {
    const config = load([
      '--providers.kubernetescrd',
      '--providers.kubernetescrd.namespaces=traefik',
      '--providers.kubernetescrd.disableClusterScopeResources=true',
      '--providers.kubernetesingress',
      '--providers.kubernetesingress.namespaces=traefik',
      '--providers.kubernetesingress.disableClusterScopeResources=true',
    ]);
    expect(config.providers.kubernetesCRD).toEqual({
      ...CRD_DEFAULTS,
      namespaces: ['traefik'],
      disableClusterScopeResources: true,
    });
    expect(config.providers.kubernetesIngress).toEqual({
      ...INGRESS_DEFAULTS,
      namespaces: ['traefik'],
      disableClusterScopeResources: true,
    });
  });

  it('TRAEFIK_* and PORTICO_* variables', () => {
    const config = load([], {
      TRAEFIK_PROVIDERS_KUBERNETESINGRESS_NAMESPACES: 'team-a,team-b',
      TRAEFIK_PROVIDERS_KUBERNETESINGRESS_INGRESSENDPOINT_HOSTNAME: 'lb.example.com',
      PORTICO_PROVIDERS_KUBERNETESCRD_THROTTLEDURATION: '3',
      PORTICO_PROVIDERS_KUBERNETESCRD_NATIVELBBYDEFAULT: 'true',
    });
    expect(config.providers.kubernetesIngress).toEqual({
      ...INGRESS_DEFAULTS,
      namespaces: ['team-a', 'team-b'],
      ingressEndpoint: { hostname: 'lb.example.com' },
    });
    expect(config.providers.kubernetesCRD).toEqual({
      ...CRD_DEFAULTS,
      throttleDurationMs: 3000,
      nativeLBByDefault: true,
    });
  });

  it('a flag overrides the file option by option', () => {
    const config = loadFile(
      'providers:\n  kubernetesIngress:\n    namespaces: [a]\n    ingressClass: x\n',
      ['--providers.kubernetesIngress.namespaces=b,c'],
    );
    expect(config.providers.kubernetesIngress).toMatchObject({
      namespaces: ['b', 'c'],
      ingressClass: 'x',
    });
  });
});

describe('label selectors', () => {
  // Kubernetes' selector syntax (k8s.io/apimachinery labels.Parse, as Traefik parses it)
  // (an empty selector, Traefik's "everything", is the option left out: the loader refuses empty text)
  it.each([
    'app',
    '!app',
    'app=web',
    'app==web',
    'app!=web',
    'app=',
    'app in (a, b)',
    'app notin (a,b),tier',
    'example.com/app=web',
    'app.kubernetes.io/name in (traefik,portico)',
    'replicas>2,replicas<10',
    ' app = web , !canary ',
  ])('%j is accepted', (selector) => {
    const config = load([`--providers.kubernetesCRD.labelSelector=${selector}`]);
    expect(config.providers.kubernetesCRD).toBeDefined();
  });

  it.each<[string, RegExp]>([
    ['app in (a', /\)/],
    ['app in ()', /at least one value/],
    ['app in a', /\(/],
    ['app=web,', /label key/],
    ['=web', /label key/],
    ['app=we b', /unexpected/],
    ['App Name=web', /unexpected/],
    ['-app=web', /label key/],
    ['app=-web', /label value/],
    ['app=' + 'x'.repeat(64), /label value/],
    ['Example.com/app=web', /label key/],
    ['replicas>two', /whole number/],
    ['!app=web', /unexpected/],
  ])('%j is refused, naming the option', (selector, reason) => {
    const error = errorOf(() => load([`--providers.kubernetesIngress.labelSelector=${selector}`]));
    expect(error.option).toBe('--providers.kubernetesIngress.labelSelector');
    expect(error.message).toMatch(/invalid label selector/);
    expect(error.message).toMatch(reason);
  });

  it('names the option in a file the way the file wrote it', () => {
    const error = errorOf(() =>
      loadFile('providers:\n  kubernetesCRD:\n    labelSelector: "app in (a"\n'),
    );
    expect(error.option).toBe('portico.yml: providers.kubernetesCRD.labelSelector (line 3)');
  });
});

describe('label selectors select as Kubernetes does', () => {
  it.each<[string, Record<string, string>, boolean]>([
    ['app=web', { app: 'web' }, true],
    ['app=web', { app: 'api' }, false],
    ['app=web', {}, false],
    ['app!=web', {}, true],
    ['app!=web', { app: 'web' }, false],
    ['app', { app: '' }, true],
    ['!app', { app: '' }, false],
    ['!app', {}, true],
    ['tier in (a, b)', { tier: 'b' }, true],
    ['tier in (a, b)', {}, false],
    ['tier notin (a,b)', {}, true],
    ['tier notin (a,b)', { tier: 'a' }, false],
    ['replicas>2', { replicas: '3' }, true],
    ['replicas>2', { replicas: 'x' }, false],
    ['replicas<2', {}, false],
    ['app=web,!canary', { app: 'web', canary: 'true' }, false],
    ['app=', { app: '' }, true],
  ])('%j on %j: %s', (selector, labels, selected) => {
    expect(matchesLabelSelector(parseLabelSelector(selector), labels)).toBe(selected);
  });

  it('an error gives the position of what is wrong', () => {
    expect(() => parseLabelSelector('app=web,tier in a')).toThrow(
      /expected "\(" after in, found "a" at position 16/,
    );
  });
});

describe('values checked at start', () => {
  it.each<[string[], NodeJS.ProcessEnv, string, RegExp]>([
    [
      ['--providers.kubernetesIngress.ingressEndpoint.publishedService=portico'],
      {},
      '--providers.kubernetesIngress.ingressEndpoint.publishedService',
      /namespace\/name/,
    ],
    [
      ['--providers.kubernetesIngress.ingressEndpoint.publishedService=a/b/c'],
      {},
      '--providers.kubernetesIngress.ingressEndpoint.publishedService',
      /namespace\/name/,
    ],
    [
      [],
      { TRAEFIK_PROVIDERS_KUBERNETESINGRESS_INGRESSENDPOINT_PUBLISHEDSERVICE: 'Kube_System/x' },
      'TRAEFIK_PROVIDERS_KUBERNETESINGRESS_INGRESSENDPOINT_PUBLISHEDSERVICE',
      /namespace/,
    ],
    [
      ['--providers.kubernetesIngress.ingressEndpoint.ip=lb.example.com'],
      {},
      '--providers.kubernetesIngress.ingressEndpoint.ip',
      /ip address/,
    ],
    [
      ['--providers.kubernetesCRD.endpoint=127.0.0.1:6443'],
      {},
      '--providers.kubernetesCRD.endpoint',
      /http:\/\/ or https:\/\//,
    ],
    [
      ['--providers.kubernetesIngress.throttleDuration=-1s'],
      {},
      '--providers.kubernetesIngress.throttleDuration',
      /must not be negative/,
    ],
    [
      ['--providers.kubernetesCRD.namespaces=default,Team_A'],
      {},
      '--providers.kubernetesCRD.namespaces',
      /"Team_A" is not a namespace name/,
    ],
  ])('%j %j is refused', (argv, env, option, reason) => {
    const error = errorOf(() => load(argv, env));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(reason);
  });
});

describe('Traefik options Portico does not implement yet', () => {
  it.each([
    // the Ingress status would not be what Traefik writes
    [
      '--providers.kubernetesIngress.reportNodeInternalIPs=true',
      'providers.kubernetesIngress.reportNodeInternalIPs',
    ],
    // a restriction on references: ignoring it would allow what the operator meant to refuse
    [
      '--providers.kubernetesIngress.crossProviderNamespaces=a',
      'providers.kubernetesIngress.crossProviderNamespaces',
    ],
    [
      '--providers.kubernetesCRD.crossProviderNamespaces=a',
      'providers.kubernetesCRD.crossProviderNamespaces',
    ],
  ])('%s is refused by name', (flag, option) => {
    const error = errorOf(() => load([flag]));
    expect(error.message).toContain(
      `${option} is a traefik option that portico does not support yet`,
    );
  });

  it('an option of the other provider is a typo with a suggestion, not a silent no-op', () => {
    const error = errorOf(() => load(['--providers.kubernetesCRD.ingressEndpoint.ip=192.0.2.1']));
    expect(error.message).toMatch(/unknown option/);
  });
});
