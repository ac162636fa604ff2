import { describe, expect, it } from 'vitest';
import type { HttpConfig } from '../../src/config/dynamic.js';
import { middlewareTypes } from '../../middlewares/registry.js';
import {
  buildDockerConfig,
  compileRuleTemplate,
  parseConstraints,
  type ContainerInfo,
  type DockerBuildOptions,
  type LabelDiagnostic,
} from '../../providers/docker/build.js';

function ctr(over: Partial<ContainerInfo> = {}): ContainerInfo {
  return {
    id: 'c1',
    name: '/whoami',
    labels: {},
    state: { status: 'running' },
    networks: [{ name: 'bridge', ipAddress: '172.17.0.2' }],
    ports: [{ port: 80, protocol: 'tcp' }],
    ...over,
  };
}

const compose = (service: string, project: string, labels: Record<string, string> = {}) => ({
  'com.docker.compose.project': project,
  'com.docker.compose.service': service,
  ...labels,
});

function http(parts: HttpConfig): { http: HttpConfig } {
  return { http: { routers: {}, services: {}, middlewares: {}, ...parts } };
}

const lb = (...urls: string[]) => ({ loadBalancer: { servers: urls.map((url) => ({ url })) } });
const whoamiRouter = { rule: 'Host(`whoami`)', service: 'whoami' };

type Row = [string, ContainerInfo[], DockerBuildOptions, { http: HttpConfig }];

