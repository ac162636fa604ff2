/*
 * entryPoints.<n>.http.tls.domains (issue 13 item 1): Traefik's list of
 * {main, sans} (pkg/config/static TLSConfig.Domains) from a YAML/JSON list,
 * `--…domains[0].main` flags and `…_DOMAINS_0_MAIN` variables, as paerser
 * reads slices of structs: an index only groups the fields of one item.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadStaticConfig, staticOptionsHelp } from '../../src/config/static.js';
import { staticJsonSchema } from '../../src/config/schema/static.js';
import type { StaticConfig } from '../../src/config/static-types.js';
import { StaticConfigError } from '../../src/kernel/errors.js';

let cwd: string;

beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'portico-tls-domains-'));
});

afterEach(() => {
  rmSync(cwd, { recursive: true, force: true });
});

const EP = '--entryPoints.websecure';
const ADDRESS = `${EP}.address=:8443`;

function load(argv: string[] = [], env: NodeJS.ProcessEnv = {}): StaticConfig {
  return loadStaticConfig({ argv, env, cwd });
}

function write(name: string, text: string): void {
  writeFileSync(join(cwd, name), text);
}

function errorOf(argv: string[] = [], env: NodeJS.ProcessEnv = {}): string {
  try {
    load(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(StaticConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a StaticConfigError');
}

const TWO_DOMAINS = [
  { main: 'example.com', sans: ['www.example.com', 'api.example.com'] },
  { main: '*.example.org', sans: [] },
];

describe('entryPoints.<n>.http.tls.domains is read from every source', () => {
  it('from a YAML list of {main, sans}', () => {
    write(
      'portico.yml',
      [
        'entryPoints:',
        '  websecure:',
        '    address: ":8443"',
        '    http:',
        '      tls:',
        '        certResolver: le',
        '        domains:',
        '          - main: example.com',
        '            sans:',
        '              - www.example.com',
        '              - api.example.com',
        '          - main: "*.example.org"',
        '',
      ].join('\n'),
    );
    expect(load().entryPoints.websecure!.http.tls).toEqual({
      certResolver: 'le',
      domains: TWO_DOMAINS,
    });
  });

  it('from a JSON file, keys in any case, sans as one comma-separated text', () => {
    write(
      'portico.json',
      JSON.stringify({
        entryPoints: {
          websecure: {
            address: ':8443',
            http: {
              tls: {
                DOMAINS: [
                  { Main: 'example.com', SANs: 'www.example.com, api.example.com' },
                  { main: '*.example.org' },
                ],
              },
            },
          },
        },
      }),
    );
    expect(load(['--configFile=portico.json']).entryPoints.websecure!.http.tls).toEqual({
      domains: TWO_DOMAINS,
    });
  });

  it('from flags with [n] indexes (Traefik docs spelling), switching http.tls on', () => {
    const config = load([
      ADDRESS,
      `${EP}.http.tls.certResolver=le`,
      `${EP}.http.tls.domains[0].main=example.com`,
      `${EP}.http.tls.domains[0].sans=www.example.com,api.example.com`,
      '--entrypoints.websecure.http.tls.DOMAINS[1].MAIN',
      '*.example.org',
    ]);
    expect(config.entryPoints.websecure!.http.tls).toEqual({
      certResolver: 'le',
      domains: TWO_DOMAINS,
    });
  });

  it.each(['TRAEFIK_', 'PORTICO_'])('from %s variables with _N_ segments', (prefix) => {
    const config = load([], {
      [`${prefix}ENTRYPOINTS_WEBSECURE_ADDRESS`]: ':8443',
      [`${prefix}ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_0_MAIN`]: 'example.com',
      [`${prefix}ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_0_SANS`]: 'www.example.com,api.example.com',
      [`${prefix}ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_1_MAIN`]: '*.example.org',
    });
    expect(config.entryPoints.websecure!.http.tls).toEqual({ domains: TWO_DOMAINS });
  });

  it('orders items by index as a number and closes gaps (an index only groups fields)', () => {
    const config = load([
      ADDRESS,
      `${EP}.http.tls.domains[10].main=ten.example`,
      `${EP}.http.tls.domains[2].main=two.example`,
      `${EP}.http.tls.domains[0].main=zero.example`,
    ]);
    expect(config.entryPoints.websecure!.http.tls!.domains!.map((d) => d.main)).toEqual([
      'zero.example',
      'two.example',
      'ten.example',
    ]);
  });

  it('a higher source replaces the whole list; fields of one item merge within a source', () => {
    write(
      'portico.yml',
      [
        'entryPoints:',
        '  websecure:',
        '    address: ":8443"',
        '    http:',
        '      tls:',
        '        domains:',
        '          - main: file-one.example',
        '          - main: file-two.example',
        '',
      ].join('\n'),
    );
    expect(load().entryPoints.websecure!.http.tls!.domains).toHaveLength(2);
    const config = load([`${EP}.http.tls.domains[0].main=flag.example`], {
      TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_0_MAIN: 'traefik.example',
      TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_0_SANS: 'sans.example',
    });
    expect(config.entryPoints.websecure!.http.tls!.domains).toEqual([
      { main: 'flag.example', sans: [] },
    ]);
    // TRAEFIK_* and PORTICO_* are one source: PORTICO_* wins per field, as for any option
    const env = load([], {
      TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_0_MAIN: 'traefik.example',
      TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_0_SANS: 'sans.example',
      PORTICO_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_0_MAIN: 'portico.example',
    });
    expect(env.entryPoints.websecure!.http.tls!.domains).toEqual([
      { main: 'portico.example', sans: ['sans.example'] },
    ]);
  });

  it('is in --help and in the JSON Schema as a list of {main, sans}', () => {
    expect(staticOptionsHelp).toContain('--entryPoints.<name>.http.tls.domains[n].main=NAME');
    expect(staticOptionsHelp).toContain('--entryPoints.<name>.http.tls.domains[n].sans=A,B,...');
    const ep = (staticJsonSchema() as any).properties.entryPoints.additionalProperties;
    const tls = ep.properties.http.properties.tls.anyOf.find((s: any) => s.properties);
    expect(tls.properties.domains).toMatchObject({
      type: 'array',
      items: { type: 'object', required: ['main'], additionalProperties: false },
    });
    expect(Object.keys(tls.properties.domains.items.properties)).toEqual(['main', 'sans']);
  });
});

describe('entryPoints.<n>.http.tls.domains errors name the index and the field', () => {
  it.each<[string, string[], NodeJS.ProcessEnv, string]>([
    [
      'an item without main (flags)',
      [`${EP}.http.tls.domains[0].main=a.example`, `${EP}.http.tls.domains[1].sans=b.example`],
      {},
      'invalid static option --entryPoints.websecure.http.tls.domains[1].main: required',
    ],
    [
      'an item without main (env)',
      [],
      { PORTICO_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_3_SANS: 'b.example' },
      'invalid static option PORTICO_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_3_MAIN: required',
    ],
    [
      'a misspelt field',
      [`${EP}.http.tls.domains[0].mian=a.example`],
      {},
      'invalid static option --entryPoints.websecure.http.tls.domains[0].mian: unknown option; did you mean --entryPoints.websecure.http.tls.domains[0].main?',
    ],
    [
      'a misspelt field (env)',
      [],
      { TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_0_SAN: 'a.example' },
      'invalid static option TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_0_SAN: unknown option; did you mean TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_0_SANS?',
    ],
    [
      'an index that is not a number',
      [`${EP}.http.tls.domains[x].main=a.example`],
      {},
      'invalid static option --entryPoints.websecure.http.tls.domains[x].main: "[x]" is not a list index; write domains[0].main, domains[1].main, ...',
    ],
    [
      'a field without an index',
      [`${EP}.http.tls.domains.main=a.example`],
      {},
      'invalid static option --entryPoints.websecure.http.tls.domains.main: "main" is not a list index; write domains[0].main, domains[1].main, ...',
    ],
    [
      'the list given one value',
      [`${EP}.http.tls.domains=a.example`],
      {},
      'invalid static option --entryPoints.websecure.http.tls.domains: is a list of {main, sans}; set domains[0].main, domains[0].sans, ...',
    ],
    [
      'an index without a field',
      [`${EP}.http.tls.domains[0]=a.example`],
      {},
      'invalid static option --entryPoints.websecure.http.tls.domains[0]: is a group of options; set one of: main, sans',
    ],
    [
      'a url for a domain',
      [`${EP}.http.tls.domains[0].main=https://a.example`],
      {},
      'invalid static option --entryPoints.websecure.http.tls.domains[0].main: "https://a.example" is not a domain name',
    ],
    [
      'a port in a san',
      [`${EP}.http.tls.domains[0].main=a.example`, `${EP}.http.tls.domains[0].sans=b.example:443`],
      {},
      'invalid static option --entryPoints.websecure.http.tls.domains[0].sans: "b.example:443" is not a domain name',
    ],
  ])('%s', (_name, argv, env, message) => {
    const withAddress =
      Object.keys(env).length > 0
        ? { ...env, PORTICO_ENTRYPOINTS_WEBSECURE_ADDRESS: ':8443' }
        : env;
    expect(errorOf(Object.keys(env).length > 0 ? argv : [ADDRESS, ...argv], withAddress)).toBe(
      message,
    );
  });

  it.each<[string, string, string]>([
    [
      'an item without main',
      '- main: a.example\n          - sans: [b.example]',
      'invalid static option portico.yml: entryPoints.websecure.http.tls.domains[1].main (line 8): required',
    ],
    [
      'an empty item',
      '- main: a.example\n          - {}',
      'invalid static option portico.yml: entryPoints.websecure.http.tls.domains[1].main (line 8): required',
    ],
    [
      'a misspelt field',
      '- main: a.example\n            san: b.example',
      'invalid static option portico.yml: entryPoints.websecure.http.tls.domains[0].san (line 8): unknown option; did you mean entryPoints.websecure.http.tls.domains[0].sans?',
    ],
    [
      'a plain name instead of {main, sans}',
      '- a.example',
      'invalid static option portico.yml: entryPoints.websecure.http.tls.domains[0] (line 7): expected a mapping with main and sans',
    ],
    [
      'a mapping instead of a list',
      'main: a.example',
      'invalid static option portico.yml: entryPoints.websecure.http.tls.domains (line 6): expected a list of {main, sans}',
    ],
  ])('in a file: %s', (_name, items, message) => {
    write(
      'portico.yml',
      [
        'entryPoints:',
        '  websecure:',
        '    address: ":8443"',
        '    http:',
        '      tls:',
        '        domains:',
        `          ${items}`,
        '',
      ].join('\n'),
    );
    expect(errorOf()).toBe(message);
  });
});
