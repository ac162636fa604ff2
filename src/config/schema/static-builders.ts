/*
 * Builders of the static options schema (src/config/schema/static.ts): each
 * returns JSON Schema that accepts what the static loader accepts from a file
 * (booleans and numbers also as text, lists also as one comma-separated text,
 * durations as Go durations or seconds, sections also as `api:` or `true`)
 * plus one `x-portico-static` annotation for `--help`, the docs and the
 * loader's option tree.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { formatDuration } from '../../kernel/duration.js';
import { DURATION_PATTERN } from './core.js';

export const STATIC_HINT = 'x-portico-static';

export type Placeholder =
  'bool' | 'int' | 'duration' | 'cidrs' | 'list' | 'address' | 'path' | 'name' | { shown: string };

export interface StaticHint {
  /** an option (leaf); absent on groups */
  placeholder?: Placeholder;
  /** the default as `--help` shows it: "1m0s", "(none)", "(required)" */
  def?: string;
  /** groups: a section that turns on by itself (`--api`, `accessLog: {}`), with its help */
  section?: string;
  /** groups: a note shown in `--help` under the group */
  note?: string;
  /** groups and maps: the placeholder of a name (`<name>`) and what a name is */
  map?: { placeholder: string; label?: string };
  /** a list of groups (Traefik's slices of structs): items are `name[n].field` in flags */
  groupList?: true;
  /** groups: Traefik options Portico knows about but does not implement yet */
  unsupported?: string[];
  /** lists: how each item is read (`pathOrPem`: a file path or inline PEM) */
  item?: ListItem;
  /** ints: the range the loader enforces */
  min?: number;
  max?: number;
  /** fixed words: lower-case spelling to the value Portico uses (PANIC reads as fatal) */
  values?: Record<string, string>;
}

export type ListItem = 'string' | 'cidr' | 'pathOrPem' | 'number';

export function staticHintOf(schema: TSchema): StaticHint {
  return (schema as unknown as Record<string, StaticHint>)[STATIC_HINT] ?? {};
}

// --- leaves -----------------------------------------------------------------

export const BOOL_TEXT = '^\\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[TtFf01])\\s*$';

export function leafMeta(
  placeholder: Placeholder,
  help: string,
  def: string | undefined,
  value: unknown,
  extra: Partial<StaticHint> = {},
): Record<string, unknown> {
  const hint: StaticHint =
    def === undefined ? { placeholder, ...extra } : { placeholder, def, ...extra };
  const out: Record<string, unknown> = { description: help, [STATIC_HINT]: hint };
  if (value !== undefined) out.default = value;
  return out;
}

/** a boolean; text in Go's strconv.ParseBool spellings too (`"true"`, `"1"`, `"f"`) */
export function bool(help: string, def?: 'true' | 'false') {
  return Type.Unsafe<boolean>({
    anyOf: [{ type: 'boolean' }, { type: 'string', pattern: BOOL_TEXT }],
    ...leafMeta('bool', help, def, def === undefined ? undefined : def === 'true'),
  });
}

export function int(help: string, def: string | undefined, min: number, max?: number) {
  const range = { minimum: min, ...(max !== undefined ? { maximum: max } : {}) };
  return Type.Unsafe<number>({
    anyOf: [
      { type: 'integer', ...range },
      { type: 'string', pattern: '^\\s*\\d+\\s*$' },
    ],
    ...leafMeta(
      'int',
      help,
      def,
      def !== undefined && /^\d+$/.test(def) ? Number(def) : undefined,
      max !== undefined ? { min, max } : { min },
    ),
  });
}

export function duration(help: string, def?: string) {
  return Type.Unsafe<string | number>({
    anyOf: [{ type: 'string', pattern: DURATION_PATTERN }, { type: 'number' }],
    ...leafMeta('duration', help, def, def),
  });
}

export const ms = (value: number): string => formatDuration(value);

/** text (a number is read as its text); `def` false: the shown default is not a value */
export function text(placeholder: 'name' | 'path', help: string, def?: string, isValue = true) {
  return Type.Unsafe<string>({
    type: ['string', 'number'],
    ...leafMeta(
      placeholder,
      help,
      def,
      isValue && def !== undefined && !def.startsWith('(') ? def : undefined,
    ),
  });
}

