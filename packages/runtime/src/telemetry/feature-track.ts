import { FeatureRecorder, type FeatureRole, type ReferenceProfile } from '@edgeloop/telemetry';
import type { Feeds, Outputs, Tensor } from '../engine/tensor.js';
import type { ReportableFeature } from './reportable-features.js';

type NumericRead = (feeds: Feeds, outputs: Outputs) => number;
type LabelRead = (feeds: Feeds, outputs: Outputs) => string;

interface NumericSlot {
  /** Index in the profile's numeric features (the recorder's value order). */
  index: number;
  role: FeatureRole;
  min: number;
  max: number;
  read: NumericRead;
}

interface LabelSlot {
  /** Index in the profile's categorical features. */
  index: number;
  role: FeatureRole;
  read: LabelRead;
}

/**
 * The label a categorical output gets for a failed inference: no vocabulary word (profiles hold
 * printable words), so it counts in the "other" cell — every attempt has a value, so whether a
 * period has a summary never depends on how many inferences failed.
 */
const NO_LABEL = '\u0000failed';
const NO_OUTPUTS: Outputs = Object.freeze({});
/** Index labels for `argmax`, made once so the default classifier allocates nothing. */
const INDEX_LABELS = Array.from({ length: 1024 }, (_, i) => String(i));

/**
 * How one model version's inferences become feature counts: the features both the release's
 * signed profile lists and the app declared (same name, same kind), computed by the app's `value`
 * or read by name, clamped into the declared range, and counted into an entry's
 * {@link FeatureRecorder}. Input features are recorded for every inference attempt; output
 * features get NaN (numeric) or "other" (categorical) for a failed one. Allocates nothing per
 * inference beyond what the app's `value` functions do.
 */
export class FeatureTrack {
  readonly profile: ReferenceProfile;
  /** Names counted: declared by the app and listed by the profile, kinds matching. */
  readonly counted: readonly string[];
  /** Declared names the profile lists with the other kind: never counted; the app may want to know. */
  readonly mismatched: readonly string[];
  readonly #values: Float64Array;
  readonly #numeric: NumericSlot[] = [];
  readonly #labels: LabelSlot[] = [];
  readonly #labelValues: string[];
  readonly #onError: (error: unknown) => void;
  #broken = false;

  constructor(profile: ReferenceProfile, report: readonly ReportableFeature[], onError: (error: unknown) => void = () => undefined) {
    this.profile = profile;
    this.#onError = onError;
    const counted: string[] = [];
    const mismatched: string[] = [];
    for (const feature of report) {
      const numericIndex = profile.numeric.findIndex((f) => f.name === feature.name);
      const labelIndex = profile.categorical.findIndex((f) => f.name === feature.name);
      if (feature.kind === 'categorical') {
        if (labelIndex < 0) {
          if (numericIndex >= 0) mismatched.push(feature.name);
          continue;
        }
        const role = profile.categorical[labelIndex]!.role;
        this.#labels.push({ index: labelIndex, role, read: feature.value ?? defaultLabel(feature.name, role) });
      } else {
        if (numericIndex < 0) {
          if (labelIndex >= 0) mismatched.push(feature.name);
          continue;
        }
        const role = profile.numeric[numericIndex]!.role;
        const [min, max] = feature.range;
        this.#numeric.push({ index: numericIndex, role, min, max, read: feature.value ?? defaultNumeric(feature.name, role) });
      }
      counted.push(feature.name);
    }
    this.counted = counted;
    this.mismatched = mismatched;
    this.#values = new Float64Array(profile.numeric.length).fill(Number.NaN);
    this.#labelValues = profile.categorical.map(() => NO_LABEL);
  }

  /** A recorder for one entry (model, version, backend, cohort) of one period. */
  newRecorder(): FeatureRecorder {
    return new FeatureRecorder(this.profile, this.counted);
  }

