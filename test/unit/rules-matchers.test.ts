/*
 * Matcher semantics, checked against Traefik v3 behaviour: each matcher positive and negative,
 * boolean composition, ClientIP over IPv4/IPv6/CIDR, wildcard hosts, RE2 syntax in rules, the host
 * index (ruleHosts) and default priority.
 */

import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { RuleSyntaxError } from '../../src/kernel/errors.js';
import {
  buildRule,
  compileRule,
  parseRule,
  ruleHosts,
  rulePriority,
  type MatchContext,
} from '../../src/rules/index.js';

interface RequestShape {
  host?: string;
  path?: string;
  method?: string;
  headers?: IncomingHttpHeaders;
  clientIp?: string;
  query?: string;
}

function ctx(req: RequestShape = {}): MatchContext {
  let parsed: URLSearchParams | undefined;
  return {
    host: req.host ?? 'example.com',
    path: req.path ?? '/',
    method: req.method ?? 'GET',
    headers: req.headers ?? {},
    clientIp: req.clientIp ?? '192.0.2.1',
    query: () => (parsed ??= new URLSearchParams(req.query ?? '')),
  };
}

function matches(rule: string, req: RequestShape): boolean {
  return compileRule(parseRule(rule))(ctx(req));
}

describe('single matchers', () => {
  it.each<[string, RequestShape, boolean]>([
    ['Host(`example.com`)', { host: 'example.com' }, true],
    ['Host(`Example.COM`)', { host: 'example.com' }, true],
    ['Host(`example.com.`)', { host: 'example.com' }, true],
    ['Host(`example.com`)', { host: 'www.example.com' }, false],
    ['Host(`example.com`)', { host: '' }, false],
    ['Host(`*`)', { host: 'anything.test' }, true],
    ['Host(`*`)', { host: '' }, true],
    ['Host(`*.example.com`)', { host: 'api.example.com' }, true],
    ['Host(`*.Example.com.`)', { host: 'api.example.com' }, true],
    ['Host(`*.example.com`)', { host: 'example.com' }, false],
    ['Host(`*.example.com`)', { host: 'a.b.example.com' }, false],
    ['Host(`*.example.com`)', { host: '.example.com' }, false],
    ['Host(`*.example.com`)', { host: 'apiexample.com' }, false],
    ['Host(`*.example.com`)', { host: 'api.example.org' }, false],
    ['HostRegexp(`^[a-z]+\\.example\\.com$`)', { host: 'api.example.com' }, true],
    ['HostRegexp(`^[a-z]+\\.example\\.com$`)', { host: 'api2.example.com' }, false],
    ['HostRegexp(`example`)', { host: 'www.example.org' }, true],
    ['HostRegexp(`(?i)^EXAMPLE\\.com$`)', { host: 'example.com' }, true],
    ['HostRegexp(`^(?P<sub>[a-z]+)\\.example\\.com$`)', { host: 'app.example.com' }, true],
    ['Path(`/products`)', { path: '/products' }, true],
    ['Path(`/products`)', { path: '/products/' }, false],
    ['Path(`/products`)', { path: '/Products' }, false],
    ['PathPrefix(`/products`)', { path: '/products-for-sale' }, true],
    ['PathPrefix(`/products/`)', { path: '/products/1' }, true],
    ['PathPrefix(`/products/`)', { path: '/products' }, false],
    ['PathPrefix(`/`)', { path: '/' }, true],
    ['PathPrefix(`/foo bar`)', { path: '/foo bar/x' }, true],
    ['PathRegexp(`^/products/(shoes|socks)/[0-9]+$`)', { path: '/products/shoes/12' }, true],
    ['PathRegexp(`^/products/(shoes|socks)/[0-9]+$`)', { path: '/products/hats/12' }, false],
    ['PathRegexp(`\\.css$`)', { path: '/static/site.css' }, true],
    ['PathRegexp(`^/api\\z`)', { path: '/api' }, true],
    ['PathRegexp(`^/api\\z`)', { path: '/api/' }, false],
    ['PathRegexp(`^/[[:digit:]]+$`)', { path: '/123' }, true],
    ['PathRegexp(`^/[[:digit:]]+$`)', { path: '/12a' }, false],
    ['Method(`GET`)', { method: 'GET' }, true],
    ['Method(`get`)', { method: 'GET' }, true],
    ['Method(`POST`)', { method: 'GET' }, false],
    [
      'Header(`Content-Type`, `application/json`)',
      { headers: { 'content-type': 'application/json' } },
      true,
    ],
    [
      'Header(`content-type`, `application/json`)',
      { headers: { 'content-type': 'application/json' } },
      true,
    ],
    [
      'Header(`Content-Type`, `application/json`)',
      { headers: { 'content-type': 'text/html' } },
      false,
    ],
    ['Header(`Content-Type`, `application/json`)', { headers: {} }, false],
    [
      'Header(`Content-Type`, `application/JSON`)',
      { headers: { 'content-type': 'application/json' } },
      false,
    ],
    ['Header(`Set-Cookie`, `b=2`)', { headers: { 'set-cookie': ['a=1', 'b=2'] } }, true],
    ['Header(`Set-Cookie`, `c=3`)', { headers: { 'set-cookie': ['a=1', 'b=2'] } }, false],
    [
      'HeaderRegexp(`Content-Type`, `^application/(json|yaml)$`)',
      { headers: { 'content-type': 'application/yaml' } },
      true,
    ],
    [
      'HeaderRegexp(`Content-Type`, `^application/(json|yaml)$`)',
      { headers: { 'content-type': 'application/xml' } },
      false,
    ],
    ['HeaderRegexp(`X-Missing`, `.*`)', { headers: {} }, false],
    ['HeaderRegexp(`Set-Cookie`, `^b=`)', { headers: { 'set-cookie': ['a=1', 'b=2'] } }, true],
    ['Query(`mobile`, `true`)', { query: 'mobile=true' }, true],
    ['Query(`mobile`, `true`)', { query: 'mobile=false&mobile=true' }, true],
    ['Query(`mobile`, `true`)', { query: 'mobile=false' }, false],
    ['Query(`mobile`, `true`)', { query: '' }, false],
    ['Query(`q`, `a b`)', { query: 'q=a+b' }, true],
    ['Query(`mobile`)', { query: 'mobile' }, true],
    ['Query(`mobile`)', { query: 'mobile=' }, true],
    ['Query(`mobile`)', { query: 'mobile=1' }, false],
    ['Query(`mobile`)', { query: 'other' }, false],
    ['QueryRegexp(`mobile`, `^(true|yes)$`)', { query: 'mobile=yes' }, true],
    ['QueryRegexp(`mobile`, `^(true|yes)$`)', { query: 'mobile=no&mobile=true' }, true],
    ['QueryRegexp(`mobile`, `^(true|yes)$`)', { query: 'mobile=no' }, false],
    ['QueryRegexp(`mobile`, `^(true|yes)$`)', { query: 'other=yes' }, false],
    ['QueryRegexp(`mobile`)', { query: 'mobile' }, true],
    ['QueryRegexp(`mobile`)', { query: 'mobile=1' }, false],
  ])('%s on %j → %s', (rule, req, expected) => {
    expect(matches(rule, req)).toBe(expected);
  });
});

