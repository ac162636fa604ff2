import { describe, it, expect } from 'vitest';
import { SmoothWeightedRoundRobin } from '../../src/services/wrr.js';

function picks<T>(lb: SmoothWeightedRoundRobin<T>, n: number, isUp?: (item: T) => boolean): T[] {
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    const v = lb.next(isUp);
    if (v !== undefined) out.push(v);
  }
  return out;
}

function counts<T>(seq: T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const v of seq) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

describe('SmoothWeightedRoundRobin', () => {
  it('interleaves 5,1,1 as nginx does', () => {
    const lb = new SmoothWeightedRoundRobin([
      { item: 'a', weight: 5 },
      { item: 'b', weight: 1 },
      { item: 'c', weight: 1 },
    ]);
    expect(picks(lb, 7)).toEqual(['a', 'a', 'b', 'a', 'c', 'a', 'a']);
    // The schedule repeats exactly after one full cycle.
    expect(picks(lb, 7)).toEqual(['a', 'a', 'b', 'a', 'c', 'a', 'a']);
  });

  it.each([
    { weights: [1], cycle: 1 },
    { weights: [1, 1], cycle: 2 },
    { weights: [1, 1, 1, 1], cycle: 4 },
    { weights: [2, 1], cycle: 3 },
    { weights: [3, 2, 1], cycle: 6 },
    { weights: [5, 1, 1], cycle: 7 },
    { weights: [10, 1], cycle: 11 },
    { weights: [4, 4, 2], cycle: 10 },
    { weights: [7, 3, 0, 2], cycle: 12 },
    { weights: [100, 50, 25, 25], cycle: 200 },
    { weights: [1, 2, 3, 4, 5, 6, 7], cycle: 28 },
  ])('gives exact shares per cycle for weights $weights', ({ weights, cycle }) => {
    const lb = new SmoothWeightedRoundRobin(weights.map((weight, item) => ({ item, weight })));
    for (let round = 0; round < 3; round++) {
      const c = counts(picks(lb, cycle));
      weights.forEach((w, i) => expect(c.get(i) ?? 0).toBe(w));
    }
  });

  it('never picks the same item twice in a row when weights are equal', () => {
    const lb = new SmoothWeightedRoundRobin(['a', 'b', 'c'].map((item) => ({ item, weight: 1 })));
    expect(picks(lb, 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('spreads a heavy server evenly (no long bursts of the light one)', () => {
    const lb = new SmoothWeightedRoundRobin([
      { item: 'heavy', weight: 9 },
      { item: 'light', weight: 1 },
    ]);
    const seq = picks(lb, 100);
    for (let i = 1; i < seq.length; i++) {
      expect(seq[i] === 'light' && seq[i - 1] === 'light').toBe(false);
    }
    expect(counts(seq).get('light')).toBe(10);
  });

  it('defaults missing weights to 1', () => {
    const lb = new SmoothWeightedRoundRobin<string>([{ item: 'a' }, { item: 'b', weight: 1 }]);
    expect(counts(picks(lb, 10))).toEqual(
      new Map([
        ['a', 5],
        ['b', 5],
      ]),
    );
  });

  it.each([
    { desc: 'zero', weight: 0 },
    { desc: 'negative', weight: -3 },
    { desc: 'NaN', weight: Number.NaN },
    { desc: 'infinite', weight: Number.POSITIVE_INFINITY },
  ])('never picks an item with $desc weight', ({ weight }) => {
    const lb = new SmoothWeightedRoundRobin([
      { item: 'x', weight },
      { item: 'a', weight: 1 },
    ]);
    expect(new Set(picks(lb, 20))).toEqual(new Set(['a']));
  });

  it('returns undefined when every weight is zero or there are no entries', () => {
    expect(new SmoothWeightedRoundRobin([{ item: 'a', weight: 0 }]).next()).toBeUndefined();
    expect(new SmoothWeightedRoundRobin<string>([]).next()).toBeUndefined();
  });

  it('returns undefined when all servers are down', () => {
    const lb = new SmoothWeightedRoundRobin([
      { item: 'a', weight: 2 },
      { item: 'b', weight: 1 },
    ]);
    expect(lb.next(() => false)).toBeUndefined();
  });

  it.each([
    { weights: [5, 1, 1], down: ['a'], expected: { b: 1, c: 1 }, n: 2 },
    { weights: [5, 1, 1], down: ['b'], expected: { a: 5, c: 1 }, n: 6 },
    { weights: [3, 2, 1], down: ['a', 'c'], expected: { b: 4 }, n: 4 },
    { weights: [1, 1, 1], down: ['c'], expected: { a: 3, b: 3 }, n: 6 },
  ])('skips down servers $down and keeps the others shares', ({ weights, down, expected, n }) => {
    const names = ['a', 'b', 'c'];
    const lb = new SmoothWeightedRoundRobin(
      weights.map((weight, i) => ({ item: names[i]!, weight })),
    );
    const isUp = (s: string): boolean => !down.includes(s);
    expect(Object.fromEntries(counts(picks(lb, n, isUp)))).toEqual(expected);
  });

  it('resumes the full distribution when a server comes back', () => {
    const lb = new SmoothWeightedRoundRobin([
      { item: 'a', weight: 2 },
      { item: 'b', weight: 1 },
    ]);
    let bUp = false;
    const isUp = (s: string): boolean => s !== 'b' || bUp;
    expect(picks(lb, 5, isUp)).toEqual(['a', 'a', 'a', 'a', 'a']);
    bUp = true;
    const c = counts(picks(lb, 300, isUp));
    expect(c.get('a')).toBeGreaterThanOrEqual(199);
    expect(c.get('a')).toBeLessThanOrEqual(201);
    expect((c.get('a') ?? 0) + (c.get('b') ?? 0)).toBe(300);
  });

  it('works with object items and reset() restarts the schedule', () => {
    const a = { url: 'http://a' };
    const b = { url: 'http://b' };
    const lb = new SmoothWeightedRoundRobin([
      { item: a, weight: 2 },
      { item: b, weight: 1 },
    ]);
    const first = picks(lb, 2);
    lb.reset();
    expect(picks(lb, 2)).toEqual(first);
    expect(lb.size).toBe(2);
    expect(lb.items).toEqual([a, b]);
  });
});
