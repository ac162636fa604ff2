/*
 * The CRD translator's own cases (test/fixtures/k8s-crd/translate/<case>.yml):
 * cross-namespace references, both API groups, ingress classes, the options
 * of a service reference, TLS and auth material from Secrets, and hostile
 * objects, each reported with its field while the rest translates. Every
 * result passes the aggregator's validation as provider `kubernetescrd`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../providers/kubernetes/objects.js';
import {
  translateCrds,
  type CrdProviderOptions,
} from '../../providers/kubernetes/crd/translate.js';
import {
  DEFAULTS,
  aggregateErrors,
  describeDiagnostic,
  expectDiagnostics,
  objectsOfYaml,
  translate,
  viewOfObjects,
  type Expected,
} from './kube-crd-helpers.js';

const dir = join(import.meta.dirname, '../fixtures/k8s-crd/translate');

/** Traefik's router name: `<ns>-<name>-<first 10 bytes of sha256(match)>`, normalised. */
const router = (ns: string, name: string, match: string) =>
  `${ns}-${name}-${createHash('sha256').update(match).digest('hex').slice(0, 20)}`.replace(
    /[^\p{L}\p{N}]+/gu,
    '-',
  );

interface Case {
  name: string;
  fixture: string;
  opts?: Partial<CrdProviderOptions>;
  expected: Expected;
  /** element names that must not be there, `section.kind/name` */
  absent?: string[];
  diagnostics?: string[];
  warnings?: string[];
}

const A_LOCAL = router('a', 'web', 'Host(`local.example`)');
const A_CROSS = router('a', 'web', 'Host(`cross.example`)');
const A_CRD = router('a', 'web', 'Host(`crd-ref.example`)');
const A_FILE = router('a', 'web', 'Host(`file-ref.example`)');
const A_TRANSPORT = router('a', 'web', 'Host(`transport.example`)');
const A_TLS = router('a', 'tls-cross', 'Host(`tls.example`)');
const TCP_INTERNAL = `default-tcp-internal-${createHash('sha256').update('HostSNI(`*`)').digest('hex').slice(0, 20)}`;
const ANNOTATED = router('default', 'annotated-internal', 'Host(`internal.example`)');
const TCP_DB = `default-db-${createHash('sha256').update('HostSNI(`db.example`)').digest('hex').slice(0, 20)}`;
const OPTS = (m: string) => router('default', 'opts', `Host(\`${m}\`)`);