describe('buildDockerConfig: golden configs', () => {
  it.each<Row>([
    [
      'defaults: one router, one service',
      [ctr()],
      {},
      http({ routers: { whoami: whoamiRouter }, services: { whoami: lb('http://172.17.0.2:80') } }),
    ],
    ['exposedByDefault=false without enable', [ctr()], { exposedByDefault: false }, http({})],
    [
      'exposedByDefault=false with enable=true',
      [ctr({ labels: { 'traefik.enable': 'true' } })],
      { exposedByDefault: false },
      http({ routers: { whoami: whoamiRouter }, services: { whoami: lb('http://172.17.0.2:80') } }),
    ],
    ['enable=false', [ctr({ labels: { 'traefik.enable': 'false' } })], {}, http({})],
    [
      'portico.enable works too',
      [ctr({ labels: { 'portico.enable': 'TRUE' } })],
      { exposedByDefault: false },
      http({ routers: { whoami: whoamiRouter }, services: { whoami: lb('http://172.17.0.2:80') } }),
    ],
    [
      'container name normalised',
      [ctr({ name: '/my_app.v2' })],
      {},
      http({
        routers: { 'my-app-v2': { rule: 'Host(`my-app-v2`)', service: 'my-app-v2' } },
        services: { 'my-app-v2': lb('http://172.17.0.2:80') },
      }),
    ],
    [
      'compose labels name things <service>_<project>',
      [ctr({ name: '/proj-web-1', labels: compose('web', 'proj') })],
      {},
      http({
        routers: { 'web-proj': { rule: 'Host(`web-proj`)', service: 'web-proj' } },
        services: { 'web-proj': lb('http://172.17.0.2:80') },
      }),
    ],
    [
      'router with rule gets the only service',
      [ctr({ labels: { 'traefik.http.routers.api.rule': 'Host(`api.example`)' } })],
      {},
      http({
        routers: { api: { rule: 'Host(`api.example`)', service: 'whoami' } },
        services: { whoami: lb('http://172.17.0.2:80') },
      }),
    ],
    [
      'router without rule gets the default rule',
      [ctr({ labels: { 'traefik.http.routers.api.entrypoints': 'websecure' } })],
      {},
      http({
        routers: { api: { entryPoints: ['websecure'], rule: 'Host(`whoami`)', service: 'whoami' } },
        services: { whoami: lb('http://172.17.0.2:80') },
      }),
    ],
    [
      'full router grammar',
      [
        ctr({
          labels: {
            'traefik.http.routers.r.rule': 'Host(`a.example`)',
            'traefik.http.routers.r.rulesyntax': 'v3',
            'traefik.http.routers.r.entrypoints': 'web,websecure',
            'traefik.http.routers.r.middlewares': 'auth@file,strip',
            'traefik.http.routers.r.service': 'api@file',
            'traefik.http.routers.r.priority': '10',
            'traefik.http.routers.r.tls': 'true',
            'traefik.http.routers.r.tls.certresolver': 'le',
            'traefik.http.routers.r.tls.options': 'modern@file',
            'traefik.http.routers.r.tls.domains[0].main': 'example.org',
            'traefik.http.routers.r.tls.domains[0].sans': 'a.example.org,b.example.org',
            'traefik.http.middlewares.strip.stripprefix.prefixes': '/api',
          },
        }),
      ],
      {},
      http({
        routers: {
          r: {
            entryPoints: ['web', 'websecure'],
            rule: 'Host(`a.example`)',
            ruleSyntax: 'v3',
            priority: 10,
            middlewares: ['auth@file', 'strip'],
            service: 'api@file',
            tls: {
              certResolver: 'le',
              options: 'modern@file',
              domains: [{ main: 'example.org', sans: ['a.example.org', 'b.example.org'] }],
            },
          },
        },
        services: { whoami: lb('http://172.17.0.2:80') },
        middlewares: { strip: { stripPrefix: { prefixes: ['/api'] } } },
      }),
    ],
    [
      'full service grammar',
      [
        ctr({
          labels: {
            'traefik.http.services.api.loadbalancer.server.port': '8080',
            'traefik.http.services.api.loadbalancer.server.scheme': 'https',
            'traefik.http.services.api.loadbalancer.server.weight': '2',
            'traefik.http.services.api.loadbalancer.passhostheader': 'false',
            'traefik.http.services.api.loadbalancer.sticky.cookie.name': 'sid',
            'traefik.http.services.api.loadbalancer.sticky.cookie.secure': 'true',
            'traefik.http.services.api.loadbalancer.healthcheck.path': '/health',
            'traefik.http.services.api.loadbalancer.healthcheck.interval': '5s',
            'traefik.http.services.api.loadbalancer.serverstransport': 'tls@file',
            'traefik.http.services.api.loadbalancer.responseforwarding.flushinterval': '1s',
          },
        }),
      ],
      {},
      http({
        routers: { whoami: { rule: 'Host(`whoami`)', service: 'api' } },
        services: {
          api: {
            loadBalancer: {
              servers: [{ url: 'https://172.17.0.2:8080', weight: 2 }],
              passHostHeader: false,
              sticky: { cookie: { name: 'sid', secure: true } },
              healthCheck: { path: '/health', interval: '5s' },
              serversTransport: 'tls@file',
              responseForwarding: { flushInterval: '1s' },
            },
          },
        },
      }),
    ],
    [
      'server.url used as is',
      [
        ctr({
          labels: { 'traefik.http.services.ext.loadbalancer.server.url': 'http://backend:9000' },
        }),
      ],
      {},
      http({
        routers: { whoami: { rule: 'Host(`whoami`)', service: 'ext' } },
        services: { ext: lb('http://backend:9000') },
      }),
    ],
    [
      'middleware only: default router and service still made',
      [ctr({ labels: { 'traefik.http.middlewares.add.addprefix.prefix': '/v1' } })],
      {},
      http({
        routers: { whoami: whoamiRouter },
        services: { whoami: lb('http://172.17.0.2:80') },
        middlewares: { add: { addPrefix: { prefix: '/v1' } } },
      }),
    ],
    [
      'two services and a router naming one',
      [
        ctr({
          labels: {
            'traefik.http.services.a.loadbalancer.server.port': '80',
            'traefik.http.services.b.loadbalancer.server.port': '81',
            'traefik.http.routers.r.service': 'b',
          },
        }),
      ],
      {},
      http({
        routers: { r: { rule: 'Host(`whoami`)', service: 'b' } },
        services: { a: lb('http://172.17.0.2:80'), b: lb('http://172.17.0.2:81') },
      }),
    ],
    [
      'replicas of one compose service become one service with several servers',
      [
        ctr({
          id: 'b2',
          name: '/p-web-2',
          labels: compose('web', 'p'),
          networks: [{ name: 'p_default', ipAddress: '10.0.0.3' }],
        }),
        ctr({
          id: 'a1',
          name: '/p-web-1',
          labels: compose('web', 'p'),
          networks: [{ name: 'p_default', ipAddress: '10.0.0.2' }],
        }),
      ],
      {},
      http({
        routers: { 'web-p': { rule: 'Host(`web-p`)', service: 'web-p' } },
        services: { 'web-p': lb('http://10.0.0.2:80', 'http://10.0.0.3:80') },
      }),
    ],
    [
      'replicas with the same address are deduplicated by url',
      [
        ctr({
          id: 'a1',
          labels: compose('web', 'p', {
            'traefik.http.services.s.loadbalancer.server.url': 'http://lb:80',
          }),
        }),
        ctr({
          id: 'a2',
          name: '/other',
          labels: compose('web', 'p', {
            'traefik.http.services.s.loadbalancer.server.url': 'http://lb:80',
          }),
        }),
      ],
      {},
      http({
        routers: { 'web-p': { rule: 'Host(`web-p`)', service: 's' } },
        services: { s: lb('http://lb:80') },
      }),
    ],
    [
      'identical middleware from two containers is kept once',
      [
        ctr({
          id: 'a',
          name: '/a',
          labels: { 'traefik.http.middlewares.m.addprefix.prefix': '/x' },
        }),
        ctr({
          id: 'b',
          name: '/b',
          labels: { 'traefik.http.middlewares.m.addprefix.prefix': '/x' },
        }),
      ],
      {},
      http({
        routers: { a: { rule: 'Host(`a`)', service: 'a' }, b: { rule: 'Host(`b`)', service: 'b' } },
        services: { a: lb('http://172.17.0.2:80'), b: lb('http://172.17.0.2:80') },
        middlewares: { m: { addPrefix: { prefix: '/x' } } },
      }),
    ],
    [
      'label docker.network picks the network',
      [
        ctr({
          labels: { 'traefik.docker.network': 'proxy' },
          networks: [
            { name: 'backend', ipAddress: '10.1.0.2' },
            { name: 'proxy', ipAddress: '10.2.0.2' },
          ],
        }),
      ],
      {},
      http({ routers: { whoami: whoamiRouter }, services: { whoami: lb('http://10.2.0.2:80') } }),
    ],
    [
      'option network picks the network',
      [
        ctr({
          networks: [
            { name: 'backend', ipAddress: '10.1.0.2' },
            { name: 'proxy', ipAddress: '10.2.0.2' },
          ],
        }),
      ],
      { network: 'proxy' },
      http({ routers: { whoami: whoamiRouter }, services: { whoami: lb('http://10.2.0.2:80') } }),
    ],
    [
      'label network beats option network',
      [
        ctr({
          labels: { 'traefik.docker.network': 'backend' },
          networks: [
            { name: 'backend', ipAddress: '10.1.0.2' },
            { name: 'proxy', ipAddress: '10.2.0.2' },
          ],
        }),
      ],
      { network: 'proxy' },
      http({ routers: { whoami: whoamiRouter }, services: { whoami: lb('http://10.1.0.2:80') } }),
    ],
    [
      'no network chosen: the first one',
      [
        ctr({
          networks: [
            { name: 'backend', ipAddress: '10.1.0.2' },
            { name: 'proxy', ipAddress: '10.2.0.2' },
          ],
        }),
      ],
      {},
      http({ routers: { whoami: whoamiRouter }, services: { whoami: lb('http://10.1.0.2:80') } }),
    ],
    [
      'IPv6-only network address is bracketed',
      [ctr({ networks: [{ name: 'v6', ipv6Address: 'fd00::2' }] })],
      {},
      http({ routers: { whoami: whoamiRouter }, services: { whoami: lb('http://[fd00::2]:80') } }),
    ],
    [
      'host network: 127.0.0.1',
      [ctr({ networkMode: 'host', networks: [{ name: 'host' }] })],
      {},
      http({ routers: { whoami: whoamiRouter }, services: { whoami: lb('http://127.0.0.1:80') } }),
    ],
    [
      'container:<id> network mode uses the other container address',
      [
        ctr({ id: 'app', name: '/app', networkMode: 'container:vpn1', networks: [] }),
        ctr({
          id: 'vpn1',
          name: '/vpn',
          labels: { 'traefik.enable': 'false' },
          networks: [{ name: 'b', ipAddress: '10.9.0.9' }],
        }),
      ],
      {},
      http({
        routers: { app: { rule: 'Host(`app`)', service: 'app' } },
        services: { app: lb('http://10.9.0.9:80') },
      }),
    ],
    [
      'the only exposed port',
      [ctr({ ports: [{ port: 3000, protocol: 'tcp' }] })],
      {},
      http({
        routers: { whoami: whoamiRouter },
        services: { whoami: lb('http://172.17.0.2:3000') },
      }),
    ],
    [
      'the lowest exposed TCP port',
      [
        ctr({
          ports: [
            { port: 9000, protocol: 'tcp' },
            { port: 53, protocol: 'udp' },
            { port: 8080, protocol: 'tcp', hostPort: 80 },
          ],
        }),
      ],
      {},
      http({
        routers: { whoami: whoamiRouter },
        services: { whoami: lb('http://172.17.0.2:8080') },
      }),
    ],
    [
      'label port beats exposed ports',
      [ctr({ labels: { 'traefik.http.services.whoami.loadbalancer.server.port': '9999' } })],
      {},
      http({
        routers: { whoami: whoamiRouter },
        services: { whoami: lb('http://172.17.0.2:9999') },
      }),
    ],
    ['stopped container is left out', [ctr({ state: { status: 'exited' } })], {}, http({})],
    [
      'stopped container with allownonrunning keeps routes, no servers',
      [ctr({ state: { status: 'exited' }, labels: { 'traefik.docker.allownonrunning': 'true' } })],
      {},
      http({
        routers: { whoami: whoamiRouter },
        services: { whoami: { loadBalancer: { servers: [] } } },
      }),
    ],
    [
      'unhealthy container is left out',
      [ctr({ state: { status: 'running', health: 'unhealthy' } })],
      {},
      http({}),
    ],
    [
      'starting container is left out too (as Traefik)',
      [ctr({ state: { status: 'running', health: 'starting' } })],
      {},
      http({}),
    ],
    [
      'healthy container serves',
      [ctr({ state: { status: 'running', health: 'healthy' } })],
      {},
      http({ routers: { whoami: whoamiRouter }, services: { whoami: lb('http://172.17.0.2:80') } }),
    ],
    [
      'unhealthy replica is left out of the load balancer, the healthy one serves',
      [
        ctr({
          id: 'a',
          name: '/p-web-1',
          labels: compose('web', 'p'),
          networks: [{ name: 'n', ipAddress: '10.0.0.2' }],
        }),
        ctr({
          id: 'b',
          name: '/p-web-2',
          labels: compose('web', 'p'),
          state: { status: 'running', health: 'unhealthy' },
          networks: [{ name: 'n', ipAddress: '10.0.0.3' }],
        }),
      ],
      {},
      http({
        routers: { 'web-p': { rule: 'Host(`web-p`)', service: 'web-p' } },
        services: { 'web-p': lb('http://10.0.0.2:80') },
      }),
    ],
    [
      'allowEmptyServices keeps an unhealthy container with no servers',
      [ctr({ state: { status: 'running', health: 'unhealthy' } })],
      { allowEmptyServices: true },
      http({
        routers: { whoami: whoamiRouter },
        services: { whoami: { loadBalancer: { servers: [] } } },
      }),
    ],
    [
      'allowEmptyServices keeps a stopped labelled container with no servers (503 rather than 404)',
      [ctr({ state: { status: 'exited' }, labels: { 'traefik.enable': 'true' } })],
      { allowEmptyServices: true },
      http({
        routers: { whoami: whoamiRouter },
        services: { whoami: { loadBalancer: { servers: [] } } },
      }),
    ],
    [
      'a stopped container is left out without allowEmptyServices',
      [ctr({ state: { status: 'exited' } })],
      {},
      http({}),
    ],
    [
      'a stopped container without labels stays out even with allowEmptyServices',
      [ctr({ state: { status: 'exited' } })],
      { allowEmptyServices: true },
      http({}),
    ],
    [
      'constraints Label',
      [
        ctr({ id: 'a', name: '/a', labels: { team: 'x' } }),
        ctr({ id: 'b', name: '/b', labels: { team: 'y' } }),
      ],
      { constraints: 'Label(`team`, `x`)' },
      http({
        routers: { a: { rule: 'Host(`a`)', service: 'a' } },
        services: { a: lb('http://172.17.0.2:80') },
      }),
    ],
    [
      'constraints LabelRegex with ! and ||',
      [
        ctr({ id: 'a', name: '/a', labels: { env: 'prod-eu' } }),
        ctr({ id: 'b', name: '/b', labels: { env: 'dev' } }),
        ctr({ id: 'c', name: '/c', labels: { env: 'staging', keep: 'yes' } }),
      ],
      {
        constraints:
          '!LabelRegex(`env`, `^(dev|staging)`) || (Label(`keep`, `yes`) && Label("env", "staging"))',
      },
      http({
        routers: { a: { rule: 'Host(`a`)', service: 'a' }, c: { rule: 'Host(`c`)', service: 'c' } },
        services: { a: lb('http://172.17.0.2:80'), c: lb('http://172.17.0.2:80') },
      }),
    ],
    [
      'defaultRule option with .Name and a label via index',
      [ctr({ labels: { 'com.example.domain': 'example.org' } })],
      { defaultRule: 'Host(`{{ .Name }}.{{ index .Labels "com.example.domain" }}`)' },
      http({
        routers: { whoami: { rule: 'Host(`whoami.example.org`)', service: 'whoami' } },
        services: { whoami: lb('http://172.17.0.2:80') },
      }),
    ],
    [
      'defaultRule with .Labels.x and a pipe',
      [ctr({ name: '/My_App', labels: { zone: 'EU' } })],
      {
        defaultRule:
          'Host(`{{ .ContainerName | normalize | lower }}.{{ .Labels.zone | lower }}.example`)',
      },
      http({
        routers: { 'My-App': { rule: 'Host(`my-app.eu.example`)', service: 'My-App' } },
        services: { 'My-App': lb('http://172.17.0.2:80') },
      }),
    ],
  ])('%s', (_title, containers, opts, expected) => {
    const r = buildDockerConfig(containers, opts);
    expect(r.diagnostics).toEqual([]);
    expect(r.errors).toEqual([]);
    expect(r.config).toEqual(expected);
  });
});

