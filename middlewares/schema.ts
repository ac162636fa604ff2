/*
 * Option schemas for middlewares: one description per option serves
 * validation (a bad option names itself and the reason), case-insensitive
 * decoding (the file provider keeps keys as written, Docker labels lower-case
 * them) and the docs/dashboard. Values written as text (labels, env) are
 * coerced by type, as Traefik's decoder does.
 */
import { ConfigElementError } from '../src/kernel/errors.js';
import { parseGoDuration } from '../src/kernel/duration.js';
import { suggest } from '../src/config/validate.js';

export type OptionType =
  | 'string'
  | 'int'
  | 'number'
  | 'bool'
  /** Go duration ("10s", "100ms") or a number of seconds; decoded to milliseconds */
  | 'duration'
  /** a list of strings; a comma-separated string is split */
  | 'stringList'
  | 'intList'
  /** string → string map (header names and values keep their case) */
  | 'stringMap'
  /** a nested object described by `fields` */
  | 'object'
  /** anything; the factory checks it */
  | 'any';

export interface OptionSpec {
  type: OptionType;
  description?: string;
  required?: boolean;
  /** for 'object' */
  fields?: OptionsSchema;
  /** allowed values for 'string' (compared case-insensitively, returned canonical) */
  oneOf?: readonly string[];
  min?: number;
  max?: number;
}

export type OptionsSchema = Record<string, OptionSpec>;

function suggestion(key: string, names: string[]): string {
  const hint = suggest(key, names);
  return hint !== undefined ? `; did you mean ${hint}?` : `; known: ${names.join(', ')}`;
}

function fail(path: string, message: string): never {
  throw new ConfigElementError(message, path);
}

function coerce(spec: OptionSpec, value: unknown, path: string): unknown {
  switch (spec.type) {
    case 'any':
      return value;
    case 'string': {
      if (typeof value === 'number' || typeof value === 'boolean') value = String(value);
      if (typeof value !== 'string') fail(path, `must be a string, got ${describe(value)}`);
      if (spec.oneOf) {
        const hit = spec.oneOf.find((o) => o.toLowerCase() === (value as string).toLowerCase());
        if (hit === undefined)
          fail(path, `must be one of ${spec.oneOf.join(', ')}, got "${value as string}"`);
        return hit;
      }
      return value;
    }
    case 'int':
    case 'number': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isFinite(n))
        fail(path, `must be a number, got ${describe(value)}`);
      if (spec.type === 'int' && !Number.isInteger(n)) fail(path, `must be an integer, got ${n}`);
      if (spec.min !== undefined && n < spec.min)
        fail(path, `must be at least ${spec.min}, got ${n}`);
      if (spec.max !== undefined && n > spec.max)
        fail(path, `must be at most ${spec.max}, got ${n}`);
      return n;
    }
    case 'bool': {
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|false)$/i.test(value))
        return value.toLowerCase() === 'true';
      return fail(path, `must be true or false, got ${describe(value)}`);
    }
    case 'duration': {
      if (typeof value !== 'string' && typeof value !== 'number')
        fail(path, `must be a duration like 10s, got ${describe(value)}`);
      const ms = parseGoDuration(value, NaN);
      if (Number.isNaN(ms))
        fail(path, `must be a duration like 10s or 100ms, got ${JSON.stringify(value)}`);
      if (ms < 0) fail(path, `must not be negative, got ${JSON.stringify(value)}`);
      return ms;
    }
    case 'stringList':
    case 'intList': {
      let list: unknown[];
      if (typeof value === 'string')
        list = value
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
      else if (Array.isArray(value)) list = value;
      else return fail(path, `must be a list, got ${describe(value)}`);
      const item: OptionSpec = { type: spec.type === 'intList' ? 'int' : 'string' };
      return list.map((v, i) => coerce(item, v, `${path}[${i}]`));
    }
    case 'stringMap': {
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        fail(path, `must be a map, got ${describe(value)}`);
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        out[k] =
          v === null || v === undefined
            ? ''
            : (coerce({ type: 'string' }, v, `${path}.${k}`) as string);
      }
      return out;
    }
    case 'object':
      return decodeOptions(spec.fields ?? {}, value, path);
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/**
 * Validates and normalises middleware options: keys matched case-insensitively
 * to the schema's names, values coerced by type, unknown keys and missing
 * required ones rejected with the option's path. Throws ConfigElementError.
 */
export function decodeOptions<T = Record<string, unknown>>(
  schema: OptionsSchema,
  raw: unknown,
  path = '',
): T {
  if (raw === undefined || raw === null || raw === '') raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigElementError(`options must be a map, got ${describe(raw)}`, path || undefined);
  }
  const names = Object.keys(schema);
  const byLower = new Map(names.map((n) => [n.toLowerCase(), n]));
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const name = byLower.get(key.toLowerCase());
    const here = path ? `${path}.${key}` : key;
    if (name === undefined) fail(here, `unknown option${suggestion(key, names)}`);
    out[name] = coerce(schema[name]!, value, path ? `${path}.${name}` : name);
  }
  for (const [name, spec] of Object.entries(schema)) {
    if (spec.required && out[name] === undefined)
      fail(path ? `${path}.${name}` : name, 'is required');
  }
  return out as T;
}
