/*
 * Translation of Go RE2 patterns (what Traefik rules are written in) into JavaScript RegExp.
 * Constructs with an exact JS equivalent are rewritten; constructs whose meaning would silently
 * change, or that RE2 itself rejects (backreferences, lookaround), raise an error instead so a
 * rule never behaves differently from the same rule under Traefik.
 */

/** A pattern that cannot be used; `offset` is relative to the start of the pattern. */
export class RegexTranslationError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.offset = offset;
    this.name = 'RegexTranslationError';
  }
}

export interface TranslatedRegex {
  source: string;
  flags: string;
}

// RE2 POSIX classes are ASCII-only, so explicit ranges reproduce them exactly.
const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

// \uXXXX is a valid escape both with and without the u flag, unlike identity escapes.
function escapeLiteral(text: string): string {
  let out = '';
  for (const ch of text) {
    if (/^[0-9A-Za-z_]$/.test(ch)) out += ch;
    else {
      const cp = ch.codePointAt(0) ?? 0;
      out += cp <= 0xffff ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\u{${cp.toString(16)}}`;
    }
  }
  return out;
}

function leadingFlags(pattern: string): { flags: string; start: number } {
  let flags = '';
  let start = 0;
  for (;;) {
    const m = /^\(\?([A-Za-z]+)\)/.exec(pattern.slice(start));
    if (!m) return { flags, start };
    for (const f of m[1] ?? '') {
      if (f === 'U') {
        throw new RegexTranslationError('the ungreedy flag (?U) is not supported', start);
      }
      if (f !== 'i' && f !== 'm' && f !== 's') {
        throw new RegexTranslationError(`unknown flag ${f}, expected i, m or s`, start);
      }
      if (!flags.includes(f)) flags += f;
    }
    start += m[0].length;
  }
}

/** Rewrites an RE2 pattern into an equivalent JS source and flag set. */
export function translateRe2(pattern: string): TranslatedRegex {
  const lead = leadingFlags(pattern);
  let flags = lead.flags;
  let unicode = false;
  let out = '';
  let inClass = false;
  let classBodyStart = -1;
  const n = pattern.length;
  let i = lead.start;

  while (i < n) {
    const c = pattern[i] as string;

    if (c === '\\') {
      const d = pattern[i + 1];
      if (d === undefined) throw new RegexTranslationError('trailing backslash', i);
      if (d === 'Q') {
        const end = pattern.indexOf('\\E', i + 2);
        out += escapeLiteral(end < 0 ? pattern.slice(i + 2) : pattern.slice(i + 2, end));
        i = end < 0 ? n : end + 2;
        continue;
      }
      if (d >= '1' && d <= '9') {
        throw new RegexTranslationError('backreferences are not supported by re2', i);
      }
      if (d === 'C') {
        throw new RegexTranslationError('\\C (any byte) is not supported', i);
      }
      if ((d === 'z' || d === 'A') && !inClass) {
        // JS has no \A / \z; an empty look-around at the text boundary is immune to the m flag.
        out += d === 'z' ? '(?![\\s\\S])' : '(?<![\\s\\S])';
        i += 2;
        continue;
      }
      if (d === 'p' || d === 'P') {
        // Without the u flag JS would read \p as a literal "p", silently changing the match.
        unicode = true;
        if (pattern[i + 2] === '{') {
          const end = pattern.indexOf('}', i + 3);
          if (end < 0) throw new RegexTranslationError('unterminated \\p{...} class', i);
          let name = pattern.slice(i + 3, end);
          let kind = d;
          if (name.startsWith('^')) {
            name = name.slice(1);
            kind = d === 'p' ? 'P' : 'p';
          }
          out += `\\${kind}{${name}}`;
          i = end + 1;
        } else {
          const letter = pattern[i + 2];
          if (letter === undefined) throw new RegexTranslationError('incomplete \\p class', i);
          out += `\\${d}{${letter}}`;
          i += 3;
        }
        continue;
      }
      if (d === 'x' && pattern[i + 2] === '{') {
        const end = pattern.indexOf('}', i + 3);
        const hex = end < 0 ? '' : pattern.slice(i + 3, end);
        if (!/^[0-9A-Fa-f]{1,6}$/.test(hex) || parseInt(hex, 16) > 0x10ffff) {
          throw new RegexTranslationError('invalid \\x{...} escape', i);
        }
        const cp = parseInt(hex, 16);
        if (cp > 0xffff) unicode = true;
        out += cp <= 0xffff ? `\\u${hex.padStart(4, '0')}` : `\\u{${hex}}`;
        i = end + 1;
        continue;
      }
      out += c + d;
      i += 2;
      continue;
    }

    if (inClass) {
      if (c === '[' && pattern[i + 1] === ':') {
        const end = pattern.indexOf(':]', i + 2);
        if (end >= 0) {
          const name = pattern.slice(i + 2, end);
          if (name.startsWith('^')) {
            throw new RegexTranslationError('negated posix classes are not supported', i);
          }
          const ranges = POSIX_CLASSES[name];
          if (ranges === undefined) {
            throw new RegexTranslationError(`unknown posix class [:${name}:]`, i);
          }
          out += ranges;
          i = end + 2;
          continue;
        }
      }
      if (c === '[') {
        out += '\\[';
      } else if (c === ']') {
        // RE2 reads a ']' right after '[' or '[^' as a literal; JS would close an empty class.
        if (i === classBodyStart) out += '\\]';
        else {
          out += ']';
          inClass = false;
        }
      } else {
        out += c;
      }
      i++;
      continue;
    }

    if (c === '[') {
      inClass = true;
      out += '[';
      i++;
      if (pattern[i] === '^') {
        out += '^';
        i++;
      }
      classBodyStart = i;
      continue;
    }

    if (c === '(' && pattern[i + 1] === '?') {
      const a = pattern[i + 2];
      const b = pattern[i + 3];
      if (a === 'P' && b === '<') {
        out += '(?<';
        i += 4;
        continue;
      }
      if (a === 'P') {
        throw new RegexTranslationError('named backreferences are not supported by re2', i);
      }
      if (a === ':') {
        out += '(?:';
        i += 3;
        continue;
      }
      if (a === '=' || a === '!' || (a === '<' && (b === '=' || b === '!'))) {
        throw new RegexTranslationError('lookaround assertions are not supported by re2', i);
      }
      if (a === '<') {
        out += '(?<';
        i += 3;
        continue;
      }
      throw new RegexTranslationError(
        'inline flags are only supported at the start of the pattern, e.g. (?i)',
        i,
      );
    }

    out += c;
    i++;
  }

  if (unicode) flags += 'u';
  return { source: out, flags };
}

/** Translates and compiles; every failure is a RegexTranslationError. */
export function compileRe2(pattern: string): RegExp {
  const { source, flags } = translateRe2(pattern);
  try {
    return new RegExp(source, flags);
  } catch (err) {
    const raw = err instanceof Error ? err.message : String(err);
    // V8 repeats the whole pattern in its message; only the trailing reason is useful here.
    const reason = raw.slice(raw.lastIndexOf(': ') + 2) || raw;
    throw new RegexTranslationError(reason.charAt(0).toLowerCase() + reason.slice(1), 0);
  }
}
