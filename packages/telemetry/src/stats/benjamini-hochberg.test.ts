import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { benjaminiHochberg } from './benjamini-hochberg.js';

describe('benjaminiHochberg', () => {
  it('matches a worked example', () => {
    const { adjusted, rejected } = benjaminiHochberg([0.01, 0.04, 0.03, 0.005], 0.05);
    // Sorted: 0.005, 0.01, 0.03, 0.04 → m·p/i = 0.02, 0.02, 0.04, 0.04.
    expect(adjusted.map((q) => Number(q.toFixed(12)))).toEqual([0.02, 0.04, 0.04, 0.02]);
    expect(rejected).toEqual([true, true, true, true]);
    expect(benjaminiHochberg([0.02, 0.5], 0.03).rejected).toEqual([false, false]); // 0.02 > 1·0.03/2
  });

  it('rejects exactly what the step-up rule rejects (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 30 }), fc.double({ min: 0.001, max: 0.2, noNaN: true }), (p, q) => {
        const m = p.length;
        const sorted = [...p].sort((a, b) => a - b);
        let cutoff = -1;
        sorted.forEach((value, i) => {
          if (value <= ((i + 1) * q) / m) cutoff = value;
        });
        const expected = p.map((value) => cutoff >= 0 && value <= cutoff);
        const { rejected, adjusted } = benjaminiHochberg(p, q);
        // Allow for the 1-ulp difference between m·p/i ≤ q and p ≤ i·q/m.
        rejected.forEach((r, i) => {
          if (Math.abs(adjusted[i]! - q) > 1e-12) expect(r).toBe(expected[i]);
        });
        adjusted.forEach((a, i) => expect(a).toBeGreaterThanOrEqual(p[i]! - 1e-15));
      }),
    );
  });
});
