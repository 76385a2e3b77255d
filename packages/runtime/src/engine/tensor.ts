import type { TensorDtype } from '@edgeloop/protocol';

/** The typed array that carries each dtype's data. */
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

/** A named input or output: element type, shape and data, row-major. */
export interface Tensor<D extends TensorDtype = TensorDtype> {
  dtype: D;
  dims: readonly number[];
  data: TensorDataMap[D];
}

export type Feeds = Record<string, Tensor>;
export type Outputs = Record<string, Tensor>;

/**
 * Builds a tensor, checking that the data fits the shape.
 * @example
 * const sr = tensor('int64', BigInt64Array.of(16000n), []);
 */
export function tensor<D extends TensorDtype>(dtype: D, data: TensorDataMap[D], dims: readonly number[]): Tensor<D> {
  const expected = dims.reduce((product, dim) => product * dim, 1);
  if (data.length !== expected) {
    throw new RangeError(`tensor of shape [${dims.join(',')}] needs ${expected} elements, got ${data.length}`);
  }
  return { dtype, dims: [...dims], data };
}

/** The buffers to transfer (not copy) when a tensor crosses to or from a worker. */
export function transferablesOf(tensors: Record<string, Tensor>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const t of Object.values(tensors)) {
    if (!Array.isArray(t.data) && t.data.buffer instanceof ArrayBuffer) buffers.add(t.data.buffer);
  }
  return [...buffers];
}
