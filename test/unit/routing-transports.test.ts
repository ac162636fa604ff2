/*
 * serversTransports (src/routing/transports.ts): named transports inherit the
 * static defaults field by field, a broken one is recorded and its users get
 * its reason, and equal settings share one key (so they share pools).
 */
import { describe, expect, it } from 'vitest';
import type { ElementError } from '../../src/config/dynamic.js';
import { buildTransports, DEFAULT_TRANSPORT } from '../../src/routing/transports.js';
import { testStaticConfig } from '../helpers/portico.js';

const defaults = testStaticConfig([
  '--serversTransport.forwardingTimeouts.dialTimeout=7s',
  '--serversTransport.maxIdleConnsPerHost=3',
]).serversTransport;

describe('buildTransports', () => {
  it('undefined and default@internal give the static defaults', () => {
    const set = buildTransports({}, defaults, []);
    expect(set.resolve(undefined)).toBe(set.defaultTransport);
    expect(set.resolve(DEFAULT_TRANSPORT)).toBe(set.defaultTransport);
    expect(set.defaultTransport).toMatchObject({ dialTimeoutMs: 7000, maxConnsPerHost: 3 });
  });

  it('a named transport overrides what it sets and inherits the rest', () => {
    const set = buildTransports(
      { 'fast@file': { forwardingTimeouts: { dialTimeout: '250ms' }, serverName: 'up.test' } },
      defaults,
      [],
    );
    expect(set.resolve('fast@file')).toMatchObject({
      name: 'fast@file',
      dialTimeoutMs: 250,
      maxConnsPerHost: 3,
      serverName: 'up.test',
      responseHeaderTimeoutMs: set.defaultTransport.responseHeaderTimeoutMs,
    });
  });

  it('equal settings share a key, different ones do not', () => {
    const set = buildTransports(
      {
        'same@file': {},
        'other@file': { insecureSkipVerify: true },
      },
      defaults,
      [],
    );
    expect(set.resolve('same@file').key).toBe(set.defaultTransport.key);
    expect(set.resolve('other@file').key).not.toBe(set.defaultTransport.key);
  });

  it('an unparsable duration falls back to the default (the validator reports it before)', () => {
    const errors: ElementError[] = [];
    const set = buildTransports(
      { 'odd@file': { forwardingTimeouts: { dialTimeout: 'ten' } } },
      defaults,
      errors,
    );
    expect(errors).toEqual([]);
    expect(set.resolve('odd@file').dialTimeoutMs).toBe(7000);
  });

  it('resolving a transport that does not exist says so', () => {
    const set = buildTransports({}, defaults, []);
    expect(() => set.resolve('ghost@file')).toThrow('serversTransport "ghost@file" does not exist');
  });
});