type DiagRow = [
  string,
  ContainerInfo[],
  DockerBuildOptions,
  { http: HttpConfig },
  LabelDiagnostic[],
];

const d = (
  key: string,
  value: string,
  message: string,
  level: 'error' | 'warning' = 'error',
  container = 'whoami',
) => ({
  container,
  key,
  value,
  message,
  level,
});

describe('buildDockerConfig: bad labels keep the rest of the container', () => {
  it.each<DiagRow>([
    [
      'a mistyped router field leaves only that router out',
      [
        ctr({
          labels: {
            'traefik.http.routers.good.rule': 'Host(`good`)',
            'traefik.http.routers.bad.rule': 'Host(`bad`)',
            'traefik.http.routers.bad.entrypoint': 'web',
          },
        }),
      ],
      {},
      http({
        routers: { good: { rule: 'Host(`good`)', service: 'whoami' } },
        services: { whoami: lb('http://172.17.0.2:80') },
      }),
      [
        d(
          'traefik.http.routers.bad.entrypoint',
          'web',
          'unknown field "entrypoint", did you mean "entryPoints"?',
        ),
      ],
    ],
    [
      'bad priority',
      [ctr({ labels: { 'traefik.http.routers.r.priority': '1e3' } })],
      {},
      http({ services: { whoami: lb('http://172.17.0.2:80') } }),
      [d('traefik.http.routers.r.priority', '1e3', 'expected an integer, got "1e3"')],
    ],
    [
      'a bad service label leaves the service out; the router still points at it',
      [ctr({ labels: { 'traefik.http.services.api.loadbalancer.server.port': 'eighty' } })],
      {},
      http({ routers: { whoami: { rule: 'Host(`whoami`)', service: 'api' } } }),
      [
        d(
          'traefik.http.services.api.loadbalancer.server.port',
          'eighty',
          'expected an integer, got "eighty"',
        ),
      ],
    ],
    [
      'bad middleware option, others kept',
      [
        ctr({
          labels: {
            'traefik.http.middlewares.a.addprefix.prefix': '/a',
            'traefik.http.middlewares.b.stripprefix.prefix': '/b',
          },
        }),
      ],
      {},
      http({
        routers: { whoami: whoamiRouter },
        services: { whoami: lb('http://172.17.0.2:80') },
        middlewares: { a: { addPrefix: { prefix: '/a' } } },
      }),
      [
        d(
          'traefik.http.middlewares.b.stripprefix.prefix',
          '/b',
          'unknown field "prefix", did you mean "prefixes"?',
        ),
      ],
    ],
    [
      'bad enable value leaves the container out',
      [ctr({ labels: { 'traefik.enable': 'ture' } })],
      {},
      http({}),
      [
        d(
          'traefik.enable',
          'ture',
          'expected true or false; the container is left out until this is fixed',
        ),
      ],
    ],
    [
      'unknown docker.* label',
      [ctr({ labels: { 'traefik.docker.netwrok': 'proxy' } })],
      {},
      http({ routers: { whoami: whoamiRouter }, services: { whoami: lb('http://172.17.0.2:80') } }),
      [
        d(
          'traefik.docker.netwrok',
          'proxy',
          'unknown label; known: docker.network, docker.allownonrunning',
        ),
      ],
    ],
    [
      'tcp labels: no default HTTP router is invented for them (the tcp half: tcp-docker.test.ts)',
      [ctr({ labels: { 'traefik.tcp.routers.db.rule': 'HostSNI(`*`)' } })],
      {},
      {
        ...http({}),
        tcp: {
          routers: { db: { rule: 'HostSNI(`*`)', service: 'whoami' } },
          services: { whoami: { loadBalancer: { servers: [{ address: '172.17.0.2:80' }] } } },
          middlewares: {},
        },
      } as { http: HttpConfig },
      [],
    ],
    [
      'two services and no router: no default router',
      [
        ctr({
          labels: {
            'traefik.http.services.a.loadbalancer.server.port': '80',
            'traefik.http.services.b.loadbalancer.server.port': '81',
          },
        }),
      ],
      {},
      http({ services: { a: lb('http://172.17.0.2:80'), b: lb('http://172.17.0.2:81') } }),
      [
        d(
          'traefik.http.routers',
          '',
          'no default router: the container defines 2 services (a, b); add a router label naming one',
          'warning',
        ),
      ],
    ],
    [
      'two services and a router without service: that router is left out',
      [
        ctr({
          labels: {
            'traefik.http.services.a.loadbalancer.server.port': '80',
            'traefik.http.services.b.loadbalancer.server.port': '81',
            'traefik.http.routers.r.rule': 'Host(`r`)',
            'traefik.http.routers.s.rule': 'Host(`s`)',
            'traefik.http.routers.s.service': 'a',
          },
        }),
      ],
      {},
      http({
        routers: { s: { rule: 'Host(`s`)', service: 'a' } },
        services: { a: lb('http://172.17.0.2:80'), b: lb('http://172.17.0.2:81') },
      }),
      [
        d(
          'traefik.http.routers.r.service',
          '',
          'router cannot be linked automatically: the container defines 2 services (a, b); name one',
        ),
      ],
    ],
    [
      'no exposed port and no port label',
      [ctr({ ports: [] })],
      {},
      http({ routers: { whoami: whoamiRouter } }),
      [
        d(
          'portico.http.services.whoami.loadbalancer.server.port',
          '',
          'port is missing: the container exposes no TCP port; set this label',
        ),
      ],
    ],
    [
      'url together with port is refused',
      [
        ctr({
          labels: {
            'traefik.http.services.s.loadbalancer.server.url': 'http://x:1',
            'traefik.http.services.s.loadbalancer.server.port': '80',
          },
        }),
      ],
      {},
      http({ routers: { whoami: { rule: 'Host(`whoami`)', service: 's' } } }),
      [
        d(
          'traefik.http.services.s.loadbalancer.server.url',
          'http://x:1',
          'defining scheme or port is not allowed when url is defined',
        ),
      ],
    ],
    [
      'network label names a missing network: warning, first network used',
      [
        ctr({
          labels: { 'traefik.docker.network': 'proxy' },
          networks: [{ name: 'p_proxy', ipAddress: '10.0.0.5' }],
        }),
      ],
      {},
      http({ routers: { whoami: whoamiRouter }, services: { whoami: lb('http://10.0.0.5:80') } }),
      [
        d(
          'traefik.docker.network',
          'proxy',
          'network "proxy" not found on the container (it has: p_proxy); maybe the compose project prefix is missing; using the first network',
          'warning',
        ),
      ],
    ],
    [
      'no address at all',
      [ctr({ networks: [] })],
      {},
      http({ routers: { whoami: whoamiRouter } }),
      [
        d(
          'portico.http.services.whoami.loadbalancer.server.port',
          '',
          'no IP address found for the container on any network; the server is left out',
        ),
      ],
    ],
    [
      'servers transports cannot be defined with labels',
      [ctr({ labels: { 'traefik.http.serverstransports.t.servername': 'x' } })],
      {},
      http({ routers: { whoami: whoamiRouter }, services: { whoami: lb('http://172.17.0.2:80') } }),
      [
        d(
          'traefik.http.serverstransports.t.servername',
          'x',
          'servers transports cannot be defined with labels; define it in a file and reference it as name@file',
        ),
      ],
    ],
    [
      'bad allownonrunning value',
      [ctr({ labels: { 'traefik.docker.allownonrunning': 'maybe' } })],
      {},
      http({ routers: { whoami: whoamiRouter }, services: { whoami: lb('http://172.17.0.2:80') } }),
      [d('traefik.docker.allownonrunning', 'maybe', 'expected true or false, got "maybe"')],
    ],
    [
      'a middleware type the registry lacks is kept, typed, with a warning; map keys keep their case',
      [
        ctr({
          labels: { 'traefik.http.middlewares.h.headers.customrequestheaders.X-Request-Id': '' },
        }),
      ],
      {},
      http({
        routers: { whoami: whoamiRouter },
        services: { whoami: lb('http://172.17.0.2:80') },
        middlewares: { h: { headers: { customRequestHeaders: { 'X-Request-Id': '' } } } },
      }),
      // once the registry has `headers`, the warning goes away
      middlewareTypes().includes('headers')
        ? []
        : [
            d(
              'traefik.http.middlewares.h.headers.customrequestheaders.X-Request-Id',
              '',
              `unknown middleware type "headers" (known: ${middlewareTypes().join(', ')})`,
              'warning',
            ),
          ],
    ],
    [
      'disabled containers report nothing',
      [ctr({ labels: { 'traefik.enable': 'false', 'traefik.http.routers.r.rul': 'x' } })],
      {},
      http({}),
      [],
    ],
  ])('%s', (_title, containers, opts, expected, diagnostics) => {
    const r = buildDockerConfig(containers, opts);
    expect(r.config).toEqual(expected);
    expect(r.diagnostics).toEqual(diagnostics);
    // every error-level diagnostic is also an ElementError the dashboard shows
    expect(r.errors).toEqual(
      diagnostics
        .filter((x) => x.level === 'error')
        .map((x) => ({
          kind: 'provider',
          name: 'docker',
          field: `${x.container} label ${x.key}`,
          message: x.message,
        })),
    );
  });
});

