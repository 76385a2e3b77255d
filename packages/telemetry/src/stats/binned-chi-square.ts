import { quadraticFormInverse } from './cholesky.js';
import { chiSquareSurvival } from './special-functions.js';

/** Counts to compare: reference (exact) and observed (summed over reports, maybe noised). */
export interface CellComparison {
  reference: readonly number[];
  observed: readonly number[];
  /** Variance of the noise summed into each observed cell (0 for raw counts). */
  noiseVariance: number;
  /**
   * The exact number of observed values, when known (reports send their clipped totals in clear).
   * With noise it keeps the tests linear in the noise; without it Σ observed is used.
   */
  observedTotal?: number;
}

export interface ChiSquareResult {
  statistic: number;
  df: number;
  pValue: number;
}

/**
 * Two-sample chi-square test of homogeneity between reference and observed cell counts, made
 * aware of privacy noise. Let r be the reference proportions (N values), p̄ the pooled proportions,
 * V the noise variance per observed cell and c = n(1 + n/N).
 *
 * Raw counts: d = O − n·r has Cov(d) = c·(diag p̄ − p̄p̄ᵀ), of rank K − 1; T = dᵀCov⁻¹d over K − 1
 * cells is the classical Σ (O/n − R/N)² / (p̄(1/n + 1/N)) ~ χ²(K − 1).
 *
 * Noised counts Õ = O + Z with the exact n known: d = Õ − n·r adds Z, so Cov(d) = c·(diag p̄ − p̄p̄ᵀ) + V·I,
 * full rank, and T over all K cells ~ χ²(K). This stays linear in the noise however large it is
 * next to n, so the test does not mistake noise for drift even for a handful of reports.
 *
 * Noised counts without n: n̂ = Σ Õ and d = Õ − n̂·r, Cov(d) = c·(diag p̄ − p̄p̄ᵀ) + V·(I − r1ᵀ − 1rᵀ + K·rrᵀ),
 * T over K − 1 cells ~ χ²(K − 1); a delta-method approximation that needs √(K·V) ≪ n.
 *
 * Noised counts are used as they are (negative ones too): clamping would bias d. Only the
 * pooled proportions inside the covariance use counts clamped at 0.
 */
export function binnedChiSquare({ reference, observed, noiseVariance, observedTotal }: CellComparison): ChiSquareResult {
  const bigN = sum(reference);
  const exactTotal = noiseVariance > 0 && observedTotal !== undefined;
  const n = observedTotal ?? sum(observed);
  if (!(bigN > 0) || !(n > 0)) return { statistic: 0, df: 0, pValue: 1 };
  const clampedTotal = observed.reduce((acc, o) => acc + Math.max(o, 0), 0);
  // Without noise, a cell empty in both samples carries no information and no variance: drop it.
  const keep: number[] = [];
  for (let i = 0; i < reference.length; i++) {
    if (noiseVariance > 0 || reference[i]! + Math.max(observed[i]!, 0) > 0) keep.push(i);
  }
  const k = keep.length;
  if (k < 2) return { statistic: 0, df: 0, pValue: 1 };
  const pooled = keep.map((i) => (reference[i]! + Math.max(observed[i]!, 0)) / (bigN + clampedTotal));
  // Without an exact n, Cov(d) has rank K − 1 (the d's sum to 0): leave out the heaviest cell, the best conditioned choice.
  let drop = -1;
  if (!exactTotal) {
    drop = 0;
    for (let j = 1; j < k; j++) if (pooled[j]! > pooled[drop]!) drop = j;
  }
  const rows = keep.filter((_, j) => j !== drop);
  const p = pooled.filter((_, j) => j !== drop);
  const m = rows.length;
  const c = n * (1 + n / bigN);
  const a = new Float64Array(m * m);
  const d = new Float64Array(m);
  for (let s = 0; s < m; s++) {
    const ri = reference[rows[s]!]! / bigN;
    d[s] = observed[rows[s]!]! - n * ri;
    for (let t = 0; t < m; t++) {
      const rj = reference[rows[t]!]! / bigN;
      const sampling = c * ((s === t ? p[s]! : 0) - p[s]! * p[t]!);
      const identity = s === t ? 1 : 0;
      const noise = exactTotal ? noiseVariance * identity : noiseVariance * (identity - ri - rj + k * ri * rj);
      a[s * m + t] = sampling + noise;
    }
  }
  const statistic = quadraticFormInverse(a, d);
  // Numerically singular covariance (e.g. vanishing noise on an empty cell): no evidence either way.
  if (!Number.isFinite(statistic)) return { statistic: 0, df: m, pValue: 1 };
  return { statistic, df: m, pValue: chiSquareSurvival(statistic, m) };
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
