/*
 * The request path, computed once per request and used both for routing and
 * for forwarding, so that the router and the upstream never disagree about
 * what was asked for (the split-view class of bugs).
 *
 * Steps follow Traefik's request-path security page:
 *  1. reject ambiguous encoded characters (%2F, %5C, %00, %3B, %25, %3F, %23)
 *     unless the entrypoint allows them;
 *  2. decode percent-encoded unreserved characters (RFC 3986 §2.3) and
 *     upper-case the remaining escapes (§6.2.2.1);
 *  3. remove `.` and `..` segments and merge duplicate slashes (§5.2.4).
 */

export interface EncodedCharacterPolicy {
  allowEncodedSlash: boolean;
  allowEncodedBackSlash: boolean;
  allowEncodedNullCharacter: boolean;
  allowEncodedSemicolon: boolean;
  allowEncodedPercent: boolean;
  allowEncodedQuestionMark: boolean;
  allowEncodedHash: boolean;
}

export interface PathPolicy {
  sanitize: boolean;
  encoded: EncodedCharacterPolicy;
}

export interface SplitTarget {
  path: string;
  /** the query string without '?', '' when absent */
  query: string;
}

/** Why a request target was refused: the server answers 400 with this reason. */
export class BadPathError extends Error {
  readonly code = 'PORTICO_ERR_BAD_PATH';
}

const HEX = '0123456789ABCDEF';

function isUnreserved(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2d || // -
    c === 0x2e || // .
    c === 0x5f || // _
    c === 0x7e // ~
  );
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function checkEncoded(byte: number, policy: EncodedCharacterPolicy): void {
  let allowed = true;
  let name = '';
  switch (byte) {
    case 0x2f:
      allowed = policy.allowEncodedSlash;
      name = 'slash (%2F)';
      break;
    case 0x5c:
      allowed = policy.allowEncodedBackSlash;
      name = 'backslash (%5C)';
      break;
    case 0x00:
      allowed = policy.allowEncodedNullCharacter;
      name = 'null character (%00)';
      break;
    case 0x3b:
      allowed = policy.allowEncodedSemicolon;
      name = 'semicolon (%3B)';
      break;
    case 0x25:
      allowed = policy.allowEncodedPercent;
      name = 'percent (%25)';
      break;
    case 0x3f:
      allowed = policy.allowEncodedQuestionMark;
      name = 'question mark (%3F)';
      break;
    case 0x23:
      allowed = policy.allowEncodedHash;
      name = 'hash (%23)';
      break;
  }
  if (!allowed) throw new BadPathError(`encoded ${name} is not allowed in the path`);
}

/** Decodes unreserved escapes, upper-cases the others, enforces the encoded-character policy. */
function normaliseEscapes(path: string, policy: EncodedCharacterPolicy): string {
  let out = '';
  let last = 0;
  for (let i = path.indexOf('%'); i !== -1; i = path.indexOf('%', i + 1)) {
    const hi = hexValue(path.charCodeAt(i + 1));
    const lo = hexValue(path.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) throw new BadPathError('invalid percent-encoding in the path');
    const byte = hi * 16 + lo;
    checkEncoded(byte, policy);
    out += path.slice(last, i);
    out += isUnreserved(byte) ? String.fromCharCode(byte) : '%' + HEX[hi] + HEX[lo];
    last = i + 3;
    i += 2;
  }
  return last === 0 ? path : out + path.slice(last);
}

/** RFC 3986 §5.2.4 remove_dot_segments, plus merging of empty segments (`//`). */
export function removeDotSegments(path: string): string {
  const segments = path.split('/');
  const out: string[] = [];
  // segments[0] is '' because the path starts with '/'
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '..') {
      out.pop();
    } else if (s !== '.' && s !== '') {
      out.push(s);
    }
  }
  const last = segments[segments.length - 1];
  // a trailing slash (or a trailing dot segment) keeps the path a directory, as browsers do
  const trailing = segments.length > 1 && (last === '' || last === '.' || last === '..');
  const joined = '/' + out.join('/');
  return trailing && out.length > 0 ? joined + '/' : joined;
}

function needsSanitising(path: string): boolean {
  return path.includes('//') || path.includes('/.');
}

/**
 * Splits a request target (origin-form) into the normalised path and the raw
 * query. Throws BadPathError for targets that must be answered 400.
 */
export function normaliseTarget(target: string, policy: PathPolicy): SplitTarget {
  if (target.charCodeAt(0) !== 0x2f) throw new BadPathError('request target must start with /');
  // fragments never reach a server in a valid request (RFC 9112 §3.2.1), in the path or after the
  // query: refuse them rather than guess what a later hop makes of them (GHSA-fvhj-4qfh-q2hm)
  if (target.includes('#')) throw new BadPathError('fragment in request target');
  const q = target.indexOf('?');
  let path = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q + 1);
  if (path.includes('%')) path = normaliseEscapes(path, policy.encoded);
  if (policy.sanitize && needsSanitising(path)) path = removeDotSegments(path);
  return { path, query };
}
