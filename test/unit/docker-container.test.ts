/*
 * The Docker provider's pieces on their own: one container's contribution
 * (providers/docker/container.ts) and the merge of contributions
 * (providers/docker/merge.ts). buildDockerConfig's golden configs are in
 * docker-build.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { ElementError } from '../../src/config/dynamic.js';
import { buildContainer, type BuildContext } from '../../providers/docker/container.js';
import { merge, type Contribution } from '../../providers/docker/merge.js';
import { compileRuleTemplate, type ContainerInfo } from '../../providers/docker/build.js';

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

function ctx(containers: ContainerInfo[], over: Partial<BuildContext> = {}): BuildContext {
  return {
    containers,
    opts: {},
    prefixes: ['portico', 'traefik'],
    exposedByDefault: true,
    template: compileRuleTemplate('Host(`{{ normalize .Name }}`)'),
    templateError: undefined,
    constraints: undefined,
    ...over,
  };
}

describe('buildContainer', () => {
  it('gives the default router and service, with the container as the server', () => {
    const c = ctr();
    const r = buildContainer(c, ctx([c]));
    expect(r.diagnostics).toEqual([]);
    expect(r.contribution).toEqual({
      container: 'whoami',
      routers: { whoami: { rule: 'Host(`whoami`)', service: 'whoami' } },
      services: { whoami: { loadBalancer: { servers: [{ url: 'http://172.17.0.2:80' }] } } },
      middlewares: {},
    });
  });

  it('says nothing about the labels of a stopped container it leaves out', () => {
    const c = ctr({
      state: { status: 'exited' },
      labels: { 'traefik.docker.bogus': 'x' },
    });
    expect(buildContainer(c, ctx([c]))).toEqual({ diagnostics: [] });
  });

  it('reports a bad enable label and leaves the container out', () => {
    const c = ctr({ labels: { 'traefik.enable': 'yes please' } });
    const r = buildContainer(c, ctx([c]));
    expect(r.contribution).toBeUndefined();
    expect(r.diagnostics).toMatchObject([
      { container: 'whoami', key: 'traefik.enable', level: 'error' },
    ]);
  });

  it('leaves out only the router when the default rule cannot be used', () => {
    const c = ctr();
    const r = buildContainer(c, ctx([c], { template: undefined, templateError: 'boom' }));
    expect(r.contribution?.routers).toEqual({});
    expect(Object.keys(r.contribution?.services ?? {})).toEqual(['whoami']);
    expect(r.diagnostics).toMatchObject([
      {
        key: 'portico.http.routers.whoami.rule',
        message: 'no rule, and the default rule cannot be used: boom',
      },
    ]);
  });

  it('follows a container: network mode to the container it shares', () => {
    const target = ctr({
      id: 'abc123',
      name: '/vpn',
      networks: [{ name: 'n', ipAddress: '10.0.0.9' }],
    });
    const c = ctr({ id: 'c2', name: '/app', networkMode: 'container:vpn', networks: [] });
    const r = buildContainer(c, ctx([target, c]));
    expect(r.contribution?.services['app']).toEqual({
      loadBalancer: { servers: [{ url: 'http://10.0.0.9:80' }] },
    });
  });
});

describe('merge', () => {
  const svc = (url: string) => ({ loadBalancer: { servers: [{ url }] } });
  const part = (container: string, url: string, extra: object = {}): Contribution => ({
    container,
    routers: { web: { rule: 'Host(`a`)', service: 'web' } },
    services: { web: { ...svc(url), ...extra } as Contribution['services'][string] },
    middlewares: {},
  });

  it('keeps replicas as one service with the union of their servers', () => {
    const errors: ElementError[] = [];
    const config = merge(
      [part('a-1', 'http://10.0.0.1:80'), part('a-2', 'http://10.0.0.2:80')],
      errors,
    );
    expect(errors).toEqual([]);
    expect(config.http?.services?.['web']).toEqual({
      loadBalancer: { servers: [{ url: 'http://10.0.0.1:80' }, { url: 'http://10.0.0.2:80' }] },
    });
    expect(Object.keys(config.http?.routers ?? {})).toEqual(['web']);
  });

  it('leaves out an element the containers define differently, naming them', () => {
    const errors: ElementError[] = [];
    const b = part('b', 'http://10.0.0.2:80');
    b.services['web']!.loadBalancer!.passHostHeader = false;
    const config = merge([part('a', 'http://10.0.0.1:80'), b], errors);
    expect(config.http?.services).toEqual({});
    expect(errors).toEqual([
      {
        kind: 'service',
        name: 'web@docker',
        message:
          'service "web" is defined differently by containers "a" and "b"; it is left out until they agree',
      },
    ]);
  });
});

describe('server addresses (one rule for HTTP, TCP and UDP servers)', () => {
  const labels = {
    http: { 'traefik.http.services.s.loadbalancer.server.port': '8080' },
    tcp: {
      'traefik.tcp.routers.r.rule': 'HostSNI(`*`)',
      'traefik.tcp.services.s.loadbalancer.server.port': '8080',
    },
    udp: {
      'traefik.udp.routers.r.entrypoints': 'dns',
      'traefik.udp.services.s.loadbalancer.server.port': '8080',
    },
  };
  const servers = (r: ReturnType<typeof buildContainer>, proto: 'http' | 'tcp' | 'udp') => {
    const c = r.contribution as unknown as Record<string, Record<string, unknown>> | undefined;
    const services = (proto === 'http' ? c?.services : c?.[proto]?.services) as
      Record<string, { loadBalancer?: { servers?: unknown[] } }> | undefined;
    return services?.s?.loadBalancer?.servers;
  };

  it.each(['http', 'tcp', 'udp'] as const)('%s: an IPv6 address is bracketed', (proto) => {
    const c = ctr({ labels: labels[proto], networks: [{ name: 'v6', ipv6Address: 'fd00::2' }] });
    const r = buildContainer(c, ctx([c]));
    expect(r.diagnostics).toEqual([]);
    expect(servers(r, proto)).toEqual([
      proto === 'http' ? { url: 'http://[fd00::2]:8080' } : { address: '[fd00::2]:8080' },
    ]);
  });

  it.each(['http', 'tcp', 'udp'] as const)(
    '%s: no address on any network leaves the server out with an error naming the port label',
    (proto) => {
      const c = ctr({ labels: labels[proto], networks: [] });
      const r = buildContainer(c, ctx([c]));
      expect(r.diagnostics).toMatchObject([
        {
          key: `traefik.${proto}.services.s.loadbalancer.server.port`,
          value: '8080',
          message: 'no IP address found for the container on any network; the server is left out',
          level: 'error',
        },
      ]);
    },
  );

  it.each([
    ['http', 'port is missing: the container exposes no TCP port; set this label'],
    ['tcp', 'port is missing: the container exposes no port; set this label'],
    ['udp', 'port is missing: the container exposes no port; set this label'],
  ] as const)('%s: no port at all is an error on the port label', (proto, message) => {
    // no service label: the container's own service, on the port picked from none exposed
    const routerOnly = Object.fromEntries(
      Object.entries(labels[proto]).filter(([k]) => !k.includes('.services.')),
    );
    const c = ctr({ labels: routerOnly, ports: [] });
    const r = buildContainer(c, ctx([c]));
    expect(r.diagnostics).toMatchObject([
      {
        // the prefix the container's labels use; portico when it has none
        key: `${proto === 'http' ? 'portico' : 'traefik'}.${proto}.services.whoami.loadbalancer.server.port`,
        value: '',
        message,
      },
    ]);
  });
});
