import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toBase64 } from '../signing/base64.js';
import { fromFloat16, toFloat16 } from '../tensor-data.js';
import { encodeGolden } from './encode-golden.js';
import { parseGolden } from './golden-format.js';

const silero = (overrides: Record<string, unknown> = {}) => ({
  format: 'edgeloop-golden',
  version: 1,
  model: 'vad',
  cases: [
    {
      name: 'silence',
      inputs: {
        input: { dtype: 'float32', shape: [1, 4], data: [0, 0.5, -1, 1e-3] },
        state: { dtype: 'float32', shape: [2, 1, 2], base64: toBase64(new Uint8Array(Float32Array.of(1, 2, 3, 4).buffer)) },
        sr: { dtype: 'int64', shape: [], data: ['16000'] },
      },
      outputs: { output: { dtype: 'float32', shape: [1, 1], data: [0.02], tolerance: { maxAbs: 0.01 } } },
      ...overrides,
    },
  ],
});

describe('edgeloop-golden version 1', () => {
  it('decodes float, base64 and int64 tensors into the typed arrays the runtime runs', () => {
    const golden = parseGolden(JSON.stringify(silero()));
    const [only] = golden.cases;
    expect(only!.inputs.input).toEqual({ dtype: 'float32', dims: [1, 4], data: Float32Array.of(0, 0.5, -1, 1e-3) });
    expect(only!.inputs.state!.data).toEqual(Float32Array.of(1, 2, 3, 4));
    expect(only!.inputs.sr).toEqual({ dtype: 'int64', dims: [], data: BigInt64Array.of(16000n) });
    expect(only!.outputs.output).toMatchObject({ dims: [1, 1], tolerance: { maxAbs: 0.01 } });
    // Bytes (as read from disk) parse the same.
    expect(parseGolden(new TextEncoder().encode(JSON.stringify(silero())))).toEqual(golden);
  });

  it('names the bad field', () => {
    const bad = (c: Record<string, unknown>) => () => parseGolden(silero(c));
    expect(bad({ inputs: { sr: { dtype: 'int64', shape: [], data: [16000] } } })).toThrow(
      /cases\.0\.inputs\.sr\.data\.0: int64 data must be decimal strings such as "16000"/,
    );
    expect(bad({ inputs: { x: { dtype: 'float32', shape: [2, 2], data: [1, 2, 3] } } })).toThrow(/cases\.0\.inputs\.x\.data: has 3 elements but shape \[2,2\] needs 4/);
    expect(bad({ inputs: { x: { dtype: 'float32', shape: [2], base64: toBase64(new Uint8Array(4)) } } })).toThrow(/cases\.0\.inputs\.x\.base64: has 4 bytes but 2 float32 elements need 8/);
    expect(bad({ inputs: { x: { dtype: 'float32', shape: [1], data: [1], base64: 'AAAAAA==' } } })).toThrow(/cases\.0\.inputs\.x: give exactly one of "data"/);
    expect(bad({ inputs: { x: { dtype: 'uint8', shape: [1], data: [300] } } })).toThrow(/cases\.0\.inputs\.x\.data\.0: 300 is not a uint8/);
    expect(bad({ inputs: { x: { dtype: 'complex64', shape: [1], data: [1] } } })).toThrow(/cases\.0\.inputs\.x\.dtype/);
    expect(bad({ outputs: { y: { dtype: 'float32', shape: [1], data: [1], tolerance: { cosin: 0.9 } } } })).toThrow(/cases\.0\.outputs\.y\.tolerance/);
    expect(bad({ outputs: {} })).toThrow(/cases\.0\.outputs: a case must expect at least one output/);
    const nan = toBase64(new Uint8Array(Float32Array.of(Number.NaN).buffer));
    expect(bad({ outputs: { y: { dtype: 'float32', shape: [1], base64: nan } } })).toThrow(/cases\.0\.outputs\.y\.base64: element 0 is NaN; expected outputs must be finite/);
    expect(() => parseGolden({ ...silero(), format: 'golden' })).toThrow(/format: /);
    expect(() => parseGolden({ ...silero(), version: 2 })).toThrow(/version: /);
    expect(() => parseGolden('{"format":')).toThrow(/\(root\): not JSON/);
    expect(() => parseGolden({ ...silero(), cases: [silero().cases[0], silero().cases[0]] })).toThrow(/cases\.1\.name: "silence" names two cases/);
  });

  it('round-trips every dtype through encodeGolden, as JSON values and as base64', () => {
    const tensors = {
      f32: { dtype: 'float32' as const, dims: [3], data: Float32Array.of(1.5, -2, 3.25) },
      f64: { dtype: 'float64' as const, dims: [2], data: Float64Array.of(Math.PI, -1e300) },
      f16: { dtype: 'float16' as const, dims: [2], data: Uint16Array.of(toFloat16(0.5), toFloat16(-3)) },
      i8: { dtype: 'int8' as const, dims: [2], data: Int8Array.of(-128, 127) },
      u32: { dtype: 'uint32' as const, dims: [1], data: Uint32Array.of(4_000_000_000) },
      i64: { dtype: 'int64' as const, dims: [2], data: BigInt64Array.of(-(2n ** 63n), 9_007_199_254_740_993n) },
      u64: { dtype: 'uint64' as const, dims: [1], data: BigUint64Array.of(2n ** 64n - 1n) },
      b: { dtype: 'bool' as const, dims: [2], data: Uint8Array.of(1, 0) },
      s: { dtype: 'string' as const, dims: [2], data: ['a', 'ü'] },
    };
    for (const base64Above of [0, 1000]) {
      const text = JSON.stringify(encodeGolden([{ name: 'all', inputs: tensors, outputs: { f32: tensors.f32 } }], { base64Above }));
      const [back] = parseGolden(text).cases;
      expect(back!.inputs).toEqual(tensors);
    }
  });

  it('float16 conversion rounds to nearest even and keeps every half exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (bits) => {
        const value = fromFloat16(bits);
        if (Number.isNaN(value)) return Number.isNaN(fromFloat16(toFloat16(value)));
        return toFloat16(value) === bits;
      }),
    );
    expect(toFloat16(1 + 2 ** -11)).toBe(toFloat16(1)); // halfway: to even
    expect(toFloat16(65520)).toBe(0x7c00); // rounds past the largest half: infinity
    expect(fromFloat16(toFloat16(2 ** -24))).toBe(2 ** -24); // smallest subnormal
  });
});

