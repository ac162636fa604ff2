/*
 * The CRD provider's translator (issue 14 item 5) on Traefik's own provider
 * fixtures (test/fixtures/k8s-crd/crd-*.yml, with the Services and
 * EndpointSlices of Traefik's fixtures/services.yml copied to
 * translate/traefik-*services.yml): the element names and contents are those
 * Traefik's pkg/provider/kubernetes/crd/kubernetes_test.go expects, less the
 * defaults Traefik writes out and Portico applies when it reads. Each
 * result also goes through the aggregator as provider `kubernetescrd` and
 * must be accepted without an element error.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CrdProviderOptions } from '../../providers/kubernetes/crd/translate.js';
import {
  aggregateErrors,
  expectDiagnostics,
  translate,
  type Expected,
} from './kube-crd-helpers.js';

const fixtures = join(import.meta.dirname, '../fixtures/k8s-crd');
const SERVICES = join(fixtures, 'translate/traefik-services.yml');
const TCP_SERVICES = join(fixtures, 'translate/traefik-tcp-services.yml');
const UDP_SERVICES = join(fixtures, 'translate/traefik-udp-services.yml');

const PEM_CERT = '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----';
const PEM_KEY = '-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----';
const lb = (...urls: string[]) => ({ loadBalancer: { servers: urls.map((url) => ({ url })) } });
const tcpLb = (...addresses: string[]) => ({
  loadBalancer: { servers: addresses.map((address) => ({ address })) },
});

interface Case {
  fixture: string;
  services?: string;
  opts?: Partial<CrdProviderOptions>;
  /** a part of the configuration (toMatchObject); the element names listed must be all there are */
  expected: Expected;
  /** diagnostics expected, as `Kind ns/name field: message part` */
  diagnostics?: string[];
}

const SIMPLE = 'default-test-route-6b204d94623b3df4370c';
const FOO = 'default-test-route-77c62dfe9517144aeeaa';
const TCP_ROUTE = 'default-test.route-fdd3e9338e47a45efefc';

