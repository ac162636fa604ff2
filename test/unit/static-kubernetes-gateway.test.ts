/*
 * providers.kubernetesGateway and providers.kubernetesIngressNGINX in the
 * static configuration (issue 15): Traefik's option names and defaults
 * (pkg/provider/kubernetes/gateway/kubernetes.go and
 * ingress-nginx/kubernetes.go, their SetDefaults), from a file, flags, the
 * flags Traefik's Helm chart writes, PORTICO_* and TRAEFIK_* variables; bad
 * values refused naming the option as the user wrote it; the Traefik options
 * Portico lacks refused or, when ignoring them changes nothing a client or an
 * upstream gets, accepted with a warning; allowSnippetAnnotations refused.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadStaticConfig, staticWarnings } from '../../src/config/static.js';
import type {
  KubernetesGatewayProviderConfig,
  KubernetesIngressNginxProviderConfig,
  StaticConfig,
} from '../../src/config/static-types.js';
import { StaticConfigError } from '../../src/kernel/errors.js';

let cwd: string;

beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'portico-static-k8s-gw-'));
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

// Traefik's gateway SetDefaults only sets qps and burst (not read by Portico); the rest are zero values
const GATEWAY_DEFAULTS: KubernetesGatewayProviderConfig = {
  namespaces: [],
  throttleDurationMs: 0,
  nativeLBByDefault: false,
  experimentalChannel: false,
};

// Traefik's ingress-nginx SetDefaults: class nginx, controller k8s.io/ingress-nginx, nginx's
// 60 s proxy timeouts and 1m client_max_body_size, strictValidatePathType on
const NGINX_DEFAULTS: KubernetesIngressNginxProviderConfig = {
  throttleDurationMs: 0,
  ingressClass: 'nginx',
  controllerClass: 'k8s.io/ingress-nginx',
  watchIngressWithoutClass: false,
  ingressClassByName: false,
  publishStatusAddress: [],
  disableSvcExternalName: false,
  proxyBodySize: 1048576,
  proxyConnectTimeout: 60,
  proxyReadTimeout: 60,
  proxySendTimeout: 60,
  allowCrossNamespaceResources: false,
  strictValidatePathType: true,
};

describe('switching on', () => {
  it('both are off unless configured', () => {
    const config = load();
    expect(config.providers.kubernetesGateway).toBeUndefined();
    expect(config.providers.kubernetesIngressNGINX).toBeUndefined();
  });

  it.each<[string, string[]]>([
    ['camel case', ['--providers.kubernetesGateway=true', '--providers.kubernetesIngressNGINX']],
    // Traefik's documentation and Helm chart write the flags in lower case
    ['lower case', ['--providers.kubernetesgateway', '--providers.kubernetesingressnginx=true']],
  ])('turn on with Traefik defaults from a flag alone (%s)', (_, argv) => {
    const config = load(argv);
    expect(config.providers.kubernetesGateway).toEqual(GATEWAY_DEFAULTS);
    expect(config.providers.kubernetesIngressNGINX).toEqual(NGINX_DEFAULTS);
    expect(staticWarnings(config)).toEqual([]);
  });

  it('turn on from `{}` in a file', () => {
    const config = loadFile('providers:\n  kubernetesGateway: {}\n  kubernetesIngressNGINX: {}\n');
    expect(config.providers.kubernetesGateway).toEqual(GATEWAY_DEFAULTS);
    expect(config.providers.kubernetesIngressNGINX).toEqual(NGINX_DEFAULTS);
  });

  it('turn on when any of their options is set, and stay off when switched off', () => {
    const config = loadFile('providers:\n  kubernetesGateway: false\n', [
      '--providers.kubernetesIngressNGINX.watchNamespace=apps',
    ]);
    expect(config.providers.kubernetesGateway).toBeUndefined();
    expect(config.providers.kubernetesIngressNGINX).toEqual({
      ...NGINX_DEFAULTS,
      watchNamespace: 'apps',
    });
  });

  it('live beside the other Kubernetes providers', () => {
    const config = load([
      '--providers.kubernetesIngress',
      '--providers.kubernetesCRD',
      '--providers.kubernetesGateway',
      '--providers.kubernetesIngressNGINX',
    ]);
    expect(config.providers.kubernetesIngress).toBeDefined();
    expect(config.providers.kubernetesCRD).toBeDefined();
    expect(config.providers.kubernetesGateway).toEqual(GATEWAY_DEFAULTS);
    expect(config.providers.kubernetesIngressNGINX).toEqual(NGINX_DEFAULTS);
  });
});

describe('every option from a YAML file', () => {
  it('providers.kubernetesGateway', () => {
    const config = loadFile(`
providers:
  kubernetesGateway:
    endpoint: http://127.0.0.1:8001
    token: /var/run/secrets/token
    certAuthFilePath: certs/ca.crt
    namespaces: [default, gateways]
    labelSelector: app.kubernetes.io/managed-by in (portico,traefik)
    throttleDuration: 2s
    experimentalChannel: true
    nativeLBByDefault: true
    statusAddress:
      service:
        namespace: kube-system
        name: portico
`);
    expect(config.providers.kubernetesGateway).toEqual({
      endpoint: 'http://127.0.0.1:8001',
      token: '/var/run/secrets/token',
      certAuthFilePath: join(cwd, 'certs/ca.crt'),
      namespaces: ['default', 'gateways'],
      labelSelector: 'app.kubernetes.io/managed-by in (portico,traefik)',
      throttleDurationMs: 2000,
      experimentalChannel: true,
      nativeLBByDefault: true,
      statusAddress: { service: { namespace: 'kube-system', name: 'portico' } },
    } satisfies KubernetesGatewayProviderConfig);
    expect(staticWarnings(config)).toEqual([]);
  });

  it.each<[string, NonNullable<KubernetesGatewayProviderConfig['statusAddress']>]>([
    ['ip: 192.0.2.10', { ip: '192.0.2.10' }],
    ['ip: "2001:db8::10"', { ip: '2001:db8::10' }],
    ['hostname: lb.example.com', { hostname: 'lb.example.com' }],
  ])('statusAddress %s', (yaml, statusAddress) => {
    const config = loadFile(
      `providers:\n  kubernetesGateway:\n    statusAddress:\n      ${yaml}\n`,
    );
    expect(config.providers.kubernetesGateway).toEqual({ ...GATEWAY_DEFAULTS, statusAddress });
  });

  it('statusAddress with more than one source: Traefik uses ip, else hostname, else service; the others are named in a warning', () => {
    const config = loadFile(`
providers:
  kubernetesGateway:
    statusAddress:
      ip: 192.0.2.10
      hostname: lb.example.com
      service: { namespace: traefik, name: traefik }
`);
    expect(config.providers.kubernetesGateway?.statusAddress).toEqual({
      ip: '192.0.2.10',
      hostname: 'lb.example.com',
      service: { namespace: 'traefik', name: 'traefik' },
    });
    expect(staticWarnings(config).join('\n')).toMatch(
      /statusAddress\.hostname.*statusAddress\.service.*not used.*statusAddress\.ip is set/,
    );
  });

  it('providers.kubernetesIngressNGINX', () => {
    const config = loadFile(
      `
entryPoints:
  web: { address: ':8000' }
  websecure: { address: ':8443' }
providers:
  kubernetesIngressNGINX:
    endpoint: https://kubernetes.default.svc:443
    token: eyJhbGciOi
    certAuthFilePath: /etc/k8s/ca.crt
    throttleDuration: 500ms
    watchNamespace: default
    ingressClass: nginx-internal
    controllerClass: example.com/ingress-nginx
    watchIngressWithoutClass: true
    ingressClassByName: true
    publishService: ingress-nginx/ingress-nginx-controller
    publishStatusAddress: [192.0.2.1, lb.example.com]
    defaultBackendService: ingress-nginx/default-http-backend
    disableSvcExternalName: true
    httpEntryPoint: web
    httpsEntryPoint: websecure
    globalAuthURL: http://auth.example.com/verify
    proxyBodySize: "8388608"
    proxyConnectTimeout: 5
    proxyReadTimeout: 120
    proxySendTimeout: 30
    allowCrossNamespaceResources: true
    allowSnippetAnnotations: false
    strictValidatePathType: false
    ipAllowListStrategy:
      depth: 0
      ipv6Subnet: 0
`,
    );
    expect(config.providers.kubernetesIngressNGINX).toEqual({
      endpoint: 'https://kubernetes.default.svc:443',
      token: 'eyJhbGciOi',
      certAuthFilePath: '/etc/k8s/ca.crt',
      throttleDurationMs: 500,
      watchNamespace: 'default',
      ingressClass: 'nginx-internal',
      controllerClass: 'example.com/ingress-nginx',
      watchIngressWithoutClass: true,
      ingressClassByName: true,
      publishService: 'ingress-nginx/ingress-nginx-controller',
      publishStatusAddress: ['192.0.2.1', 'lb.example.com'],
      defaultBackendService: 'ingress-nginx/default-http-backend',
      disableSvcExternalName: true,
      httpEntryPoint: 'web',
      httpsEntryPoint: 'websecure',
      globalAuthURL: 'http://auth.example.com/verify',
      proxyBodySize: 8388608,
      proxyConnectTimeout: 5,
      proxyReadTimeout: 120,
      proxySendTimeout: 30,
      allowCrossNamespaceResources: true,
      strictValidatePathType: false,
    } satisfies KubernetesIngressNginxProviderConfig);
    expect(staticWarnings(config)).toEqual([]);
  });

  it('proxyBodySize 0 means no limit, as in ingress-nginx', () => {
    const config = load(['--providers.kubernetesIngressNGINX.proxyBodySize=0']);
    expect(config.providers.kubernetesIngressNGINX?.proxyBodySize).toBe(0);
  });
});

describe('flags and variables', () => {
  // traefik/traefik-helm-chart templates/_podtemplate.tpl with statusAddress.service on
  it('the Gateway flags of Traefik Helm chart', () => {
    const config = load([
      '--entryPoints.web.address=:8000',
      '--providers.kubernetesgateway',
      '--providers.kubernetesgateway.statusaddress.service.name=traefik',
      '--providers.kubernetesgateway.statusaddress.service.namespace=traefik',
      '--providers.kubernetesgateway.nativeLBByDefault=true',
      '--providers.kubernetesgateway.namespaces=traefik,apps',
      '--providers.kubernetesgateway.experimentalchannel=true',
      '--providers.kubernetesgateway.labelSelector=gateway=public',
    ]);
    expect(config.providers.kubernetesGateway).toEqual({
      ...GATEWAY_DEFAULTS,
      statusAddress: { service: { namespace: 'traefik', name: 'traefik' } },
      nativeLBByDefault: true,
      namespaces: ['traefik', 'apps'],
      experimentalChannel: true,
      labelSelector: 'gateway=public',
    });
    expect(staticWarnings(config)).toEqual([]);
  });

  // what the chart's yaml2CommandLineArgs makes of its default kubernetesIngressNGINX values:
  // every boolean and integer is written, ipAllowListStrategy's zeros included
  it('the ingress-nginx flags of Traefik Helm chart with its default values', () => {
    const config = load([
      '--entryPoints.web.address=:8000',
      '--entryPoints.websecure.address=:8443',
      '--providers.kubernetesingressnginx',
      '--providers.kubernetesingressnginx.publishservice=traefik/traefik',
      '--providers.kubernetesingressnginx.controllerClass=k8s.io/ingress-nginx',
      '--providers.kubernetesingressnginx.disableSvcExternalName=false',
      '--providers.kubernetesingressnginx.httpEntryPoint=web',
      '--providers.kubernetesingressnginx.httpsEntryPoint=websecure',
      '--providers.kubernetesingressnginx.ingressClass=nginx',
      '--providers.kubernetesingressnginx.ingressClassByName=false',
      '--providers.kubernetesingressnginx.ipAllowListStrategy.depth=0',
      '--providers.kubernetesingressnginx.ipAllowListStrategy.ipv6Subnet=0',
      '--providers.kubernetesingressnginx.watchIngressWithoutClass=false',
    ]);
    expect(config.providers.kubernetesIngressNGINX).toEqual({
      ...NGINX_DEFAULTS,
      publishService: 'traefik/traefik',
      httpEntryPoint: 'web',
      httpsEntryPoint: 'websecure',
    });
    expect(staticWarnings(config)).toEqual([]);
  });

  it('TRAEFIK_* and PORTICO_* variables', () => {
    const config = load([], {
      TRAEFIK_PROVIDERS_KUBERNETESGATEWAY_STATUSADDRESS_HOSTNAME: 'lb.example.com',
      TRAEFIK_PROVIDERS_KUBERNETESGATEWAY_EXPERIMENTALCHANNEL: 'true',
      PORTICO_PROVIDERS_KUBERNETESINGRESSNGINX_PUBLISHSTATUSADDRESS: '192.0.2.1,192.0.2.2',
      PORTICO_PROVIDERS_KUBERNETESINGRESSNGINX_PROXYREADTIMEOUT: '300',
      TRAEFIK_PROVIDERS_KUBERNETESINGRESSNGINX_GLOBALAUTHURL: 'https://auth.example.com/',
    });
    expect(config.providers.kubernetesGateway).toEqual({
      ...GATEWAY_DEFAULTS,
      experimentalChannel: true,
      statusAddress: { hostname: 'lb.example.com' },
    });
    expect(config.providers.kubernetesIngressNGINX).toEqual({
      ...NGINX_DEFAULTS,
      publishStatusAddress: ['192.0.2.1', '192.0.2.2'],
      proxyReadTimeout: 300,
      globalAuthURL: 'https://auth.example.com/',
    });
  });

  it('the entry points are named as configured, whatever the case written', () => {
    const config = load([
      '--entryPoints.Web.address=:8000',
      '--providers.kubernetesIngressNGINX.httpEntryPoint=web',
    ]);
    expect(config.providers.kubernetesIngressNGINX?.httpEntryPoint).toBe('Web');
  });

  it('the entry point Portico adds when none is configured ("web") may be named', () => {
    const config = load(['--providers.kubernetesIngressNGINX.httpEntryPoint=web']);
    expect(config.providers.kubernetesIngressNGINX?.httpEntryPoint).toBe('web');
  });

  it('a flag overrides the file option by option', () => {
    const config = loadFile(
      'providers:\n  kubernetesIngressNGINX:\n    ingressClass: a\n    proxySendTimeout: 10\n',
      ['--providers.kubernetesIngressNGINX.ingressClass=b'],
    );
    expect(config.providers.kubernetesIngressNGINX).toMatchObject({
      ingressClass: 'b',
      proxySendTimeout: 10,
    });
  });
});

describe('snippets are never rendered (IngressNightmare)', () => {
  it.each([
    ['--providers.kubernetesIngressNGINX.allowSnippetAnnotations=true'],
    ['--providers.kubernetesingressnginx.allowsnippetannotations'],
  ])('%s is refused with the reason', (flag) => {
    const error = errorOf(() => load([flag]));
    expect(error.option).toBe(flag.split('=')[0]);
    expect(error.message).toMatch(/never renders snippet/);
    expect(error.message).toMatch(/CVE-2025-1974/);
  });

  it('in a file too, naming the line', () => {
    const error = errorOf(() =>
      loadFile('providers:\n  kubernetesIngressNGINX:\n    allowSnippetAnnotations: true\n'),
    );
    expect(error.option).toBe(
      'portico.yml: providers.kubernetesIngressNGINX.allowSnippetAnnotations (line 3)',
    );
  });

  it('false, the default, is accepted without a word', () => {
    const config = load(['--providers.kubernetesIngressNGINX.allowSnippetAnnotations=false']);
    expect(config.providers.kubernetesIngressNGINX).toEqual(NGINX_DEFAULTS);
    expect(staticWarnings(config)).toEqual([]);
  });
});

describe('values checked at start', () => {
  it.each<[string[], NodeJS.ProcessEnv, string, RegExp]>([
    [
      ['--providers.kubernetesGateway.endpoint=kubernetes.default.svc'],
      {},
      '--providers.kubernetesGateway.endpoint',
      /http:\/\/ or https:\/\//,
    ],
    [
      ['--providers.kubernetesIngressNGINX.endpoint=ftp://127.0.0.1'],
      {},
      '--providers.kubernetesIngressNGINX.endpoint',
      /http:\/\/ or https:\/\//,
    ],
    [
      ['--providers.kubernetesGateway.namespaces=default,Gateways'],
      {},
      '--providers.kubernetesGateway.namespaces',
      /"Gateways" is not a namespace name/,
    ],
    [
      ['--providers.kubernetesGateway.labelSelector=app in (a'],
      {},
      '--providers.kubernetesGateway.labelSelector',
      /invalid label selector/,
    ],
    [
      ['--providers.kubernetesGateway.throttleDuration=-1s'],
      {},
      '--providers.kubernetesGateway.throttleDuration',
      /must not be negative/,
    ],
    [
      ['--providers.kubernetesIngressNGINX.throttleDuration=-2s'],
      {},
      '--providers.kubernetesIngressNGINX.throttleDuration',
      /must not be negative/,
    ],
    [
      ['--providers.kubernetesGateway.statusAddress.ip=lb.example.com'],
      {},
      '--providers.kubernetesGateway.statusAddress.ip',
      /ip address/,
    ],
    [
      ['--providers.kubernetesGateway.statusAddress.hostname=LB_1.example.com'],
      {},
      '--providers.kubernetesGateway.statusAddress.hostname',
      /dns name/,
    ],
    // Traefik needs both (else "empty Gateway status address configuration", at run time)
    [
      ['--providers.kubernetesGateway.statusAddress.service.name=traefik'],
      {},
      '--providers.kubernetesGateway.statusAddress.service.name',
      /needs statusAddress\.service\.namespace too/,
    ],
    [
      [],
      { TRAEFIK_PROVIDERS_KUBERNETESGATEWAY_STATUSADDRESS_SERVICE_NAMESPACE: 'traefik' },
      'TRAEFIK_PROVIDERS_KUBERNETESGATEWAY_STATUSADDRESS_SERVICE_NAMESPACE',
      /needs statusAddress\.service\.name too/,
    ],
    [
      [
        '--providers.kubernetesGateway.statusAddress.service.name=traefik',
        '--providers.kubernetesGateway.statusAddress.service.namespace=Traefik_NS',
      ],
      {},
      '--providers.kubernetesGateway.statusAddress.service.namespace',
      /"Traefik_NS" is not a namespace name/,
    ],
    [
      ['--providers.kubernetesIngressNGINX.watchNamespace=Team_A'],
      {},
      '--providers.kubernetesIngressNGINX.watchNamespace',
      /"Team_A" is not a namespace name/,
    ],
    // Traefik: "invalid default backend service format: ..., expected 'namespace/name'"
    [
      ['--providers.kubernetesIngressNGINX.defaultBackendService=default-http-backend'],
      {},
      '--providers.kubernetesIngressNGINX.defaultBackendService',
      /namespace\/name/,
    ],
    [
      ['--providers.kubernetesIngressNGINX.publishService=a/b/c'],
      {},
      '--providers.kubernetesIngressNGINX.publishService',
      /namespace\/name/,
    ],
    [
      ['--providers.kubernetesIngressNGINX.publishStatusAddress=192.0.2.1,lb example.com'],
      {},
      '--providers.kubernetesIngressNGINX.publishStatusAddress',
      /"lb example.com" is neither an ip address nor a dns name/,
    ],
    [
      ['--providers.kubernetesIngressNGINX.globalAuthURL=auth.example.com/verify'],
      {},
      '--providers.kubernetesIngressNGINX.globalAuthURL',
      /http:\/\/ or https:\/\/ url of the authentication service/i,
    ],
    [
      ['--providers.kubernetesIngressNGINX.proxyReadTimeout=-1'],
      {},
      '--providers.kubernetesIngressNGINX.proxyReadTimeout',
      /expected a whole number/,
    ],
    [
      ['--providers.kubernetesIngressNGINX.proxyBodySize=1m'],
      {},
      '--providers.kubernetesIngressNGINX.proxyBodySize',
      /expected a whole number/,
    ],
    // an entry point name is checked as ping.entryPoint and redirections are
    [
      ['--providers.kubernetesIngressNGINX.httpEntryPoint=http'],
      {},
      '--providers.kubernetesIngressNGINX.httpEntryPoint',
      /entry point "http" is not configured/,
    ],
    [
      [
        '--entryPoints.web.address=:8000',
        '--providers.kubernetesIngressNGINX.httpsEntryPoint=websecure',
      ],
      {},
      '--providers.kubernetesIngressNGINX.httpsEntryPoint',
      /entry point "websecure" is not configured/,
    ],
    [
      [
        '--entryPoints.dns.address=:53/udp',
        '--providers.kubernetesIngressNGINX.httpEntryPoint=dns',
      ],
      {},
      '--providers.kubernetesIngressNGINX.httpEntryPoint',
      /udp entrypoint/,
    ],
  ])('%j %j is refused', (argv, env, option, reason) => {
    const error = errorOf(() => load(argv, env));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(reason);
  });
});

describe('Traefik options Portico does not implement', () => {
  // ignoring these would change routing, responses, retries or who passes an allow list
  it.each([
    'providers.kubernetesGateway.crossProviderNamespaces',
    'providers.kubernetesIngressNGINX.watchNamespaceSelector',
    'providers.kubernetesIngressNGINX.customHTTPErrors',
    'providers.kubernetesIngressNGINX.globalAllowedResponseHeaders',
    'providers.kubernetesIngressNGINX.proxyNextUpstream',
    'providers.kubernetesIngressNGINX.proxyNextUpstreamTries',
    'providers.kubernetesIngressNGINX.proxyNextUpstreamTimeout',
  ])('%s is refused by name', (option) => {
    const error = errorOf(() => load([`--${option}=1`]));
    expect(error.message).toContain(
      `${option} is a traefik option that portico does not support yet`,
    );
  });

  it.each<[string, string]>([
    ['depth', '2'],
    ['excludedIPs', '10.0.0.1'],
    ['ipv6Subnet', '64'],
  ])(
    'ipAllowListStrategy.%s set to anything but zero is refused (the allow lists would judge another address)',
    (field, value) => {
      const option = `--providers.kubernetesIngressNGINX.ipAllowListStrategy.${field}`;
      const error = errorOf(() => load([`${option}=${value}`]));
      expect(error.option).toBe(option);
      expect(error.message).toMatch(/not supported yet/);
    },
  );

  // the API client's own rate limit, and nginx's buffering and keep-alive tuning: nothing a
  // client or an upstream gets depends on them
  it.each([
    'providers.kubernetesGateway.qps',
    'providers.kubernetesGateway.burst',
    'providers.kubernetesIngressNGINX.proxyRequestBuffering',
    'providers.kubernetesIngressNGINX.clientBodyBufferSize',
    'providers.kubernetesIngressNGINX.proxyBuffering',
    'providers.kubernetesIngressNGINX.proxyBufferSize',
    'providers.kubernetesIngressNGINX.proxyBuffersNumber',
    'providers.kubernetesIngressNGINX.upstreamKeepaliveTimeout',
  ])('%s is accepted with a warning, and switches its provider on', (option) => {
    const config = load([`--${option}=4`]);
    expect(staticWarnings(config)).toEqual([
      `--${option}: ${option} is a traefik option that portico does not support yet; ignored`,
    ]);
    const provider = option.split('.')[1] as 'kubernetesGateway' | 'kubernetesIngressNGINX';
    expect(config.providers[provider]).toBeDefined();
  });

  it("Traefik's gateway qps and burst in a file, as its documentation writes them", () => {
    const config = loadFile('providers:\n  kubernetesGateway:\n    qps: -1\n    burst: 200\n');
    expect(config.providers.kubernetesGateway).toEqual(GATEWAY_DEFAULTS);
    expect(staticWarnings(config)).toHaveLength(2);
  });

  it.each([
    // Traefik's gateway provider has none of these: a typo with a suggestion, not a silent no-op
    '--providers.kubernetesGateway.ingressClass=x',
    '--providers.kubernetesGateway.allowEmptyServices=true',
    '--providers.kubernetesIngressNGINX.namespaces=a',
    '--providers.kubernetesIngressNGINX.labelSelector=a=b',
  ])('%s (an option of another provider) is unknown', (flag) => {
    const error = errorOf(() => load([flag]));
    expect(error.message).toMatch(/unknown option/);
  });
});
