/*
 * BasicAuth: HTTP Basic authentication (RFC 7617) against htpasswd users, as
 * Traefik's basicAuth. Hashes are decoded at build time (middlewares/htpasswd.ts);
 * bcrypt and APR1 are slow on purpose, so successful checks are remembered
 * in a small LRU keyed by the exact Authorization value, and concurrent
 * checks of the same value share one computation (Traefik uses singleflight
 * for the same reason). A failed check is never cached.
 */
import { createHash } from 'node:crypto';
import type { RequestContext } from '../src/kernel/context.js';
import { sendStatus } from '../src/kernel/status.js';
import { stableKey } from '../src/config/objects.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { basicAuth as schema } from '../src/config/schema/middlewares/auth.js';
import { passwordVerifier, type PasswordVerifier } from './htpasswd.js';
import { authSettings, passAuthenticated, userRecords } from './auth-common.js';

// forward-auth-settings.ts takes checkHeaderField from here
export { checkHeaderField } from './auth-common.js';

/** A small LRU: Map keeps insertion order, so the first key is the least recently used. */
class Lru {
  private readonly map = new Map<string, string>();
  constructor(private readonly max: number) {}
  get(key: string): string | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, value: string): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
}

const CACHE_SIZE = 256;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

interface Credentials {
  user: string;
  password: Buffer;
}

/** `Basic <base64(user:password)>` → parts, or undefined when malformed (scheme is case-insensitive). */
function parseBasic(header: string): Credentials | undefined {
  if (header.length < 6 || header.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const b64 = header.slice(6).trim();
  if (b64.length % 4 !== 0 || !BASE64.test(b64)) return undefined;
  const raw = Buffer.from(b64, 'base64');
  const colon = raw.indexOf(0x3a);
  if (colon === -1) return undefined;
  return { user: raw.subarray(0, colon).toString('utf8'), password: raw.subarray(colon + 1) };
}

interface AuthState {
  cache: Lru;
  inflight: Map<string, Promise<string | undefined>>;
}

export const basicAuth: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw, build) {
    const o = decodeOptions(schema.options, raw);
    const settings = authSettings(o);
    const users = new Map<string, PasswordVerifier>();
    const fingerprint: string[] = [];
    const format = 'must be name:hash (one colon, as htpasswd writes)';
    for (const { fields, field } of userRecords(o, 2, format)) {
      const [name, hash] = fields as [string, string];
      users.set(name, passwordVerifier(name, hash, field));
      fingerprint.push(name, hash);
    }
    // Traefik accepts an empty user list (every request is refused); say so in the log
    if (users.size === 0) build.logger.warn('basicAuth has no users: every request will get 401');

    // the cache survives a configuration swap that leaves this middleware's users as they were
    const key = createHash('sha256').update(stableKey(fingerprint)).digest('base64url');
    const state = build.state.acquire<AuthState>(`basicAuth:${build.name}:${key}`, () => ({
      cache: new Lru(CACHE_SIZE),
      inflight: new Map(),
    }));
    const challenge = { 'www-authenticate': `Basic realm="${settings.realm}"` };

    const check = (header: string): string | undefined | Promise<string | undefined> => {
      const creds = parseBasic(header);
      if (creds === undefined) return undefined;
      const verifier = users.get(creds.user);
      if (verifier === undefined) return undefined;
      const ok = verifier.verify(creds.password);
      if (typeof ok === 'boolean') {
        if (ok && verifier.slow) state.cache.set(header, creds.user);
        return ok ? creds.user : undefined;
      }
      const pending = ok.then(
        (good) => {
          state.inflight.delete(header);
          if (good) state.cache.set(header, creds.user);
          return good ? creds.user : undefined;
        },
        () => {
          state.inflight.delete(header);
          return undefined;
        },
      );
      state.inflight.set(header, pending);
      return pending;
    };

    return (next) => {
      const pass = (ctx: RequestContext, user: string | undefined): void => {
        if (user === undefined) {
          sendStatus(ctx.writer, 401, challenge);
          return;
        }
        passAuthenticated(ctx, user, settings, next);
      };
      return (ctx) => {
        const header = ctx.req.headers.authorization;
        if (header === undefined) return pass(ctx, undefined);
        const cached = state.cache.get(header);
        if (cached !== undefined) return pass(ctx, cached);
        const result = state.inflight.get(header) ?? check(header);
        if (result === undefined || typeof result === 'string') return pass(ctx, result);
        void result.then((user) => {
          if (!ctx.clientGone && !ctx.writer.destroyed) pass(ctx, user);
        });
      };
    };
  },
};
