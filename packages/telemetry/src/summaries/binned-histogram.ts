import { TelemetryError } from '../errors.js';
import { findCell } from './find-cell.js';
import { assertCount, assertEdges } from './validate.js';

/** Serialized {@link BinnedHistogram}: `counts[i]` counts [edges[i], edges[i+1]). */
export interface BinnedHistogramJSON {
  edges: number[];
  /** Values below edges[0], including −∞. */
  underflow: number;
  counts: number[];
  /** Values at or above the last edge, including +∞. */
  overflow: number;
  nan: number;
}

/**
 * Integer counts of numbers on fixed bin edges, with underflow, overflow and NaN counts.
 * Only integers are kept, so {@link merge} is associative and commutative and results are
 * bit-identical in any merge order.
 *
 * @example
 * const h = new BinnedHistogram([0, 1, 2]);
 * h.record(0.5); h.record(7); h.record(Number.NaN);
 * h.toJSON(); // { edges: [0, 1, 2], underflow: 0, counts: [1, 0], overflow: 1, nan: 1 }
 */
export class BinnedHistogram {
  readonly edges: readonly number[];
  /** Finite-value cells: [underflow, bins…, overflow]; length edges.length + 1. */
  #cells: number[];
  #nan = 0;

  constructor(edges: readonly number[]) {
    assertEdges(edges, 'BinnedHistogram');
    this.edges = Object.freeze([...edges]);
    this.#cells = new Array<number>(edges.length + 1).fill(0);
  }

  /** Number of recorded values, NaN included. */
  get count(): number {
    let total = this.#nan;
    for (const c of this.#cells) total += c;
    return total;
  }

  get nan(): number {
    return this.#nan;
  }

  /** Copy of the finite cells in order [underflow, bins…, overflow]. */
  get cells(): number[] {
    return [...this.#cells];
  }

  record(value: number): void {
    if (value !== value) {
      this.#nan += 1;
      return;
    }
    this.#cells[findCell(this.edges, 0, this.edges.length, value)]! += 1;
  }

  /** Adds `other`'s counts into this histogram; both must have identical edges. */
  merge(other: BinnedHistogram): this {
    if (!sameEdges(this.edges, other.edges)) {
      throw new TelemetryError(
        'incompatible_merge',
        `cannot merge histograms with different bin edges (${this.edges.length} vs ${other.edges.length} edges); record both against the same reference profile`,
      );
    }
    for (let i = 0; i < this.#cells.length; i++) this.#cells[i]! += other.#cells[i]!;
    this.#nan += other.#nan;
    return this;
  }

  toJSON(): BinnedHistogramJSON {
    const cells = this.#cells;
    return {
      edges: [...this.edges],
      underflow: cells[0]!,
      counts: cells.slice(1, -1),
      overflow: cells[cells.length - 1]!,
      nan: this.#nan,
    };
  }

  /** Rebuilds a histogram from untrusted JSON, refusing non-integer or negative counts and bad edges. */
  static fromJSON(json: BinnedHistogramJSON): BinnedHistogram {
    assertEdges(json?.edges, 'BinnedHistogram JSON', 'invalid_report');
    const histogram = new BinnedHistogram(json.edges);
    if (!Array.isArray(json.counts) || json.counts.length !== json.edges.length - 1) {
      throw new TelemetryError(
        'invalid_report',
        `BinnedHistogram JSON: ${json.edges.length} edges need ${json.edges.length - 1} counts, got ${Array.isArray(json.counts) ? json.counts.length : typeof json.counts}`,
      );
    }
    const cells = [json.underflow, ...json.counts, json.overflow];
    histogram.#cells = cells.map((c, i) => assertCount(c, `BinnedHistogram JSON cell ${i}`, 'invalid_report'));
    histogram.#nan = assertCount(json.nan, 'BinnedHistogram JSON nan', 'invalid_report');
    return histogram;
  }
}

function sameEdges(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}
