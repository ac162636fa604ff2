/*
 * The one decoder over the configuration schema (core.ts): checks a value
 * against a schema and returns it normalised (canonical field names, scalars
 * coerced from text, durations in milliseconds where the schema says so),
 * collecting every problem with its dotted path instead of stopping at the
 * first.
 *
 * Three inputs, one set of rules, worded for where the value came from:
 * - `config`: a file-provider YAML/JSON/TOML element (src/config/validate.ts);
 * - `options`: a middleware's options when its factory builds it
 *   (decodeOptions below; YAML numbers and booleans are taken as text for
 *   string options, as Traefik's decoder does);
 * - text: one label value (decodeText, used by src/config/labels.ts).
 * An unknown field gets the same message everywhere, so a typo reads the
 * same in a file and in a Docker label.
 *
 * Keys are matched ignoring case (Traefik's paerser uses strings.EqualFold)
 * and rewritten to the schema's spelling; map keys (header names) are kept
 * as written.
 */
import { ConfigElementError } from '../../kernel/errors.js';
import { tryParseGoDuration } from '../../kernel/duration.js';
import { isPlainObject, setKey } from '../objects.js';
import {
  enumOf,
  fieldsOf,
  hintOf,
  itemsOf,
  rangeOf,
  removedField,
  requiredOf,
  valuesOf,
  type Hint,
  type Kind,
  type Static,
  type TSchema,
} from './core.js';
import { suggest } from '../../kernel/suggest.js';

export interface Issue {
  /** dotted path inside the element, e.g. `loadBalancer.servers[0].url` */
  field: string;
  message: string;
}

export type Dialect = 'config' | 'options';

export const SKIP = Symbol('skip');
export type Decoded = unknown;

/** The message for a field the schema does not know, the same for files, labels and options. */
export function unknownFieldMessage(key: string, known: readonly string[]): string {
  const hint = suggest(key, known);
  return hint ? `unknown field "${key}", did you mean "${hint}"?` : `unknown field "${key}"`;
}

/** Seconds for a Go duration string, or a bare number of seconds (Traefik's ptypes.Duration). */
export function parseDuration(value: string | number): number | undefined {
  const ms = tryParseGoDuration(value);
  return ms === undefined ? undefined : ms / 1000;
}

/** Go's strconv.ParseBool spellings, which Traefik accepts for booleans given as text. */
const TRUE_TEXT = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE_TEXT = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/** Go's strconv.ParseBool, as Traefik reads label booleans (any case here). */
export function parseLabelBool(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (v === '1' || v === 't' || v === 'true') return true;
  if (v === '0' || v === 'f' || v === 'false') return false;
  return undefined;
}

/** Comma-separated list, as Traefik splits text for slice fields. */
export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** How a value's type is named in messages about files. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** How decodeOptions has always named a bad value. */
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

const INT_TEXT = /^[-+]?\d+$/;

/** Where a value is being decoded, and how to report a problem with it. */
interface At {
  schema: TSchema;
  hint: Hint;
  path: string;
  issues: Issue[];
  dialect: Dialect;
  /** the `options` dialect (middleware factories), worded and coerced as decodeOptions always was */
  opt: boolean;
}

function fail(at: At, message: string): typeof SKIP {
  at.issues.push({ field: at.path, message });
  return SKIP;
}

/** "must be X, got <value>" for options, "expected X, got <type>" for files */
function wrongType(at: At, value: unknown, forOptions: string, forFiles: string): typeof SKIP {
  return fail(
    at,
    at.opt
      ? `must be ${forOptions}, got ${describe(value)}`
      : `expected ${forFiles}, got ${typeName(value)}`,
  );
}

