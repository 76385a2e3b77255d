import { describe, expect, it } from 'vitest';
import {
  chiSquareSurvival,
  chiSquareUpperQuantile,
  kolmogorovSurvival,
  lnGamma,
  regularizedGammaP,
  regularizedGammaQ,
} from './special-functions.js';

/** |actual − expected| ≤ tol · |expected|. */
function expectRelative(actual: number, expected: number, tol: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tol * Math.abs(expected));
}

// Reference values from scipy 1.17 (special.gammaln, gammainc, gammaincc, stats.chi2, stats.kstwobign).
describe('special functions', () => {
  it('lnGamma matches known values', () => {
    expectRelative(lnGamma(0.5), 0.5723649429247, 1e-12); // ln √π
    expectRelative(lnGamma(10), 12.801827480081469, 1e-13); // ln 9!
    expectRelative(lnGamma(171.5), 709.1431630309283, 1e-13);
    expectRelative(lnGamma(1e-5), 11.512919692895826, 1e-12);
    expect(lnGamma(1)).toBeCloseTo(0, 14);
    expect(lnGamma(2)).toBeCloseTo(0, 14);
  });

  it('regularized incomplete gamma matches closed forms and known values', () => {
    for (const x of [0.01, 0.5, 1, 3, 20]) expectRelative(regularizedGammaP(1, x), 1 - Math.exp(-x), 1e-12);
    expectRelative(regularizedGammaQ(0.5, 2), 0.04550026389635857, 1e-11); // erfc(√2)
    expectRelative(regularizedGammaP(3, 2.5), 0.45618688411667035, 1e-12);
    expectRelative(regularizedGammaQ(100, 100), 0.48670120172085135, 1e-10);
    expectRelative(regularizedGammaQ(50, 80), 0.0001307839765914092, 1e-9);
    expectRelative(regularizedGammaP(0.1, 1e-3), 0.526768568392445, 1e-12);
    for (const [a, x] of [[2, 1], [2, 5], [7.5, 7], [30, 45]] as const) {
      expect(regularizedGammaP(a, x) + regularizedGammaQ(a, x)).toBeCloseTo(1, 14);
    }
    expect(regularizedGammaQ(3, 0)).toBe(1);
    expect(regularizedGammaP(-1, 1)).toBeNaN();
  });

  it('chi-square survival and quantile invert each other at table values', () => {
    expectRelative(chiSquareSurvival(3.841458820694124, 1), 0.05, 1e-9);
    expectRelative(chiSquareSurvival(21.665994, 9), 0.010000001183808189, 1e-8);
    expectRelative(chiSquareSurvival(60, 15), 2.522085078696141e-7, 1e-8);
    expect(chiSquareSurvival(8, 2)).toBeCloseTo(Math.exp(-4), 15); // χ²(2) is exponential with mean 2
    expectRelative(chiSquareUpperQuantile(0.001, 15), 37.69729821835383, 1e-9);
    expectRelative(chiSquareUpperQuantile(0.01, 9), 21.665994333461924, 1e-9);
    expect(chiSquareSurvival(0, 3)).toBe(1);
  });

  it('Kolmogorov survival matches the standard critical values on both series', () => {
    const table: Array<[number, number]> = [
      [0.3, 0.9999906941986655],
      [0.5, 0.9639452436648751],
      [0.8276, 0.49995841656354456],
      [1.0, 0.26999967167735456],
      [1.2238, 0.10002342783567782],
      [1.3581, 0.0499996304316674],
      [1.6276, 0.010001537333060776],
      [2.5, 7.453306344157342e-6],
    ];
    for (const [lambda, q] of table) expectRelative(kolmogorovSurvival(lambda), q, 1e-9);
    // The two series agree where they meet.
    expect(Math.abs(kolmogorovSurvival(1.1799999) - kolmogorovSurvival(1.18))).toBeLessThan(1e-6);
    expect(kolmogorovSurvival(0)).toBe(1);
  });
});
