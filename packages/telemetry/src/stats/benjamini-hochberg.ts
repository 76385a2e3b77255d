export interface BenjaminiHochbergResult {
  /** BH-adjusted p-values (q-values), in input order. */
  adjusted: number[];
  /** Whether each hypothesis is rejected at false discovery rate `fdr`. */
  rejected: boolean[];
}

/**
 * Benjamini–Hochberg step-up procedure: sort p ascending, reject the i smallest for the largest i
 * with p₍ᵢ₎ ≤ i·q/m. Adjusted values q₍ᵢ₎ = min over j ≥ i of m·p₍ⱼ₎/j, capped at 1, so that
 * `rejected[i] === adjusted[i] <= fdr`. Controls the false discovery rate at q for independent or
 * positively dependent tests (Benjamini & Yekutieli 2001); under the global null that is also
 * the chance of any false alarm.
 */
export function benjaminiHochberg(pValues: readonly number[], fdr: number): BenjaminiHochbergResult {
  const m = pValues.length;
  const order = pValues.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const adjusted = new Array<number>(m).fill(1);
  let running = 1;
  for (let rank = m; rank >= 1; rank--) {
    const [p, index] = order[rank - 1]!;
    running = Math.min(running, (m * p) / rank);
    adjusted[index] = Math.min(1, running);
  }
  return { adjusted, rejected: adjusted.map((q) => q <= fdr) };
}
