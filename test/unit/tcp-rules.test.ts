/*
 * The TCP rule language (Traefik v3's TCP muxer, pkg/muxer/tcp/mux.go and
 * matcher.go): HostSNI, HostSNIRegexp, ClientIP, ALPN with &&, ||, ! and
 * parentheses; the default priority, the catch-all, the pinned SNI names, and
 * the constraint between a rule and TLS (manager.go).
 */
import { describe, expect, it } from 'vitest';
import { RuleSyntaxError } from '../../src/kernel/errors.js';
import { buildTcpRule, tcpRuleProblem, type TcpConnInfo } from '../../src/rules/tcp.js';

function conn(extra: Partial<TcpConnInfo> = {}): TcpConnInfo {
  return { sni: undefined, alpn: [], clientIp: '10.0.0.1', tls: false, ...extra };
}
const tls = (sni: string | undefined, extra: Partial<TcpConnInfo> = {}) =>
  conn({ sni, tls: true, ...extra });

function syntaxError(rule: string): RuleSyntaxError {
  try {
    buildTcpRule(rule);
  } catch (err) {
    if (err instanceof RuleSyntaxError) return err;
    throw err;
  }
  throw new Error(`expected ${rule} to be rejected`);
}

describe('buildTcpRule: the rules Traefik users write first', () => {
  it('HostSNI(`*`) matches every connection, plain or TLS, with or without SNI', () => {
    const r = buildTcpRule('HostSNI(`*`)');
    expect(r.matcher(conn())).toBe(true);
    expect(r.matcher(tls(undefined))).toBe(true);
    expect(r.matcher(tls('db.example.com'))).toBe(true);
    expect(r.catchAll).toBe(true);
    expect(r.hosts).toBeNull();
    // Traefik's GetRulePriority: the catch-all sorts after every rule with a default priority
    expect(r.priority).toBe(-1);
  });

  it('HostSNI(`db.example.com`) pins one name, matches it ignoring case, needs an SNI', () => {
    const r = buildTcpRule('HostSNI(`DB.example.com`)');
    expect(r.hosts).toEqual(['db.example.com']);
    expect(r.catchAll).toBe(false);
    expect(r.priority).toBe('HostSNI(`DB.example.com`)'.length);
    expect(r.matcher(tls('db.example.com'))).toBe(true);
    expect(r.matcher(tls('DB.EXAMPLE.COM'))).toBe(true);
    expect(r.matcher(tls('other.example.com'))).toBe(false);
    expect(r.matcher(tls(undefined))).toBe(false);
    expect(r.matcher(conn())).toBe(false);
  });
});

