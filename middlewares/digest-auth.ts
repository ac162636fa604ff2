/*
 * DigestAuth: HTTP Digest authentication (RFC 2617 / RFC 7616) with MD5 and
 * qop=auth, the subset Traefik implements (through go-http-auth) and every
 * browser speaks. Users are `name:realm:HA1` (htdigest's format), so no
 * password is ever stored. The server issues random nonces that expire; an
 * expired or unknown nonce with otherwise correct credentials gets a new
 * challenge with stale=true, which clients answer without asking the user
 * again. The nonce count must grow on every use of a nonce, which stops
 * replays. Nonces live in the state registry, so a configuration swap does
 * not log everyone out.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigElementError } from '../src/kernel/errors.js';
import type { RequestContext } from '../src/kernel/context.js';
import { sendStatus } from '../src/kernel/status.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { digestAuth as schema } from '../src/config/schema/middlewares/auth.js';
import { authSettings, passAuthenticated, userRecords } from './auth-common.js';

/** how long a nonce may be used (Apache's AuthDigestNonceLifetime default) */
export const NONCE_LIFETIME_MS = 300_000;
/** nonces remembered at once; the oldest goes first (go-http-auth keeps about as many) */
const MAX_NONCES = 1024;

interface NonceRecord {
  expires: number;
  /** highest nonce count seen; 0 = not used yet */
  nc: number;
}

interface DigestState {
  opaque: string;
  nonces: Map<string, NonceRecord>;
}

function md5(s: string): string {
  return createHash('md5').update(s, 'utf8').digest('hex');
}

/**
 * Parses `Digest k=v, k="quoted", ...` into a map (keys lower-cased), or
 * undefined when the scheme is not Digest or the list is malformed.
 */
export function parseDigest(header: string): Map<string, string> | undefined {
  if (header.length < 7 || header.slice(0, 7).toLowerCase() !== 'digest ') return undefined;
  const out = new Map<string, string>();
  const s = header;
  let i = 7;
  const n = s.length;
  for (;;) {
    while (i < n && (s[i] === ' ' || s[i] === '\t' || s[i] === ',')) i++;
    if (i >= n) return out;
    const eq = s.indexOf('=', i);
    if (eq === -1) return undefined;
    const key = s.slice(i, eq).trim().toLowerCase();
    if (key === '') return undefined;
    i = eq + 1;
    while (i < n && (s[i] === ' ' || s[i] === '\t')) i++;
    let value = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        if (i >= n) return undefined; // unterminated quoted-string
        const c = s[i]!;
        if (c === '\\' && i + 1 < n) {
          value += s[i + 1];
          i += 2;
        } else if (c === '"') {
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
    } else {
      const end = s.indexOf(',', i);
      value = (end === -1 ? s.slice(i) : s.slice(i, end)).trim();
      i = end === -1 ? n : end;
    }
    if (out.has(key)) return undefined; // a repeated parameter is ambiguous: refuse it
    out.set(key, value);
  }
}

const HEX32 = /^[0-9a-fA-F]{32}$/;
const NC = /^[0-9a-fA-F]{8}$/;

type Outcome = { user: string } | 'stale' | 'denied';

export const digestAuth: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw, build) {
    const o = decodeOptions(schema.options, raw);
    const settings = authSettings(o);
    const { realm } = settings;
    const users = new Map<string, string>();
    const otherRealms = new Set<string>();
    for (const { fields, field } of userRecords(
      o,
      3,
      'must be name:realm:hash (htdigest format)',
    )) {
      const [name, userRealm, ha1] = fields as [string, string, string];
      if (!HEX32.test(ha1))
        throw new ConfigElementError(
          `user "${name}": the hash must be 32 hex digits, md5(name:realm:password)`,
          field,
        );
      // as Traefik: only the users of the configured realm can log in
      if (userRealm === realm) users.set(name, ha1.toLowerCase());
      else otherRealms.add(userRealm);
    }
    if (otherRealms.size > 0)
      build.logger.warn(
        { realm, ignored: [...otherRealms] },
        'digestAuth users of another realm than the configured one cannot log in',
      );

    const state = build.state.acquire<DigestState>(`digestAuth:${build.name}:${realm}`, () => ({
      opaque: randomBytes(16).toString('hex'),
      nonces: new Map(),
    }));
    const nonces = state.nonces;

    const issue = (stale: boolean): Record<string, string> => {
      const now = Date.now();
      // oldest first: drop the expired ones and anything over the bound
      for (const [k, rec] of nonces) {
        if (rec.expires > now && nonces.size < MAX_NONCES) break;
        nonces.delete(k);
      }
      const nonce = randomBytes(16).toString('hex');
      nonces.set(nonce, { expires: now + NONCE_LIFETIME_MS, nc: 0 });
      return {
        'www-authenticate': `Digest realm="${realm}", nonce="${nonce}", opaque="${state.opaque}", algorithm=MD5, qop="auth"${stale ? ', stale=true' : ''}`,
      };
    };

    const authenticate = (ctx: RequestContext, header: string): Outcome => {
      const p = parseDigest(header);
      if (p === undefined) return 'denied';
      const user = p.get('username');
      const nonce = p.get('nonce');
      const uri = p.get('uri');
      const response = p.get('response');
      const nc = p.get('nc');
      const cnonce = p.get('cnonce');
      const algorithm = p.get('algorithm');
      if (
        user === undefined ||
        nonce === undefined ||
        uri === undefined ||
        response === undefined ||
        nc === undefined ||
        cnonce === undefined ||
        cnonce === '' ||
        !NC.test(nc) ||
        !HEX32.test(response) ||
        p.get('qop') !== 'auth' ||
        p.get('opaque') !== state.opaque ||
        (algorithm !== undefined && algorithm.toUpperCase() !== 'MD5')
      )
        return 'denied';
      // the digest covers the request-target the client sent; it must be this request's
      if (uri !== ctx.req.url) return 'denied';
      const ha1 = users.get(user);
      if (ha1 === undefined) return 'denied';
      const ha2 = md5(`${ctx.method}:${uri}`);
      const expected = md5(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
      if (
        !timingSafeEqual(
          Buffer.from(expected, 'latin1'),
          Buffer.from(response.toLowerCase(), 'latin1'),
        )
      )
        return 'denied';
      // the credentials are right: now is the nonce still good?
      const rec = nonces.get(nonce);
      if (rec === undefined) return 'stale';
      if (rec.expires <= Date.now()) {
        nonces.delete(nonce);
        return 'stale';
      }
      const count = parseInt(nc, 16);
      if (count <= rec.nc) return 'denied'; // replayed or out of order
      rec.nc = count;
      return { user };
    };

    return (next) => (ctx) => {
      const header = ctx.req.headers.authorization;
      const outcome = header === undefined ? 'denied' : authenticate(ctx, header);
      if (typeof outcome === 'string') {
        sendStatus(ctx.writer, 401, issue(outcome === 'stale'));
        return;
      }
      passAuthenticated(ctx, outcome.user, settings, next);
    };
  },
};
