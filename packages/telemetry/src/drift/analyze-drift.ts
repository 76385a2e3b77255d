import type { SummaryAggregate } from '../aggregate/summary-aggregate.js';
import { TelemetryError } from '../errors.js';
import { DEFAULT_MIN_REPORTS } from '../privacy/report-floor.js';
import type { ReferenceProfile } from '../profile/reference-profile.js';
import { benjaminiHochberg } from '../stats/benjamini-hochberg.js';
import { binnedChiSquare } from '../stats/binned-chi-square.js';
import { binnedKs } from '../stats/binned-ks.js';
import { jensenShannonDistance, normalizedWasserstein, populationStabilityIndex, psiNullScale } from '../stats/effect-size.js';
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
 * Drift of one model version, from merged summaries only: per feature a noise-aware two-sample
 * chi-square and (numeric) binned KS test against the reference, Benjamini–Hochberg across the
 * version's features, and an effect-size floor so that a tiny but "significant" difference at huge
 * n is not called drift. PSI is reported beside a threshold scaled to the sample size, never used
 * as a bare 0.1 rule. Below `minReports` reports nothing is computed.
 *
 * @example
 * const drift = analyzeDrift(profile, aggregate);
 * drift.verdict; // 'drift' | 'no_drift' | 'insufficient_data'
 * drift.features.filter((f) => f.verdict === 'drift').map((f) => f.reason);
 */
export function analyzeDrift(profile: ReferenceProfile, aggregate: SummaryAggregate, options: DriftOptions = {}): VersionDrift {
  const settings = { ...DEFAULTS, ...options };
  if (!(settings.fdr > 0 && settings.fdr < 1)) throw new TelemetryError('invalid_argument', `fdr must be in (0, 1), got ${settings.fdr}`);
  if (aggregate.profile !== profile.id || aggregate.entryCount !== profile.entryCount) {
    throw new TelemetryError('profile_mismatch', `aggregate is for profile "${aggregate.profile}", not "${profile.id}"`);
  }
  const base = { profile: profile.id, reports: aggregate.reports, minReports: settings.minReports, settings };
  if (aggregate.reports < settings.minReports) return { ...base, verdict: 'insufficient_data', features: [] };

  const variance = aggregate.noiseVariancePerCell();
  const pending: Pending[] = [
    ...profile.numeric.map((feature, e): Pending => {
      const all = aggregate.cellsOf(e);
      const finite = all.slice(0, -1);
      const reference = [...feature.cells, feature.nan];
      const referenceTotal = reference.reduce((a, b) => a + b, 0);
      const observedNan = Math.max(0, all[all.length - 1]!);
      const observedTotal = all.reduce((a, b) => a + Math.max(b, 0), 0);
      // χ² and JS include the NaN cell (a broken extractor is drift); KS, W₁ and PSI are about the finite values.
      const chiSquare = binnedChiSquare({ reference, observed: all, noiseVariance: variance, observedTotal: aggregate.totalOf(e) });
      const ksResult = binnedKs({ reference: feature.cells, observed: finite, noiseVariance: variance });
      const ks = ksResult.applicable
        ? { statistic: ksResult.statistic, effectiveN: ksResult.effectiveN, pValue: ksResult.pValue }
        : null;
      const n = Math.max(1, finite.reduce((a, b) => a + b, 0));
      return {
        name: feature.name,
        role: feature.role,
        kind: 'numeric',
        values: aggregate.totalOf(e),
        nanRate: { reference: feature.nan / referenceTotal, observed: observedTotal > 0 ? observedNan / observedTotal : 0 },
        chiSquare,
        ks,
        pValue: ks === null ? chiSquare.pValue : Math.min(1, 2 * Math.min(chiSquare.pValue, ks.pValue)),
        effect: {
          wasserstein: normalizedWasserstein(feature.cells, finite),
          jensenShannon: jensenShannonDistance(reference, all),
          aboveFloor: false,
        },
        psi: psiOf(feature.cells, finite, n, variance, settings.psiAlpha),
        noiseVariancePerCell: variance,
      };
    }),
    ...profile.categorical.map((feature, i): Pending => {
      const e = profile.numeric.length + i;
      const observed = aggregate.cellsOf(e);
      const chiSquare = binnedChiSquare({ reference: feature.cells, observed, noiseVariance: variance, observedTotal: aggregate.totalOf(e) });
      const n = Math.max(1, observed.reduce((a, b) => a + b, 0));
      return {
        name: feature.name,
        role: feature.role,
        kind: 'categorical',
        values: aggregate.totalOf(e),
        nanRate: null,
        chiSquare,
        ks: null,
        pValue: chiSquare.pValue,
        effect: { wasserstein: null, jensenShannon: jensenShannonDistance(feature.cells, observed), aboveFloor: false },
        psi: psiOf(feature.cells, observed, n, variance, settings.psiAlpha),
        noiseVariancePerCell: variance,
      };
    }),
  ];

  const { adjusted, rejected } = benjaminiHochberg(pending.map((f) => f.pValue), settings.fdr);
  const features = pending.map((f, i): FeatureDrift => {
    const wasserstein = f.effect.wasserstein;
    const aboveFloor =
      (wasserstein !== null && wasserstein >= settings.wassersteinFloor) || f.effect.jensenShannon >= settings.jensenShannonFloor;
    const qValue = adjusted[i]!;
    const effect = describeEffect(wasserstein, f.effect.jensenShannon);
    const significant = rejected[i]!;
    const verdict = significant && aboveFloor ? 'drift' : 'no_drift';
    const reason = !significant
      ? `not significant: q = ${fmt(qValue)} > ${settings.fdr}`
      : aboveFloor
        ? `q = ${fmt(qValue)} ≤ ${settings.fdr} and ${effect} reaches its floor`
        : `significant (q = ${fmt(qValue)}) but ${effect} is below the floor (W₁ ${settings.wassersteinFloor}, JS ${settings.jensenShannonFloor})`;
    return { ...f, verdict, reason, qValue, effect: { ...f.effect, aboveFloor } };
  });
  return { ...base, verdict: features.some((f) => f.verdict === 'drift') ? 'drift' : 'no_drift', features };
}

function psiOf(reference: readonly number[], observed: readonly number[], n: number, variance: number, alpha: number) {
  const value = populationStabilityIndex(reference, observed);
  const threshold = psiNullScale(reference, n, variance) * chiSquareUpperQuantile(alpha, Math.max(1, reference.length - 1));
  return { value, threshold, exceeded: value > threshold };
}

function describeEffect(wasserstein: number | null, jensenShannon: number): string {
  return wasserstein === null ? `JS = ${fmt(jensenShannon)}` : `W₁ = ${fmt(wasserstein)}, JS = ${fmt(jensenShannon)}`;
}

function fmt(x: number): string {
  return x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(1) : Number(x.toPrecision(3)).toString();
}
