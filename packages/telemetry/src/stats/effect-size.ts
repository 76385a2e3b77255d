/**
 * Effect sizes and PSI between reference and observed cells. They describe how large a drift is,
 * not whether it is real, so noised counts are clamped at 0 first (a distribution has no negative
 * mass) — consistently for every measure.
 */

function proportions(counts: readonly number[], smoothing = 0): number[] {
  const clamped = counts.map((c) => Math.max(c, 0) + smoothing);
  const total = clamped.reduce((a, b) => a + b, 0);
  return total > 0 ? clamped.map((c) => c / total) : clamped.map(() => 0);
}

/**
 * Wasserstein-1 distance between the two binned distributions on the reference's probability scale:
 * each cell sits at the midpoint of the reference CDF range it covers, so the distance is in [0, 1]
 * whatever the feature's units (a 0.1σ shift of a normal feature gives ≈ 0.1/(2√π) ≈ 0.028).
 * W₁ = Σⱼ |F_obs(j) − F_ref(j)|·(uⱼ₊₁ − uⱼ) for cell positions u.
 */
export function normalizedWasserstein(reference: readonly number[], observed: readonly number[]): number {
  const p = proportions(reference);
  const q = proportions(observed);
  let fRef = 0;
  let fObs = 0;
  let position = p[0]! / 2;
  let distance = 0;
  for (let j = 0; j + 1 < p.length; j++) {
    fRef += p[j]!;
    fObs += q[j]!;
    const next = fRef + p[j + 1]! / 2;
    distance += Math.abs(fObs - fRef) * (next - position);
    position = next;
  }
  return distance;
}

/**
 * Jensen–Shannon distance √JS(P‖Q) with base-2 logs, in [0, 1]:
 * JS = ½ KL(P‖M) + ½ KL(Q‖M), M = (P + Q)/2. Defined for empty cells, unlike KL.
 */
export function jensenShannonDistance(reference: readonly number[], observed: readonly number[]): number {
  const p = proportions(reference);
  const q = proportions(observed);
  let js = 0;
  for (let i = 0; i < p.length; i++) {
    const m = (p[i]! + q[i]!) / 2;
    if (p[i]! > 0) js += 0.5 * p[i]! * Math.log2(p[i]! / m);
    if (q[i]! > 0) js += 0.5 * q[i]! * Math.log2(q[i]! / m);
  }
  return Math.sqrt(Math.max(0, js));
}

/**
 * Population stability index Σ (qᵢ − pᵢ)·ln(qᵢ/pᵢ), with ½ added to every count (Jeffreys) so an
 * empty cell does not make it infinite.
 */
export function populationStabilityIndex(reference: readonly number[], observed: readonly number[]): number {
  const p = proportions(reference, 0.5);
  const q = proportions(observed, 0.5);
  let psi = 0;
  for (let i = 0; i < p.length; i++) psi += (q[i]! - p[i]!) * Math.log(q[i]! / p[i]!);
  return psi;
}
