import { describe, expect, it } from 'vitest';
import { clopperPearsonUpper } from './clopper-pearson.js';

describe('clopperPearsonUpper', () => {
  it('is the closed form 1 − (1 − level)^(1/n) when nothing happened', () => {
    for (const n of [1, 10, 300, 4000]) expect(clopperPearsonUpper(0, n, 0.95)).toBeCloseTo(1 - 0.05 ** (1 / n), 9);
  });

  it('leaves exactly 1 − level of the binomial at or below x', () => {
    // P(Bin(20, p) ≤ 3) at the bound, summed directly.
    const p = clopperPearsonUpper(3, 20, 0.95);
    let below = 0;
    for (let k = 0; k <= 3; k++) below += binomial(20, k) * p ** k * (1 - p) ** (20 - k);
    expect(below).toBeCloseTo(0.05, 9);
    expect(p).toBeGreaterThan(3 / 20);
  });

  it('is 1 when every trial succeeded or none ran, and refuses impossible counts', () => {
    expect(clopperPearsonUpper(5, 5, 0.95)).toBe(1);
    expect(clopperPearsonUpper(0, 0, 0.95)).toBe(1);
    expect(() => clopperPearsonUpper(6, 5, 0.95)).toThrow(RangeError);
    expect(() => clopperPearsonUpper(1, 5, 1)).toThrow(RangeError);
  });
});

function binomial(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return c;
}
