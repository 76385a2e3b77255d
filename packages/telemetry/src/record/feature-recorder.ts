import { TelemetryError } from '../errors.js';
import type { ReferenceProfile } from '../profile/reference-profile.js';
import { findCell } from '../summaries/find-cell.js';

/**
 * Raw (not yet privatized) counts for one window, in report order: numeric entries
 * ([underflow, bins…, overflow, NaN]) then categorical ones ([words…, other]).
 */
export interface RecordedSummaries {
  profile: string;
  /** Values recorded per entry (the sum of its cells). */
  totals: number[];
  cells: number[][];
}

/**
 * Counts feature values of each inference into the cells of a {@link ReferenceProfile}. Every
 * numeric feature's edges live in one Float64Array and every count in another, so
 * {@link record} is a binary search per feature and an increment, with no allocation
 * (≤ 1 µs for 16 features; see scripts/bench-telemetry.ts).
 *
 * @example
 * const recorder = new FeatureRecorder(profile);
 * recorder.record(features); // once per inference, features in profile.numeric order
 * const raw = recorder.drain(); // at the end of the window, then privatize it
 */
export class FeatureRecorder {
  readonly profile: ReferenceProfile;
  #edges: Float64Array;
  /** Edges of numeric feature f are #edges[#edgeStart[f] .. #edgeStart[f + 1]). */
  #edgeStart: Int32Array;
  /** Cells of entry e start at #cellStart[e]; entry e has #cellStart[e + 1] − #cellStart[e] cells. */
  #cellStart: Int32Array;
  #cells: Float64Array;
  #vocabularies: Array<Map<string, number>>;
  #numericCount: number;
  /** 1 for each profile entry the app declared reportable; others are never counted. */
  #declared: Uint8Array;

  /**
   * `declared` names the features the app declared reportable (default: every feature of the
   * profile). A profile entry not declared is never counted, whatever the profile asks for: a server
   * cannot make a device summarise something the app did not choose to report.
   */
  constructor(profile: ReferenceProfile, declared?: readonly string[]) {
    this.profile = profile;
    const names = [...profile.numeric.map((f) => f.name), ...profile.categorical.map((f) => f.name)];
    const allowed = declared === undefined ? null : new Set(declared);
    this.#declared = Uint8Array.from(names, (name) => (allowed === null || allowed.has(name) ? 1 : 0));
    this.#numericCount = profile.numeric.length;
    // Edges and values are compared in float32, so a value computed in float32 on one device and in
    // float64 elsewhere (or in the reference) lands in the same cell.
    this.#edges = Float64Array.from(profile.numeric.flatMap((f) => f.edges), Math.fround);
    this.#edgeStart = new Int32Array(profile.numeric.length + 1);
    profile.numeric.forEach((f, i) => (this.#edgeStart[i + 1] = this.#edgeStart[i]! + f.edges.length));
    const cellCounts = profile.cellCounts();
    this.#cellStart = new Int32Array(cellCounts.length + 1);
    cellCounts.forEach((c, i) => (this.#cellStart[i + 1] = this.#cellStart[i]! + c));
    this.#cells = new Float64Array(this.#cellStart[cellCounts.length]!);
    this.#vocabularies = profile.categorical.map((f) => new Map(f.vocabulary.map((word, i) => [word, i])));
  }

  /**
   * Records one inference's numeric features, in the order of `profile.numeric`. NaN is counted
   * apart; ±∞ fall in the underflow/overflow cells.
   */
  record(values: Float64Array | readonly number[]): void {
    const n = this.#numericCount;
    if (values.length !== n) {
      throw new TelemetryError(
        'invalid_argument',
        `record() needs ${n} numeric features in profile "${this.profile.id}" order, got ${values.length}`,
      );
    }
    const edges = this.#edges;
    const edgeStart = this.#edgeStart;
    const cellStart = this.#cellStart;
    const cells = this.#cells;
    for (let f = 0; f < n; f++) {
      if (this.#declared[f] === 0) continue;
      const x = Math.fround(values[f]!);
      const from = edgeStart[f]!;
      const to = edgeStart[f + 1]!;
      // NaN cell is last: after underflow, the (to − from − 1) bins and overflow.
      const cell = x !== x ? to - from + 1 : findCell(edges, from, to, x);
      cells[cellStart[f]! + cell]! += 1;
    }
  }

  /** Index of a categorical feature (or output) by name, for {@link recordCategory}. */
  categoryIndex(name: string): number {
    const index = this.profile.categorical.findIndex((f) => f.name === name);
    if (index < 0) {
      throw new TelemetryError('invalid_argument', `profile "${this.profile.id}" has no categorical feature "${name}"`);
    }
    return index;
  }

  /** Records one value of categorical feature `index`; words outside its vocabulary count as "other". */
  recordCategory(index: number, value: string): void {
    const vocabulary = this.#vocabularies[index];
    if (vocabulary === undefined) {
      throw new TelemetryError(
        'invalid_argument',
        `categorical feature index must be in [0, ${this.#vocabularies.length}), got ${index}; use categoryIndex(name)`,
      );
    }
    const entry = this.#numericCount + index;
    if (this.#declared[entry] === 0) return;
    this.#cells[this.#cellStart[entry]! + (vocabulary.get(value) ?? vocabulary.size)]! += 1;
  }

  /** Profile entry indexes (numeric, then categorical) that are counted. */
  declaredEntries(): number[] {
    const out: number[] = [];
    this.#declared.forEach((d, i) => d === 1 && out.push(i));
    return out;
  }

  /** The counts so far, copied. */
  snapshot(): RecordedSummaries {
    const totals: number[] = [];
    const cells: number[][] = [];
    for (let e = 0; e + 1 < this.#cellStart.length; e++) {
      const entry = Array.from(this.#cells.subarray(this.#cellStart[e]!, this.#cellStart[e + 1]!));
      cells.push(entry);
      totals.push(entry.reduce((a, b) => a + b, 0));
    }
    return { profile: this.profile.id, totals, cells };
  }

  /** Returns the counts so far and starts a new window. */
  drain(): RecordedSummaries {
    const snapshot = this.snapshot();
    this.#cells.fill(0);
    return snapshot;
  }
}