const cases: Case[] = [
  {
    name: 'cross-namespace references refused by default, naming the field',
    fixture: 'cross-namespace',
    expected: {
      http: {
        routers: {
          [A_LOCAL]: { service: A_LOCAL },
          [A_FILE]: { middlewares: ['auth@file'] },
        },
        middlewares: { 'b-auth': { headers: {} } },
      },
    },
    absent: [
      `http.routers/${A_CROSS}`,
      `http.routers/${A_CRD}`,
      `http.routers/${A_TLS}`,
      `http.routers/${A_TRANSPORT}`,
      'http.services/a-split',
      'http.middlewares/a-chained',
    ],
    diagnostics: [
      'IngressRoute a/web spec.routes[1].middlewares[0].namespace: cross-namespace reference to middleware b/auth refused',
      'IngressRoute a/web spec.routes[2].middlewares[0].name: @kubernetescrd references are refused while allowCrossNamespace is off',
      'IngressRoute a/web spec.routes[3].services[0].serversTransport: serversTransport reference "b-tls@kubernetescrd": the namespace-name@kubernetescrd form is refused',
      'IngressRoute a/tls-cross spec.tls.options.namespace: cross-namespace reference to TLSOption b/strict refused',
      'Middleware a/chained spec.chain.middlewares[0].namespace: cross-namespace reference to middleware b/auth refused',
      'TraefikService a/split spec.weighted.services[0].namespace: cross-namespace reference to service b/app refused',
    ],
  },
  {
    name: 'cross-namespace references with allowCrossNamespace',
    fixture: 'cross-namespace',
    opts: { allowCrossNamespace: true },
    expected: {
      http: {
        routers: {
          [A_LOCAL]: {},
          [A_CROSS]: { middlewares: ['b-auth'] },
          [A_CRD]: { middlewares: ['b-auth@kubernetescrd'] },
          [A_FILE]: { middlewares: ['auth@file'] },
          [A_TLS]: { tls: { options: 'b-strict' } },
          [A_TRANSPORT]: {},
        },
        services: {
          [A_TRANSPORT]: { loadBalancer: { serversTransport: 'b-tls@kubernetescrd' } },
          [A_CROSS]: { loadBalancer: { servers: [{ url: 'http://10.2.0.1:8080' }] } },
          'a-split': { weighted: { services: [{ name: 'b-app-80', weight: 1 }] } },
          'b-app-80': {},
        },
        middlewares: { 'a-chained': { chain: { middlewares: ['b-auth'] } } },
      },
      tls: { options: { 'b-strict': { minVersion: 'VersionTLS13' } } },
    },
  },
  {
    name: 'an object in both groups: portico.io is used, the other reported',
    fixture: 'both-groups',
    expected: {
      http: {
        middlewares: {
          'default-prefix': { addPrefix: { prefix: '/portico' } },
          'default-only-portico': { stripPrefix: { prefixes: ['/api'] } },
        },
        routers: {
          [router('default', 'web', 'Host(`portico.example`)')]: {
            middlewares: ['default-prefix', 'default-only-portico'],
          },
        },
      },
    },
    warnings: [
      'Middleware default/prefix apiVersion: Middleware default/prefix exists under portico.io/v1alpha1 and traefik.io/v1alpha1',
    ],
  },
  {
    name: 'no ingressClass option: no class and the default class',
    fixture: 'ingress-class',
    expected: {
      http: {
        routers: {
          [router('default', 'no-class', 'Host(`none.example`)')]: {},
          [router('default', 'traefik-class', 'Host(`traefik.example`)')]: {},
        },
      },
    },
    absent: [`tcp.routers/${TCP_INTERNAL}`, `http.routers/${ANNOTATED}`],
  },
  {
    name: 'ingressClass option: only that class, by field or annotation',
    fixture: 'ingress-class',
    opts: { ingressClass: 'internal' },
    expected: {
      http: {
        routers: { [router('default', 'annotated-internal', 'Host(`internal.example`)')]: {} },
      },
      tcp: {
        routers: {
          [TCP_INTERNAL]: { rule: 'HostSNI(`*`)' },
        },
      },
    },
    absent: [
      `http.routers/${router('default', 'no-class', 'Host(`none.example`)')}`,
      `http.routers/${router('default', 'traefik-class', 'Host(`traefik.example`)')}`,
    ],
  },
  {
    name: "a service reference's load balancer options",
    fixture: 'service-options',
    opts: { allowExternalNameServices: true },
    expected: {
      http: {
        routers: {
          [OPTS('options.example')]: { entryPoints: ['websecure'], priority: 42, ruleSyntax: 'v3' },
          [OPTS('weights.example')]: { service: OPTS('weights.example') },
          [OPTS('external.example')]: {},
          [OPTS('round-robin.example')]: {},
        },
        services: {
          [OPTS('options.example')]: {
            loadBalancer: {
              // the grpc port by name; the terminating endpoint is out of rotation
              servers: [{ url: 'h2c://10.1.0.1:9090' }],
              strategy: 'p2c',
              passHostHeader: false,
              responseForwarding: { flushInterval: '10ms' },
              serversTransport: 'default-fast',
              sticky: { cookie: { name: 'pin', secure: true, httpOnly: true, maxAge: 60 } },
            },
          },
          [OPTS('weights.example')]: {
            weighted: {
              services: [
                { name: 'default-app-80', weight: 3 },
                { name: 'default-app-443', weight: 1 },
              ],
            },
          },
          'default-app-80': { loadBalancer: { servers: [{ url: 'http://10.1.0.1:8080' }] } },
          // nativeLB: the ClusterIP on the service port; port 443 means https (Traefik)
          'default-app-443': { loadBalancer: { servers: [{ url: 'https://10.96.0.10:443' }] } },
          [OPTS('external.example')]: {
            loadBalancer: {
              servers: [{ url: 'https://api.example.net:443' }],
              healthCheck: { path: '/health', interval: '5s' },
            },
          },
          [OPTS('round-robin.example')]: { loadBalancer: { strategy: 'wrr' } },
        },
        serversTransports: {
          'default-fast': {
            serverName: 'app.internal',
            maxIdleConnsPerHost: 10,
            forwardingTimeouts: { dialTimeout: '5s' },
          },
        },
      },
    },
    diagnostics: [
      'IngressRoute default/opts spec.routes[3].services[0].healthCheck: healthCheck allowed only for ExternalName services',
    ],
    warnings: [
      'IngressRoute default/opts spec.routes[4].services[0].strategy: RoundRobin is a deprecated name of wrr',
    ],
  },
  {
    name: 'an ExternalName Service refused unless allowed',
    fixture: 'service-options',
    expected: { http: {} },
    absent: [`http.routers/${OPTS('external.example')}`],
    diagnostics: [
      'IngressRoute default/opts spec.routes[2].services[0].name: externalName services not allowed: default/ext',
      'IngressRoute default/opts spec.routes[3].services[0].healthCheck: healthCheck allowed only',
    ],
  },
  {
    name: 'TLS material from Secrets',
    fixture: 'tls',
    expected: {
      http: {
        routers: {
          [router('default', 'secure', 'Host(`secure.example`)')]: {
            tls: {
              certResolver: 'le',
              domains: [{ main: 'secure.example', sans: ['www.secure.example'] }],
              options: 'default-mtls',
            },
          },
        },
      },
      tcp: {
        routers: {
          [`default-db-${createHash('sha256').update('HostSNI(`db.example`)').digest('hex').slice(0, 20)}`]:
            { tls: {} },
        },
      },
      tls: {
        // one per Secret, sorted by namespace/name (Traefik's getTLSConfig)
        certificates: {
          0: { certFile: 'DB-CERT', keyFile: 'DB-KEY' },
          1: { certFile: 'EXTRA-CERT', keyFile: 'EXTRA-KEY', stores: ['default'] },
          2: { certFile: 'SITE-CERT', keyFile: 'SITE-KEY' },
        },
        options: {
          'default-mtls': {
            minVersion: 'VersionTLS12',
            clientAuth: { clientAuthType: 'RequireAndVerifyClientCert', caFiles: ['CLIENT-CA'] },
          },
        },
        stores: {
          default: { defaultCertificate: { certFile: 'DEFAULT-CERT', keyFile: 'DEFAULT-KEY' } },
        },
      },
    },
    absent: ['tls.options/default', 'tls.stores/default-custom'],
    diagnostics: [
      'TLSStore default/default spec.certificates[1].secretName: secret default/not-a-tls-secret is missing the following TLS data entries: tls.crt, tls.key',
      'TLSOption default/mtls spec.clientAuth.secretNames[1]: secret default/missing-ca not found',
      'TLSOption default/default metadata.name: default TLSOption defined in several namespaces (default, other)',
      'TLSOption other/default metadata.name: default TLSOption defined in several namespaces (default, other)',
    ],
    warnings: ['TLSStore default/custom metadata.name: only the TLSStore named default is used'],
  },
  {
    name: 'basicAuth and digestAuth users from Secrets',
    fixture: 'auth-secrets',
    expected: {
      http: {
        middlewares: {
          'default-basic': {
            basicAuth: {
              // kubernetes.io/basic-auth: {SHA} + base64(sha1(password)), Traefik's rule
              users: [`alice:{SHA}${createHash('sha1').update('password').digest('base64')}`],
              realm: 'private',
              removeHeader: true,
            },
          },
          'default-digest': {
            digestAuth: {
              users: [
                'alice:traefik:a2688e031edb4be6a3797f3882655c05',
                'bob:traefik:b2688e031edb4be6a3797f3882655c05',
              ],
            },
          },
        },
      },
    },
    diagnostics: [
      'Middleware default/two-keys spec.basicAuth.secret: found 2 elements for secret default/two-keys, must be single element exactly',
      'Middleware default/no-secret spec.basicAuth.secret: auth secret must be set',
      'Middleware default/digest-basic-type spec.digestAuth.secret: found 2 elements',
    ],
  },
  {
    name: "an IngressRouteTCP's service options and servers transports from Secrets",
    fixture: 'tcp-options',
    expected: {
      tcp: {
        routers: {
          [TCP_DB]: {
            entryPoints: ['postgres'],
            rule: 'HostSNI(`db.example`)',
            priority: 7,
            middlewares: ['default-only-lan'],
            service: TCP_DB,
            tls: { passthrough: true, options: 'default-modern' },
          },
        },
        services: {
          [TCP_DB]: {
            weighted: {
              services: [
                { name: `${TCP_DB}-db-5432`, weight: 2 },
                { name: `${TCP_DB}-db-replica-pg`, weight: 1 },
              ],
            },
          },
          [`${TCP_DB}-db-5432`]: {
            loadBalancer: {
              // an IPv6 endpoint, bracketed; the endpoint's port, not the Service's
              servers: [{ address: '[fd00::1]:15432' }],
              proxyProtocol: { version: 1 },
              terminationDelay: 400,
            },
          },
          [`${TCP_DB}-db-replica-pg`]: {
            loadBalancer: {
              servers: [{ address: '10.96.0.6:5432', tls: true }],
              serversTransport: 'default-secure',
            },
          },
        },
        middlewares: { 'default-only-lan': { ipAllowList: { sourceRange: ['10.0.0.0/8'] } } },
        serversTransports: {
          'default-secure': {
            dialTimeout: '3s',
            tls: {
              serverName: 'db.internal',
              rootCAs: ['CA-FROM-SECRET', 'CA-FROM-CONFIGMAP'],
              certificates: [{ certFile: 'CLIENT-CERT', keyFile: 'CLIENT-KEY' }],
            },
          },
        },
      },
      http: {
        serversTransports: {
          'default-secure': {
            serverName: 'web.internal',
            rootCAs: ['CA-FROM-SECRET', 'CA-FROM-CONFIGMAP'],
            certificates: [{ certFile: 'CLIENT-CERT', keyFile: 'CLIENT-KEY' }],
          },
        },
      },
    },
    diagnostics: [
      'ServersTransport default/secure spec.rootCAs[1].secret: secret default/no-such-secret not found',
    ],
  },
  {
    name: 'hostile objects: each reported with its field, the rest translates',
    fixture: 'hostile',
    expected: {
      http: {
        routers: {
          [router('default', 'good', 'Host(`good.example`)')]: {},
          [router('default', 'mixed-routes', 'Host(`ok.example`)')]: {},
        },
        services: {
          [router('default', 'good', 'Host(`good.example`)')]: {},
          [router('default', 'mixed-routes', 'Host(`ok.example`)')]: {},
        },
      },
    },
    diagnostics: [
      'IngressRoute default/ metadata.name: expected a non-empty name',
      'IngressRoute default/spec-string spec: expected a mapping, got string "routes"',
      'IngressRoute default/routes-map spec.routes: expected a list, got a mapping',
      'IngressRoute default/bad-entrypoints spec.entryPoints[0]: expected a string, got number 1',
      'IngressRoute default/bad-priority spec.routes[0].priority: expected an integer, got string "high"',
      'IngressRoute default/mixed-routes spec.routes[1].match: expected a string, got number 42',
      'IngressRoute default/mixed-routes spec.routes[2].match: empty match rule',
      'IngressRoute default/mixed-routes spec.routes[3].services[0].port: expected a port number or name, got a mapping',
      'IngressRoute default/mixed-routes spec.routes[4].services[0].port: expected a port number or name, got number 99999',
      'IngressRoute default/mixed-routes spec.routes[5].services[0].name: is required',
      'IngressRoute default/mixed-routes spec.routes[6].middlewares[0]: expected a mapping, got string "auth"',
      'IngressRoute default/mixed-routes spec.routes[7].services[0].name: service default/nope not found',
      'IngressRoute default/mixed-routes spec.routes[8].services[0].kind: unsupported service kind Pod',
      'IngressRoute default/mixed-routes spec.routes[9].services[0].scheme: invalid scheme "ftp" specified',
      'IngressRoute default/mixed-routes spec.routes[10].services[0].weight: expected an integer, got string "heavy"',
      'IngressRoute default/mixed-routes spec.routes[11].kind: unsupported match kind: Regex',
      'IngressRouteTCP default/tcp-missing spec.routes[0].services[0].name: service default/nope not found',
      'IngressRouteTCP default/tcp-missing spec.routes[0].services: no service of this route could be translated',
      'IngressRouteUDP default/udp-null-route spec.routes[0].services: no service of this route could be translated',
      'TLSOption default/secret-names-string spec.clientAuth.secretNames: expected a list, got string "client-ca"',
      'Middleware default/auth-options-list spec.basicAuth: expected a mapping, got a list',
      'Middleware default/bad-base64 spec.basicAuth.secret: secret default/garbled: key users is not valid base64',
      'Middleware default/bad-urn spec.plugin.thing.key: malformed secret URN "urn:k8s:secret:only-three"',
      'Middleware default/missing-secret spec.forwardAuth.tls.caSecret: secret default/nowhere not found',
      'Middleware default/two-types spec: a middleware must have exactly one type, found: addPrefix, stripPrefix',
      'Middleware default/wrong-option-type spec.addPrefix.prefix: must be a string, got a list',
      'TraefikService default/empty spec: unspecified service type',
      'TraefikService default/services-string spec.weighted.services: expected a list, got string "app"',
      'ServersTransport default/bad-transport spec.rootCAs[0].secret: expected a string, got number 7',
      'ServersTransport default/bad-transport spec: maxIdleConnsPerHost: expected an integer',
    ],
  },
];

