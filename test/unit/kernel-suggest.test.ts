/*
 * The one did-you-mean helper (src/kernel/suggest.ts), used by the validator, the label
 * decoder, the static configuration and the rule parser.
 */
import { describe, expect, it } from 'vitest';
import { editDistance, suggest } from '../../src/kernel/suggest.js';

describe('editDistance (the one did-you-mean distance)', () => {
  it('counts insertions, deletions and substitutions', () => {
    expect(editDistance('', '')).toBe(0);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('abc', '')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('Host', 'Host')).toBe(0);
  });

  it('counts two swapped neighbours as one edit', () => {
    expect(editDistance('hots', 'host')).toBe(1);
    expect(editDistance('retires', 'retries')).toBe(1);
    // optimal string alignment: a swapped pair is not edited again
    expect(editDistance('ca', 'abc')).toBe(3);
  });

  it('is case-sensitive; suggest compares case-insensitively', () => {
    expect(editDistance('A', 'a')).toBe(1);
    expect(suggest('HOTS', ['Host', 'Path'])).toBe('Host');
  });
});

describe('suggest', () => {
  it('names the nearest candidate within the distance allowed for the length', () => {
    expect(suggest('adress', ['address', 'port'])).toBe('address');
    expect(suggest('servce', ['service', 'services', 'server'])).toBe('service');
    expect(suggest('entrypionts', ['entryPoints', 'middlewares'])).toBe('entryPoints');
  });

  it('suggests nothing when every candidate is too far', () => {
    expect(suggest('zz', ['host', 'path'])).toBeUndefined();
    expect(suggest('xyz', [])).toBeUndefined();
  });

  it('takes the allowed distance from the caller when given', () => {
    expect(suggest('hxyz', ['host'], 2)).toBeUndefined();
    expect(suggest('hxyz', ['host'], 3)).toBe('host');
  });

  it('keeps the first of equally near candidates (the caller orders them)', () => {
    expect(suggest('bat', ['cat', 'hat'])).toBe('cat');
  });
});
