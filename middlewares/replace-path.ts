/*
 * ReplacePath: forwards the request with a fixed path and keeps the path it
 * had in X-Replaced-Path. The path is written in its escaped (wire) form, as
 * Traefik's `path` option is, so `%2F` stays an encoded slash.
 */
import { ConfigElementError } from '../src/kernel/errors.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { replacePath as schema } from '../src/config/schema/middlewares/paths.js';

// characters that cannot appear raw in a request path (Go's URL.EscapedPath escapes them too)
const NEEDS_ESCAPE = /[^\x21-\x7e]|["#<>?\\^`{|}]/;
const NEEDS_ESCAPE_ALL = /[^\x21-\x7e]|["#<>?\\^`{|}]/gu;

/** Percent-encodes the characters that are not allowed raw in a path; `%` is left alone. */
export function escapePathChars(path: string): string {
  if (!NEEDS_ESCAPE.test(path)) return path;
  return path.replace(NEEDS_ESCAPE_ALL, (ch) => {
    let out = '';
    for (const b of Buffer.from(ch, 'utf8'))
      out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    return out;
  });
}

const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;

/** A `%` not followed by two hex digits: Go's url.PathUnescape refuses it. */
export function hasBadEscape(s: string): boolean {
  return s.includes('%') && BAD_ESCAPE.test(s);
}

export const replacePath: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw) {
    const o = decodeOptions(schema.options, raw);
    if (!o.path.startsWith('/')) throw new ConfigElementError('must start with /', 'path');
    // Traefik fails every request with 500 here; refusing the configuration is kinder
    if (hasBadEscape(o.path))
      throw new ConfigElementError('has a % that is not followed by two hex digits', 'path');
    const path = escapePathChars(o.path);
    return (next) => (ctx) => {
      // set, not added: a client-sent X-Replaced-Path must not sit next to ours
      ctx.req.headers['x-replaced-path'] = ctx.path;
      ctx.path = path;
      next(ctx);
    };
  },
};