function decodeString(value: unknown, at: At): Decoded | typeof SKIP {
  let v: string;
  if (typeof value === 'string') v = value;
  // Traefik decodes every scalar from text; files keep strict strings (a numeric rule is a mistake)
  else if (at.opt && (typeof value === 'number' || typeof value === 'boolean')) v = String(value);
  else return wrongType(at, value, 'a string', 'a string');
  const allowed = enumOf(at.schema);
  if (allowed) {
    const match = allowed.find((o) => o.toLowerCase() === v.toLowerCase());
    if (match === undefined)
      return fail(
        at,
        at.opt
          ? `must be one of ${allowed.join(', ')}, got "${v}"`
          : `invalid value "${v}", expected one of: ${allowed.filter((o) => o !== '').join(', ')}`,
      );
    v = match;
  }
  const { startsWith } = at.hint;
  if (startsWith !== undefined && !v.startsWith(startsWith))
    return fail(at, `${at.path.split('.').pop()} must start with '${startsWith}'`);
  return v;
}

function decodeInt(value: unknown, at: At): Decoded | typeof SKIP {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && INT_TEXT.test(value.trim())) n = Number(value);
  else return wrongType(at, value, 'a number', 'an integer');
  if (!Number.isSafeInteger(n))
    return fail(at, at.opt ? `must be an integer, got ${n}` : `expected an integer, got ${n}`);
  return checkRange(at.schema, n, (m) => fail(at, m), at.opt) ?? n;
}

function decodeBool(value: unknown, at: At): Decoded | typeof SKIP {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const t = value.trim();
    if (TRUE_TEXT.has(t) || (at.opt && t.toLowerCase() === 'true')) return true;
    if (FALSE_TEXT.has(t) || (at.opt && t.toLowerCase() === 'false')) return false;
  }
  return wrongType(at, value, 'true or false', 'a boolean');
}

function decodeDuration(value: unknown, at: At): Decoded | typeof SKIP {
  if (typeof value !== 'string' && typeof value !== 'number')
    return wrongType(
      at,
      value,
      'a duration like 10s',
      'a duration such as "10s" or a number of seconds',
    );
  const seconds = parseDuration(value);
  if (seconds === undefined)
    return fail(
      at,
      at.opt
        ? `must be a duration like 10s or 100ms, got ${JSON.stringify(value)}`
        : `invalid duration "${value}", expected e.g. "500ms", "10s", "1m30s" or seconds`,
    );
  if (at.hint.min !== undefined && seconds < at.hint.min)
    return fail(at, `must not be negative, got ${at.opt ? JSON.stringify(value) : value}`);
  return at.hint.ms ? seconds * 1000 : value;
}

