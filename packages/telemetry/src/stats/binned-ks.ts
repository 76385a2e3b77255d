import type { CellComparison } from './binned-chi-square.js';
import { kolmogorovSurvival } from './special-functions.js';

/**
 * The KS estimate F̂ = cumulative Õ / Σ Õ is a ratio of noisy sums; its delta-method variance
 * holds only while the noise on the denominator, √(K·V), is small next to n. Past this share the
 * test is not applicable and says so instead of producing p-values that noise alone makes small.
 */
export const KS_MAX_NOISE_SHARE = 0.1;

export interface KsResult {
  /** false when the noise is too large next to n for the approximation (then pValue is 1). */
  applicable: boolean;
  /** D = max over bin edges of |F_observed − F_reference|. */
  statistic: number;
  /** The n_e in the Kolmogorov approximation, from both sample sizes and the noise. */
  effectiveN: number;
  pValue: number;
}

/**
 * Two-sample Kolmogorov–Smirnov test on ordered cells (underflow, bins…, overflow). D is taken at
 * the bin edges only, which can only make D smaller than on raw data, so the p-value is
 * conservative. The p-value is Q_KS((√nₑ + 0.12 + 0.11/√nₑ)·D) (Stephens 1970; Numerical Recipes
 * §14.3) with the two-sample effective size 1/nₑ = 1/n + 1/N, to which privacy noise adds a term:
 * at an edge with reference CDF F after j of K cells, noise of variance V per cell moves F̂ by
 * V·(j(1 − F)² + (K − j)F²)/n², which is c·F(1 − F)/n² with c = K for equal-mass cells. Taking the
 * largest c over the edges keeps the Brownian-bridge scaling behind Q_KS and errs on the safe side.
 * Not applicable when √(K·V) > {@link KS_MAX_NOISE_SHARE}·n.
 */
export function binnedKs({ reference, observed, noiseVariance }: CellComparison): KsResult {
  const k = reference.length;
  let bigN = 0;
  let n = 0;
  for (let i = 0; i < k; i++) {
    bigN += reference[i]!;
    n += observed[i]!;
  }
  if (!(bigN > 0) || !(n > 0) || k < 2 || Math.sqrt(k * noiseVariance) > KS_MAX_NOISE_SHARE * n) {
    return { applicable: false, statistic: 0, effectiveN: 0, pValue: 1 };
  }
  let cumulativeReference = 0;
  let cumulativeObserved = 0;
  let statistic = 0;
  let noiseFactor = 0;
  for (let j = 1; j < k; j++) {
    cumulativeReference += reference[j - 1]!;
    cumulativeObserved += observed[j - 1]!;
    const f = cumulativeReference / bigN;
    statistic = Math.max(statistic, Math.abs(cumulativeObserved / n - f));
    if (f > 0 && f < 1) noiseFactor = Math.max(noiseFactor, (j * (1 - f) ** 2 + (k - j) * f * f) / (f * (1 - f)));
  }
  const effectiveN = 1 / (1 / n + 1 / bigN + (noiseFactor * noiseVariance) / (n * n));
  const root = Math.sqrt(effectiveN);
  return { applicable: true, statistic, effectiveN, pValue: kolmogorovSurvival((root + 0.12 + 0.11 / root) * statistic) };
}
