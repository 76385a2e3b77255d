export { TelemetryError, type TelemetryErrorCode } from './errors.js';
export {
  LatencyHistogram,
  type LatencyHistogramJSON,
  type LatencyHistogramOptions,
} from './latency/latency-histogram.js';
export { cryptoRng, seededRng, type GetRandomValues, type Rng } from './random/rng.js';
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
  checkEntry,
  emptyEntry,
  entryKeyString,
  mergeEntry,
  type EntryAccumulatorJSON,
  type EntryKey,
  type FeatureCounts,
  type ReportCohort,
} from './record/entry-accumulator.js';
export {
  DEFAULT_DRIFT_EPSILON,
  DEFAULT_HEALTH_EPSILON,
  DEFAULT_LATENCY_RANGE,
  ERROR_KINDS,
  HEALTH_FIELDS,
  HEALTH_MECHANISM,
  INFERENCES_CLIP,
  LATENCY_UNITS_PER_OCTAVE,
  defaultTelemetryConfig,
  latencyRange,
  laplaceClip,
  parseTelemetryConfig,
  telemetryConfigSchema,
  type ErrorKind,
  type HealthField,
  type HealthMechanism,
  type LaplaceField,
  type LatencyRange,
  type LatencyRanges,
  type RrField,
  type TelemetryConfig,
} from './config/telemetry-config.js';
export { entryHealthEpsilon, fieldEpsilon, maxReportEpsilon, reportEpsilon, roundEpsilon } from './config/accountant.js';
export { chargeBudget, emptyBudgetRecord, type BudgetCharge, type DeviceBudgetRecord } from './privacy/device-budget.js';
export {
  COUNT_SENSITIVITY,
  discreteLaplaceDecay,
  discreteLaplaceVariance,
  sampleDiscreteLaplace,
} from './privacy/discrete-laplace.js';
export {
  TAIL_LOG_BOUND,
  clippedLaplace,
  clippedLaplaceSlack,
  clippedLaplaceVariance,
  kRandomizedResponse,
  krrProbabilities,
  randomizedResponseBit,
  rrKeepProbability,
} from './privacy/mechanisms.js';
export { applyReportFloor, DEFAULT_MIN_REPORTS, type Floored } from './privacy/report-floor.js';
export { dominantErrorKind, healthTruth, latencyUnits, sealReport, type HealthTruth, type SealInput } from './device/seal-report.js';
export {
  REPORT_SCHEMA_VERSION,
  parseReport,
  telemetryReportSchema,
  type ReportEntry,
  type ReportHealth,
  type ReportSummary,
  type TelemetryReport,
} from './report/report.js';
export { admitReport, MAX_REPORT_AGE_MS, type Admission, type AdmissionContext } from './report/admit-report.js';
export {
  LAPLACE_FIELDS,
  RR_FIELDS,
  ReleaseCell,
  type LaplaceFieldName,
  type ReleaseCellJSON,
  type RrFieldName,
  type SumStatJSON,
} from './aggregate/release-cell.js';
export { errorKindShares, estimateCell, rrEstimate, sumEstimate, unitsToMs, type CellEstimates, type Estimate } from './aggregate/estimates.js';
export { analyzeDrift } from './drift/analyze-drift.js';
export type { DriftOptions, FeatureDrift, FeatureVerdict, VersionDrift, VersionVerdict } from './drift/drift-types.js';
export { benjaminiHochberg, type BenjaminiHochbergResult } from './stats/benjamini-hochberg.js';
export { rrChiSquare, rrDebiasedShares, rrKs, rrTotal, type RrChiSquare, type RrComparison, type RrGroup, type RrKs } from './stats/rr-tests.js';
export {
  jensenShannonDistance,
  normalizedWasserstein,
  populationStabilityIndex,
} from './stats/effect-size.js';
export {
  chiSquareSurvival,
  chiSquareUpperQuantile,
  kolmogorovSurvival,
  lnGamma,
  regularizedGammaP,
  regularizedGammaQ,
} from './stats/special-functions.js';
export { alwaysValidPValue, confidenceSequence, type ConfidenceInterval } from './stats/confidence-sequence.js';
export { normalSurvival } from './stats/special-functions.js';
export {
  DEFAULT_GATE_POLICY,
  defaultGateMetrics,
  gateMetricPolicySchema,
  gatePolicySchema,
  isLatency,
  marginOf,
  parseGatePolicy,
  type GateMetric,
  type GateMetricPolicy,
  type GatePolicy,
  type GatePolicyInput,
} from './gate/gate-policy.js';
export { mergeBackends, metricEstimate, outputEstimate, outputScores, type ArmCells } from './gate/arm-estimates.js';
export {
  decide,
  floorHoldback,
  type ArmFigure,
  type Comparison,
  type ComparisonVerdict,
  type GateDecision,
  type GateInput,
  type GateOutcome,
  type GateRule,
  type SampleRatio,
} from './gate/decide.js';
