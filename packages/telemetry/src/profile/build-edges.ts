import { TelemetryError } from '../errors.js';

/**
 * Bin edges at the j/k reference quantiles, j = 1 … k−1, so that the k cells (underflow and overflow
 * included) each hold ≈ 1/k of the reference. An edge sits halfway between the two order statistics
 * it separates (x₍ᵣ₎ + x₍ᵣ₊₁₎)/2 with r = round(j·N/k), so with continuous data no reference value lies on an
 * edge. Tied quantiles collapse into one edge, which makes some cells heavier; the drift tests use
 * the reference counts, not an equal-mass assumption, so that stays correct.
 */
export function quantileEdges(values: ArrayLike<number>, bins: number, feature: string, tails: number | false = false): number[] {
  const finite: number[] = [];
  for (let i = 0; i < values.length; i++) {
    // Devices compare in float32 (their tensors usually are): so does the reference.
    const x = Math.fround(values[i]!);
    if (x === x) finite.push(x);
  }
  if (finite.length === 0) {
    throw new TelemetryError('invalid_argument', `feature "${feature}" has no non-NaN reference values; give it reference samples`);
  }
  finite.sort((a, b) => a - b);
  const n = finite.length;
  const edges: number[] = [];
  const levels: number[] = [];
  for (let j = 1; j < bins; j++) levels.push(j / bins);
  // Open-ended tail cells: below the `tails` and above the 1 − `tails` quantile, so that a change
  // in the tails shows in a cell of its own instead of vanishing inside the outer bins.
  if (tails !== false && tails > 0 && tails < 1 / bins) levels.unshift(tails), levels.push(1 - tails);
  for (const level of levels) {
    const r = Math.round(level * n);
    if (r <= 0 || r >= n) continue;
    const lo = finite[r - 1]!;
    const hi = finite[r]!;
    const edge = Math.fround(lo + (hi - lo) / 2);
    if (Number.isFinite(edge) && (edges.length === 0 || edge > edges[edges.length - 1]!)) edges.push(edge);
  }
  // A constant feature still needs one edge: everything at or above it is "as in the reference".
  if (edges.length === 0) {
    const only = finite.find((x) => Number.isFinite(x)) ?? 0;
    edges.push(only);
  }
  return edges;
}

/** The `max` most frequent reference values, most frequent first (ties by code-unit order). */
export function topVocabulary(values: readonly string[], max: number, feature: string): string[] {
  if (!Number.isInteger(max) || max < 1) {
    throw new TelemetryError('invalid_argument', `maxVocabulary for "${feature}" must be an integer ≥ 1, got ${max}`);
  }
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  if (counts.size === 0) {
    throw new TelemetryError('invalid_argument', `feature "${feature}" has no reference values; give it reference samples`);
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, max)
    .map(([word]) => word);
}
