import { describe, expect, it } from 'vitest';
import type { GoldenCase, GoldenExpected } from './golden-format.js';
import { checkGoldenCase, compareOutput } from './compare.js';

const f32 = (...values: number[]): GoldenExpected => ({ dtype: 'float32', dims: [values.length], data: Float32Array.from(values) });

describe('golden output comparison', () => {
  it('passes by cosine ≥ 0.99 by default and fails below it, saying by how much', () => {
    expect(compareOutput('y', f32(1, 2, 3), f32(1.01, 2, 2.98))).toMatchObject({ ok: true, tolerance: { cosine: 0.99 } });
    const far = compareOutput('y', f32(1, 0, 0), f32(0.5, 1, 0));
    expect(far).toMatchObject({ ok: false, failure: 'mismatch', message: expect.stringMatching(/^output 'y': cosine 0\.4472 < 0\.99/) });
    expect(far.cosine).toBeCloseTo(0.4472, 3);
  });

  it('fails any NaN or Infinity whatever the tolerance', () => {
    expect(compareOutput('y', f32(1, 2), f32(1, Number.NaN))).toMatchObject({ ok: false, failure: 'nan', message: "output 'y': element 1 is NaN" });
    expect(compareOutput('y', { ...f32(1, 2), tolerance: { maxAbs: 1e9 } }, f32(Infinity, 2))).toMatchObject({ ok: false, failure: 'nan' });
  });

  it('applies maxAbs, maxRel and both together as allclose does', () => {
    const expected = f32(100, 0.001);
    const actual = f32(101, 0.0015);
    expect(compareOutput('y', { ...expected, tolerance: { maxAbs: 1 } }, actual).ok).toBe(true);
    expect(compareOutput('y', { ...expected, tolerance: { maxAbs: 0.5 } }, actual)).toMatchObject({ ok: false, message: expect.stringMatching(/element 0 is 101, expected 100 \(outside maxAbs 0\.5\)/) });
    expect(compareOutput('y', { ...expected, tolerance: { maxRel: 0.01 } }, actual)).toMatchObject({ ok: false, message: expect.stringMatching(/element 1 is 0\.0015\d*, expected 0\.001\d* \(outside maxRel 0\.01\)/) });
    expect(compareOutput('y', { ...expected, tolerance: { maxRel: 0.01, maxAbs: 0.001 } }, actual).ok).toBe(true);
    // The release's default applies to outputs without their own tolerance.
    expect(compareOutput('y', expected, actual, { maxAbs: 2 }).ok).toBe(true);
  });

  it('compares integer outputs exactly unless they carry a tolerance, and checks shape, dtype and presence', () => {
    const ints: GoldenExpected = { dtype: 'int64', dims: [2], data: BigInt64Array.of(1n, 2n) };
    expect(compareOutput('k', ints, { dtype: 'int64', dims: [2], data: BigInt64Array.of(1n, 2n) })).toMatchObject({ ok: true, tolerance: 'exact' });
    expect(compareOutput('k', ints, { dtype: 'int64', dims: [2], data: BigInt64Array.of(1n, 3n) })).toMatchObject({ ok: false, failure: 'mismatch' });
    expect(compareOutput('k', ints, { dtype: 'int32', dims: [2], data: Int32Array.of(1, 2) })).toMatchObject({ ok: false, failure: 'dtype' });
    expect(compareOutput('y', f32(1, 2), { dtype: 'float32', dims: [1, 2], data: Float32Array.of(1, 2) })).toMatchObject({ ok: false, failure: 'shape' });
    expect(compareOutput('y', f32(1, 2), undefined)).toMatchObject({ ok: false, failure: 'missing' });
    // Float dtypes compare by value across each other (an fp16 variant against float32 expectations).
    expect(compareOutput('y', f32(1, 2), { dtype: 'float64', dims: [2], data: Float64Array.of(1, 2) }).ok).toBe(true);
  });

  it('checks every expected output of a case', () => {
    const goldenCase: GoldenCase = { name: 'frame', inputs: {}, outputs: { a: f32(1), b: f32(2) } };
    const result = checkGoldenCase(goldenCase, { a: f32(1), b: f32(-2) });
    expect(result).toMatchObject({ case: 'frame', ok: false, outputs: [{ output: 'a', ok: true }, { output: 'b', ok: false, failure: 'mismatch' }] });
  });
});
