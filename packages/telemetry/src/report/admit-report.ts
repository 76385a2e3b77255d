import { reportEpsilon, roundEpsilon } from '../config/accountant.js';
import { ERROR_KINDS, INFERENCES_CLIP, latencyRange, type TelemetryConfig } from '../config/telemetry-config.js';
import { TelemetryError } from '../errors.js';
import { clippedLaplaceSlack } from '../privacy/mechanisms.js';
import type { TelemetryReport } from './report.js';

/** What admission needs to know about the world; the server answers from memory. */
export interface AdmissionContext {
  /** The config the report names, or undefined when the server never issued it (or it expired). */
  config: TelemetryConfig | undefined;
  /** Server clock, ms since the epoch. */
  now: number;
  /** Whether `version` of `model` is published for the report's app. */
  isPublished(model: string, version: string): boolean;
  /** The version's current reference profile: its id and the cells of each feature, in profile order. */
  profileOf(model: string, version: string): { id: string; cellCounts: readonly number[] } | null;
  /** An existing rollout of the app: which model it rolls out and how many steps it has. */
  rolloutOf(id: string): { model: string; steps: number } | null;
}

export interface Admission {
  /** Entries whose summary was cut on a profile that is no longer the version's current one: the summary is ignored, the rest kept. */
  ignoredSummaries: number;
}

const HOUR = 3_600_000;

/** Reports may describe periods up to this long ago (or two periods, if longer): report ids are remembered that long. */
export const MAX_REPORT_AGE_MS = 48 * 3_600_000;

/**
 * Checks a parsed report against the signed config it claims and against the registry, before
 * anything is written: the privacy parameters are the config's (ε recomputed, every noised value
 * within what its mechanism can produce — a validly noised value, negative included, is never
 * refused or clamped, a value no noise could produce is), the model version is published, the
 * rollout exists, the period is recent. Throws a {@link TelemetryError} that names the field.
 */
export function admitReport(report: TelemetryReport, context: AdmissionContext): Admission {
  const { config } = context;
  const fail = (path: string, why: string) => {
    throw new TelemetryError('invalid_report', `invalid telemetry report: ${path}: ${why}`);
  };
  if (config === undefined) {
    return fail('config', `"${report.config}" is not a telemetry config this server issued in the last 7 days; fetch the manifest again`);
  }
  if (report.models.length > config.maxEntries) fail('models', `at most ${config.maxEntries} entries under config ${config.id}, got ${report.models.length}`);
  const expected = reportEpsilon(config, report.models.map((m) => ({ summary: m.summary !== undefined })));
  if (roundEpsilon(report.epsilon) !== expected) {
    fail('epsilon', `config ${config.id} gives this report ε = ${expected}, but it declares ${report.epsilon}; privacy parameters come from the signed config only`);
  }
  // `period` is the hour the period started; it must have ended (give a clock an hour of skew) and be recent.
  const start = report.period * HOUR;
  const oldest = context.now - Math.max(MAX_REPORT_AGE_MS, 2 * config.periodMs) - config.periodMs;
  if (start < oldest) fail('period', `a period starting at hour ${report.period} is too old: reports more than ${MAX_REPORT_AGE_MS / HOUR} h after their period are refused`);
  if (start + config.periodMs > context.now + HOUR) fail('period', `a period starting at hour ${report.period} has not ended yet by the server's clock; check the device clock`);

  const entries = report.models.length;
  let ignoredSummaries = 0;
  report.models.forEach((entry, i) => {
    const at = `models.${i}`;
    if (!context.isPublished(entry.model, entry.version)) {
      fail(`${at}.version`, `${entry.model}@${entry.version} is not a published version of app "${report.app}"`);
    }
    if (entry.cohort !== undefined) {
      const rollout = context.rolloutOf(entry.cohort.rollout);
      if (rollout === null || rollout.model !== entry.model) fail(`${at}.cohort.rollout`, `"${entry.cohort.rollout}" is not a rollout of ${entry.model}`);
      if (entry.cohort.step >= rollout!.steps) fail(`${at}.cohort.step`, `rollout ${entry.cohort.rollout} has ${rollout!.steps} steps, got step ${entry.cohort.step}`);
    }
    const h = entry.health;
    if (h.errorKind >= ERROR_KINDS.length) fail(`${at}.health.errorKind`, `must be an index below ${ERROR_KINDS.length}`);
    for (const field of ['latencyP50', 'latencyP95'] as const) {
      inRange(`${at}.health.${field}`, h[field], 2 * latencyRange(config, entry.model, entry.backend, field).halfRange, config.health[field].epsilon / entries);
    }
    inRange(`${at}.health.inferences`, h.inferences, INFERENCES_CLIP, config.health.inferences.epsilon / entries);
    const counters = entry.counters ?? {};
    const names = Object.keys(config.counters);
    if (Object.keys(counters).length !== names.length || names.some((n) => !(n in counters))) {
      fail(`${at}.counters`, `must carry exactly the config's counters [${names.sort().join(', ')}]`);
    }
    for (const n of names) inRange(`${at}.counters.${n}`, counters[n]!, config.counters[n]!.clip, config.counters[n]!.epsilon / entries);
    if (entry.summary !== undefined) {
      const profile = context.profileOf(entry.model, entry.version);
      if (profile === null || profile.id !== entry.summary.profile) {
        ignoredSummaries += 1;
        return;
      }
      const cells = profile.cellCounts[entry.summary.feature];
      if (cells === undefined) fail(`${at}.summary.feature`, `profile ${profile.id} has ${profile.cellCounts.length} features`);
      if (entry.summary.cell >= cells!) fail(`${at}.summary.cell`, `feature ${entry.summary.feature} of profile ${profile.id} has ${cells} cells`);
    }
  });
  return { ignoredSummaries };

  function inRange(path: string, value: number, clip: number, epsilon: number): void {
    const slack = clippedLaplaceSlack(clip, epsilon);
    if (value < -slack || value > clip + slack) {
      fail(path, `${value} is outside [${-slack}, ${clip + slack}], beyond what ε = ${roundEpsilon(epsilon)} noise on [0, ${clip}] produces (probability < 1e-17)`);
    }
  }
}
