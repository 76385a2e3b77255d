import { describe, expect, it } from 'vitest';
import { seededRng } from '../random/rng.js';
import { gaussian } from '../testing/random.js';
import { alwaysValidPValue, confidenceSequence } from './confidence-sequence.js';

describe('confidence sequence (normal mixture)', () => {
  it('covers the true difference at every look at once with probability ≥ 1 − α (peeking is free)', () => {
    const rng = seededRng(21);
    const alpha = 0.05;
    const runs = 2000;
    const looks = 200;
    let everMissed = 0;
    let fixedMissed = 0;
    for (let r = 0; r < runs; r++) {
      let sum = 0;
      let missed = false;
      for (let n = 1; n <= looks; n++) {
        sum += gaussian(rng) * 2; // σ = 2, true mean 0
        const variance = 4 / n;
        const ci = confidenceSequence(sum / n, variance, 1, alpha);
        if (ci.lower > 0 || ci.upper < 0) missed = true;
      }
      if (missed) everMissed += 1;
      // A fixed-sample 95 % interval looked at after every report: the reason for the sequence.
      let s = 0;
      let peekedOut = false;
      const peek = seededRng(1000 + r);
      for (let n = 1; n <= looks; n++) {
        s += gaussian(peek);
        if (Math.abs(s / n) > 1.96 / Math.sqrt(n)) peekedOut = true;
      }
      if (peekedOut) fixedMissed += 1;
    }
    // Ville: ≤ 5 %; with 2000 runs, 5 % + 3 sd ≈ 6.5 %.
    expect(everMissed / runs).toBeLessThan(0.065);
    // Peeking at a fixed-sample interval 200 times misses far more often than 5 %.
    expect(fixedMissed / runs).toBeGreaterThan(0.25);
  });

  it('narrows as the variance falls, and the p-value matches the interval', () => {
    const wide = confidenceSequence(0.3, 0.01, 0.1, 0.01);
    const narrow = confidenceSequence(0.3, 0.0001, 0.1, 0.01);
    expect(narrow.halfWidth).toBeLessThan(wide.halfWidth / 5);
    expect(narrow.lower).toBeGreaterThan(0);
    // θ₀ = 0 is outside the 99 % sequence exactly when its always-valid p-value is below 0.01.
    expect(alwaysValidPValue(0.3, 0.0001, 0.1)).toBeLessThan(0.01);
    expect(alwaysValidPValue(0.3, 0.01, 0.1)).toBeGreaterThan(0.01);
    expect(wide.lower).toBeLessThan(0);
    expect(confidenceSequence(1, 0, 1, 0.05)).toEqual({ lower: 1, upper: 1, halfWidth: 0 });
    expect(() => confidenceSequence(1, -1, 1, 0.05)).toThrow(/variance/);
    expect(() => confidenceSequence(1, 1, 0, 0.05)).toThrow(/tau/);
  });
});
