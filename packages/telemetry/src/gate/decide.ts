import type { Estimate } from '../aggregate/estimates.js';
import { LATENCY_UNITS_PER_OCTAVE } from '../config/telemetry-config.js';
import type { ReferenceProfile } from '../profile/reference-profile.js';
import { alwaysValidPValue, confidenceSequence } from '../stats/confidence-sequence.js';
import { mergeBackends, metricEstimate, type ArmCells } from './arm-estimates.js';
import { isLatency, marginOf, type GateMetric, type GateMetricPolicy, type GatePolicy } from './gate-policy.js';

export type GateOutcome = 'promote' | 'hold' | 'pause' | 'rollback';
/** Which rule produced the outcome. */
export type GateRule = 'insufficient_reports' | 'sample_ratio' | 'regression' | 'non_inferior' | 'min_hold' | 'inconclusive' | 'max_duration';
/**
 * `underpowered`: the interval is wider than the step's margin, so no estimate could show
 * non-inferiority yet (a small backend at an early step); it neither blocks nor allows promotion.
 * `insufficient`: fewer reports than the floor in an arm.
 */
export type ComparisonVerdict = 'regression' | 'non_inferior' | 'inconclusive' | 'underpowered' | 'insufficient';

export interface ArmFigure {
  /** Reports behind the figure; absent below the floor (never shown). */
  reports?: number;
  /** The estimate in the metric's display unit (a share, milliseconds, a score or counter units). */
  value?: number;
}

/** One comparison of one metric (per backend or over all backends) at this look. */
export interface Comparison {
  metric: GateMetric;
  backend: string | 'all';
  verdict: ComparisonVerdict;
  candidate: ArmFigure;
  control: ArmFigure;
  /**
   * Candidate − control in the metric's units (latency: log units, 8 per doubling), its always-valid
   * interval, and the margins it is held to (tolerance for rollback, the step's margin for promotion).
   */
  difference?: number;
  interval?: [number, number];
  tolerance?: number;
  stepMargin?: number;
  /** z = difference / standard error (for the decision log; decisions use the interval). */
  statistic?: number;
  /** Error budget of this comparison (α split over all comparisons). */
  alpha: number;
  /** In words, with display units. */
  summary: string;
}

export interface SampleRatio {
  step: number;
  expectedShare: number;
  candidateReports?: number;
  controlReports?: number;
  observedShare?: number;
  pValue?: number;
  mismatch: boolean;
}

export interface GateDecision {
  outcome: GateOutcome;
  rule: GateRule;
  /** The decision in words, e.g. "rolled back: errors 38.7 % vs 30.2 % (+8.5 points, interval [+5.1, +11.9]), more than the tolerated +3.0 points". */
  reason: string;
  comparisons: Comparison[];
  sampleRatio: SampleRatio | null;
  /** Reports per arm (all steps), shown only at or above the floor. */
  reports: { candidate?: number; control?: number };
}

export interface GateInput {
  policy: GatePolicy;
  /** Per backend, the arms' released cells merged over the rollout so far (all steps). */
  candidate: ArmCells;
  control: ArmCells;
  /**
   * The reports of the current step only, per arm, for the sample-ratio check; `withheld`: at most
   * how many more of the step's reports per arm the floor may still hold back unreleased (see
   * {@link floorHoldback}). The check pauses only when no such holdback explains the gap.
   */
  stepReports: { candidate: number; control: number; withheld?: { candidate: number; control: number } };
  step: { index: number; percentage: number; startedAt: number; closedWindows: number };
  now: number;
  /** The reference profile both arms share, for `output:` metrics (null: those are skipped). */
  profile: ReferenceProfile | null;
}

/**
 * The rollout gate's decision at one look (a closed telemetry window): candidate vs control on every
 * metric of the policy with an always-valid confidence sequence, the device-period report as the
 * unit. In order: too few reports in an arm → hold (pause past the step's maximum); the candidate's
 * share of the step's reports departing from the step's percentage → pause; any comparison (over all
 * backends, or on one backend for metrics compared per backend) worse than its tolerance with
 * confidence → rollback; every metric within the step's margin over all backends and the hold time
 * over → promote; past the step's maximum → pause; else hold.
 * Pure: the server stores the result with its inputs.
 */
