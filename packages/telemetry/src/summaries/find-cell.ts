/**
 * The cell of `x` among bins cut at sorted `edges[from..to)`: the number of those edges ≤ x, found by
 * binary search (upper bound), so cell 0 is the underflow (x < first edge) and cell `to - from` the
 * overflow (x ≥ last edge). Bins are half-open [e_i, e_{i+1}). NaN must be handled by the caller:
 * every comparison with NaN is false, which would put it in the underflow.
 *
 * Works on a slice of a flat array so that a recorder can keep every feature's edges in one
 * Float64Array and record without allocating.
 */
export function findCell(edges: ArrayLike<number>, from: number, to: number, x: number): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo - from;
}
