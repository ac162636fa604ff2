import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { parseDuration, suggest, validateDynamic } from '../../src/config/validate.js';

type Section = 'routers' | 'services' | 'middlewares' | 'serversTransports';

interface Row {
  name: string;
  section: Section;
  def: unknown;
  /** expected error; none means the element is valid */
  field?: string;
  message?: RegExp;
  /** the normalised element, when it differs from `def` */
  expected?: unknown;
}

const KIND = {
  routers: 'router',
  services: 'service',
  middlewares: 'middleware',
  serversTransports: 'serversTransport',
} as const;

const r = (extra: Record<string, unknown> = {}) => ({
  rule: 'Host(`a`)',
  service: 'svc',
  ...extra,
});
const lb = (extra: Record<string, unknown> = {}) => ({
  loadBalancer: { servers: [{ url: 'http://10.0.0.1:8080' }], ...extra },
});
const hc = (extra: Record<string, unknown>) => lb({ healthCheck: { path: '/health', ...extra } });

const rows: Row[] = [
  // routers
  { name: 'minimal router', section: 'routers', def: r() },
  {
    name: 'full router',
    section: 'routers',
    def: r({
      entryPoints: ['web'],
      middlewares: ['auth@file'],
      priority: 10,
      ruleSyntax: 'v3',
      tls: {
        certResolver: 'le',
        options: 'modern',
        domains: [{ main: 'a.com', sans: ['*.a.com'] }],
      },
    }),
  },
  {
    name: 'router without rule',
    section: 'routers',
    def: { service: 'svc' },
    field: 'rule',
    message: /^missing required field "rule"$/,
  },
  {
    name: 'router without service',
    section: 'routers',
    def: { rule: 'Path(`/`)' },
    field: 'service',
    message: /missing required field "service"/,
  },
  {
    name: 'numeric rule',
    section: 'routers',
    def: r({ rule: 42 }),
    field: 'rule',
    message: /^expected a string, got number$/,
  },
  {
    name: 'entryPoints not a list',
    section: 'routers',
    def: r({ entryPoints: 80 }),
    field: 'entryPoints',
    message: /expected a list of strings/,
  },
  {
    name: 'entryPoints with a number',
    section: 'routers',
    def: r({ entryPoints: ['web', 443] }),
    field: 'entryPoints[1]',
    message: /expected a string, got number/,
  },
  {
    name: 'middlewares as a mapping',
    section: 'routers',
    def: r({ middlewares: { a: 1 } }),
    field: 'middlewares',
    message: /expected a list of strings, got object/,
  },
  {
    name: 'comma-separated entryPoints (traefik reads scalars as lists)',
    section: 'routers',
    def: r({ entryPoints: 'web, websecure' }),
    expected: r({ entryPoints: ['web', 'websecure'] }),
  },
  {
    name: 'fractional priority',
    section: 'routers',
    def: r({ priority: 1.5 }),
    field: 'priority',
    message: /expected an integer/,
  },
  {
    name: 'priority as text',
    section: 'routers',
    def: r({ priority: '10' }),
    expected: r({ priority: 10 }),
  },
  {
    name: 'misspelled field',
    section: 'routers',
    def: r({ rulee: 'x' }),
    field: 'rulee',
    message: /^unknown field "rulee", did you mean "rule"\?$/,
  },
  {
    name: 'unknown field without hint',
    section: 'routers',
    def: r({ colour: 'blue' }),
    field: 'colour',
    message: /^unknown field "colour"$/,
  },
  { name: 'tls: {} turns tls on', section: 'routers', def: r({ tls: {} }) },
  {
    name: 'tls: null turns tls on',
    section: 'routers',
    def: r({ tls: null }),
    expected: r({ tls: {} }),
  },
  {
    name: 'tls sans not a list',
    section: 'routers',
    def: r({ tls: { domains: [{ main: 'a', sans: 5 }] } }),
    field: 'tls.domains[0].sans',
    message: /list of strings/,
  },
  {
    name: 'field names matched ignoring case',
    section: 'routers',
    def: { Rule: 'Path(`/`)', SERVICE: 'svc', EntryPoints: ['web'] },
    expected: { rule: 'Path(`/`)', service: 'svc', entryPoints: ['web'] },
  },
  {
    name: 'same field in two spellings',
    section: 'routers',
    def: { rule: 'a', Rule: 'b', service: 's' },
    field: 'rule',
    message: /given twice/,
  },
  {
    name: 'bad ruleSyntax',
    section: 'routers',
    def: r({ ruleSyntax: 'v4' }),
    field: 'ruleSyntax',
    message: /expected one of: v2, v3/,
  },
  {
    name: 'router that is not a mapping',
    section: 'routers',
    def: 'Host(`a`)',
    message: /^a router must be a mapping, got string$/,
  },

  // services
  {
    name: 'load balancer',
    section: 'services',
    def: lb({ passHostHeader: false, serversTransport: 'tr' }),
  },
  { name: 'empty load balancer', section: 'services', def: { loadBalancer: {} } },
  {
    name: 'service without type',
    section: 'services',
    def: {},
    message:
      /^a service must have exactly one of loadBalancer, weighted, mirroring, failover, found none$/,
  },
  {
    name: 'service with two types',
    section: 'services',
    def: { ...lb(), weighted: { services: [{ name: 'a' }] } },
    message: /found: loadBalancer, weighted$/,
  },
  {
    name: 'misspelled service type',
    section: 'services',
    def: { loadBalancr: {} },
    field: 'loadBalancr',
    message: /did you mean "loadBalancer"/,
  },
  {
    name: 'null load balancer',
    section: 'services',
    def: { loadBalancer: null },
    field: 'loadBalancer',
    message: /must not be empty/,
  },
  {
    name: 'server url not absolute',
    section: 'services',
    def: { loadBalancer: { servers: [{ url: 'http://a' }, { url: 'not a url' }] } },
    field: 'loadBalancer.servers[1].url',
    message: /invalid url "not a url"/,
  },
  {
    name: 'server url with another scheme',
    section: 'services',
    def: { loadBalancer: { servers: [{ url: 'ftp://a' }] } },
    field: 'loadBalancer.servers[0].url',
    message: /scheme must be http, https or h2c/,
  },
  {
    name: 'h2c server url',
    section: 'services',
    def: { loadBalancer: { servers: [{ url: 'h2c://grpc:50051' }] } },
  },
  {
    name: 'https server with path',
    section: 'services',
    def: { loadBalancer: { servers: [{ url: 'https://a/base', preservePath: true }] } },
  },
  {
    name: 'server without url',
    section: 'services',
    def: { loadBalancer: { servers: [{ weight: 1 }] } },
    field: 'loadBalancer.servers[0].url',
    message: /missing required field "url"/,
  },
  {
    name: 'negative weight',
    section: 'services',
    def: { loadBalancer: { servers: [{ url: 'http://a', weight: -1 }] } },
    field: 'loadBalancer.servers[0].weight',
    message: /must not be negative/,
  },
  {
    name: 'fractional weight',
    section: 'services',
    def: { loadBalancer: { servers: [{ url: 'http://a', weight: 0.5 }] } },
    field: 'loadBalancer.servers[0].weight',
    message: /integer/,
  },
  {
    name: 'servers not a list',
    section: 'services',
    def: { loadBalancer: { servers: { url: 'http://a' } } },
    field: 'loadBalancer.servers',
    message: /expected a list/,
  },
  { name: 'strategy', section: 'services', def: lb({ strategy: 'p2c' }) },
  {
    name: 'unknown strategy',
    section: 'services',
    def: lb({ strategy: 'random' }),
    field: 'loadBalancer.strategy',
    message: /expected one of: wrr, p2c, hrw, leasttime/,
  },
  {
    name: 'sticky cookie',
    section: 'services',
    def: lb({
      sticky: {
        cookie: {
          name: 'c',
          secure: true,
          httpOnly: true,
          sameSite: 'strict',
          maxAge: 60,
          path: '/',
          domain: 'a.com',
        },
      },
    }),
  },
  { name: 'sticky cookie with defaults', section: 'services', def: lb({ sticky: { cookie: {} } }) },
  {
    name: 'sameSite case-insensitive',
    section: 'services',
    def: lb({ sticky: { cookie: { sameSite: 'Lax' } } }),
    expected: lb({ sticky: { cookie: { sameSite: 'lax' } } }),
  },
  {
    name: 'bad sameSite',
    section: 'services',
    def: lb({ sticky: { cookie: { sameSite: 'sideways' } } }),
    field: 'loadBalancer.sticky.cookie.sameSite',
    message: /expected one of: none, lax, strict$/,
  },
  {
    name: 'cookie secure not a boolean',
    section: 'services',
    def: lb({ sticky: { cookie: { secure: 'yes' } } }),
    field: 'loadBalancer.sticky.cookie.secure',
    message: /expected a boolean/,
  },
  {
    name: 'boolean given as text',
    section: 'services',
    def: lb({ passHostHeader: 'false' }),
    expected: lb({ passHostHeader: false }),
  },
  {
    name: 'health check',
    section: 'services',
    def: hc({
      interval: '10s',
      timeout: '1m30s',
      unhealthyInterval: 5,
      status: 204,
      port: 8081,
      mode: 'grpc',
      headers: { 'X-Probe': '1' },
      followRedirects: false,
    }),
  },
  {
    name: 'health check path without slash',
    section: 'services',
    def: hc({ path: 'health' }),
    field: 'loadBalancer.healthCheck.path',
    message: /must start with '\/'/,
  },
  {
    name: 'health check without path',
    section: 'services',
    def: lb({ healthCheck: { interval: '5s' } }),
    field: 'loadBalancer.healthCheck.path',
    message: /missing required field "path"/,
  },
  {
    name: 'health check interval in words',
    section: 'services',
    def: hc({ interval: '10 seconds' }),
    field: 'loadBalancer.healthCheck.interval',
    message: /invalid duration "10 seconds"/,
  },
  {
    name: 'negative health check timeout',
    section: 'services',
    def: hc({ timeout: '-1s' }),
    field: 'loadBalancer.healthCheck.timeout',
    message: /must not be negative/,
  },
  {
    name: 'health check status out of range',
    section: 'services',
    def: hc({ status: 700 }),
    field: 'loadBalancer.healthCheck.status',
    message: /at most 599/,
  },
  {
    name: 'health check unknown mode',
    section: 'services',
    def: hc({ mode: 'tcp' }),
    field: 'loadBalancer.healthCheck.mode',
    message: /expected one of: http, grpc/,
  },
  {
    name: 'passive health check',
    section: 'services',
    def: lb({ passiveHealthCheck: { failureWindow: '10s', maxFailedAttempts: 3 } }),
  },
  {
    name: 'passive health check zero attempts',
    section: 'services',
    def: lb({ passiveHealthCheck: { maxFailedAttempts: 0 } }),
    field: 'loadBalancer.passiveHealthCheck.maxFailedAttempts',
    message: /at least 1/,
  },
  {
    name: 'passive health check bad window',
    section: 'services',
    def: lb({ passiveHealthCheck: { failureWindow: 'abc' } }),
    field: 'loadBalancer.passiveHealthCheck.failureWindow',
    message: /invalid duration/,
  },
  {
    name: 'weighted',
    section: 'services',
    def: {
      weighted: {
        services: [
          { name: 'a', weight: 3 },
          { name: 'b', weight: 1 },
        ],
        healthCheck: {},
      },
    },
  },
  {
    name: 'weighted entry without name',
    section: 'services',
    def: { weighted: { services: [{ weight: 1 }] } },
    field: 'weighted.services[0].name',
    message: /missing required field "name"/,
  },
  {
    name: 'weighted without services',
    section: 'services',
    def: { weighted: { services: [] } },
    field: 'weighted.services',
    message: /must not be empty/,
  },
  {
    name: 'weighted health check with options',
    section: 'services',
    def: { weighted: { services: [{ name: 'a' }], healthCheck: { path: '/' } } },
    field: 'weighted.healthCheck.path',
    message: /unknown field "path"/,
  },
  {
    name: 'mirroring',
    section: 'services',
    def: {
      mirroring: {
        service: 'main',
        mirrors: [{ name: 'shadow', percent: 10 }],
        mirrorBody: false,
        maxBodySize: 1024,
      },
    },
  },
  {
    name: 'mirror percent over 100',
    section: 'services',
    def: { mirroring: { service: 'main', mirrors: [{ name: 'shadow', percent: 150 }] } },
    field: 'mirroring.mirrors[0].percent',
    message: /at most 100/,
  },
  {
    name: 'mirroring without service',
    section: 'services',
    def: { mirroring: { mirrors: [] } },
    field: 'mirroring.service',
    message: /missing required field "service"/,
  },
  {
    name: 'failover',
    section: 'services',
    def: { failover: { service: 'main', fallback: 'backup', healthCheck: {} } },
  },
  {
    name: 'failover without fallback',
    section: 'services',
    def: { failover: { service: 'main' } },
    field: 'failover.fallback',
    message: /missing required field "fallback"/,
  },

  // middlewares
  { name: 'stripPrefix', section: 'middlewares', def: { stripPrefix: { prefixes: ['/api'] } } },
  {
    name: 'middleware with two types',
    section: 'middlewares',
    def: { stripPrefix: { prefixes: ['/a'] }, headers: {} },
    message: /^a middleware must have exactly one type, found: stripPrefix, headers$/,
  },
  {
    name: 'middleware without type',
    section: 'middlewares',
    def: {},
    message: /^a middleware must have exactly one type, found none$/,
  },
  {
    name: 'middleware options not a mapping',
    section: 'middlewares',
    def: { stripPrefix: '/api' },
    field: 'stripPrefix',
    message: /options must be a mapping/,
  },
  {
    name: 'middleware type spelled differently',
    section: 'middlewares',
    def: { StripPrefix: { prefixes: ['/a'] } },
    expected: { stripPrefix: { prefixes: ['/a'] } },
  },
  {
    name: 'middleware without options',
    section: 'middlewares',
    def: { contentType: null },
    expected: { contentType: {} },
  },

  // servers transports
  {
    name: 'servers transport',
    section: 'serversTransports',
    def: {
      serverName: 'b',
      insecureSkipVerify: true,
      rootCAs: ['/ca.pem'],
      maxIdleConnsPerHost: 7,
      forwardingTimeouts: { dialTimeout: '1s', idleConnTimeout: 1 },
    },
  },
  {
    name: 'insecureSkipVerify not a boolean',
    section: 'serversTransports',
    def: { insecureSkipVerify: 'maybe' },
    field: 'insecureSkipVerify',
    message: /expected a boolean/,
  },
  {
    name: 'dial timeout not a duration',
    section: 'serversTransports',
    def: { forwardingTimeouts: { dialTimeout: 'soon' } },
    field: 'forwardingTimeouts.dialTimeout',
    message: /invalid duration "soon"/,
  },
  {
    name: 'rootCAs not a list',
    section: 'serversTransports',
    def: { rootCAs: 7 },
    field: 'rootCAs',
    message: /expected a list of strings/,
  },
];

