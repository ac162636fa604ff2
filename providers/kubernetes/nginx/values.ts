/* Checks and quoting shared by the annotation planners. */
import { isIP } from 'node:net';

export const HEADER_TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** Go's regexp.QuoteMeta. */
export function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/** A literal text as a redirectRegex / replacePathRegex replacement ($ doubled). */
export const literalReplacement = (s: string): string => s.replace(/\$/g, '$$$$');

export function validCidr(s: string): boolean {
  const [addr, bits, ...rest] = s.split('/');
  if (rest.length > 0 || addr === undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

export const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
