/*
 * StripPrefixRegex: removes the start of the path matched by the first of a
 * list of RE2 expressions and tells the upstream what was removed in
 * X-Forwarded-Prefix. As in Traefik, a regex is not anchored: it counts only
 * when its leftmost match is a non-empty prefix of the path.
 */
import { ConfigElementError } from '../src/kernel/errors.js';
import { compileRe2, type GoRegexp } from '../src/rules/regex.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { stripPrefixRegex as schema } from '../src/config/schema/middlewares/paths.js';

/**
 * Compiles one option value as RE2 (linear time, Go's syntax: src/rules/regex.ts), naming the
 * option when it does not compile. Traefik trims the value before compiling it.
 */
export function compileOptionRegex(pattern: string, field: string): GoRegexp {
  try {
    return compileRe2(pattern.trim());
  } catch (err) {
    throw new ConfigElementError(
      `invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`,
      field,
      { cause: err },
    );
  }
}

export const stripPrefixRegex: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw) {
    const o = decodeOptions(schema.options, raw);
    if (o.regex.length === 0)
      throw new ConfigElementError('must list at least one expression', 'regex');
    const expressions = o.regex.map((p, i) => compileOptionRegex(p, `regex[${i}]`));
    return (next) => (ctx) => {
      const path = ctx.path;
      for (let i = 0; i < expressions.length; i++) {
        const m = expressions[i]!.exec(path);
        if (m === null) continue;
        const prefix = m[0];
        // Traefik skips a regex whose leftmost match is empty or not at the start of the path
        if (prefix === '' || !path.startsWith(prefix)) continue;
        const rest = path.slice(prefix.length);
        ctx.path = rest === '' ? '/' : rest.charCodeAt(0) === 0x2f ? rest : '/' + rest;
        // set, not added: a forged value from the client must never reach the upstream next to ours
        ctx.req.headers['x-forwarded-prefix'] = prefix;
        break;
      }
      next(ctx);
    };
  },
};
