/*
 * Request-path normalisation: the one path routing and forwarding both use.
 */
import { describe, expect, it } from 'vitest';
import {
  BadPathError,
  normaliseTarget,
  removeDotSegments,
  type EncodedCharacterPolicy,
  type PathPolicy,
} from '../../src/server/path.js';

const REJECT_ALL: EncodedCharacterPolicy = {
  allowEncodedSlash: false,
  allowEncodedBackSlash: false,
  allowEncodedNullCharacter: false,
  allowEncodedSemicolon: false,
  allowEncodedPercent: false,
  allowEncodedQuestionMark: false,
  allowEncodedHash: false,
};
const ALLOW_ALL: EncodedCharacterPolicy = {
  allowEncodedSlash: true,
  allowEncodedBackSlash: true,
  allowEncodedNullCharacter: true,
  allowEncodedSemicolon: true,
  allowEncodedPercent: true,
  allowEncodedQuestionMark: true,
  allowEncodedHash: true,
};
/** Traefik's current default: every ambiguous encoded character refused */
const STRICT: PathPolicy = { sanitize: true, encoded: REJECT_ALL };
const LENIENT: PathPolicy = { sanitize: true, encoded: ALLOW_ALL };

describe('removeDotSegments', () => {
  // RFC 3986 §5.2.4 and the §5.4 reference-resolution examples that reduce to it
  it.each([
    ['/a/b/c/./../../g', '/a/g'],
    ['/a/b/c/.', '/a/b/c/'],
    ['/a/b/c/./', '/a/b/c/'],
    ['/a/b/c/..', '/a/b/'],
    ['/a/b/c/../', '/a/b/'],
    ['/a/b/c/../g', '/a/b/g'],
    ['/a/b/c/../..', '/a/'],
    ['/a/b/c/../../g', '/a/g'],
    ['/a/b/c/../../../g', '/g'],
    ['/a/b/c/../../../../g', '/g'],
    ['/./g', '/g'],
    ['/../g', '/g'],
    ['/a/b/c/g.', '/a/b/c/g.'],
    ['/a/b/c/.g', '/a/b/c/.g'],
    ['/a/b/c/g..', '/a/b/c/g..'],
    ['/a/b/c/..g', '/a/b/c/..g'],
    ['/a/b/c/./../g', '/a/b/g'],
    ['/a/b/c/./g/.', '/a/b/c/g/'],
    ['/a/b/c/g/./h', '/a/b/c/g/h'],
    ['/a/b/c/g/../h', '/a/b/c/h'],
  ])('RFC example %s → %s', (input, output) => {
    expect(removeDotSegments(input)).toBe(output);
  });

  it.each([
    ['/', '/'],
    ['/.', '/'],
    ['/..', '/'],
    ['/../', '/'],
    ['/a/..', '/'],
    ['/a/../', '/'],
    ['/a/', '/a/'],
    ['/a', '/a'],
    ['/a/b/', '/a/b/'],
    ['//', '/'],
    ['///', '/'],
    ['//a', '/a'],
    ['//a///b', '/a/b'],
    ['/a//b//', '/a/b/'],
    ['/a/./b/../../c/', '/c/'],
    ['/.well-known/x', '/.well-known/x'],
    ['/...', '/...'],
    ['/a/.../b', '/a/.../b'],
  ])('trailing slashes and empty segments: %s → %s', (input, output) => {
    expect(removeDotSegments(input)).toBe(output);
  });
});

