import type { Feeds, Outputs } from '../engine/tensor.js';
import { RuntimeError } from '../errors.js';

/**
 * A numeric feature the app allows to be reported, e.g. `{ name: 'input.rms', range: [0, 1] }`.
 * Values are clamped into `range` before they are counted, so a reference profile can learn nothing
 * finer about a value outside it than "at the edge".
 */
export interface NumericReportable {
  name: string;
  kind?: 'numeric';
  /** Where values are clamped: [min, max], finite, min < max. */
  range: readonly [min: number, max: number];
  /**
   * Computes the value of one inference (no allocation, please: this runs on every inference).
   * Default: read by name — `x[3]` is element 3 of tensor `x`; `x.mean`, `x.rms`, `x.std`, `x.min`,
   * `x.max` summarise `x` — from the inputs or the outputs, as the profile's `role` says.
   */
  value?: (feeds: Feeds, outputs: Outputs) => number;
}

/** A categorical feature the app allows to be reported, e.g. `{ name: 'output.argmax', kind: 'categorical' }`. */
export interface CategoricalReportable {
  name: string;
  kind: 'categorical';
  /** Computes the label of one inference. Default: `y.argmax` is the index of the largest value of tensor `y`. */
  value?: (feeds: Feeds, outputs: Outputs) => string;
}

/** One feature the app declares reportable. Nothing the app did not declare is ever counted. */
export type ReportableFeature = NumericReportable | CategoricalReportable;

/** Per-model telemetry settings: `runtime.load(name, { telemetry })`. */
export interface ModelTelemetryOptions {
  /**
   * The features this model's telemetry may report, with their ranges. A release's signed reference
   * profile says which features the server would like; only those the app declares here are
   * counted (names must match, and kinds), and each report carries one noised value of one of them.
   * Default: none — no feature summaries, health only.
   *
   * @example
   * runtime.load('vad', { telemetry: { report: [
   *   { name: 'input.rms', range: [0, 1] },
   *   { name: 'output.argmax', kind: 'categorical' },
   *   { name: 'speech', range: [0, 1], value: (_feeds, outputs) => (outputs.output!.data as Float32Array)[0]! },
   * ] } });
   */
  report?: readonly ReportableFeature[];
}

/** Checks an app's declarations; throws `invalid_argument` naming the first problem and its fix. */
export function checkReportable(model: string, report: readonly ReportableFeature[] | undefined): void {
  if (report === undefined) return;
  const at = (i: number) => `load("${model}").telemetry.report[${i}]`;
  if (!Array.isArray(report)) throw new RuntimeError('invalid_argument', `load("${model}").telemetry.report must be an array of { name, range } or { name, kind: 'categorical' }`);
  const names = new Set<string>();
  report.forEach((feature, i) => {
    if (typeof feature?.name !== 'string' || feature.name.length === 0 || feature.name.length > 128) {
      throw new RuntimeError('invalid_argument', `${at(i)}.name must be a string of 1–128 characters, as the reference profile names the feature`);
    }
    if (names.has(feature.name)) throw new RuntimeError('invalid_argument', `${at(i)} declares "${feature.name}" a second time; declare each feature once`);
    names.add(feature.name);
    if (feature.value !== undefined && typeof feature.value !== 'function') {
      throw new RuntimeError('invalid_argument', `${at(i)}.value must be a function (feeds, outputs) => value, or absent to read "${feature.name}" by name`);
    }
    if (feature.kind === 'categorical') return;
    if (feature.kind !== undefined && feature.kind !== 'numeric') {
      throw new RuntimeError('invalid_argument', `${at(i)}.kind must be 'numeric' (the default) or 'categorical', got ${JSON.stringify(feature.kind)}`);
    }
    const range = (feature as NumericReportable).range;
    if (!Array.isArray(range) || range.length !== 2 || !Number.isFinite(range[0]) || !Number.isFinite(range[1]) || !(range[0] < range[1])) {
      throw new RuntimeError('invalid_argument', `${at(i)}.range must be [min, max] with finite min < max (values are clamped into it), got ${JSON.stringify(range)}`);
    }
  });
}