function decodeUrl(value: unknown, at: At): Decoded | typeof SKIP {
  if (typeof value !== 'string') return fail(at, `expected a url string, got ${typeName(value)}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail(at, `invalid url "${value}": not an absolute url`);
  }
  if (!['http:', 'https:', 'h2c:'].includes(url.protocol))
    return fail(at, `invalid url "${value}": scheme must be http, https or h2c`);
  if (!url.hostname) return fail(at, `invalid url "${value}": missing host`);
  return value;
}

/** a list of strings (`list`): each entry checked, every bad one reported */
function decodeStringList(value: unknown, at: At): Decoded | typeof SKIP {
  // Traefik splits a scalar on commas for list fields, as labels do
  if (typeof value === 'string') return splitList(value);
  if (!Array.isArray(value)) return wrongType(at, value, 'a list', 'a list of strings');
  const { issues, path } = at;
  const before = issues.length;
  const out: string[] = [];
  value.forEach((item, i) => {
    if (typeof item === 'string') out.push(item);
    else if (at.opt && (typeof item === 'number' || typeof item === 'boolean'))
      out.push(String(item));
    else
      issues.push({
        field: `${path}[${i}]`,
        message: at.opt
          ? `must be a string, got ${describe(item)}`
          : `expected a string, got ${typeName(item)}`,
      });
  });
  return issues.length > before ? SKIP : out;
}

/** a list of schema items (`array`), each decoded in turn */
function decodeArray(value: unknown, at: At): Decoded | typeof SKIP {
  if (!Array.isArray(value)) return wrongType(at, value, 'a list', 'a list');
  if (at.hint.nonEmpty && value.length === 0) return fail(at, 'must not be empty');
  const { issues, path } = at;
  const out: unknown[] = [];
  const items = itemsOf(at.schema);
  value.forEach((item, i) => {
    const r = decodeValue(items, item, `${path}[${i}]`, issues, at.dialect);
    if (r === SKIP) {
      if (item === null) issues.push({ field: `${path}[${i}]`, message: 'empty list entry' });
    } else out.push(r);
  });
  return out;
}

/** a map of names to schema values; names (header names) kept as written */
function decodeMap(value: unknown, at: At): Decoded | typeof SKIP {
  if (!isPlainObject(value)) return wrongType(at, value, 'a map', 'a mapping');
  const values = valuesOf(at.schema);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if ((v === null || v === undefined) && at.hint.nullAsEmpty) {
      setKey(out, k, '');
      continue;
    }
    const r = decodeValue(values, v, join(at.path, k), at.issues, at.dialect);
    if (r !== SKIP) setKey(out, k, r);
  }
  return out;
}

/** one decoder per kind of value; `any` and `object` are handled by decodeValue itself */
const DECODERS: Record<
  Exclude<Kind, 'any' | 'object'>,
  (value: unknown, at: At) => Decoded | typeof SKIP
> = {
  string: decodeString,
  int: decodeInt,
  bool: decodeBool,
  duration: decodeDuration,
  url: decodeUrl,
  list: decodeStringList,
  array: decodeArray,
  map: decodeMap,
};

/**
 * Checks `value` against `schema`; returns the normalised value, or SKIP
 * when it is left out (a null scalar is "not set", as Traefik decodes it to
 * the zero value, or the value was wrong: `issues` then says why).
 */
export function decodeValue(
  schema: TSchema,
  value: unknown,
  path: string,
  issues: Issue[],
  dialect: Dialect,
): Decoded | typeof SKIP {
  const hint = hintOf(schema);
  if (value === undefined) return SKIP;
  if (hint.kind === 'any') return value;
  if (hint.kind === 'object') return decodeObject(schema, value, path, issues, dialect);
  const opt = dialect === 'options';
  // a null map option is an empty map (a middleware with `headers:` and nothing under it)
  if (value === null) return hint.kind === 'map' && opt ? {} : SKIP;
  return DECODERS[hint.kind](value, { schema, hint, path, issues, dialect, opt });
}

function checkRange(
  schema: TSchema,
  n: number,
  fail: (m: string) => typeof SKIP,
  opt: boolean,
): typeof SKIP | undefined {
  const { min, max } = rangeOf(schema);
  if (min !== undefined && n < min)
    return fail(
      min === 0 && !opt ? `must not be negative, got ${n}` : `must be at least ${min}, got ${n}`,
    );
  if (max !== undefined && n > max) return fail(`must be at most ${max}, got ${n}`);
  return undefined;
}

/**
 * Maps each key of `value` to its canonical spelling among `known` (exact match
 * first, then ignoring case). Unknown and doubly-spelled keys become issues.
 */
export function canonicalEntries(
  value: Record<string, unknown>,
  known: readonly string[],
  path: string,
  issues: Issue[],
): [string, unknown][] {
  const byLower = new Map(known.map((k) => [k.toLowerCase(), k]));
  const seen = new Map<string, string>();
  const out: [string, unknown][] = [];
  for (const [key, v] of Object.entries(value)) {
    const canonical = known.includes(key) ? key : byLower.get(key.toLowerCase());
    if (canonical === undefined) {
      issues.push({ field: join(path, key), message: unknownFieldMessage(key, known) });
      continue;
    }
    const previous = seen.get(canonical);
    if (previous !== undefined) {
      issues.push({
        field: join(path, canonical),
        message: `field given twice ("${previous}" and "${key}"); field names are case-insensitive`,
      });
      continue;
    }
    seen.set(canonical, key);
    out.push([canonical, v]);
  }
  return out;
}

/** The value of `key` in any case. */
export function findCi(value: Record<string, unknown>, key: string): unknown {
  const k = Object.keys(value).find((x) => x.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : value[k];
}

function decodeObject(
  schema: TSchema,
  value: unknown,
  path: string,
  issues: Issue[],
  dialect: Dialect,
): Decoded | typeof SKIP {
  const hint = hintOf(schema);
  const fields = fieldsOf(schema);
  const known = Object.keys(fields);
  const opt = dialect === 'options';
  if (value === null || (opt && value === ''))
    return hint.allowEmpty || known.length === 0 || opt ? {} : SKIP;
  if (!opt && hint.allowEmpty && typeof value === 'boolean') return value ? {} : SKIP;
  if (!isPlainObject(value)) {
    issues.push({
      field: path,
      message: opt
        ? `options must be a map, got ${describe(value)}`
        : `expected a mapping, got ${typeName(value)}`,
    });
    return SKIP;
  }
  const out: Record<string, unknown> = {};
  let given = value;
  if (hint.removed) {
    given = {};
    for (const [key, v] of Object.entries(value)) {
      const removed = removedField(schema, key);
      if (removed) issues.push({ field: join(path, removed[0]), message: removed[1] });
      else setKey(given, key, v);
    }
  }
  for (const [key, v] of canonicalEntries(given, known, path, issues)) {
    const r = decodeValue(fields[key]!, v, join(path, key), issues, dialect);
    if (r !== SKIP) setKey(out, key, r);
  }
  for (const req of requiredOf(schema)) {
    if (opt) {
      if (out[req] === undefined && !issues.some((i) => i.field === join(path, req)))
        issues.push({ field: join(path, req), message: 'is required' });
      continue;
    }
    const given = findCi(value, req);
    if (given === undefined || given === null)
      issues.push({ field: join(path, req), message: `missing required field "${req}"` });
  }
  return out;
}

/**
 * Validates and normalises a middleware's options against its schema (keys
 * matched ignoring case, values coerced, durations in milliseconds) and
 * returns them typed; throws ConfigElementError naming the first bad option.
 */
export function decodeOptions<S extends TSchema>(schema: S, raw: unknown, path = ''): Static<S> {
  if (raw === undefined || raw === null || raw === '') raw = {};
  if (!isPlainObject(raw))
    throw new ConfigElementError(`options must be a map, got ${describe(raw)}`, path || undefined);
  const issues: Issue[] = [];
  const out = decodeObject(schema, raw, path, issues, 'options');
  const first = issues[0];
  if (first) throw new ConfigElementError(first.message, first.field || undefined);
  return out as Static<S>;
}

/** The result of reading one label value as a scalar of `schema`. */
export type TextResult = { value: unknown } | { error: string };

/**
 * One label value read as the scalar `schema` describes (labels are text:
 * Traefik parses numbers and booleans from it, splits lists on commas).
 * Durations stay text; the element's consumer parses them as it does for files.
 */
export function decodeText(schema: TSchema, text: string): TextResult {
  const hint = hintOf(schema);
  switch (hint.kind) {
    case 'string': {
      const allowed = enumOf(schema);
      if (!allowed) return { value: text };
      const match = allowed.find((o) => o.toLowerCase() === text.trim().toLowerCase());
      return match !== undefined
        ? { value: match }
        : {
            error: `invalid value "${text}", expected one of: ${allowed.filter((o) => o !== '').join(', ')}`,
          };
    }
    case 'url':
      return { value: text };
    case 'int': {
      if (!INT_TEXT.test(text.trim())) return { error: `expected an integer, got "${text}"` };
      const n = Number(text.trim());
      if (!Number.isSafeInteger(n)) return { error: `integer out of range: ${text}` };
      const { min, max } = rangeOf(schema);
      if (min !== undefined && n < min) return { error: `must be at least ${min}, got ${n}` };
      if (max !== undefined && n > max) return { error: `must be at most ${max}, got ${n}` };
      return { value: n };
    }
    case 'bool': {
      const b = parseLabelBool(text);
      return b === undefined
        ? { error: `expected a boolean (true or false), got "${text}"` }
        : { value: b };
    }
    case 'duration': {
      if (parseDuration(text) === undefined)
        return { error: `invalid duration "${text}", expected e.g. "500ms", "10s" or "1m30s"` };
      return { value: text.trim() };
    }
    case 'list':
      return { value: splitList(text) };
    default:
      return { error: 'expected a value here' };
  }
}
