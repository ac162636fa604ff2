/*
 * The static options as one schema (issue 12 §1): src/config/schema/static.ts
 * gives `--help`, `portico schema --static` and docs/static-options.md. The
 * flag/env/file decoder in src/config/static.ts still walks its own option
 * tree, so the first tests pin the two to each other: an option added to one
 * and not the other fails here.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';
import {
  optionTreeHelpLines,
  optionTreeUnsupported,
  staticOptionsHelp,
} from '../../src/config/static.js';
import {
  StaticConfiguration,
  staticHelpLines,
  staticHintOf,
  staticJsonSchema,
  staticOptions,
} from '../../src/config/schema/static.js';
import type { TSchema } from '../../src/config/schema/core.js';

const root = join(import.meta.dirname, '../..');

function schemaUnsupported(
  schema: TSchema,
  prefix: string[] = [],
  out: Record<string, string[]> = {},
): Record<string, string[]> {
  const hint = staticHintOf(schema);
  const s = schema as unknown as {
    properties?: Record<string, TSchema>;
    anyOf?: { properties?: Record<string, TSchema> }[];
    additionalProperties?: TSchema;
  };
  if (hint.map)
    return schemaUnsupported(s.additionalProperties!, [...prefix, hint.map.placeholder], out);
  if (hint.unsupported) out[prefix.join('.')] = hint.unsupported;
  const fields = s.properties ?? s.anyOf?.find((a) => a.properties)?.properties ?? {};
  for (const [name, field] of Object.entries(fields))
    schemaUnsupported(field, [...prefix, name], out);
  return out;
}

describe('the static schema and the loader describe the same options', () => {
  it('same option paths, help text, value syntax and defaults', () => {
    expect(staticHelpLines()).toEqual(optionTreeHelpLines());
    // and `--help` prints the schema's lines
    expect(staticOptionsHelp.split('\nOptions:\n')[1]!.split('\n')).toEqual(staticHelpLines());
  });

  it('same Traefik options reported as not supported yet', () => {
    expect(schemaUnsupported(StaticConfiguration)).toEqual(optionTreeUnsupported());
  });

  it('defaults are typed values for editors; defaults that are not values are left out', () => {
    const byPath = new Map(staticOptions().map((o) => [o.path, o.schema as { default?: unknown }]));
    expect(byPath.get('providers.providersThrottleDuration')!.default).toBe('200ms');
    expect(byPath.get('serversTransport.maxIdleConnsPerHost')!.default).toBe(200);
    expect(byPath.get('metrics.prometheus.buckets')!.default).toEqual([0.1, 0.3, 1.2, 5]);
    expect(byPath.get('log.level')!.default).toBe('INFO');
    expect(byPath.get('workers')!.default).toBeUndefined();
  });
});

function staticExamples(): { where: string; value: unknown }[] {
  const rootKeys = new Set(
    Object.keys((staticJsonSchema() as { properties: Record<string, unknown> }).properties),
  );
  const out: { where: string; value: unknown }[] = [];
  for (const f of readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md'))) {
    const lines = readFileSync(join(root, 'docs', f), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!/^```ya?ml\s*$/.test(lines[i]!)) continue;
      const start = i + 1;
      let end = start;
      while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
      const block = lines.slice(start, end).join('\n');
      i = end;
      for (const doc of parseAllDocuments(block)) {
        if (!('errors' in doc) || doc.errors.length > 0) continue;
        const value = doc.toJS() as unknown;
        if (value === null || typeof value !== 'object' || Array.isArray(value)) continue;
        const keys = Object.keys(value);
        if (keys.length === 0 || !keys.every((k) => rootKeys.has(k))) continue;
        out.push({ where: `docs/${f}:${start + 1}`, value });
      }
    }
  }
  return out;
}

describe('portico schema --static: JSON Schema of the static file', () => {
  const validate = new Ajv({ allErrors: true, strict: false }).compile(staticJsonSchema());

  it('is what `portico schema --static` prints', async () => {
    const out: string[] = [];
    const so = vi.spyOn(process.stdout, 'write').mockImplementation((c) => out.push(String(c)) > 0);
    const exitCode = process.exitCode;
    try {
      await main(['schema', '--static']);
      expect(JSON.parse(out.join(''))).toEqual(staticJsonSchema());
      expect(process.exitCode ?? 0).toBe(0);
    } finally {
      so.mockRestore();
      process.exitCode = exitCode;
    }
  });

  it('is draft-07 with descriptions and no internal annotations', () => {
    const schema = staticJsonSchema() as any;
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    const ep = schema.properties.entryPoints.additionalProperties;
    expect(ep.required).toEqual(['address']);
    expect(ep.properties.address.description).toMatch(/listen address/);
    expect(JSON.stringify(schema)).not.toContain('x-portico');
  });

  it('validates every static YAML example in docs/', () => {
    const examples = staticExamples();
    expect(examples.length).toBeGreaterThan(5);
    for (const { where, value } of examples) {
      expect(validate(value), `${where}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });

  it.each([
    ['a misspelled option', { entryPoints: { web: { adress: ':80' } } }],
    ['an entry point without address', { entryPoints: { web: {} } }],
    ['a bad duration', { providers: { providersThrottleDuration: 'soon' } }],
    ['a bad boolean', { api: { insecure: 'yes' } }],
    ['an unknown log level', { log: { level: 'loud' } }],
    ['a Traefik option Portico lacks', { tracing: {} }],
    ['workers out of range', { workers: 5000 }],
  ])('rejects %s', (_, value) => {
    expect(validate(value)).toBe(false);
  });

  it.each([
    ['sections switched on by an empty block or true', { api: null, ping: true, accessLog: {} }],
    ['text booleans and numbers', { api: { insecure: 'TRUE' }, workers: '2' }],
    ['lists as one comma-separated text', { metrics: { prometheus: { buckets: '0.1,1' } } }],
    [
      'durations as Go durations or seconds',
      { serversTransport: { forwardingTimeouts: { dialTimeout: 5, idleConnTimeout: '1m30s' } } },
    ],
  ])('accepts %s', (_, value) => {
    expect(validate(value), JSON.stringify(validate.errors)).toBe(true);
  });
});