describe('normaliseTarget', () => {
  it.each([
    // [target, path, query]
    ['/', '/', ''],
    ['/plain/path', '/plain/path', ''],
    ['/a/../b', '/b', ''],
    ['//a///b', '/a/b', ''],
    ['/public/../admin', '/admin', ''],
    ['/a/./b/', '/a/b/', ''],
    // unreserved characters decoded (RFC 3986 §2.3), in either hex case
    ['/%61bc', '/abc', ''],
    ['/%41%5a%30%2D%2e%5F%7e', '/AZ0-._~', ''],
    // decoded dots are dot segments
    ['/a/%2e%2e/b', '/b', ''],
    ['/a/%2E%2e/%2e/b', '/b', ''],
    ['/a/.%2e/b', '/b', ''],
    // other escapes kept, hex upper-cased (§6.2.2.1)
    ['/caf%c3%a9', '/caf%C3%A9', ''],
    ['/a%20b', '/a%20b', ''],
    ['/%7b%7D', '/%7B%7D', ''],
    // the query is kept raw: no decoding, no dot removal, no encoded-character policy
    ['/p?x=%2F&y=../..&z=%61', '/p', 'x=%2F&y=../..&z=%61'],
    ['/a/../p?', '/p', ''],
    ['/p?a?b', '/p', 'a?b'],
    ['/%61?%61', '/a', '%61'],
  ])('%s → path %s, query %s', (target, path, query) => {
    expect(normaliseTarget(target, STRICT)).toEqual({ path, query });
  });

  it('returns the same string for a clean path (no copy on the hot path)', () => {
    const target = '/api/v1/users';
    expect(normaliseTarget(target, STRICT).path).toBe(target);
  });

  it('leaves dot segments and duplicate slashes alone when sanitizePath is off', () => {
    const policy: PathPolicy = { sanitize: false, encoded: REJECT_ALL };
    expect(normaliseTarget('//a/../b/./c', policy).path).toBe('//a/../b/./c');
    // unreserved decoding still applies
    expect(normaliseTarget('/%61/%2e%2e/b', policy).path).toBe('/a/../b');
  });

  describe('encoded-character policy', () => {
    const flags: [keyof EncodedCharacterPolicy, string, string][] = [
      ['allowEncodedSlash', '%2F', '%2f'],
      ['allowEncodedBackSlash', '%5C', '%5c'],
      ['allowEncodedNullCharacter', '%00', '%00'],
      ['allowEncodedSemicolon', '%3B', '%3b'],
      ['allowEncodedPercent', '%25', '%25'],
      ['allowEncodedQuestionMark', '%3F', '%3f'],
      ['allowEncodedHash', '%23', '%23'],
    ];

    it.each(flags)('%s=false refuses %s and %s', (_flag, upper, lower) => {
      expect(() => normaliseTarget(`/a${upper}b`, STRICT)).toThrow(BadPathError);
      expect(() => normaliseTarget(`/a${lower}b`, STRICT)).toThrow(BadPathError);
    });

    it.each(flags)(
      '%s=true accepts %s and forwards it upper-cased, still encoded',
      (flag, upper, lower) => {
        const policy: PathPolicy = { sanitize: true, encoded: { ...REJECT_ALL, [flag]: true } };
        expect(normaliseTarget(`/a${lower}b`, policy).path).toBe(`/a${upper}b`);
        expect(normaliseTarget(`/a${upper}b`, policy).path).toBe(`/a${upper}b`);
      },
    );

    it.each(flags)('%s=true allows only its own character', (flag) => {
      const policy: PathPolicy = { sanitize: true, encoded: { ...REJECT_ALL, [flag]: true } };
      for (const [other, upper] of flags) {
        if (other === flag) continue;
        expect(() => normaliseTarget(`/a${upper}b`, policy), `${flag} vs ${upper}`).toThrow(
          BadPathError,
        );
      }
    });

    it('an encoded slash is not a segment separator for dot removal', () => {
      expect(normaliseTarget('/a/..%2Fb', LENIENT).path).toBe('/a/..%2Fb');
      expect(normaliseTarget('/a%2F../b', LENIENT).path).toBe('/a%2F../b');
    });

    it('an encoded percent is never decoded twice', () => {
      expect(normaliseTarget('/%252e%252e/admin', LENIENT).path).toBe('/%252e%252e/admin');
      expect(normaliseTarget('/%2561', LENIENT).path).toBe('/%2561');
    });

    it('the policy is not applied to the query', () => {
      expect(normaliseTarget('/p?next=%2F%00%23', STRICT)).toEqual({
        path: '/p',
        query: 'next=%2F%00%23',
      });
    });
  });

  /*
   * Issue 11 item 10: paths that common upstreams read differently from the router. A literal
   * backslash is a separator to WHATWG URL parsers (and IIS); `..;` is `..` with a path parameter
   * to Java servlet containers (Tomcat, Jetty) and `/;x/` an empty segment. Each could reach an
   * upstream as /admin under a router that did not match /admin.
   */
  describe('paths upstreams read differently', () => {
    it.each(['/x\\..\\admin', '/a\\b', '/\\admin', '/x/..\\admin'])(
      'a literal backslash counts as an encoded one: %s refused while allowEncodedBackSlash is false',
      (target) => {
        expect(() => normaliseTarget(target, STRICT)).toThrow(BadPathError);
      },
    );

    it.each([
      ['/x\\..\\admin', '/x%5C..%5Cadmin'],
      ['/a\\b', '/a%5Cb'],
      ['/a/\\../b', '/a/%5C../b'],
    ])(
      'with allowEncodedBackSlash, %s is routed and forwarded as %s (never a separator)',
      (target, path) => {
        expect(normaliseTarget(target, LENIENT).path).toBe(path);
      },
    );

    it.each([
      '/x/..;/admin',
      '/x/..;jsessionid=1/admin',
      '/x/.;/admin',
      '/x/.;x=1/../admin',
      '/;x/admin',
      '/x/;/admin',
      '/x//;/admin',
      '/x/%2e%2e;/admin',
      '/x/.%2E;/admin',
      '/x/..;',
    ])('a dot or empty segment with ;parameters is refused: %s', (target) => {
      expect(() => normaliseTarget(target, STRICT)).toThrow(BadPathError);
      expect(() => normaliseTarget(target, LENIENT)).toThrow(BadPathError);
    });

    it('an allowed %3B counts as ; for that rule', () => {
      expect(() => normaliseTarget('/x/..%3B/admin', LENIENT)).toThrow(BadPathError);
      expect(() => normaliseTarget('/x/..%3b/admin', LENIENT)).toThrow(BadPathError);
      expect(normaliseTarget('/x/a%3Bb', LENIENT).path).toBe('/x/a%3Bb');
    });

    it.each(['/app;jsessionid=AB12/x', '/a/b;v=1', '/a;/b', '/a/b..;/c', '/a/...;/c'])(
      'path parameters on a named segment pass unchanged: %s',
      (target) => {
        expect(normaliseTarget(target, STRICT).path).toBe(target);
      },
    );

    it('with sanitizePath off, ;parameters are left alone like dot segments', () => {
      const policy: PathPolicy = { sanitize: false, encoded: REJECT_ALL };
      expect(normaliseTarget('/x/..;/admin', policy).path).toBe('/x/..;/admin');
      // the backslash rule belongs to the encoded-character policy, which still applies
      expect(() => normaliseTarget('/x\\..\\admin', policy)).toThrow(BadPathError);
    });
  });

  describe('refused targets', () => {
    it.each([
      ['/a%', 'truncated escape at the end'],
      ['/a%4', 'one hex digit'],
      ['/a%4/b', 'one hex digit then slash'],
      ['/a%zz', 'non-hex digits'],
      ['/a%g1', 'non-hex first digit'],
      ['/a%1g', 'non-hex second digit'],
      ['/%%41', 'percent followed by an escape'],
      ['/a%%', 'two percents'],
      ['/a% 1', 'space after percent'],
    ])('invalid percent-encoding %s (%s) → BadPathError', (target) => {
      expect(() => normaliseTarget(target, LENIENT)).toThrow(BadPathError);
    });

    it.each([
      ['*', 'asterisk-form'],
      ['a/b', 'relative'],
      ['http://x.test/', 'absolute-form (split by the entrypoint first)'],
      ['/a#b', 'fragment in the path'],
      ['/a?b#c', 'fragment after the query'],
    ])('%s (%s) → BadPathError', (target) => {
      expect(() => normaliseTarget(target, LENIENT)).toThrow(BadPathError);
    });

    it('BadPathError carries a code for logs', () => {
      try {
        normaliseTarget('/a%zz', LENIENT);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(BadPathError);
        expect((err as BadPathError).code).toBe('PORTICO_ERR_BAD_PATH');
      }
    });
  });
});
