import { describe, expect, it } from 'vitest';
import { middlewareTypes } from '../../middlewares/registry.js';
import { decodeLabels, type LabelHttp, type LabelIssue } from '../../src/config/labels.js';

const opts = { prefixes: ['portico', 'traefik'], providerKeys: ['enable', 'docker'] };

function http(parts: Partial<LabelHttp>): LabelHttp {
  return { routers: {}, services: {}, middlewares: {}, serversTransports: {}, ...parts };
}

const R = 'traefik.http.routers';
const S = 'traefik.http.services';
const M = 'traefik.http.middlewares';

describe('decodeLabels: grammar', () => {
  it.each<[string, Record<string, string>, LabelHttp]>([
    ['rule', { [`${R}.web.rule`]: 'Host(`a`)' }, http({ routers: { web: { rule: 'Host(`a`)' } } })],
    [
      'keys are case-insensitive and canonicalised',
      { [`${R}.web.RULE`]: 'Host(`a`)', [`${R}.web.EntryPoints`]: 'web' },
      http({ routers: { web: { rule: 'Host(`a`)', entryPoints: ['web'] } } }),
    ],
    [
      'ruleSyntax one-of canonicalised',
      { [`${R}.web.rulesyntax`]: 'V2' },
      http({ routers: { web: { ruleSyntax: 'v2' } } }),
    ],
    [
      'comma-separated lists trimmed',
      { [`${R}.web.entrypoints`]: 'web, websecure,,', [`${R}.web.middlewares`]: 'a@file,b' },
      http({
        routers: { web: { entryPoints: ['web', 'websecure'], middlewares: ['a@file', 'b'] } },
      }),
    ],
    [
      'priority is an int',
      { [`${R}.web.priority`]: '42' },
      http({ routers: { web: { priority: 42 } } }),
    ],
    [
      'tls=true is an empty block',
      { [`${R}.web.tls`]: 'true' },
      http({ routers: { web: { tls: {} } } }),
    ],
    ['tls=false is no block', { [`${R}.web.tls`]: 'false' }, http({ routers: { web: {} } })],
    [
      'tls fields with tls=true',
      {
        [`${R}.web.tls`]: 'true',
        [`${R}.web.tls.certresolver`]: 'le',
        [`${R}.web.tls.options`]: 'modern@file',
      },
      http({ routers: { web: { tls: { certResolver: 'le', options: 'modern@file' } } } }),
    ],
    [
      'tls.domains[n] ordered by index',
      {
        [`${R}.web.tls.domains[1].main`]: 'b.example',
        [`${R}.web.tls.domains[0].main`]: 'a.example',
        [`${R}.web.tls.domains[0].sans`]: 'x.a.example,y.a.example',
      },
      http({
        routers: {
          web: {
            tls: {
              domains: [
                { main: 'a.example', sans: ['x.a.example', 'y.a.example'] },
                { main: 'b.example' },
              ],
            },
          },
        },
      }),
    ],
    [
      'element names keep their first spelling and merge ignoring case',
      { [`${R}.MyApp.rule`]: 'Host(`a`)', [`${R}.myapp.service`]: 'svc' },
      http({ routers: { MyApp: { rule: 'Host(`a`)', service: 'svc' } } }),
    ],
    [
      'server port, scheme, weight',
      {
        [`${S}.s.loadbalancer.server.port`]: '8080',
        [`${S}.s.loadbalancer.server.scheme`]: 'https',
        [`${S}.s.loadbalancer.server.weight`]: '3',
      },
      http({
        services: { s: { loadBalancer: { server: { port: 8080, scheme: 'https', weight: 3 } } } },
      }),
    ],
    [
      'servers[n].url',
      { [`${S}.s.loadbalancer.servers[0].url`]: 'http://a:80' },
      http({ services: { s: { loadBalancer: { servers: [{ url: 'http://a:80' }] } } } }),
    ],
    [
      'passhostheader bool, Go spellings',
      { [`${S}.s.loadbalancer.passhostheader`]: 'F' },
      http({ services: { s: { loadBalancer: { passHostHeader: false } } } }),
    ],
    [
      'sticky.cookie=true',
      { [`${S}.s.loadbalancer.sticky.cookie`]: 'true' },
      http({ services: { s: { loadBalancer: { sticky: { cookie: {} } } } } }),
    ],
    [
      'sticky.cookie fields',
      {
        [`${S}.s.loadbalancer.sticky.cookie.name`]: 'sid',
        [`${S}.s.loadbalancer.sticky.cookie.httponly`]: 'true',
        [`${S}.s.loadbalancer.sticky.cookie.samesite`]: 'Lax',
        [`${S}.s.loadbalancer.sticky.cookie.maxage`]: '60',
      },
      http({
        services: {
          s: {
            loadBalancer: {
              sticky: { cookie: { name: 'sid', httpOnly: true, sameSite: 'lax', maxAge: 60 } },
            },
          },
        },
      }),
    ],
    [
      'healthcheck with headers map keeping case',
      {
        [`${S}.s.loadbalancer.healthcheck.path`]: '/health',
        [`${S}.s.loadbalancer.healthcheck.interval`]: '10s',
        [`${S}.s.loadbalancer.healthcheck.status`]: '204',
        [`${S}.s.loadbalancer.healthcheck.headers.X-Probe`]: 'yes',
        [`${S}.s.loadbalancer.healthcheck.followredirects`]: 'false',
      },
      http({
        services: {
          s: {
            loadBalancer: {
              healthCheck: {
                path: '/health',
                interval: '10s',
                status: 204,
                headers: { 'X-Probe': 'yes' },
                followRedirects: false,
              },
            },
          },
        },
      }),
    ],
    [
      'serverstransport and responseforwarding',
      {
        [`${S}.s.loadbalancer.serverstransport`]: 'insecure@file',
        [`${S}.s.loadbalancer.responseforwarding.flushinterval`]: '100ms',
      },
      http({
        services: {
          s: {
            loadBalancer: {
              serversTransport: 'insecure@file',
              responseForwarding: { flushInterval: '100ms' },
            },
          },
        },
      }),
    ],
    [
      'middleware type canonical from the registry, list option',
      { [`${M}.strip.StripPrefix.prefixes`]: '/api,/v1' },
      http({ middlewares: { strip: { stripPrefix: { prefixes: ['/api', '/v1'] } } } }),
    ],
    [
      'addprefix option canonical',
      { [`${M}.add.addprefix.PREFIX`]: '/x' },
      http({ middlewares: { add: { addPrefix: { prefix: '/x' } } } }),
    ],
    [
      'chain middlewares list',
      { [`${M}.c.chain.middlewares`]: 'a,b@file' },
      http({ middlewares: { c: { chain: { middlewares: ['a', 'b@file'] } } } }),
    ],
    [
      'portico prefix',
      { 'portico.http.routers.web.rule': 'Path(`/`)' },
      http({ routers: { web: { rule: 'Path(`/`)' } } }),
    ],
    [
      'both prefixes merge into one element',
      { 'portico.http.routers.web.rule': 'Path(`/`)', [`${R}.web.priority`]: '1' },
      http({ routers: { web: { rule: 'Path(`/`)', priority: 1 } } }),
    ],
    ['non-prefixed labels are ignored', { 'com.example.x': 'y' }, http({})],
  ])('%s', (_title, labels, expected) => {
    const r = decodeLabels(labels, opts);
    expect(r.issues.filter((i) => i.level === 'error')).toEqual([]);
    expect(r.http).toEqual(expected);
  });
});

