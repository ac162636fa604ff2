/*
 * RedirectRegex: matches an RE2 expression against the request URL as the
 * client asked for it (scheme://host[:port]/path?query, with the path as
 * routing saw it) and, when the Go-style replacement gives a different URL,
 * answers with a redirect to it. No match, or the same URL: the request goes on.
 * The redirect helpers here are shared with RedirectScheme.
 */
import { STATUS_CODES } from 'node:http';
import { sendStatus } from '../src/kernel/status.js';
import type { RequestContext } from '../src/kernel/context.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { redirectRegex as schema } from '../src/config/schema/middlewares/paths.js';
import { compileOptionRegex } from './strip-prefix-regex.js';
import { hasBadEscape } from './replace-path.js';
import { parseGoTemplate } from '../src/rules/regex.js';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * Whether Go's url.Parse would refuse the URL (Traefik then answers 502):
 * control characters, a broken %-escape, or an escape inside the host.
 */
export function unparsableUrl(url: string): boolean {
  if (CONTROL.test(url) || hasBadEscape(url)) return true;
  const auth = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(url);
  return auth !== null && auth[1]!.includes('%');
}

const NOT_URL_SAFE = /[^\x21-\x7e]/u;
const NOT_URL_SAFE_ALL = /[^\x21-\x7e]/gu;

/** Percent-encodes spaces and non-ASCII (as Go's URL.String() does), so the Location header is valid. */
function escapeUrl(url: string): string {
  if (!NOT_URL_SAFE.test(url)) return url;
  return url.replace(NOT_URL_SAFE_ALL, (ch) => {
    let out = '';
    for (const b of Buffer.from(ch, 'utf8'))
      out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    return out;
  });
}

/**
 * Writes the redirect: 302, or 307 when the method is not GET (the client
 * must repeat the method and body); permanent gives 301 / 308. The body is
 * the status text, as Traefik writes it.
 */
export function writeRedirect(ctx: RequestContext, location: string, permanent: boolean): void {
  const get = ctx.method === 'GET';
  const status = permanent ? (get ? 301 : 308) : get ? 302 : 307;
  const body = STATUS_CODES[status]!;
  ctx.writer.writeHead(status, undefined, [
    'location',
    escapeUrl(location),
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(body.length),
  ]);
  ctx.writer.end(ctx.method === 'HEAD' ? undefined : body);
}

export const redirectRegex: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw) {
    const o = decodeOptions(schema.options, raw);
    const re = compileOptionRegex(o.regex, 'regex');
    const parts = parseGoTemplate(o.replacement);
    const permanent = o.permanent === true;
    return (next) => (ctx) => {
      // Traefik's raw URL: the scheme of this hop (no X-Forwarded-Proto), the Host header as sent
      const oldUrl = ctx.scheme + '://' + ctx.rawHost + ctx.target();
      if (!re.test(oldUrl)) {
        next(ctx);
        return;
      }
      const newUrl = re.replaceAll(oldUrl, parts);
      if (unparsableUrl(newUrl)) {
        sendStatus(ctx.writer, 502);
        return;
      }
      if (newUrl === oldUrl) {
        next(ctx);
        return;
      }
      writeRedirect(ctx, newUrl, permanent);
    };
  },
};