describe('buildDockerConfig: conflicts name both containers', () => {
  it.each<
    [
      string,
      ContainerInfo[],
      { http: HttpConfig },
      { kind: string; name: string; message: string }[],
    ]
  >([
    [
      'same router name, different rules',
      [
        ctr({
          id: 'a',
          name: '/a',
          labels: {
            'traefik.http.routers.r.rule': 'Host(`a`)',
            'traefik.http.routers.r.service': 's@file',
          },
        }),
        ctr({
          id: 'b',
          name: '/b',
          labels: {
            'traefik.http.routers.r.rule': 'Host(`b`)',
            'traefik.http.routers.r.service': 's@file',
          },
        }),
      ],
      http({ services: { a: lb('http://172.17.0.2:80'), b: lb('http://172.17.0.2:80') } }),
      [
        {
          kind: 'router',
          name: 'r@docker',
          message:
            'router "r" is defined differently by containers "a" and "b"; it is left out until they agree',
        },
      ],
    ],
    [
      'same service name, different load balancer settings',
      [
        ctr({
          id: 'a',
          name: '/a',
          labels: { 'traefik.http.services.s.loadbalancer.passhostheader': 'true' },
        }),
        ctr({
          id: 'b',
          name: '/b',
          labels: { 'traefik.http.services.s.loadbalancer.passhostheader': 'false' },
        }),
      ],
      http({
        routers: { a: { rule: 'Host(`a`)', service: 's' }, b: { rule: 'Host(`b`)', service: 's' } },
      }),
      [
        {
          kind: 'service',
          name: 's@docker',
          message:
            'service "s" is defined differently by containers "a" and "b"; it is left out until they agree',
        },
      ],
    ],
    [
      'same middleware name, different options',
      [
        ctr({
          id: 'a',
          name: '/a',
          labels: { 'traefik.http.middlewares.m.addprefix.prefix': '/a' },
        }),
        ctr({
          id: 'b',
          name: '/b',
          labels: { 'traefik.http.middlewares.m.addprefix.prefix': '/b' },
        }),
      ],
      http({
        routers: { a: { rule: 'Host(`a`)', service: 'a' }, b: { rule: 'Host(`b`)', service: 'b' } },
        services: { a: lb('http://172.17.0.2:80'), b: lb('http://172.17.0.2:80') },
      }),
      [
        {
          kind: 'middleware',
          name: 'm@docker',
          message:
            'middleware "m" is defined differently by containers "a" and "b"; it is left out until they agree',
        },
      ],
    ],
  ])('%s', (_title, containers, expected, errors) => {
    const r = buildDockerConfig(containers, {});
    expect(r.config).toEqual(expected);
    expect(r.errors).toEqual(errors);
  });
});

