import { z } from 'zod';
import { LATENCY_UNITS_PER_OCTAVE } from '../config/telemetry-config.js';
import { TelemetryError } from '../errors.js';
import { DEFAULT_MIN_REPORTS } from '../privacy/report-floor.js';

/**
 * A rollout's gate policy: what the server compares between the candidate and the control arm at
 * every closed telemetry window, and what it then does. Metrics are named after report fields:
 *
 * - `errors` — share of device-periods with ≥ 1 failed inference (`errored`);
 * - `latencyP50`, `latencyP95` — geometric mean over device-periods of each device's p50 / p95;
 * - `reverts` — share of device-periods in which the device reverted a trial on its own;
 * - `fallbacks` — share of device-periods with a backend fallback;
 * - `output:<feature>` — mean position of an output feature on its reference distribution
 *   (0–1 scale; both arms must share one reference profile);
 * - `counter:<name>` — mean of an app-defined counter per device-period.
 */
export type GateMetric = 'errors' | 'latencyP50' | 'latencyP95' | 'reverts' | 'fallbacks' | `output:${string}` | `counter:${string}`;

export interface GateMetricPolicy {
  metric: GateMetric;
  /** Compare per backend (each backend's devices against the same backend's), or over all backends. */
  per: 'backend' | 'all';
  /** Which direction is a regression: `higher` (errors, latency), `lower`, or `either`. */
  worse: 'higher' | 'lower' | 'either';
  /**
   * The regression tolerated: `relative` to the control arm (0.1 = 10 %; for latency, of the
   * milliseconds), `absolute` in the metric's units (a share, or the counter's units). When both
   * are set the larger margin applies.
   */
  tolerance: { relative?: number; absolute?: number };
}

export interface GatePolicy {
  metrics: GateMetricPolicy[];
  /**
   * Error budget of the whole gate, split evenly over its comparisons (Bonferroni): the chance that
   * any interval ever misses. A rollback needs more than that — an interval wholly beyond the
   * tolerance — so false rollbacks are rarer still (measured by `npm run bench:loop`). Default 0.05.
   */
  alpha: number;
  /** Reports each arm needs before any decision; never below the telemetry floor. Default 20. */
  minReportsPerArm: number;
  /** Closed windows a step holds at least before it may promote. Default 1. */
  minHoldWindows: number;
  /** Hours after which an inconclusive step pauses for a person to decide. Default 48. */
  maxStepHours: number;
  /** p-value below which the candidate's share of a step's reports departs from its percentage: pause. Default 0.001. */
  sampleRatioAlpha: number;
  /**
   * Early steps promote on a wider margin: tolerance × max(1, √(marginReferencePercent / percentage)),
   * since a 1 % step cannot show what a 50 % step can. Default 100: a 1 % step promotes within 10×
   * the tolerance, a 5 % step within 4.5×, a 25 % step within 2×, a 50 % step within 1.4×.
   * Rollback always uses the tolerance itself.
   */
  marginReferencePercent: number;
}

const metricName = z
  .string()
  .regex(/^(errors|latencyP50|latencyP95|reverts|fallbacks|output:[a-z0-9_.[\]-]{1,128}|counter:[a-z][a-z0-9_]{0,31})$/, 'use errors, latencyP50, latencyP95, reverts, fallbacks, output:<feature> or counter:<name>');

const toleranceSchema = z
  .strictObject({
    relative: z.number().min(0, 'a tolerance cannot be negative').max(10).optional(),
    absolute: z.number().min(0, 'a tolerance cannot be negative').max(1e9).optional(),
  })
  .refine((t) => (t.relative ?? 0) > 0 || (t.absolute ?? 0) > 0, 'give a relative or an absolute tolerance above 0 (a zero tolerance would roll back on noise)');

export const gateMetricPolicySchema = z.strictObject({
  metric: metricName,
  per: z.enum(['backend', 'all']).default('all'),
  worse: z.enum(['higher', 'lower', 'either']).default('higher'),
  tolerance: toleranceSchema,
});

/** What an operator may send: every field optional, defaults filled in by {@link parseGatePolicy}. */
export const gatePolicySchema = z.strictObject({
  metrics: z.array(gateMetricPolicySchema).min(1).max(32).optional(),
  alpha: z.number().gt(0).max(0.2).optional(),
  minReportsPerArm: z.number().int().min(1).max(1_000_000).optional(),
  minHoldWindows: z.number().int().min(1).max(24 * 30).optional(),
  maxStepHours: z.number().min(1).max(24 * 30).optional(),
  sampleRatioAlpha: z.number().gt(0).max(0.05).optional(),
  marginReferencePercent: z.number().min(0.01).max(100).optional(),
});
export type GatePolicyInput = z.input<typeof gatePolicySchema>;

