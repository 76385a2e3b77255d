import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CategoricalCounts } from './categorical-counts.js';

const VOCAB = ['a', 'b', 'c'];
const word = fc.constantFrom('a', 'b', 'c', 'd', '', 'constructor', '__proto__');

function countsOf(words: string[]): CategoricalCounts {
  const c = new CategoricalCounts(VOCAB);
  for (const w of words) c.record(w);
  return c;
}

describe('CategoricalCounts', () => {
  it('counts known words and sends the rest to other', () => {
    expect(countsOf(['a', 'c', 'c', 'zebra', 'constructor']).toJSON()).toEqual({
      vocabulary: VOCAB,
      counts: [1, 0, 2],
      other: 2,
    });
  });

  it('merges bit-identically in any order (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(word, { maxLength: 30 }), { minLength: 1, maxLength: 6 }), (parts) => {
        const all = JSON.stringify(countsOf(parts.flat()).toJSON());
        const forward = parts.map(countsOf).reduce((a, b) => a.merge(b));
        const backward = parts.map(countsOf).reverse().reduce((a, b) => a.merge(b));
        expect(JSON.stringify(forward.toJSON())).toBe(all);
        expect(JSON.stringify(backward.toJSON())).toBe(all);
        expect(forward.count).toBe(parts.flat().length);
      }),
    );
  });

  it('round-trips through JSON and validates it', () => {
    const c = countsOf(['a', 'b', 'x']);
    expect(CategoricalCounts.fromJSON(JSON.parse(JSON.stringify(c.toJSON()))).toJSON()).toEqual(c.toJSON());
    expect(() => CategoricalCounts.fromJSON({ vocabulary: ['a', 'a'], counts: [0, 0], other: 0 })).toThrow(/twice/);
    expect(() => CategoricalCounts.fromJSON({ vocabulary: ['a'], counts: [0, 0], other: 0 })).toThrow(/need 1 counts/);
    expect(() => CategoricalCounts.fromJSON({ vocabulary: ['a'], counts: [1.5], other: 0 })).toThrow(/integer/);
    expect(() => new CategoricalCounts(['a']).merge(new CategoricalCounts(['b']))).toThrow(/different vocabularies/);
  });
});
