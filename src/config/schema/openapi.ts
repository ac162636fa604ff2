/*
 * JSON Schema (the configuration schema's TypeBox objects, or any draft-07
 * document) to the OpenAPI v3 *structural* schema a CustomResourceDefinition
 * embeds (issue 12 §1, issue 14 §5). Kubernetes' rules
 * (https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema):
 * every node has a `type` unless it is int-or-string or preserves unknown
 * fields; no $ref; `properties` and `additionalProperties` never together;
 * `nullable` instead of type arrays; junctors (anyOf…) only carry value
 * validations. How each JSON Schema shape maps:
 *
 * - `$ref` to `definitions`/`$defs` is inlined (a recursive one is an error);
 * - string|integer (a port, a status) and string|number (a Go duration) become
 *   `x-kubernetes-int-or-string` with Traefik's `anyOf: [integer, string]`
 *   (a string pattern stays on the node: it only applies to strings);
 * - list|comma-separated-string (labels need the string form) becomes the list;
 * - a `null` branch or type becomes `nullable: true`;
 * - a record is `additionalProperties`; an object with known fields keeps
 *   `properties` and loses `additionalProperties: false`, since Kubernetes
 *   prunes unknown fields and `kubectl apply` rejects them (strict field
 *   validation, its default) — rejectUnknownFields() says the same to ajv;
 * - an unconstrained value (`{}`, Type.Unknown) preserves unknown fields;
 * - `const` becomes a one-value enum; `$schema`, `$id`, `title`,
 *   `patternProperties`, `uniqueItems` and Portico's `x-portico`/`x-values`
 *   annotations go;
 * - `default` stays where Kubernetes applies it: outside junctors and only
 *   when the value fits the node (the API server refuses a CRD otherwise);
 *   or, with `defaults: 'describe'`, only in the description.
 *
 * Anything else a structural schema cannot say (a union of an object and a
 * boolean, say) throws a StructuralSchemaError naming the path, so a new
 * option that cannot be expressed is caught by the CRD tests, not in a cluster.
 */

export type OpenApiSchema = Record<string, unknown>;

export class StructuralSchemaError extends Error {
  readonly code = 'ERR_NOT_STRUCTURAL';
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`${path || '<root>'}: ${reason}`);
  }
}

/** Value validations copied as they are. */
const COPIED = [
  'description',
  'enum',
  'format',
  'minimum',
  'maximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'required',
  'example',
] as const;

/** Formats Kubernetes knows (k8s.io/kube-openapi strfmt); others are dropped. */
const FORMATS = new Set([
  'int32',
  'int64',
  'float',
  'double',
  'byte',
  'binary',
  'date',
  'date-time',
  'duration',
  'password',
  'uri',
  'email',
  'hostname',
  'ipv4',
  'ipv6',
  'cidr',
  'mac',
  'uuid',
]);

const SCALARS = new Set(['string', 'integer', 'number', 'boolean']);

type Node = Record<string, unknown>;