const cases: Case[] = [
  {
    fixture: 'crd-simple',
    expected: {
      http: {
        routers: {
          [SIMPLE]: {
            entryPoints: ['foo'],
            service: SIMPLE,
            rule: 'Host(`foo.com`) && PathPrefix(`/bar`)',
            priority: 12,
            observability: { accessLogs: true, tracing: true, metrics: true },
          },
        },
        services: { [SIMPLE]: lb('http://10.10.0.1:80', 'http://10.10.0.2:80') },
      },
    },
  },
  {
    fixture: 'crd-with_middleware',
    opts: { allowCrossNamespace: true },
    expected: {
      http: {
        routers: {
          'default-test2-route-23c7f4c450289ee29016': {
            entryPoints: ['web'],
            service: 'default-test2-route-23c7f4c450289ee29016',
            rule: 'Host(`foo.com`) && PathPrefix(`/tobestripped`)',
            priority: 12,
            middlewares: ['default-stripprefix', 'default-ratelimit', 'foo-addprefix'],
          },
        },
        middlewares: {
          'default-ratelimit': {
            rateLimit: {
              average: 6,
              burst: 12,
              sourceCriterion: { ipStrategy: { excludedIPs: ['127.0.0.1/32', '192.168.1.7'] } },
            },
          },
          'default-stripprefix': { stripPrefix: { prefixes: ['/tobestripped'] } },
          'foo-addprefix': { addPrefix: { prefix: '/tobeadded' } },
        },
        services: {
          'default-test2-route-23c7f4c450289ee29016': lb(
            'http://10.10.0.1:80',
            'http://10.10.0.2:80',
          ),
        },
      },
    },
  },
  {
    fixture: 'crd-with_ratelimit',
    opts: { allowCrossNamespace: true },
    expected: {
      http: {
        routers: {
          'default-test2-route-3c9bf014491ebdba74f7': {
            service: 'default-test2-route-3c9bf014491ebdba74f7',
            middlewares: ['default-ratelimit'],
          },
        },
        middlewares: {
          'default-ratelimit': {
            rateLimit: {
              average: 6,
              burst: 12,
              redis: {
                endpoints: ['127.0.0.1:6379'],
                username: 'user',
                password: 'password',
                tls: { ca: PEM_CERT, cert: PEM_CERT, key: PEM_KEY },
                poolSize: 42,
                maxActiveConns: 42,
              },
            },
          },
        },
      },
    },
  },
  {
    fixture: 'crd-with_two_services_weight',
    expected: {
      http: {
        routers: { [FOO]: { entryPoints: ['web'], service: FOO, priority: 12 } },
        services: {
          [FOO]: {
            weighted: {
              services: [
                { name: 'default-whoami-80', weight: 10 },
                { name: 'default-whoami2-8080', weight: 0 },
              ],
            },
          },
          'default-whoami-80': lb('http://10.10.0.1:80', 'http://10.10.0.2:80'),
          'default-whoami2-8080': lb('http://10.10.0.3:8080', 'http://10.10.0.4:8080'),
        },
      },
    },
  },
  {
    fixture: 'crd-with_mirroring',
    services: '',
    expected: {
      http: {
        routers: { [FOO]: { service: 'default-mirror1', priority: 12 } },
        services: {
          'default-mirror1': {
            mirroring: {
              service: 'default-whoami5-8080',
              mirrors: [{ name: 'default-whoami4-8080', percent: 50 }],
            },
          },
          'default-whoami4-8080': lb('http://10.10.0.1:8080', 'http://10.10.0.2:8080'),
          'default-whoami5-8080': lb('http://10.10.0.3:8080', 'http://10.10.0.4:8080'),
        },
      },
    },
  },
  {
    fixture: 'crd-with_failover',
    services: '',
    expected: {
      http: {
        routers: { [FOO]: { service: 'default-failover1', priority: 12 } },
        services: {
          'default-failover1': {
            failover: { service: 'default-whoami5-8080', fallback: 'default-whoami4-8080' },
          },
          'default-whoami4-8080': lb('http://10.10.0.1:8080', 'http://10.10.0.2:8080'),
          'default-whoami5-8080': lb('http://10.10.0.3:8080', 'http://10.10.0.4:8080'),
        },
      },
    },
  },
  {
    // Portico has no highestRandomWeight service yet: the TraefikService is reported, and
    // the router still names it as Traefik's does (it fails when compiled, "no such service")
    fixture: 'crd-with_highest_random_weight',
    services: '',
    expected: { http: { routers: { [FOO]: { service: 'default-hrw1', priority: 12 } } } },
    diagnostics: [
      'TraefikService default/hrw1 spec.highestRandomWeight: highestRandomWeight services are not supported',
    ],
  },
  {
    fixture: 'crd-with_sticky',
    expected: {
      http: {
        routers: {
          'default-test2-route-840425136fbd5d85a4ad': { rule: 'Host(`k8s-service`)' },
          'default-test2-route-4f06607bbc69f34a4db5': { rule: 'Host(`traefik-service`)' },
        },
        services: {
          'default-test2-route-840425136fbd5d85a4ad': {
            weighted: {
              services: [
                { name: 'default-whoami-80', weight: 1 },
                { name: 'default-whoami2-8080', weight: 1 },
              ],
            },
          },
          'default-test2-route-4f06607bbc69f34a4db5': {
            weighted: {
              services: [
                { name: 'default-sticky', weight: 1 },
                { name: 'default-sticky-default', weight: 1 },
              ],
            },
          },
          'default-sticky': {
            weighted: {
              sticky: {
                cookie: {
                  name: 'cookie',
                  secure: true,
                  httpOnly: true,
                  sameSite: 'none',
                  maxAge: 42,
                  path: '/foo',
                },
              },
              services: [{ name: 'default-whoami3-8443', weight: 1 }],
            },
          },
          'default-whoami-80': {
            loadBalancer: {
              sticky: { cookie: { name: 'cookie', maxAge: 42, path: '/foo' } },
            },
          },
          'default-whoami2-8080': {},
          'default-whoami3-8443': lb('http://10.10.0.7:8443', 'http://10.10.0.8:8443'),
          'default-sticky-default': {},
        },
      },
    },
  },
  {
    fixture: 'crd-with_tls_acme',
    expected: { http: { routers: { [SIMPLE]: { tls: {} } } } },
  },
  {
    fixture: 'crd-with_tls_options',
    expected: {
      tls: {
        options: {
          'default-foo': {
            minVersion: 'VersionTLS12',
            cipherSuites: [
              'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
              'TLS_RSA_WITH_AES_256_GCM_SHA384',
            ],
            clientAuth: {
              caFiles: [PEM_CERT, PEM_CERT],
              clientAuthType: 'VerifyClientCertIfGiven',
            },
            sniStrict: true,
            disableSessionTickets: true,
          },
        },
      },
      http: { routers: { [SIMPLE]: { tls: { options: 'default-foo' } } } },
    },
  },
  {
    fixture: 'crd-with_tls_store',
    expected: {
      tls: {
        stores: { default: { defaultCertificate: { certFile: PEM_CERT, keyFile: PEM_KEY } } },
      },
      http: { routers: { [SIMPLE]: { tls: {} } } },
    },
  },
  {
    // Portico's services have no middlewares yet: refused rather than served without them
    fixture: 'crd-with_traefik_service_middleware',
    expected: {
      http: {
        routers: { [SIMPLE]: { service: 'default-test-weighted' } },
        middlewares: { 'default-stripprefix': { stripPrefix: { prefixes: ['/tobestripped'] } } },
      },
    },
    diagnostics: [
      'TraefikService default/test-weighted spec.weighted.services[0].middlewares: middlewares on a service are not supported',
    ],
  },
  {
    fixture: 'crd-with_auth',
    expected: {
      http: {
        middlewares: {
          'default-basicauth': {
            basicAuth: {
              users: [
                'test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/',
                'test2:$apr1$d9hr9HBB$4HxwgUir3HP4EsggP/QNo0',
              ],
            },
          },
          'default-digestauth': {
            digestAuth: {
              users: [
                'test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/',
                'test2:$apr1$d9hr9HBB$4HxwgUir3HP4EsggP/QNo0',
              ],
            },
          },
          'default-forwardauth': {
            forwardAuth: {
              address: 'test.com',
              headerField: 'X-Header-Field',
              tls: { ca: PEM_CERT, cert: PEM_CERT, key: PEM_KEY },
            },
          },
        },
      },
    },
  },
  {
    fixture: 'crd-with_error_page',
    expected: {
      http: {
        middlewares: {
          'default-errorpage': {
            errors: {
              status: ['404', '500'],
              statusRewrites: { '404': 200 },
              service: 'default-errorpage-errorpage-service',
              query: 'query',
              errorRequestHeaders: ['X-Foo-Bar', 'X-Bar-Foo'],
            },
          },
        },
        services: {
          'default-errorpage-errorpage-service': lb('http://10.10.0.1:80', 'http://10.10.0.2:80'),
        },
      },
    },
  },
  {
    fixture: 'crd-with_plugin_read_secret',
    expected: {
      http: {
        middlewares: {
          'default-test-secret': {
            plugin: { 'test-secret': { user: 'admin', secret: 'this_is_the_secret' } },
          },
        },
      },
    },
  },
  {
    // foo/test: Traefik drops the rootCA naming both a Secret and a ConfigMap; Portico refuses
    // the whole transport for peerCertSANs, which it cannot check yet
    fixture: 'crd-with_servers_transport',
    opts: { allowExternalNameServices: true },
    expected: {
      http: {
        serversTransports: { 'default-test': { serverName: 'test' } },
        routers: { 'default-test-route-6f97418635c7e18853da': { entryPoints: ['foo'] } },
        services: {
          'default-test-route-6f97418635c7e18853da': {
            weighted: {
              services: [
                { name: 'default-external-svc-with-https-443', weight: 1 },
                { name: 'default-whoamitls-443', weight: 1 },
              ],
            },
          },
          'default-external-svc-with-https-443': {
            loadBalancer: {
              servers: [{ url: 'https://external.domain:443' }],
              serversTransport: 'default-test',
            },
          },
          'default-whoamitls-443': {
            loadBalancer: {
              servers: [{ url: 'https://10.10.0.5:8443' }, { url: 'https://10.10.0.6:8443' }],
              serversTransport: 'default-default-test',
            },
          },
        },
      },
    },
    diagnostics: ['ServersTransport foo/test spec.peerCertSANs: not supported'],
  },
  {
    fixture: 'crd-tcp-with_middleware',
    services: TCP_SERVICES,
    opts: { allowCrossNamespace: true },
    expected: {
      tcp: {
        routers: {
          [TCP_ROUTE]: {
            entryPoints: ['foo'],
            service: TCP_ROUTE,
            middlewares: ['default-ipallowlist', 'foo-ipallowlist'],
            rule: 'HostSNI(`foo.com`)',
          },
        },
        middlewares: {
          'default-ipallowlist': { ipAllowList: { sourceRange: ['127.0.0.1/32'] } },
          'foo-ipallowlist': { ipAllowList: { sourceRange: ['127.0.0.1/32'] } },
        },
        services: { [TCP_ROUTE]: tcpLb('10.10.0.1:8000', '10.10.0.2:8000') },
      },
    },
  },
  {
    fixture: 'crd-tcp-with_tls_passthrough',
    services: TCP_SERVICES,
    expected: {
      tcp: {
        routers: {
          [TCP_ROUTE]: {
            service: TCP_ROUTE,
            rule: 'HostSNI(`foo.com`)',
            tls: { passthrough: true },
          },
        },
        services: { [TCP_ROUTE]: tcpLb('10.10.0.1:8000', '10.10.0.2:8000') },
      },
    },
  },
  {
    fixture: 'crd-tcp-with_servers_transport',
    services: TCP_SERVICES,
    expected: {
      tcp: {
        serversTransports: {
          'foo-test': {
            tls: {
              serverName: 'test',
              insecureSkipVerify: true,
              rootCAs: [
                'TESTROOTCAS0',
                'TESTROOTCAS1',
                'TESTROOTCAS2',
                'TESTROOTCAS3',
                'TESTROOTCAS5',
                'TESTALLCERTS',
                'TESTROOTCASFROMCONFIGMAP',
                'TESTROOTCAS6',
              ],
              certificates: [
                { certFile: 'TESTCERT1', keyFile: 'TESTKEY1' },
                { certFile: 'TESTCERT2', keyFile: 'TESTKEY2' },
                { certFile: 'TESTCERT3', keyFile: 'TESTKEY3' },
              ],
              peerCertURI: 'foo://bar',
              spiffe: {
                ids: ['spiffe://foo/buz', 'spiffe://bar/biz'],
                trustDomain: 'spiffe://lol',
              },
            },
            // seconds, as Traefik reads a bare number
            dialTimeout: 42,
            dialKeepAlive: 42,
            terminationDelay: 42,
          },
          'default-test': { tls: { serverName: 'test' } },
        },
        routers: { [TCP_ROUTE]: { service: TCP_ROUTE } },
        services: {
          [`${TCP_ROUTE}-whoamitcp-8000`]: {
            loadBalancer: {
              servers: [{ address: '10.10.0.1:8000' }, { address: '10.10.0.2:8000' }],
              serversTransport: 'default-test',
            },
          },
          [`${TCP_ROUTE}-whoamitcp2-8080`]: {
            loadBalancer: {
              servers: [{ address: '10.10.0.3:8080' }, { address: '10.10.0.4:8080' }],
              serversTransport: 'default-default-test',
            },
          },
          [TCP_ROUTE]: {
            weighted: {
              services: [
                { name: `${TCP_ROUTE}-whoamitcp-8000`, weight: 1 },
                { name: `${TCP_ROUTE}-whoamitcp2-8080`, weight: 1 },
              ],
            },
          },
        },
      },
    },
    diagnostics: ['ServersTransportTCP foo/test spec.tls.rootCAs[2]: both secret and configMap'],
  },
  {
    fixture: 'crd-udp-simple',
    services: UDP_SERVICES,
    expected: {
      udp: {
        routers: {
          'default-test.route-0': { entryPoints: ['foo'], service: 'default-test.route-0' },
        },
        services: { 'default-test.route-0': tcpLb('10.10.0.1:8000', '10.10.0.2:8000') },
      },
    },
  },
];

describe("Traefik's provider fixtures translate as Traefik's tests expect", () => {
  it.each(cases.map((c) => [c.fixture, c] as const))('%s', (_name, c) => {
    const files = [c.services ?? SERVICES, join(fixtures, `${c.fixture}.yml`)].filter(Boolean);
    const { config, diagnostics } = translate(files, c.opts);
    expect(config).toMatchObject(c.expected);
    // exactly the elements Traefik names, no more
    for (const section of ['http', 'tcp', 'udp'] as const) {
      for (const kind of ['routers', 'services', 'middlewares', 'serversTransports'] as const) {
        const want = c.expected[section]?.[kind];
        const got = (config[section] as Record<string, object> | undefined)?.[kind];
        if (want)
          expect(Object.keys(got ?? {}).sort(), `${section}.${kind}`).toEqual(
            Object.keys(want).sort(),
          );
      }
    }
    expectDiagnostics(diagnostics, c.diagnostics ?? []);
    expect(aggregateErrors(config)).toEqual([]);
  });
});
