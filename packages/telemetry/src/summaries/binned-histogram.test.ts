import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BinnedHistogram } from './binned-histogram.js';

const EDGES = [-1, 0, 0.5, 2];
const value = fc.oneof(
  fc.double({ min: -5, max: 5 }),
  fc.constantFrom(-1, 0, 0.5, 2, Number.NaN, Infinity, -Infinity),
);

function histogramOf(values: number[]): BinnedHistogram {
  const h = new BinnedHistogram(EDGES);
  for (const v of values) h.record(v);
  return h;
}

describe('BinnedHistogram', () => {
  it('puts each value in the half-open bin [e_i, e_i+1), with underflow, overflow and NaN', () => {
    const h = histogramOf([-2, -1, -0.5, 0, 0.49, 0.5, 1.99, 2, 3, Infinity, -Infinity, Number.NaN]);
    expect(h.toJSON()).toEqual({ edges: EDGES, underflow: 2, counts: [2, 2, 2], overflow: 3, nan: 1 });
    expect(h.count).toBe(12);
  });

  it('agrees with a linear scan on every value (property)', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 60 }), (values) => {
        const json = histogramOf(values).toJSON();
        const cells = new Array<number>(EDGES.length + 1).fill(0);
        let nan = 0;
        for (const v of values) {
          if (Number.isNaN(v)) nan += 1;
          else cells[EDGES.filter((e) => e <= v).length]! += 1;
        }
        expect([json.underflow, ...json.counts, json.overflow]).toEqual(cells);
        expect(json.nan).toBe(nan);
      }),
    );
  });

  it('merges bit-identically in any order, equal to recording everything at once (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(value, { maxLength: 30 }), { minLength: 1, maxLength: 6 }),
        fc.infiniteStream(fc.nat()),
        (parts, picks) => {
          const all = JSON.stringify(histogramOf(parts.flat()).toJSON());
          const forward = parts.map(histogramOf).reduce((a, b) => a.merge(b));
          // A random merge tree: repeatedly merge two random survivors.
          const pool = parts.map(histogramOf);
          const it = picks[Symbol.iterator]();
          while (pool.length > 1) {
            const i = it.next().value! % pool.length;
            const [a] = pool.splice(i, 1);
            const j = it.next().value! % pool.length;
            pool[j] = a!.merge(pool[j]!);
          }
          expect(JSON.stringify(forward.toJSON())).toBe(all);
          expect(JSON.stringify(pool[0]!.toJSON())).toBe(all);
        },
      ),
    );
  });

  it('round-trips through JSON (property)', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 40 }), (values) => {
        const h = histogramOf(values);
        const copy = BinnedHistogram.fromJSON(JSON.parse(JSON.stringify(h.toJSON())));
        expect(copy.toJSON()).toEqual(h.toJSON());
      }),
    );
  });

  it('refuses bad edges, bad JSON and merges across different edges', () => {
    expect(() => new BinnedHistogram([])).toThrow(/non-empty/);
    expect(() => new BinnedHistogram([0, 0])).toThrow(/strictly increasing/);
    expect(() => new BinnedHistogram([0, Number.NaN])).toThrow(/finite/);
    expect(() => new BinnedHistogram([0, 1]).merge(new BinnedHistogram([0, 2]))).toThrow(/different bin edges/);
    const good = { edges: [0, 1], underflow: 0, counts: [1], overflow: 0, nan: 0 };
    expect(() => BinnedHistogram.fromJSON({ ...good, counts: [1, 2] })).toThrow(/need 1 counts/);
    expect(() => BinnedHistogram.fromJSON({ ...good, counts: [-1] })).toThrow(/integer ≥ 0/);
    expect(() => BinnedHistogram.fromJSON({ ...good, nan: 0.5 })).toThrow(/integer ≥ 0/);
    expect(() => BinnedHistogram.fromJSON({ ...good, edges: [1, 0] })).toThrow(/strictly increasing/);
  });
});
