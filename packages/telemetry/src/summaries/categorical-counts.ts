import { TelemetryError } from '../errors.js';
import { assertCount, assertVocabulary } from './validate.js';

/** Serialized {@link CategoricalCounts}: `counts[i]` counts `vocabulary[i]`. */
export interface CategoricalCountsJSON {
  vocabulary: string[];
  counts: number[];
  /** Values outside the vocabulary. */
  other: number;
}

/**
 * Integer counts of categories over a fixed vocabulary, plus an "other" count for the rest, so
 * unexpected values are counted without their text ever being stored. Merging is exact and
 * order-independent.
 *
 * @example
 * const c = new CategoricalCounts(['cat', 'dog']);
 * c.record('dog'); c.record('emu');
 * c.toJSON(); // { vocabulary: ['cat', 'dog'], counts: [0, 1], other: 1 }
 */
export class CategoricalCounts {
  readonly vocabulary: readonly string[];
  #index: Map<string, number>;
  /** [vocabulary…, other]. */
  #cells: number[];

  constructor(vocabulary: readonly string[]) {
    assertVocabulary(vocabulary, 'CategoricalCounts');
    this.vocabulary = Object.freeze([...vocabulary]);
    this.#index = new Map(vocabulary.map((word, i) => [word, i]));
    this.#cells = new Array<number>(vocabulary.length + 1).fill(0);
  }

  get count(): number {
    let total = 0;
    for (const c of this.#cells) total += c;
    return total;
  }

  /** Copy of the cells in order [vocabulary…, other]. */
  get cells(): number[] {
    return [...this.#cells];
  }

  record(value: string): void {
    this.#cells[this.#index.get(value) ?? this.vocabulary.length]! += 1;
  }

  /** Adds `other`'s counts into these; both must share the same vocabulary in the same order. */
  merge(other: CategoricalCounts): this {
    const a = this.vocabulary;
    const b = other.vocabulary;
    if (a.length !== b.length || a.some((word, i) => word !== b[i])) {
      throw new TelemetryError(
        'incompatible_merge',
        'cannot merge categorical counts over different vocabularies; record both against the same reference profile',
      );
    }
    for (let i = 0; i < this.#cells.length; i++) this.#cells[i]! += other.#cells[i]!;
    return this;
  }

  toJSON(): CategoricalCountsJSON {
    return { vocabulary: [...this.vocabulary], counts: this.#cells.slice(0, -1), other: this.#cells[this.#cells.length - 1]! };
  }

  /** Rebuilds counts from untrusted JSON, refusing duplicate words and non-integer counts. */
  static fromJSON(json: CategoricalCountsJSON): CategoricalCounts {
    assertVocabulary(json?.vocabulary, 'CategoricalCounts JSON', 'invalid_report');
    const counts = new CategoricalCounts(json.vocabulary);
    if (!Array.isArray(json.counts) || json.counts.length !== json.vocabulary.length) {
      throw new TelemetryError(
        'invalid_report',
        `CategoricalCounts JSON: ${json.vocabulary.length} words need ${json.vocabulary.length} counts`,
      );
    }
    counts.#cells = [...json.counts, json.other].map((c, i) =>
      assertCount(c, `CategoricalCounts JSON cell ${i}`, 'invalid_report'),
    );
    return counts;
  }
}