export function decide(input: GateInput): GateDecision {
  const { policy, step } = input;
  const floor = policy.minReportsPerArm;
  const elapsedHours = (input.now - step.startedAt) / 3_600_000;
  const overdue = elapsedHours >= policy.maxStepHours;
  const candidateAll = mergeBackends(input.candidate);
  const controlAll = mergeBackends(input.control);
  const reports = {
    ...(candidateAll.reports >= floor && { candidate: candidateAll.reports }),
    ...(controlAll.reports >= floor && { control: controlAll.reports }),
  };
  const base = { reports, comparisons: [] as Comparison[], sampleRatio: null as SampleRatio | null };
  const short = [candidateAll.reports < floor && 'candidate', controlAll.reports < floor && 'control'].filter(Boolean);
  if (short.length > 0) {
    const what = `fewer than ${floor} reports in the ${short.join(' and the ')} arm${short.length > 1 ? 's' : ''}`;
    return overdue
      ? { ...base, outcome: 'pause', rule: 'max_duration', reason: `paused after ${policy.maxStepHours} h: still ${what}; a person decides` }
      : { ...base, outcome: 'hold', rule: 'insufficient_reports', reason: `waiting: ${what}` };
  }

  const sampleRatio = checkSampleRatio(input);
  if (sampleRatio.mismatch) {
    return {
      ...base,
      sampleRatio,
      outcome: 'pause',
      rule: 'sample_ratio',
      reason: `paused: sample ratio mismatch in step ${step.index + 1}: the candidate sent ${pct(sampleRatio.observedShare!)} of the step's reports, expected ${pct(sampleRatio.expectedShare)} (p = ${sig(sampleRatio.pValue!)}); devices may be failing to report or to update`,
    };
  }

  const specs = input.policy.metrics.filter((m) => input.profile !== null || !m.metric.startsWith('output:'));
  const backends = [...new Set([...input.candidate.keys(), ...input.control.keys()])].sort();
  // Every metric is compared over all backends together (this decides promotion); a metric `per`
  // backend is also compared on each backend, as a guard that rolls back a regression on one backend.
  const planned: Array<{ spec: GateMetricPolicy; backend: string }> = [];
  for (const spec of specs) {
    planned.push({ spec, backend: 'all' });
    if (spec.per === 'backend') for (const backend of backends) planned.push({ spec, backend });
  }
  const alpha = policy.alpha / Math.max(1, planned.length);
  const stepFactor = Math.max(1, Math.sqrt(policy.marginReferencePercent / step.percentage));
  const comparisons = planned.map(({ spec, backend }) => {
    const candidate = backend === 'all' ? candidateAll : input.candidate.get(backend);
    const control = backend === 'all' ? controlAll : input.control.get(backend);
    const c = candidate === undefined ? EMPTY : metricEstimate(candidate, spec.metric, input.profile);
    const k = control === undefined ? EMPTY : metricEstimate(control, spec.metric, input.profile);
    return compare(spec, backend, c, k, { alpha, floor, stepFactor });
  });
  const withSampleRatio = { ...base, comparisons, sampleRatio };
  const regressions = comparisons.filter((c) => c.verdict === 'regression');
  if (regressions.length > 0) {
    const worst = regressions.reduce((a, b) => (severity(b) > severity(a) ? b : a));
    return { ...withSampleRatio, outcome: 'rollback', rule: 'regression', reason: `rolled back: ${worst.summary}` };
  }
  // Promotion looks at the all-backend comparisons: each must be within the step's margin.
  const deciding = comparisons.filter((c) => c.backend === 'all');
  const open = deciding.filter((c) => c.verdict !== 'non_inferior');
  if (open.length === 0) {
    if (step.closedWindows >= policy.minHoldWindows) {
      return { ...withSampleRatio, outcome: 'promote', rule: 'non_inferior', reason: `promoted: every metric is within its margin over all backends, and no backend regressed (${comparisons.length} comparisons)` };
    }
    return { ...withSampleRatio, outcome: 'hold', rule: 'min_hold', reason: `waiting: the step holds at least ${policy.minHoldWindows} closed window${policy.minHoldWindows > 1 ? 's' : ''}` };
  }
  const pending = open.map((c) => c.metric);
  if (overdue) {
    return { ...withSampleRatio, outcome: 'pause', rule: 'max_duration', reason: `paused after ${policy.maxStepHours} h: inconclusive on ${pending.join(', ')}; a person decides` };
  }
  return { ...withSampleRatio, outcome: 'hold', rule: 'inconclusive', reason: `waiting: not yet conclusive on ${pending.join(', ')}` };
}