export const str = (help: string, def?: string, isValue = true) => text('name', help, def, isValue);
export const path = (help: string, def?: string) => text('path', help, def);

/** a list: YAML sequence, or one comma-separated text */
export function list(help: string, def?: string, item: ListItem = 'string') {
  const scalar = { type: ['string', 'number'] };
  const value =
    def === undefined || def.startsWith('(')
      ? undefined
      : def.split(',').map((v) => (item === 'number' ? Number(v) : v));
  return Type.Unsafe<(string | number)[]>({
    anyOf: [
      { type: 'array', items: scalar },
      { ...scalar, description: 'comma-separated' },
    ],
    ...leafMeta(item === 'cidr' ? 'cidrs' : 'list', help, def, value, { item }),
  });
}

/** one of fixed words, any case (JSON Schema enums are exact: the usual spellings are listed) */
export function oneOf(
  words: readonly string[],
  shown: string,
  help: string,
  def?: string,
  aliases: Record<string, string> = {},
) {
  const spellings = [...words, ...Object.keys(aliases)].flatMap((w) => [
    w,
    w.toUpperCase(),
    w[0]!.toUpperCase() + w.slice(1),
  ]);
  const values = { ...Object.fromEntries(words.map((w) => [w, w])), ...aliases };
  return Type.Unsafe<string>({
    type: 'string',
    enum: [...new Set(spellings)],
    ...leafMeta({ shown }, help, def, def, { values }),
  });
}

export function address(help: string) {
  return Type.Unsafe<string>({
    type: 'string',
    ...leafMeta('address', help, '(required)', undefined),
  });
}

// --- groups -------------------------------------------------------------------

export interface GroupExtra {
  section?: string;
  note?: string;
  unsupported?: string[];
  required?: string[];
}

/** a block as written in the file: every field optional */
export type Block<P extends Record<string, TSchema>> = { [K in keyof P]?: Static<P[K]> };

export function group<P extends Record<string, TSchema>, const E extends GroupExtra = GroupExtra>(
  fields: P,
  extra: E = {} as E,
) {
  const hint: StaticHint = {};
  if (extra.section !== undefined) hint.section = extra.section;
  if (extra.note !== undefined) hint.note = extra.note;
  if (extra.unsupported) hint.unsupported = extra.unsupported;
  const object = {
    type: 'object',
    properties: fields,
    additionalProperties: false,
    ...(extra.required ? { required: extra.required } : {}),
  };
  const doc = extra.section ?? extra.note;
  // a section also turns on from `api:` (null) or `api: true`
  const shape = extra.section
    ? {
        anyOf: [
          object,
          { type: 'null' },
          { type: 'boolean' },
          { type: 'string', pattern: BOOL_TEXT },
        ],
      }
    : object;
  // a section may also be written `api:` (null) or `api: true`
  return Type.Unsafe<Block<P> | (E extends { section: string } ? null | boolean | string : never)>({
    ...shape,
    ...(doc !== undefined ? { description: doc } : {}),
    [STATIC_HINT]: hint,
  });
}

export function map<T extends TSchema>(item: T, placeholder: string, label?: string) {
  const hint: StaticHint = { map: label ? { placeholder, label } : { placeholder } };
  return Type.Unsafe<Record<string, Static<T>>>({
    type: 'object',
    additionalProperties: item,
    [STATIC_HINT]: hint,
  });
}

/**
 * A list of groups, Traefik's slice of structs (`tls.domains`: [{main, sans}]):
 * a YAML/JSON list of blocks in a file; `--name[0].field` flags and
 * `NAME_0_FIELD` variables, where the index only groups one item's fields
 * (paerser builds the slice from the indexes it finds, in order).
 */
export function groupList<T extends TSchema>(item: T, help: string) {
  const hint: StaticHint = { groupList: true };
  return Type.Unsafe<Static<T>[]>({
    type: 'array',
    items: item,
    description: help,
    [STATIC_HINT]: hint,
  });
}

/** the object schema of a group, whether or not it is a section */
export function objectOf(schema: TSchema): TSchema | undefined {
  const s = schema as unknown as { type?: unknown; anyOf?: TSchema[]; properties?: unknown };
  if (s.properties) return schema;
  return s.anyOf?.find((a) => (a as unknown as { properties?: unknown }).properties);
}
