import type { TensorDtype } from './signature.js';

/**
 * The typed array that carries each dtype's elements, row-major, as onnxruntime-web holds them:
 * `int64` → BigInt64Array, `bool` → one byte per element, `float16`/`bfloat16` → their raw 16-bit
 * patterns. Shared by the runtime's tensors and the golden-case format, so a golden input is a
 * feed the runtime takes as it is.
 */
export interface TensorDataMap {
  float32: Float32Array;
  float64: Float64Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
  bool: Uint8Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  string: string[];
}

export type TensorData = TensorDataMap[keyof TensorDataMap];

/** A tensor as both sides see it: element type, shape and data. */
export interface TensorValue<D extends TensorDtype = TensorDtype> {
  dtype: D;
  dims: readonly number[];
  data: TensorDataMap[D];
}

/** Bytes per element of each dtype in a little-endian buffer (`string` has none). */
export const BYTES_PER_ELEMENT: { [D in TensorDtype]: number } = {
  float32: 4,
  float64: 8,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  bool: 1,
  float16: 2,
  bfloat16: 2,
  string: 0,
};

export const FLOAT_DTYPES: ReadonlySet<TensorDtype> = new Set(['float32', 'float64', 'float16', 'bfloat16']);

/** IEEE 754 half precision → number. */
export function fromFloat16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : Number.NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** number → IEEE 754 half precision, rounding to nearest even (numpy's conversion). */
export function toFloat16(value: number): number {
  const x = new Uint32Array(Float32Array.of(value).buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const e = exponent - 112; // rebias from 127 to 15
  if (e >= 0x1f) return sign | 0x7c00; // too large: infinity
  const roundShift = (bits: number, shift: number) => {
    const rest = bits & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    const kept = bits >>> shift;
    return rest > halfway || (rest === halfway && (kept & 1) === 1) ? kept + 1 : kept;
  };
  if (e <= 0) {
    if (e < -10) return sign; // too small: signed zero
    mantissa |= 0x800000;
    return sign | roundShift(mantissa, 14 - e); // subnormal
  }
  // A carry out of the mantissa moves into the exponent, which is what rounding up should do.
  return sign | ((e << 10) + roundShift(mantissa, 13));
}

/** bfloat16 (the top half of a float32) → number. */
export function fromBfloat16(bits: number): number {
  const u32 = Uint32Array.of(bits << 16);
  return new Float32Array(u32.buffer)[0]!;
}

/** number → bfloat16, rounding to nearest even. */
export function toBfloat16(value: number): number {
  const f32 = Float32Array.of(value);
  const x = new Uint32Array(f32.buffer)[0]!;
  if (Number.isNaN(value)) return 0x7fc0;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The elements of a numeric tensor as numbers (float16 and bfloat16 decoded, 64-bit integers rounded to doubles). */
export function tensorNumbers(dtype: TensorDtype, data: TensorDataMap[TensorDtype]): number[] {
  if (dtype === 'float16') return Array.from(data as Uint16Array, fromFloat16);
  if (dtype === 'bfloat16') return Array.from(data as Uint16Array, fromBfloat16);
  if (dtype === 'int64' || dtype === 'uint64') return Array.from(data as ArrayLike<bigint>, Number);
  if (dtype === 'string') throw new TypeError('string tensors have no numbers');
  return Array.from(data as ArrayLike<number>);
}
