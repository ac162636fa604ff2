/*
 * Builders for the configuration schema (issue 12 §1): each builder returns a
 * TypeBox schema, which is JSON Schema as it stands, whose static type is the
 * value after decoding (Static<> gives callers their types), plus one
 * `x-portico` annotation that says how Portico reads the value where JSON
 * Schema cannot: text coercion (labels, `priority: "10"`), Go durations,
 * comma-separated lists, blocks that `true`/`{}`/null turn on. The decoders
 * (decode.ts for YAML/JSON values, config/labels.ts for flat keys) and the
 * JSON Schema printer (json-schema.ts) walk these objects; nothing else
 * describes an option.
 *
 * Field names are matched case-insensitively by the decoders, as Traefik's
 * paerser does (strings.EqualFold); the schema holds the canonical camelCase.
 */
import {
  Type,
  type Static,
  type TObject,
  type TOptional,
  type TProperties,
  type TSchema,
  type TUnsafe,
} from '@sinclair/typebox';

export type { Static, TSchema, TObject } from '@sinclair/typebox';

export type Kind =
  | 'string'
  | 'int'
  | 'bool'
  /** a Go duration ("10s", "1m30s") or a number of seconds */
  | 'duration'
  /** an absolute http, https or h2c URL */
  | 'url'
  /** a list of strings; one string is split on commas, as Traefik does for labels and files */
  | 'list'
  | 'array'
  /** string keys (kept as written: header names) to one value type */
  | 'map'
  | 'object'
  /** anything; checked by whoever uses it */
  | 'any';

export interface Hint {
  kind: Kind;
  /** durations: decoded to milliseconds (middleware options); otherwise kept as written */
  ms?: boolean;
  /** durations: smallest value in seconds */
  min?: number;
  /** objects: null, `{}` or (labels) `true` turn the block on with defaults */
  allowEmpty?: boolean;
  /** arrays: at least one entry */
  nonEmpty?: boolean;
  /** maps: a null value is the empty string (`X-Powered-By:` removes the header) */
  nullAsEmpty?: boolean;
  /** strings: must start with this */
  startsWith?: string;
  /** objects: fields Traefik dropped, by canonical name, with where to go instead */
  removed?: Record<string, string>;
}

export const HINT = 'x-portico';

export function hintOf(schema: TSchema): Hint {
  return (schema as unknown as Record<string, Hint>)[HINT] ?? { kind: 'any' };
}

export interface Doc {
  description?: string;
  default?: unknown;
}

function meta(doc: Doc, hint: Hint): Record<string, unknown> {
  const out: Record<string, unknown> = { [HINT]: hint };
  if (doc.description !== undefined) out.description = doc.description;
  if (doc.default !== undefined) out.default = doc.default;
  return out;
}

/** A string (middleware options also take YAML numbers and booleans as their text). */
export function Str(doc: Doc & { startsWith?: string } = {}) {
  const { startsWith, ...rest } = doc;
  const hint: Hint = { kind: 'string' };
  if (startsWith !== undefined) hint.startsWith = startsWith;
  return Type.String({
    ...meta(rest, hint),
    ...(startsWith !== undefined ? { pattern: `^${escapeRegExp(startsWith)}` } : {}),
  });
}

/** Text that is often written as a number (a port, a status): YAML may give either. */
export function NumText(doc: Doc = {}): TUnsafe<string> {
  return Type.Unsafe<string>({ type: ['string', 'integer'], ...meta(doc, { kind: 'string' }) });
}

/** One of fixed values, matched ignoring case and returned in this spelling. */
export function OneOf<const V extends readonly string[]>(
  values: V,
  doc: Doc = {},
): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({
    type: 'string',
    enum: [...values],
    ...meta(doc, { kind: 'string' }),
  });
}

/** The same schema, typed as any string: for fields whose callers pass text through (ruleSyntax). */
export function AsText(schema: TSchema): TUnsafe<string> {
  return schema as unknown as TUnsafe<string>;
}

export function Int(doc: Doc & { min?: number; max?: number } = {}) {
  const { min, max, ...rest } = doc;
  return Type.Integer({
    ...meta(rest, { kind: 'int' }),
    ...(min !== undefined ? { minimum: min } : {}),
    ...(max !== undefined ? { maximum: max } : {}),
  });
}

export function Bool(doc: Doc = {}) {
  return Type.Boolean(meta(doc, { kind: 'bool' }));
}

/** Go duration syntax as tryParseGoDuration reads it: terms with units, or a bare number of seconds. */
export const DURATION_PATTERN =
  '^\\s*[-+]?((\\d+(\\.\\d*)?|\\.\\d+)(ns|us|µs|μs|ms|s|m|h))+\\s*$|^\\s*[-+]?(\\d+(\\.\\d*)?|\\.\\d+)\\s*$';

function durationSchema(doc: Doc, hint: Hint): Record<string, unknown> {
  return {
    anyOf: [{ type: 'string', pattern: DURATION_PATTERN }, { type: 'number' }],
    ...meta(doc, hint),
  };
}

