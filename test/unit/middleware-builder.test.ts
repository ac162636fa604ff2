/*
 * The middleware builder (src/routing/middleware-builder.ts) on its own:
 * chains flatten into their members, each middleware is built once, loops
 * are found (Traefik: "recursion detected"), and every failure is recorded on
 * the middleware once with a reason that names the option at fault.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ElementError, MiddlewareConfig } from '../../src/config/dynamic.js';
import { CycleError } from '../../src/routing/elements.js';
import { MiddlewareBuilder } from '../../src/routing/middleware-builder.js';
import { StateRegistry } from '../../src/kernel/state.js';
import type { MiddlewareInfo } from '../../src/table/table.js';
import type { ServiceRuntime } from '../../src/services/build.js';

const states: StateRegistry[] = [];
afterEach(() => {
  for (const s of states.splice(0)) s.closeAll();
});

function builder(configs: Record<string, MiddlewareConfig>) {
  const infos = new Map<string, MiddlewareInfo>();
  const errors: ElementError[] = [];
  const asked: string[] = [];
  const services = {
    build(name: string): ServiceRuntime {
      asked.push(name);
      if (name !== 'pages@file') throw new Error(`the service "${name}" does not exist`);
      return {
        name,
        type: 'loadBalancer',
        handle: () => {},
        isUp: () => true,
        serverStatus: () => ({}),
        mirror: () => {},
      };
    },
  };
  const state = new StateRegistry();
  state.begin();
  states.push(state);
  const b = new MiddlewareBuilder({
    configs,
    services,
    state,
    logger: pino({ level: 'silent' }),
    infos,
    errors,
  });
  return { b, infos, errors, asked };
}

const prefix = (p: string): MiddlewareConfig => ({ addPrefix: { prefix: p } });

describe('MiddlewareBuilder', () => {
  it('builds a middleware once; a chain is its members in order', () => {
    const { b, infos } = builder({
      'a@file': prefix('/a'),
      'b@file': prefix('/b'),
      'ab@file': { chain: { middlewares: ['a@file', 'b@file'] } },
    });
    const [a] = b.build('a@file');
    const [bb] = b.build('b@file');
    expect(b.build('a@file')).toEqual([a]);
    expect(b.build('ab@file')).toEqual([a, bb]);
    expect(b.buildChain(['ab@file', 'a@file'])).toEqual([a, bb, a]);
    expect(infos.get('ab@file')).toMatchObject({ type: 'chain', status: 'enabled' });
  });

  it('a loop through chains disables each middleware on it, once', () => {
    const { b, infos, errors } = builder({
      'c1@file': { chain: { middlewares: ['c2@file'] } },
      'c2@file': { chain: { middlewares: ['ok@file', 'c1@file'] } },
      'ok@file': prefix('/ok'),
    });
    expect(() => b.build('c1@file')).toThrow(CycleError);
    expect(() => b.build('c2@file')).toThrow(
      'middleware "c2@file": middleware cycle through "c1@file"',
    );
    expect(errors).toEqual([
      { kind: 'middleware', name: 'c2@file', message: 'middleware cycle through "c1@file"' },
      { kind: 'middleware', name: 'c1@file', message: 'middleware cycle through "c1@file"' },
    ]);
    expect(infos.get('ok@file')!.status).toBe('enabled');
  });

  it('a chain naming itself is a loop', () => {
    const { b, infos } = builder({ 'self@file': { chain: { middlewares: ['self@file'] } } });
    expect(() => b.build('self@file')).toThrow('middleware cycle through "self@file"');
    expect(infos.get('self@file')).toMatchObject({
      status: 'disabled',
      errors: ['middleware cycle through "self@file"'],
    });
  });

  it.each([
    [
      'two types',
      { addPrefix: { prefix: '/a' }, stripPrefix: { prefixes: ['/b'] } },
      'a middleware must have exactly one type, found: addPrefix, stripPrefix',
    ],
    ['no type', {}, 'a middleware must have exactly one type, found: none'],
    ['an unknown type', { fooBar: {} }, 'unknown middleware type "fooBar"'],
    [
      'chain members not a list',
      { chain: { middlewares: 'x' } },
      'chain.middlewares must be a list of middleware names',
    ],
    ['a bad option, named with its type', { addPrefix: { prefix: 5 } }, /^addPrefix\.prefix: /],
  ])('%s is recorded on the middleware', (_what, cfg, reason) => {
    const { b, infos, errors } = builder({ 'm@file': cfg as MiddlewareConfig });
    expect(() => b.build('m@file')).toThrow(reason);
    expect(infos.get('m@file')!.status).toBe('disabled');
    expect(errors).toHaveLength(1);
    // later users get the recorded reason, and it is not recorded again
    expect(() => b.build('m@file')).toThrow(/^middleware "m@file": /);
    expect(errors).toHaveLength(1);
  });

  it('a missing middleware throws and records nothing', () => {
    const { b, infos, errors } = builder({});
    expect(() => b.buildChain(['ghost@file'])).toThrow('middleware "ghost@file" does not exist');
    expect(infos.size).toBe(0);
    expect(errors).toEqual([]);
  });

  it("an unqualified service name is qualified with the middleware's provider", () => {
    const { b, infos, asked } = builder({
      'e@file': { errors: { status: ['500'], service: 'pages', query: '/' } },
      'f@file': { errors: { status: ['500'], service: 'missing@docker', query: '/' } },
    });
    expect(b.build('e@file')).toHaveLength(1);
    expect(() => b.build('f@file')).toThrow(
      'errors.service: the service "missing@docker" does not exist',
    );
    expect(asked).toEqual(['pages@file', 'missing@docker']);
    expect(infos.get('f@file')!.status).toBe('disabled');
  });

  it('buildAll builds the unused middlewares so their errors show, and keeps going', () => {
    const { b, infos } = builder({ 'bad@file': { fooBar: {} }, 'ok@file': prefix('/ok') });
    b.buildAll();
    expect(infos.get('bad@file')!.status).toBe('disabled');
    expect(infos.get('ok@file')!.status).toBe('enabled');
  });
});
