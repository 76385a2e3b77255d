import { TelemetryError } from '../errors.js';
import type { Rng } from '../random/rng.js';

/**
 * L1 sensitivity of one count vector when one inference is replaced by another: one count moves
 * from one cell to another, so the vector changes by 1 in two cells.
 */
export const COUNT_SENSITIVITY = 2;

/** The decay a = e^(−ε/Δ) of the discrete Laplace distribution P(X = x) ∝ a^|x|. */
export function discreteLaplaceDecay(epsilon: number, sensitivity = COUNT_SENSITIVITY): number {
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) {
    throw new TelemetryError('invalid_argument', `epsilon must be a finite number > 0, got ${epsilon}`);
  }
  return Math.exp(-epsilon / sensitivity);
}

/** Variance of discrete Laplace noise for ε: Var = 2a / (1 − a)² with a = e^(−ε/Δ). */
export function discreteLaplaceVariance(epsilon: number, sensitivity = COUNT_SENSITIVITY): number {
  const a = discreteLaplaceDecay(epsilon, sensitivity);
  return (2 * a) / (1 - a) ** 2;
}

/**
 * Draws from the discrete Laplace (two-sided geometric) distribution with decay a as the difference
 * of two geometric variables G ~ P(G = g) = (1 − a)·a^g, each G = ⌊ln U / ln a⌋ (Inusah & Kozubowski 2006).
 * Adding it to an integer count with a = e^(−ε/Δ) is ε-differentially private for L1 sensitivity Δ
 * (Ghosh, Roughgarden & Sundararajan 2009). Uses floating-point logs, so it is not hardened against
 * the floating-point attacks of Mironov (2012).
 */
export function sampleDiscreteLaplace(decay: number, rng: Rng): number {
  if (decay === 0) return 0;
  const logA = Math.log(decay);
  // 1 − next() lies in (0, 1], so the log is finite.
  const g1 = Math.floor(Math.log(1 - rng.next()) / logA);
  const g2 = Math.floor(Math.log(1 - rng.next()) / logA);
  return g1 - g2;
}