describe('buildTcpRule: matchers', () => {
  it.each<[string, TcpConnInfo, boolean]>([
    // trailing dot of the rule's name is dropped (an FQDN); the SNI never carries one (RFC 6066)
    ['HostSNI(`db.example.com.`)', tls('db.example.com'), true],
    // single-label wildcard (Traefik v3.7 DomainMatchHostExpression)
    ['HostSNI(`*.example.com`)', tls('db.example.com'), true],
    ['HostSNI(`*.example.com`)', tls('a.db.example.com'), false],
    ['HostSNI(`*.example.com`)', tls('example.com'), false],
    ['HostSNI(`*.Example.com`)', tls('db.example.com'), true],
    ['HostSNI(`10.0.0.5`)', tls('10.0.0.5'), true],
    ['HostSNI(`a`) || HostSNI(`b`)', tls('b'), true],
    ['HostSNI(`a`) && HostSNI(`b`)', tls('b'), false],
    ['!HostSNI(`a`)', tls('b'), true],
    ['!HostSNI(`a`)', tls('a'), false],
    // HostSNIRegexp: Go regexp, unanchored, against the lower-case SNI ("" without one)
    ['HostSNIRegexp(`^.+\\.example\\.com$`)', tls('a.b.example.com'), true],
    ['HostSNIRegexp(`^.+\\.example\\.com$`)', tls('example.com'), false],
    ['HostSNIRegexp(`example`)', tls('www.example.org'), true],
    ['HostSNIRegexp(`^.*$`)', conn(), true],
    ['HostSNIRegexp(`^[a-z]+\\.com$`)', tls('ABC.com'), true],
    // ClientIP: address or CIDR, v4 and v6
    ['ClientIP(`10.0.0.1`)', conn(), true],
    ['ClientIP(`10.0.0.0/8`)', conn({ clientIp: '10.200.0.3' }), true],
    ['ClientIP(`192.168.0.0/16`)', conn(), false],
    ['ClientIP(`::1`)', conn({ clientIp: '::1' }), true],
    ['ClientIP(`fe80::/10`)', conn({ clientIp: 'fe80::1' }), true],
    // ALPN: any of the client's protocols, exactly as written
    ['ALPN(`h2`)', tls('a', { alpn: ['h2', 'http/1.1'] }), true],
    ['ALPN(`h2`)', tls('a', { alpn: ['http/1.1'] }), false],
    ['ALPN(`H2`)', tls('a', { alpn: ['h2'] }), false],
    ['ALPN(`postgresql`)', conn(), false],
    // the example of Traefik's docs
    [
      'HostSNI(`example.com`) || (HostSNI(`example.org`) && !ALPN(`h2`))',
      tls('example.org', { alpn: ['http/1.1'] }),
      true,
    ],
    [
      'HostSNI(`example.com`) || (HostSNI(`example.org`) && !ALPN(`h2`))',
      tls('example.org', { alpn: ['h2'] }),
      false,
    ],
    // matcher names in lower, upper and title case, as Traefik's rules parser registers them
    ['hostsni(`a`)', tls('a'), true],
    ['HOSTSNI(`a`)', tls('a'), true],
    ['Hostsni(`a`)', tls('a'), true],
    ['clientip(`10.0.0.1`)', conn(), true],
    // double-quoted values (Go string literals)
    ['HostSNI("a")', tls('a'), true],
  ])('%s', (rule, c, expected) => {
    expect(buildTcpRule(rule).matcher(c)).toBe(expected);
  });

  it('accepts an SNI that is not lower case (defensive: the interface says lower case)', () => {
    expect(buildTcpRule('HostSNI(`a.com`)').matcher(tls('A.com'))).toBe(true);
  });
});

describe('buildTcpRule: pinned names, catch-all and priority', () => {
  it.each<[string, string[] | null, boolean, number | 'length']>([
    ['HostSNI(`*`)', null, true, -1],
    ['(HostSNI(`*`))', null, true, -1],
    ['hostsni(`*`)', null, true, -1],
    // with another matcher it is an ordinary rule (Traefik: only the bare HostSNI(`*`) is the catch-all)
    ['HostSNI(`*`) && ClientIP(`10.0.0.0/8`)', null, false, 'length'],
    ['ClientIP(`10.0.0.0/8`)', null, false, 'length'],
    ['HostSNI(`a`) || HostSNI(`B.`)', ['a', 'b'], false, 'length'],
    ['HostSNI(`a`) && ALPN(`h2`)', ['a'], false, 'length'],
    ['HostSNI(`a`) || ClientIP(`10.0.0.1`)', null, false, 'length'],
    ['HostSNI(`*.example.com`)', null, false, 'length'],
    ['!HostSNI(`a`)', null, false, 'length'],
    ['HostSNI(`a`) && HostSNI(`b`)', [], false, 'length'],
  ])('%s', (rule, hosts, catchAll, priority) => {
    const r = buildTcpRule(rule);
    expect(r.hosts === null ? null : [...r.hosts].sort()).toEqual(hosts);
    expect(r.catchAll).toBe(catchAll);
    expect(r.priority).toBe(priority === 'length' ? rule.length : priority);
  });

  it('lists every HostSNI value in rule order (Traefik ParseHostSNI)', () => {
    expect(buildTcpRule('HostSNI(`A`) || (HostSNI(`*`) && !HostSNI(`c.`))').hostSNIs).toEqual([
      'a',
      '*',
      'c.',
    ]);
  });
});

