/*
 * The Docker provider's TCP and UDP half, as Traefik's
 * pkg/provider/docker/config.go builds it (buildTCPServiceConfiguration,
 * buildUDPServiceConfiguration, addServerTCP/UDP) and
 * pkg/provider/configuration.go links routers (BuildTCPRouterConfiguration,
 * BuildUDPRouterConfiguration): a default service named after the container
 * when none is labelled, the container's address and port as the one server,
 * a router without a service linked to the only service, no invented HTTP
 * router for a TCP/UDP-only container; replicas' servers merged.
 */
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import {
  buildDockerConfig,
  type ContainerInfo,
  type DockerBuildOptions,
  type LabelDiagnostic,
} from '../../providers/docker/build.js';

function ctr(over: Partial<ContainerInfo> = {}): ContainerInfo {
  return {
    id: 'c1',
    name: '/pg',
    labels: {},
    state: { status: 'running' },
    networks: [{ name: 'bridge', ipAddress: '172.17.0.2' }],
    ports: [{ port: 5432, protocol: 'tcp' }],
    ...over,
  };
}

const emptyHttp = { http: { routers: {}, services: {}, middlewares: {} } };
const tcpLb = (...addresses: string[]) => ({
  loadBalancer: { servers: addresses.map((address) => ({ address })) },
});
const udpLb = tcpLb;

const d = (
  key: string,
  value: string,
  message: string,
  level: 'error' | 'warning' = 'error',
  container = 'pg',
): LabelDiagnostic => ({ container, key, value, message, level });

type Row = [string, ContainerInfo[], DockerBuildOptions, DynamicConfig, LabelDiagnostic[]?];