describe('buildDockerConfig: options errors', () => {
  it('an invalid constraints expression keeps every container out and says so', () => {
    const r = buildDockerConfig([ctr()], { constraints: 'Label(`a`' });
    expect(r.config).toEqual(http({}));
    expect(r.errors).toEqual([
      {
        kind: 'provider',
        name: 'docker',
        field: 'constraints',
        message: 'invalid constraints expression: expected ",", got the end',
      },
    ]);
  });

  it('an unsupported defaultRule template leaves default-ruled routers out, with a diagnostic', () => {
    const r = buildDockerConfig(
      [
        ctr({ labels: { 'traefik.http.routers.x.rule': 'Path(`/x`)' } }),
        ctr({ id: 'c2', name: '/y' }),
      ],
      { defaultRule: 'Host(`{{ .Name | replace "a" "b" }}`)' },
    );
    expect(r.config).toEqual(
      http({
        routers: { x: { rule: 'Path(`/x`)', service: 'whoami' } },
        services: { whoami: lb('http://172.17.0.2:80'), y: lb('http://172.17.0.2:80') },
      }),
    );
    const message =
      'invalid defaultRule template: unsupported function "replace" in "{{ .Name | replace "a" "b" }}" (supported: index, normalize, lower, upper, trim)';
    expect(r.errors[0]).toEqual({
      kind: 'provider',
      name: 'docker',
      field: 'defaultRule',
      message,
    });
    expect(r.diagnostics).toEqual([
      d(
        'portico.http.routers.y.rule',
        '',
        `no rule, and the default rule cannot be used: ${message}`,
        'error',
        'y',
      ),
    ]);
  });
});

