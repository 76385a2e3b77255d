import { TelemetryError } from '../errors.js';

/**
 * Always-valid inference on a difference of means: the normal-mixture sequential probability ratio
 * test (mSPRT, Robbins 1970; Johari, Pekelis & Walsh 2017) and its confidence sequence.
 *
 * With an estimate θ̂ of θ whose variance is V (shrinking as reports arrive) and a N(θ₀, τ²) mixture
 * over the alternative, the mixture likelihood ratio against θ = θ₀ is
 *
 *   Λ = √(V / (V + τ²)) · exp( τ²(θ̂ − θ₀)² / (2V(V + τ²)) ),
 *
 * a nonnegative martingale under θ₀, so P(Λ ever ≥ 1/α) ≤ α (Ville's inequality) however often it is
 * looked at. Inverting it gives the confidence sequence θ̂ ± w with
 *
 *   w = √( 2V(V + τ²)/τ² · ln( √((V + τ²)/V) / α ) ),
 *
 * which covers θ at every look simultaneously with probability ≥ 1 − α. V is estimated from the
 * reports (plug-in), as in Johari et al.; the fleet simulator checks the resulting error rates.
 * τ sets where the sequence is tightest: the gate uses the metric's tolerance.
 */
export interface ConfidenceInterval {
  lower: number;
  upper: number;
  /** Half-width w. */
  halfWidth: number;
}

export function confidenceSequence(estimate: number, variance: number, tau: number, alpha: number): ConfidenceInterval {
  check(variance, tau, alpha);
  if (variance === 0) return { lower: estimate, upper: estimate, halfWidth: 0 };
  const t2 = tau * tau;
  const halfWidth = Math.sqrt(((2 * variance * (variance + t2)) / t2) * Math.log(Math.sqrt((variance + t2) / variance) / alpha));
  return { lower: estimate - halfWidth, upper: estimate + halfWidth, halfWidth };
}

/** The always-valid p-value min(1, 1/Λ) of θ = θ₀ at this look (the gate keeps the running minimum). */
export function alwaysValidPValue(estimate: number, variance: number, tau: number, theta0 = 0): number {
  check(variance, tau, 0.5);
  if (variance === 0) return estimate === theta0 ? 1 : 0;
  const t2 = tau * tau;
  const logLambda = 0.5 * Math.log(variance / (variance + t2)) + (t2 * (estimate - theta0) ** 2) / (2 * variance * (variance + t2));
  return Math.min(1, Math.exp(-logLambda));
}

function check(variance: number, tau: number, alpha: number): void {
  if (!(variance >= 0) || !Number.isFinite(variance)) throw new TelemetryError('invalid_argument', `variance must be a finite number ≥ 0, got ${variance}`);
  if (!(tau > 0) || !Number.isFinite(tau)) throw new TelemetryError('invalid_argument', `tau must be a finite number > 0, got ${tau}`);
  if (!(alpha > 0 && alpha < 1)) throw new TelemetryError('invalid_argument', `alpha must be in (0, 1), got ${alpha}`);
}
