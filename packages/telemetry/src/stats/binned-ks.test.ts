import { describe, expect, it } from 'vitest';
import { discreteLaplaceVariance } from '../privacy/discrete-laplace.js';
import { seededRng } from '../random/rng.js';
import { binnedKs } from './binned-ks.js';
import { kolmogorovSurvival } from './special-functions.js';
import { addNoise, multinomial } from './test-helpers.js';

describe('binnedKs', () => {
  it('takes D at the edges and nₑ = nN/(n + N) without noise', () => {
    const result = binnedKs({ reference: [25, 25, 25, 25], observed: [10, 10, 40, 40], noiseVariance: 0 });
    expect(result.statistic).toBeCloseTo(0.3, 12); // F at edge 2: 0.5 vs 0.2
    expect(result.effectiveN).toBeCloseTo(50, 10);
    const root = Math.sqrt(50);
    expect(result.pValue).toBeCloseTo(kolmogorovSurvival((root + 0.12 + 0.11 / root) * 0.3), 14);
  });

  it('is conservative but not blind under H0, with and without noise', () => {
    const rng = seededRng(77);
    const k = 10;
    const p = new Array<number>(k).fill(1 / k);
    const reference = new Array<number>(k).fill(1000);
    const trials = 600;
    let raw = 0;
    let noised = 0;
    let naive = 0;
    const reports = 30;
    const variance = reports * discreteLaplaceVariance(0.5);
    for (let t = 0; t < trials; t++) {
      const observed = multinomial(600, p, rng);
      if (binnedKs({ reference, observed, noiseVariance: 0 }).pValue < 0.05) raw += 1;
      const noisy = addNoise(observed, reports, 0.5, rng);
      if (binnedKs({ reference, observed: noisy, noiseVariance: variance }).pValue < 0.05) noised += 1;
      if (binnedKs({ reference, observed: noisy, noiseVariance: 0 }).pValue < 0.05) naive += 1;
    }
    // Binned KS is conservative: at most 5 % (+ binomial slack), yet it does reject sometimes.
    expect(raw / trials).toBeLessThanOrEqual(0.065);
    expect(raw).toBeGreaterThan(3);
    expect(noised / trials).toBeLessThanOrEqual(0.065);
    expect(naive / trials).toBeGreaterThan(0.2);
  });

  it('declines to answer when the noise is large next to n', () => {
    const rng = seededRng(12);
    const observed = addNoise(multinomial(100, new Array<number>(10).fill(0.1), rng), 20, 0.25, rng);
    const result = binnedKs({ reference: new Array<number>(10).fill(1000), observed, noiseVariance: 20 * discreteLaplaceVariance(0.25) });
    expect(result).toEqual({ applicable: false, statistic: 0, effectiveN: 0, pValue: 1 });
  });

  it('detects a location shift', () => {
    const rng = seededRng(3);
    const reference = new Array<number>(10).fill(1000);
    const observed = multinomial(2000, [0.06, 0.07, 0.08, 0.09, 0.1, 0.1, 0.11, 0.12, 0.13, 0.14], rng);
    expect(binnedKs({ reference, observed, noiseVariance: 0 }).pValue).toBeLessThan(1e-6);
  });
});
