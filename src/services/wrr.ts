/*
 * Smooth weighted round robin (the nginx algorithm). Traefik uses an EDF heap
 * for the same purpose; smooth WRR gives the same long-run shares with a
 * better interleaving (5,1,1 -> a a b a c a a) and needs no heap.
 */

export interface WeightedEntry<T> {
  item: T;
  /** Relative share; defaults to 1. Zero, negative or non-finite weights are never picked. */
  weight?: number;
}

export class SmoothWeightedRoundRobin<T> {
  readonly items: readonly T[];
  private readonly weights: Float64Array;
  // Running "current weight" per entry, kept across picks: this is what makes the sequence smooth.
  private readonly current: Float64Array;

  constructor(entries: readonly WeightedEntry<T>[]) {
    this.items = entries.map((e) => e.item);
    this.weights = new Float64Array(entries.length);
    this.current = new Float64Array(entries.length);
    entries.forEach((e, i) => {
      const w = e.weight ?? 1;
      this.weights[i] = Number.isFinite(w) && w > 0 ? w : 0;
    });
  }

  get size(): number {
    return this.items.length;
  }

  /**
   * Picks the next item. Items for which `isUp` returns false take no part in
   * this round at all (their current weight is frozen), which is how nginx
   * skips down peers: the remaining items keep their relative order and shares.
   * Returns undefined when nothing is eligible.
   */
  next(isUp?: (item: T) => boolean): T | undefined {
    const { weights, current, items } = this;
    let total = 0;
    let best = -1;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i] as number;
      if (w === 0) continue;
      if (isUp !== undefined && !isUp(items[i] as T)) continue;
      const c = (current[i] as number) + w;
      current[i] = c;
      total += w;
      if (best === -1 || c > (current[best] as number)) best = i;
    }
    if (best === -1) return undefined;
    current[best] = (current[best] as number) - total;
    return items[best];
  }

  /** Forgets the accumulated state, e.g. after a config reload. */
  reset(): void {
    this.current.fill(0);
  }
}
