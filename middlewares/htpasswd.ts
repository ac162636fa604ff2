/*
 * htpasswd support shared by basicAuth and digestAuth: reading users files
 * and the user lists of both middlewares, and checking a password against an
 * htpasswd hash. Traefik accepts what Apache's htpasswd writes: bcrypt
 * ($2y$/$2a$/$2b$), APR1-MD5 ($apr1$, plus the plain MD5-crypt $1$ it shares
 * its algorithm with) and SHA1 ({SHA}). Each hash is decoded once at build
 * time into a verifier; an unknown format is a configuration error naming the
 * user instead of a login that can never succeed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import { ConfigElementError } from '../src/kernel/errors.js';
import { BCRYPT_HASH, MD5_CRYPT_HASH, SHA1_HASH } from '../src/config/password-hash.js';

/** An entry of `users` or of the users file, with the option that holds it (for error messages). */
export interface UserEntry {
  line: string;
  /** `users[2]` or `usersFile` */
  field: string;
}

/**
 * The users of an auth middleware: the users file first, then `users`, as
 * Traefik merges them (a later entry for the same name wins). The file is
 * read now, at build time; blank lines and `#` comments are skipped.
 */
export function loadUserEntries(
  users: string[] | undefined,
  usersFile: string | undefined,
): UserEntry[] {
  const out: UserEntry[] = [];
  if (usersFile !== undefined && usersFile !== '') {
    let text: string;
    try {
      text = readFileSync(usersFile, 'utf8');
    } catch (err) {
      throw new ConfigElementError(
        `cannot read ${usersFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        'usersFile',
      );
    }
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line !== '' && !line.startsWith('#')) out.push({ line, field: 'usersFile' });
    }
  }
  (users ?? []).forEach((line, i) => out.push({ line: line.trim(), field: `users[${i}]` }));
  return out;
}

/** Checks a password (raw bytes from the Authorization header) against one stored hash. */
export interface PasswordVerifier {
  /** hash family, for logs and tests */
  readonly kind: 'bcrypt' | 'apr1' | 'md5' | 'sha1';
  /** true when it may take milliseconds: the caller should cache successes */
  readonly slow: boolean;
  verify(password: Buffer): boolean | Promise<boolean>;
}

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function to64(value: number, n: number): string {
  let s = '';
  let v = value;
  while (n-- > 0) {
    s += ITOA64[v & 0x3f];
    v >>>= 6;
  }
  return s;
}

/**
 * MD5-crypt (Poul-Henning Kamp's algorithm) with the given magic: `$1$` is the
 * original, `$apr1$` Apache's variant that only changes the magic string.
 * Returns the 22-character encoded digest (the part after the salt).
 */
export function md5Crypt(password: Buffer, salt: string, magic: string): string {
  const saltBuf = Buffer.from(salt, 'latin1');
  let alt = createHash('md5').update(password).update(saltBuf).update(password).digest();
  const ctx = createHash('md5').update(password).update(magic, 'latin1').update(saltBuf);
  for (let left = password.length; left > 0; left -= 16) {
    ctx.update(alt.subarray(0, Math.min(left, 16)));
  }
  const zero = Buffer.alloc(1);
  const first = password.subarray(0, 1);
  for (let i = password.length; i > 0; i >>>= 1) ctx.update(i & 1 ? zero : first);
  let final = ctx.digest();
  // 1000 rounds, deliberately slow
  for (let i = 0; i < 1000; i++) {
    const round = createHash('md5');
    round.update(i & 1 ? password : final);
    if (i % 3 !== 0) round.update(saltBuf);
    if (i % 7 !== 0) round.update(password);
    round.update(i & 1 ? final : password);
    final = round.digest();
  }
  alt = final;
  const f = (a: number, b: number, c: number): number => (alt[a]! << 16) | (alt[b]! << 8) | alt[c]!;
  return (
    to64(f(0, 6, 12), 4) +
    to64(f(1, 7, 13), 4) +
    to64(f(2, 8, 14), 4) +
    to64(f(3, 9, 15), 4) +
    to64(f(4, 10, 5), 4) +
    to64(alt[11]!, 2)
  );
}

/**
 * Decodes an htpasswd hash into a verifier, or throws ConfigElementError on
 * `field` naming the user when the format is not one Traefik accepts.
 */
export function passwordVerifier(user: string, hash: string, field: string): PasswordVerifier {
  if (BCRYPT_HASH.test(hash)) {
    return {
      kind: 'bcrypt',
      slow: true,
      // bcryptjs compares in constant time; the async form yields between rounds
      verify: (password) => bcrypt.compare(password.toString('utf8'), hash),
    };
  }
  const md5 = MD5_CRYPT_HASH.exec(hash);
  if (md5 !== null) {
    const magic = `$${md5[1]!}$`;
    const salt = md5[2]!;
    const expected = Buffer.from(md5[3]!, 'latin1');
    return {
      kind: md5[1] === 'apr1' ? 'apr1' : 'md5',
      slow: true,
      verify: (password) =>
        timingSafeEqual(Buffer.from(md5Crypt(password, salt, magic), 'latin1'), expected),
    };
  }
  const sha = SHA1_HASH.exec(hash);
  if (sha !== null) {
    const expected = Buffer.from(sha[1]!, 'base64');
    return {
      kind: 'sha1',
      slow: false,
      verify: (password) => timingSafeEqual(createHash('sha1').update(password).digest(), expected),
    };
  }
  if (hash.startsWith('$2') || hash.startsWith('$apr1$') || hash.startsWith('{SHA}'))
    throw new ConfigElementError(`user "${user}": malformed password hash`, field);
  throw new ConfigElementError(
    `user "${user}": unsupported password hash; use bcrypt ($2y$), apr1 ($apr1$) or sha1 ({SHA}), as htpasswd -B, -m or -s writes them`,
    field,
  );
}
