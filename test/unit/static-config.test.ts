import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadStaticConfig, staticOptionsHelp } from '../../src/config/static.js';
import type { StaticConfig } from '../../src/config/static-types.js';
import { StaticConfigError } from '../../src/kernel/errors.js';

let cwd: string;

beforeEach(() => {
  // an empty directory, so no stray ./portico.yml is picked up
  cwd = mkdtempSync(join(tmpdir(), 'portico-static-'));
});

afterEach(() => {
  rmSync(cwd, { recursive: true, force: true });
});

function load(argv: string[] = [], env: NodeJS.ProcessEnv = {}): StaticConfig {
  return loadStaticConfig({ argv, env, cwd });
}

function write(name: string, text: string): string {
  const path = join(cwd, name);
  writeFileSync(path, text);
  return path;
}

function loadError(argv: string[] = [], env: NodeJS.ProcessEnv = {}): StaticConfigError {
  try {
    load(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(StaticConfigError);
    return error as StaticConfigError;
  }
  throw new Error('expected a StaticConfigError');
}

/** reads a dotted path out of the config, for table-driven expectations */
function pick(config: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((value, key) => (value as Record<string, unknown>)?.[key], config);
}

describe('defaults', () => {
  it('listens on web :8000 with Traefik entrypoint defaults', () => {
    const config = load();
    expect(Object.keys(config.entryPoints)).toEqual(['web']);
    expect(config.entryPoints.web).toEqual({
      name: 'web',
      address: ':8000',
      host: '',
      port: 8000,
      forwardedHeaders: { trustedIPs: [], insecure: false },
      transport: {
        respondingTimeouts: {
          readTimeoutMs: 60_000,
          readHeaderTimeoutMs: 10_000,
          writeTimeoutMs: 0,
          idleTimeoutMs: 180_000,
        },
        lifeCycle: { graceTimeOutMs: 10_000, requestAcceptGraceTimeoutMs: 0 },
        keepAliveMaxRequests: 0,
      },
      http: {
        middlewares: [],
        maxHeaderBytes: 32_768,
        sanitizePath: true,
        encodedCharacters: {
          allowEncodedSlash: false,
          allowEncodedBackSlash: false,
          allowEncodedNullCharacter: false,
          allowEncodedSemicolon: false,
          allowEncodedPercent: false,
          allowEncodedQuestionMark: false,
          allowEncodedHash: false,
        },
      },
      asDefault: false,
    });
  });

  it('fills in the rest', () => {
    const config = load();
    expect(config.providers).toEqual({ providersThrottleDurationMs: 200 });
    expect(config.log).toEqual({ level: 'info', format: 'json' });
    expect(config.accessLog).toBeUndefined();
    expect(config.api).toBeUndefined();
    expect(config.ping).toBeUndefined();
    expect(config.serversTransport).toEqual({
      insecureSkipVerify: false,
      maxIdleConnsPerHost: 200,
      rootCAs: [],
      forwardingTimeouts: {
        dialTimeoutMs: 30_000,
        responseHeaderTimeoutMs: 0,
        idleConnTimeoutMs: 90_000,
      },
    });
    expect(config.workers).toBe(availableParallelism());
    expect(config.quickstart).toBe(false);
    expect(config.configFile).toBeUndefined();
  });

  it('does not add the default web entry point once one is configured', () => {
    expect(Object.keys(load(['--entryPoints.api.address=:9000']).entryPoints)).toEqual(['api']);
  });
});

describe('flags', () => {
  it.each<[string[], string, unknown]>([
    [['--entryPoints.web.address=:8001'], 'entryPoints.web.port', 8001],
    [['--entrypoints.web.address', ':8002'], 'entryPoints.web.port', 8002],
    [['--ENTRYPOINTS.web.ADDRESS=127.0.0.1:8003'], 'entryPoints.web.host', '127.0.0.1'],
    [['--entryPoints.web.address=[::1]:8004'], 'entryPoints.web.host', '::1'],
    [['--entryPoints.web.address=0.0.0.0:8005/tcp'], 'entryPoints.web.port', 8005],
    [['--entryPoints.web.address=:0'], 'entryPoints.web.port', 0],
    [
      ['--entryPoints.web.address=:1', '--entryPoints.web.asDefault'],
      'entryPoints.web.asDefault',
      true,
    ],
    [
      [
        '--entryPoints.web.address=:1',
        '--entryPoints.web.forwardedHeaders.trustedIPs=127.0.0.1/32, 10.0.0.0/8,::1,',
      ],
      'entryPoints.web.forwardedHeaders.trustedIPs',
      ['127.0.0.1/32', '10.0.0.0/8', '::1'],
    ],
    [
      ['--entryPoints.web.address=:1', '--entryPoints.web.forwardedHeaders.insecure'],
      'entryPoints.web.forwardedHeaders.insecure',
      true,
    ],
    [
      [
        '--entryPoints.web.address=:1',
        '--entryPoints.web.transport.respondingTimeouts.readTimeout=90s',
      ],
      'entryPoints.web.transport.respondingTimeouts.readTimeoutMs',
      90_000,
    ],
    [
      [
        '--entryPoints.web.address=:1',
        '--entryPoints.web.transport.respondingTimeouts.readHeaderTimeout=2s',
      ],
      'entryPoints.web.transport.respondingTimeouts.readHeaderTimeoutMs',
      2000,
    ],
    [
      [
        '--entryPoints.web.address=:1',
        '--entryPoints.web.transport.respondingTimeouts.writeTimeout=5',
      ],
      'entryPoints.web.transport.respondingTimeouts.writeTimeoutMs',
      5000,
    ],
    [
      [
        '--entryPoints.web.address=:1',
        '--entryPoints.web.transport.respondingTimeouts.idleTimeout=1m',
      ],
      'entryPoints.web.transport.respondingTimeouts.idleTimeoutMs',
      60_000,
    ],
    [
      ['--entryPoints.web.address=:1', '--entryPoints.web.transport.lifeCycle.graceTimeOut=3s'],
      'entryPoints.web.transport.lifeCycle.graceTimeOutMs',
      3000,
    ],
    [
      [
        '--entryPoints.web.address=:1',
        '--entryPoints.web.transport.lifecycle.requestAcceptGraceTimeout=1s',
      ],
      'entryPoints.web.transport.lifeCycle.requestAcceptGraceTimeoutMs',
      1000,
    ],
    [
      ['--entryPoints.web.address=:1', '--entryPoints.web.transport.keepAliveMaxRequests=100'],
      'entryPoints.web.transport.keepAliveMaxRequests',
      100,
    ],
    [
      ['--entryPoints.web.address=:1', '--entryPoints.web.http.middlewares=a@file,b@file'],
      'entryPoints.web.http.middlewares',
      ['a@file', 'b@file'],
    ],
    [
      ['--entryPoints.web.address=:1', '--entryPoints.web.http.maxHeaderBytes=65536'],
      'entryPoints.web.http.maxHeaderBytes',
      65_536,
    ],
    [
      ['--entryPoints.web.address=:1', '--entryPoints.web.http.sanitizePath=false'],
      'entryPoints.web.http.sanitizePath',
      false,
    ],
    [
      [
        '--entryPoints.web.address=:1',
        '--entryPoints.web.http.encodedCharacters.allowEncodedSlash',
        'true',
      ],
      'entryPoints.web.http.encodedCharacters.allowEncodedSlash',
      true,
    ],
    [['--providers.file.filename=dynamic.yml'], 'providers.file.watch', true],
    [
      ['--providers.file.directory=dyn', '--providers.file.watch=false'],
      'providers.file.watch',
      false,
    ],
    [['--providers.providersThrottleDuration=1s'], 'providers.providersThrottleDurationMs', 1000],
    [['--log.level=DEBUG'], 'log.level', 'debug'],
    [['--log.level=panic'], 'log.level', 'fatal'],
    [['--log.format=common'], 'log.format', 'common'],
    [['--accessLog=true'], 'accessLog', { format: 'common', bufferingSize: 0 }],
    [['--accesslog'], 'accessLog.format', 'common'],
    [['--accesslog.format=json'], 'accessLog.format', 'json'],
    [['--api.insecure=true'], 'api', { insecure: true, dashboard: true }],
    [['--api.dashboard=false'], 'api', { insecure: false, dashboard: false }],
    [['--api'], 'api', { insecure: false, dashboard: true }],
    [['--ping=true'], 'ping', { entryPoint: 'traefik' }],
    [['--serversTransport.insecureSkipVerify'], 'serversTransport.insecureSkipVerify', true],
    [['--serversTransport.maxIdleConnsPerHost=7'], 'serversTransport.maxIdleConnsPerHost', 7],
    [
      ['--serversTransport.forwardingTimeouts.dialTimeout=5s'],
      'serversTransport.forwardingTimeouts.dialTimeoutMs',
      5000,
    ],
    [
      ['--serversTransport.forwardingTimeouts.responseHeaderTimeout=10s'],
      'serversTransport.forwardingTimeouts.responseHeaderTimeoutMs',
      10_000,
    ],
    [
      ['--serversTransport.forwardingTimeouts.idleConnTimeout=1s'],
      'serversTransport.forwardingTimeouts.idleConnTimeoutMs',
      1000,
    ],
    [['--workers=3'], 'workers', 3],
    [['--workers', '0'], 'workers', 0],
    [['--quickstart'], 'quickstart', true],
    [['--quickstart', 'false'], 'quickstart', false],
    [['--global.checkNewVersion=false', '--global.sendAnonymousUsage'], 'quickstart', false],
  ])('%j sets %s', (argv, path, expected) => {
    expect(pick(load(argv), path)).toEqual(expected);
  });

  it('resolves file paths against cwd', () => {
    const config = load([
      '--providers.file.filename=dynamic.yml',
      '--accesslog.filepath=logs/access.log',
      '--serversTransport.rootCAs=a.pem,/etc/b.pem',
    ]);
    expect(config.providers.file).toEqual({ filename: join(cwd, 'dynamic.yml'), watch: true });
    expect(config.accessLog?.filePath).toBe(join(cwd, 'logs/access.log'));
    expect(config.serversTransport.rootCAs).toEqual([join(cwd, 'a.pem'), '/etc/b.pem']);
  });

  it('lets the last of a repeated flag win', () => {
    expect(load(['--log.level=debug', '--log.level=error']).log.level).toBe('error');
  });

  it('adds the traefik entry point on :8080 for api.insecure, next to the default web', () => {
    const config = load(['--api.insecure']);
    expect(Object.keys(config.entryPoints)).toEqual(['web', 'traefik']);
    expect(config.entryPoints.traefik?.port).toBe(8080);
  });

  it('adds the traefik entry point for ping but keeps a configured one', () => {
    expect(load(['--ping']).entryPoints.traefik?.port).toBe(8080);
    const config = load(['--ping', '--api.insecure', '--entryPoints.traefik.address=:9090']);
    expect(Object.keys(config.entryPoints)).toEqual(['traefik']);
    expect(config.entryPoints.traefik?.port).toBe(9090);
  });

  it('serves ping on another configured entry point', () => {
    const config = load(['--entryPoints.web.address=:1', '--ping.entryPoint=web']);
    expect(config.ping).toEqual({ entryPoint: 'web' });
    expect(config.entryPoints.traefik).toBeUndefined();
  });

  it('clamps the default readHeaderTimeout to a shorter readTimeout', () => {
    const config = load([
      '--entryPoints.web.address=:1',
      '--entryPoints.web.transport.respondingTimeouts.readTimeout=5s',
    ]);
    expect(config.entryPoints.web?.transport.respondingTimeouts.readHeaderTimeoutMs).toBe(5000);
  });

  it('keeps an explicit accessLog=false against an accessLog option from the same source', () => {
    expect(load(['--accesslog=false', '--accesslog.format=json']).accessLog).toBeUndefined();
    expect(load(['--accesslog.format=json', '--accesslog=false']).accessLog).toBeUndefined();
  });
});

describe('metrics', () => {
  it('is off by default', () => {
    expect(load().metrics).toBeUndefined();
  });

  it("turns Prometheus on with Traefik's defaults and adds the traefik entry point", () => {
    const config = load(['--metrics.prometheus']);
    expect(config.metrics).toEqual({
      addInternals: false,
      prometheus: {
        buckets: [0.1, 0.3, 1.2, 5],
        addEntryPointsLabels: true,
        addRoutersLabels: false,
        addServicesLabels: true,
        entryPoint: 'traefik',
        manualRouting: false,
      },
    });
    expect(config.entryPoints.traefik?.port).toBe(8080);
  });

  it.each<[string[], string, unknown]>([
    [['--metrics.prometheus.buckets=0.05,0.5,2'], 'metrics.prometheus.buckets', [0.05, 0.5, 2]],
    [['--metrics.prometheus.addRoutersLabels'], 'metrics.prometheus.addRoutersLabels', true],
    [
      ['--metrics.prometheus.addServicesLabels=false'],
      'metrics.prometheus.addServicesLabels',
      false,
    ],
    [
      ['--metrics.prometheus.addEntryPointsLabels=false'],
      'metrics.prometheus.addEntryPointsLabels',
      false,
    ],
    [['--metrics.prometheus.manualRouting'], 'metrics.prometheus.manualRouting', true],
    [['--metrics.prometheus', '--metrics.addInternals'], 'metrics.addInternals', true],
    [['--metrics.prometheus.addInternals'], 'metrics.addInternals', true],
  ])('%j sets %s', (argv, path, expected) => {
    expect(pick(load(argv), path)).toEqual(expected);
  });

  it('serves /metrics on a configured entry point without adding traefik', () => {
    const config = load(['--entryPoints.web.address=:1', '--metrics.prometheus.entryPoint=web']);
    expect(config.metrics?.prometheus?.entryPoint).toBe('web');
    expect(config.entryPoints.traefik).toBeUndefined();
  });

  it('reads buckets as a YAML list of numbers', () => {
    write('portico.yml', 'metrics:\n  prometheus:\n    buckets: [0.025, 0.25, 2.5]\n');
    expect(load().metrics?.prometheus?.buckets).toEqual([0.025, 0.25, 2.5]);
  });

  it.each<[string[], string, RegExp]>([
    [
      ['--metrics.prometheus.buckets=0.1,abc'],
      '--metrics.prometheus.buckets',
      /"abc" is not a positive number/,
    ],
    [['--metrics.prometheus.buckets=1,0.5'], '--metrics.prometheus.buckets', /ascending/],
    [['--metrics.prometheus.buckets=0'], '--metrics.prometheus.buckets', /positive/],
    [
      ['--metrics.prometheus.entryPoint=admin'],
      '--metrics.prometheus.entryPoint',
      /"admin" is not configured/,
    ],
    [
      ['--metrics.prometheus.headerLabels.x=y'],
      '--metrics.prometheus.headerLabels.x',
      /not support yet/,
    ],
  ])('refuses %j', (argv, option, reason) => {
    const error = loadError(argv);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(reason);
  });
});

describe('environment', () => {
  it.each<[NodeJS.ProcessEnv, string, unknown]>([
    [{ PORTICO_ENTRYPOINTS_WEB_ADDRESS: ':8000' }, 'entryPoints.web.port', 8000],
    [{ PORTICO_ENTRYPOINTS_WEBSECURE_ADDRESS: ':8443' }, 'entryPoints.websecure.port', 8443],
    [{ PORTICO_ENTRYPOINTS_MY_EP_ADDRESS: ':8001' }, 'entryPoints.my_ep.port', 8001],
    [
      {
        PORTICO_ENTRYPOINTS_WEB_ADDRESS: ':1',
        PORTICO_ENTRYPOINTS_WEB_TRANSPORT_RESPONDINGTIMEOUTS_READTIMEOUT: '30s',
      },
      'entryPoints.web.transport.respondingTimeouts.readTimeoutMs',
      30_000,
    ],
    [
      {
        PORTICO_ENTRYPOINTS_WEB_ADDRESS: ':1',
        PORTICO_ENTRYPOINTS_WEB_FORWARDEDHEADERS_TRUSTEDIPS: '10.0.0.0/8,::1',
      },
      'entryPoints.web.forwardedHeaders.trustedIPs',
      ['10.0.0.0/8', '::1'],
    ],
    [
      { PORTICO_PROVIDERS_FILE_FILENAME: '/etc/dyn.yml' },
      'providers.file.filename',
      '/etc/dyn.yml',
    ],
    [{ PORTICO_LOG_LEVEL: 'DEBUG' }, 'log.level', 'debug'],
    [{ PORTICO_ACCESSLOG: 'true' }, 'accessLog.format', 'common'],
    [{ PORTICO_ACCESSLOG_FORMAT: 'json' }, 'accessLog.format', 'json'],
    [{ PORTICO_API_INSECURE: 'true' }, 'api.insecure', true],
    [{ PORTICO_WORKERS: '2' }, 'workers', 2],
    [{ PORTICO_QUICKSTART: 'true' }, 'quickstart', true],
    // empty variables mean unset, as compose files often write them
    [{ PORTICO_LOG_LEVEL: '' }, 'log.level', 'info'],
    // other variables are none of our business
    [{ PATH: '/bin', HOME: '/root' }, 'log.level', 'info'],
  ])('%j sets %s', (env, path, expected) => {
    expect(pick(load([], env), path)).toEqual(expected);
  });

  it('reads entry point names in lower case', () => {
    expect(Object.keys(load([], { PORTICO_ENTRYPOINTS_WEB_ADDRESS: ':1' }).entryPoints)).toEqual([
      'web',
    ]);
  });
});

describe('config file', () => {
  it('reads ./portico.yml by default', () => {
    write('portico.yml', 'entryPoints:\n  web:\n    address: ":9001"\n');
    const config = load();
    expect(config.entryPoints.web?.port).toBe(9001);
    expect(config.configFile).toBe(join(cwd, 'portico.yml'));
  });

  it('reads ./portico.yaml by default', () => {
    write('portico.yaml', 'log:\n  level: warn\n');
    expect(load().log.level).toBe('warn');
  });

  it.each([['--configFile=conf/static.yml'], ['--configfile', 'conf/static.yml']])(
    'reads the file named by %s',
    (...argv) => {
      mkdirSync(join(cwd, 'conf'));
      write('conf/static.yml', 'log:\n  level: error\n');
      expect(load(argv).log.level).toBe('error');
    },
  );

  it('reads the file named by PORTICO_CONFIGFILE', () => {
    write('other.yml', 'log:\n  level: error\n');
    expect(load([], { PORTICO_CONFIGFILE: 'other.yml' }).log.level).toBe('error');
  });

  it('reads JSON', () => {
    write('static.json', JSON.stringify({ entryPoints: { web: { address: ':9002' } }, api: {} }));
    const config = load(['--configFile=static.json']);
    expect(config.entryPoints.web?.port).toBe(9002);
    expect(config.api).toEqual({ insecure: false, dashboard: true });
  });

  it('matches keys case-insensitively and keeps entry point spelling', () => {
    write(
      'portico.yml',
      [
        'ENTRYPOINTS:',
        '  webSecure:',
        '    ADDRESS: ":9443"',
        '    transport:',
        '      respondingtimeouts:',
        '        readtimeout: 30',
        'accesslog: {}',
        'Ping:',
      ].join('\n'),
    );
    const config = load();
    expect(config.entryPoints.webSecure?.transport.respondingTimeouts.readTimeoutMs).toBe(30_000);
    expect(config.accessLog).toEqual({ format: 'common', bufferingSize: 0 });
    expect(config.ping).toEqual({ entryPoint: 'traefik' });
  });

  it('reads yaml lists, anchors and merge keys', () => {
    write(
      'portico.yml',
      [
        'x-timeouts: &timeouts',
        '  readTimeout: 5s',
        'entryPoints:',
        '  web:',
        '    address: ":9003"',
        '    forwardedHeaders:',
        '      trustedIPs:',
        '        - 10.0.0.0/8',
        '        - 192.168.0.1',
        '    transport:',
        '      respondingTimeouts:',
        '        <<: *timeouts',
        '        idleTimeout: 1m',
      ].join('\n'),
    );
    // x- extension keys are not options, so this must fail on them, not on the merge
    expect(() => load()).toThrow(/x-timeouts/);
    write(
      'portico.yml',
      [
        'entryPoints:',
        '  web:',
        '    address: ":9003"',
        '    forwardedHeaders:',
        '      trustedIPs:',
        '        - 10.0.0.0/8',
        '        - 192.168.0.1',
        '    transport:',
        '      respondingTimeouts: &timeouts',
        '        readTimeout: 5s',
        '  admin:',
        '    address: ":9004"',
        '    transport:',
        '      respondingTimeouts:',
        '        <<: *timeouts',
        '        idleTimeout: 1m',
      ].join('\n'),
    );
    const config = load();
    expect(config.entryPoints.web?.forwardedHeaders.trustedIPs).toEqual([
      '10.0.0.0/8',
      '192.168.0.1',
    ]);
    expect(config.entryPoints.admin?.transport.respondingTimeouts).toMatchObject({
      readTimeoutMs: 5000,
      idleTimeoutMs: 60_000,
    });
  });

  it('accepts an empty file', () => {
    write('portico.yml', '');
    expect(load().entryPoints.web?.port).toBe(8000);
  });
});

describe('a Traefik static configuration', () => {
  // as found in Traefik's documentation and typical deployments
  const TRAEFIK_YAML = `
global:
  checkNewVersion: false
  sendAnonymousUsage: false

entryPoints:
  web:
    address: ":80"
    forwardedHeaders:
      trustedIPs:
        - "127.0.0.1/32"
        - "172.16.0.0/12"
    transport:
      respondingTimeouts:
        readTimeout: 60s
        writeTimeout: 0s
        idleTimeout: 180s
      lifeCycle:
        requestAcceptGraceTimeout: 0s
        graceTimeOut: 10s
  websecure:
    address: ":443"
    asDefault: true
    http:
      middlewares:
        - compress@file
        - headers@file

providers:
  providersThrottleDuration: 2s
  file:
    filename: /etc/traefik/dynamic.yml
    watch: true

log:
  level: DEBUG
  format: json

accessLog:
  filePath: /var/log/traefik/access.log
  format: json
  bufferingSize: 100

api:
  insecure: true
  dashboard: true

ping: {}
`;

  it('loads unchanged', () => {
    write('traefik.yml', TRAEFIK_YAML);
    const config = load(['--configFile=traefik.yml']);
    expect(Object.keys(config.entryPoints)).toEqual(['web', 'websecure', 'traefik']);
    expect(config.entryPoints.web).toMatchObject({
      port: 80,
      forwardedHeaders: { trustedIPs: ['127.0.0.1/32', '172.16.0.0/12'], insecure: false },
      transport: {
        respondingTimeouts: { readTimeoutMs: 60_000, writeTimeoutMs: 0, idleTimeoutMs: 180_000 },
        lifeCycle: { requestAcceptGraceTimeoutMs: 0, graceTimeOutMs: 10_000 },
      },
    });
    expect(config.entryPoints.websecure).toMatchObject({
      port: 443,
      asDefault: true,
      http: { middlewares: ['compress@file', 'headers@file'] },
    });
    expect(config.entryPoints.traefik?.port).toBe(8080);
    expect(config.providers).toEqual({
      providersThrottleDurationMs: 2000,
      file: { filename: '/etc/traefik/dynamic.yml', watch: true },
    });
    expect(config.log).toEqual({ level: 'debug', format: 'json' });
    expect(config.accessLog).toEqual({
      filePath: '/var/log/traefik/access.log',
      format: 'json',
      bufferingSize: 100,
    });
    expect(config.api).toEqual({ insecure: true, dashboard: true });
    expect(config.ping).toEqual({ entryPoint: 'traefik' });
  });
});

describe('precedence', () => {
  it('merges defaults < file < env < flags option by option', () => {
    write(
      'portico.yml',
      [
        'entryPoints:',
        '  web:',
        '    address: ":9100"',
        '    transport:',
        '      respondingTimeouts:',
        '        readTimeout: 10s',
        '        idleTimeout: 20s',
        'log:',
        '  level: error',
        '  format: common',
        'workers: 1',
      ].join('\n'),
    );
    const config = load(['--entryPoints.web.address=:9300', '--workers=4'], {
      PORTICO_ENTRYPOINTS_WEB_ADDRESS: ':9200',
      PORTICO_ENTRYPOINTS_WEB_TRANSPORT_RESPONDINGTIMEOUTS_READTIMEOUT: '30s',
      PORTICO_LOG_LEVEL: 'warn',
      PORTICO_WORKERS: '2',
    });
    expect(config.entryPoints.web?.port).toBe(9300); // flag
    expect(config.entryPoints.web?.transport.respondingTimeouts.readTimeoutMs).toBe(30_000); // env
    expect(config.entryPoints.web?.transport.respondingTimeouts.idleTimeoutMs).toBe(20_000); // file
    expect(config.entryPoints.web?.transport.respondingTimeouts.writeTimeoutMs).toBe(0); // default
    expect(config.log).toEqual({ level: 'warn', format: 'common' });
    expect(config.workers).toBe(4);
  });

  it('prefers --configFile over PORTICO_CONFIGFILE over ./portico.yml', () => {
    write('portico.yml', 'log: {level: debug}\n');
    write('env.yml', 'log: {level: warn}\n');
    write('flag.yml', 'log: {level: error}\n');
    expect(load().log.level).toBe('debug');
    expect(load([], { PORTICO_CONFIGFILE: 'env.yml' }).log.level).toBe('warn');
    expect(load(['--configFile=flag.yml'], { PORTICO_CONFIGFILE: 'env.yml' }).log.level).toBe(
      'error',
    );
  });

  it('matches entry point names across sources case-insensitively', () => {
    write('portico.yml', 'entryPoints:\n  webSecure:\n    address: ":9443"\n');
    const config = load(['--entryPoints.WEBSECURE.asDefault'], {
      PORTICO_ENTRYPOINTS_WEBSECURE_ADDRESS: ':9444',
    });
    expect(Object.keys(config.entryPoints)).toEqual(['webSecure']);
    expect(config.entryPoints.webSecure).toMatchObject({ port: 9444, asDefault: true });
  });

  it('lets a higher source switch a section off or on', () => {
    write('portico.yml', 'accessLog:\n  format: json\napi:\n  insecure: false\n');
    expect(load([], { PORTICO_ACCESSLOG: 'false' }).accessLog).toBeUndefined();
    expect(load(['--api=false']).api).toBeUndefined();
    write('portico.yml', 'accessLog: false\n');
    expect(load(['--accesslog.format=json']).accessLog?.format).toBe('json');
  });
});

describe('errors', () => {
  it.each<[string, string[], NodeJS.ProcessEnv, string, RegExp]>([
    [
      'unknown flag',
      ['--entrypoint.web.address=:80'],
      {},
      '--entrypoint.web.address',
      /did you mean --entryPoints\.web\.address\?/,
    ],
    [
      'misplaced option',
      ['--entryPoints.web.readTimeout=5s'],
      {},
      '--entryPoints.web.readTimeout',
      /did you mean --entryPoints\.web\.transport\.respondingTimeouts\.readTimeout\?/,
    ],
    ['typo in a leaf', ['--log.levle=debug'], {}, '--log.levle', /did you mean --log\.level\?/],
    [
      'unsupported traefik option',
      ['--providers.swarm.endpoint=x'],
      {},
      '--providers.swarm.endpoint',
      /not support yet/,
    ],
    [
      'unsupported entrypoint option',
      ['--entryPoints.web.http.encodeQuerySemicolons'],
      {},
      '--entryPoints.web.http.encodeQuerySemicolons',
      /not support yet/,
    ],
    [
      'redirection to a missing entrypoint',
      [
        '--entryPoints.web.address=:1',
        '--entryPoints.web.http.redirections.entryPoint.to=websecure',
      ],
      {},
      '--entryPoints.web.http.redirections.entryPoint.to',
      /entrypoint "websecure" does not exist/,
    ],
    ['group without option', ['--entryPoints.web'], {}, '--entryPoints.web', /group of options/],
    ['positional argument', ['serve'], {}, 'serve', /unexpected argument/],
    ['missing value', ['--log.level'], {}, '--log.level', /missing value/],
    ['missing value before a flag', ['--log.level', '--api'], {}, '--log.level', /missing value/],
    [
      'unknown variable',
      [],
      { PORTICO_LOGG_LEVEL: 'debug' },
      'PORTICO_LOGG_LEVEL',
      /did you mean PORTICO_LOG_LEVEL\?/,
    ],
    [
      'typo after an entry point name with underscores',
      [],
      { PORTICO_ENTRYPOINTS_MY_EP_ADRESS: ':1' },
      'PORTICO_ENTRYPOINTS_MY_EP_ADRESS',
      /did you mean PORTICO_ENTRYPOINTS_MY_EP_ADDRESS\?/,
    ],
    [
      'unsupported traefik variable',
      [],
      { PORTICO_PROVIDERS_SWARM_ENDPOINT: 'unix:///var/run/docker.sock' },
      'PORTICO_PROVIDERS_SWARM_ENDPOINT',
      /providers\.swarm is a traefik option that portico does not support yet/,
    ],
    [
      'docker endpoint scheme',
      ['--providers.docker.endpoint=/var/run/docker.sock'],
      {},
      '--providers.docker.endpoint',
      /expected unix:\/\/\/path, tcp:\/\/host:port/,
    ],
    [
      'no close match',
      ['--foo'],
      {},
      '--foo',
      /unknown option; valid here: configFile, global, entryPoints/,
    ],
    ['unknown empty variable', [], { PORTICO_NOPE: '' }, 'PORTICO_NOPE', /unknown option/],
    [
      'non-numeric port',
      ['--entryPoints.web.address=:http'],
      {},
      '--entryPoints.web.address',
      /is not a number/,
    ],
    [
      'missing port',
      ['--entryPoints.web.address=8000'],
      {},
      '--entryPoints.web.address',
      /expected \[host\]:port/,
    ],
    [
      'port out of range',
      ['--entryPoints.web.address=:70000'],
      {},
      '--entryPoints.web.address',
      /out of range/,
    ],
    [
      'unknown protocol',
      ['--entryPoints.dns.address=:53/sctp'],
      {},
      '--entryPoints.dns.address',
      /unknown protocol "sctp"/,
    ],
    [
      'unbracketed ipv6',
      ['--entryPoints.web.address=::1:80'],
      {},
      '--entryPoints.web.address',
      /brackets/,
    ],
    ['bad ipv6', ['--entryPoints.web.address=[zz]:80'], {}, '--entryPoints.web.address', /ipv6/],
    ['no address', ['--entryPoints.web.asDefault'], {}, '--entryPoints.web.address', /is required/],
    [
      'no address from env',
      [],
      { PORTICO_ENTRYPOINTS_WEB_ASDEFAULT: 'true' },
      'PORTICO_ENTRYPOINTS_WEB_ADDRESS',
      /is required/,
    ],
    [
      'bad duration',
      [
        '--entryPoints.web.address=:1',
        '--entryPoints.web.transport.respondingTimeouts.idleTimeout=soon',
      ],
      {},
      '--entryPoints.web.transport.respondingTimeouts.idleTimeout',
      /is not a duration/,
    ],
    [
      'bad duration from env',
      [],
      { PORTICO_PROVIDERS_PROVIDERSTHROTTLEDURATION: '2 s' },
      'PORTICO_PROVIDERS_PROVIDERSTHROTTLEDURATION',
      /is not a duration/,
    ],
    ['bad bool', ['--api.insecure=yes'], {}, '--api.insecure', /expected true or false/],
    [
      'bad bool from env',
      [],
      { PORTICO_ACCESSLOG: 'on' },
      'PORTICO_ACCESSLOG',
      /expected true or false/,
    ],
    ['bad log level', ['--log.level=verbose'], {}, '--log.level', /expected TRACE\|DEBUG/],
    [
      'bad log level from env',
      [],
      { PORTICO_LOG_LEVEL: 'loud' },
      'PORTICO_LOG_LEVEL',
      /expected TRACE/,
    ],
    [
      'bad format',
      ['--accesslog.format=genericCLF'],
      {},
      '--accesslog.format',
      /expected json\|common/,
    ],
    [
      'bad cidr',
      [
        '--entryPoints.web.address=:1',
        '--entryPoints.web.forwardedHeaders.trustedIPs=10.0.0.0/8,10.0.0.0/33',
      ],
      {},
      '--entryPoints.web.forwardedHeaders.trustedIPs',
      /"10\.0\.0\.0\/33" is not an IP address or CIDR/,
    ],
    [
      'bad ip',
      ['--entryPoints.web.address=:1', '--entryPoints.web.forwardedHeaders.trustedIPs=localhost'],
      {},
      '--entryPoints.web.forwardedHeaders.trustedIPs',
      /not an IP address/,
    ],
    ['bad number', ['--workers=two'], {}, '--workers', /expected a whole number/],
    [
      'negative number',
      ['--serversTransport.maxIdleConnsPerHost=-1'],
      {},
      '--serversTransport.maxIdleConnsPerHost',
      /whole number/,
    ],
    [
      'zero header bytes',
      ['--entryPoints.web.address=:1', '--entryPoints.web.http.maxHeaderBytes=0'],
      {},
      '--entryPoints.web.http.maxHeaderBytes',
      /at least 1/,
    ],
    [
      'same address twice',
      ['--entryPoints.a.address=:9000', '--entryPoints.b.address=:9000'],
      {},
      '--entryPoints.b.address',
      /conflicts with entry point "a"/,
    ],
    [
      'wildcard and specific host on one port',
      ['--entryPoints.a.address=127.0.0.1:9000', '--entryPoints.b.address=0.0.0.0:9000'],
      {},
      '--entryPoints.b.address',
      /conflicts/,
    ],
    [
      'clash with the added traefik entry point',
      ['--entryPoints.web.address=:8080', '--api.insecure'],
      {},
      '--entryPoints.web.address',
      /added by portico/,
    ],
    [
      'filename and directory',
      ['--providers.file.filename=a.yml', '--providers.file.directory=dyn'],
      {},
      '--providers.file.filename',
      /cannot be combined with --providers.file.directory/,
    ],
    [
      'file provider without a file',
      ['--providers.file.watch'],
      {},
      '--providers.file.filename',
      /needs filename or directory/,
    ],
    [
      'readHeaderTimeout above readTimeout',
      [
        '--entryPoints.web.address=:1',
        '--entryPoints.web.transport.respondingTimeouts.readTimeout=5s',
        '--entryPoints.web.transport.respondingTimeouts.readHeaderTimeout=10s',
      ],
      {},
      '--entryPoints.web.transport.respondingTimeouts.readHeaderTimeout',
      /must not exceed readTimeout/,
    ],
    [
      'ping on a missing entry point',
      ['--ping.entryPoint=admin'],
      {},
      '--ping.entryPoint',
      /"admin" is not configured/,
    ],
    [
      'toml',
      ['--configFile=traefik.toml'],
      {},
      '--configFile',
      /toml configuration files are not supported/,
    ],
    ['missing file', ['--configFile=nope.yml'], {}, '--configFile', /no such file/],
    [
      'missing file from env',
      [],
      { PORTICO_CONFIGFILE: 'nope.yml' },
      'PORTICO_CONFIGFILE',
      /no such file/,
    ],
    [
      'bad entry point name',
      ['--entryPoints.w$b.address=:1'],
      {},
      '--entryPoints.w$b.address',
      /invalid entry point name/,
    ],
  ])('%s', (_name, argv, env, option, reason) => {
    const error = loadError(argv, env);
    expect(error.option).toBe(option);
    expect(error.message).toContain(option);
    expect(error.message).toMatch(reason);
    expect(error.code).toBe('PORTICO_ERR_STATIC_CONFIG');
  });

  it('still allows readHeaderTimeout above readTimeout when readTimeout is 0', () => {
    const config = load([
      '--entryPoints.web.address=:1',
      '--entryPoints.web.transport.respondingTimeouts.readTimeout=0',
      '--entryPoints.web.transport.respondingTimeouts.readHeaderTimeout=30s',
    ]);
    expect(config.entryPoints.web?.transport.respondingTimeouts).toMatchObject({
      readTimeoutMs: 0,
      readHeaderTimeoutMs: 30_000,
    });
  });
});

describe('file errors', () => {
  it.each<[string, string, string, RegExp]>([
    [
      'unknown key',
      'log:\n  level: info\nentryPoints:\n  web:\n    adress: ":80"\n',
      'portico.yml: entryPoints.web.adress (line 5)',
      /did you mean entryPoints\.web\.address\?/,
    ],
    [
      'bad value',
      'entryPoints:\n  web:\n    address: ":http"\n',
      'portico.yml: entryPoints.web.address (line 3)',
      /is not a number/,
    ],
    [
      'unquoted number address',
      'entryPoints:\n  web:\n    address: 80\n',
      'portico.yml: entryPoints.web.address (line 3)',
      /write ":80"/,
    ],
    [
      'bad bool',
      'api:\n  insecure: yes\n',
      'portico.yml: api.insecure (line 2)',
      /expected true or false/,
    ],
    [
      'mapping for a value',
      'log:\n  level:\n    x: 1\n',
      'portico.yml: log.level (line 2)',
      /got a mapping/,
    ],
    ['empty value', 'log:\n  level:\n', 'portico.yml: log.level (line 2)', /empty value/],
    ['value for a group', 'log: debug\n', 'portico.yml: log (line 1)', /expected a mapping/],
    [
      'case-insensitive duplicate',
      'log:\n  level: info\n  Level: debug\n',
      'portico.yml: log.Level (line 3)',
      /duplicates the key on line 2/,
    ],
    [
      'unsupported option',
      'metrics:\n  datadog: {}\n',
      'portico.yml: metrics.datadog (line 2)',
      /not support yet/,
    ],
    [
      'acme resolver without a challenge',
      'certificatesResolvers:\n  le:\n    acme:\n      email: a@b.c\n',
      'certificatesResolvers.le.acme.httpChallenge.entryPoint',
      /needs httpChallenge/,
    ],
    [
      'configFile inside the file',
      'configFile: other.yml\n',
      'portico.yml: configFile (line 1)',
      /only be given as a flag/,
    ],
    [
      'missing address',
      'entryPoints:\n  web: {}\n',
      'portico.yml: entryPoints.web.address',
      /is required/,
    ],
    [
      'syntax error',
      'log:\n  level: info\n bad: [1,\n',
      'portico.yml (line 3, column 1)',
      /yaml syntax error/,
    ],
    [
      'top-level list',
      '- a\n- b\n',
      'portico.yml',
      /expected a mapping of options at the top level/,
    ],
  ])('%s', (_name, text, option, reason) => {
    write('portico.yml', text);
    const error = loadError();
    expect(error.option).toBe(option);
    expect(error.message).toContain(option);
    expect(error.message).toMatch(reason);
  });

  it('names the file as given on the command line', () => {
    write(
      'static.yml',
      'entryPoints:\n  web:\n    address: ":1"\n    transport:\n      respondingTimeouts:\n        readTimeout: forever\n',
    );
    const error = loadError(['--configFile=static.yml']);
    expect(error.option).toBe(
      'static.yml: entryPoints.web.transport.respondingTimeouts.readTimeout (line 6)',
    );
  });
});

describe('staticOptionsHelp', () => {
  it.each([
    '--entryPoints.<name>.address=[HOST]:PORT',
    '--entryPoints.<name>.transport.respondingTimeouts.readTimeout=DURATION',
    '--providers.file.filename=PATH',
    '--log.level=TRACE|DEBUG|INFO|WARN|ERROR|FATAL|PANIC',
    '--accessLog[=true|false]',
    '--api.insecure[=true|false]',
    '--workers=N',
    '--quickstart[=true|false]',
    'defaults < config file < PORTICO_* environment variables < command-line flags',
    'Portico merges them',
    'PORTICO_ENTRYPOINTS_WEB_ADDRESS',
    'Entry point names are read in lower case',
    ':8000',
    'TOML is not supported',
  ])('mentions %s', (text) => {
    expect(staticOptionsHelp).toContain(text);
  });
});

describe('accessLog filters and fields', () => {
  it('reads filters from flags: codes and ranges, retries, minimum duration', () => {
    const config = load([
      '--accessLog.filters.statusCodes=200,300-302, 500 - 599',
      '--accessLog.filters.retryAttempts',
      '--accessLog.filters.minDuration=10ms',
    ]);
    expect(config.accessLog?.filters).toEqual({
      statusCodes: [
        [200, 200],
        [300, 302],
        [500, 599],
      ],
      retryAttempts: true,
      minDurationMs: 10,
    });
    expect(config.accessLog?.fields).toBeUndefined();
  });

  it('reads Traefik YAML: a statusCodes list, field and header modes', () => {
    write(
      'portico.yml',
      [
        'accessLog:',
        '  format: json',
        '  filters:',
        '    statusCodes: ["200", "400-404", 500]',
        '  fields:',
        '    defaultMode: keep',
        '    names:',
        '      ClientUsername: drop',
        '    headers:',
        '      defaultMode: keep',
        '      names:',
        '        User-Agent: redact',
        '        Content-Type: keep',
        '',
      ].join('\n'),
    );
    const config = load();
    expect(config.accessLog?.filters?.statusCodes).toEqual([
      [200, 200],
      [400, 404],
      [500, 500],
    ]);
    expect(config.accessLog?.fields).toEqual({
      defaultMode: 'keep',
      names: { ClientUsername: 'drop' },
      headers: { defaultMode: 'keep', names: { 'User-Agent': 'redact', 'Content-Type': 'keep' } },
    });
  });

  it('matches field names case-insensitively (env is lower case) and lets flags win', () => {
    const config = load(['--accessLog.fields.names.clientusername=redact'], {
      PORTICO_ACCESSLOG_FIELDS_NAMES_CLIENTUSERNAME: 'drop',
      'PORTICO_ACCESSLOG_FIELDS_HEADERS_NAMES_X-REQUEST-ID': 'keep',
    });
    expect(config.accessLog?.fields).toEqual({
      defaultMode: 'keep',
      names: { ClientUsername: 'redact' },
      headers: { defaultMode: 'drop', names: { 'x-request-id': 'keep' } },
    });
  });

  it.each<[string, string[], string, RegExp]>([
    [
      'bad status code',
      ['--accessLog.filters.statusCodes=200,2xx'],
      '--accessLog.filters.statusCodes',
      /"2xx" is not a status code or range like 300-302/,
    ],
    [
      'reversed range',
      ['--accessLog.filters.statusCodes=302-300'],
      '--accessLog.filters.statusCodes',
      /"302-300" is not a status code or range/,
    ],
    [
      'bad duration',
      ['--accessLog.filters.minDuration=fast'],
      '--accessLog.filters.minDuration',
      /is not a duration/,
    ],
    [
      'bad mode',
      ['--accessLog.fields.headers.names.Authorization=hide'],
      '--accessLog.fields.headers.names.Authorization',
      /expected keep\|drop\|redact, got "hide"/,
    ],
    [
      'unknown field',
      ['--accessLog.fields.names.ClientUsrname=drop'],
      '--accessLog.fields.names.ClientUsrname',
      /unknown access log field "ClientUsrname"; did you mean ClientUsername\?/,
    ],
    [
      'missing header name',
      ['--accessLog.fields.headers.names=keep'],
      '--accessLog.fields.headers.names',
      /missing header name/,
    ],
    [
      'unsupported traefik option',
      ['--accessLog.fields.queryParameters.defaultMode=drop'],
      '--accessLog.fields.queryParameters.defaultMode',
      /not support yet/,
    ],
  ])('reports %s', (_name, argv, option, reason) => {
    const error = loadError(argv);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(reason);
  });

  it('lists the options in the help', () => {
    expect(staticOptionsHelp).toContain('--accessLog.filters.statusCodes=A,B,...');
    expect(staticOptionsHelp).toContain(
      '--accessLog.fields.headers.names.<Header-Name>=keep|drop|redact',
    );
  });
});
