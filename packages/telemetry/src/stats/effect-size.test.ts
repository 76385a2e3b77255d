import { describe, expect, it } from 'vitest';
import { discreteLaplaceVariance } from '../privacy/discrete-laplace.js';
import { seededRng } from '../random/rng.js';
import {
  jensenShannonDistance,
  normalizedWasserstein,
  populationStabilityIndex,
} from './effect-size.js';

describe('effect sizes', () => {
  it('normalizedWasserstein is W₁ on the reference probability scale', () => {
    expect(normalizedWasserstein([1, 1, 1, 1], [5, 5, 5, 5])).toBe(0);
    // Uniform on {.125, .375, .625, .875} vs a point mass at .875: E|X − .875| = 0.375.
    expect(normalizedWasserstein([1, 1, 1, 1], [0, 0, 0, 9])).toBeCloseTo(0.375, 14);
    expect(normalizedWasserstein([1, 1, 1, 1], [9, 0, 0, 0])).toBeCloseTo(0.375, 14);
    // Negative (noised) counts are clamped at 0.
    expect(normalizedWasserstein([1, 1, 1, 1], [-3, 0, 0, 9])).toBeCloseTo(0.375, 14);
  });

  it('Jensen–Shannon distance is 0 for equal and 1 for disjoint distributions', () => {
    expect(jensenShannonDistance([2, 3, 5], [4, 6, 10])).toBeCloseTo(0, 14);
    expect(jensenShannonDistance([1, 0], [0, 1])).toBeCloseTo(1, 14);
    const d = jensenShannonDistance([1, 1], [3, 1]);
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(1);
  });

  it('PSI matches the formula on large counts', () => {
    // (0.6 − 0.5)·ln(1.2) + (0.4 − 0.5)·ln(0.8)
    expect(populationStabilityIndex([5e6, 5e6], [6e6, 4e6])).toBeCloseTo(0.1 * Math.log(1.2) - 0.1 * Math.log(0.8), 6);
    expect(Number.isFinite(populationStabilityIndex([5, 5], [10, 0]))).toBe(true);
  });


});
