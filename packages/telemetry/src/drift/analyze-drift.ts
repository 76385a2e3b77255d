import { TelemetryError } from '../errors.js';
import { krrProbabilities } from '../privacy/mechanisms.js';
import { DEFAULT_MIN_REPORTS } from '../privacy/report-floor.js';
import type { ReferenceProfile } from '../profile/reference-profile.js';
import { benjaminiHochberg } from '../stats/benjamini-hochberg.js';
import { jensenShannonDistance, normalizedWasserstein, populationStabilityIndex } from '../stats/effect-size.js';
import { rrChiSquare, rrDebiasedShares, rrKs, rrTotal, type RrGroup } from '../stats/rr-tests.js';
import { chiSquareUpperQuantile } from '../stats/special-functions.js';
import type { DriftOptions, FeatureDrift, VersionDrift } from './drift-types.js';

const DEFAULTS: Required<DriftOptions> = {
  fdr: 0.01,
  minReports: DEFAULT_MIN_REPORTS,
  wassersteinFloor: 0.01,
  jensenShannonFloor: 0.02,
  psiAlpha: 0.01,
};

type Pending = Omit<FeatureDrift, 'verdict' | 'reason' | 'qValue'>;

/**
 * Drift of one model version from released summaries: each report carries one value of one feature
 * through k-ary randomized response, so per feature the reported counts are an exact multinomial
 * under "no drift" and the tests below are calibrated whatever the sample size, the privacy noise
 * and the between-device heterogeneity. Per feature: a Wald chi-square on all cells and (numeric
 * features) a KS test on the debiased CDF, combined by Bonferroni; Benjamini–Hochberg across the
 * version's features; and an effect-size floor so that a tiny but "significant" difference at huge n
 * is not called drift. PSI is reported beside a threshold scaled to the sample size.
 *
 * `features[e]` are the ε groups of reported cell counts of profile entry e (numeric entries first,
 * then categorical, as in the profile); `reports` is how many reports were merged (the floor).
 *
 * @example
 * const drift = analyzeDrift(profile, cell.summaryGroups(profile.id), cell.reports);
 * drift.features.filter((f) => f.verdict === 'drift').map((f) => f.reason);
 */
