import { estimateFromMoments, rrEstimate, sumEstimate, type Estimate } from '../aggregate/estimates.js';
import { ReleaseCell } from '../aggregate/release-cell.js';
import { TelemetryError } from '../errors.js';
import { krrProbabilities } from '../privacy/mechanisms.js';
import type { ReferenceProfile } from '../profile/reference-profile.js';
import type { GateMetric } from './gate-policy.js';

/** One arm of a rollout: its released cells merged over the rollout so far, per backend. */
export type ArmCells = ReadonlyMap<string, ReleaseCell>;

/** All backends of an arm merged into one cell. */
export function mergeBackends(arm: ArmCells): ReleaseCell {
  const all = new ReleaseCell();
  for (const cell of arm.values()) all.merge(cell);
  return all;
}

/**
 * The per-report estimate of a gate metric in one cell. `profile` is the rollout's shared reference
 * profile (needed for `output:` metrics only).
 */
export function metricEstimate(cell: ReleaseCell, metric: GateMetric, profile: ReferenceProfile | null): Estimate {
  switch (metric) {
    case 'errors':
      return rrEstimate(cell.rrGroups('errored'));
    case 'reverts':
      return rrEstimate(cell.rrGroups('reverted'));
    case 'fallbacks':
      return rrEstimate(cell.rrGroups('fellBack'));
    case 'latencyP50':
    case 'latencyP95':
      return sumEstimate(cell.sumStat(metric));
    default:
      if (metric.startsWith('counter:')) return sumEstimate(cell.sumStat(metric as `counter:${string}`));
      return outputEstimate(cell, metric.slice('output:'.length), profile);
  }
}

/**
 * Mean position of an output on its reference distribution, debiased for randomized response.
 * A numeric output's cell c scores the midpoint of the reference CDF over c (0–1; the NaN cell ½);
 * a categorical output scores 1 for the reference's most frequent class, 0 otherwise. A report that
 * said cell o under keep/other probabilities p, q is worth x = (s(o) − q·Σs) / (p − q), whose
 * expectation is the true mean score.
 */
export function outputEstimate(cell: ReleaseCell, feature: string, profile: ReferenceProfile | null): Estimate {
  if (profile === null) throw new TelemetryError('profile_mismatch', `output:${feature} needs the reference profile both arms share`);
  const scores = outputScores(profile, feature);
  const entry = [...profile.numeric.map((f) => f.name), ...profile.categorical.map((f) => f.name)].indexOf(feature);
  const groups = cell.summaryGroups(profile.id)[entry] ?? [];
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  const total = scores.reduce((a, b) => a + b, 0);
  for (const g of groups) {
    const { p, q } = krrProbabilities(scores.length, g.epsilon);
    g.counts.forEach((count, c) => {
      if (count === 0) return;
      const x = (scores[c]! - q * total) / (p - q);
      n += count;
      sum += count * x;
      sumSq += count * x * x;
    });
  }
  return estimateFromMoments(n, sum, sumSq);
}

/** The score of each reported cell of an output feature (see {@link outputEstimate}). */
export function outputScores(profile: ReferenceProfile, feature: string): number[] {
  const numeric = profile.numeric.find((f) => f.name === feature);
  if (numeric !== undefined) {
    const total = numeric.cells.reduce((a, b) => a + b, 0);
    let below = 0;
    const scores = numeric.cells.map((c) => {
      const mid = total === 0 ? 0.5 : (below + c / 2) / total;
      below += c;
      return mid;
    });
    return [...scores, 0.5];
  }
  const categorical = profile.categorical.find((f) => f.name === feature);
  if (categorical === undefined) throw new TelemetryError('profile_mismatch', `profile ${profile.id} has no feature "${feature}"`);
  let top = 0;
  categorical.cells.forEach((c, i) => c > categorical.cells[top]! && (top = i));
  return categorical.cells.map((_, i) => (i === top ? 1 : 0));
}