describe('decodeLabels: middlewares of types the registry does not know yet', () => {
  it('keeps options typed from Traefik vocabulary and warns on the type', () => {
    const r = decodeLabels(
      {
        [`${M}.h.headers.customrequestheaders.X-Foo`]: 'bar',
        [`${M}.h.headers.stsseconds`]: '60',
      },
      opts,
    );
    expect(r.http.middlewares).toEqual({
      h: { headers: { customRequestHeaders: { 'X-Foo': 'bar' }, stsSeconds: 60 } },
    });
    // once the registry has `headers`, the warnings go away
    const expected = middlewareTypes().includes('headers')
      ? []
      : [
          [`${M}.h.headers.customrequestheaders.X-Foo`, 'warning'],
          [`${M}.h.headers.stsseconds`, 'warning'],
        ];
    expect(r.issues.map((i) => [i.key, i.level])).toEqual(expected);
  });

  it('keeps options lower-cased as written for a type unknown everywhere', () => {
    const r = decodeLabels({ [`${M}.x.Whatever.SomeOption`]: 'v' }, opts);
    expect(r.http.middlewares).toEqual({ x: { whatever: { someoption: 'v' } } });
  });

  it('enables a type with its defaults by =true', () => {
    const r = decodeLabels({ [`${M}.ct.contenttype`]: 'true' }, opts);
    expect(r.http.middlewares).toEqual({ ct: { contentType: {} } });
  });
});

