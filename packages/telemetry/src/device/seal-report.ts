import { fieldEpsilon, reportEpsilon } from '../config/accountant.js';
import {
  ERROR_KINDS,
  INFERENCES_CLIP,
  LATENCY_UNITS_PER_OCTAVE,
  latencyRange,
  type TelemetryConfig,
} from '../config/telemetry-config.js';
import { LatencyHistogram } from '../latency/latency-histogram.js';
import { clippedLaplace, kRandomizedResponse, randomizedResponseBit } from '../privacy/mechanisms.js';
import type { Rng } from '../random/rng.js';
import type { EntryAccumulatorJSON } from '../record/entry-accumulator.js';
import { REPORT_SCHEMA_VERSION, type ReportEntry, type TelemetryReport } from '../report/report.js';

export interface SealInput {
  app: string;
  /** When the period started, in whole hours since the epoch (the report's `period`). */
  period: number;
  config: TelemetryConfig;
  /** The period's raw counts, one per entry key. */
  entries: readonly EntryAccumulatorJSON[];
  /** Random per report (crypto.randomUUID()). */
  reportId: string;
  /** Randomness for the noise; cryptoRng() on devices, seededRng only in tests and simulations. */
  rng: Rng;
}

/**
 * The exact value a health field describes, before noise (device/truth): exported for tests and
 * for the fleet simulator, which must feed the same definitions through the same mechanisms.
 */
export interface HealthTruth {
  errored: 0 | 1;
  errorKind: number;
  /** Clipped latency units, in [0, 2·halfRange]. */
  latencyP50: number;
  latencyP95: number;
  reverted: 0 | 1;
  fellBack: 0 | 1;
  inferences: number;
}

/**
 * Turns one period's raw counts into the report that leaves the device: one entry per model — the
 * version and backend the device ran last, under its latest rollout assignment (earlier versions or
 * backends of the period are superseded and dropped, so a release switch or a backend fallback does
 * not halve the ε of the day's entry); at most `maxEntries` models (those with the most inference
 * attempts); every field privatized with ε_f / E (config/accountant.ts); one noised value of one
 * app-declared feature per entry. Revert and fallback flags are kept from every entry of the model.
 * Returns null when nothing happened in the period. Pure apart from `rng`: storage and the budget
 * are the caller's.
 *
 * @example
 * const sealed = sealReport({ app, period, config, entries, reportId: crypto.randomUUID(), rng: cryptoRng() });
 * if (sealed && chargeBudget(record, { …, epsilon: sealed.report.epsilon }).granted) queue(sealed.report);
 */
export function sealReport(input: SealInput): { report: TelemetryReport; droppedEntries: number } | null {
  const { config, rng } = input;
  const active = input.entries.filter((e) => e.attempts > 0 || e.reverted || e.fellBack);
  if (active.length === 0) return null;
  const latest = new Map<string, EntryAccumulatorJSON>();
  const reverted = new Set<string>();
  const fellBack = new Set<string>();
  for (const e of active) {
    if (e.reverted) reverted.add(e.model);
    if (e.fellBack) fellBack.add(e.model);
    const best = latest.get(e.model);
    if (best === undefined || e.lastUsed > best.lastUsed || (e.lastUsed === best.lastUsed && e.attempts > best.attempts)) latest.set(e.model, e);
  }
  const kept = [...latest.values()].sort((a, b) => b.attempts - a.attempts).slice(0, config.maxEntries);
  const entries = kept.length;
  const models: ReportEntry[] = kept.map((entry) => {
    const truth = healthTruth({ ...entry, fellBack: fellBack.has(entry.model) }, config, reverted.has(entry.model));
    const eps = (field: keyof TelemetryConfig['health']) => fieldEpsilon(config.health[field].epsilon, entries);
    const clip = (field: 'latencyP50' | 'latencyP95') => 2 * latencyRange(config, entry.model, entry.backend, field).halfRange;
    const noised: ReportEntry = {
      model: entry.model,
      version: entry.version,
      backend: entry.backend,
      ...(entry.cohort !== null && { cohort: { ...entry.cohort } }),
      health: {
        errored: randomizedResponseBit(truth.errored, eps('errored'), rng),
        errorKind: kRandomizedResponse(truth.errorKind, ERROR_KINDS.length, eps('errorKind'), rng),
        latencyP50: clippedLaplace(truth.latencyP50, clip('latencyP50'), eps('latencyP50'), rng),
        latencyP95: clippedLaplace(truth.latencyP95, clip('latencyP95'), eps('latencyP95'), rng),
        reverted: randomizedResponseBit(truth.reverted, eps('reverted'), rng),
        fellBack: randomizedResponseBit(truth.fellBack, eps('fellBack'), rng),
        inferences: clippedLaplace(truth.inferences, INFERENCES_CLIP, eps('inferences'), rng),
      },
    };
    const counterNames = Object.keys(config.counters).sort();
    if (counterNames.length > 0) {
      noised.counters = {};
      for (const counter of counterNames) {
        const { clip, epsilon } = config.counters[counter]!;
        noised.counters[counter] = clippedLaplace(entry.counters[counter] ?? 0, clip, fieldEpsilon(epsilon, entries), rng);
      }
    }
    const summary = sampleSummary(entry, fieldEpsilon(config.drift.epsilon, entries), rng);
    if (summary !== null) noised.summary = summary;
    return noised;
  });
  const report: TelemetryReport = {
    schema: REPORT_SCHEMA_VERSION,
    reportId: input.reportId,
    app: input.app,
    period: input.period,
    config: config.id,
    epsilon: reportEpsilon(config, models.map((m) => ({ summary: m.summary !== undefined }))),
    models,
  };
  return { report, droppedEntries: active.length - kept.length };
}