/**
 * The default metrics: errors over all backends, p95 latency per backend, reverts and fallbacks,
 * each output feature. p50 is left out by default: at the default ε it needs several times the
 * reports p95 needs for the same margin, so it would hold early steps for nothing.
 */
export function defaultGateMetrics(outputFeatures: readonly string[] = []): GateMetricPolicy[] {
  return [
    { metric: 'errors', per: 'all', worse: 'higher', tolerance: { relative: 0.04, absolute: 0.005 } },
    { metric: 'latencyP95', per: 'backend', worse: 'higher', tolerance: { relative: 0.04 } },
    { metric: 'reverts', per: 'all', worse: 'higher', tolerance: { absolute: 0.2 } },
    { metric: 'fallbacks', per: 'all', worse: 'higher', tolerance: { absolute: 0.2 } },
    ...outputFeatures.map((f): GateMetricPolicy => ({ metric: `output:${f}`, per: 'all', worse: 'either', tolerance: { absolute: 0.05 } })),
  ];
}

export const DEFAULT_GATE_POLICY: Readonly<Omit<GatePolicy, 'metrics'>> = Object.freeze({
  alpha: 0.05,
  minReportsPerArm: DEFAULT_MIN_REPORTS,
  minHoldWindows: 1,
  maxStepHours: 48,
  sampleRatioAlpha: 0.001,
  marginReferencePercent: 100,
});

/**
 * Validates an operator's policy and fills in the defaults. `floor` is the server's telemetry floor:
 * a policy asking for fewer reports per arm is refused, since no decision may rest on fewer.
 * `outputFeatures` are the output features of the rollout's shared profile (used by the default metrics).
 */
export function parseGatePolicy(value: unknown, options: { floor?: number; outputFeatures?: readonly string[] } = {}): GatePolicy {
  const floor = options.floor ?? DEFAULT_MIN_REPORTS;
  const result = gatePolicySchema.safeParse(value ?? {});
  if (!result.success) {
    const issues = result.error.issues.map((issue) => `gate.${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new TelemetryError('invalid_argument', `invalid gate policy: ${issues.join('; ')}`, issues);
  }
  const input = result.data;
  if (input.minReportsPerArm !== undefined && input.minReportsPerArm < floor) {
    throw new TelemetryError('invalid_argument', `invalid gate policy: gate.minReportsPerArm: ${input.minReportsPerArm} is below the telemetry floor of ${floor} reports; use ${floor} or more`);
  }
  const metrics = (input.metrics as GateMetricPolicy[] | undefined) ?? defaultGateMetrics(options.outputFeatures);
  const seen = new Set<string>();
  for (const m of metrics) {
    const key = `${m.metric}/${m.per}`;
    if (seen.has(key)) throw new TelemetryError('invalid_argument', `invalid gate policy: gate.metrics lists ${m.metric} per ${m.per} twice`);
    seen.add(key);
  }
  return {
    ...DEFAULT_GATE_POLICY,
    ...Object.fromEntries(Object.entries(input).filter(([k, v]) => k !== 'metrics' && v !== undefined)),
    minReportsPerArm: Math.max(floor, input.minReportsPerArm ?? floor),
    metrics,
  };
}

/**
 * The margin of a metric in its units. Latency is compared in log units (8·log₂ ms): a relative
 * tolerance r becomes 8·log₂(1 + r), an absolute one of a ms 8·log₂(1 + a / control ms). Other
 * metrics: the larger of the absolute tolerance and r × |control mean|.
 */
export function marginOf(policy: GateMetricPolicy, controlMean: number): number {
  const { relative = 0, absolute = 0 } = policy.tolerance;
  if (isLatency(policy.metric)) {
    const controlMs = 2 ** (controlMean / LATENCY_UNITS_PER_OCTAVE);
    return LATENCY_UNITS_PER_OCTAVE * Math.log2(1 + Math.max(relative, absolute / controlMs));
  }
  return Math.max(absolute, relative * Math.abs(controlMean));
}

export function isLatency(metric: GateMetric): metric is 'latencyP50' | 'latencyP95' {
  return metric === 'latencyP50' || metric === 'latencyP95';
}
