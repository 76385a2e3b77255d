import { z } from 'zod';
import { TelemetryError } from '../errors.js';
import { findCell } from '../summaries/find-cell.js';
import { assertEdges, assertVocabulary } from '../summaries/validate.js';
import { quantileEdges, topVocabulary } from './build-edges.js';

/** Whether a summary describes what goes into the model or what comes out of it. */
export type FeatureRole = 'input' | 'output';

/** A numeric feature: reference counts on bin edges cut at reference quantiles. */
export interface NumericFeatureProfile {
  name: string;
  role: FeatureRole;
  edges: number[];
  /** Reference counts in cells [underflow, bins…, overflow]; length edges.length + 1. */
  cells: number[];
  /** Reference values that were NaN. */
  nan: number;
}

/** A categorical feature (or an output class): reference counts over a vocabulary plus "other". */
export interface CategoricalFeatureProfile {
  name: string;
  role: FeatureRole;
  vocabulary: string[];
  /** Reference counts in cells [vocabulary…, other]. */
  cells: number[];
}

/** The JSON a server publishes beside a manifest and a device records against. */
export interface ReferenceProfileJSON {
  format: 'edgeloop-reference-profile';
  version: 1;
  /** Names this profile; reports echo it so the server never compares counts cut on other edges. */
  id: string;
  numeric: NumericFeatureProfile[];
  categorical: CategoricalFeatureProfile[];
}

/** Input to {@link ReferenceProfile.fromSamples}. */
export interface ReferenceSamples {
  id: string;
  /** Equal-mass cells per numeric feature, underflow and overflow included. Default 8. */
  bins?: number;
  /**
   * Reference quantile of the open-ended tail cells added below and above the equal-mass bins
   * (e.g. 0.01: cells below the 1 % and at or above the 99 % quantile); `false` for none. Default 0.01.
   */
  tails?: number | false;
  numeric?: Array<{ name: string; role?: FeatureRole; values: ArrayLike<number> }>;
  categorical?: Array<{ name: string; role?: FeatureRole; values: readonly string[]; maxVocabulary?: number }>;
}

const DEFAULT_BINS = 8;
const DEFAULT_TAILS = 0.01;
const name = z.string().min(1).max(128);
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const role = z.enum(['input', 'output']);
const profileSchema = z.object({
  format: z.literal('edgeloop-reference-profile'),
  version: z.literal(1),
  id: z.string().min(1).max(256),
  numeric: z
    .array(z.object({ name, role, edges: z.array(z.number()).min(1).max(256), cells: z.array(count), nan: count }))
    .max(1024),
  categorical: z
    .array(z.object({ name, role, vocabulary: z.array(z.string().max(256)).min(1).max(1024), cells: z.array(count) }))
    .max(1024),
});

/**
 * What "normal" looks like for one model version: per numeric feature, bin edges at reference
 * quantiles (equal-mass cells, so every cell carries the same weight in the drift tests) and the
 * reference counts in them; per categorical feature, a vocabulary and its counts.
 * Numeric entries come first, then categorical ones: that is the order of cells in a report.
 *
 * @example
 * const profile = ReferenceProfile.fromSamples({ id: 'm@1', numeric: [{ name: 'rms', values: rms }] });
 * const published = JSON.stringify(profile.toJSON());
 */
export class ReferenceProfile {
  readonly id: string;
  readonly numeric: readonly NumericFeatureProfile[];
  readonly categorical: readonly CategoricalFeatureProfile[];

  private constructor(json: ReferenceProfileJSON) {
    this.id = json.id;
    this.numeric = Object.freeze(json.numeric.map((f) => Object.freeze({ ...f, edges: [...f.edges], cells: [...f.cells] })));
    this.categorical = Object.freeze(
      json.categorical.map((f) => Object.freeze({ ...f, vocabulary: [...f.vocabulary], cells: [...f.cells] })),
    );
  }

  /** Number of summaries a report carries for this profile (numeric, then categorical). */
  get entryCount(): number {
    return this.numeric.length + this.categorical.length;
  }

