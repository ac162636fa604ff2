/*
 * The fine latency histogram behind the dashboard's percentiles: fixed
 * bounds in √2 steps from 0.5 ms to 32.8 s, kept per entrypoint, router and
 * service next to the configured Prometheus buckets (see metrics.ts for why
 * both), and the quantile read from it.
 */

/** Upper bounds in ms: 0.5 × √2^i for i = 0..32 (0.5 ms … 32.8 s); one more slot counts above. */
export const FINE_BOUNDS_MS: readonly number[] = Array.from(
  { length: 33 },
  (_, i) => 0.5 * 2 ** (i / 2),
);
export const FINE_SLOTS = FINE_BOUNDS_MS.length + 1;

/** The fine slot of a duration: the first bound it does not exceed (Prometheus `le` semantics). */
export function fineIndex(ms: number): number {
  if (!(ms > FINE_BOUNDS_MS[0]!)) return 0;
  let i = Math.ceil(2 * Math.log2(ms / 0.5));
  if (i >= FINE_BOUNDS_MS.length) return FINE_BOUNDS_MS.length;
  // log2 rounding right at a bound
  if (ms > FINE_BOUNDS_MS[i]!) i++;
  else if (i > 0 && ms <= FINE_BOUNDS_MS[i - 1]!) i--;
  return i;
}

/**
 * The q-quantile (0..1) of a fine histogram in ms, interpolated inside its
 * bucket geometrically (the bounds are geometric); null when it is empty.
 */
export function percentileMs(hist: ArrayLike<number>, q: number): number | null {
  let total = 0;
  for (let i = 0; i < hist.length; i++) total += hist[i]!;
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    const n = hist[i]!;
    if (n === 0 || seen + n < rank) {
      seen += n;
      continue;
    }
    // above the last bound nothing is known but "more than 32.8 s"
    if (i >= FINE_BOUNDS_MS.length) return FINE_BOUNDS_MS[FINE_BOUNDS_MS.length - 1]!;
    const upper = FINE_BOUNDS_MS[i]!;
    const lower = i === 0 ? 0 : FINE_BOUNDS_MS[i - 1]!;
    const frac = (rank - seen) / n;
    const value = lower === 0 ? upper * frac : lower * (upper / lower) ** frac;
    return Math.round(value * 1000) / 1000;
  }
  return FINE_BOUNDS_MS[FINE_BOUNDS_MS.length - 1]!;
}
