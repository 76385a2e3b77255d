import type { ResolvedHealthPolicy } from '@edgeloop/protocol';
import type { BackendStats } from './measurements.js';

/**
 * The previous release's figures count only when it ran at least this many real inferences on
 * the backend: a handful of calls says nothing about a p95.
 */
export const MIN_BASELINE_INFERENCES = 20;

/**
 * Latencies are compared with this much slack on top of the ratio: below a millisecond, timer
 * resolution (browsers round `performance.now()` to 0.1 ms or coarser) and scheduling noise move a
 * p95 by more than any ratio means.
 */
export const LATENCY_SLACK_MS = 1;

export type TrialDecision =
  | { decision: 'wait' }
  | { decision: 'commit' }
  | { decision: 'revert'; reason: 'error_rate' | 'latency'; detail: string };

const percent = (rate: number) => `${(rate * 100).toFixed(1)}%`;

/**
 * The early-life check of a release on trial, on the backend it runs on, against what the previous
 * release measured on this device on that backend:
 * - once `policy.inferences` calls were attempted, its error rate must be at most the previous
 *   release's + `errorRateDelta` (without figures for the previous release: at most `errorRateDelta`);
 * - once `policy.inferences` calls succeeded, its p95 latency must be at most `p95Ratio` × the previous
 *   release's + {@link LATENCY_SLACK_MS} (not checked without figures), and then it commits.
 */
export function evaluateTrial(trial: BackendStats, previous: BackendStats | null, policy: ResolvedHealthPolicy): TrialDecision {
  if (trial.attempts < policy.inferences) return { decision: 'wait' };
  const baseline = previous !== null && previous.attempts >= MIN_BASELINE_INFERENCES ? previous : null;
  const errorRate = trial.errors / trial.attempts;
  const baseRate = baseline ? baseline.errors / baseline.attempts : 0;
  // A tiny slack so that a rate exactly at the limit is within it despite floating point.
  if (errorRate > baseRate + policy.errorRateDelta + 1e-9) {
    return {
      decision: 'revert',
      reason: 'error_rate',
      detail: `error rate ${percent(errorRate)} over ${trial.attempts} inferences; the limit is ${percent(baseRate)}${baseline ? ' (the previous release here)' : ''} + ${percent(policy.errorRateDelta)}`,
    };
  }
  const successes = trial.attempts - trial.errors;
  if (successes < policy.inferences) return { decision: 'wait' };
  const p95 = trial.latency.quantile(0.95);
  const baseP95 = baseline && baseline.attempts - baseline.errors >= MIN_BASELINE_INFERENCES ? baseline.latency.quantile(0.95) : null;
  if (p95 !== null && baseP95 !== null && p95 > policy.p95Ratio * baseP95 + LATENCY_SLACK_MS) {
    return {
      decision: 'revert',
      reason: 'latency',
      detail: `p95 latency ${p95.toFixed(2)} ms is more than ${policy.p95Ratio}× the previous release's ${baseP95.toFixed(2)} ms on this device`,
    };
  }
  return { decision: 'commit' };
}
