/*
 * TRAEFIK_* environment variables (issue 17 §1, issue 12 §1): a Compose file
 * written for Traefik sets its static options with TRAEFIK_*, and Portico reads
 * them with the same meaning as Traefik (paerser's env decoder): the prefix,
 * then the option path with "_" between segments, names case-insensitive after
 * the upper-case root option, map keys (entry point, resolver names) in lower
 * case. PORTICO_* keeps working and wins when both name one option.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadStaticConfig, staticWarnings } from '../../src/config/static.js';
import type { StaticConfig } from '../../src/config/static-types.js';
import { StaticConfigError } from '../../src/kernel/errors.js';

let cwd: string;

beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'portico-traefik-env-'));
});

afterEach(() => {
  rmSync(cwd, { recursive: true, force: true });
});

function load(env: NodeJS.ProcessEnv, argv: string[] = []): StaticConfig {
  return loadStaticConfig({ argv, env, cwd });
}

function loadError(env: NodeJS.ProcessEnv, argv: string[] = []): StaticConfigError {
  try {
    load(env, argv);
  } catch (error) {
    expect(error).toBeInstanceOf(StaticConfigError);
    return error as StaticConfigError;
  }
  throw new Error('expected a StaticConfigError');
}

function pick(config: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((value, key) => (value as Record<string, unknown>)?.[key], config);
}

describe('TRAEFIK_* variables', () => {
  it('leave the defaults alone when none is set', () => {
    const config = load({ PATH: '/bin' });
    expect(Object.keys(config.entryPoints)).toEqual(['web']);
    expect(config.entryPoints.web?.port).toBe(8000);
    expect(config.providers.docker).toBeUndefined();
    expect(config.api).toBeUndefined();
    expect(config.log.level).toBe('info');
    expect(config.certificatesResolvers).toBeUndefined();
    expect(staticWarnings(config)).toEqual([]);
  });

  // the variables of Traefik's documentation and of the Compose files people copy
  it.each<[NodeJS.ProcessEnv, string, unknown]>([
    [{ TRAEFIK_ENTRYPOINTS_WEB_ADDRESS: ':80' }, 'entryPoints.web.port', 80],
    [{ TRAEFIK_ENTRYPOINTS_WEBSECURE_ADDRESS: ':443' }, 'entryPoints.websecure.port', 443],
    [{ TRAEFIK_PROVIDERS_DOCKER: 'true' }, 'providers.docker.exposedByDefault', true],
    [
      { TRAEFIK_PROVIDERS_DOCKER_EXPOSEDBYDEFAULT: 'false' },
      'providers.docker.exposedByDefault',
      false,
    ],
    [{ TRAEFIK_PROVIDERS_DOCKER_NETWORK: 'proxy_net' }, 'providers.docker.network', 'proxy_net'],
    [
      {
        TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_EMAIL: 'ops@example.com',
        TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_TLSCHALLENGE: 'true',
      },
      'certificatesResolvers.le.email',
      'ops@example.com',
    ],
    [
      { TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_TLSCHALLENGE: 'true' },
      'certificatesResolvers.le.tlsChallenge',
      {},
    ],
    [{ TRAEFIK_API_INSECURE: 'true' }, 'api.insecure', true],
    [{ TRAEFIK_API: 'true' }, 'api.dashboard', true],
    [{ TRAEFIK_LOG_LEVEL: 'DEBUG' }, 'log.level', 'debug'],
    [{ TRAEFIK_ACCESSLOG: 'true' }, 'accessLog.format', 'common'],
    [{ TRAEFIK_PING: 'true' }, 'ping.entryPoint', 'traefik'],
    [
      {
        TRAEFIK_ENTRYPOINTS_WEB_ADDRESS: ':80',
        TRAEFIK_ENTRYPOINTS_WEB_FORWARDEDHEADERS_TRUSTEDIPS: '10.0.0.0/8,::1',
      },
      'entryPoints.web.forwardedHeaders.trustedIPs',
      ['10.0.0.0/8', '::1'],
    ],
    [
      {
        TRAEFIK_ENTRYPOINTS_WEB_ADDRESS: ':80',
        TRAEFIK_ENTRYPOINTS_WEB_HTTP_REDIRECTIONS_ENTRYPOINT_TO: 'websecure',
        TRAEFIK_ENTRYPOINTS_WEBSECURE_ADDRESS: ':443',
      },
      'entryPoints.web.http.redirect.to',
      'websecure',
    ],
    // paerser lower-cases everything after the root option: mixed case still reads
    [{ TRAEFIK_LOG_level: 'warn' }, 'log.level', 'warn'],
    // empty variables mean unset, as for PORTICO_*
    [{ TRAEFIK_LOG_LEVEL: '' }, 'log.level', 'info'],
  ])('%j sets %s', (env, path, expected) => {
    expect(pick(load(env), path)).toEqual(expected);
  });

  it('mean what the same PORTICO_* variables mean', () => {
    const pairs: Record<string, string> = {
      ENTRYPOINTS_WEB_ADDRESS: ':81',
      ENTRYPOINTS_WEB_TRANSPORT_RESPONDINGTIMEOUTS_READTIMEOUT: '30s',
      PROVIDERS_DOCKER_EXPOSEDBYDEFAULT: 'false',
      CERTIFICATESRESOLVERS_LE_ACME_EMAIL: 'a@example.com',
      CERTIFICATESRESOLVERS_LE_ACME_HTTPCHALLENGE_ENTRYPOINT: 'web',
      ACCESSLOG_FORMAT: 'json',
      METRICS_PROMETHEUS: 'true',
      LOG_LEVEL: 'error',
    };
    const prefixed = (prefix: string): NodeJS.ProcessEnv =>
      Object.fromEntries(Object.entries(pairs).map(([k, v]) => [prefix + k, v]));
    expect(load(prefixed('TRAEFIK_'))).toEqual(load(prefixed('PORTICO_')));
  });

  it('read entry point names in lower case, as Traefik does', () => {
    const config = load({ TRAEFIK_ENTRYPOINTS_WebSecure_ADDRESS: ':443' });
    expect(Object.keys(config.entryPoints)).toEqual(['websecure']);
  });

  it('lose to PORTICO_* for the same option, with one warning naming both', () => {
    const config = load({ TRAEFIK_LOG_LEVEL: 'DEBUG', PORTICO_LOG_LEVEL: 'error' });
    expect(config.log.level).toBe('error');
    expect(staticWarnings(config)).toEqual([
      'PORTICO_LOG_LEVEL and TRAEFIK_LOG_LEVEL both set log.level; PORTICO_LOG_LEVEL is used',
    ]);
  });

  it('lose to flags, as PORTICO_* does', () => {
    const config = load({ TRAEFIK_LOG_LEVEL: 'DEBUG' }, ['--log.level=warn']);
    expect(config.log.level).toBe('warn');
  });

  it('are merged over a configuration file, with a warning that Traefik would ignore them', () => {
    writeFileSync(join(cwd, 'portico.yml'), 'log: {level: error}\napi: {}\n');
    const config = load({ TRAEFIK_LOG_LEVEL: 'DEBUG', TRAEFIK_API_INSECURE: 'true' });
    expect(config.log.level).toBe('debug');
    expect(config.api?.insecure).toBe(true);
    expect(staticWarnings(config)).toEqual([
      'TRAEFIK_API_INSECURE, TRAEFIK_LOG_LEVEL are merged with the configuration file; ' +
        'traefik reads one source only and would ignore them',
    ]);
  });

  it('are merged with flags, with a warning that Traefik would ignore them', () => {
    const config = load({ TRAEFIK_API_INSECURE: 'true' }, ['--providers.docker']);
    expect(config.api?.insecure).toBe(true);
    expect(staticWarnings(config)).toEqual([
      'TRAEFIK_API_INSECURE is merged with the command-line flags; ' +
        'traefik reads one source only and would ignore it',
    ]);
  });

  it('TRAEFIK_CONFIGFILE names the configuration file, below PORTICO_CONFIGFILE', () => {
    writeFileSync(join(cwd, 'traefik.yml'), 'log: {level: warn}\n');
    writeFileSync(join(cwd, 'portico-env.yml'), 'log: {level: error}\n');
    expect(load({ TRAEFIK_CONFIGFILE: 'traefik.yml' }).log.level).toBe('warn');
    expect(
      load({ TRAEFIK_CONFIGFILE: 'traefik.yml', PORTICO_CONFIGFILE: 'portico-env.yml' }).log.level,
    ).toBe('error');
  });

  it('refuse an unknown option under a Traefik option, naming the variable and the nearest one', () => {
    // Traefik stops too ("field not found"); the name and the suggestion are Portico's
    const error = loadError({ TRAEFIK_LOG_LEVL: 'DEBUG' });
    expect(error.option).toBe('TRAEFIK_LOG_LEVL');
    expect(error.message).toMatch(/did you mean TRAEFIK_LOG_LEVEL\?/);
    const nested = loadError({ TRAEFIK_ENTRYPOINTS_WEB_ADRESS: ':80' });
    expect(nested.option).toBe('TRAEFIK_ENTRYPOINTS_WEB_ADRESS');
    expect(nested.message).toMatch(/did you mean TRAEFIK_ENTRYPOINTS_WEB_ADDRESS\?/);
  });

  it('treat a Traefik option Portico does not implement as the file does', () => {
    writeFileSync(join(cwd, 'tracing.yml'), 'tracing:\n  serviceName: x\n');
    const fromFile = loadError({}, ['--configFile=tracing.yml']);
    const fromEnv = loadError({ TRAEFIK_TRACING_SERVICENAME: 'x' });
    expect(fromEnv.option).toBe('TRAEFIK_TRACING_SERVICENAME');
    const reason = (e: StaticConfigError): string =>
      e.message.slice(e.message.lastIndexOf(': ') + 2);
    expect(reason(fromEnv)).toBe('tracing is a traefik option that portico does not support yet');
    expect(reason(fromEnv)).toBe(reason(fromFile));
  });

  it.each([
    // not under one of Traefik's static options: Traefik's loader never looks at them
    ['TRAEFIK_DOMAIN', 'example.com'],
    ['TRAEFIK_ENTRYPOINT_WEB_ADDRESS', ':80'],
    // Portico-only options keep their PORTICO_* name
    ['TRAEFIK_WORKERS', '4'],
  ])('ignore %s as Traefik does, with a warning', (name, value) => {
    const config = load({ [name]: value });
    expect(config.workers).not.toBe(4);
    expect(Object.keys(config.entryPoints)).toEqual(['web']);
    expect(config.entryPoints.web?.port).toBe(8000);
    expect(staticWarnings(config)).toEqual([
      `${name} is ignored: not one of traefik's static options (traefik ignores it too)`,
    ]);
  });

  it('ignore a lower-case prefix, as Traefik matches TRAEFIK_<OPTION> exactly', () => {
    const config = load({ traefik_log_level: 'DEBUG' });
    expect(config.log.level).toBe('info');
    expect(staticWarnings(config)).toEqual([]);
  });
});

// issue 17 §1: "never an exit for a harmless option" (log.noColor, log.maxSize...); the
// unsupported options that change what clients or upstreams get stay errors (above: tracing)
describe('harmless Traefik options Portico does not implement', () => {
  const warning = (where: string, option: string): string =>
    `${where}: ${option} is a traefik option that portico does not support yet; ignored`;

  it('are accepted from the file with one warning each', () => {
    writeFileSync(
      join(cwd, 'portico.yml'),
      'log:\n  level: warn\n  noColor: true\n  maxSize: 10\napi:\n  disableDashboardAd: true\n',
    );
    const config = load({});
    expect(config.log.level).toBe('warn');
    expect(config.api?.dashboard).toBe(true);
    expect(staticWarnings(config)).toEqual([
      warning('portico.yml: log.noColor (line 3)', 'log.noColor'),
      warning('portico.yml: log.maxSize (line 4)', 'log.maxSize'),
      warning('portico.yml: api.disableDashboardAd (line 6)', 'api.disableDashboardAd'),
    ]);
  });

  it('are accepted from TRAEFIK_* and PORTICO_* variables', () => {
    const config = load({
      TRAEFIK_LOG_NOCOLOR: 'true',
      TRAEFIK_ENTRYPOINTS_WEB_ADDRESS: ':80',
      TRAEFIK_ENTRYPOINTS_WEB_TRANSPORT_KEEPALIVEMAXTIME: '30s',
      PORTICO_PROVIDERS_DOCKER_HTTPCLIENTTIMEOUT: '30s',
    });
    expect(config.entryPoints.web?.port).toBe(80);
    expect(staticWarnings(config)).toEqual([
      warning(
        'TRAEFIK_ENTRYPOINTS_WEB_TRANSPORT_KEEPALIVEMAXTIME',
        'entryPoints.web.transport.keepAliveMaxTime',
      ),
      warning('TRAEFIK_LOG_NOCOLOR', 'log.noColor'),
      warning('PORTICO_PROVIDERS_DOCKER_HTTPCLIENTTIMEOUT', 'providers.docker.httpClientTimeout'),
    ]);
  });

  it('still switch their section on, as any option inside it does in Traefik', () => {
    const fromEnv = load({ TRAEFIK_PROVIDERS_DOCKER_HTTPCLIENTTIMEOUT: '30s' });
    const fromFlag = load({}, ['--providers.docker.httpClientTimeout=30s']);
    writeFileSync(join(cwd, 'portico.yml'), 'providers:\n  docker:\n    httpClientTimeout: 30s\n');
    const fromFile = load({});
    for (const config of [fromEnv, fromFlag, fromFile])
      expect(config.providers.docker?.exposedByDefault).toBe(true);
  });

  it('are accepted as flags, their value taken as any other flag value', () => {
    const config = load({}, ['--log.noColor', '--log.maxSize', '10', '--api.insecure']);
    expect(config.api?.insecure).toBe(true);
    expect(staticWarnings(config)).toEqual([
      warning('--log.noColor', 'log.noColor'),
      warning('--log.maxSize', 'log.maxSize'),
    ]);
  });

  it('do not make a misspelt option harmless', () => {
    const error = loadError({ TRAEFIK_LOG_NOCOLR: 'true' });
    expect(error.option).toBe('TRAEFIK_LOG_NOCOLR');
    expect(error.message).toMatch(/unknown option; valid here: level, format, filePath$/);
  });
});
