/*
 * The one IP/CIDR engine (src/kernel/ip-match.ts) that ClientIP, ipAllowList,
 * ipStrategy and forwardedHeaders.trustedIPs share: Go's net.IPNet semantics
 * (what Traefik uses) on top of net.BlockList.
 */
import { describe, expect, it } from 'vitest';
import { compileIpMatcher, InvalidIpEntry } from '../../src/kernel/ip-match.js';

describe('compileIpMatcher', () => {
  it.each<[string, string, boolean]>([
    ['192.0.2.1', '192.0.2.1', true],
    ['10.1.2.3/8', '10.9.9.9', true],
    ['0.0.0.0/0', '203.0.113.9', true],
    ['0.0.0.0/0', '2001:db8::1', false],
    ['10.0.0.0/8', '::ffff:10.0.0.1', true],
    ['10.0.0.0/8', 'garbage', false],
    ['::/0', '2001:db8::1', true],
    ['::/0', '127.0.0.1', false],
    ['::/0', '::ffff:127.0.0.1', false],
    ['::ffff:10.0.0.0/104', '10.1.2.3', true],
    ['::ffff:0:0/96', '8.8.8.8', true],
    ['::ffff:192.0.2.1', '192.0.2.1', true],
    ['2001:db8::/32', '10.0.0.1', false],
    ['fe80::/10', 'fe80::1%eth0', true],
  ])('%s contains %s: %s', (entry, ip, expected) => {
    expect(compileIpMatcher([entry]).contains(ip)).toBe(expected);
  });

  it.each([
    ['nope', 'not an IP address or CIDR'],
    ['01.2.3.4', 'not an IP address or CIDR'],
    ['fe80::1%eth0', 'not an IP address or CIDR'],
    ['10.0.0.0/33', 'has an invalid prefix length'],
    ['10.0.0.0/', 'has an invalid prefix length'],
    ['::/129', 'has an invalid prefix length'],
  ])('refuses %s, naming it and its index', (entry, reason) => {
    let err: unknown;
    try {
      compileIpMatcher(['127.0.0.1', entry]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidIpEntry);
    expect(err).toMatchObject({ index: 1, entry, reason });
    expect((err as Error).message).toContain(JSON.stringify(entry));
  });
});