const EMPTY: Estimate = { n: 0, mean: 0, variance: 0, se: 0 };

function compare(spec: GateMetricPolicy, backend: string, c: Estimate, k: Estimate, o: { alpha: number; floor: number; stepFactor: number }): Comparison {
  const label = `${spec.metric}${backend === 'all' ? '' : ` on ${backend}`}`;
  if (c.n < o.floor || k.n < o.floor) {
    return {
      metric: spec.metric,
      backend,
      verdict: 'insufficient',
      candidate: c.n >= o.floor ? { reports: c.n } : {},
      control: k.n >= o.floor ? { reports: k.n } : {},
      alpha: o.alpha,
      summary: `${label}: fewer than ${o.floor} reports in ${c.n < o.floor ? 'the candidate' : 'the control'} arm`,
    };
  }
  const difference = c.mean - k.mean;
  const variance = c.variance / c.n + k.variance / k.n;
  const tolerance = marginOf(spec, k.mean);
  const stepMargin = tolerance * o.stepFactor;
  // The mixture scale τ: 4 × the tolerance. Too small a τ makes the sequence explode while the
  // estimate is still noisier than the tolerance (early steps); too large costs only ~ln(τ).
  const ci = confidenceSequence(difference, variance, 4 * tolerance, o.alpha);
  const worseUp = spec.worse !== 'lower';
  const worseDown = spec.worse !== 'higher';
  const regression = (worseUp && ci.lower > tolerance) || (worseDown && ci.upper < -tolerance);
  const nonInferior = (!worseUp || ci.upper < stepMargin) && (!worseDown || ci.lower > -stepMargin);
  const underpowered = ci.halfWidth > stepMargin;
  const verdict: ComparisonVerdict = regression ? 'regression' : nonInferior ? 'non_inferior' : underpowered ? 'underpowered' : 'inconclusive';
  const statistic = variance > 0 ? difference / Math.sqrt(variance) : 0;
  return {
    metric: spec.metric,
    backend,
    verdict,
    candidate: { reports: c.n, value: display(spec.metric, c.mean) },
    control: { reports: k.n, value: display(spec.metric, k.mean) },
    difference,
    interval: [ci.lower, ci.upper],
    tolerance,
    stepMargin,
    statistic,
    alpha: o.alpha,
    summary: describe(spec, label, c.mean, k.mean, ci.lower, ci.upper, tolerance, verdict),
  };
}

/** How far past its tolerance a regression is, to name the worst one. */
function severity(c: Comparison): number {
  const [lower, upper] = c.interval!;
  return Math.max(lower, -upper) / c.tolerance!;
}