/** A Go duration kept as written (the service builders parse it). */
export function Duration(doc: Doc & { min?: number } = {}): TUnsafe<string | number> {
  const { min, ...rest } = doc;
  return Type.Unsafe<string | number>(
    durationSchema(rest, min !== undefined ? { kind: 'duration', min } : { kind: 'duration' }),
  );
}

/** A Go duration decoded to milliseconds (middleware options); never negative. */
export function DurationMs(doc: Doc = {}): TUnsafe<number> {
  return Type.Unsafe<number>(durationSchema(doc, { kind: 'duration', ms: true, min: 0 }));
}

export function Url(doc: Doc = {}) {
  return Type.String(meta(doc, { kind: 'url' }));
}

/** A list of strings; a single string is split on commas. */
export function StrList(doc: Doc = {}): TUnsafe<string[]> {
  return Type.Unsafe<string[]>({
    anyOf: [
      { type: 'array', items: { type: 'string' } },
      { type: 'string', description: 'comma-separated' },
    ],
    ...meta(doc, { kind: 'list' }),
  });
}

export function Arr<T extends TSchema>(items: T, doc: Doc & { nonEmpty?: boolean } = {}) {
  const { nonEmpty, ...rest } = doc;
  return Type.Array(items, {
    ...meta(rest, nonEmpty ? { kind: 'array', nonEmpty } : { kind: 'array' }),
    ...(nonEmpty ? { minItems: 1 } : {}),
  });
}

/** String keys kept as written (header names, status ranges) to values of one type. */
export function Map<T extends TSchema>(
  values: T,
  doc: Doc & { nullAsEmpty?: boolean } = {},
): TUnsafe<Record<string, Static<T>>> {
  const { nullAsEmpty, ...rest } = doc;
  const valueSchema = nullAsEmpty
    ? { anyOf: [values, { type: 'null' }] }
    : (values as unknown as Record<string, unknown>);
  return Type.Unsafe<Record<string, Static<T>>>({
    type: 'object',
    additionalProperties: valueSchema,
    ...meta(rest, nullAsEmpty ? { kind: 'map', nullAsEmpty } : { kind: 'map' }),
    // the decoders read the value schema from here (the JSON form may wrap it in anyOf)
    'x-values': values,
  });
}

export function Any(doc: Doc = {}) {
  return Type.Unknown(meta(doc, { kind: 'any' }));
}

type WithOptional<P extends TProperties, R extends string> = {
  [K in keyof P]: K extends R ? P[K] : TOptional<P[K]>;
};

/**
 * An object with known fields; the ones not listed in `required` are
 * optional. Unknown fields are an error (with a did-you-mean hint).
 */
export function Obj<P extends TProperties, const R extends readonly (keyof P & string)[] = []>(
  fields: P,
  doc: Doc & { required?: R; allowEmpty?: boolean; removed?: Record<string, string> } = {},
): TObject<WithOptional<P, R[number]>> {
  const { required = [] as unknown as R, allowEmpty, removed, ...rest } = doc;
  const props: TProperties = {};
  for (const [k, v] of Object.entries(fields)) {
    props[k] = (required as readonly string[]).includes(k) ? v : Type.Optional(v);
  }
  const hint: Hint = { kind: 'object' };
  if (allowEmpty) hint.allowEmpty = true;
  if (removed) hint.removed = removed;
  return Type.Object(props, {
    additionalProperties: false,
    ...meta(rest, hint),
  }) as unknown as TObject<WithOptional<P, R[number]>>;
}

/** The fields of an object schema, by canonical name. */
export function fieldsOf(schema: TSchema): Record<string, TSchema> {
  return ((schema as unknown as { properties?: Record<string, TSchema> }).properties ??
    {}) as Record<string, TSchema>;
}

/** A field Traefik removed, by any spelling: its canonical name and the reason. */
export function removedField(schema: TSchema, key: string): [string, string] | undefined {
  const removed = hintOf(schema).removed;
  if (removed === undefined) return undefined;
  const name = Object.keys(removed).find((n) => n.toLowerCase() === key.toLowerCase());
  return name === undefined ? undefined : [name, removed[name]!];
}

export function requiredOf(schema: TSchema): readonly string[] {
  return (schema as unknown as { required?: string[] }).required ?? [];
}

export function itemsOf(schema: TSchema): TSchema {
  return (schema as unknown as { items: TSchema }).items;
}

export function valuesOf(schema: TSchema): TSchema {
  return (schema as unknown as { 'x-values': TSchema })['x-values'];
}

export function enumOf(schema: TSchema): readonly string[] | undefined {
  return (schema as unknown as { enum?: string[] }).enum;
}

export function rangeOf(schema: TSchema): { min?: number; max?: number } {
  const s = schema as unknown as { minimum?: number; maximum?: number };
  return { min: s.minimum, max: s.maximum };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
