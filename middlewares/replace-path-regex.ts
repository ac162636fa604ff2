/*
 * ReplacePathRegex: rewrites the path with an RE2 expression and a Go-style
 * replacement (`$1`, `${1}`, `${name}`, `$$`), keeping the old path in
 * X-Replaced-Path. Go's expansion rules differ from JavaScript's (`$1x` is the
 * group named "1x", an unknown group is empty, every match is replaced), so
 * the replacement is parsed once (src/rules/regex.ts, with the RE2 engine)
 * and expanded per request. As in Traefik, an empty replacement leaves the
 * path alone.
 */
import { sendStatus } from '../src/kernel/status.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { replacePathRegex as schema } from '../src/config/schema/middlewares/paths.js';
import { compileOptionRegex } from './strip-prefix-regex.js';
import { escapePathChars, hasBadEscape } from './replace-path.js';
import { parseGoTemplate } from '../src/rules/regex.js';

export { parseGoTemplate, replaceAllGo, type TemplatePart } from '../src/rules/regex.js';

export const replacePathRegex: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw) {
    const o = decodeOptions(schema.options, raw);
    const re = compileOptionRegex(o.regex, 'regex');
    const replacement = (o.replacement ?? '').trim();
    const parts = parseGoTemplate(replacement);
    return (next) => (ctx) => {
      const current = ctx.path;
      // Traefik: `len(rp.replacement) > 0 && rp.regexp.MatchString(currentPath)`
      if (replacement === '' || !re.test(current)) {
        next(ctx);
        return;
      }
      let path = re.replaceAll(current, parts);
      if (hasBadEscape(path)) {
        // Traefik answers 500 when the rewritten path cannot be unescaped
        sendStatus(ctx.writer, 500);
        return;
      }
      path = escapePathChars(path);
      ctx.req.headers['x-replaced-path'] = current;
      ctx.path = path === '' ? '/' : path.charCodeAt(0) === 0x2f ? path : '/' + path;
      next(ctx);
    };
  },
};