  /**
   * Cells each report entry has, in report order: numeric entries have edges.length + 2 cells
   * ([underflow, bins…, overflow, NaN]), categorical ones vocabulary.length + 1 ([words…, other]).
   */
  cellCounts(): number[] {
    return [...this.numeric.map((f) => f.edges.length + 2), ...this.categorical.map((f) => f.vocabulary.length + 1)];
  }

  /** Builds a profile from reference samples (e.g. the validation set the model was accepted on). */
  static fromSamples(samples: ReferenceSamples): ReferenceProfile {
    const bins = samples.bins ?? DEFAULT_BINS;
    if (!Number.isInteger(bins) || bins < 2 || bins > 256) {
      throw new TelemetryError('invalid_argument', `bins must be an integer in [2, 256], got ${bins}`);
    }
    const tails = samples.tails ?? DEFAULT_TAILS;
    if (tails !== false && !(tails > 0 && tails < 1 / bins)) {
      throw new TelemetryError('invalid_argument', `tails must be false or in (0, 1/bins) = (0, ${1 / bins}), got ${tails}`);
    }
    const numeric = (samples.numeric ?? []).map(({ name, role = 'input', values }) => {
      const edges = quantileEdges(values, bins, name, tails);
      const cells = new Array<number>(edges.length + 1).fill(0);
      let nan = 0;
      for (let i = 0; i < values.length; i++) {
        const x = Math.fround(values[i]!);
        if (x !== x) nan += 1;
        else cells[findCell(edges, 0, edges.length, x)]! += 1;
      }
      return { name, role, edges, cells, nan };
    });
    const categorical = (samples.categorical ?? []).map(({ name, role = 'input', values, maxVocabulary = 32 }) => {
      const vocabulary = topVocabulary(values, maxVocabulary, name);
      const index = new Map(vocabulary.map((word, i) => [word, i]));
      const cells = new Array<number>(vocabulary.length + 1).fill(0);
      for (const value of values) cells[index.get(value) ?? vocabulary.length]! += 1;
      return { name, role, vocabulary, cells };
    });
    return ReferenceProfile.fromJSON({ format: 'edgeloop-reference-profile', version: 1, id: samples.id, numeric, categorical });
  }

  toJSON(): ReferenceProfileJSON {
    return {
      format: 'edgeloop-reference-profile',
      version: 1,
      id: this.id,
      numeric: this.numeric.map((f) => ({ ...f, edges: [...f.edges], cells: [...f.cells] })),
      categorical: this.categorical.map((f) => ({ ...f, vocabulary: [...f.vocabulary], cells: [...f.cells] })),
    };
  }

  /** Validates untrusted JSON (shape, strictly increasing edges, cell counts, unique names). */
  static fromJSON(value: unknown): ReferenceProfile {
    const result = profileSchema.safeParse(value);
    if (!result.success) {
      const issues = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
      throw new TelemetryError('invalid_profile', `invalid reference profile: ${issues.join('; ')}`, issues);
    }
    const json = result.data;
    const names = new Set<string>();
    for (const f of [...json.numeric, ...json.categorical]) {
      if (names.has(f.name)) throw new TelemetryError('invalid_profile', `reference profile names feature "${f.name}" twice`);
      names.add(f.name);
    }
    for (const f of json.numeric) {
      assertEdges(f.edges, `feature "${f.name}"`, 'invalid_profile');
      // Devices bin in float32: edges that float32 cannot tell apart would make an empty, untestable cell.
      assertEdges(f.edges.map(Math.fround), `feature "${f.name}" (as float32: edges closer than float32 precision)`, 'invalid_profile');
      if (f.cells.length !== f.edges.length + 1) {
        throw new TelemetryError('invalid_profile', `feature "${f.name}": ${f.edges.length} edges need ${f.edges.length + 1} cells, got ${f.cells.length}`);
      }
    }
    for (const f of json.categorical) {
      assertVocabulary(f.vocabulary, `feature "${f.name}"`, 'invalid_profile');
      if (f.cells.length !== f.vocabulary.length + 1) {
        throw new TelemetryError('invalid_profile', `feature "${f.name}": ${f.vocabulary.length} words need ${f.vocabulary.length + 1} cells, got ${f.cells.length}`);
      }
    }
    return new ReferenceProfile(json);
  }
}
