import { describe, expect, it } from 'vitest';
import { seededRng } from '../random/rng.js';
import {
  clippedLaplace,
  clippedLaplaceSlack,
  clippedLaplaceVariance,
  kRandomizedResponse,
  krrProbabilities,
  randomizedResponseBit,
  rrKeepProbability,
} from './mechanisms.js';

describe('randomized response', () => {
  it('keeps a bit with probability e^ε/(1+e^ε), so output odds under 0 and 1 differ by exactly e^ε', () => {
    const rng = seededRng(3);
    const trials = 200_000;
    let ones0 = 0;
    let ones1 = 0;
    for (let i = 0; i < trials; i++) {
      ones0 += randomizedResponseBit(0, 1, rng);
      ones1 += randomizedResponseBit(1, 1, rng);
    }
    const p = rrKeepProbability(1);
    expect(p).toBeCloseTo(Math.E / (1 + Math.E), 12);
    // sd of a proportion over 2e5 draws ≤ 0.0012: 5 sd.
    expect(Math.abs(ones1 / trials - p)).toBeLessThan(0.006);
    expect(Math.abs(ones0 / trials - (1 - p))).toBeLessThan(0.006);
  });

  it('k-ary: the true value with p, each other value with q, p/q = e^ε', () => {
    const { p, q } = krrProbabilities(5, 2);
    expect(p / q).toBeCloseTo(Math.exp(2), 10);
    expect(p + 4 * q).toBeCloseTo(1, 12);
    const rng = seededRng(9);
    const counts = [0, 0, 0, 0, 0];
    const trials = 100_000;
    for (let i = 0; i < trials; i++) counts[kRandomizedResponse(2, 5, 2, rng)]! += 1;
    expect(Math.abs(counts[2]! / trials - p)).toBeLessThan(0.008);
    for (const c of [0, 1, 3, 4]) expect(Math.abs(counts[c]! / trials - q)).toBeLessThan(0.006);
  });

  it('refuses values outside the domain and bad ε', () => {
    const rng = seededRng(1);
    expect(() => kRandomizedResponse(5, 5, 1, rng)).toThrow(/integer in \[0, 5\)/);
    expect(() => kRandomizedResponse(1, 1, 1, rng)).toThrow(/K ≥ 2/);
    expect(() => randomizedResponseBit(1, 0, rng)).toThrow(/finite number > 0/);
    expect(() => randomizedResponseBit(1, Number.POSITIVE_INFINITY, rng)).toThrow(/finite number > 0/);
  });
});

describe('clippedLaplace', () => {
  it('clips to [0, clip] before adding unbiased noise of the stated variance', () => {
    const rng = seededRng(5);
    const trials = 50_000;
    let sum = 0;
    let squares = 0;
    for (let i = 0; i < trials; i++) {
      const noise = clippedLaplace(1e9, 32, 1, rng) - 32; // clipped to 32
      sum += noise;
      squares += noise * noise;
    }
    const variance = clippedLaplaceVariance(32, 1);
    expect(Math.sqrt(variance)).toBeGreaterThan(44);
    expect(Math.sqrt(variance)).toBeLessThan(46);
    expect(Math.abs(sum / trials)).toBeLessThan(5 * Math.sqrt(variance / trials));
    expect(squares / trials / variance).toBeGreaterThan(0.95);
    expect(squares / trials / variance).toBeLessThan(1.05);
    expect(clippedLaplace(-5, 32, 1000, seededRng(1))).toBe(0);
  });

  it('never produces a value beyond the admission slack in a million draws', () => {
    const rng = seededRng(17);
    const slack = clippedLaplaceSlack(8, 0.5);
    let worst = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const x = clippedLaplace(4, 8, 0.5, rng);
      worst = Math.max(worst, x < 0 ? -x : x - 8);
    }
    expect(worst).toBeLessThan(slack);
    // The slack is the 1e-17 tail: far beyond what honest draws reach, but finite.
    expect(slack).toBe(Math.ceil(41 / (0.5 / 8)));
  });
});
