/*
 * The static options as one schema (issue 12 §1): src/config/schema/static.ts
 * gives the loader its option tree and defaults, `--help`, `portico schema
 * --static` and docs/static-options.md. (test/unit/static-config.test.ts
 * covers the loader's behaviour option by option.)
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';
import { loadStaticConfig, staticOptionsHelp, staticWarnings } from '../../src/config/static.js';
import {
  StaticConfiguration,
  staticHelpLines,
  staticHintOf,
  staticJsonSchema,
  staticOptions,
  type StaticConfigFile,
} from '../../src/config/schema/static.js';
import type { TSchema } from '../../src/config/schema/core.js';

const root = join(import.meta.dirname, '../..');

/** `entryPoints.<name>.x` (and `….domains[n].main`) as a flag name */
const flagPath = (path: string) =>
  path.replace('<name>', 'web').replace('<resolver>', 'le').replace('[n]', '[0]');

function loadError(argv: string[]): string {
  try {
    loadStaticConfig({ argv, env: {}, cwd: root });
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

function schemaUnsupported(schema: TSchema, prefix: string[] = [], out: string[] = []): string[] {
  const hint = staticHintOf(schema);
  const s = schema as unknown as {
    properties?: Record<string, TSchema>;
    anyOf?: { properties?: Record<string, TSchema> }[];
    additionalProperties?: TSchema;
  };
  if (hint.map)
    return schemaUnsupported(s.additionalProperties!, [...prefix, hint.map.placeholder], out);
  for (const name of hint.unsupported ?? []) out.push([...prefix, name].join('.'));
  const fields = s.properties ?? s.anyOf?.find((a) => a.properties)?.properties ?? {};
  for (const [name, field] of Object.entries(fields))
    schemaUnsupported(field, [...prefix, name], out);
  return out;
}

describe('the loader reads the options the schema lists', () => {
  it("`--help` prints the schema's option lines", () => {
    expect(staticOptionsHelp.split('\nOptions:\n')[1]!.split('\n')).toEqual(staticHelpLines());
    expect(staticHelpLines()).toContain('  --entryPoints.<name>.address=[HOST]:PORT');
  });

  it('every option the schema lists is a known flag (no unknown-option error)', () => {
    const options = staticOptions().filter(
      (o) => !o.path.includes('<FieldName>') && !o.path.includes('<Header-Name>'),
    );
    expect(options.length).toBeGreaterThan(70);
    for (const o of options) {
      if (o.path === 'configFile') continue;
      const message = loadError([`--${flagPath(o.path)}=x`]);
      expect(message, o.path).not.toMatch(/unknown option|not support yet/);
    }
  });

  it('every Traefik option the schema marks unsupported is reported as such', () => {
    const paths = schemaUnsupported(StaticConfiguration);
    expect(paths).toContain('providers.swarm');
    let warned = 0;
    for (const path of paths) {
      // an option declares its section as any other would: the rest of what that needs
      const context = path.startsWith('providers.file.')
        ? [`--providers.file.directory=${root}`]
        : path.startsWith('entryPoints.')
          ? ['--entryPoints.web.address=:1']
          : path.startsWith('certificatesResolvers.')
            ? [
                '--certificatesResolvers.le.acme.httpChallenge.entryPoint=web',
                '--entryPoints.web.address=:1',
              ]
            : [];
      const argv = [`--${flagPath(path)}=true`, ...context];
      const message = loadError(argv);
      if (message !== '') {
        expect(message, path).toMatch(/is a traefik option that portico does not support yet/);
        continue;
      }
      // the harmless ones (issue 17 §1) load, with a warning naming them
      const config = loadStaticConfig({ argv, env: {}, cwd: root });
      expect(staticWarnings(config), path).toEqual([
        `${argv[0]!.split('=')[0]}: ${flagPath(path)} is a traefik option that portico does not support yet; ignored`,
      ]);
      warned++;
    }
    expect(warned).toBeGreaterThan(10);
    expect(warned).toBeLessThan(paths.length / 2);
  });

  it('StaticConfigFile, the type of a file as written, comes from the schema', () => {
    const file: StaticConfigFile = {
      entryPoints: { web: { address: ':8000', http: { tls: { certResolver: 'le' } } } },
      api: true,
      ping: null,
      log: { level: 'DEBUG' },
      serversTransport: { forwardingTimeouts: { dialTimeout: '5s' } },
      workers: 2,
    };
    // @ts-expect-error a misspelled option is a type error too
    const typo: StaticConfigFile = { entryPoints: { web: { adress: ':8000' } } };
    // @ts-expect-error a block that is not a section cannot be switched on with true
    const notSection: StaticConfigFile = { serversTransport: true };
    expect(loadError(['--api.insecure'])).toBe('');
    expect([file, typo, notSection]).toHaveLength(3);
  });

  it('the loader applies the defaults the schema states', () => {
    const config = loadStaticConfig({
      argv: [
        '--entryPoints.web.address=:8000',
        '--api',
        '--ping',
        '--accessLog',
        '--metrics.prometheus',
        '--providers.docker',
        '--providers.file.filename=dynamic.yml',
        '--certificatesResolvers.le.acme.tlsChallenge',
        '--certificatesResolvers.le.acme.email=ops@example.com',
      ],
      env: {},
      cwd: root,
    });
    const def = (path: string) =>
      (staticOptions().find((o) => o.path === path)!.schema as { default?: unknown }).default;
    const built: [string, unknown][] = [
      ['api.dashboard', config.api!.dashboard],
      ['api.insecure', config.api!.insecure],
      ['ping.entryPoint', config.ping!.entryPoint],
      ['accessLog.format', config.accessLog!.format],
      ['accessLog.bufferingSize', config.accessLog!.bufferingSize],
      ['providers.file.watch', config.providers.file!.watch],
      ['providers.docker.exposedByDefault', config.providers.docker!.exposedByDefault],
      ['providers.docker.defaultRule', config.providers.docker!.defaultRule],
      ['providers.docker.watch', config.providers.docker!.watch],
      ['providers.docker.allowEmptyServices', config.providers.docker!.allowEmptyServices],
      ['metrics.prometheus.buckets', config.metrics!.prometheus!.buckets],
      ['metrics.prometheus.addEntryPointsLabels', config.metrics!.prometheus!.addEntryPointsLabels],
      ['metrics.prometheus.addRoutersLabels', config.metrics!.prometheus!.addRoutersLabels],
      ['metrics.prometheus.addServicesLabels', config.metrics!.prometheus!.addServicesLabels],
      ['certificatesResolvers.<resolver>.acme.keyType', config.certificatesResolvers!.le!.keyType],
      ['serversTransport.insecureSkipVerify', config.serversTransport.insecureSkipVerify],
      ['serversTransport.maxIdleConnsPerHost', config.serversTransport.maxIdleConnsPerHost],
      ['quickstart', config.quickstart],
    ];
    for (const [path, value] of built) expect(value, path).toEqual(def(path));
    // words are stored in Portico's spelling, files relative to the working directory
    expect(config.log.level).toBe(String(def('log.level')).toLowerCase());
    expect(config.log.format).toBe(def('log.format'));
    expect(config.certificatesResolvers!.le!.storage).toBe(
      join(root, String(def('certificatesResolvers.<resolver>.acme.storage'))),
    );
  });

  it('a sub-section switches its section on, as an option inside it does', () => {
    // Traefik: `--certificatesResolvers.le.acme.tlsChallenge` alone is a resolver with TLS-ALPN-01
    const config = loadStaticConfig({
      argv: ['--certificatesResolvers.le.acme.tlsChallenge'],
      env: {},
      cwd: root,
    });
    expect(config.certificatesResolvers?.le?.tlsChallenge).toEqual({});
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
