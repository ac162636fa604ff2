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
 *
 * Two additions close split views Traefik leaves open (issue 11 item 10):
 *  - a literal backslash counts as `%5C`: refused unless allowEncodedBackSlash,
 *    and then routed and forwarded as `%5C`, never as `\`, which WHATWG URL
 *    parsers and IIS read as `/` (Go's URL.EscapedPath, hence Traefik, also
 *    forwards it as %5C, but its encodedCharacters check does not see it);
 *  - with sanitizing on, a segment that is empty, `.` or `..` once its
 *    `;parameters` are removed is refused: Java servlet containers read
 *    `/x/..;/admin` as `/admin` and `/;x/admin` as `//admin`.
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

/** the encoded characters Traefik's encodedCharacters options govern: the switch, and the name in the error */
const ENCODED_RULES: ReadonlyMap<number, readonly [keyof EncodedCharacterPolicy, string]> = new Map(
  [
    [0x2f, ['allowEncodedSlash', 'slash (%2F)']],
    [0x5c, ['allowEncodedBackSlash', 'backslash (%5C)']],
    [0x00, ['allowEncodedNullCharacter', 'null character (%00)']],
    [0x3b, ['allowEncodedSemicolon', 'semicolon (%3B)']],
    [0x25, ['allowEncodedPercent', 'percent (%25)']],
    [0x3f, ['allowEncodedQuestionMark', 'question mark (%3F)']],
    [0x23, ['allowEncodedHash', 'hash (%23)']],
  ],
);

function checkEncoded(byte: number, policy: EncodedCharacterPolicy): void {
  const rule = ENCODED_RULES.get(byte);
  if (rule !== undefined && !policy[rule[0]])
    throw new BadPathError(`encoded ${rule[1]} is not allowed in the path`);
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

/** A literal backslash is the encoded-backslash policy's business, and leaves as %5C. */
function encodeBackslashes(path: string, policy: EncodedCharacterPolicy): string {
  checkEncoded(0x5c, policy);
  return path.replaceAll('\\', '%5C');
}

/**
 * Refuses segments that are empty, `.` or `..` before their first `;` (or an allowed `%3B`):
 * RFC 3986 §3.3 leaves path parameters to the scheme, and servlet containers strip them before
 * resolving dot segments, so `..;x` climbs up there while it is a plain name here.
 */
function checkSegmentParameters(path: string): void {
  let start = 1;
  while (start <= path.length) {
    let end = path.indexOf('/', start);
    if (end === -1) end = path.length;
    const segment = path.slice(start, end);
    let cut = segment.indexOf(';');
    const encoded = segment.indexOf('%3B');
    if (encoded !== -1 && (cut === -1 || encoded < cut)) cut = encoded;
    if (cut !== -1) {
      const base = segment.slice(0, cut);
      if (base === '' || base === '.' || base === '..')
        throw new BadPathError(
          `path segment "${segment}" is a dot or empty segment with parameters`,
        );
    }
    start = end + 1;
  }
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
  if (path.includes('\\')) path = encodeBackslashes(path, policy.encoded);
  if (policy.sanitize) {
    if (path.includes(';') || path.includes('%3B')) checkSegmentParameters(path);
    if (needsSanitising(path)) path = removeDotSegments(path);
  }
  return { path, query };
}
