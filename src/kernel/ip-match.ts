/*
 * The one IP/CIDR matching engine: ClientIP rules, ipAllowList and the
 * ipStrategy lists, and the entrypoints' forwardedHeaders.trustedIPs. Built on
 * Node's documented net.BlockList, with Go's net.IPNet semantics, which is
 * what Traefik uses (ip.Checker, ClientIP):
 *
 * - an IPv4-mapped address (::ffff:a.b.c.d) is its IPv4 address, and an
 *   IPv4-mapped network of /96 or more is an IPv4 network;
 * - an IPv4 client never falls inside a plain IPv6 network (`::/0` holds no
 *   IPv4 client; BlockList alone would say it does), nor an IPv6 client inside
 *   an IPv4 one;
 * - `0.0.0.0/0` holds every IPv4 client, `::/0` every IPv6 one;
 * - a client address may carry an IPv6 zone (fe80::1%eth0); an entry may not.
 *
 * An entry that is neither an address nor a CIDR is refused with its index,
 * so each caller names it in its own error.
 */
import { BlockList, isIP } from 'node:net';

export interface IpMatcher {
  /** whether the bare address `ip` (no port, no brackets) is inside one of the entries */
  contains(ip: string): boolean;
}

export class InvalidIpEntry extends Error {
  constructor(
    readonly index: number,
    readonly entry: string,
    readonly reason: 'not an IP address or CIDR' | 'has an invalid prefix length',
  ) {
    super(
      reason === 'not an IP address or CIDR'
        ? `${JSON.stringify(entry)} is not an IP address or CIDR`
        : `${JSON.stringify(entry)} has an invalid prefix length`,
    );
  }
}

/** ::ffff:0:0/96, the IPv4-mapped addresses (RFC 4291 §2.5.5.2) */
const MAPPED = new BlockList();
MAPPED.addSubnet('::ffff:0:0', 96, 'ipv6');

/** Compiles IPs and CIDRs (`ip` or `ip/bits`); throws InvalidIpEntry for the first bad one. */
export function compileIpMatcher(entries: readonly string[]): IpMatcher {
  // networks IPv4 clients (and IPv4-mapped ones) are checked against, and the IPv6 ones
  const v4 = new BlockList();
  const v6 = new BlockList();
  entries.forEach((entry, index) => {
    const slash = entry.indexOf('/');
    const addr = slash === -1 ? entry : entry.slice(0, slash);
    const family = addr.includes('%') ? 0 : isIP(addr);
    if (family === 0) throw new InvalidIpEntry(index, entry, 'not an IP address or CIDR');
    let bits = family === 4 ? 32 : 128;
    if (slash !== -1) {
      // Go's ParseCIDR reads the length as decimal digits
      const text = entry.slice(slash + 1);
      bits = /^\d{1,3}$/.test(text) ? Number(text) : NaN;
      if (!(bits <= (family === 4 ? 32 : 128)))
        throw new InvalidIpEntry(index, entry, 'has an invalid prefix length');
    }
    if (family === 4) v4.addSubnet(addr, bits, 'ipv4');
    else if (bits >= 96 && MAPPED.check(addr, 'ipv6')) v4.addSubnet(addr, bits, 'ipv6');
    else v6.addSubnet(addr, bits, 'ipv6');
  });
  return {
    contains(ip: string): boolean {
      const pct = ip.indexOf('%');
      const addr = pct === -1 ? ip : ip.slice(0, pct);
      const family = isIP(addr);
      if (family === 4) return v4.check(addr, 'ipv4');
      if (family !== 6) return false;
      return MAPPED.check(addr, 'ipv6') ? v4.check(addr, 'ipv6') : v6.check(addr, 'ipv6');
    },
  };
}
