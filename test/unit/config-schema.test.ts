/*
 * One schema for the dynamic configuration (issue 12 §1): the JSON Schema
 * that `portico schema --dynamic` prints validates every dynamic example the
 * project ships (test fixtures, docs), catches typos, and a typo reads the
 * same from the file provider and from a Docker label.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { dynamicJsonSchema } from '../../src/config/schema/json-schema.js';
import { main } from '../../src/cli.js';
import { generatedFiles } from '../../src/tools/docs-gen.js';
import { parseDynamicText } from '../../providers/file/load.js';
import { buildDockerConfig, type ContainerInfo } from '../../providers/docker/build.js';
import { validateDynamic } from '../../src/config/validate.js';
import { startRouter, type TestRouter } from '../helpers/portico.js';
import { middlewareDefinitions } from '../../middlewares/registry.js';
import {
  implementedMiddlewareTypes,
  middlewareSchema,
} from '../../src/config/schema/middlewares/index.js';

const root = join(import.meta.dirname, '../..');

function compileSchema() {
  const ajv = new Ajv({ allErrors: true, strict: false });
  return ajv.compile(dynamicJsonSchema());
}

/** YAML blocks of the docs that are a whole dynamic configuration (root keys http/tls only). */
function docExamples(): { where: string; value: unknown }[] {
  const files = [
    ...readdirSync(join(root, 'docs')).map((f) => join('docs', f)),
    ...readdirSync(join(root, 'docs/middlewares')).map((f) => join('docs/middlewares', f)),
  ].filter((f) => f.endsWith('.md'));
  const out: { where: string; value: unknown }[] = [];
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8');
    const lines = text.split('\n');
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
        if (keys.length === 0 || !keys.every((k) => ['http', 'tls'].includes(k))) continue;
        out.push({ where: `${file}:${start + 1}`, value });
      }
    }
  }
  return out;
}