describe('ClientIP', () => {
  it.each<[string, string, boolean]>([
    ['192.0.2.1', '192.0.2.1', true],
    ['192.0.2.1', '192.0.2.2', false],
    ['10.0.0.0/8', '10.200.3.4', true],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['10.1.2.3/8', '10.9.9.9', true],
    ['192.168.1.0/24', '192.168.1.255', true],
    ['192.168.1.0/24', '192.168.2.0', false],
    ['0.0.0.0/0', '203.0.113.9', true],
    ['0.0.0.0/0', '2001:db8::1', false],
    ['10.0.0.0/8', '::ffff:10.0.0.1', true],
    ['10.0.0.0/8', 'garbage', false],
    ['::1', '::1', true],
    ['::1', '::2', false],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['2001:DB8::/32', '2001:db8::1', true],
    ['2001:db8::/32', '10.0.0.1', false],
    ['fe80::/10', 'fe80::1%eth0', true],
    ['::/0', '2001:db8::1', true],
    ['::/0', '127.0.0.1', false],
    ['::ffff:10.0.0.0/104', '10.1.2.3', true],
    ['::ffff:192.0.2.1', '192.0.2.1', true],
    ['2001:db8::1:0:0:1', '2001:db8:0:0:1::1', true],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8', true],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:9', false],
  ])('ClientIP(`%s`) with %s → %s', (cidr, clientIp, expected) => {
    expect(matches(`ClientIP(\`${cidr}\`)`, { clientIp })).toBe(expected);
  });
});