  /** Counts one inference attempt; `outputs` is null for a failed one. */
  record(recorder: FeatureRecorder, feeds: Feeds, outputs: Outputs | null): void {
    if (!this.#broken) {
      try {
        this.#extract(feeds, outputs);
      } catch (error) {
        // A broken extractor must not break inference, nor make summary presence depend on data:
        // from now on every attempt records the "missing" values (NaN, other).
        this.#broken = true;
        this.#onError(error);
      }
    }
    if (this.#broken) this.#missing();
    if (this.#numeric.length > 0) recorder.record(this.#values);
    const labels = this.#labels;
    for (let i = 0; i < labels.length; i++) recorder.recordCategory(labels[i]!.index, this.#labelValues[i]!);
  }

  #extract(feeds: Feeds, outputs: Outputs | null): void {
    const numeric = this.#numeric;
    const values = this.#values;
    for (let i = 0; i < numeric.length; i++) {
      const slot = numeric[i]!;
      if (outputs === null && slot.role === 'output') {
        values[slot.index] = Number.NaN;
        continue;
      }
      const x = slot.read(feeds, outputs ?? NO_OUTPUTS);
      // Clamp into the declared range; NaN stays NaN (its own cell).
      values[slot.index] = x < slot.min ? slot.min : x > slot.max ? slot.max : x;
    }
    const labels = this.#labels;
    for (let i = 0; i < labels.length; i++) {
      const slot = labels[i]!;
      this.#labelValues[i] = outputs === null && slot.role === 'output' ? NO_LABEL : slot.read(feeds, outputs ?? NO_OUTPUTS);
    }
  }

  #missing(): void {
    for (const slot of this.#numeric) this.#values[slot.index] = Number.NaN;
    this.#labelValues.fill(NO_LABEL);
  }
}

type Stat = 'mean' | 'rms' | 'std' | 'min' | 'max';

/**
 * Reads a numeric feature by name, for small numeric tensors: `x[3]` is element 3 of tensor `x`;
 * `x.mean`, `x.rms`, `x.std`, `x.min`, `x.max` summarise all of `x`. Input features read the
 * feeds, output features the outputs. A name it cannot read (or a missing tensor) gives NaN, which
 * lands in the NaN cell: a mismatch between profile and app shows up as drift instead of hiding.
 */
export function defaultNumeric(name: string, role: FeatureRole): NumericRead {
  const element = /^(.+)\[(\d+)\]$/.exec(name);
  const stat = /^(.+)\.(mean|rms|std|min|max)$/.exec(name);
  const tensorName = element?.[1] ?? stat?.[1];
  if (tensorName === undefined) return () => Number.NaN;
  const pick = (feeds: Feeds, outputs: Outputs) => (role === 'input' ? feeds : outputs)[tensorName];
  if (element) {
    const index = Number(element[2]);
    return function readElement(feeds, outputs) {
      const values = numbers(pick(feeds, outputs));
      return values !== null && index < values.length ? Number(values[index]) : Number.NaN;
    };
  }
  const kind = stat![2] as Stat;
  return function readStat(feeds, outputs) {
    const values = numbers(pick(feeds, outputs));
    return values === null ? Number.NaN : summarise(values, kind);
  };
}

function defaultLabel(name: string, role: FeatureRole): LabelRead {
  const tensorName = /^(.+)\.argmax$/.exec(name)?.[1];
  if (tensorName === undefined) return () => '';
  return function readArgmax(feeds, outputs) {
    const values = numbers((role === 'input' ? feeds : outputs)[tensorName]);
    if (values === null || values.length === 0) return '';
    let best = 0;
    for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
    return INDEX_LABELS[best] ?? String(best);
  };
}

function numbers(tensor: Tensor | undefined): ArrayLike<number | bigint> | null {
  const data = tensor?.data;
  if (data === undefined || typeof data[0] === 'string') return null;
  return data as ArrayLike<number | bigint>;
}

function summarise(values: ArrayLike<number | bigint>, stat: Stat): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  let sum = 0;
  let squares = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = Number(values[i]);
    sum += x;
    squares += x * x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  switch (stat) {
    case 'mean': return sum / n;
    case 'rms': return Math.sqrt(squares / n);
    case 'std': return Math.sqrt(Math.max(0, squares / n - (sum / n) ** 2));
    case 'min': return min;
    case 'max': return max;
  }
}
