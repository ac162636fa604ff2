/*
 * IP address and CIDR handling for the ClientIP matcher. Networks are parsed once when a rule is
 * compiled; request addresses are parsed by hand-written scanners that only read the string, so
 * matching a request allocates nothing. Containment follows Go's net.IPNet semantics, which is
 * what Traefik uses: an IPv4 client never falls inside a plain IPv6 network, while IPv4-mapped
 * IPv6 networks and addresses are treated as their IPv4 equivalents.
 */

export type IpNetwork =
  { family: 4; addr: number; mask: number } | { family: 6; addr: Uint16Array; mask: Uint16Array };

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}

/** Dotted-quad in s[start, end) as an unsigned 32-bit number, or -1. Leading zeros are rejected as Go does. */
export function parseIPv4(s: string, start = 0, end = s.length): number {
  let value = 0;
  let parts = 0;
  let i = start;
  while (i < end) {
    let octet = 0;
    let digits = 0;
    const first = i;
    while (i < end) {
      const code = s.charCodeAt(i);
      if (code < 48 || code > 57) break;
      octet = octet * 10 + (code - 48);
      digits++;
      i++;
    }
    if (digits === 0 || digits > 3 || octet > 255) return -1;
    if (digits > 1 && s.charCodeAt(first) === 48) return -1;
    value = value * 256 + octet;
    parts++;
    if (i === end) break;
    if (s.charCodeAt(i) !== 46 || parts === 4) return -1;
    i++;
    if (i === end) return -1;
  }
  return parts === 4 ? value : -1;
}

/** Parses an IPv6 address in s[start, end) into eight 16-bit words; false when malformed. */
export function parseIPv6(s: string, out: Uint16Array, start = 0, end = s.length): boolean {
  let groups = 0;
  let gap = -1;
  let i = start;
  if (end - start < 2) return false;
  if (s.charCodeAt(i) === 58) {
    if (s.charCodeAt(i + 1) !== 58) return false;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    if (groups === 8) return false;
    let value = 0;
    let j = i;
    while (j < end && j - i < 5) {
      const h = hexValue(s.charCodeAt(j));
      if (h < 0) break;
      value = value * 16 + h;
      j++;
    }
    if (j < end && s.charCodeAt(j) === 46) {
      if (groups > 6) return false;
      const v4 = parseIPv4(s, i, end);
      if (v4 < 0) return false;
      out[groups++] = v4 >>> 16;
      out[groups++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (j === i || j - i > 4) return false;
    out[groups++] = value;
    i = j;
    if (i === end) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (i === end) return false;
    if (s.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = groups;
      i++;
    }
  }
  if (gap < 0) return groups === 8;
  // "::" has to stand for at least one zero group.
  if (groups === 8) return false;
  const shift = 8 - groups;
  for (let k = groups - 1; k >= gap; k--) out[k + shift] = out[k] as number;
  for (let k = gap; k < gap + shift; k++) out[k] = 0;
  return true;
}

function isV4Mapped(w: Uint16Array): boolean {
  return w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff;
}

function v4Mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** Parses `ip` or `ip/bits` (IPv4 or IPv6); null when malformed. */
export function parseNetwork(text: string): IpNetwork | null {
  const slash = text.indexOf('/');
  const ip = slash < 0 ? text : text.slice(0, slash);
  let bits = -1;
  if (slash >= 0) {
    const bitsText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(bitsText)) return null;
    bits = Number(bitsText);
  }

  if (!ip.includes(':')) {
    const addr = parseIPv4(ip);
    if (addr < 0) return null;
    if (bits < 0) bits = 32;
    if (bits > 32) return null;
    const mask = v4Mask(bits);
    return { family: 4, addr: (addr & mask) >>> 0, mask };
  }

  const words = new Uint16Array(8);
  if (!parseIPv6(ip, words)) return null;
  if (bits < 0) bits = 128;
  if (bits > 128) return null;
  const mask = new Uint16Array(8);
  for (let k = 0; k < 8; k++) {
    const b = Math.min(16, Math.max(0, bits - k * 16));
    mask[k] = b === 0 ? 0 : (0xffff << (16 - b)) & 0xffff;
    words[k] = (words[k] as number) & (mask[k] as number);
  }
  if (isV4Mapped(words) && bits >= 96) {
    const m = v4Mask(bits - 96);
    const addr = (((words[6] as number) << 16) | (words[7] as number)) >>> 0;
    return { family: 4, addr: (addr & m) >>> 0, mask: m };
  }
  return { family: 6, addr: words, mask };
}

// The last request address, parsed. Every ClientIP matcher of every router sees the same address
// while one request is routed, so it is parsed once per request rather than once per matcher.
// Module state is safe here because matching is synchronous and never re-entrant.
let lastIp: string | null = null;
let lastFamily: 0 | 4 | 6 = 0;
let lastV4 = 0;
const lastV6 = new Uint16Array(8);

function classify(ip: string): void {
  if (ip === lastIp) return;
  lastIp = ip;
  if (ip.indexOf(':') < 0) {
    lastV4 = parseIPv4(ip);
    lastFamily = lastV4 < 0 ? 0 : 4;
    return;
  }
  const pct = ip.indexOf('%');
  if (!parseIPv6(ip, lastV6, 0, pct < 0 ? ip.length : pct)) {
    lastFamily = 0;
  } else if (isV4Mapped(lastV6)) {
    // Go unwraps a mapped address to 4 bytes: it then matches IPv4 networks and no IPv6 one.
    lastFamily = 4;
    lastV4 = (((lastV6[6] as number) << 16) | (lastV6[7] as number)) >>> 0;
  } else {
    lastFamily = 6;
  }
}

/** Whether the request address `ip` (zone suffix allowed) lies inside `net`. */
export function networkContains(net: IpNetwork, ip: string): boolean {
  classify(ip);
  if (net.family === 4) return lastFamily === 4 && (lastV4 & net.mask) >>> 0 === net.addr;
  if (lastFamily !== 6) return false;
  const { addr, mask } = net;
  for (let k = 0; k < 8; k++) {
    if (((lastV6[k] as number) & (mask[k] as number)) !== addr[k]) return false;
  }
  return true;
}