function element(config: object, path: string): unknown {
  const [where, name] = [path.slice(0, path.indexOf('/')), path.slice(path.indexOf('/') + 1)];
  const [top, sub] = where.split('.') as [string, string];
  return (config as Record<string, Record<string, Record<string, unknown>> | undefined>)[top]?.[
    sub
  ]?.[name];
}

describe('the CRD translator on its own cases (translate/<case>.yml)', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { config, diagnostics } = translate([join(dir, `${c.fixture}.yml`)], c.opts);
    expect(config).toMatchObject(c.expected);
    for (const a of c.absent ?? []) expect(element(config, a), a).toBeUndefined();
    expectDiagnostics(diagnostics, c.diagnostics ?? []);
    const warnings = diagnostics.filter((d) => d.level === 'warning').map(describeDiagnostic);
    for (const w of c.warnings ?? [])
      expect(
        warnings.some((x) => x.startsWith(w)),
        `${w}\nin:\n${warnings.join('\n')}`,
      ).toBe(true);
    expect(aggregateErrors(config)).toEqual([]);
  });
});

/* ------------------------------------------------------------------ fuzz */

const JUNK: unknown[] = [
  null,
  0,
  -1,
  1.5,
  '',
  'x',
  true,
  [],
  {},
  [null],
  { a: [{}] },
  'urn:k8s:secret:a:b',
];

