import { krrProbabilities } from '../privacy/mechanisms.js';
import { quadraticFormInverse } from './cholesky.js';
import { chiSquareSurvival, kolmogorovSurvival } from './special-functions.js';

/**
 * Goodness-of-fit tests of randomized-response counts against a reference distribution.
 *
 * Each report carries one value through k-ary randomized response with its own ε (grouped by ε).
 * If the true values follow the reference proportions r, a group's reported values are an exact
 * multinomial with P_g = q_g + (p_g − q_g)·r: the noise is part of the model, not an approximation,
 * whatever the sample size and whatever the between-device heterogeneity (one value per device).
 */

/** Reported (randomized) counts of one ε group. */
export interface RrGroup {
  epsilon: number;
  counts: readonly number[];
}

export interface RrComparison {
  /** Reference counts per cell (exact, from the reference profile). */
  reference: readonly number[];
  groups: readonly RrGroup[];
}

export interface RrChiSquare {
  statistic: number;
  df: number;
  pValue: number;
}

export interface RrKs {
  /** Largest |F̂ − F| over cell edges, F̂ the debiased cumulative share. */
  statistic: number;
  effectiveN: number;
  pValue: number;
}

/** Reports in the groups. */
export function rrTotal(groups: readonly RrGroup[]): number {
  let n = 0;
  for (const g of groups) for (const c of g.counts) n += c;
  return n;
}

/**
 * Debiased estimate of the true shares per cell: Σ_g (O_g − n_g·q_g) / Σ_g n_g·(p_g − q_g). Unbiased;
 * entries may be negative or above 1 by noise. Null without reports.
 */
export function rrDebiasedShares(groups: readonly RrGroup[], cells: number): number[] | null {
  const numerator = new Array<number>(cells).fill(0);
  let scale = 0;
  for (const g of groups) {
    const n = sumOf(g.counts);
    if (n === 0) continue;
    const { p, q } = krrProbabilities(cells, g.epsilon);
    for (let k = 0; k < cells; k++) numerator[k]! += (g.counts[k] ?? 0) - n * q;
    scale += n * (p - q);
  }
  if (scale === 0) return null;
  return numerator.map((x) => x / scale);
}

/**
 * Wald chi-square test of "the true values follow the reference": d = Σ_g (O_g − n_g·P_g) with
 * Cov(d) = Σ_g n_g (diag P_g − P_g P_gᵀ) + s²(diag r − r rᵀ)/N, s = Σ_g n_g(p_g − q_g), the last term
 * for the reference's own sampling error (N reference values). d sums to zero, so the heaviest
 * cell is left out and T ~ χ²(K − 1).
 */
export function rrChiSquare({ reference, groups }: RrComparison): RrChiSquare {
  const k = reference.length;
  const bigN = sumOf(reference);
  const live = groups.filter((g) => sumOf(g.counts) > 0);
  if (k < 2 || !(bigN > 0) || live.length === 0) return { statistic: 0, df: 0, pValue: 1 };
  const r = reference.map((x) => x / bigN);
  const d = new Array<number>(k).fill(0);
  const cov = new Float64Array(k * k);
  let s = 0;
  for (const g of live) {
    const n = sumOf(g.counts);
    const { p, q } = krrProbabilities(k, g.epsilon);
    s += n * (p - q);
    const expected = r.map((ri) => q + (p - q) * ri);
    for (let i = 0; i < k; i++) {
      d[i]! += (g.counts[i] ?? 0) - n * expected[i]!;
      for (let j = 0; j < k; j++) cov[i * k + j]! += n * ((i === j ? expected[i]! : 0) - expected[i]! * expected[j]!);
    }
  }
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) cov[i * k + j]! += (s * s * ((i === j ? r[i]! : 0) - r[i]! * r[j]!)) / bigN;
  let drop = 0;
  for (let i = 1; i < k; i++) if (cov[i * k + i]! > cov[drop * k + drop]!) drop = i;
  const rows = [...Array(k).keys()].filter((i) => i !== drop);
  const m = rows.length;
  const a = new Float64Array(m * m);
  const x = new Float64Array(m);
  rows.forEach((i, s1) => {
    x[s1] = d[i]!;
    rows.forEach((j, t) => (a[s1 * m + t] = cov[i * k + j]!));
  });
  const statistic = quadraticFormInverse(a, x);
  if (!Number.isFinite(statistic)) return { statistic: 0, df: m, pValue: 1 };
  return { statistic, df: m, pValue: chiSquareSurvival(statistic, m) };
}

/**
 * Kolmogorov–Smirnov test on ordered cells: D = max over cell edges of |F̂ − F| with F̂ the debiased
 * cumulative share. At edge j, Var(F̂_j) = Σ_g n_g C_gj(1 − C_gj) / s² + F_j(1 − F_j)/N under the
 * null (C_gj the expected reported cumulative share); the effective size is the smallest
 * F_j(1 − F_j)/Var(F̂_j) over the edges, which keeps the Brownian-bridge scaling behind Q_KS on the
 * safe side. Taking D at edges only makes the test conservative.
 */
export function rrKs({ reference, groups }: RrComparison): RrKs {
  const k = reference.length;
  const bigN = sumOf(reference);
  const live = groups.filter((g) => sumOf(g.counts) > 0);
  if (k < 2 || !(bigN > 0) || live.length === 0) return { statistic: 0, effectiveN: 0, pValue: 1 };
  const params = live.map((g) => ({ n: sumOf(g.counts), ...krrProbabilities(k, g.epsilon), counts: g.counts }));
  const s = params.reduce((acc, g) => acc + g.n * (g.p - g.q), 0);
  let statistic = 0;
  let effectiveN = Number.POSITIVE_INFINITY;
  let cumulativeReference = 0;
  const cumulative = params.map(() => 0);
  for (let j = 1; j < k; j++) {
    cumulativeReference += reference[j - 1]!;
    const f = cumulativeReference / bigN;
    let numerator = 0;
    let variance = 0;
    params.forEach((g, i) => {
      cumulative[i]! += g.counts[j - 1] ?? 0;
      numerator += cumulative[i]! - g.n * g.q * j;
      const c = g.q * j + (g.p - g.q) * f;
      variance += g.n * c * (1 - c);
    });
    const estimate = numerator / s;
    statistic = Math.max(statistic, Math.abs(estimate - f));
    const total = variance / (s * s) + (f * (1 - f)) / bigN;
    if (f > 0 && f < 1 && total > 0) effectiveN = Math.min(effectiveN, (f * (1 - f)) / total);
  }
  if (!Number.isFinite(effectiveN)) return { statistic, effectiveN: 0, pValue: 1 };
  const root = Math.sqrt(effectiveN);
  return { statistic, effectiveN, pValue: kolmogorovSurvival((root + 0.12 + 0.11 / root) * statistic) };
}

function sumOf(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
