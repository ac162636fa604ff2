/*
 * The service manager (src/routing/service-manager.ts) on its own: a service
 * is built once, a failure is recorded once on the service and thrown to each
 * caller, loops are reported on every service of the loop, internal services
 * need no configuration.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ElementError, ServiceConfig } from '../../src/config/dynamic.js';
import { CycleError } from '../../src/routing/elements.js';
import { recordRejectedServices, ServiceManager } from '../../src/routing/service-manager.js';
import { StateRegistry } from '../../src/kernel/state.js';
import type { ServiceInfo } from '../../src/table/table.js';
import { buildTransports } from '../../src/routing/transports.js';
import type { Handler } from '../../src/kernel/context.js';
import { testStaticConfig } from '../helpers/portico.js';

const sc = testStaticConfig();
const lb = (url = 'http://127.0.0.1:1'): ServiceConfig => ({
  loadBalancer: { servers: [{ url }] },
});
const states: StateRegistry[] = [];

function manager(
  configs: Record<string, ServiceConfig>,
  extra: {
    internal?: Map<string, Handler>;
    transports?: Parameters<typeof buildTransports>[0];
  } = {},
) {
  const state = new StateRegistry();
  state.begin();
  states.push(state);
  const infos = new Map<string, ServiceInfo>();
  const errors: ElementError[] = [];
  const m = new ServiceManager({
    configs,
    internal: extra.internal,
    transports: buildTransports(extra.transports ?? {}, sc.serversTransport, errors),
    entryPoints: sc.entryPoints,
    state,
    logger: pino({ level: 'silent' }),
    infos,
    errors,
  });
  return { m, infos, errors };
}

afterEach(() => {
  for (const s of states.splice(0)) s.closeAll();
});

describe('ServiceManager', () => {
  it('builds a service once and records it enabled', () => {
    const { m, infos, errors } = manager({ 's@file': lb() });
    const rt = m.build('s@file');
    expect(m.build('s@file')).toBe(rt);
    expect(m.runtimes.get('s@file')).toBe(rt);
    expect(infos.get('s@file')).toMatchObject({
      provider: 'file',
      type: 'loadBalancer',
      status: 'enabled',
      errors: [],
    });
    expect(errors).toEqual([]);
  });

  it('a missing service throws and records nothing', () => {
    const { m, infos, errors } = manager({});
    expect(() => m.build('ghost@file')).toThrow('the service "ghost@file" does not exist');
    expect(infos.size).toBe(0);
    expect(errors).toEqual([]);
  });

  it('a loop is reported on every service of the loop, once', () => {
    const { m, infos, errors } = manager({
      'w1@file': { weighted: { services: [{ name: 'w2@file', weight: 1 }] } },
      'w2@file': { weighted: { services: [{ name: 'w1@file', weight: 1 }] } },
    });
    expect(() => m.build('w1@file')).toThrow(CycleError);
    expect(() => m.build('w1@file')).toThrow('service cycle through "w1@file"');
    expect(() => m.build('w2@file')).toThrow('service cycle through "w1@file"');
    for (const n of ['w1@file', 'w2@file'])
      expect(infos.get(n)).toMatchObject({
        status: 'disabled',
        errors: ['service cycle through "w1@file"'],
      });
    expect(errors.map((e) => e.name)).toEqual(['w2@file', 'w1@file']);
  });

  it("a broken child is named in the parent's reason", () => {
    const { m, infos } = manager({
      'm@file': { mirroring: { service: 's@file', mirrors: [{ name: 'ghost@file', percent: 5 }] } },
      's@file': lb(),
    });
    expect(() => m.build('m@file')).toThrow(
      'child service "ghost@file": the service "ghost@file" does not exist',
    );
    expect(infos.get('m@file')!.status).toBe('disabled');
    expect(infos.get('s@file')!.status).toBe('enabled');
  });

  it('a service on a missing serversTransport fails with that reason', () => {
    const { m, infos, errors } = manager({
      's@file': {
        loadBalancer: { servers: [{ url: 'http://127.0.0.1:1' }], serversTransport: 'ghost@file' },
      },
    });
    expect(() => m.build('s@file')).toThrow('serversTransport "ghost@file" does not exist');
    expect(infos.get('s@file')!.errors).toEqual(['serversTransport "ghost@file" does not exist']);
    expect(errors.map((e) => e.kind)).toEqual(['service']);
  });

  it('an internal service needs no configuration and is always up', () => {
    const handler: Handler = () => {};
    const { m, infos } = manager({}, { internal: new Map([['api@internal', handler]]) });
    const rt = m.build('api@internal');
    expect(rt.handle).toBe(handler);
    expect(rt.isUp()).toBe(true);
    expect(infos.size).toBe(0);
  });

  it('buildAll builds the unused services so their errors show, and keeps going', () => {
    const { m, infos, errors } = manager({ 'bad@file': lb('not a url'), 'ok@file': lb() });
    m.buildAll();
    expect(infos.get('bad@file')!.status).toBe('disabled');
    expect(errors[0]).toMatchObject({ kind: 'service', name: 'bad@file' });
    expect(m.runtimes.has('ok@file')).toBe(true);
  });
});

describe('recordRejectedServices', () => {
  it('services the validator threw out show up disabled with their field and reason', () => {
    const infos = new Map<string, ServiceInfo>();
    recordRejectedServices(
      [
        { kind: 'service', name: 'a@file', field: 'loadBalancer.servers', message: 'is required' },
        { kind: 'router', name: 'r@file', message: 'ignored' },
        { kind: 'service', name: 'a@file', message: 'second reason' },
      ],
      infos,
    );
    expect([...infos.keys()]).toEqual(['a@file']);
    expect(infos.get('a@file')).toMatchObject({
      provider: 'file',
      type: 'unknown',
      status: 'disabled',
      errors: ['loadBalancer.servers: is required', 'second reason'],
    });
  });
});