/** The exact per-period values the health fields privatize (see docs/telemetry-privacy.md). */
export function healthTruth(entry: EntryAccumulatorJSON, config: TelemetryConfig, reverted = entry.reverted): HealthTruth {
  const latency = LatencyHistogram.fromJSON(entry.latency);
  return {
    errored: Object.values(entry.errors).some((n) => n > 0) ? 1 : 0,
    errorKind: dominantErrorKind(entry.errors),
    latencyP50: latencyUnits(latency.quantile(0.5), latencyRange(config, entry.model, entry.backend, 'latencyP50')),
    latencyP95: latencyUnits(latency.quantile(0.95), latencyRange(config, entry.model, entry.backend, 'latencyP95')),
    reverted: reverted ? 1 : 0,
    fellBack: entry.fellBack ? 1 : 0,
    inferences: Math.min(entry.successes, INFERENCES_CLIP),
  };
}

/**
 * Milliseconds → clipped latency units: round(8·log₂ ms) shifted so that the range's low end is 0,
 * clipped to [0, 2·halfRange]. No successful inference (null) → the middle of the range, so the
 * field is present whatever happened and carries no information in that case.
 */
export function latencyUnits(ms: number | null, range: { center: number; halfRange: number }): number {
  if (ms === null) return range.halfRange;
  const units = Math.round(LATENCY_UNITS_PER_OCTAVE * Math.log2(Math.max(ms, 1e-6)));
  return Math.min(2 * range.halfRange, Math.max(0, units - (range.center - range.halfRange)));
}

/** Index in {@link ERROR_KINDS} of the most frequent error code (0 = none; ties go to the earlier kind). */
export function dominantErrorKind(errors: Record<string, number>): number {
  const byKind = new Array<number>(ERROR_KINDS.length).fill(0);
  for (const [code, n] of Object.entries(errors)) {
    const index = (ERROR_KINDS as readonly string[]).indexOf(code);
    byKind[index > 0 ? index : ERROR_KINDS.length - 1]! += n;
  }
  let best = 0;
  for (let k = 1; k < byKind.length; k++) if (byKind[k]! > (best === 0 ? 0 : byKind[best]!)) best = k;
  return best;
}

/**
 * One value of one declared feature, through k-ary randomized response: the feature is chosen
 * uniformly among the declared ones (independent of the data), the value uniformly among the
 * period's recorded values of that feature (a cell with probability ∝ its count).
 */
function sampleSummary(entry: EntryAccumulatorJSON, epsilon: number, rng: Rng): ReportEntry['summary'] | null {
  const features = entry.features;
  if (features === null || features.declared.length === 0) return null;
  const feature = features.declared[Math.floor(rng.next() * features.declared.length)]!;
  const cells = features.cells[feature]!;
  const total = cells.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  let target = Math.floor(rng.next() * total);
  let cell = 0;
  while (target >= cells[cell]!) target -= cells[cell++]!;
  return { profile: features.profile, feature, cell: kRandomizedResponse(cell, cells.length, epsilon, rng) };
}
