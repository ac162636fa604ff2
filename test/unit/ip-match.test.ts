/*
 * The one IP/CIDR engine (src/kernel/ip-match.ts) that ClientIP, ipAllowList,
 * ipStrategy and forwardedHeaders.trustedIPs share: Go's net.IPNet semantics
 * (what Traefik uses) on top of net.BlockList.
 */
import { describe, expect, it } from 'vitest';
import { compileIpMatcher, InvalidIpEntry } from '../../src/kernel/ip-match.js';

describe('compileIpMatcher', () => {
  // the address semantics are tested once, through the ClientIP rule (rules-matchers.test.ts);
  // here what that table does not reach
  it.each<[string, string, boolean]>([
    ['::/0', '::ffff:127.0.0.1', false],
    ['::ffff:0:0/96', '8.8.8.8', true],
    ['10.0.0.0/08', '10.1.2.3', true],
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