function checkSampleRatio(input: GateInput): SampleRatio {
  const { step, policy } = input;
  const expectedShare = step.percentage / 100;
  const { candidate, control, withheld } = input.stepReports;
  if (candidate < policy.minReportsPerArm || control < policy.minReportsPerArm || expectedShare <= 0 || expectedShare >= 1) {
    return { step: step.index, expectedShare, mismatch: false };
  }
  const observedShare = candidate / (candidate + control);
  // Cells below the floor are carried forward unreleased, so the released counts may lack up to
  // `withheld` reports per arm (a small arm's cells fill more slowly: its share looks low early on).
  // Test the completion of the counts that lies closest to the expected share.
  const wc = withheld?.candidate ?? 0;
  const wk = withheld?.control ?? 0;
  const lowest = candidate / (candidate + control + wk);
  const highest = (candidate + wc) / (candidate + wc + control);
  if (expectedShare >= lowest && expectedShare <= highest) {
    return { step: step.index, expectedShare, candidateReports: candidate, controlReports: control, observedShare, pValue: 1, mismatch: false };
  }
  const n = expectedShare < lowest ? candidate + control + wk : candidate + wc + control;
  const closest = expectedShare < lowest ? lowest : highest;
  // Looked at after every window, so the test must stay valid under peeking: the always-valid
  // (normal-mixture) p-value of "the candidate's share is the step's percentage", with a mixture
  // scale of a quarter of the expected share (a mismatch worth pausing for is about that large).
  const pValue = alwaysValidPValue(closest, (expectedShare * (1 - expectedShare)) / n, expectedShare / 4, expectedShare);
  return { step: step.index, expectedShare, candidateReports: candidate, controlReports: control, observedShare, pValue, mismatch: pValue < policy.sampleRatioAlpha };
}

/**
 * At most how many of each arm's reports the release floor can be holding back: every cell (backend ×
 * version) carries fewer than `floor` reports forward until it reaches the floor. The backends are
 * those either arm has released so far; the candidate arm runs two versions (devices that reverted
 * report the old one under their assigned arm), the control one.
 */
export function floorHoldback(floor: number, arms: { candidate: ArmCells; control: ArmCells }): { candidate: number; control: number } {
  const backends = new Set([...arms.candidate.keys(), ...arms.control.keys()]).size;
  const perCell = Math.max(0, floor - 1) * Math.max(1, backends);
  return { candidate: 2 * perCell, control: perCell };
}

function display(metric: GateMetric, mean: number): number {
  return isLatency(metric) ? 2 ** (mean / LATENCY_UNITS_PER_OCTAVE) : mean;
}

function describe(spec: GateMetricPolicy, label: string, c: number, k: number, lower: number, upper: number, tolerance: number, verdict: ComparisonVerdict): string {
  const tail =
    verdict === 'regression' ? `, more than the tolerated ${tol(spec, tolerance)}` : verdict === 'underpowered' ? ': too few reports yet to tell' : '';
  if (isLatency(spec.metric)) {
    const ratio = (u: number) => `×${(2 ** (u / LATENCY_UNITS_PER_OCTAVE)).toFixed(2)}`;
    return `${label} ${ms(display(spec.metric, c))} vs ${ms(display(spec.metric, k))} (${ratio(c - k)}, interval [${ratio(lower)}, ${ratio(upper)}])${tail}`;
  }
  if (spec.metric === 'errors' || spec.metric === 'reverts' || spec.metric === 'fallbacks') {
    return `${label} ${pct(c)} vs ${pct(k)} (${points(c - k)}, interval [${points(lower)}, ${points(upper)}])${tail}`;
  }
  return `${label} ${sig(c)} vs ${sig(k)} (${signed(c - k)}, interval [${signed(lower)}, ${signed(upper)}])${tail}`;
}

function tol(spec: GateMetricPolicy, tolerance: number): string {
  if (isLatency(spec.metric)) return `×${(2 ** (tolerance / LATENCY_UNITS_PER_OCTAVE)).toFixed(2)}`;
  if (spec.metric === 'errors' || spec.metric === 'reverts' || spec.metric === 'fallbacks') return points(tolerance);
  return signed(tolerance);
}

const pct = (x: number) => `${x < 0 ? '−' : ''}${Math.abs(100 * x).toFixed(1)} %`;
const points = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(1)} points`;
const ms = (x: number) => `${Number(x.toPrecision(3))} ms`;
const sig = (x: number) => Number(x.toPrecision(3)).toString();
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${sig(Math.abs(x))}`;
