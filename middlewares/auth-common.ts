/*
 * What basicAuth and digestAuth share, as Traefik's auth middlewares do: the realm of the
 * challenge, the header that carries the user upstream (headerField) and removeHeader, the
 * user lines (name first, fields split at ':'), and letting an authenticated request through.
 */
import type { Handler, RequestContext } from '../src/kernel/context.js';
import { ConfigElementError } from '../src/kernel/errors.js';
import { loadUserEntries } from './htpasswd.js';

/** a header name as node stores it; validated so a config cannot inject into the request head */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** realm text must fit in a quoted-string without escaping */
export function checkRealm(realm: string | undefined): string {
  if (realm === undefined || realm === '') return 'traefik';
  // eslint-disable-next-line no-control-regex
  if (/["\\\x00-\x1f\x7f]/.test(realm))
    throw new ConfigElementError(
      'must not contain quotes, backslashes or control characters',
      'realm',
    );
  return realm;
}

export function checkHeaderField(field: string | undefined): string | undefined {
  if (field === undefined || field === '') return undefined;
  if (!TOKEN.test(field))
    throw new ConfigElementError(`"${field}" is not a valid header name`, 'headerField');
  return field.toLowerCase();
}

/** The options both middlewares have, checked. */
export interface AuthSettings {
  realm: string;
  /** lowercase; undefined: the user is not passed upstream in a header */
  headerField: string | undefined;
  removeHeader: boolean;
}

export function authSettings(o: {
  realm?: string | undefined;
  headerField?: string | undefined;
  removeHeader?: boolean | undefined;
}): AuthSettings {
  return {
    realm: checkRealm(o.realm),
    headerField: checkHeaderField(o.headerField),
    removeHeader: o.removeHeader === true,
  };
}

/**
 * The users file then `users` (loadUserEntries), each line split at ':' into exactly `count`
 * fields with a name first; any other line is a ConfigElementError on its option saying `format`.
 */
export function* userRecords(
  o: { users?: string[] | undefined; usersFile?: string | undefined },
  count: number,
  format: string,
): Generator<{ fields: string[]; field: string }> {
  // one line at a time, so the caller's own checks of a line come before the next line's
  for (const { line, field } of loadUserEntries(o.users, o.usersFile)) {
    const fields = line.split(':');
    if (fields.length !== count || fields[0] === '') throw new ConfigElementError(format, field);
    yield { fields, field };
  }
}

/**
 * Passes the authenticated request on: ctx.user, the user in headerField (replacing whatever
 * the client sent under that name), and Authorization removed when removeHeader asks.
 */
export function passAuthenticated(
  ctx: RequestContext,
  user: string,
  s: AuthSettings,
  next: Handler,
): void {
  const h = ctx.req.headers;
  ctx.user = user;
  if (s.headerField !== undefined) h[s.headerField] = user;
  if (s.removeHeader) delete h.authorization;
  next(ctx);
}
