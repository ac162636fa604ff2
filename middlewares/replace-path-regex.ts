/*
 * ReplacePathRegex: rewrites the path with an RE2 expression and a Go-style
 * replacement (`$1`, `${1}`, `${name}`, `$$`), keeping the old path in
 * X-Replaced-Path. Go's expansion rules differ from JavaScript's (`$1x` is the
 * group named "1x", an unknown group is empty, every match is replaced), so
 * the replacement is parsed here once and expanded by hand per request.
 */
import { sendStatus } from '../src/proxy/errors.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { compileOptionRegex } from './strip-prefix-regex.js';
import { escapePathChars, hasBadEscape } from './replace-path.js';

const options = {
  regex: { type: 'string', required: true, description: 'RE2 expression matched against the path' },
  replacement: {
    type: 'string',
    description: 'the new path; $1 or ${1} insert a group, ${name} a named group, $$ a dollar',
  },
} as const;

/** A parsed Go replacement template: literal text, a group number, or a group name. */
export type TemplatePart = string | number | { name: string };

const NAME_CHAR = /[A-Za-z0-9_]/;

/** Parses a replacement the way Go's regexp.Expand reads it. */
export function parseGoTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let lit = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i]!;
    if (c !== '$') {
      lit += c;
      i++;
      continue;
    }
    if (template[i + 1] === '$') {
      lit += '$';
      i += 2;
      continue;
    }
    const brace = template[i + 1] === '{';
    let j = brace ? i + 2 : i + 1;
    const start = j;
    while (j < template.length && NAME_CHAR.test(template[j]!)) j++;
    const name = template.slice(start, j);
    if (name === '' || (brace && template[j] !== '}')) {
      // malformed: Go copies the $ as text
      lit += '$';
      i++;
      continue;
    }
    if (lit !== '') parts.push(lit);
    lit = '';
    parts.push(/^[0-9]+$/.test(name) ? Number(name) : { name });
    i = brace ? j + 1 : j;
  }
  if (lit !== '') parts.push(lit);
  return parts;
}

function expand(parts: readonly TemplatePart[], m: RegExpExecArray): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'string') out += p;
    else if (typeof p === 'number') out += m[p] ?? '';
    else out += m.groups?.[p.name] ?? '';
  }
  return out;
}

/**
 * Go's ReplaceAllString: every non-overlapping match is replaced; an empty
 * match right after the previous match is skipped. `re` must have the g flag.
 */
export function replaceAllGo(re: RegExp, input: string, parts: readonly TemplatePart[]): string {
  let out = '';
  let last = 0;
  let prevEnd = -1;
  re.lastIndex = 0;
  for (;;) {
    const m = re.exec(input);
    if (m === null) break;
    const start = m.index;
    const end = start + m[0].length;
    if (start === end) {
      re.lastIndex = start + 1;
      if (start === prevEnd) continue;
    }
    out += input.slice(last, start) + expand(parts, m);
    last = end;
    prevEnd = end;
    if (re.lastIndex > input.length) break;
  }
  return out + input.slice(last);
}

export const replacePathRegex: MiddlewareDefinition = {
  type: 'replacePathRegex',
  description:
    'rewrites the path with a regular expression; the upstream sees the old one in X-Replaced-Path',
  options,
  create(raw) {
    const o = decodeOptions<{ regex: string; replacement?: string }>(options, raw);
    const test = compileOptionRegex(o.regex, 'regex');
    const all = new RegExp(test.source, test.flags + 'g');
    const parts = parseGoTemplate((o.replacement ?? '').trim());
    return (next) => (ctx) => {
      const current = ctx.path;
      if (!test.test(current)) {
        next(ctx);
        return;
      }
      let path = replaceAllGo(all, current, parts);
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
