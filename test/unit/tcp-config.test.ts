/*
 * The `tcp` section of the dynamic configuration (Traefik v3's
 * pkg/config/dynamic/tcp_config.go, tcp_middlewares.go): validated element by
 * element like `http`, each error naming the element, the field and the
 * reason, a broken element never taking the others down; then qualified
 * `name@provider` and merged by the aggregator.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseDynamicText } from '../../providers/file/index.js';
import type { DynamicConfig, TcpConfig } from '../../src/config/dynamic.js';
import { mergeSnapshots } from '../../src/config/aggregate.js';
import { validateDynamic } from '../../src/config/validate.js';
import { tcpDeprecations } from '../../src/config/schema/tcp.js';

type Section = 'routers' | 'services' | 'middlewares' | 'serversTransports';

const KIND = {
  routers: 'tcpRouter',
  services: 'tcpService',
  middlewares: 'tcpMiddleware',
  serversTransports: 'tcpServersTransport',
} as const;

interface Row {
  name: string;
  section: Section;
  def: unknown;
  field?: string;
  message?: RegExp;
  expected?: unknown;
}

const r = (extra: Record<string, unknown> = {}) => ({
  rule: 'HostSNI(`*`)',
  service: 'db',
  ...extra,
});
const lb = (extra: Record<string, unknown> = {}) => ({
  loadBalancer: { servers: [{ address: '10.0.0.1:5432' }], ...extra },
});

const rows: Row[] = [
  // routers: what Traefik's docs start with
  { name: 'plain tcp catch-all', section: 'routers', def: r({ entryPoints: ['postgres'] }) },
  {
    name: 'tls passthrough by sni',
    section: 'routers',
    def: r({ rule: 'HostSNI(`db.example.com`)', tls: { passthrough: true } }),
  },
  {
    name: 'full router',
    section: 'routers',
    def: r({
      entryPoints: ['websecure'],
      middlewares: ['allow@file'],
      priority: -5,
      ruleSyntax: 'v3',
      tls: {
        passthrough: false,
        certResolver: 'le',
        options: 'modern',
        domains: [{ main: 'db.example.com', sans: ['*.db.example.com'] }],
      },
    }),
  },
  // `tls: {}` and `tls: true` turn TLS termination on with the defaults (allowEmpty in Traefik)
  { name: 'tls: {}', section: 'routers', def: r({ tls: {} }) },
  { name: 'tls: null', section: 'routers', def: r({ tls: null }), expected: r({ tls: {} }) },
  {
    name: 'case-insensitive fields',
    section: 'routers',
    def: { Rule: 'HostSNI(`*`)', SERVICE: 'db', entrypoints: 'a, b', TLS: { PassThrough: 'true' } },
    expected: r({ entryPoints: ['a', 'b'], tls: { passthrough: true } }),
  },
  {
    name: 'router without rule (traefik: "router has no rule")',
    section: 'routers',
    def: { service: 'db' },
    field: 'rule',
    message: /^missing required field "rule"$/,
  },
  {
    name: 'router without service',
    section: 'routers',
    def: { rule: 'HostSNI(`*`)' },
    field: 'service',
    message: /^missing required field "service"$/,
  },
  {
    name: 'passthrough not a boolean',
    section: 'routers',
    def: r({ tls: { passthrough: 'yes' } }),
    field: 'tls.passthrough',
    message: /^expected a boolean, got string$/,
  },
  {
    name: 'http-only field on a tcp router',
    section: 'routers',
    def: r({ observability: { accessLogs: false } }),
    field: 'observability',
    message: /^unknown field "observability"/,
  },
  {
    name: 'misspelled field',
    section: 'routers',
    def: r({ servise: 'x' }),
    field: 'servise',
    message: /did you mean "service"\?/,
  },
  {
    name: 'router not a mapping',
    section: 'routers',
    def: 'HostSNI(`*`)',
    field: '',
    message: /^a tcp router must be a mapping, got string$/,
  },

  // services
  { name: 'load balancer', section: 'services', def: lb() },
  {
    name: 'load balancer with tls servers, transport and health check',
    section: 'services',
    def: {
      loadBalancer: {
        servers: [{ address: 'db-1:5432', tls: true }, { address: '[::1]:5432' }],
        serversTransport: 'pg',
        healthCheck: { interval: '10s', timeout: '3s', send: 'PING', expect: 'PONG', port: 9000 },
      },
    },
  },
  {
    name: 'deprecated proxyProtocol and terminationDelay still accepted',
    section: 'services',
    def: lb({ proxyProtocol: {}, terminationDelay: 200 }),
  },
  {
    name: 'proxyProtocol: true',
    section: 'services',
    def: lb({ proxyProtocol: true }),
    expected: lb({ proxyProtocol: {} }),
  },
  {
    name: 'proxyProtocol version 3',
    section: 'services',
    def: lb({ proxyProtocol: { version: 3 } }),
    field: 'loadBalancer.proxyProtocol.version',
    message: /^must be at most 2, got 3$/,
  },
  {
    name: 'weighted',
    section: 'services',
    def: { weighted: { services: [{ name: 'a', weight: 3 }, { name: 'b@file' }] } },
  },
  {
    name: 'weighted with no services',
    section: 'services',
    def: { weighted: { services: [] } },
    field: 'weighted.services',
    message: /^must not be empty$/,
  },
  {
    name: 'server without address',
    section: 'services',
    def: { loadBalancer: { servers: [{ tls: true }] } },
    field: 'loadBalancer.servers[0].address',
    message: /^missing required field "address"$/,
  },
  {
    name: 'server with an http url instead of an address',
    section: 'services',
    def: { loadBalancer: { servers: [{ url: 'http://10.0.0.1:80' }] } },
    field: 'loadBalancer.servers[0].url',
    message: /^unknown field "url"/,
  },
  {
    name: 'address without port',
    section: 'services',
    def: { loadBalancer: { servers: [{ address: '10.0.0.1:5432' }, { address: 'db' }] } },
    field: 'loadBalancer.servers[1].address',
    message: /^invalid address "db": missing port \(expected host:port, \[ipv6\]:port\)$/,
  },
  {
    name: 'unbracketed ipv6 address',
    section: 'services',
    def: { loadBalancer: { servers: [{ address: '::1:5432' }] } },
    field: 'loadBalancer.servers[0].address',
    message: /^invalid address "::1:5432": too many colons/,
  },
  {
    name: 'port out of range',
    section: 'services',
    def: { loadBalancer: { servers: [{ address: 'db:70000' }] } },
    field: 'loadBalancer.servers[0].address',
    message: /^invalid address "db:70000": port must be a number from 1 to 65535$/,
  },
  {
    name: 'two service types',
    section: 'services',
    def: { ...lb(), weighted: { services: [{ name: 'a' }] } },
    field: '',
    message:
      /^a tcp service must have exactly one of loadBalancer, weighted, found: loadBalancer, weighted$/,
  },
  {
    name: 'http service type on a tcp service',
    section: 'services',
    def: { mirroring: { service: 'a' } },
    field: 'mirroring',
    message: /^unknown field "mirroring"/,
  },

  // middlewares
  {
    name: 'ipAllowList',
    section: 'middlewares',
    def: { ipAllowList: { sourceRange: ['10.0.0.0/8', '::1'] } },
  },
  {
    name: 'ipAllowList, case-insensitive, comma list',
    section: 'middlewares',
    def: { IPAllowList: { SourceRange: '10.0.0.0/8, 127.0.0.1' } },
    expected: { ipAllowList: { sourceRange: ['10.0.0.0/8', '127.0.0.1'] } },
  },
  {
    name: 'deprecated ipWhiteList',
    section: 'middlewares',
    def: { ipWhiteList: { sourceRange: ['10.0.0.0/8'] } },
  },
  { name: 'inFlightConn', section: 'middlewares', def: { inFlightConn: { amount: 10 } } },
  {
    name: 'bad cidr names its index',
    section: 'middlewares',
    def: { ipAllowList: { sourceRange: ['10.0.0.0/8', '10.0.0.0/99'] } },
    field: 'ipAllowList.sourceRange[1]',
    message: /^"10\.0\.0\.0\/99" has an invalid prefix length$/,
  },
  {
    name: 'empty sourceRange (traefik: "sourceRange is empty")',
    section: 'middlewares',
    def: { ipAllowList: { sourceRange: [] } },
    field: 'ipAllowList.sourceRange',
    message: /^must not be empty$/,
  },
  {
    name: 'inFlightConn without amount',
    section: 'middlewares',
    def: { inFlightConn: {} },
    field: 'inFlightConn.amount',
    message: /^missing required field "amount"$/,
  },
  {
    name: 'negative amount',
    section: 'middlewares',
    def: { inFlightConn: { amount: -1 } },
    field: 'inFlightConn.amount',
    message: /^must not be negative, got -1$/,
  },
  {
    name: 'http middleware type on a tcp middleware',
    section: 'middlewares',
    def: { stripPrefix: { prefixes: ['/a'] } },
    field: 'stripPrefix',
    message:
      /^unknown tcp middleware type "stripPrefix" \(tcp middlewares: ipAllowList, ipWhiteList, inFlightConn\)$/,
  },
  {
    name: 'two types',
    section: 'middlewares',
    def: { ipAllowList: { sourceRange: ['::1'] }, inFlightConn: { amount: 1 } },
    field: '',
    message: /^a tcp middleware must have exactly one type, found: ipAllowList, inFlightConn$/,
  },

  // servers transports
  {
    name: 'full servers transport',
    section: 'serversTransports',
    def: {
      dialTimeout: '5s',
      dialKeepAlive: '-1s',
      terminationDelay: '200ms',
      proxyProtocol: { version: 1 },
      tls: {
        serverName: 'db.internal',
        insecureSkipVerify: true,
        rootCAs: ['/ca.pem'],
        certificates: [{ certFile: '/c.pem', keyFile: '/k.pem' }],
        peerCertURI: 'spiffe://x',
        spiffe: { ids: ['spiffe://x/y'], trustDomain: 'spiffe://x' },
      },
    },
  },
  {
    name: 'tls: true on a transport',
    section: 'serversTransports',
    def: { tls: true },
    expected: { tls: {} },
  },
  {
    name: 'bad dialTimeout',
    section: 'serversTransports',
    def: { dialTimeout: 'soon' },
    field: 'dialTimeout',
    message: /^invalid duration "soon"/,
  },
];

describe('validateDynamic: tcp elements', () => {
  it.each(rows)('$section: $name', ({ section, def, field, message, expected }) => {
    // the `ok` element sits next to the one under test, so a broken one must not take it down
    const ok: Record<Section, unknown> = {
      routers: r(),
      services: lb(),
      middlewares: { inFlightConn: { amount: 1 } },
      serversTransports: { dialTimeout: '1s' },
    };
    const config = { tcp: { [section]: { el: def, ok: ok[section] } } };
    const result = validateDynamic(config as unknown as DynamicConfig, 'file');
    const elements = (result.config.tcp as Record<string, Record<string, unknown>>)[section]!;
    expect(elements.ok).toBeDefined();
    if (message === undefined) {
      expect(result.errors).toEqual([]);
      expect(elements.el).toEqual(expected ?? def);
    } else {
      // every error is about the element under test, the first one says why
      expect(result.errors.length).toBeGreaterThan(0);
      for (const e of result.errors)
        expect(e).toMatchObject({ kind: KIND[section], name: 'el@file' });
      expect(result.errors[0]!.field ?? '').toBe(field);
      expect(result.errors[0]!.message).toMatch(message);
      expect(elements.el).toBeUndefined();
    }
  });

  it('accepts the section names in any case and reports unknown ones', () => {
    const result = validateDynamic(
      { TCP: { Routers: { a: r() }, rooters: {} } } as unknown as DynamicConfig,
      'file',
    );
    expect(result.config.tcp?.routers).toEqual({ a: r() });
    expect(result.errors).toEqual([
      {
        kind: 'provider',
        name: 'file',
        field: 'tcp.rooters',
        message: 'unknown field "rooters", did you mean "routers"?',
      },
    ]);
  });

  it('a tcp router and an http router may share a name', () => {
    const result = validateDynamic(
      {
        http: { routers: { db: { rule: 'Host(`a`)', service: 's' } } },
        tcp: { routers: { db: { service: 'db' } } },
      } as unknown as DynamicConfig,
      'file',
    );
    expect(result.config.http?.routers?.db).toBeDefined();
    expect(result.errors).toEqual([
      {
        kind: 'tcpRouter',
        name: 'db@file',
        field: 'rule',
        message: 'missing required field "rule"',
      },
    ]);
  });
});

describe('tcpDeprecations', () => {
  it('warns about the fields Traefik v3 deprecated, and nothing else', () => {
    expect(tcpDeprecations('service', lb({ proxyProtocol: {}, terminationDelay: 100 }))).toEqual([
      {
        field: 'loadBalancer.proxyProtocol',
        message:
          'deprecated (as in Traefik v3): set proxyProtocol on a tcp serversTransport and name it in loadBalancer.serversTransport',
      },
      {
        field: 'loadBalancer.terminationDelay',
        message:
          'deprecated (as in Traefik v3): set terminationDelay on a tcp serversTransport and name it in loadBalancer.serversTransport',
      },
    ]);
    expect(tcpDeprecations('middleware', { ipWhiteList: { sourceRange: ['::1'] } })).toEqual([
      { field: 'ipWhiteList', message: 'deprecated (as in Traefik v3): use ipAllowList' },
    ]);
    expect(tcpDeprecations('service', lb())).toEqual([]);
    expect(tcpDeprecations('middleware', { ipAllowList: { sourceRange: ['::1'] } })).toEqual([]);
  });
});

describe('mergeSnapshots: tcp', () => {
  it('qualifies names and references with the provider, as for http', () => {
    const tcp: TcpConfig = {
      routers: {
        db: {
          rule: 'HostSNI(`db.example.com`)',
          service: 'db',
          middlewares: ['allow', 'limit@docker'],
          tls: { options: 'modern' },
        },
        other: { rule: 'HostSNI(`*`)', service: 'split', tls: { options: 'default' } },
      },
      services: {
        db: { loadBalancer: { servers: [{ address: '10.0.0.1:5432' }], serversTransport: 'pg' } },
        split: { weighted: { services: [{ name: 'db', weight: 1 }, { name: 'x@docker' }] } },
      },
      middlewares: { allow: { ipAllowList: { sourceRange: ['10.0.0.0/8'] } } },
      serversTransports: { pg: { dialTimeout: '5s' } },
    };
    const merged = mergeSnapshots([{ provider: 'file', config: { tcp }, errors: [] }]);
    expect(merged.errors).toEqual([]);
    expect(merged.config.tcp).toEqual({
      routers: {
        'db@file': {
          rule: 'HostSNI(`db.example.com`)',
          service: 'db@file',
          middlewares: ['allow@file', 'limit@docker'],
          tls: { options: 'modern@file' },
        },
        'other@file': { rule: 'HostSNI(`*`)', service: 'split@file', tls: { options: 'default' } },
      },
      services: {
        'db@file': {
          loadBalancer: { servers: [{ address: '10.0.0.1:5432' }], serversTransport: 'pg@file' },
        },
        'split@file': {
          weighted: { services: [{ name: 'db@file', weight: 1 }, { name: 'x@docker' }] },
        },
      },
      middlewares: { 'allow@file': { ipAllowList: { sourceRange: ['10.0.0.0/8'] } } },
      serversTransports: { 'pg@file': { dialTimeout: '5s' } },
    });
  });

  it('merges several providers, reports broken elements, keeps the rest', () => {
    const merged = mergeSnapshots([
      {
        provider: 'file',
        config: { tcp: { routers: { a: { rule: 'HostSNI(`*`)', service: 's' } } } },
        errors: [],
      },
      {
        provider: 'docker',
        config: {
          tcp: {
            routers: {
              b: { rule: 'HostSNI(`*`)', service: 's' },
              broken: { rule: 'HostSNI(`*`)', service: 's', priority: 'high' },
            },
          },
        } as unknown as DynamicConfig,
        errors: [],
      },
    ]);
    expect(Object.keys(merged.config.tcp?.routers ?? {}).sort()).toEqual(['a@file', 'b@docker']);
    expect(merged.errors).toEqual([
      {
        kind: 'tcpRouter',
        name: 'broken@docker',
        field: 'priority',
        message: 'expected an integer, got string',
      },
    ]);
  });

  it('leaves tcp out of the merged configuration when no provider has any', () => {
    const merged = mergeSnapshots([{ provider: 'file', config: {}, errors: [] }]);
    expect(merged.config.tcp).toBeUndefined();
  });
});

describe("Traefik's dynamic-configuration reference", () => {
  it('every tcp and udp field of the published reference is known (values are placeholders)', () => {
    const text = readFileSync(
      fileURLToPath(new URL('../fixtures/tcp/traefik-reference.yaml', import.meta.url)),
      'utf8',
    );
    const parsed = parseDynamicText('traefik-reference.yaml', text);
    expect(parsed.errors).toEqual([]);
    const result = validateDynamic(parsed.config, 'file');
    // the placeholders ("foobar" as an address, proxyProtocol version 42) are refused, field names never
    expect(result.errors.filter((e) => /unknown field/.test(e.message))).toEqual([]);
    expect(result.errors.map((e) => `${e.kind} ${e.name} ${e.field}`).sort()).toEqual([
      'tcpMiddleware TCPMiddleware01@file ipAllowList.sourceRange[0]',
      'tcpMiddleware TCPMiddleware01@file ipAllowList.sourceRange[1]',
      'tcpMiddleware TCPMiddleware02@file ipWhiteList.sourceRange[0]',
      'tcpMiddleware TCPMiddleware02@file ipWhiteList.sourceRange[1]',
      'tcpRouter TCPRouter0@file ruleSyntax',
      'tcpRouter TCPRouter1@file ruleSyntax',
      'tcpServersTransport TCPServersTransport0@file proxyProtocol.version',
      'tcpServersTransport TCPServersTransport1@file proxyProtocol.version',
      'tcpService TCPService01@file loadBalancer.proxyProtocol.version',
      'tcpService TCPService01@file loadBalancer.servers[0].address',
      'tcpService TCPService01@file loadBalancer.servers[1].address',
      'udpService UDPService01@file loadBalancer.servers[0].address',
      'udpService UDPService01@file loadBalancer.servers[1].address',
    ]);
    // what is valid is kept: the weighted services, inFlightConn, the udp routers
    expect(Object.keys(result.config.tcp?.services ?? {})).toEqual(['TCPService02']);
    expect(Object.keys(result.config.tcp?.middlewares ?? {})).toEqual(['TCPMiddleware03']);
    expect(Object.keys(result.config.udp?.routers ?? {})).toEqual(['UDPRouter0', 'UDPRouter1']);
  });
});
