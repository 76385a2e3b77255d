import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LatencyHistogram } from './latency-histogram.js';

function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

describe('LatencyHistogram', () => {
  it('answers quantiles within its relative accuracy', () => {
    const values = Array.from({ length: 5000 }, (_, i) => 0.05 * 1.003 ** i);
    const h = new LatencyHistogram({ alpha: 0.01 });
    for (const v of values) h.record(v);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      const exact = exactQuantile(sorted, q);
      expect(Math.abs(h.quantile(q)! - exact) / exact).toBeLessThanOrEqual(0.01 + 1e-12);
    }
    expect(h.count).toBe(5000);
  });

  it('merges bit-identically in any order', () => {
    const histogramOf = (values: number[]) => {
      const h = new LatencyHistogram();
      for (const v of values) h.record(v);
      return h;
    };
    const value = fc.oneof(fc.constant(0), fc.double({ min: 1e-9, max: 1e6, noNaN: true }));
    fc.assert(
      fc.property(fc.array(fc.array(value, { maxLength: 40 }), { minLength: 1, maxLength: 6 }), (parts) => {
        const forward = parts.map(histogramOf).reduce((a, b) => a.merge(b));
        const backward = parts.map(histogramOf).reverse().reduce((a, b) => a.merge(b));
        const all = histogramOf(parts.flat());
        expect(JSON.stringify(forward.toJSON())).toBe(JSON.stringify(backward.toJSON()));
        expect(JSON.stringify(forward.toJSON())).toBe(JSON.stringify(all.toJSON()));
        // Merging the JSON forms (what ingest does) is the same merge, bit for bit.
        const viaJson = parts.map((p) => histogramOf(p).toJSON()).reduce((h, json) => h.mergeJSON(json), new LatencyHistogram());
        expect(JSON.stringify(viaJson.toJSON())).toBe(JSON.stringify(all.toJSON()));
      }),
    );
  });

  it('round-trips through JSON', () => {
    const h = new LatencyHistogram();
    for (const v of [0, 0.4, 0.41, 12, 900]) h.record(v);
    const copy = LatencyHistogram.fromJSON(JSON.parse(JSON.stringify(h.toJSON())));
    expect(copy.toJSON()).toEqual(h.toJSON());
    expect(copy.quantile(0.5)).toBe(h.quantile(0.5));
  });

  it('refuses values that cannot be latencies and merges of different accuracy', () => {
    const h = new LatencyHistogram();
    expect(() => h.record(-1)).toThrow(/finite number ≥ 0, got -1/);
    expect(() => h.record(Number.NaN)).toThrow(/got NaN/);
    expect(() => h.merge(new LatencyHistogram({ alpha: 0.02 }))).toThrow(/same alpha/);
    expect(() => h.mergeJSON(new LatencyHistogram({ alpha: 0.02 }).toJSON())).toThrow(/same alpha/);
    expect(h.count).toBe(0);
    expect(h.quantile(0.5)).toBeNull();
  });

  it('rejects inconsistent serialized state', () => {
    expect(() => LatencyHistogram.fromJSON({ alpha: 0.01, zero: 0, bins: [[3, 0]], min: 1, max: 1 })).toThrow(
      /positive integer counts/,
    );
    expect(() => LatencyHistogram.fromJSON({ alpha: 0.01, zero: 0, bins: [[3, 1]], min: null, max: null })).toThrow(
      /min ≤ max/,
    );
  });
});