describe('composition', () => {
  const rule = 'Host(`a.com`) || Host(`b.com`) && Path(`/c`)';
  it.each<[string, RequestShape, boolean]>([
    [rule, { host: 'a.com', path: '/x' }, true],
    [rule, { host: 'b.com', path: '/c' }, true],
    [rule, { host: 'b.com', path: '/x' }, false],
    ['(Host(`a.com`) || Host(`b.com`)) && Path(`/c`)', { host: 'a.com', path: '/x' }, false],
    ['(Host(`a.com`) || Host(`b.com`)) && Path(`/c`)', { host: 'a.com', path: '/c' }, true],
    ['!Host(`a.com`)', { host: 'a.com' }, false],
    ['!Host(`a.com`)', { host: 'b.com' }, true],
    ['!!Host(`a.com`)', { host: 'a.com' }, true],
    ['!(Host(`a.com`) && Path(`/c`))', { host: 'a.com', path: '/c' }, false],
    ['!(Host(`a.com`) && Path(`/c`))', { host: 'a.com', path: '/d' }, true],
    ['!Host(`a.com`) && Path(`/c`)', { host: 'b.com', path: '/c' }, true],
    ['Method(`GET`) && Method(`POST`)', { method: 'GET' }, false],
    ['Method(`GET`) || Method(`POST`) || Method(`PUT`)', { method: 'PUT' }, true],
    ['Method(`GET`) || Method(`POST`) || Method(`PUT`)', { method: 'DELETE' }, false],
    ['PathPrefix(`/a`) && PathPrefix(`/ab`) && PathPrefix(`/abc`)', { path: '/abcd' }, true],
    ['PathPrefix(`/a`) && PathPrefix(`/ab`) && PathPrefix(`/abc`)', { path: '/abd' }, false],
    [
      'Host("a.com") && Header("X-Q", "say \\"hi\\"")',
      { host: 'a.com', headers: { 'x-q': 'say "hi"' } },
      true,
    ],
  ])('%s on %j → %s', (r, req, expected) => {
    expect(matches(r, req)).toBe(expected);
  });

  it('evaluates left to right and short-circuits', () => {
    let calls = 0;
    const c = ctx({ path: '/x' });
    const counting: MatchContext = {
      ...c,
      query: () => {
        calls++;
        return c.query();
      },
    };
    expect(compileRule(parseRule('Path(`/y`) && Query(`a`)'))(counting)).toBe(false);
    expect(compileRule(parseRule('Path(`/x`) || Query(`a`)'))(counting)).toBe(true);
    expect(calls).toBe(0);
  });

  it('compiles very long chains without deep recursion', () => {
    const long = Array.from({ length: 5000 }, (_, i) => `Path(\`/p${i}\`)`).join(' || ');
    const m = buildRule(long).matcher;
    expect(m(ctx({ path: '/p4999' }))).toBe(true);
    expect(m(ctx({ path: '/q' }))).toBe(false);
  });
});

describe('compileRule on hand-built trees', () => {
  it('validates arguments that bypassed the parser', () => {
    expect(() =>
      compileRule({ type: 'matcher', name: 'Path', args: ['nope'], position: 3 }),
    ).toThrow(RuleSyntaxError);
    expect(() =>
      compileRule({ type: 'matcher', name: 'Host', args: ['a', 'b'], position: 0 }),
    ).toThrow(/takes a single value/);
  });
});

// What the former RE2 → RegExp translation table covered, now checked by what the rules match
// (the engine reads Go's syntax itself: src/rules/regex.ts, test/unit/regex.test.ts).
describe('RE2 syntax in rules', () => {
  it.each<[string, RequestShape, boolean]>([
    ['PathRegexp(`^/(?P<id>[0-9]+)$`)', { path: '/42' }, true],
    ['HostRegexp(`(?i)^ABC\\.com$`)', { host: 'abc.com' }, true],
    ['PathRegexp(`(?is)^/a.c$`)', { path: '/A\nC' }, true],
    ['PathRegexp(`^/(?:a|b)$`)', { path: '/b' }, true],
    ['PathRegexp(`^/[]a]+$`)', { path: '/]a' }, true],
    ['PathRegexp(`^/[^]a]$`)', { path: '/]' }, false],
    ['PathRegexp(`^/[[:alpha:]_]+$`)', { path: '/a_b' }, true],
    ['PathRegexp(`^/\\Qa.b\\E$`)', { path: '/a.b' }, true],
    ['PathRegexp(`^/\\Qa.b\\E$`)', { path: '/axb' }, false],
    ['PathRegexp(`^/\\x{41}$`)', { path: '/A' }, true],
    ['PathRegexp(`^/\\pL+$`)', { path: '/héllo' }, true],
    ['PathRegexp(`^/\\p{^Greek}$`)', { path: '/α' }, false],
    ['PathRegexp(`\\A/ab\\z`)', { path: '/ab' }, true],
    // accepted now, refused by the former translation: inline flags anywhere, (?U), [[:^...:]]
    ['PathRegexp(`^/api(?i)/users$`)', { path: '/api/USERS' }, true],
    ['PathRegexp(`^/api(?i)/users$`)', { path: '/API/users' }, false],
    ['PathRegexp(`^/(?i:a)b$`)', { path: '/Ab' }, true],
    ['PathRegexp(`(?U)^/a+$`)', { path: '/aaa' }, true],
    ['PathRegexp(`^/[[:^digit:]]+$`)', { path: '/abc' }, true],
    ['PathRegexp(`^/[[:^digit:]]+$`)', { path: '/a1' }, false],
  ])('%s on %j → %s', (r, req, expected) => {
    expect(matches(r, req)).toBe(expected);
  });
});

