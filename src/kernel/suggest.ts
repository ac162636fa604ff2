/*
 * "Did you mean" hints for misspelled names: configuration fields, options,
 * types, static options and rule matchers. The one copy: the validator, the
 * label decoder, the static configuration and the rule parser all use it.
 */

/**
 * Optimal string alignment distance: insertions, deletions, substitutions and
 * a swap of two neighbouring characters each count as one edit, so 'Hots' is
 * one edit from 'Host' (a swap is the commonest typo; plain Levenshtein counts
 * it as two). Case-sensitive: callers lower-case both sides.
 */
export function editDistance(a: string, b: string): number {
  const n = b.length;
  // three rows: i-2 (for swaps), i-1, and the one being filled
  let before = new Array<number>(n + 1).fill(0);
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  let row = new Array<number>(n + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    row[0] = i;
    for (let j = 1; j <= n; j++) {
      let d = Math.min(
        prev[j]! + 1,
        row[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, before[j - 2]! + 1);
      }
      row[j] = d;
    }
    [before, prev, row] = [prev, row, before];
  }
  return prev[n]!;
}

/** the default allowance: one edit up to 4 characters, two up to 8, then three */
function defaultMaxDistance(length: number): number {
  return length <= 4 ? 1 : length <= 8 ? 2 : 3;
}

/**
 * The candidate closest to `input` (ignoring case) if it is within
 * `maxDistance` edits, else undefined. Of equally close candidates the first
 * wins, so callers order them.
 */
export function suggest(
  input: string,
  candidates: readonly string[],
  maxDistance = defaultMaxDistance(input.length),
): string | undefined {
  const lower = input.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= maxDistance ? best : undefined;
}
