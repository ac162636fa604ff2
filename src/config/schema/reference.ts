/*
 * The middleware options reference (docs/middlewares/reference.md), written
 * from the schemas so the docs cannot drift from what Portico accepts.
 * src/tools/docs-gen.ts writes it; a test checks the committed file.
 */
import { enumOf, fieldsOf, hintOf, rangeOf, requiredOf, valuesOf, type TSchema } from './core.js';
import { middlewareSchemas } from './middlewares/index.js';

function typeOf(schema: TSchema): string {
  const hint = hintOf(schema);
  const { min, max } = rangeOf(schema);
  switch (hint.kind) {
    case 'string': {
      const values = enumOf(schema);
      if (values) return `one of ${values.filter((v) => v !== '').join(', ')}`;
      const types = (schema as unknown as { type?: unknown }).type;
      return Array.isArray(types) ? 'text or number' : 'text';
    }
    case 'int':
      if (min !== undefined && max !== undefined) return `integer ${min}–${max}`;
      if (min !== undefined) return `integer ≥ ${min}`;
      return 'integer';
    case 'bool':
      return 'boolean';
    case 'duration':
      return 'duration';
    case 'url':
      return 'URL';
    case 'list':
      return 'list of text';
    case 'array':
      return 'list';
    case 'map':
      return `map of ${typeOf(valuesOf(schema))}`;
    case 'object':
      return 'object';
    case 'any':
      return 'any';
  }
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function rows(schema: TSchema, prefix: string, out: string[]): void {
  const required = new Set(requiredOf(schema));
  for (const [name, field] of Object.entries(fieldsOf(schema))) {
    const path = prefix + name;
    const doc = field as unknown as { description?: string; default?: unknown };
    const def = doc.default === undefined ? '' : `\`${JSON.stringify(doc.default)}\``;
    const need = required.has(name) ? ' (required)' : '';
    out.push(`| \`${path}\` | ${typeOf(field)}${need} | ${def} | ${cell(doc.description ?? '')} |`);
    if (hintOf(field).kind === 'object') rows(field, `${path}.`, out);
  }
}

/** The reference as Markdown (before formatting). */
export function middlewareReference(): string {
  const out = [
    '# Middleware options reference',
    '',
    '<!-- generated from src/config/schema/middlewares/ by `npm run docs:gen`; do not edit -->',
    '',
    'Every middleware type of the dynamic configuration and its options, as Portico',
    'reads them from files and labels (option names in any case; durations as Go',
    'durations such as `10s` or a number of seconds; lists also as one comma-separated',
    'text). The guides in this folder say how each behaves.',
    '',
  ];
  for (const m of middlewareSchemas) {
    out.push(`## ${m.type}`, '');
    out.push(m.implemented ? m.description : `${m.description}. Not run by Portico.`, '');
    if (hintOf(m.options).kind !== 'object') {
      out.push('Options: free-form.', '');
      continue;
    }
    out.push('| Option | Type | Default | Description |', '| --- | --- | --- | --- |');
    rows(m.options, '', out);
    out.push('');
    const removed = hintOf(m.options).removed;
    if (removed) {
      out.push('Refused with a pointer to their replacement:', '');
      for (const [name, why] of Object.entries(removed)) out.push(`- \`${name}\`: ${why}`);
      out.push('');
    }
  }
  return out.join('\n');
}
