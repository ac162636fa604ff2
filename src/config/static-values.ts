/*
 * Static option values from text, YAML scalars and lists, with the messages
 * Traefik users see: Go's boolean spellings, whole numbers in a range,
 * durations, comma-separated lists, CIDRs, `[host]:port` addresses.
 */
import { isIP } from 'node:net';
import { StaticConfigError } from '../kernel/errors.js';
import { parseDuration } from '../kernel/duration.js';
import type { LeafType } from './static-tree.js';

// ---------------------------------------------------------------------------
// Value conversion

export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}

export function convertBool(raw: unknown, origin: string): boolean {
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'string') {
    // the spellings Go's strconv.ParseBool accepts, since Traefik users write them
    const value = raw.trim();
    if (['true', 't', '1'].includes(value.toLowerCase())) return true;
    if (['false', 'f', '0'].includes(value.toLowerCase())) return false;
  }
  throw new StaticConfigError(origin, `expected true or false, got ${describe(raw)}`);
}

export function convertInt(raw: unknown, min: number, max: number, origin: string): number {
  let value: number | undefined;
  if (typeof raw === 'number') value = raw;
  else if (typeof raw === 'string' && /^\s*\d+\s*$/.test(raw)) value = Number(raw);
  if (value === undefined || !Number.isInteger(value)) {
    throw new StaticConfigError(origin, `expected a whole number, got ${describe(raw)}`);
  }
  if (value < min || value > max) {
    throw new StaticConfigError(
      origin,
      max === Number.MAX_SAFE_INTEGER
        ? `must be at least ${min}, got ${value}`
        : `must be between ${min} and ${max}, got ${value}`,
    );
  }
  return value;
}

export function convertString(raw: unknown, origin: string): string {
  if (typeof raw === 'string' || typeof raw === 'number') {
    const value = String(raw).trim();
    if (value !== '') return value;
  }
  throw new StaticConfigError(origin, `expected a non-empty string, got ${describe(raw)}`);
}

export function convertList(raw: unknown, origin: string): string[] {
  const items = Array.isArray(raw) ? raw : [raw];
  const out: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string' && typeof item !== 'number') {
      throw new StaticConfigError(origin, `expected a comma-separated list, got ${describe(raw)}`);
    }
    // a trailing comma (`a,b,`) is a harmless slip, not a request for an empty item
    for (const part of String(item).split(',')) if (part.trim() !== '') out.push(part.trim());
  }
  return out;
}

/** histogram bounds: positive, finite and strictly ascending, as Prometheus requires */
export function convertBuckets(items: string[], origin: string): number[] {
  const out: number[] = [];
  for (const item of items) {
    const n = Number(item);
    if (item === '' || !Number.isFinite(n) || n <= 0)
      throw new StaticConfigError(origin, `${JSON.stringify(item)} is not a positive number`);
    if (out.length > 0 && n <= out[out.length - 1]!)
      throw new StaticConfigError(origin, 'buckets must be in ascending order');
    out.push(n);
  }
  if (out.length === 0) throw new StaticConfigError(origin, 'expected at least one bucket');
  return out;
}

export function validateCidr(value: string, origin: string): void {
  const [ip = '', prefix, extra] = value.split('/');
  const family = isIP(ip);
  const ok =
    family !== 0 &&
    extra === undefined &&
    (prefix === undefined ||
      (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128)));
  if (!ok)
    throw new StaticConfigError(origin, `${JSON.stringify(value)} is not an IP address or CIDR`);
}

export interface ParsedAddress {
  address: string;
  host: string;
  port: number;
  /** the `/tcp` or `/udp` suffix (Traefik's EntryPoint.GetProtocol); tcp when there is none */
  protocol: 'tcp' | 'udp';
}

/** Traefik's `[host]:port[/tcp|/udp]`; host '' listens on all interfaces */
export function parseAddress(raw: unknown, origin: string): ParsedAddress {
  if (typeof raw === 'number') {
    throw new StaticConfigError(origin, `expected [host]:port, got ${raw} (write ":${raw}")`);
  }
  const address = convertString(raw, origin);
  let rest = address;
  let protocol: ParsedAddress['protocol'] = 'tcp';
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const suffix = rest.slice(slash + 1).toLowerCase();
    if (suffix !== 'tcp' && suffix !== 'udp') {
      throw new StaticConfigError(
        origin,
        `unknown protocol ${JSON.stringify(suffix)} (tcp or udp)`,
      );
    }
    protocol = suffix;
    rest = rest.slice(0, slash);
  }
  let host: string;
  let portText: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    host = rest.slice(1, close);
    portText = close >= 0 && rest[close + 1] === ':' ? rest.slice(close + 2) : '';
    if (close < 0 || isIP(host) !== 6) {
      throw new StaticConfigError(
        origin,
        `${JSON.stringify(address)} is not a valid [ipv6]:port address`,
      );
    }
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon < 0) {
      throw new StaticConfigError(
        origin,
        `expected [host]:port, got ${JSON.stringify(address)} (e.g. ":8000")`,
      );
    }
    host = rest.slice(0, colon);
    portText = rest.slice(colon + 1);
    if (host.includes(':')) {
      throw new StaticConfigError(origin, `ipv6 hosts must be in brackets, e.g. "[::1]:8000"`);
    }
  }
  if (!/^\d+$/.test(portText)) {
    throw new StaticConfigError(origin, `port ${JSON.stringify(portText)} is not a number`);
  }
  const port = Number(portText);
  if (port > 65535) throw new StaticConfigError(origin, `port ${port} is out of range (0-65535)`);
  return { address, host: host.toLowerCase(), port, protocol };
}

export function convert(type: LeafType, raw: unknown, origin: string): unknown {
  if (raw === null || raw === undefined) throw new StaticConfigError(origin, 'empty value');
  if (Array.isArray(raw) && type.t !== 'list') {
    throw new StaticConfigError(origin, `expected a single value, got a list`);
  }
  switch (type.t) {
    case 'bool':
      return convertBool(raw, origin);
    case 'int':
      return convertInt(raw, type.min, type.max, origin);
    case 'duration':
      return parseDuration(raw, origin);
    case 'string':
    case 'path':
      return convertString(raw, origin);
    case 'address':
      return parseAddress(raw, origin);
    case 'enum': {
      const text = typeof raw === 'string' ? raw.trim().toLowerCase() : undefined;
      const value = text === undefined ? undefined : type.values[text];
      if (value === undefined)
        throw new StaticConfigError(origin, `expected ${type.shown}, got ${describe(raw)}`);
      return value;
    }
    case 'list': {
      const items = convertList(raw, origin);
      if (type.item === 'cidr') for (const item of items) validateCidr(item, origin);
      if (type.item === 'number') return convertBuckets(items, origin);
      return items;
    }
  }
}
