export { TelemetryError, type TelemetryErrorCode } from './errors.js';
export {
  LatencyHistogram,
  type LatencyHistogramJSON,
  type LatencyHistogramOptions,
} from './latency/latency-histogram.js';
export { cryptoRng, seededRng, type GetRandomValues, type Rng } from './random/rng.js';
export { BinnedHistogram, type BinnedHistogramJSON } from './summaries/binned-histogram.js';
export { CategoricalCounts, type CategoricalCountsJSON } from './summaries/categorical-counts.js';
export {
  ReferenceProfile,
  type CategoricalFeatureProfile,
  type FeatureRole,
  type NumericFeatureProfile,
  type ReferenceProfileJSON,
  type ReferenceSamples,
} from './profile/reference-profile.js';
export { FeatureRecorder, type RecordedSummaries } from './record/feature-recorder.js';
export {
  COUNT_SENSITIVITY,
  discreteLaplaceDecay,
  discreteLaplaceVariance,
  sampleDiscreteLaplace,
} from './privacy/discrete-laplace.js';
export { boundContribution } from './privacy/bound-contribution.js';
export { DEFAULT_PRIVACY, privatizeSummaries, type PrivacyOptions, type PrivatizeOptions } from './privacy/privatize.js';
export {
  memoryBudgetStore,
  PrivacyBudget,
  type BudgetDecision,
  type PrivacyBudgetOptions,
  type PrivacyBudgetRecord,
  type PrivacyBudgetStore,
} from './privacy/privacy-budget.js';
export { applyReportFloor, DEFAULT_MIN_REPORTS, type Floored } from './privacy/report-floor.js';
export {
  REPORT_SCHEMA_VERSION,
  parseReport,
  telemetryReportSchema,
  type ModelSummary,
  type TelemetryReport,
  type TelemetryReportV1,
  type TelemetryReportV2,
} from './report/report.js';
export { MAX_CLIP, reportSummariesSchema, type ReportSummaries, type SummaryPrivacy } from './report/summaries-schema.js';
export { SummaryAggregate, type SummaryAggregateJSON } from './aggregate/summary-aggregate.js';
export { analyzeDrift } from './drift/analyze-drift.js';
export type { DriftOptions, FeatureDrift, FeatureVerdict, VersionDrift, VersionVerdict } from './drift/drift-types.js';
export { benjaminiHochberg, type BenjaminiHochbergResult } from './stats/benjamini-hochberg.js';
export { binnedChiSquare, type CellComparison, type ChiSquareResult } from './stats/binned-chi-square.js';
export { binnedKs, type KsResult } from './stats/binned-ks.js';
export {
  jensenShannonDistance,
  normalizedWasserstein,
  populationStabilityIndex,
  psiNullScale,
} from './stats/effect-size.js';
export {
  chiSquareSurvival,
  chiSquareUpperQuantile,
  kolmogorovSurvival,
  lnGamma,
  regularizedGammaP,
  regularizedGammaQ,
} from './stats/special-functions.js';
