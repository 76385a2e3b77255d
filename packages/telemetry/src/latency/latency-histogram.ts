import { TelemetryError } from '../errors.js';

/**
 * Serialized form of a {@link LatencyHistogram}. Bins are sparse `[index, count]` pairs sorted by index,
 * so two equal histograms always serialize to identical JSON.
 */
export interface LatencyHistogramJSON {
  /** Relative accuracy α: every quantile is within a factor (1 ± α) of an observed value. */
  alpha: number;
  /** Observations ≤ {@link LatencyHistogram.minTrackable} (including exact zeros). */
  zero: number;
  bins: Array<[index: number, count: number]>;
  min: number | null;
  max: number | null;
}

export interface LatencyHistogramOptions {
  /** Relative accuracy, 0 < α < 1. Default 0.01 (1 %). */
  alpha?: number;
}

const DEFAULT_ALPHA = 0.01;

/**
 * An exponential (log-bucketed) histogram for positive values such as latencies in milliseconds,
 * after DDSketch (Masson et al., VLDB 2019): value v > 0 falls in bucket i = ceil(log_γ v) with
 * γ = (1 + α) / (1 − α), and a bucket is reported as 2γ^i / (γ + 1), which is within relative
 * error α of every value in it.
 *
 * State is integer counts plus min/max, so merging is associative and commutative and results are
 * bit-identical in any merge order (no floating-point sums are kept for that reason).
 *
 * @example
 * const h = new LatencyHistogram();
 * h.record(0.62); h.record(0.71);
 * h.quantile(0.5); // ≈ 0.62 within 1 %
 */
export class LatencyHistogram {
  /** Values at or below this are counted in the zero bucket (1 ns when recording milliseconds). */
  static readonly minTrackable = 1e-6;

  readonly alpha: number;
  #gamma: number;
  #logGamma: number;
  #bins = new Map<number, number>();
  #zero = 0;
  #count = 0;
  #min = Infinity;
  #max = -Infinity;

  constructor(options: LatencyHistogramOptions = {}) {
    const alpha = options.alpha ?? DEFAULT_ALPHA;
    if (!(alpha > 0 && alpha < 1)) {
      throw new TelemetryError('invalid_argument', `alpha must be in (0, 1), got ${alpha}`);
    }
    this.alpha = alpha;
    this.#gamma = (1 + alpha) / (1 - alpha);
    this.#logGamma = Math.log(this.#gamma);
  }

  get count(): number {
    return this.#count;
  }

  get min(): number | null {
    return this.#count === 0 ? null : this.#min;
  }

  get max(): number | null {
    return this.#count === 0 ? null : this.#max;
  }

  /** Adds one observation. Negative, NaN and infinite values are refused: a latency cannot be one. */
  record(value: number): void {
    if (!(value >= 0) || value === Infinity) {
      throw new TelemetryError('invalid_argument', `latency must be a finite number ≥ 0, got ${value}`);
    }
    this.#count += 1;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
    if (value <= LatencyHistogram.minTrackable) {
      this.#zero += 1;
      return;
    }
    const index = Math.ceil(Math.log(value) / this.#logGamma);
    this.#bins.set(index, (this.#bins.get(index) ?? 0) + 1);
  }

  /** Adds every observation of `other` into this histogram. Both must share the same α. */
  merge(other: LatencyHistogram): this {
    if (other.alpha !== this.alpha) {
      throw new TelemetryError(
        'incompatible_merge',
        `cannot merge latency histograms with alpha ${this.alpha} and ${other.alpha}; record both with the same alpha`,
      );
    }
    for (const [index, count] of other.#bins) this.#bins.set(index, (this.#bins.get(index) ?? 0) + count);
    this.#zero += other.#zero;
    this.#count += other.#count;
    if (other.#min < this.#min) this.#min = other.#min;
    if (other.#max > this.#max) this.#max = other.#max;
    return this;
  }

  /**
   * Merges a histogram in its JSON form without building it first: the server's ingest adds
   * every report's latencies this way. `json` must already be valid ({@link fromJSON} or
   * `parseReport` checked it); it is merged exactly as `merge(LatencyHistogram.fromJSON(json))`.
   */
  mergeJSON(json: LatencyHistogramJSON): this {
    if (json.alpha !== this.alpha) {
      throw new TelemetryError('incompatible_merge', `cannot merge latency histograms with alpha ${this.alpha} and ${json.alpha}; record both with the same alpha`);
    }
    let count = json.zero;
    for (const [index, binCount] of json.bins) {
      this.#bins.set(index, (this.#bins.get(index) ?? 0) + binCount);
      count += binCount;
    }
    this.#zero += json.zero;
    this.#count += count;
    if (count > 0) {
      if (json.min! < this.#min) this.#min = json.min!;
      if (json.max! > this.#max) this.#max = json.max!;
    }
    return this;
  }

  /**
   * The value at quantile q ∈ [0, 1] (lower quantile: the smallest value with at least q·n
   * observations at or below it), within relative error α; clamped to the observed [min, max].
   * Returns null for an empty histogram.
   */
  quantile(q: number): number | null {
    if (!(q >= 0 && q <= 1)) throw new TelemetryError('invalid_argument', `quantile must be in [0, 1], got ${q}`);
    if (this.#count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = this.#zero;
    if (seen >= rank) return this.#min;
    const indexes = [...this.#bins.keys()].sort((a, b) => a - b);
    for (const index of indexes) {
      seen += this.#bins.get(index) ?? 0;
      if (seen >= rank) {
        const estimate = (2 * this.#gamma ** index) / (this.#gamma + 1);
        return Math.min(this.#max, Math.max(this.#min, estimate));
      }
    }
    return this.#max;
  }

  toJSON(): LatencyHistogramJSON {
    const bins = [...this.#bins.entries()].sort((a, b) => a[0] - b[0]);
    return { alpha: this.alpha, zero: this.#zero, bins, min: this.min, max: this.max };
  }

  static fromJSON(json: LatencyHistogramJSON): LatencyHistogram {
    const histogram = new LatencyHistogram({ alpha: json.alpha });
    const seen = new Set<number>();
    let count = json.zero;
    for (const [index, binCount] of json.bins) {
      if (!Number.isInteger(index) || !Number.isInteger(binCount) || binCount <= 0 || seen.has(index)) {
        throw new TelemetryError(
          'invalid_report',
          `latency bins must be unique integer indexes with positive integer counts, got [${index}, ${binCount}]`,
        );
      }
      seen.add(index);
      histogram.#bins.set(index, binCount);
      count += binCount;
    }
    if (!Number.isInteger(json.zero) || json.zero < 0) {
      throw new TelemetryError('invalid_report', `latency zero count must be an integer ≥ 0, got ${json.zero}`);
    }
    histogram.#zero = json.zero;
    histogram.#count = count;
    if (count > 0) {
      if (json.min === null || json.max === null || !(json.min <= json.max) || json.min < 0) {
        throw new TelemetryError('invalid_report', 'a non-empty latency histogram needs 0 ≤ min ≤ max');
      }
      histogram.#min = json.min;
      histogram.#max = json.max;
    }
    return histogram;
  }
}
