/*
 * certificatesResolvers.<r>.acme.dnsChallenge as Traefik v3 reads it (issue 13
 * §3): provider, resolvers, the propagation block, and the deprecated
 * delayBeforeCheck / disablePropagationCheck mapped onto it with Traefik's
 * warning. Unknown provider names fail with the resolver, the option and the
 * closest name.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStaticConfig, staticWarnings } from '../../src/config/static.js';
import { createDnsProvider, DNS_PROVIDER_NAMES } from '../../src/tls/acme/dns/registry.js';

const R = '--certificatesResolvers.le.acme';
const base = [`${R}.email=ops@example.com`, `${R}.storage=/tmp/acme.json`];

function load(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const config = loadStaticConfig({ argv: [...base, ...argv], env, cwd: os.tmpdir() });
  return { resolver: config.certificatesResolvers?.le, warnings: staticWarnings(config) };
}

describe('dnsChallenge in the static configuration', () => {
  it('reads provider, resolvers and the propagation block from flags', () => {
    const { resolver, warnings } = load([
      `${R}.dnsChallenge.provider=rfc2136`,
      `${R}.dnsChallenge.resolvers=127.0.0.1:5353,1.1.1.1:53`,
      `${R}.dnsChallenge.propagation.delayBeforeChecks=30s`,
      `${R}.dnsChallenge.propagation.disableANSChecks=true`,
      `${R}.dnsChallenge.propagation.requireAllRNS=true`,
    ]);
    expect(resolver?.dnsChallenge).toEqual({
      provider: 'rfc2136',
      resolvers: ['127.0.0.1:5353', '1.1.1.1:53'],
      propagation: {
        delayBeforeChecksMs: 30_000,
        disableChecks: false,
        requireAllRNS: true,
        disableANSChecks: true,
      },
    });
    expect(resolver?.httpChallenge).toBeUndefined();
    expect(warnings.join('\n')).not.toMatch(/deprecated/);
  });

  it('reads the same from a YAML file, as in the Traefik docs', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-dns-static-'));
    const file = path.join(dir, 'portico.yml');
    writeFileSync(
      file,
      [
        'certificatesResolvers:',
        '  myresolver:',
        '    acme:',
        '      email: your-email@example.com',
        '      storage: acme.json',
        '      dnsChallenge:',
        '        provider: digitalocean',
        '        resolvers:',
        '          - "1.1.1.1:53"',
        '          - "8.8.8.8:53"',
        '        propagation:',
        '          delayBeforeChecks: 0',
        '',
      ].join('\n'),
    );
    const config = loadStaticConfig({ argv: [`--configFile=${file}`], env: {}, cwd: dir });
    expect(config.certificatesResolvers?.myresolver?.dnsChallenge).toEqual({
      provider: 'digitalocean',
      resolvers: ['1.1.1.1:53', '8.8.8.8:53'],
      // a propagation block, even empty, turns the recursive check off (Traefik's mapping)
      propagation: {
        delayBeforeChecksMs: 0,
        disableChecks: false,
        requireAllRNS: false,
        disableANSChecks: false,
      },
    });
  });

  it("reads Traefik's TRAEFIK_CERTIFICATESRESOLVERS_* variables", () => {
    const config = loadStaticConfig({
      argv: [],
      env: {
        TRAEFIK_ENTRYPOINTS_WEB_ADDRESS: ':8000',
        TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_EMAIL: 'ops@example.com',
        TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_DNSCHALLENGE_PROVIDER: 'route53',
        TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_DNSCHALLENGE_RESOLVERS: '1.1.1.1:53,8.8.8.8:53',
        TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_DNSCHALLENGE_PROPAGATION_DISABLEANSCHECKS: 'true',
      },
      cwd: os.tmpdir(),
    });
    expect(config.certificatesResolvers?.le?.dnsChallenge).toEqual({
      provider: 'route53',
      resolvers: ['1.1.1.1:53', '8.8.8.8:53'],
      propagation: {
        delayBeforeChecksMs: 0,
        disableChecks: false,
        requireAllRNS: false,
        disableANSChecks: true,
      },
    });
  });

  it('without a propagation block, leaves lego defaults (no propagation field)', () => {
    const { resolver } = load([`${R}.dnsChallenge.provider=cloudflare`]);
    expect(resolver?.dnsChallenge).toEqual({ provider: 'cloudflare', resolvers: [] });
  });

  it.each([
    [
      'delayBeforeCheck=20',
      { delayBeforeChecksMs: 20_000, disableChecks: false },
      /delayBeforeCheck is now deprecated, please use propagation.delayBeforeChecks instead/,
    ],
    [
      'disablePropagationCheck=true',
      { delayBeforeChecksMs: 0, disableChecks: true },
      /disablePropagationCheck is now deprecated, please use propagation.disableChecks instead/,
    ],
  ])('accepts the deprecated %s, maps it and warns as Traefik does', (flag, expected, warning) => {
    const { resolver, warnings } = load([
      `${R}.dnsChallenge.provider=exec`,
      `${R}.dnsChallenge.${flag}`,
    ]);
    expect(resolver?.dnsChallenge?.propagation).toMatchObject(expected);
    expect(warnings.join('\n')).toMatch(warning);
  });

  it('needs a provider', () => {
    expect(() => load([`${R}.dnsChallenge.resolvers=1.1.1.1:53`])).toThrow(
      /certificatesResolvers\.le\.acme\.dnsChallenge\.provider.*required/,
    );
  });

  it('without a provider, is ignored (with a warning) when another challenge is set, as in Traefik', () => {
    const { resolver, warnings } = load([`${R}.dnsChallenge`, `${R}.tlsChallenge`]);
    expect(resolver?.dnsChallenge).toBeUndefined();
    expect(resolver?.tlsChallenge).toEqual({});
    expect(warnings.join('\n')).toMatch(/dnsChallenge has no provider and is ignored/);
  });

  it('still needs some challenge', () => {
    expect(() => load([])).toThrow(/httpChallenge, tlsChallenge or dnsChallenge/);
  });
});

describe('DNS provider names', () => {
  it('lists lego names', () => {
    expect(DNS_PROVIDER_NAMES).toEqual(
      expect.arrayContaining([
        'cloudflare',
        'digitalocean',
        'exec',
        'gandiv5',
        'httpreq',
        'rfc2136',
        'route53',
      ]),
    );
  });

  it.each([
    ['cloudfare', /did you mean "cloudflare"\?/],
    ['route_53', /did you mean "route53"\?/],
    ['rfc-2136', /did you mean "rfc2136"\?/],
    ['nosuchdns', /known: .*cloudflare/],
  ])('an unknown name (%s) names the resolver and the option, with a hint', (name, hint) => {
    let message = '';
    try {
      createDnsProvider('wild', name, {});
    } catch (err) {
      message = (err as Error).message;
      expect((err as { code?: string }).code).toBe('PORTICO_ERR_DNS_PROVIDER');
    }
    expect(message).toMatch(
      /^resolver wild: certificatesResolvers\.wild\.acme\.dnsChallenge\.provider: unknown DNS provider/,
    );
    expect(message).toMatch(hint);
  });

  it.each([
    ['cloudflare', /CF_API_EMAIL,CF_API_KEY or .*CF_DNS_API_TOKEN/],
    ['route53', /AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY/],
    ['digitalocean', /DO_AUTH_TOKEN/],
    ['gandiv5', /GANDIV5_PERSONAL_ACCESS_TOKEN/],
    ['exec', /EXEC_PATH/],
    ['httpreq', /HTTPREQ_ENDPOINT/],
  ])('%s without credentials names the missing variables', (name, missing) => {
    expect(() => createDnsProvider('le', name, {})).toThrow(missing);
  });
});