describe('portico schema --dynamic: JSON Schema of the file format', () => {
  const validate = compileSchema();

  it('is what `portico schema --dynamic` prints; other arguments are a usage error', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const so = vi.spyOn(process.stdout, 'write').mockImplementation((c) => out.push(String(c)) > 0);
    const se = vi.spyOn(process.stderr, 'write').mockImplementation((c) => err.push(String(c)) > 0);
    const exitCode = process.exitCode;
    try {
      await main(['schema', '--dynamic']);
      expect(JSON.parse(out.join(''))).toEqual(dynamicJsonSchema());
      expect(process.exitCode ?? 0).toBe(0);
      await main(['schema', '--dynamc']);
      expect(process.exitCode).toBe(2);
      expect(err.join('')).toContain('unknown argument --dynamc');
    } finally {
      so.mockRestore();
      se.mockRestore();
      process.exitCode = exitCode;
    }
  });

  it('is draft-07 and describes every middleware type and its options', () => {
    const schema = dynamicJsonSchema() as any;
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    const mw = schema.properties.http.properties.middlewares.additionalProperties;
    expect(Object.keys(mw.properties)).toContain('headers');
    expect(mw.properties.headers.properties.customRequestHeaders.description).toMatch(/request/);
    expect(JSON.stringify(schema)).not.toContain('x-portico');
  });

  it('validates the test fixture written for Traefik v3', () => {
    const raw = parseYaml(
      readFileSync(join(root, 'test/fixtures/file/traefik-dynamic.yml'), 'utf8'),
    ) as unknown;
    expect(validate(raw), JSON.stringify(validate.errors)).toBe(true);
  });

  it('validates every dynamic YAML example in docs/', () => {
    const examples = docExamples();
    expect(examples.length).toBeGreaterThan(10);
    const failures = examples
      .filter((e) => !validate(e.value))
      .map((e) => `${e.where}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
    expect(failures).toEqual([]);
  });

  it.each([
    [
      'a misspelled router field',
      { http: { routers: { r: { rule: 'x', service: 's', rulee: 1 } } } },
    ],
    [
      'a misspelled middleware option',
      { http: { middlewares: { m: { headers: { frameDeni: true } } } } },
    ],
    [
      'two middleware types',
      {
        http: {
          middlewares: { m: { addPrefix: { prefix: '/a' }, stripPrefix: { prefixes: ['/a'] } } },
        },
      },
    ],
    [
      'an unknown middleware type',
      { http: { middlewares: { m: { stripPrefixes: { prefixes: ['/a'] } } } } },
    ],
    [
      'a bad duration',
      {
        http: {
          services: { s: { loadBalancer: { healthCheck: { path: '/', interval: 'soon' } } } },
        },
      },
    ],
    ['a router without a service', { http: { routers: { r: { rule: 'x' } } } }],
  ])('rejects %s', (_, value) => {
    expect(validate(value)).toBe(false);
  });
});

describe('files generated from the schema', () => {
  it('are up to date (npm run docs:gen writes them)', async () => {
    for (const f of await generatedFiles(root)) {
      const committed = readFileSync(join(root, f.path), 'utf8');
      expect(committed, `${f.path} is out of date: run npm run docs:gen`).toBe(f.content);
    }
  });
});

describe('the middleware registry and the schema agree', () => {
  it('every registered factory has its schema, and every implemented type a factory', () => {
    const registered = middlewareDefinitions().map((d) => d.type);
    expect([...registered, 'chain'].sort()).toEqual(implementedMiddlewareTypes());
    for (const d of middlewareDefinitions()) {
      expect(d.options).toBe(middlewareSchema(d.type)!.options);
      expect(d.description).toBe(middlewareSchema(d.type)!.description);
    }
  });
});

describe('a typo reads the same from a file and from a Docker label', () => {
  let router: TestRouter | undefined;
  afterEach(async () => {
    await router?.close();
    router = undefined;
  });

  const container = (labels: Record<string, string>): ContainerInfo => ({
    id: 'c1',
    name: '/web',
    labels,
    state: { status: 'running' },
    networks: [{ name: 'bridge', ipAddress: '172.17.0.2' }],
    ports: [{ port: 80, protocol: 'tcp' }],
  });

  it('a misspelled middleware option', async () => {
    const yaml = [
      'http:',
      '  middlewares:',
      '    x:',
      '      headers:',
      '        customrequestheadrs:',
      '          X-Tenant: a',
    ].join('\n');
    const parsed = parseDynamicText('typo.yml', yaml);
    router = await startRouter(parsed.config);
    const fileErrors = router.router.holder.current.middlewares.get('x@file')!.errors;

    const docker = buildDockerConfig([
      container({ 'traefik.http.middlewares.x.headers.customrequestheadrs.X-Tenant': 'a' }),
    ]);
    const labelMessages = docker.diagnostics.map((d) => d.message);

    const message = 'unknown field "customrequestheadrs", did you mean "customRequestHeaders"?';
    expect(labelMessages).toEqual([message]);
    expect(fileErrors).toEqual([`headers.customrequestheadrs: ${message}`]);
  });

  it('an option Traefik v3 removed names its replacement', async () => {
    router = await startRouter({
      http: { middlewares: { x: { headers: { sslredirect: true } } } },
    });
    const fileErrors = router.router.holder.current.middlewares.get('x@file')!.errors;
    const docker = buildDockerConfig([
      container({ 'traefik.http.middlewares.x.headers.sslredirect': 'true' }),
    ]);
    const message = 'removed in traefik v3; use the redirectScheme middleware';
    expect(docker.diagnostics.map((d) => d.message)).toEqual([message]);
    expect(fileErrors).toEqual([`headers.sslRedirect: ${message}`]);
  });

  it('a misspelled router field', () => {
    const parsed = parseDynamicText(
      'typo.yml',
      'http:\n  routers:\n    web:\n      rule: Host(`a`)\n      service: s\n      entrypoint: web\n',
    );
    const fileErrors = validateDynamic(parsed.config, 'file').errors;
    const docker = buildDockerConfig([
      container({
        'traefik.http.routers.web.rule': 'Host(`a`)',
        'traefik.http.routers.web.entrypoint': 'web',
      }),
    ]);
    const message = 'unknown field "entrypoint", did you mean "entryPoints"?';
    expect(docker.diagnostics.map((d) => d.message)).toEqual([message]);
    expect(fileErrors).toEqual([
      { kind: 'router', name: 'web@file', field: 'entrypoint', message },
    ]);
  });
});