describe('golden cases against a model signature', () => {
  it('accepts dynamic axes and names every mismatch', async () => {
    const { goldenSignatureProblems } = await import('./fits-signature.js');
    const signature = {
      inputs: [
        { name: 'input', dtype: 'float32' as const, dims: [1, null] },
        { name: 'state', dtype: 'float32' as const, dims: [2, 1, 128] },
        { name: 'sr', dtype: 'int64' as const, dims: [] },
      ],
      outputs: [{ name: 'output', dtype: 'float32' as const, dims: [1, 1] }],
    };
    const ok = parseGolden(
      silero({ inputs: { input: { dtype: 'float32', shape: [1, 3], data: [0, 0, 0] }, state: { dtype: 'float32', shape: [2, 1, 128], base64: toBase64(new Uint8Array(1024)) }, sr: { dtype: 'int64', shape: [], data: ['16000'] } } }),
    );
    expect(goldenSignatureProblems(ok, signature)).toEqual([]);
    const bad = parseGolden(
      silero({
        inputs: { input: { dtype: 'float32', shape: [2, 3], data: [0, 0, 0, 0, 0, 0] }, state: { dtype: 'float32', shape: [2, 1, 64], base64: toBase64(new Uint8Array(512)) }, srate: { dtype: 'int64', shape: [], data: ['1'] } },
        outputs: { stateN: { dtype: 'float32', shape: [1], data: [0] } },
      }),
    );
    expect(goldenSignatureProblems(bad, signature)).toEqual([
      `case "silence": missing input 'sr' (the model takes input: float32[1,?], state: float32[2,1,128], sr: int64[])`,
      `case "silence": the model has no input 'srate' (it takes input: float32[1,?], state: float32[2,1,128], sr: int64[])`,
      `case "silence": input 'input' must be float32[1,?], got float32[2,3]`,
      `case "silence": input 'state' must be float32[2,1,128], got float32[2,1,64]`,
      `case "silence": the model has no output 'stateN' (it returns output: float32[1,1])`,
    ]);
  });
});
