import { describe, expect, it } from 'vitest';
import { seededRng } from '../random/rng.js';
import { discreteLaplaceDecay, discreteLaplaceVariance, sampleDiscreteLaplace } from './discrete-laplace.js';

describe('discrete Laplace noise', () => {
  it('has the stated pmf and variance', () => {
    const epsilon = 1;
    const a = discreteLaplaceDecay(epsilon); // e^(−1/2)
    expect(a).toBeCloseTo(Math.exp(-0.5), 15);
    const rng = seededRng(11);
    const n = 200_000;
    const freq = new Map<number, number>();
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < n; i++) {
      const x = sampleDiscreteLaplace(a, rng);
      freq.set(x, (freq.get(x) ?? 0) + 1);
      sum += x;
      sumSq += x * x;
    }
    const variance = discreteLaplaceVariance(epsilon);
    expect(variance).toBeCloseTo((2 * a) / (1 - a) ** 2, 12);
    expect(Math.abs(sum / n)).toBeLessThan(4 * Math.sqrt(variance / n));
    expect(sumSq / n / variance).toBeGreaterThan(0.97);
    expect(sumSq / n / variance).toBeLessThan(1.03);
    // P(X = x) = (1 − a)/(1 + a) · a^|x|
    for (const x of [-2, -1, 0, 1, 3]) {
      const p = ((1 - a) / (1 + a)) * a ** Math.abs(x);
      const observed = (freq.get(x) ?? 0) / n;
      expect(Math.abs(observed - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
    }
  });

  it('satisfies the ε-DP likelihood ratio between neighbouring counts', () => {
    // For counts c and c + 1 (one cell), P(c + X = y) / P(c + 1 + X = y) = a^(|y−c| − |y−c−1|) ≤ a^(−1) = e^(ε/2).
    const a = discreteLaplaceDecay(2);
    for (let y = -5; y <= 5; y++) {
      const ratio = a ** (Math.abs(y) - Math.abs(y - 1));
      expect(ratio).toBeLessThanOrEqual(Math.exp(2 / 2) + 1e-12);
    }
  });

  it('refuses ε that is not a positive finite number', () => {
    expect(() => discreteLaplaceDecay(0)).toThrow(/epsilon must be a finite number > 0, got 0/);
    expect(() => discreteLaplaceDecay(Infinity)).toThrow(/epsilon/);
    expect(() => discreteLaplaceVariance(-1)).toThrow(/epsilon/);
  });
});
