/*
 * Sticky sessions with Traefik's cookie semantics (pkg/server/cookie and
 * pkg/server/service/loadbalancer/sticky.go): the default cookie name is
 * derived from the service name, and the cookie value is a truncated SHA-256
 * of the server URL so clients never learn backend addresses.
 */
import { createHash } from 'node:crypto';
import type { StickyCookieConfig } from '../config/dynamic.js';

export interface StickyCookie {
  /** Cookie name: the configured one (sanitised) or the derived default. */
  readonly name: string;
  /** Value of this cookie in a request's Cookie header, or undefined. */
  read(cookieHeader: string | string[] | undefined): string | undefined;
  /** A Set-Cookie header value pinning the client to `value`. */
  serialize(value: string): string;
}

/**
 * Traefik's default name: '_' + SHA-1 of '_TRAEFIK_BACKEND_<service>' in hex,
 * cut to 6 characters overall (so 5 hex digits, e.g. '_76eb3' for 'backend').
 * Pass the qualified service name (`name@provider`) as Traefik does, so the same
 * config yields the same cookie name here and there.
 */
export function defaultCookieName(serviceName: string): string {
  const hex = createHash('sha1').update(`_TRAEFIK_BACKEND_${serviceName}`).digest('hex');
  return `_${hex}`.slice(0, 6);
}

/** Traefik replaces every character that is not an RFC 2616 token character with '_'. */
export function sanitizeCookieName(name: string): string {
  return name.replace(/[^A-Za-z0-9!#$%&'*+\-.^`|~]/g, '_');
}

/**
 * Cookie value for a server: first 16 hex digits of SHA-256(url), as Traefik v3
 * writes it. Same URL, same value, across restarts and instances.
 */
export function serverKey(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 16);
}

// Same rules as Go's net/http: cookie-octet minus DQUOTE, comma, semicolon, backslash and controls.
function isValidValueChar(code: number): boolean {
  return code >= 0x20 && code < 0x7f && code !== 0x22 && code !== 0x3b && code !== 0x5c;
}

function parseValue(raw: string): string | undefined {
  let v = raw;
  // A value wrapped in double quotes is allowed; the quotes are not part of it.
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
  for (let i = 0; i < v.length; i++) {
    if (!isValidValueChar(v.charCodeAt(i))) return undefined;
  }
  return v;
}

/**
 * Finds `name` in Cookie header(s). Pairs without '=' or with invalid values are
 * skipped rather than failing the whole header, so one broken cookie set by
 * some other app does not break stickiness. The first valid occurrence wins.
 */
export function readCookie(
  cookieHeader: string | string[] | undefined,
  name: string,
): string | undefined {
  if (cookieHeader === undefined) return undefined;
  const headers = Array.isArray(cookieHeader) ? cookieHeader : [cookieHeader];
  for (const header of headers) {
    let start = 0;
    while (start <= header.length) {
      let end = header.indexOf(';', start);
      if (end === -1) end = header.length;
      const part = header.slice(start, end);
      start = end + 1;
      const eq = part.indexOf('=');
      if (eq === -1) continue;
      if (part.slice(0, eq).trim() !== name) continue;
      const value = parseValue(part.slice(eq + 1).trim());
      if (value !== undefined) return value;
    }
  }
  return undefined;
}

// Go drops bytes a cookie value may not contain and quotes values with a space or comma.
function sanitizeValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (isValidValueChar(code) || code === 0x2c) out += value[i];
  }
  return out.includes(' ') || out.includes(',') ? `"${out}"` : out;
}

function sameSiteAttribute(sameSite: string | undefined): string | undefined {
  switch ((sameSite ?? '').toLowerCase()) {
    case 'none':
      return 'None';
    case 'lax':
      return 'Lax';
    case 'strict':
      return 'Strict';
    default:
      // Traefik's default mode emits no attribute, leaving the browser default.
      return undefined;
  }
}

export function createStickyCookie(config: StickyCookieConfig, serviceName: string): StickyCookie {
  const name = config.name ? sanitizeCookieName(config.name) : defaultCookieName(serviceName);
  const attributes: string[] = [];
  // Traefik defaults the path to '/'; an explicit empty path omits the attribute, as in Go.
  // Characters that would end the attribute early are dropped rather than injected.
  const path = [...(config.path ?? '/')]
    .filter((ch) => ch !== ';' && ch.charCodeAt(0) >= 0x20 && ch.charCodeAt(0) !== 0x7f)
    .join('');
  if (path) attributes.push(`Path=${path}`);
  // Like Go, a leading dot is dropped (browsers ignore it); a domain that could
  // smuggle extra attributes is left out entirely.
  const domain = config.domain?.trim().replace(/^\./, '');
  if (domain && /^[A-Za-z0-9.\-:[\]]+$/.test(domain)) attributes.push(`Domain=${domain}`);
  const maxAge = config.maxAge ?? 0;
  // 0 means a session cookie (attribute omitted); negative means delete now.
  if (maxAge > 0) attributes.push(`Max-Age=${Math.floor(maxAge)}`);
  else if (maxAge < 0) attributes.push('Max-Age=0');
  if (config.httpOnly) attributes.push('HttpOnly');
  if (config.secure) attributes.push('Secure');
  const sameSite = sameSiteAttribute(config.sameSite);
  if (sameSite) attributes.push(`SameSite=${sameSite}`);
  const suffix = attributes.map((a) => `; ${a}`).join('');

  return {
    name,
    read: (cookieHeader) => readCookie(cookieHeader, name),
    serialize: (value) => `${name}=${sanitizeValue(value)}${suffix}`,
  };
}