describe('buildTcpRule: rejected rules', () => {
  it.each<[string, RegExp]>([
    ['', /^empty rule, expected a matcher such as HostSNI\(`\*`\)/],
    ['   ', /^empty rule/],
    ['HostSNI(`a`, `b`)', /HostSNI takes a single value in traefik v3, combine several with \|\|/],
    ['HostSNI()', /HostSNI expects 1 value, got none/],
    ['HostSNI(``)', /empty value for HostSNI/],
    ['HostSNI(`a b`)', /invalid value for HostSNI, "a b" is not a valid host name/],
    ['HostSNI(`*.*.com`)', /invalid value for HostSNI, "\*\.\*\.com" is not a valid host name/],
    ['HostSNI(`a*.com`)', /not a valid host name/],
    ['HostSNI(`bücher.de`)', /not a valid host name.*punycode/],
    ['HostSNIRegexp(`(`)', /invalid regular expression for HostSNIRegexp: missing closing \)/],
    ['HostSNIRegexp(`bücher`)', /non-ascii characters are not allowed/],
    ['ClientIP(`10.0.0.0/33`)', /invalid ClientIP value 10\.0\.0\.0\/33/],
    ['ClientIP(`nope`)', /invalid ClientIP value nope/],
    ['ALPN(`acme-tls/1`)', /"acme-tls\/1" is not allowed/],
    ['Host(`a`)', /Host is an http matcher, expected HostSNI in a tcp rule/],
    [
      'PathPrefix(`/`)',
      /PathPrefix is an http matcher; tcp rules take HostSNI, HostSNIRegexp, ClientIP, ALPN/,
    ],
    ['HostSNl(`a`)', /unknown matcher HostSNl, did you mean HostSNI\?/],
    ['HostSNI(`a`) &&', /unexpected end of rule/],
    ['HostSNI(`a`) & ALPN(`h2`)', /expected '&&'/],
    ["HostSNI('a')", /single quotes are not supported/],
    ['(HostSNI(`a`)', /unbalanced parentheses/],
  ])('%j', (rule, message) => {
    const err = syntaxError(rule);
    expect(err.message).toMatch(message);
    expect(err.code).toBe('PORTICO_ERR_RULE_SYNTAX');
  });

  it('points at the offending value', () => {
    expect(syntaxError('ClientIP(`10.0.0.1`) || HostSNI(`a b`)').position).toBe(32);
  });
});

describe('tcpRuleProblem: rules and TLS (Traefik router manager)', () => {
  it.each<[string, boolean, RegExp | undefined]>([
    ['HostSNI(`*`)', false, undefined],
    ['HostSNI(`*`)', true, undefined],
    ['ClientIP(`10.0.0.0/8`)', false, undefined],
    ['HostSNI(`*`) && ClientIP(`10.0.0.0/8`)', false, undefined],
    ['HostSNI(`db.example.com`)', true, undefined],
    [
      'HostSNI(`db.example.com`)',
      false,
      /rule "HostSNI\(`db\.example\.com`\)" has a HostSNI matcher but the router has no tls/,
    ],
    ['HostSNI(`a`) || HostSNI(`*`)', false, /has a HostSNI matcher but the router has no tls/],
    // Traefik looks at the first HostSNI only
    ['HostSNI(`*`) || HostSNI(`a`)', false, undefined],
    ['HostSNI(`a b`)', true, /not a valid host name/],
  ])('%s with tls=%s', (rule, withTls, problem) => {
    const fromText = tcpRuleProblem(rule, withTls);
    if (problem === undefined) expect(fromText).toBeUndefined();
    else expect(fromText).toMatch(problem);
    if (!/a b/.test(rule)) expect(tcpRuleProblem(buildTcpRule(rule), withTls)).toBe(fromText);
  });
});

describe('buildTcpRule: hostile rules', () => {
  it('a rule of 20000 alternatives builds and matches (no recursion per operand)', () => {
    const rule = Array.from({ length: 20000 }, (_, i) => `HostSNI(\`h${i}.example\`)`).join(' || ');
    const r = buildTcpRule(rule);
    expect(r.hosts).toHaveLength(20000);
    expect(r.hostSNIs).toHaveLength(20000);
    expect(r.matcher(tls('h19999.example'))).toBe(true);
    expect(r.matcher(tls('nope.example'))).toBe(false);
  });

  it('nesting deeper than the parser allows is a syntax error, not a stack overflow', () => {
    expect(() => buildTcpRule('!'.repeat(10000) + 'HostSNI(`*`)')).toThrow(RuleSyntaxError);
    expect(() => buildTcpRule('('.repeat(10000) + 'HostSNI(`*`)' + ')'.repeat(10000))).toThrow(
      /nested too deeply/,
    );
  });
});
