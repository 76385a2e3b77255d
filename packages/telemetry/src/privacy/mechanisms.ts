import { TelemetryError } from '../errors.js';
import type { Rng } from '../random/rng.js';
import { discreteLaplaceDecay, discreteLaplaceVariance, sampleDiscreteLaplace } from './discrete-laplace.js';

/**
 * The local (on-device) mechanisms every privatized report field goes through. Each is ε-locally
 * differentially private for its field whatever the true value, so a report's ε is the sum of its
 * fields' ε (basic composition; see config/accountant.ts).
 */

/**
 * Tail constant for admission bounds: a noised value more than t = TAIL_LOG_BOUND / ln(1/a) outside
 * the clip range has probability P(|X| ≥ t) ≤ 2aᵗ = 2e^(−41) < 10⁻¹⁷, so only a forged value is refused.
 */
export const TAIL_LOG_BOUND = 41;

function checkEpsilon(epsilon: number, what: string): void {
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) {
    throw new TelemetryError('invalid_argument', `${what}: epsilon must be a finite number > 0, got ${epsilon}`);
  }
}

/** Probability that binary randomized response keeps the true bit: p = e^ε / (1 + e^ε). */
export function rrKeepProbability(epsilon: number): number {
  checkEpsilon(epsilon, 'randomized response');
  return 1 / (1 + Math.exp(-epsilon));
}

/**
 * Binary randomized response (Warner 1965): the true bit with probability p = e^ε/(1+e^ε), its flip
 * otherwise. The likelihood ratio of any output under two inputs is at most p/(1−p) = e^ε.
 */
export function randomizedResponseBit(bit: 0 | 1, epsilon: number, rng: Rng): 0 | 1 {
  const p = rrKeepProbability(epsilon);
  return rng.next() < p ? bit : ((1 - bit) as 0 | 1);
}

/** Keep probability p and probability q of each other value for k-ary randomized response over K values. */
export function krrProbabilities(categories: number, epsilon: number): { p: number; q: number } {
  checkEpsilon(epsilon, 'k-ary randomized response');
  if (!Number.isInteger(categories) || categories < 2) {
    throw new TelemetryError('invalid_argument', `k-ary randomized response needs an integer K ≥ 2 categories, got ${categories}`);
  }
  const e = Math.exp(epsilon);
  const denominator = e + categories - 1;
  return { p: e / denominator, q: 1 / denominator };
}

/**
 * k-ary randomized response (Kairouz, Oh & Viswanath 2016): the true value with p = e^ε/(e^ε+K−1),
 * each of the K−1 others with q = 1/(e^ε+K−1). Output ratio p/q = e^ε for any two inputs.
 */
export function kRandomizedResponse(value: number, categories: number, epsilon: number, rng: Rng): number {
  const { p } = krrProbabilities(categories, epsilon);
  if (!Number.isInteger(value) || value < 0 || value >= categories) {
    throw new TelemetryError('invalid_argument', `k-ary randomized response: value must be an integer in [0, ${categories}), got ${value}`);
  }
  if (rng.next() < p) return value;
  // Uniform over the other K − 1 values.
  const other = Math.floor(rng.next() * (categories - 1));
  return other >= value ? other + 1 : other;
}

/**
 * A bounded integer released with discrete Laplace noise: the value is clipped to [0, clip] (so one
 * device can move it by at most Δ = clip) and noise with a = e^(−ε/clip) is added. Noised values
 * are kept as they are, negative ones too: clamping would bias sums.
 */
export function clippedLaplace(value: number, clip: number, epsilon: number, rng: Rng): number {
  checkClip(clip);
  checkEpsilon(epsilon, 'clipped Laplace');
  const clipped = Math.min(clip, Math.max(0, Math.round(value)));
  return clipped + sampleDiscreteLaplace(discreteLaplaceDecay(epsilon, clip), rng);
}

/** Variance of the noise {@link clippedLaplace} adds: 2a/(1 − a)², a = e^(−ε/clip). */
export function clippedLaplaceVariance(clip: number, epsilon: number): number {
  checkClip(clip);
  return discreteLaplaceVariance(epsilon, clip);
}

/**
 * Largest distance outside [0, clip] that honest noise reaches with probability ≥ 10⁻¹⁷: a value
 * beyond [−t, clip + t] was not produced by {@link clippedLaplace} with these parameters.
 */
export function clippedLaplaceSlack(clip: number, epsilon: number): number {
  checkClip(clip);
  checkEpsilon(epsilon, 'clipped Laplace');
  // ln(1/a) = ε/clip exactly; computing it through exp/log would round differently on each side of the wire.
  return Math.ceil((TAIL_LOG_BOUND * clip) / epsilon);
}

function checkClip(clip: number): void {
  if (!Number.isSafeInteger(clip) || clip < 1) {
    throw new TelemetryError('invalid_argument', `clip must be an integer ≥ 1, got ${clip}`);
  }
}