describe('ruleHosts', () => {
  it.each<[string, string[] | null]>([
    ['Host(`a.com`)', ['a.com']],
    ['Host(`A.Com.`)', ['a.com']],
    ['Host(`a.com`) && PathPrefix(`/x`)', ['a.com']],
    ['PathPrefix(`/x`) && Host(`a.com`)', ['a.com']],
    ['Host(`a.com`) || Host(`b.com`)', ['a.com', 'b.com']],
    ['Host(`a.com`) || Host(`A.com`)', ['a.com']],
    ['(Host(`a.com`) || Host(`b.com`)) && Method(`GET`)', ['a.com', 'b.com']],
    ['(Host(`a.com`) || Host(`b.com`)) && Host(`b.com`)', ['b.com']],
    ['Host(`a.com`) && Host(`b.com`)', []],
    ['Host(`a.com`) && !Host(`b.com`)', ['a.com']],
    ['(Host(`a.com`) && Path(`/x`)) || (Host(`b.com`) && Path(`/y`))', ['a.com', 'b.com']],
    ['Host(`a.com`) || PathPrefix(`/`)', null],
    ['!Host(`a.com`)', null],
    ['HostRegexp(`^a\\.com$`)', null],
    ['Host(`*.x.com`)', null],
    ['Host(`*`)', null],
    ['Host(`a.com`) || Host(`*.x.com`)', null],
    ['PathPrefix(`/`)', null],
    ['Header(`Host`, `a.com`)', null],
  ])('%s → %j', (rule, hosts) => {
    expect(ruleHosts(parseRule(rule))).toEqual(hosts);
  });

  // The index is only safe if a rule can never match a host outside its list.
  it.each([
    'Host(`a.com`) && PathPrefix(`/x`)',
    '(Host(`a.com`) || Host(`b.com`)) && Method(`GET`)',
    'Host(`a.com`) && !Host(`b.com`)',
    '(Host(`a.com`) && Path(`/x`)) || (Host(`B.com.`) && !Path(`/y`))',
  ])('%s never matches an unlisted host', (rule) => {
    const { matcher, hosts } = buildRule(rule);
    expect(hosts).not.toBeNull();
    for (const host of ['a.com', 'b.com', 'c.com', '']) {
      for (const path of ['/x', '/y', '/z']) {
        for (const method of ['GET', 'POST']) {
          if (matcher(ctx({ host, path, method }))) expect(hosts).toContain(host);
        }
      }
    }
  });
});

describe('priority and buildRule', () => {
  it.each([
    ['Host(`foobar.traefik.com`)', 26],
    ['HostRegexp(`[a-z]+\\.traefik\\.com`)', 34],
    ['PathPrefix(`/`)', 15],
  ])('rulePriority(%s) = %d', (rule, priority) => {
    expect(rulePriority(rule)).toBe(priority);
    expect(buildRule(rule).priority).toBe(priority);
  });

  it('bundles matcher, hosts and priority', () => {
    const built = buildRule('Host(`a.com`) && Path(`/x`)');
    expect(built.hosts).toEqual(['a.com']);
    expect(built.priority).toBe(27);
    expect(built.matcher(ctx({ host: 'a.com', path: '/x' }))).toBe(true);
    expect(built.matcher(ctx({ host: 'a.com', path: '/y' }))).toBe(false);
  });

  it('rejects invalid rules with RuleSyntaxError', () => {
    expect(() => buildRule('Host(`a`')).toThrow(RuleSyntaxError);
  });
});