function isNode(v: unknown): v is Node {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export interface StructuralOptions {
  /**
   * `keep` (the default): `default` where Kubernetes allows it; the API server
   * then writes it into every stored object. `describe`: only say it in the
   * description, for objects other controllers read too (crds.ts says why).
   */
  defaults?: 'keep' | 'describe';
}

interface Walk {
  root: Node;
  defaults: 'keep' | 'describe';
  /** $refs being inlined, to refuse recursion */
  refs: readonly string[];
}

function resolveRef(ref: string, w: Walk, path: string): Node {
  const m = /^#\/(definitions|\$defs)\/(.+)$/.exec(ref);
  const defs = m ? (w.root[m[1]!] as Node | undefined) : undefined;
  const target = m && defs ? defs[decodeURIComponent(m[2]!)] : undefined;
  if (!isNode(target)) throw new StructuralSchemaError(path, `cannot inline $ref ${ref}`);
  if (w.refs.includes(ref))
    throw new StructuralSchemaError(path, `recursive $ref ${ref} cannot be inlined`);
  return target;
}

/** The node with $ref inlined and allOf merged, so unions and types can be read off it. */
function flatten(s: Node, w: Walk, path: string): { node: Node; w: Walk } {
  let node = s;
  let walk = w;
  while (typeof node.$ref === 'string') {
    const ref = node.$ref;
    const { $ref: _, ...rest } = node;
    node = { ...resolveRef(ref, walk, path), ...rest };
    walk = { ...walk, refs: [...walk.refs, ref] };
  }
  if (Array.isArray(node.allOf)) {
    // TypeBox's Intersect and hand-written allOf: merge the object parts
    const { allOf, ...rest } = node;
    let merged: Node = rest;
    for (const part of allOf as unknown[]) {
      if (!isNode(part)) continue;
      const flat = flatten(part, walk, path).node;
      merged = {
        ...flat,
        ...merged,
        properties: { ...(flat.properties as Node), ...(merged.properties as Node) },
        required: [
          ...new Set([
            ...((flat.required as string[] | undefined) ?? []),
            ...((merged.required as string[] | undefined) ?? []),
          ]),
        ],
      };
    }
    if (Object.keys(merged.properties as Node).length === 0) delete merged.properties;
    if ((merged.required as string[]).length === 0) delete merged.required;
    node = merged;
  }
  return { node, w: walk };
}

const INT_OR_STRING: Node = {
  'x-kubernetes-int-or-string': true,
  anyOf: [{ type: 'integer' }, { type: 'string' }],
};

/**
 * What a union (anyOf/oneOf, or a type array) becomes: the one branch left
 * after `null`, int-or-string, or the list of a list|string pair.
 */
function unionOf(branches: Node[], w: Walk, path: string): { node: Node; nullable: boolean } {
  const flat = branches.map((b) => flatten(b, w, path).node);
  const nonNull = flat.filter((b) => b.type !== 'null');
  const nullable = nonNull.length < flat.length;
  if (nonNull.length === 1) return { node: nonNull[0]!, nullable };
  const types = nonNull.map((b) => b.type);
  const scalarTypes = new Set(types);
  if (
    types.every((t) => t === 'string' || t === 'integer' || t === 'number') &&
    scalarTypes.has('string') &&
    scalarTypes.size > 1
  ) {
    const str = nonNull.find((b) => b.type === 'string')!;
    const node: Node = { ...INT_OR_STRING };
    if (typeof str.pattern === 'string') node.pattern = str.pattern;
    return { node, nullable };
  }
  const arrays = nonNull.filter((b) => b.type === 'array');
  if (arrays.length === 1 && nonNull.every((b) => b.type === 'array' || b.type === 'string')) {
    // Traefik's comma-separated string form is for labels; manifests write YAML lists
    return { node: arrays[0]!, nullable };
  }
  throw new StructuralSchemaError(
    path,
    `a union of ${JSON.stringify(types)} has no structural form (int-or-string, nullable or a list)`,
  );
}

/** Does `value` fit `node` (type, enum, range) — Kubernetes refuses a CRD whose default does not. */
function fits(node: Node, value: unknown): boolean {
  if (
    Array.isArray(node.enum) &&
    !node.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))
  )
    return false;
  if (value === null) return node.nullable === true;
  if (node['x-kubernetes-int-or-string'])
    return typeof value === 'string' || Number.isInteger(value);
  if (typeof value === 'number') {
    if (typeof node.minimum === 'number' && value < node.minimum) return false;
    if (typeof node.maximum === 'number' && value > node.maximum) return false;
  }
  switch (node.type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value) && value.every((v) => fits(node.items as Node, v));
    case 'object':
      return isNode(value);
    default:
      return node['x-kubernetes-preserve-unknown-fields'] === true;
  }
}