describe('buildDockerConfig: tcp and udp, as Traefik users label them', () => {
  it.each<Row>([
    [
      "Traefik docs' example: Declaring TCP Routers with one Service",
      [
        ctr({
          name: '/my-container',
          labels: {
            'traefik.tcp.routers.my-router.rule': 'HostSNI(`example.com`)',
            'traefik.tcp.routers.my-router.tls': 'true',
            'traefik.tcp.services.my-service.loadbalancer.server.port': '4123',
          },
        }),
      ],
      {},
      {
        ...emptyHttp,
        tcp: {
          routers: {
            'my-router': { rule: 'HostSNI(`example.com`)', service: 'my-service', tls: {} },
          },
          services: { 'my-service': tcpLb('172.17.0.2:4123') },
          middlewares: {},
        },
      },
    ],
    [
      "Traefik docs' example: Declaring UDP Routers with one Service",
      [
        ctr({
          name: '/my-container',
          labels: {
            'traefik.udp.routers.my-router.entrypoints': 'udp',
            'traefik.udp.services.my-service.loadbalancer.server.port': '4123',
          },
        }),
      ],
      {},
      {
        ...emptyHttp,
        udp: {
          routers: { 'my-router': { entryPoints: ['udp'], service: 'my-service' } },
          services: { 'my-service': udpLb('172.17.0.2:4123') },
        },
      },
    ],
    [
      'plain tcp: a rule and an entry point; the default service is the container, on its port',
      [
        ctr({
          labels: {
            'traefik.tcp.routers.pg.rule': 'HostSNI(`*`)',
            'traefik.tcp.routers.pg.entrypoints': 'postgres',
          },
        }),
      ],
      {},
      {
        ...emptyHttp,
        tcp: {
          routers: { pg: { entryPoints: ['postgres'], rule: 'HostSNI(`*`)', service: 'pg' } },
          services: { pg: tcpLb('172.17.0.2:5432') },
          middlewares: {},
        },
      },
    ],
    [
      'labelled service port; the router is linked to the only service',
      [
        ctr({
          labels: {
            'traefik.tcp.routers.db.rule': 'HostSNI(`db.example.com`)',
            'traefik.tcp.routers.db.tls.passthrough': 'true',
            'traefik.tcp.services.postgres.loadbalancer.server.port': '5433',
          },
          ports: [
            { port: 5432, protocol: 'tcp' },
            { port: 5433, protocol: 'tcp' },
          ],
        }),
      ],
      {},
      {
        ...emptyHttp,
        tcp: {
          routers: {
            db: {
              rule: 'HostSNI(`db.example.com`)',
              service: 'postgres',
              tls: { passthrough: true },
            },
          },
          services: { postgres: tcpLb('172.17.0.2:5433') },
          middlewares: {},
        },
      },
    ],
    [
      'server.tls, load balancer options and middlewares kept',
      [
        ctr({
          labels: {
            'traefik.tcp.routers.db.rule': 'HostSNI(`*`)',
            'traefik.tcp.routers.db.middlewares': 'allow',
            'traefik.tcp.services.db.loadbalancer.server.port': '5432',
            'traefik.tcp.services.db.loadbalancer.server.tls': 'true',
            'traefik.tcp.services.db.loadbalancer.serverstransport': 'pg@file',
            'traefik.tcp.middlewares.allow.ipallowlist.sourcerange': '10.0.0.0/8',
          },
        }),
      ],
      {},
      {
        ...emptyHttp,
        tcp: {
          routers: { db: { rule: 'HostSNI(`*`)', middlewares: ['allow'], service: 'db' } },
          services: {
            db: {
              loadBalancer: {
                servers: [{ address: '172.17.0.2:5432', tls: true }],
                serversTransport: 'pg@file',
              },
            },
          },
          middlewares: { allow: { ipAllowList: { sourceRange: ['10.0.0.0/8'] } } },
        },
      },
    ],
    [
      'udp: router and service port',
      [
        ctr({
          name: '/dns',
          labels: {
            'traefik.udp.routers.dns.entrypoints': 'dns',
            'traefik.udp.services.dns.loadbalancer.server.port': '53',
          },
          ports: [
            { port: 53, protocol: 'udp' },
            { port: 53, protocol: 'tcp' },
          ],
        }),
      ],
      {},
      {
        ...emptyHttp,
        udp: {
          routers: { dns: { entryPoints: ['dns'], service: 'dns' } },
          services: { dns: udpLb('172.17.0.2:53') },
        },
      },
    ],
    [
      'udp default service: the lowest exposed udp port (a tcp metrics port is not it)',
      [
        ctr({
          name: '/coredns',
          labels: { 'traefik.udp.routers.dns.entrypoints': 'dns' },
          ports: [
            { port: 9153, protocol: 'tcp' },
            { port: 53, protocol: 'udp' },
          ],
        }),
      ],
      {},
      {
        ...emptyHttp,
        udp: {
          routers: { dns: { entryPoints: ['dns'], service: 'coredns' } },
          services: { coredns: udpLb('172.17.0.2:53') },
        },
      },
    ],
    [
      'tcp default service: the lowest exposed tcp port',
      [
        ctr({
          labels: { 'traefik.tcp.routers.pg.rule': 'HostSNI(`*`)' },
          ports: [
            { port: 53, protocol: 'udp' },
            { port: 6432, protocol: 'tcp' },
          ],
        }),
      ],
      {},
      {
        ...emptyHttp,
        tcp: {
          routers: { pg: { rule: 'HostSNI(`*`)', service: 'pg' } },
          services: { pg: tcpLb('172.17.0.2:6432') },
          middlewares: {},
        },
      },
    ],
    [
      'http and tcp on one container: both are built, the http defaults too',
      [
        ctr({
          name: '/app',
          labels: {
            'traefik.http.routers.web.rule': 'Host(`app.example.com`)',
            'traefik.http.services.web.loadbalancer.server.port': '8080',
            'traefik.tcp.routers.admin.rule': 'HostSNI(`*`)',
            'traefik.tcp.routers.admin.entrypoints': 'admin',
            'traefik.tcp.services.admin.loadbalancer.server.port': '9000',
          },
        }),
      ],
      {},
      {
        http: {
          routers: { web: { rule: 'Host(`app.example.com`)', service: 'web' } },
          services: { web: { loadBalancer: { servers: [{ url: 'http://172.17.0.2:8080' }] } } },
          middlewares: {},
        },
        tcp: {
          routers: { admin: { entryPoints: ['admin'], rule: 'HostSNI(`*`)', service: 'admin' } },
          services: { admin: tcpLb('172.17.0.2:9000') },
          middlewares: {},
        },
      },
    ],
    [
      'ipv6-only container: the address is bracketed (net.JoinHostPort)',
      [
        ctr({
          labels: { 'traefik.tcp.routers.pg.rule': 'HostSNI(`*`)' },
          networks: [{ name: 'v6', ipv6Address: 'fd00::5' }],
        }),
      ],
      {},
      {
        ...emptyHttp,
        tcp: {
          routers: { pg: { rule: 'HostSNI(`*`)', service: 'pg' } },
          services: { pg: tcpLb('[fd00::5]:5432') },
          middlewares: {},
        },
      },
    ],
    [
      'replicas of one compose service share the service, servers merged',
      [
        ctr({
          id: 'a',
          name: '/proj-pg-1',
          labels: {
            'com.docker.compose.project': 'proj',
            'com.docker.compose.service': 'pg',
            'traefik.tcp.routers.pg.rule': 'HostSNI(`*`)',
          },
        }),
        ctr({
          id: 'b',
          name: '/proj-pg-2',
          labels: {
            'com.docker.compose.project': 'proj',
            'com.docker.compose.service': 'pg',
            'traefik.tcp.routers.pg.rule': 'HostSNI(`*`)',
          },
          networks: [{ name: 'bridge', ipAddress: '172.17.0.3' }],
        }),
      ],
      {},
      {
        ...emptyHttp,
        tcp: {
          routers: { pg: { rule: 'HostSNI(`*`)', service: 'pg-proj' } },
          services: { 'pg-proj': tcpLb('172.17.0.2:5432', '172.17.0.3:5432') },
          middlewares: {},
        },
      },
    ],
    [
      'a stopped container kept by allowNonRunning: its tcp service has no servers',
      [
        ctr({
          state: { status: 'exited' },
          labels: {
            'traefik.docker.allownonrunning': 'true',
            'traefik.tcp.routers.pg.rule': 'HostSNI(`*`)',
          },
        }),
      ],
      {},
      {
        ...emptyHttp,
        tcp: {
          routers: { pg: { rule: 'HostSNI(`*`)', service: 'pg' } },
          services: { pg: { loadBalancer: { servers: [] } } },
          middlewares: {},
        },
      },
    ],
  ])('%s', (_title, containers, opts, expected, diagnostics = []) => {
    const r = buildDockerConfig(containers, opts);
    expect(r.diagnostics).toEqual(diagnostics);
    expect(r.errors).toEqual([]);
    expect(r.config).toEqual(expected);
  });
});