describe('decodeLabels: provider keys, precedence, tcp/udp', () => {
  it('hands provider keys back', () => {
    const r = decodeLabels({ 'traefik.enable': 'true', 'traefik.docker.Network': 'proxy' }, opts);
    expect(r.extra).toEqual({
      enable: { key: 'traefik.enable', value: 'true' },
      'docker.network': { key: 'traefik.docker.Network', value: 'proxy' },
    });
    expect(r.issues).toEqual([]);
  });

  it('portico.* wins over traefik.* and the shadowed key is reported', () => {
    const r = decodeLabels(
      { 'portico.http.routers.web.rule': 'Path(`/p`)', [`${R}.web.rule`]: 'Path(`/t`)' },
      opts,
    );
    expect(r.http.routers).toEqual({ web: { rule: 'Path(`/p`)' } });
    expect(r.issues).toEqual([
      {
        key: `${R}.web.rule`,
        value: 'Path(`/t`)',
        message: 'ignored: "portico.http.routers.web.rule" takes precedence',
        level: 'warning',
      },
    ]);
  });
});

type IssueRow = [string, Record<string, string>, Omit<LabelIssue, 'element'>[], string[]];

describe('decodeLabels: bad keys are reported with key, value and reason', () => {
  it.each<IssueRow>([
    [
      'unknown router field with a hint',
      { [`${R}.web.rul`]: 'Host(`a`)', [`${R}.ok.rule`]: 'Host(`b`)' },
      [
        {
          key: `${R}.web.rul`,
          value: 'Host(`a`)',
          message: 'unknown field "rul", did you mean "rule"?',
          level: 'error',
        },
      ],
      ['ok'],
    ],
    [
      'priority not an int',
      { [`${R}.web.priority`]: 'high' },
      [
        {
          key: `${R}.web.priority`,
          value: 'high',
          message: 'expected an integer, got "high"',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'bad boolean',
      { [`${S}.s.loadbalancer.passhostheader`]: 'yes' },
      [
        {
          key: `${S}.s.loadbalancer.passhostheader`,
          value: 'yes',
          message: 'expected a boolean (true or false), got "yes"',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'bad duration',
      { [`${S}.s.loadbalancer.healthcheck.interval`]: '10 parsecs' },
      [
        {
          key: `${S}.s.loadbalancer.healthcheck.interval`,
          value: '10 parsecs',
          message: 'invalid duration "10 parsecs", expected e.g. "500ms", "10s" or "1m30s"',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'port out of range',
      { [`${S}.s.loadbalancer.server.port`]: '70000' },
      [
        {
          key: `${S}.s.loadbalancer.server.port`,
          value: '70000',
          message: 'must be at most 65535, got 70000',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'samesite not one of',
      { [`${S}.s.loadbalancer.sticky.cookie.samesite`]: 'sometimes' },
      [
        {
          key: `${S}.s.loadbalancer.sticky.cookie.samesite`,
          value: 'sometimes',
          message: 'invalid value "sometimes", expected one of: none, lax, strict',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'value on a block',
      { [`${S}.s.loadbalancer`]: 'true' },
      [
        {
          key: `${S}.s.loadbalancer`,
          value: 'true',
          message: '"s.loadBalancer" takes sub-keys, not a value',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'sub-key on a value',
      { [`${R}.web.rule.host`]: 'x' },
      [
        {
          key: `${R}.web.rule.host`,
          value: 'x',
          message: '"web.rule" is a value and takes no sub-keys',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'list of structs without an index',
      { [`${R}.web.tls.domains.main`]: 'a' },
      [
        {
          key: `${R}.web.tls.domains.main`,
          value: 'a',
          message:
            '"web.tls.domains" is a list: write web.tls.domains[0].main, not web.tls.domains.main',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'same key twice with different values',
      { [`${R}.web.rule`]: 'Path(`/a`)', [`${R}.web.Rule`]: 'Path(`/b`)' },
      [
        {
          key: `${R}.web.Rule`,
          value: 'Path(`/b`)',
          message: '"web.rule" given 2 times with different values; keys are case-insensitive',
          level: 'error',
        },
        {
          key: `${R}.web.rule`,
          value: 'Path(`/a`)',
          message: '"web.rule" given 2 times with different values; keys are case-insensitive',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'unknown section',
      { 'traefik.http.router.web.rule': 'x' },
      [
        {
          key: 'traefik.http.router.web.rule',
          value: 'x',
          message: 'unknown section "http.router", did you mean "http.routers"?',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'unknown root',
      { 'traefik.htp.routers.web.rule': 'x' },
      [
        {
          key: 'traefik.htp.routers.web.rule',
          value: 'x',
          message: 'unknown label "htp", did you mean "http"?',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'tcp keys decode into tcp, not http (issue 13)',
      { 'traefik.tcp.routers.db.rule': 'HostSNI(`*`)' },
      [],
      [],
    ],
    [
      'udp keys decode into udp, not http (issue 13)',
      { 'traefik.udp.services.dns.loadbalancer.server.port': '53' },
      [],
      [],
    ],
    [
      'middleware with two types',
      { [`${M}.m.addprefix.prefix`]: '/a', [`${M}.m.stripprefix.prefixes`]: '/b' },
      [
        {
          key: `${M}.m.addprefix.prefix`,
          value: '/a',
          message: 'middleware "m" must have exactly one type, found: addprefix, stripprefix',
          level: 'error',
        },
        {
          key: `${M}.m.stripprefix.prefixes`,
          value: '/b',
          message: 'middleware "m" must have exactly one type, found: addprefix, stripprefix',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'unknown option of a known type',
      { [`${M}.m.stripprefix.prefixs`]: '/b' },
      [
        {
          key: `${M}.m.stripprefix.prefixs`,
          value: '/b',
          message: 'unknown field "prefixs", did you mean "prefixes"?',
          level: 'error',
        },
      ],
      [],
    ],
    [
      'malformed index',
      { [`${R}.web.tls.domains[x].main`]: 'a' },
      [
        {
          key: `${R}.web.tls.domains[x].main`,
          value: 'a',
          message: 'malformed key: empty segment or bad [n] index',
          level: 'error',
        },
      ],
      [],
    ],
  ])('%s', (_title, labels, expected, keptRouters) => {
    const r = decodeLabels(labels, opts);
    expect(r.issues.map(({ element: _e, ...rest }) => rest)).toEqual(expected);
    expect(Object.keys(r.http.routers)).toEqual(keptRouters);
  });

  it('names the element each bad key belongs to, and lists it as declared', () => {
    const r = decodeLabels({ [`${R}.web.priority`]: 'x' }, opts);
    expect(r.issues[0]!.element).toEqual({ kind: 'router', name: 'web' });
    expect(r.declared.router).toEqual(['web']);
    expect(r.http.routers).toEqual({});
  });

  it('refuses servers transports when the caller says so', () => {
    const r = decodeLabels(
      { 'traefik.http.serverstransports.t.servername': 'x' },
      { ...opts, serversTransports: false },
    );
    expect(r.http.serversTransports).toEqual({});
    expect(r.issues[0]!.message).toMatch(/cannot be defined with labels/);
  });

  it('decodes servers transports otherwise (annotations)', () => {
    const r = decodeLabels(
      {
        'traefik.http.serverstransports.t.insecureskipverify': 'true',
        'traefik.http.serverstransports.t.forwardingtimeouts.dialtimeout': '5s',
      },
      opts,
    );
    expect(r.http.serversTransports).toEqual({
      t: { insecureSkipVerify: true, forwardingTimeouts: { dialTimeout: '5s' } },
    });
  });
});