/** Every path of a value (objects and lists, to depth 6), as key lists. */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []) {
  if (at.length > 6) return out;
  const entries: [string | number, unknown][] = Array.isArray(v)
    ? v.map((x, i) => [i, x])
    : v !== null && typeof v === 'object'
      ? Object.entries(v)
      : [];
  for (const [k, x] of entries) {
    out.push([...at, k]);
    paths(x, [...at, k], out);
  }
  return out;
}

function replaced(o: KubeObject, path: (string | number)[], value: unknown): KubeObject {
  const copy = structuredClone(o) as unknown as Record<string | number, unknown>;
  let node = copy;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  node[path[path.length - 1]!] = value;
  return copy as unknown as KubeObject;
}

describe('any field of any type never throws, and what comes out validates', () => {
  const fixtures = join(dir, '..');
  const support = objectsOfYaml(readFileSync(join(dir, 'docs-support.yml'), 'utf8'));
  const examples = objectsOfYaml(readFileSync(join(fixtures, 'docs-examples.yml'), 'utf8'));
  const opts = { ...DEFAULTS, allowCrossNamespace: true, allowExternalNameServices: true };

  it.each([
    'IngressRoute',
    'IngressRouteTCP',
    'IngressRouteUDP',
    'Middleware',
    'TraefikService',
    'TLSOption',
    'TLSStore',
    'ServersTransport',
    'ServersTransportTCP',
    'MiddlewareTCP',
  ])('%s: every field of the documentation examples replaced by junk', (kind) => {
    let runs = 0;
    for (const example of examples.filter((e) => e.kind === kind)) {
      paths(example.spec).forEach((p, i) => {
        const o = replaced(example, ['spec', ...p], JUNK[(i + runs) % JUNK.length]);
        const { config } = translateCrds(viewOfObjects([...support, o]), opts);
        expect(aggregateErrors(config), `${kind} spec.${p.join('.')}`).toEqual([]);
        runs++;
      });
      // and the whole spec, metadata and object replaced
      for (const junk of JUNK) {
        for (const o of [
          { ...example, spec: junk },
          { ...example, metadata: { ...example.metadata, annotations: junk } },
        ] as KubeObject[]) {
          expect(() => translateCrds(viewOfObjects([...support, o]), opts)).not.toThrow();
        }
      }
    }
    expect(runs).toBeLessThan(5000);
  });
});
