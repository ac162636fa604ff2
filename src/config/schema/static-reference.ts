/*
 * The static options reference (docs/static-options.md), written from the
 * static schema so the docs list exactly the options `--help` shows and the
 * loader reads. src/tools/docs-gen.ts writes it; a test checks the committed file.
 */
import { staticHintOf, staticOptions, StaticConfiguration, type Placeholder } from './static.js';
import type { TSchema } from './core.js';

function typeOf(p: Placeholder): string {
  if (typeof p === 'object') return `one of ${p.shown.split('|').join(', ')} (any case)`;
  switch (p) {
    case 'bool':
      return 'boolean';
    case 'int':
      return 'integer';
    case 'duration':
      return 'duration';
    case 'cidrs':
      return 'list of IPs/CIDRs';
    case 'list':
      return 'list';
    case 'address':
      return '[host]:port';
    case 'path':
      return 'path';
    case 'name':
      return 'text';
  }
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function code(text: string): string {
  // a backtick inside inline code needs a longer fence
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

function unsupportedRows(schema: TSchema, prefix: string[], out: string[]): void {
  const hint = staticHintOf(schema);
  if (hint.map) {
    const item = (schema as unknown as { additionalProperties: TSchema }).additionalProperties;
    unsupportedRows(item, [...prefix, hint.map.placeholder], out);
    return;
  }
  if (hint.unsupported?.length) {
    const where = prefix.length === 0 ? '(top level)' : code(prefix.join('.'));
    out.push(`- ${where}: ${hint.unsupported.map(code).join(', ')}`);
  }
  const s = schema as unknown as { properties?: Record<string, TSchema>; anyOf?: TSchema[] };
  const object = s.properties ? s : (s.anyOf?.find((a) => 'properties' in a) as typeof s);
  for (const [name, field] of Object.entries(object?.properties ?? {}))
    unsupportedRows(field, [...prefix, name], out);
}

/** The reference as Markdown (before formatting). */
export function staticReference(): string {
  const out = [
    '# Static options reference',
    '',
    '<!-- generated from src/config/schema/static.ts by `npm run docs:gen`; do not edit -->',
    '',
    'Every static option, as a file key path, a flag (`--` + the path) and a',
    'variable (`PORTICO_` + the path in capitals with `_` between segments).',
    'Names match in any case. [static-configuration.md](static-configuration.md)',
    'says how the sources merge and how each section behaves; `portico schema',
    '--static` prints the JSON Schema of the file.',
    '',
    '| Option | Type | Default | Description |',
    '| --- | --- | --- | --- |',
  ];
  for (const o of staticOptions()) {
    const type = o.section ? 'section (block or boolean)' : typeOf(o.placeholder);
    const def =
      o.def === undefined
        ? ''
        : o.def === '(required)'
          ? 'required'
          : o.def.startsWith('(')
            ? o.def.slice(1, -1)
            : code(o.def);
    out.push(`| ${code(o.path)} | ${type} | ${cell(def)} | ${cell(o.help)} |`);
  }
  out.push('', '## Traefik options not implemented yet', '');
  out.push('Portico reports these as not supported rather than ignoring them:', '');
  unsupportedRows(StaticConfiguration, [], out);
  out.push('');
  return out.join('\n');
}
