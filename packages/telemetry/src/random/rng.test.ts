import { describe, expect, it } from 'vitest';
import { cryptoRng, seededRng } from './rng.js';

describe('seededRng', () => {
  it('repeats for a seed and differs across seeds', () => {
    const a = seededRng(7);
    const b = seededRng(7);
    const c = seededRng(8);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs);
  });

  it('is uniform on [0, 1): mean, variance and decile counts', () => {
    const rng = seededRng(1);
    const n = 100_000;
    const deciles = new Array<number>(10).fill(0);
    let sum = 0;
    let sumSq = 0;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      if (!(u >= 0 && u < 1)) outside += 1;
      sum += u;
      sumSq += u * u;
      deciles[Math.floor(u * 10)]! += 1;
    }
    expect(outside).toBe(0);
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(sumSq / n - sum ** 2 / n ** 2 - 1 / 12)).toBeLessThan(0.002);
    // χ² with 9 df: 0.999 quantile is 27.9.
    const chi = deciles.reduce((acc, c) => acc + (c - n / 10) ** 2 / (n / 10), 0);
    expect(chi).toBeLessThan(27.9);
  });
});

describe('cryptoRng', () => {
  it('draws from the given getRandomValues', () => {
    let calls = 0;
    const rng = cryptoRng((array) => {
      calls += 1;
      array.fill(0xffffffff);
      return array;
    });
    const u = rng.next();
    expect(u).toBeLessThan(1);
    expect(u).toBeGreaterThan(0.9999999);
    expect(calls).toBe(1);
  });

  it('uses globalThis.crypto when present', () => {
    const u = cryptoRng().next();
    expect(u >= 0 && u < 1).toBe(true);
  });
});
