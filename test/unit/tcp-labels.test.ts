/*
 * `traefik.tcp.*` and `traefik.udp.*` labels decoded as Traefik's label
 * parser does (pkg/config/label, paerser): case-insensitive keys, comma
 * lists, `tls=true` blocks, one `server` per container (its port and tls,
 * never an address), no weighted services and no servers transports; every
 * bad key reported with its element, only that element left out.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { decodeLabels, type LabelIssue } from '../../src/config/labels.js';

const opts = { prefixes: ['portico', 'traefik'], providerKeys: ['enable', 'docker'] };
const T = 'traefik.tcp';
const U = 'traefik.udp';

describe('decodeLabels: tcp', () => {
  it('the labels of Traefik docs: a plain TCP router and its service port', () => {
    const r = decodeLabels(
      {
        [`${T}.routers.pg.rule`]: 'HostSNI(`*`)',
        [`${T}.routers.pg.entrypoints`]: 'postgres',
        [`${T}.services.pg.loadbalancer.server.port`]: '5432',
      },
      opts,
    );
    expect(r.issues).toEqual([]);
    expect(r.tcp).toEqual({
      routers: { pg: { rule: 'HostSNI(`*`)', entryPoints: ['postgres'] } },
      services: { pg: { loadBalancer: { server: { port: 5432 } } } },
      middlewares: {},
    });
    expect(r.declared.tcpRouter).toEqual(['pg']);
    expect(r.declared.tcpService).toEqual(['pg']);
    // nothing leaks into http
    expect(r.http.routers).toEqual({});
    expect(r.declared.router).toEqual([]);
  });

  it('tls passthrough, tls=true, certresolver, domains, options, priority, middlewares', () => {
    const r = decodeLabels(
      {
        [`${T}.routers.a.rule`]: 'HostSNI(`a.example.com`)',
        [`${T}.routers.a.tls.passthrough`]: 'true',
        [`${T}.routers.b.rule`]: 'HostSNI(`b.example.com`)',
        [`${T}.routers.b.tls`]: 'true',
        [`${T}.routers.b.tls.certresolver`]: 'le',
        [`${T}.routers.b.tls.domains[0].main`]: 'example.com',
        [`${T}.routers.b.tls.domains[0].sans`]: '*.example.com, b.example.com',
        [`${T}.routers.b.tls.options`]: 'modern@file',
        [`${T}.routers.b.priority`]: '42',
        [`${T}.routers.b.middlewares`]: 'allow, limit@file',
        [`${T}.routers.c.rule`]: 'HostSNI(`c`)',
        [`${T}.routers.c.tls`]: 'true',
      },
      opts,
    );
    expect(r.issues).toEqual([]);
    expect(r.tcp.routers).toEqual({
      a: { rule: 'HostSNI(`a.example.com`)', tls: { passthrough: true } },
      b: {
        rule: 'HostSNI(`b.example.com`)',
        priority: 42,
        middlewares: ['allow', 'limit@file'],
        tls: {
          certResolver: 'le',
          domains: [{ main: 'example.com', sans: ['*.example.com', 'b.example.com'] }],
          options: 'modern@file',
        },
      },
      c: { rule: 'HostSNI(`c`)', tls: {} },
    });
  });

  it('keys are case-insensitive, names keep their first spelling', () => {
    const r = decodeLabels(
      {
        'traefik.TCP.Routers.DB.Rule': 'HostSNI(`*`)',
        'traefik.tcp.routers.db.EntryPoints': 'pg',
        'traefik.tcp.SERVICES.db.LoadBalancer.Server.Port': '5432',
        'traefik.tcp.services.db.loadbalancer.server.TLS': 'true',
      },
      opts,
    );
    expect(r.issues).toEqual([]);
    expect(r.tcp.routers).toEqual({ DB: { rule: 'HostSNI(`*`)', entryPoints: ['pg'] } });
    expect(r.tcp.services).toEqual({
      db: { loadBalancer: { server: { port: 5432, tls: true } } },
    });
  });

  it('load balancer options: transport, health check, deprecated proxy protocol (a warning)', () => {
    const r = decodeLabels(
      {
        [`${T}.services.s.loadbalancer.server.port`]: '25',
        [`${T}.services.s.loadbalancer.serverstransport`]: 'smtp@file',
        [`${T}.services.s.loadbalancer.proxyprotocol.version`]: '1',
        [`${T}.services.s.loadbalancer.terminationdelay`]: '200',
        [`${T}.services.s.loadbalancer.healthcheck.interval`]: '5s',
      },
      opts,
    );
    expect(r.tcp.services).toEqual({
      s: {
        loadBalancer: {
          server: { port: 25 },
          serversTransport: 'smtp@file',
          proxyProtocol: { version: 1 },
          terminationDelay: 200,
          healthCheck: { interval: '5s' },
        },
      },
    });
    expect(r.issues.map((i) => [i.key, i.level, i.message])).toEqual([
      [
        `${T}.services.s.loadbalancer.proxyprotocol.version`,
        'warning',
        'deprecated (as in Traefik v3): set proxyProtocol on a tcp serversTransport and name it in loadBalancer.serversTransport',
      ],
      [
        `${T}.services.s.loadbalancer.terminationdelay`,
        'warning',
        'deprecated (as in Traefik v3): set terminationDelay on a tcp serversTransport and name it in loadBalancer.serversTransport',
      ],
    ]);
  });

  it('middlewares: ipallowlist, inflightconn, deprecated ipwhitelist', () => {
    const r = decodeLabels(
      {
        [`${T}.middlewares.allow.ipallowlist.sourcerange`]: '10.0.0.0/8, 127.0.0.1',
        [`${T}.middlewares.limit.inflightconn.amount`]: '10',
        [`${T}.middlewares.old.ipwhitelist.sourcerange`]: '::1',
      },
      opts,
    );
    expect(r.tcp.middlewares).toEqual({
      allow: { ipAllowList: { sourceRange: ['10.0.0.0/8', '127.0.0.1'] } },
      limit: { inFlightConn: { amount: 10 } },
      old: { ipWhiteList: { sourceRange: ['::1'] } },
    });
    expect(r.issues).toMatchObject([
      {
        key: `${T}.middlewares.old.ipwhitelist.sourcerange`,
        level: 'warning',
        message: 'deprecated (as in Traefik v3): use ipAllowList',
      },
    ]);
  });
});

describe('decodeLabels: udp', () => {
  it('a udp router and its service port', () => {
    const r = decodeLabels(
      {
        [`${U}.routers.dns.entrypoints`]: 'dns',
        [`${U}.services.dns.loadbalancer.server.port`]: '53',
      },
      opts,
    );
    expect(r.issues).toEqual([]);
    expect(r.udp).toEqual({
      routers: { dns: { entryPoints: ['dns'] } },
      services: { dns: { loadBalancer: { server: { port: 53 } } } },
    });
    expect(r.declared.udpRouter).toEqual(['dns']);
    expect(r.declared.udpService).toEqual(['dns']);
  });
});

type IssueRow = [string, Record<string, string>, Omit<LabelIssue, 'element'>[], string[]];

describe('decodeLabels: bad tcp/udp keys name the key, the value and the reason', () => {
  it.each<IssueRow>([
    [
      'misspelled router field; the other router still decodes',
      { [`${T}.routers.bad.rul`]: 'HostSNI(`*`)', [`${T}.routers.ok.rule`]: 'HostSNI(`*`)' },
      [
        {
          key: `${T}.routers.bad.rul`,
          value: 'HostSNI(`*`)',
          message: 'unknown field "rul", did you mean "rule"?',
          level: 'error',
        },
      ],
      ['ok'],
    ],
    [
      'passthrough not a boolean',
      { [`${T}.routers.bad.tls.passthrough`]: 'yes' },
      [
        {
          key: `${T}.routers.bad.tls.passthrough`,
          value: 'yes',
          message: 'expected a boolean (true or false), got "yes"',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'port out of range',
      { [`${T}.services.bad.loadbalancer.server.port`]: '70000' },
      [
        {
          key: `${T}.services.bad.loadbalancer.server.port`,
          value: '70000',
          message: 'must be at most 65535, got 70000',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'an address label (Traefik has none: the container is the server)',
      { [`${T}.services.bad.loadbalancer.server.address`]: '10.0.0.1:5432' },
      [
        {
          key: `${T}.services.bad.loadbalancer.server.address`,
          value: '10.0.0.1:5432',
          message:
            "the address is the container's; set loadbalancer.server.port (Traefik has no address label)",
          level: 'error',
        },
      ],
      [],
    ],
    [
      'weighted tcp service',
      { [`${T}.services.bad.weighted.services[0].name`]: 'a' },
      [
        {
          key: `${T}.services.bad.weighted.services[0].name`,
          value: 'a',
          message:
            'weighted tcp services cannot be defined with labels (as in Traefik); use a file',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'http middleware type on tcp',
      { [`${T}.middlewares.bad.stripprefix.prefixes`]: '/a' },
      [
        {
          key: `${T}.middlewares.bad.stripprefix.prefixes`,
          value: '/a',
          message:
            'unknown tcp middleware type "stripprefix" (tcp middlewares: ipAllowList, ipWhiteList, inFlightConn)',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'tcp servers transport',
      { [`${T}.serverstransports.st.dialtimeout`]: '5s' },
      [
        {
          key: `${T}.serverstransports.st.dialtimeout`,
          value: '5s',
          message:
            'tcp servers transports cannot be defined with labels; define it in a file and reference it as name@file',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'unknown tcp section',
      { [`${T}.router.r.rule`]: 'HostSNI(`*`)' },
      [
        {
          key: `${T}.router.r.rule`,
          value: 'HostSNI(`*`)',
          message: 'unknown section "tcp.router", did you mean "tcp.routers"?',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'udp has no middlewares',
      { [`${U}.middlewares.m.ipallowlist.sourcerange`]: '::1' },
      [
        {
          key: `${U}.middlewares.m.ipallowlist.sourcerange`,
          value: '::1',
          message: 'unknown section "udp.middlewares" (udp labels: udp.routers, udp.services)',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'udp router rule (udp routers have none)',
      { [`${U}.routers.bad.rule`]: 'HostSNI(`*`)' },
      [
        {
          key: `${U}.routers.bad.rule`,
          value: 'HostSNI(`*`)',
          message: 'unknown field "rule"',
          level: 'error',
        },
      ],
      [],
    ],
  ])('%s', (_name, labels, issues, tcpRoutersLeft) => {
    const r = decodeLabels(labels, opts);
    expect(r.issues.map(({ element: _e, ...rest }) => rest)).toEqual(issues);
    expect(Object.keys(r.tcp.routers)).toEqual(tcpRoutersLeft);
    expect(r.tcp.services).toEqual({});
    expect(r.udp.routers).toEqual({});
  });

  it('issues carry their element, with its protocol in the kind', () => {
    const r = decodeLabels({ [`${T}.routers.bad.priority`]: 'high' }, opts);
    expect(r.issues[0]!.element).toEqual({ kind: 'tcpRouter', name: 'bad' });
    expect(r.declared.tcpRouter).toEqual(['bad']);
  });
});

describe("Traefik's label reference", () => {
  it('every traefik.tcp.* and traefik.udp.* key of the published reference is known', () => {
    const text = readFileSync(
      fileURLToPath(new URL('../fixtures/tcp/traefik-labels.yml', import.meta.url)),
      'utf8',
    );
    const labels: Record<string, string> = {};
    for (const line of parseYaml(text) as string[]) {
      const eq = line.indexOf('=');
      labels[line.slice(0, eq)] = line.slice(eq + 1);
    }
    expect(Object.keys(labels).length).toBeGreaterThan(40);
    const r = decodeLabels(labels, opts);
    // placeholders are refused ("foobar" as a port or a ruleSyntax), keys never
    expect(r.issues.filter((i) => /unknown|cannot be defined/.test(i.message))).toEqual([]);
    expect(r.declared.tcpRouter).toEqual(['tcprouter0', 'tcprouter1']);
    expect(r.declared.udpRouter).toEqual(['udprouter0', 'udprouter1']);
    expect(r.tcp.middlewares).toEqual({
      tcpmiddleware01: { ipAllowList: { sourceRange: ['foobar', 'foobar'] } },
      tcpmiddleware02: { ipWhiteList: { sourceRange: ['foobar', 'foobar'] } },
      tcpmiddleware03: { inFlightConn: { amount: 42 } },
    });
    expect(r.udp.routers).toEqual({
      udprouter0: { entryPoints: ['foobar', 'foobar'], service: 'foobar' },
      udprouter1: { entryPoints: ['foobar', 'foobar'], service: 'foobar' },
    });
  });
});