describe('compileRuleTemplate', () => {
  const model = { Name: 'web-p', ContainerName: 'p-web-1', Labels: { 'a.b': 'AB', host: 'H' } };
  it.each([
    ['Host(`{{ normalize .Name }}`)', 'Host(`web-p`)'],
    ['Host(`{{ .Name }}.local`)', 'Host(`web-p.local`)'],
    ['Host(`{{ .ContainerName }}`)', 'Host(`p-web-1`)'],
    ['{{ index .Labels "a.b" }}', 'AB'],
    ['{{ .Labels.host | lower }}', 'h'],
    ['{{ index .Labels "missing" }}', ''],
    ['no action', 'no action'],
  ])('%s', (source, out) => {
    expect(compileRuleTemplate(source)(model)).toBe(out);
  });
  it.each(['{{ .Name', '{{ if .Name }}x{{ end }}', '{{ .Nope }}', '{{ }}'])(
    'rejects %s',
    (source) => {
      expect(() => compileRuleTemplate(source)).toThrow();
    },
  );
});

describe('parseConstraints', () => {
  const labels = { a: '1', b: 'xyz' };
  it.each<[string, boolean]>([
    ['Label(`a`, `1`)', true],
    ['Label(`a`, `2`)', false],
    ['Label(`missing`, ``)', true],
    ['LabelRegex(`b`, `y`)', true],
    ['LabelRegex(`b`, `^y`)', false],
    ['!Label(`a`, `1`)', false],
    ['Label(`a`, `1`) && Label(`b`, `xyz`)', true],
    ['Label(`a`, `2`) || Label(`b`, `xyz`)', true],
    ['!(Label(`a`, `2`) || Label(`b`, `q`))', true],
  ])('%s → %s', (expr, expected) => {
    expect(parseConstraints(expr)(labels)).toBe(expected);
  });
});
