import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { discreteLaplaceDecay, discreteLaplaceVariance, sampleDiscreteLaplace } from '../privacy/discrete-laplace.js';
import { seededRng } from '../random/rng.js';
import { binnedChiSquare } from './binned-chi-square.js';
import { addNoise, multinomial } from './test-helpers.js';

describe('binnedChiSquare', () => {
  it('matches scipy chi2_contingency (no Yates correction) without noise', () => {
    const a = binnedChiSquare({ reference: [30, 50, 20], observed: [20, 40, 40], noiseVariance: 0 });
    expect(a.statistic).toBeCloseTo(9.777777777777779, 10);
    expect(a.df).toBe(2);
    expect(a.pValue).toBeCloseTo(0.007529784255650024, 12);
    const b = binnedChiSquare({ reference: [1000, 1000, 1000, 1000], observed: [12, 30, 25, 33], noiseVariance: 0 });
    expect(b.statistic).toBeCloseTo(10.12893446389266, 10);
    expect(b.pValue).toBeCloseTo(0.01750134854890976, 12);
  });

  it('equals the classical two-sample statistic on any raw counts (property)', () => {
    const cells = fc.array(fc.nat(200), { minLength: 2, maxLength: 12 });
    fc.assert(
      fc.property(cells, fc.array(fc.nat(200), { minLength: 12, maxLength: 12 }), (reference, more) => {
        const observed = more.slice(0, reference.length);
        const bigN = reference.reduce((a, b) => a + b, 0);
        const n = observed.reduce((a, b) => a + b, 0);
        fc.pre(bigN > 0 && n > 0);
        let classical = 0;
        let used = 0;
        reference.forEach((r, i) => {
          const pooled = (r + observed[i]!) / (bigN + n);
          if (pooled === 0) return;
          used += 1;
          classical += (observed[i]! / n - r / bigN) ** 2 / (pooled * (1 / n + 1 / bigN));
        });
        fc.pre(used >= 2);
        const result = binnedChiSquare({ reference, observed, noiseVariance: 0 });
        expect(result.df).toBe(used - 1);
        expect(Math.abs(result.statistic - classical)).toBeLessThanOrEqual(1e-7 * Math.max(1, classical));
      }),
    );
  });

  it('stays calibrated under H0 when counts carry discrete Laplace noise, and a naive test does not', () => {
    const rng = seededRng(2024);
    const k = 10;
    const p = new Array<number>(k).fill(1 / k);
    const reference = new Array<number>(k).fill(2000); // N = 20 000, exact equal mass
    const devices = 40;
    const perDevice = 25;
    const decay = discreteLaplaceDecay(0.5);
    const variance = devices * discreteLaplaceVariance(0.5);
    let rejected = 0;
    let naiveRejected = 0;
    const trials = 600;
    for (let t = 0; t < trials; t++) {
      const observed = multinomial(devices * perDevice, p, rng);
      for (let d = 0; d < devices; d++) for (let i = 0; i < k; i++) observed[i]! += sampleDiscreteLaplace(decay, rng);
      if (binnedChiSquare({ reference, observed, noiseVariance: variance }).pValue < 0.05) rejected += 1;
      if (binnedChiSquare({ reference, observed, noiseVariance: 0 }).pValue < 0.05) naiveRejected += 1;
    }
    // Binomial(600, 0.05) lies within [15, 48] with probability > 0.999.
    expect(rejected).toBeGreaterThanOrEqual(15);
    expect(rejected).toBeLessThanOrEqual(48);
    expect(naiveRejected / trials).toBeGreaterThan(0.5);
  });

  it('stays calibrated with the exact n even when noise dwarfs the counts (20 reports, n = 100)', () => {
    const rng = seededRng(31);
    const k = 11;
    const p = [...new Array<number>(10).fill(0.1), 0];
    const reference = [...new Array<number>(10).fill(2000), 0];
    const reports = 20;
    const epsilon = 0.25; // per entry: ε = 4 over 16 entries
    const variance = reports * discreteLaplaceVariance(epsilon);
    let rejected = 0;
    const trials = 600;
    for (let t = 0; t < trials; t++) {
      const observed = addNoise(multinomial(100, p, rng), reports, epsilon, rng);
      const result = binnedChiSquare({ reference, observed, noiseVariance: variance, observedTotal: 100 });
      expect(result.df).toBe(k);
      if (result.pValue < 0.05) rejected += 1;
    }
    expect(rejected).toBeGreaterThanOrEqual(15);
    expect(rejected).toBeLessThanOrEqual(48);
  });

  it('detects a shift through the noise', () => {
    const rng = seededRng(5);
    const reference = new Array<number>(10).fill(2000);
    const shifted = [0.05, 0.06, 0.07, 0.08, 0.09, 0.11, 0.12, 0.13, 0.14, 0.15];
    const decay = discreteLaplaceDecay(0.5);
    const observed = multinomial(50_000, shifted, rng);
    for (let d = 0; d < 1000; d++) for (let i = 0; i < 10; i++) observed[i]! += sampleDiscreteLaplace(decay, rng);
    const result = binnedChiSquare({ reference, observed, noiseVariance: 1000 * discreteLaplaceVariance(0.5) });
    expect(result.df).toBe(9);
    expect(result.pValue).toBeLessThan(1e-10);
  });

  it('gives no evidence without data', () => {
    expect(binnedChiSquare({ reference: [1, 2], observed: [0, 0], noiseVariance: 0 })).toEqual({ statistic: 0, df: 0, pValue: 1 });
    expect(binnedChiSquare({ reference: [5, 0], observed: [3, 0], noiseVariance: 0 }).pValue).toBe(1);
  });
});