describe('buildDockerConfig: a broken tcp/udp label takes down only its element', () => {
  it.each<Row>([
    [
      'a tcp router without a rule (Traefik: "Empty rule"); the other router stays',
      [
        ctr({
          labels: {
            'traefik.tcp.routers.bad.entrypoints': 'pg',
            'traefik.tcp.routers.ok.rule': 'HostSNI(`*`)',
          },
        }),
      ],
      {},
      {
        ...emptyHttp,
        tcp: {
          routers: { ok: { rule: 'HostSNI(`*`)', service: 'pg' } },
          services: { pg: tcpLb('172.17.0.2:5432') },
          middlewares: {},
        },
      },
      [
        d(
          'traefik.tcp.routers.bad.rule',
          '',
          'a tcp router needs a rule (HostSNI(`*`) for plain tcp); the router is left out',
        ),
      ],
    ],
    [
      'a router without service when there are two services',
      [
        ctr({
          labels: {
            'traefik.tcp.routers.r.rule': 'HostSNI(`*`)',
            'traefik.tcp.services.a.loadbalancer.server.port': '1',
            'traefik.tcp.services.b.loadbalancer.server.port': '2',
          },
        }),
      ],
      {},
      {
        ...emptyHttp,
        tcp: {
          routers: {},
          services: { a: tcpLb('172.17.0.2:1'), b: tcpLb('172.17.0.2:2') },
          middlewares: {},
        },
      },
      [
        d(
          'traefik.tcp.routers.r.service',
          '',
          'tcp router cannot be linked automatically: the container defines 2 tcp services (a, b); name one',
        ),
      ],
    ],
    [
      'a bad port label: that service is left out, the container still serves the rest',
      [
        ctr({
          labels: {
            'traefik.tcp.routers.r.rule': 'HostSNI(`*`)',
            'traefik.tcp.routers.r.service': 'pg',
            'traefik.tcp.services.pg.loadbalancer.server.port': 'five',
            'traefik.udp.routers.u.service': 'dns',
            'traefik.udp.services.dns.loadbalancer.server.port': '53',
          },
        }),
      ],
      {},
      {
        ...emptyHttp,
        tcp: {
          routers: { r: { rule: 'HostSNI(`*`)', service: 'pg' } },
          services: {},
          middlewares: {},
        },
        udp: { routers: { u: { service: 'dns' } }, services: { dns: udpLb('172.17.0.2:53') } },
      },
      [
        d(
          'traefik.tcp.services.pg.loadbalancer.server.port',
          'five',
          'expected an integer, got "five"',
        ),
      ],
    ],
    [
      'no exposed port and no port label (Traefik: "port is missing")',
      [ctr({ labels: { 'traefik.tcp.routers.r.rule': 'HostSNI(`*`)' }, ports: [] })],
      {},
      {
        ...emptyHttp,
        tcp: {
          routers: { r: { rule: 'HostSNI(`*`)', service: 'pg' } },
          services: {},
          middlewares: {},
        },
      },
      [
        d(
          'traefik.tcp.services.pg.loadbalancer.server.port',
          '',
          'port is missing: the container exposes no port; set this label',
        ),
      ],
    ],
  ])('%s', (_title, containers, opts, expected, diagnostics = []) => {
    const r = buildDockerConfig(containers, opts);
    expect(r.config).toEqual(expected);
    expect(r.diagnostics).toEqual(diagnostics);
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

  it('replicas that disagree on a tcp service are reported, the service left out', () => {
    const labels = (port: string) => ({
      'com.docker.compose.project': 'p',
      'com.docker.compose.service': 's',
      'traefik.tcp.routers.r.rule': 'HostSNI(`*`)',
      'traefik.tcp.services.s.loadbalancer.server.port': '5432',
      'traefik.tcp.services.s.loadbalancer.terminationdelay': port,
    });
    const r = buildDockerConfig([
      ctr({ id: 'a', name: '/a', labels: labels('100') }),
      ctr({ id: 'b', name: '/b', labels: labels('200') }),
    ]);
    expect(r.config.tcp?.services).toEqual({});
    expect(r.errors).toEqual([
      {
        kind: 'tcpService',
        name: 's@docker',
        message:
          'tcp service "s" is defined differently by containers "a" and "b"; it is left out until they agree',
      },
    ]);
  });
});

describe('buildDockerConfig: hostile names', () => {
  it('a __proto__ tcp/udp element is an ordinary name, never a prototype', () => {
    const r = buildDockerConfig([
      ctr({
        labels: {
          'traefik.tcp.routers.__proto__.rule': 'HostSNI(`*`)',
          'traefik.tcp.services.__proto__.loadbalancer.server.port': '5432',
          'traefik.udp.routers.__proto__.service': '__proto__',
          'traefik.udp.services.__proto__.loadbalancer.server.port': '53',
        },
      }),
    ]);
    expect(r.errors).toEqual([]);
    for (const section of [
      r.config.tcp!.routers!,
      r.config.tcp!.services!,
      r.config.udp!.routers!,
      r.config.udp!.services!,
    ]) {
      expect(Object.getPrototypeOf(section)).toBe(Object.prototype);
      expect(Object.keys(section)).toEqual(['__proto__']);
    }
    expect(r.config.tcp!.routers!['__proto__']).toEqual({
      rule: 'HostSNI(`*`)',
      service: '__proto__',
    });
  });
});
