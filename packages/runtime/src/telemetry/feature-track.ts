import { FeatureRecorder, type ReferenceProfile } from '@edgeloop/telemetry';
import type { Feeds, Outputs, Tensor } from '../engine/tensor.js';

/**
 * How a model's inferences become summaries. Extractors receive a preallocated `out` buffer in
 * profile order: fill it and return it to record without allocating (≤ 1 µs for 16 features).
 */
export interface ModelTelemetryOptions {
  /**
   * Numeric input features, one per `role: 'input'` numeric feature of the profile, in its order
   * (e.g. RMS energy of an audio frame, mean brightness of an image). Default: by feature name,
   * see {@link defaultNumeric}.
   */
  features?: (feeds: Feeds, out: Float64Array) => ArrayLike<number>;
  /** Numeric output summaries (scores), one per `role: 'output'` numeric feature. Default: by name. */
  outputs?: (outputs: Outputs, out: Float64Array) => ArrayLike<number>;
  /**
   * One label per categorical feature of the profile, in its order (e.g. the predicted class).
   * Default: by name, `<output>.argmax` is the index of the largest value of that output.
   */
  classes?: (feeds: Feeds, outputs: Outputs, out: string[]) => readonly string[];
  /**
   * The reference profile to record against: `'server'` (default) fetches the one the server
   * publishes for the loaded version (none published: no summaries); `false` records none.
   */
  profile?: 'server' | ReferenceProfile | false;
}

type Stat = 'mean' | 'rms' | 'std' | 'min' | 'max';
type Pick = { tensor: string; index: number } | { tensor: string; stat: Stat } | null;

/**
 * The default extractor, driven by feature names, for small numeric tensors: `x[3]` is element 3
 * of tensor `x`; `x.mean`, `x.rms`, `x.std`, `x.min`, `x.max` summarise all of `x`. Input features
 * read the feeds, output features the outputs. A name it cannot read (or a missing tensor) gives
 * NaN, which lands in the NaN cell: a mismatched extractor shows up as drift instead of hiding.
 */
export function defaultNumeric(names: readonly string[]): (tensors: Record<string, Tensor>, out: Float64Array) => Float64Array {
  const picks = names.map(parsePick);
  return function defaultFeatures(tensors, out) {
    for (let i = 0; i < picks.length; i++) out[i] = read(picks[i]!, tensors);
    return out;
  };
}

function parsePick(name: string): Pick {
  const element = /^(.+)\[(\d+)\]$/.exec(name);
  if (element) return { tensor: element[1]!, index: Number(element[2]) };
  const stat = /^(.+)\.(mean|rms|std|min|max)$/.exec(name);
  if (stat) return { tensor: stat[1]!, stat: stat[2] as Stat };
  return null;
}

function read(pick: Pick, tensors: Record<string, Tensor>): number {
  if (pick === null) return Number.NaN;
  const data = tensors[pick.tensor]?.data;
  if (data === undefined || typeof data[0] === 'string') return Number.NaN;
  const values = data as ArrayLike<number | bigint>;
  if ('index' in pick) return pick.index < values.length ? Number(values[pick.index]) : Number.NaN;
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
  switch (pick.stat) {
    case 'mean': return sum / n;
    case 'rms': return Math.sqrt(squares / n);
    case 'std': return Math.sqrt(Math.max(0, squares / n - (sum / n) ** 2));
    case 'min': return min;
    case 'max': return max;
  }
}

function argmax(tensor: Tensor | undefined): string {
  const data = tensor?.data;
  if (data === undefined || data.length === 0 || typeof data[0] === 'string') return '';
  const values = data as ArrayLike<number | bigint>;
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return String(best);
}

/**
 * Records one model version's inferences against its reference profile. All buffers are
 * allocated once here; {@link record} allocates nothing beyond what the app's extractors do.
 */
export class FeatureTrack {
  readonly recorder: FeatureRecorder;
  readonly #values: Float64Array;
  readonly #inputIndex: Int32Array;
  readonly #outputIndex: Int32Array;
  readonly #inputBuffer: Float64Array;
  readonly #outputBuffer: Float64Array;
  readonly #labels: string[];
  readonly #features: (feeds: Feeds, out: Float64Array) => ArrayLike<number>;
  readonly #outputs: (outputs: Outputs, out: Float64Array) => ArrayLike<number>;
  readonly #classes: ((feeds: Feeds, outputs: Outputs, out: string[]) => readonly string[]) | null;
  readonly #defaultClasses: Array<string | null>;

  constructor(profile: ReferenceProfile, options: ModelTelemetryOptions = {}) {
    this.recorder = new FeatureRecorder(profile);
    const numeric = profile.numeric;
    const inputs = numeric.flatMap((f, i) => (f.role === 'input' ? [i] : []));
    const outputs = numeric.flatMap((f, i) => (f.role === 'output' ? [i] : []));
    this.#values = new Float64Array(numeric.length);
    this.#inputIndex = Int32Array.from(inputs);
    this.#outputIndex = Int32Array.from(outputs);
    this.#inputBuffer = new Float64Array(inputs.length);
    this.#outputBuffer = new Float64Array(outputs.length);
    this.#features = options.features ?? defaultNumeric(inputs.map((i) => numeric[i]!.name));
    this.#outputs = options.outputs ?? defaultNumeric(outputs.map((i) => numeric[i]!.name));
    this.#labels = profile.categorical.map(() => '');
    this.#classes = options.classes ?? null;
    this.#defaultClasses = profile.categorical.map((f) => /^(.+)\.argmax$/.exec(f.name)?.[1] ?? null);
  }

  /** Counts one inference's features and outputs into the current window. */
  record(feeds: Feeds, outputs: Outputs): void {
    const values = this.#values;
    if (this.#inputIndex.length > 0) this.#scatter(this.#features(feeds, this.#inputBuffer), this.#inputIndex, 'features');
    if (this.#outputIndex.length > 0) this.#scatter(this.#outputs(outputs, this.#outputBuffer), this.#outputIndex, 'outputs');
    if (values.length > 0) this.recorder.record(values);
    const labels = this.#labels;
    if (labels.length === 0) return;
    const got = this.#classes ? this.#classes(feeds, outputs, labels) : this.#defaultLabels(outputs);
    for (let c = 0; c < labels.length; c++) this.recorder.recordCategory(c, got[c] ?? '');
  }

  #scatter(got: ArrayLike<number>, index: Int32Array, what: string): void {
    if (got.length !== index.length) {
      throw new RangeError(`the telemetry ${what} extractor returned ${got.length} values; profile "${this.recorder.profile.id}" needs ${index.length}`);
    }
    for (let i = 0; i < index.length; i++) this.#values[index[i]!] = got[i]!;
  }

  #defaultLabels(outputs: Outputs): string[] {
    const labels = this.#labels;
    for (let c = 0; c < labels.length; c++) {
      const output = this.#defaultClasses[c];
      labels[c] = output === null || output === undefined ? '' : argmax(outputs[output]);
    }
    return labels;
  }
}
