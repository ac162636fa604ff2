/*
 * The mirroring service's choice of mirrors (src/services/mirroring.ts):
 * deterministic percentages as Traefik counts them, not dice.
 */
import { describe, expect, it } from 'vitest';
import { createMirrorChooser, type MirrorTarget } from '../../src/services/mirroring.js';
import type { ServiceRuntime } from '../../src/services/build.js';

const child = (name: string) => ({ name }) as ServiceRuntime;

describe('createMirrorChooser', () => {
  it('sends exactly percent of the requests to each mirror', () => {
    const ten: MirrorTarget = { child: child('ten'), percent: 10, count: 0 };
    const half: MirrorTarget = { child: child('half'), percent: 50, count: 0 };
    const off: MirrorTarget = { child: child('off'), percent: 0, count: 0 };
    const choose = createMirrorChooser([ten, half, off]);
    const got = { ten: 0, half: 0, off: 0 };
    for (let i = 0; i < 100; i++) {
      for (const m of choose()) got[m.child.name as keyof typeof got]++;
    }
    expect(got).toEqual({ ten: 10, half: 50, off: 0 });
  });

  it('mirrors the very first request when the percentage is above zero', () => {
    const choose = createMirrorChooser([{ child: child('a'), percent: 1, count: 0 }]);
    expect(choose().map((m) => m.child.name)).toEqual(['a']);
    expect(choose()).toEqual([]);
  });

  it('sends every request at 100', () => {
    const choose = createMirrorChooser([{ child: child('all'), percent: 100, count: 0 }]);
    for (let i = 0; i < 5; i++) expect(choose()).toHaveLength(1);
  });
});
