/*
 * JSON Schema out of the configuration schema, for editors (the YAML
 * language server's `# yaml-language-server: $schema=` line, VS Code's
 * json.schemas) and `portico schema`. Draft-07: the dialect the YAML
 * language server supports best. Portico's own annotations are left out;
 * blocks that `{}` or an empty value turn on (`tls:`) also accept null.
 */
import { HINT, type Hint, type TSchema } from './core.js';
import { DynamicConfiguration } from './dynamic.js';

export const JSON_SCHEMA_DRAFT = 'http://json-schema.org/draft-07/schema#';

function clean(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(clean);
  if (node === null || typeof node !== 'object') return node;
  const src = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(src)) {
    if (k === HINT || k === 'x-values') continue;
    out[k] = k === 'properties' || k === 'patternProperties' ? cleanMap(v) : clean(v);
  }
  const hint = src[HINT] as Hint | undefined;
  if (hint?.kind === 'object' && hint.allowEmpty && out.type === 'object')
    out.type = ['object', 'null'];
  return out;
}

function cleanMap(v: unknown): unknown {
  return Object.fromEntries(
    Object.entries(v as Record<string, unknown>).map(([k, s]) => [k, clean(s)]),
  );
}

/** `schema` as a standalone JSON Schema document. */
export function toJsonSchema(schema: TSchema, title: string): Record<string, unknown> {
  const body = clean(schema) as Record<string, unknown>;
  return { $schema: JSON_SCHEMA_DRAFT, title, ...body };
}

/** The JSON Schema of Traefik's dynamic configuration file, as Portico reads it. */
export function dynamicJsonSchema(): Record<string, unknown> {
  const out = toJsonSchema(DynamicConfiguration, 'Portico dynamic configuration');
  // `x-*` root keys hold YAML anchors for reuse (the Compose convention), ignored by Portico
  out.patternProperties = { '^x-': {} };
  return out;
}