function convert(input: unknown, w: Walk, path: string): Node {
  if (input === true || (isNode(input) && Object.keys(input).length === 0))
    return { 'x-kubernetes-preserve-unknown-fields': true };
  if (!isNode(input)) throw new StructuralSchemaError(path, 'a schema must be an object');
  const flat = flatten(input, w, path);
  let s = flat.node;
  const walk = flat.w;
  let nullable = s.nullable === true;

  // unions: anyOf/oneOf and type arrays
  const junctor = Array.isArray(s.anyOf) ? 'anyOf' : Array.isArray(s.oneOf) ? 'oneOf' : undefined;
  if (junctor) {
    const { [junctor]: branches, ...outer } = s;
    const u = unionOf(branches as Node[], walk, path);
    nullable ||= u.nullable;
    // the outer node's description and default win over the branch's
    s = { ...u.node, ...outer };
  }
  if (Array.isArray(s.type)) {
    const u = unionOf(
      (s.type as string[]).map((t) => ({ type: t })),
      walk,
      path,
    );
    nullable ||= u.nullable;
    const { type: _, ...rest } = s;
    s = { ...rest, ...u.node };
    if (s['x-kubernetes-int-or-string']) delete s.type;
  }

  const out: Node = {};
  for (const k of COPIED) {
    if (s[k] === undefined) continue;
    if (k === 'format' && !FORMATS.has(String(s.format))) continue;
    if (k === 'required' && (s.required as unknown[]).length === 0) continue;
    out[k] = s[k];
  }
  if ('const' in s) out.enum = [s.const];
  // draft-07 numeric exclusive bounds to OpenAPI v3's booleans
  if (typeof s.exclusiveMinimum === 'number') {
    out.minimum = s.exclusiveMinimum;
    out.exclusiveMinimum = true;
  }
  if (typeof s.exclusiveMaximum === 'number') {
    out.maximum = s.exclusiveMaximum;
    out.exclusiveMaximum = true;
  }

  if (s['x-kubernetes-int-or-string']) {
    Object.assign(out, INT_OR_STRING);
  } else if (typeof s.type === 'string') {
    if (s.type === 'null') throw new StructuralSchemaError(path, 'a value that can only be null');
    out.type = s.type;
  }

  const properties = isNode(s.properties) ? s.properties : undefined;
  if (properties !== undefined || s.type === 'object') {
    out.type = 'object';
    if (properties !== undefined && Object.keys(properties).length > 0) {
      out.properties = Object.fromEntries(
        Object.entries(properties).map(([k, v]) => [k, convert(v, walk, `${path}.${k}`)]),
      );
    } else if (isNode(s.additionalProperties)) {
      out.additionalProperties = convert(s.additionalProperties, walk, `${path}{}`);
    } else if (s.additionalProperties === true) {
      out['x-kubernetes-preserve-unknown-fields'] = true;
    }
  }
  if (s.type === 'array' || s.items !== undefined) {
    if (Array.isArray(s.items))
      throw new StructuralSchemaError(path, 'tuple items have no structural form');
    out.type = 'array';
    out.items = convert(s.items ?? {}, walk, `${path}[]`);
  }
  if (out.type === undefined && !out['x-kubernetes-int-or-string'])
    out['x-kubernetes-preserve-unknown-fields'] = true;
  if (out.type !== undefined && !SCALARS.has(out.type as string) && out.enum !== undefined)
    delete out.enum;
  if (nullable) out.nullable = true;
  if ('default' in s && fits(out, s.default)) {
    if (walk.defaults === 'keep') out.default = s.default;
    else out.description = withDefault(out.description as string | undefined, s.default);
  }
  return ordered(out);
}

/** Keys in the order people read a schema in (and controller-gen writes): what, then inside. */
const ORDER = [
  'description',
  'type',
  'x-kubernetes-int-or-string',
  'anyOf',
  'nullable',
  'default',
  'enum',
  'format',
];
const LAST = ['properties', 'required', 'items', 'additionalProperties'];

function ordered(node: Node): Node {
  const keys = Object.keys(node);
  const middle = keys.filter((k) => !ORDER.includes(k) && !LAST.includes(k));
  const sorted = [...ORDER.filter((k) => k in node), ...middle, ...LAST.filter((k) => k in node)];
  return Object.fromEntries(sorted.map((k) => [k, node[k]]));
}

function withDefault(description: string | undefined, value: unknown): string | undefined {
  if (description !== undefined && /\bdefault\b/i.test(description)) return description;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return description === undefined ? `default: ${text}` : `${description} (default: ${text})`;
}

/** The structural OpenAPI v3 form of `schema` (a TypeBox schema or any JSON Schema). */
export function toStructuralSchema(
  schema: unknown,
  options: StructuralOptions = {},
): OpenApiSchema {
  const root = isNode(schema) ? schema : {};
  return convert(schema, { root, refs: [], defaults: options.defaults ?? 'keep' }, '');
}

/**
 * A copy of a structural schema for a JSON Schema validator (ajv, which
 * reads `nullable` as OpenAPI does) that rejects unknown fields, as `kubectl apply` does with its default strict
 * field validation (server-side since Kubernetes 1.27); the CRD itself
 * cannot say so (no `additionalProperties: false` next to `properties`).
 */
export function rejectUnknownFields(schema: OpenApiSchema): OpenApiSchema {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!isNode(node)) return node;
    const out: Node = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === 'properties' && isNode(v))
        out[k] = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, walk(s)]));
      else if (k === 'enum' || k === 'default' || k === 'required' || k === 'example') out[k] = v;
      else out[k] = walk(v);
    }
    if (isNode(out.properties) && !out['x-kubernetes-preserve-unknown-fields'])
      out.additionalProperties = false;
    // ajv reads `nullable` only next to `type`; an int-or-string may be nullable too
    if (out.nullable === true && out.type === undefined) {
      delete out.nullable;
      return { anyOf: [out, { type: 'null' }] };
    }
    return out;
  };
  return walk(schema) as OpenApiSchema;
}
