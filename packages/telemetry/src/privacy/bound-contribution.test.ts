import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { seededRng } from '../random/rng.js';
import { boundContribution } from './bound-contribution.js';

describe('boundContribution', () => {
  it('keeps exactly min(total, clip) values, never more than a cell had (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(50), { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 200 }), fc.nat(), (cells, clip, seed) => {
        const kept = boundContribution(cells, clip, seededRng(seed));
        const total = cells.reduce((a, b) => a + b, 0);
        expect(kept.reduce((a, b) => a + b, 0)).toBe(Math.min(total, clip));
        kept.forEach((k, i) => {
          expect(Number.isInteger(k)).toBe(true);
          expect(k).toBeGreaterThanOrEqual(0);
          expect(k).toBeLessThanOrEqual(cells[i]!);
        });
        if (total <= clip) expect(kept).toEqual(cells);
      }),
    );
  });

  it('keeps proportions on average (hypergeometric mean clip·c/N)', () => {
    const cells = [600, 300, 100];
    const rng = seededRng(5);
    const sums = [0, 0, 0];
    const trials = 2000;
    for (let t = 0; t < trials; t++) boundContribution(cells, 50, rng).forEach((k, i) => (sums[i]! += k));
    // Mean of cell 0 is 30; its sd per draw ≤ √(50·0.6·0.4) ≈ 3.5, so the mean of 2000 draws is within ±0.25.
    expect(Math.abs(sums[0]! / trials - 30)).toBeLessThan(0.25);
    expect(Math.abs(sums[2]! / trials - 5)).toBeLessThan(0.25);
  });

  it('refuses a clip that is not a positive integer', () => {
    expect(() => boundContribution([1], 0, seededRng(1))).toThrow(/clip must be an integer ≥ 1, got 0/);
  });
});
