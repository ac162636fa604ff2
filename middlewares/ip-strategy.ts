/*
 * Shared source selection for the traffic middlewares, as Traefik's
 * ipStrategy and sourceCriterion define it. Everything is decided when the
 * middleware is built: the result is one `(ctx) => string` function, and the
 * CIDR lists are compiled by the one IP engine (src/kernel/ip-match.ts), so a request costs a header split
 * at most.
 *
 * X-Forwarded-For from an untrusted client was already removed by the
 * entrypoint, so a depth or excludedIPs strategy only ever sees what trusted
 * proxies wrote.
 */
import { isIP } from 'node:net';
import {
  compileIpMatcher as compileIps,
  InvalidIpEntry,
  type IpMatcher,
} from '../src/kernel/ip-match.js';
import { ConfigElementError } from '../src/kernel/errors.js';
import type { RequestContext } from '../src/kernel/context.js';
import type {
  IpStrategyOptions,
  SourceCriterionOptions,
} from '../src/config/schema/middlewares/traffic.js';

export type { IpMatcher, IpStrategyOptions, SourceCriterionOptions };

export type KeyFunction = (ctx: RequestContext) => string;

/** Strips a port (`1.2.3.4:80`, `[::1]:80`) and brackets, as addresses in headers may carry them. */
function bareAddress(s: string): string {
  if (s.charCodeAt(0) === 0x5b) {
    const close = s.indexOf(']');
    return close === -1 ? s : s.slice(1, close);
  }
  const colon = s.indexOf(':');
  if (colon !== -1 && colon === s.lastIndexOf(':')) return s.slice(0, colon);
  return s;
}

/**
 * Compiles IPs and CIDRs with the one engine (src/kernel/ip-match.ts, shared
 * with ClientIP rules and trustedIPs). `path` names the option in the error
 * thrown for an entry that is neither; addresses may carry a port or brackets.
 */
export function compileIpMatcher(entries: string[], path: string): IpMatcher {
  let list: IpMatcher;
  try {
    list = compileIps(entries.map((e) => e.trim()));
  } catch (err) {
    if (!(err instanceof InvalidIpEntry)) throw err;
    const raw = entries[err.index]!;
    throw new ConfigElementError(
      err.reason === 'not an IP address or CIDR'
        ? `"${raw}" is not an IP address or CIDR`
        : `"${raw}" has an invalid prefix length`,
      `${path}[${err.index}]`,
    );
  }
  return { contains: (ip) => list.contains(bareAddress(ip)) };
}

/** 16 bytes of an IPv6 address, or null when it is not one. */
function parseIPv6(s: string): Uint8Array | null {
  if (isIP(s) !== 6) return null;
  let text = s;
  const pct = text.indexOf('%');
  if (pct !== -1) text = text.slice(0, pct);
  const out = new Uint8Array(16);
  // an embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const p = tail.split('.').map(Number);
    text =
      text.slice(0, lastColon + 1) +
      ((p[0]! << 8) | p[1]!).toString(16) +
      ':' +
      ((p[2]! << 8) | p[3]!).toString(16);
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = rest ? rest.split(':') : [];
  const groups =
    rest === undefined
      ? headGroups
      : [
          ...headGroups,
          ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'),
          ...tailGroups,
        ];
  if (groups.length !== 8) return null;
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

/** RFC 5952 text (longest run of zero groups compressed), as Go prints an IPv6 address. */
function formatIPv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLen).join(':');
}

/** The first address of `ip`'s IPv6 subnet of `bits`; IPv4 (and IPv4-mapped) addresses unchanged. */
export function ipv6SubnetOf(ip: string, bits: number): string {
  if (!ip.includes(':')) return ip;
  const b = parseIPv6(bareAddress(ip));
  if (b === null) return ip;
  // ::ffff:a.b.c.d is an IPv4 address for Go too: it is not masked
  let mapped = b[10] === 0xff && b[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (b[i] !== 0) mapped = false;
  if (mapped) return ip;
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    b[i] = b[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return formatIPv6(b);
}

function forwardedFor(ctx: RequestContext): string[] {
  const xff = ctx.req.headers['x-forwarded-for'];
  // Go's Header.Get reads the first line only; Node already joined repeated headers with ", "
  if (xff === undefined) return [''];
  return (typeof xff === 'string' ? xff : xff.join(',')).split(',');
}

/**
 * Traefik's ipStrategy: depth wins over excludedIPs; neither means the
 * socket's address. An impossible choice (depth beyond the list, every
 * address excluded) yields '' which matches no range.
 */
export function compileIpStrategy(
  s: IpStrategyOptions | undefined,
  path = 'ipStrategy',
): KeyFunction {
  let pick: KeyFunction;
  const depth = s?.depth ?? 0;
  if (depth > 0) {
    pick = (ctx) => {
      const list = forwardedFor(ctx);
      return list.length < depth ? '' : list[list.length - depth]!.trim();
    };
  } else if (s?.excludedIPs !== undefined && s.excludedIPs.length > 0) {
    const excluded = compileIpMatcher(s.excludedIPs, `${path}.excludedIPs`);
    pick = (ctx) => {
      const list = forwardedFor(ctx);
      for (let i = list.length - 1; i >= 0; i--) {
        const ip = list[i]!.trim();
        if (ip !== '' && !excluded.contains(ip)) return ip;
      }
      return '';
    };
  } else {
    pick = (ctx) => ctx.clientIp;
  }
  const bits = s?.ipv6Subnet;
  if (bits === undefined) return pick;
  return (ctx) => ipv6SubnetOf(pick(ctx), bits);
}

/**
 * Traefik's sourceCriterion: exactly one of ipStrategy, requestHeaderName and
 * requestHost, or none for `fallback` (RateLimit groups by client IP,
 * InFlightReq by host).
 */
export function compileSourceCriterion(
  sc: SourceCriterionOptions | undefined,
  fallback: 'ip' | 'host',
  path = 'sourceCriterion',
): KeyFunction {
  const set: string[] = [];
  if (sc?.ipStrategy !== undefined) set.push('ipStrategy');
  if (sc?.requestHeaderName !== undefined && sc.requestHeaderName !== '')
    set.push('requestHeaderName');
  if (sc?.requestHost === true) set.push('requestHost');
  if (set.length > 1)
    throw new ConfigElementError(`${set.join(' and ')} are mutually exclusive: set only one`, path);
  if (set[0] === 'ipStrategy') return compileIpStrategy(sc!.ipStrategy, `${path}.ipStrategy`);
  if (set[0] === 'requestHeaderName') {
    const name = sc!.requestHeaderName!.toLowerCase();
    return (ctx) => {
      const v = ctx.req.headers[name];
      return v === undefined ? '' : Array.isArray(v) ? (v[0] ?? '') : v;
    };
  }
  // Traefik uses req.Host as received (port included)
  if (set[0] === 'requestHost' || fallback === 'host') return (ctx) => ctx.rawHost;
  return (ctx) => ctx.clientIp;
}