describe('validateDynamic elements', () => {
  it('has plenty of cases', () => {
    expect(rows.length).toBeGreaterThanOrEqual(40);
  });

  it.each(rows)('$section: $name', ({ section, def, field, message, expected }) => {
    const config = { http: { [section]: { x: def } } } as DynamicConfig;
    const result = validateDynamic(config, 'file');
    const kept = (result.config.http as Record<string, Record<string, unknown>>)[section]!;
    if (message === undefined) {
      expect(result.errors).toEqual([]);
      expect(kept.x).toEqual(expected ?? def);
    } else {
      expect(kept.x).toBeUndefined();
      const error = result.errors.find((e) => message.test(e.message));
      expect(error, JSON.stringify(result.errors)).toBeDefined();
      expect(error).toMatchObject({ kind: KIND[section], name: 'x@file' });
      expect(error!.field).toBe(field);
    }
  });
});

describe('validateDynamic', () => {
  it('keeps valid elements next to broken ones', () => {
    const result = validateDynamic({
      http: {
        routers: { good: { rule: 'Path(`/`)', service: 's' }, bad: { rule: 1 } as never },
        services: { s: { loadBalancer: { servers: [{ url: 'http://a' }] } } },
      },
    });
    expect(Object.keys(result.config.http!.routers!)).toEqual(['good']);
    expect(result.config.http!.services).toHaveProperty('s');
    expect(result.errors.map((e) => e.name)).toEqual(['bad', 'bad']);
  });

  it('leaves already qualified names alone', () => {
    const result = validateDynamic(
      { http: { routers: { 'api@docker': { rule: 'x' } as never } } },
      'file',
    );
    expect(result.errors[0]!.name).toBe('api@docker');
  });

  it('normalises section and root names', () => {
    const result = validateDynamic({
      HTTP: { Routers: { a: { rule: 'x', service: 's' } } },
    } as unknown as DynamicConfig);
    expect(result.errors).toEqual([]);
    expect(result.config).toEqual({ http: { routers: { a: { rule: 'x', service: 's' } } } });
  });

  it('reports unknown sections with a hint', () => {
    const result = validateDynamic({ http: { routes: {} } } as unknown as DynamicConfig, 'file');
    expect(result.errors).toEqual([
      {
        kind: 'provider',
        name: 'file',
        field: 'http.routes',
        message: 'unknown field "routes", did you mean "routers"?',
      },
    ]);
  });

  it('ignores x- root keys that only hold yaml anchors, reports other unknown roots', () => {
    const result = validateDynamic({ 'x-base': { a: 1 }, htpp: {} } as unknown as DynamicConfig);
    expect(result.config).toEqual({});
    expect(result.errors).toEqual([
      {
        kind: 'provider',
        name: 'config',
        field: 'htpp',
        message: 'unknown field "htpp", did you mean "http"?',
      },
    ]);
  });

  it('validates tcp and udp sections instead of dropping them (issue 13)', () => {
    const tcp = { routers: { a: { rule: 'HostSNI(`*`)', service: 's' } } };
    const udp = { routers: { b: { service: 's' } } };
    const result = validateDynamic({ tcp, udp } as DynamicConfig, 'file');
    expect(result.errors).toEqual([]);
    expect(result.config).toEqual({ tcp, udp });
  });

  it('checks tls certificates one by one', () => {
    const result = validateDynamic(
      {
        tls: {
          certificates: [
            { certFile: '/a.crt', keyFile: '/a.key' },
            { certFile: '/b.crt' } as never,
          ],
          options: { modern: { minVersion: 'VersionTLS13', sniStrict: true } },
        },
      },
      'file',
    );
    expect(result.config.tls).toEqual({
      certificates: [{ certFile: '/a.crt', keyFile: '/a.key' }],
      options: { modern: { minVersion: 'VersionTLS13', sniStrict: true } },
    });
    expect(result.errors).toEqual([
      {
        kind: 'tls',
        name: 'tls@file',
        field: 'certificates[1].keyFile',
        message: 'missing required field "keyFile"',
      },
    ]);
  });

  it.each([
    null,
    42,
    'text',
    [],
    { http: 5 },
    { http: { routers: [] } },
    { tls: { certificates: {} } },
  ])('never throws on %j', (value) => {
    expect(() => validateDynamic(value as never)).not.toThrow();
    expect(validateDynamic(value as never).errors.length).toBeGreaterThan(0);
  });

  it('does not let a __proto__ key reach the prototype', () => {
    const config = JSON.parse('{"http":{"routers":{"__proto__":{"rule":"x","service":"s"}}}}');
    const result = validateDynamic(config);
    expect(Object.getPrototypeOf(result.config.http!.routers)).toBe(Object.prototype);
    expect(Object.keys(result.config.http!.routers!)).toEqual(['__proto__']);
  });
});

describe('helpers', () => {
  it.each([
    ['10s', 10],
    ['1m30s', 90],
    ['1.5h', 5400],
    ['300ms', 0.3],
    ['-1s', -1],
    ['0', 0],
    ['15', 15],
    [2.5, 2.5],
    ['10 s', undefined],
    ['s', undefined],
    ['', undefined],
  ] as const)('parseDuration(%j) = %j', (input, seconds) => {
    const got = parseDuration(input);
    if (seconds === undefined) expect(got).toBeUndefined();
    else expect(got).toBeCloseTo(seconds);
  });

  it.each([
    ['entrypoints', ['entryPoints', 'middlewares'], 'entryPoints'],
    ['midlewares', ['entryPoints', 'middlewares'], 'middlewares'],
    ['xyz', ['entryPoints', 'middlewares'], undefined],
  ] as const)('suggest(%s)', (input, candidates, hint) => {
    expect(suggest(input, candidates)).toBe(hint);
  });
});
