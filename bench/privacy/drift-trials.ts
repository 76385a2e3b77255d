/**
 * Repeated daily releases of a simulated fleet through `analyzeDrift`: how often the shifted feature
 * is flagged (power) and how often anything is flagged when nothing shifted (false alarms).
 * Pure and synchronous, so the bench can hand chunks of repetitions to worker threads.
 */
import {
  analyzeDrift,
  benjaminiHochberg,
  defaultTelemetryConfig,
  krrProbabilities,
  normalSurvival,
  rrChiSquare,
  rrKs,
  seededRng,
  type ReferenceProfile,
  type RrComparison,
} from '@edgeloop/telemetry';
import { normalQuantile } from './normal-quantile.js';
import { ICC, INFERENCES_PER_DAY, normalProfile, pipelineDay, sampledDay, type SummaryGroups } from './drift-fleet.js';

/** What differs from the defaults in a trial: the profile's cells, the ε of the summary, the test. */
export interface DriftVariant {
  /** Equal-mass bins of the profile (default 8). */
  bins?: number;
  /** Tail cells at this reference quantile, or false (default 0.01). */
  tails?: number | false;
  /** ε of the drift summary (default: the default config's). */
  epsilon?: number;
  /** Features each report carries, at ε / n each (default 1: what devices do). */
  featuresPerReport?: number;
  /**
   * `analyze-drift` (default): the server's `analyzeDrift` (χ² and KS combined, BH at 0.01, effect
   * floor); `chi-square` or `ks`: that test alone; `score`: a 1-df test of the mean normal score of
   * the cells (see {@link rrScoreTest}); `score+chi-square`: both, Bonferroni. The alternatives use
   * BH at 0.01 and no effect floor; they are measured for comparison, the server does not run them.
   */
  test?: 'analyze-drift' | 'chi-square' | 'ks' | 'score' | 'score+chi-square';
}

export interface DriftTrial {
  devices: number;
  reps: number;
  seed: number;
  /** Shift of feature 0 in reference σ (0: nothing shifts). */
  shift: number;
  icc?: number;
  /** `sampled` (default) or `pipeline` (FeatureRecorder + sealReport per device; ~100 µs a device). */
  simulate?: 'sampled' | 'pipeline';
  variant?: DriftVariant;
}

export interface DriftCount {
  reps: number;
  /** Releases in which feature 0 was flagged. */
  shiftedFlagged: number;
  /** Releases in which any feature was flagged. */
  anyFlagged: number;
}

const FDR = 0.01;

export function runDriftTrials(trial: DriftTrial): DriftCount {
  const variant = trial.variant ?? {};
  const config = defaultTelemetryConfig('tc_bench', variant.epsilon === undefined ? {} : { drift: { epsilon: variant.epsilon } });
  const profile = normalProfile({ ...(variant.bins !== undefined && { bins: variant.bins }), ...(variant.tails !== undefined && { tails: variant.tails }) });
  const rng = seededRng(trial.seed);
  const day = { devices: trial.devices, icc: trial.icc ?? ICC, shift: [trial.shift], perDevice: INFERENCES_PER_DAY };
  const count: DriftCount = { reps: trial.reps, shiftedFlagged: 0, anyFlagged: 0 };
  for (let r = 0; r < trial.reps; r++) {
    const groups =
      trial.simulate === 'pipeline'
        ? pipelineDay(day, profile, config, rng).groups
        : sampledDay(day, profile, config.drift.epsilon, rng, variant.featuresPerReport ?? 1);
    const flagged = flaggedFeatures(profile, groups, trial.devices, variant.test ?? 'analyze-drift');
    if (flagged[0]) count.shiftedFlagged += 1;
    if (flagged.some(Boolean)) count.anyFlagged += 1;
  }
  return count;
}

/** Which features a release flags. */
export function flaggedFeatures(profile: ReferenceProfile, groups: SummaryGroups, reports: number, test: NonNullable<DriftVariant['test']>): boolean[] {
  if (test === 'analyze-drift') return analyzeDrift(profile, groups, reports).features.map((f) => f.verdict === 'drift');
  const pValues = profile.numeric.map((feature, f) => {
    const comparison = { reference: [...feature.cells, feature.nan], groups: groups[f] ?? [] };
    if (test === 'chi-square') return rrChiSquare(comparison).pValue;
    if (test === 'ks') return rrKs(comparison).pValue;
    if (test === 'score') return rrScoreTest(comparison);
    return Math.min(1, 2 * Math.min(rrScoreTest(comparison), rrChiSquare(comparison).pValue));
  });
  return benjaminiHochberg(pValues, FDR).rejected;
}

/**
 * Two-sided p of a 1-df test on the mean normal score of the reported cells: each finite cell c gets
 * w_c = Φ⁻¹ of the midpoint of its reference cumulative share (the NaN cell 0), T = Σ w_c (π̂_c − r_c)
 * with π̂ the debiased shares, Var(T) = Σ_g n_g (Σ w² P_g − (Σ w P_g)²) / s² + (Σ w² r − (Σ w r)²) / N,
 * P_g = q_g + (p_g − q_g) r, s = Σ n_g (p_g − q_g). Sensitive to location shifts, blind to changes
 * that keep the mean score.
 */
export function rrScoreTest(comparison: RrComparison): number {
  const { reference, groups } = comparison;
  const k = reference.length;
  const bigN = reference.reduce((a, b) => a + b, 0);
  const r = reference.map((x) => x / bigN);
  const w = new Array<number>(k).fill(0);
  let cumulative = 0;
  for (let c = 0; c < k - 1; c++) {
    w[c] = normalQuantile(Math.min(1 - 1e-9, Math.max(1e-9, cumulative + r[c]! / 2)));
    cumulative += r[c]!;
  }
  let s = 0;
  let statistic = 0;
  let variance = 0;
  for (const g of groups) {
    const n = g.counts.reduce((a, b) => a + b, 0);
    if (n === 0) continue;
    const { p, q } = krrProbabilities(k, g.epsilon);
    s += n * (p - q);
    let mean = 0;
    let square = 0;
    for (let c = 0; c < k; c++) {
      const P = q + (p - q) * r[c]!;
      mean += w[c]! * P;
      square += w[c]! * w[c]! * P;
      statistic += w[c]! * ((g.counts[c] ?? 0) - n * P);
    }
    variance += n * (square - mean * mean);
  }
  if (s === 0) return 1;
  let refMean = 0;
  let refSquare = 0;
  for (let c = 0; c < k; c++) {
    refMean += w[c]! * r[c]!;
    refSquare += w[c]! * w[c]! * r[c]!;
  }
  const z = statistic / s / Math.sqrt(variance / (s * s) + (refSquare - refMean * refMean) / bigN);
  return Math.min(1, 2 * normalSurvival(Math.abs(z)));
}
