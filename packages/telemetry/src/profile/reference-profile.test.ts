import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { seededRng } from '../random/rng.js';
import { ReferenceProfile } from './reference-profile.js';

describe('ReferenceProfile.fromSamples', () => {
  it('cuts continuous data into equal-mass cells at reference quantiles', () => {
    const rng = seededRng(3);
    const values = Float64Array.from({ length: 10_000 }, () => rng.next() * 100);
    const profile = ReferenceProfile.fromSamples({ id: 'p', bins: 10, tails: false, numeric: [{ name: 'x', values }] });
    const [feature] = profile.numeric;
    expect(feature!.edges).toHaveLength(9);
    expect(feature!.cells).toEqual(new Array(10).fill(1000));
    expect(feature!.edges[4]!).toBeGreaterThan(45);
    expect(feature!.edges[4]!).toBeLessThan(55);
    expect(profile.cellCounts()).toEqual([11]);
  });

  it('by default: 8 equal-mass bins and open-ended tail cells below 1 % and from 99 %', () => {
    const rng = seededRng(4);
    const values = Float64Array.from({ length: 10_000 }, () => rng.next() * 100);
    const [feature] = ReferenceProfile.fromSamples({ id: 'p', numeric: [{ name: 'x', values }] }).numeric;
    expect(feature!.cells).toEqual([100, 1150, 1250, 1250, 1250, 1250, 1250, 1250, 1150, 100]);
    expect(feature!.edges[0]!).toBeCloseTo(1, 0);
    expect(feature!.edges[8]!).toBeCloseTo(99, 0);
    expect(() => ReferenceProfile.fromSamples({ id: 'p', bins: 8, tails: 0.2, numeric: [{ name: 'x', values }] })).toThrow(/tails must be false or in \(0, 1\/bins\)/);
  });

  it('keeps every reference value counted, edges strictly increasing, whatever the data (property)', () => {
    const values = fc.array(fc.oneof(fc.double({ noDefaultInfinity: false }), fc.integer({ min: -3, max: 3 })), {
      minLength: 1,
      maxLength: 200,
    });
    fc.assert(
      fc.property(values, fc.integer({ min: 2, max: 20 }), (xs, bins) => {
        fc.pre(xs.some((x) => !Number.isNaN(x)));
        const profile = ReferenceProfile.fromSamples({ id: 'p', bins, numeric: [{ name: 'x', values: xs }] });
        const f = profile.numeric[0]!;
        expect(f.edges.length).toBeLessThanOrEqual(bins + 1); // bins − 1 inner edges + 2 tail edges
        for (let i = 1; i < f.edges.length; i++) expect(f.edges[i]!).toBeGreaterThan(f.edges[i - 1]!);
        expect(f.cells.reduce((a, b) => a + b, 0) + f.nan).toBe(xs.length);
        expect(f.nan).toBe(xs.filter((x) => Number.isNaN(x)).length);
      }),
    );
  });

  it('builds a vocabulary of the most frequent values and counts the rest as other', () => {
    const profile = ReferenceProfile.fromSamples({
      id: 'p',
      categorical: [{ name: 'label', role: 'output', values: ['b', 'a', 'b', 'c', 'a', 'b', 'd'], maxVocabulary: 2 }],
    });
    expect(profile.categorical[0]).toEqual({ name: 'label', role: 'output', vocabulary: ['b', 'a'], cells: [3, 2, 2] });
    expect(profile.cellCounts()).toEqual([3]);
  });

  it('gives a constant feature one edge', () => {
    const profile = ReferenceProfile.fromSamples({ id: 'p', numeric: [{ name: 'k', values: [5, 5, 5] }] });
    expect(profile.numeric[0]!.edges).toEqual([5]);
    expect(profile.numeric[0]!.cells).toEqual([0, 3]);
  });

  it('round-trips through JSON and rejects inconsistent profiles', () => {
    const profile = ReferenceProfile.fromSamples({
      id: 'm@1',
      numeric: [{ name: 'x', values: [1, 2, 3, 4, Number.NaN] }],
      categorical: [{ name: 'c', values: ['u', 'v'] }],
    });
    const json = JSON.parse(JSON.stringify(profile.toJSON()));
    expect(ReferenceProfile.fromJSON(json).toJSON()).toEqual(profile.toJSON());
    const numeric = json.numeric[0];
    expect(() => ReferenceProfile.fromJSON({ ...json, numeric: [{ ...numeric, cells: [1] }] })).toThrow(/need \d+ cells/);
    expect(() => ReferenceProfile.fromJSON({ ...json, numeric: [{ ...numeric, edges: [2, 1] }] })).toThrow(/strictly increasing/);
    expect(() => ReferenceProfile.fromJSON({ ...json, categorical: [{ ...json.categorical[0], name: 'x' }] })).toThrow(/twice/);
    expect(() => ReferenceProfile.fromJSON({ ...json, version: 2 })).toThrow(/invalid reference profile: version/);
    expect(() => ReferenceProfile.fromSamples({ id: 'p', numeric: [{ name: 'x', values: [Number.NaN] }] })).toThrow(/no non-NaN/);
    expect(() => ReferenceProfile.fromSamples({ id: 'p', bins: 1, numeric: [] })).toThrow(/bins must be/);
  });
});
