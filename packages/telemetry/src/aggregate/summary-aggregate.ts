import { TelemetryError } from '../errors.js';
import { discreteLaplaceVariance } from '../privacy/discrete-laplace.js';
import type { ReferenceProfile } from '../profile/reference-profile.js';
import { assertSummariesConsistent, type ReportSummaries } from '../report/summaries-schema.js';

/** Serialized {@link SummaryAggregate}. */
export interface SummaryAggregateJSON {
  profile: string;
  /** Reports merged in (the minimum-reports floor applies to this). */
  reports: number;
  totals: number[];
  /** Summed cells per entry; may hold negative integers when reports were noised. */
  cells: number[][];
  /** How many merged reports used each ε, as [ε, reports] sorted by ε; raw reports are absent. */
  noise: Array<[epsilon: number, reports: number]>;
}

/**
 * The server-side merge of many reports' feature summaries for one model version (and cohort,
 * window…). Everything it keeps is an integer or a count of reports per ε, so merging is
 * associative, commutative and bit-identical in any order; the noise variance is derived from the
 * ε tally only when a test needs it.
 *
 * @example
 * const aggregate = SummaryAggregate.empty(profile);
 * for (const report of reports) aggregate.add(report.models[0].summaries);
 * analyzeDrift(profile, aggregate);
 */
export class SummaryAggregate {
  readonly profile: string;
  #cellCounts: number[];
  #reports = 0;
  #totals: number[];
  #cells: number[][];
  #noise = new Map<number, number>();

  private constructor(profile: string, cellCounts: number[]) {
    this.profile = profile;
    this.#cellCounts = cellCounts;
    this.#totals = cellCounts.map(() => 0);
    this.#cells = cellCounts.map((c) => new Array<number>(c).fill(0));
  }

  /** An aggregate with no reports, shaped after `profile`. */
  static empty(profile: ReferenceProfile): SummaryAggregate {
    return new SummaryAggregate(profile.id, profile.cellCounts());
  }

  get reports(): number {
    return this.#reports;
  }

  /** Number of entries per report (numeric then categorical, as in the profile). */
  get entryCount(): number {
    return this.#cellCounts.length;
  }

  /** Copy of the summed cells of entry `entry`. */
  cellsOf(entry: number): number[] {
    return [...(this.#cells[entry] ?? [])];
  }

  /** Sum of clipped totals of entry `entry`. */
  totalOf(entry: number): number {
    return this.#totals[entry] ?? 0;
  }

  /**
   * Variance of the summed noise in each cell: Σ over reports of 2a/(1 − a)², a = e^(−ε_entry/2),
   * where ε_entry = ε / entries is what each report spent per entry. 0 when nothing was noised.
   */
  noiseVariancePerCell(): number {
    let variance = 0;
    for (const [epsilon, reports] of this.#sortedNoise()) {
      variance += reports * discreteLaplaceVariance(epsilon / this.#cellCounts.length);
    }
    return variance;
  }

  /** Adds one report's summaries. They must be recorded against this aggregate's profile. */
  add(summaries: ReportSummaries): this {
    assertSummariesConsistent(summaries);
    if (summaries.profile !== this.profile) {
      throw new TelemetryError(
        'profile_mismatch',
        `report summaries use profile "${summaries.profile}" but this aggregate is for "${this.profile}"; aggregate them separately`,
      );
    }
    const shape = summaries.cells.map((c) => c.length);
    if (shape.length !== this.#cellCounts.length || shape.some((c, i) => c !== this.#cellCounts[i])) {
      throw new TelemetryError(
        'profile_mismatch',
        `report summaries have cells [${shape.join(', ')}] but profile "${this.profile}" has [${this.#cellCounts.join(', ')}]`,
      );
    }
    summaries.cells.forEach((cells, e) => cells.forEach((c, i) => (this.#cells[e]![i]! += c)));
    summaries.totals.forEach((t, e) => (this.#totals[e]! += t));
    this.#reports += 1;
    if (summaries.privacy !== null) {
      const { epsilon } = summaries.privacy;
      this.#noise.set(epsilon, (this.#noise.get(epsilon) ?? 0) + 1);
    }
    return this;
  }

  /** Adds every report of `other` (same profile) into this aggregate. */
  merge(other: SummaryAggregate): this {
    if (other.profile !== this.profile || other.#cellCounts.join() !== this.#cellCounts.join()) {
      throw new TelemetryError(
        'incompatible_merge',
        `cannot merge aggregates of profiles "${this.profile}" and "${other.profile}"`,
      );
    }
    other.#cells.forEach((cells, e) => cells.forEach((c, i) => (this.#cells[e]![i]! += c)));
    other.#totals.forEach((t, e) => (this.#totals[e]! += t));
    this.#reports += other.#reports;
    for (const [epsilon, reports] of other.#noise) this.#noise.set(epsilon, (this.#noise.get(epsilon) ?? 0) + reports);
    return this;
  }

  toJSON(): SummaryAggregateJSON {
    return {
      profile: this.profile,
      reports: this.#reports,
      totals: [...this.#totals],
      cells: this.#cells.map((c) => [...c]),
      noise: this.#sortedNoise(),
    };
  }

  /** Rebuilds an aggregate from stored JSON, checking it against the profile it claims. */
  static fromJSON(json: SummaryAggregateJSON, profile: ReferenceProfile): SummaryAggregate {
    const aggregate = SummaryAggregate.empty(profile);
    const bad = (why: string) => new TelemetryError('invalid_report', `invalid summary aggregate: ${why}`);
    if (json.profile !== profile.id) throw bad(`it is for profile "${json.profile}", not "${profile.id}"`);
    if (!isCount(json.reports)) throw bad(`reports must be an integer ≥ 0, got ${json.reports}`);
    const counts = profile.cellCounts();
    if (!Array.isArray(json.cells) || json.cells.length !== counts.length || !Array.isArray(json.totals) || json.totals.length !== counts.length) {
      throw bad(`it needs ${counts.length} cell lists and totals`);
    }
    json.cells.forEach((cells, e) => {
      if (!Array.isArray(cells) || cells.length !== counts[e] || !cells.every(Number.isSafeInteger)) {
        throw bad(`entry ${e} needs ${counts[e]} integer cells`);
      }
    });
    if (!json.totals.every(isCount)) throw bad('totals must be integers ≥ 0');
    let noisedReports = 0;
    for (const pair of json.noise ?? []) {
      if (!Array.isArray(pair) || !(pair[0] > 0) || !Number.isFinite(pair[0]) || !isCount(pair[1]) || aggregate.#noise.has(pair[0])) {
        throw bad('noise must be distinct [ε > 0, reports] pairs');
      }
      aggregate.#noise.set(pair[0], pair[1]);
      noisedReports += pair[1];
    }
    if (noisedReports > json.reports) throw bad(`${noisedReports} noised reports but only ${json.reports} reports`);
    aggregate.#reports = json.reports;
    aggregate.#totals = [...json.totals];
    aggregate.#cells = json.cells.map((c) => [...c]);
    return aggregate;
  }

  #sortedNoise(): Array<[number, number]> {
    return [...this.#noise.entries()].sort((a, b) => a[0] - b[0]);
  }
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