export function analyzeDrift(profile: ReferenceProfile, features: ReadonlyArray<readonly RrGroup[]>, reports: number, options: DriftOptions = {}): VersionDrift {
  const settings = { ...DEFAULTS, ...options };
  if (!(settings.fdr > 0 && settings.fdr < 1)) throw new TelemetryError('invalid_argument', `fdr must be in (0, 1), got ${settings.fdr}`);
  if (features.length !== 0 && features.length !== profile.entryCount) {
    throw new TelemetryError('profile_mismatch', `summaries have ${features.length} features but profile "${profile.id}" has ${profile.entryCount}`);
  }
  const base = { profile: profile.id, reports, minReports: settings.minReports, settings };
  if (reports < settings.minReports) return { ...base, verdict: 'insufficient_data', features: [] };
  const groupsOf = (e: number) => features[e] ?? [];
  const pending: Pending[] = [
    ...profile.numeric.map((feature, e): Pending => {
      const reference = [...feature.cells, feature.nan];
      const groups = groupsOf(e);
      const k = reference.length;
      const shares = rrDebiasedShares(groups, k) ?? reference.map(() => 0);
      const chiSquare = rrChiSquare({ reference, groups });
      const ksResult = rrKs({ reference, groups });
      const n = rrTotal(groups);
      const finiteShares = shares.slice(0, -1);
      return {
        name: feature.name,
        role: feature.role,
        kind: 'numeric',
        reports: n,
        nanRate: { reference: feature.nan / sum(reference), observed: n > 0 ? clamp01(shares[k - 1]!) : 0 },
        chiSquare,
        ks: n > 0 ? ksResult : null,
        pValue: n === 0 ? 1 : Math.min(1, 2 * Math.min(chiSquare.pValue, ksResult.pValue)),
        effect: {
          wasserstein: normalizedWasserstein(feature.cells, finiteShares),
          jensenShannon: jensenShannonDistance(reference, shares),
          aboveFloor: false,
        },
        psi: psiOf(reference, shares, groups, n),
        privacy: privacyOf(groups, k),
      };
    }),
    ...profile.categorical.map((feature, i): Pending => {
      const e = profile.numeric.length + i;
      const reference = feature.cells;
      const groups = groupsOf(e);
      const k = reference.length;
      const shares = rrDebiasedShares(groups, k) ?? reference.map(() => 0);
      const chiSquare = rrChiSquare({ reference, groups });
      const n = rrTotal(groups);
      return {
        name: feature.name,
        role: feature.role,
        kind: 'categorical',
        reports: n,
        nanRate: null,
        chiSquare,
        ks: null,
        pValue: n === 0 ? 1 : chiSquare.pValue,
        effect: { wasserstein: null, jensenShannon: jensenShannonDistance(reference, shares), aboveFloor: false },
        psi: psiOf(reference, shares, groups, n),
        privacy: privacyOf(groups, k),
      };
    }),
  ];
  const { adjusted, rejected } = benjaminiHochberg(pending.map((f) => f.pValue), settings.fdr);
  const drifts = pending.map((f, i): FeatureDrift => {
    const wasserstein = f.effect.wasserstein;
    const aboveFloor = (wasserstein !== null && wasserstein >= settings.wassersteinFloor) || f.effect.jensenShannon >= settings.jensenShannonFloor;
    const qValue = adjusted[i]!;
    const effect = wasserstein === null ? `JS = ${fmt(f.effect.jensenShannon)}` : `W₁ = ${fmt(wasserstein)}, JS = ${fmt(f.effect.jensenShannon)}`;
    const significant = rejected[i]!;
    const verdict = significant && aboveFloor ? 'drift' : 'no_drift';
    const reason =
      f.reports === 0
        ? 'no report carried this feature'
        : !significant
          ? `not significant: q = ${fmt(qValue)} > ${settings.fdr}`
          : aboveFloor
            ? `q = ${fmt(qValue)} ≤ ${settings.fdr} and ${effect} reaches its floor`
            : `significant (q = ${fmt(qValue)}) but ${effect} is below the floor (W₁ ${settings.wassersteinFloor}, JS ${settings.jensenShannonFloor})`;
    return { ...f, verdict, reason, qValue, effect: { ...f.effect, aboveFloor } };
  });
  return { ...base, verdict: drifts.some((f) => f.verdict === 'drift') ? 'drift' : 'no_drift', features: drifts };
}

/**
 * PSI of the debiased shares, with the threshold a no-drift release exceeds with probability ≈ α:
 * PSI ≈ Σ (q̂ᵢ − rᵢ)²/rᵢ whose expectation under the null is Σ Var(q̂ᵢ)/rᵢ + (K − 1)/N, with
 * Var(q̂ᵢ) = Σ_g n_g P_gi(1 − P_gi)/s² for randomized-response groups (s = Σ n_g(p_g − q_g)).
 */
function psiOf(reference: readonly number[], shares: readonly number[], groups: readonly RrGroup[], n: number): FeatureDrift['psi'] {
  const k = reference.length;
  const bigN = sum(reference);
  const value = populationStabilityIndex(reference, shares.map((s) => Math.max(0, s) * Math.max(n, 1)));
  let s = 0;
  const variance = new Array<number>(k).fill(0);
  const r = reference.map((x) => x / bigN);
  for (const g of groups) {
    const ng = sum(g.counts);
    if (ng === 0) continue;
    const { p, q } = krrProbabilities(k, g.epsilon);
    s += ng * (p - q);
    r.forEach((ri, i) => {
      const P = q + (p - q) * ri;
      variance[i]! += ng * P * (1 - P);
    });
  }
  if (s === 0 || k < 2) return { value, threshold: Number.POSITIVE_INFINITY, exceeded: false };
  let expected = (k - 1) / bigN;
  r.forEach((ri, i) => {
    if (ri > 0) expected += variance[i]! / (s * s) / ri;
  });
  const threshold = (expected / (k - 1)) * chiSquareUpperQuantile(0.01, k - 1);
  return { value, threshold, exceeded: value > threshold };
}

function privacyOf(groups: readonly RrGroup[], cells: number): FeatureDrift['privacy'] {
  return groups
    .filter((g) => sum(g.counts) > 0)
    .map((g) => ({ epsilon: g.epsilon, reports: sum(g.counts), keepProbability: krrProbabilities(cells, g.epsilon).p }));
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}

function fmt(x: number): string {
  return x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(1) : Number(x.toPrecision(3)).toString();
}
