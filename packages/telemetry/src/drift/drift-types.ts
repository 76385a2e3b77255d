import type { FeatureRole } from '../profile/reference-profile.js';

/** Settings of {@link analyzeDrift}; every field has a default. */
export interface DriftOptions {
  /** False discovery rate for Benjamini–Hochberg across the version's features. Default 0.01. */
  fdr?: number;
  /** Below this many reports nothing is computed or shown. Default 20. */
  minReports?: number;
  /** Smallest normalized Wasserstein distance (numeric features) called drift. Default 0.01 (≈ 0.035σ). */
  wassersteinFloor?: number;
  /** Smallest Jensen–Shannon distance called drift (categorical features, or NaN-rate changes). Default 0.02. */
  jensenShannonFloor?: number;
  /** Significance level behind the sample-size-aware PSI threshold. Default 0.01. */
  psiAlpha?: number;
}

export type FeatureVerdict = 'drift' | 'no_drift';
export type VersionVerdict = FeatureVerdict | 'insufficient_data';

/** The verdict on one feature (or output) and every number behind it. */
export interface FeatureDrift {
  name: string;
  role: FeatureRole;
  kind: 'numeric' | 'categorical';
  verdict: FeatureVerdict;
  /** Human-readable why, e.g. "q = 3.1e-5 ≤ 0.01 and W₁ = 0.031 ≥ 0.01". */
  reason: string;
  /** Reports that carried a value of this feature (each report carries one feature). */
  reports: number;
  /** Share of NaN values: reference and observed (numeric features; the debiased estimate, clamped to [0, 1]). */
  nanRate: { reference: number; observed: number } | null;
  chiSquare: { statistic: number; df: number; pValue: number };
  /** Binned KS on the debiased CDF (numeric features with at least one report). */
  ks: { statistic: number; effectiveN: number; pValue: number } | null;
  /** Combined p: min(1, 2·min(p_χ², p_KS)) for numeric features (Bonferroni over the two tests), p_χ² for categorical ones. */
  pValue: number;
  /** Benjamini–Hochberg adjusted p across the version's features. */
  qValue: number;
  effect: {
    /** Normalized W₁ on the reference probability scale (numeric features only). */
    wasserstein: number | null;
    jensenShannon: number;
    /** Whether an effect size reached its floor. */
    aboveFloor: boolean;
  };
  /** PSI with the threshold that a no-drift window exceeds with probability ≈ psiAlpha at this n. */
  psi: { value: number; threshold: number; exceeded: boolean };
  /** The randomized response the reports went through, per ε group: how often a report told its true cell. */
  privacy: Array<{ epsilon: number; reports: number; keepProbability: number }>;
}

/** The verdict on one model version's aggregate against its reference profile. */
export interface VersionDrift {
  profile: string;
  reports: number;
  minReports: number;
  verdict: VersionVerdict;
  /** Empty when the version has fewer than `minReports` reports: nothing is shown below the floor. */
  features: FeatureDrift[];
  settings: Required<DriftOptions>;
}
