import type { TensorDataMap, TensorDtype } from '@edgeloop/protocol';

/** The typed array that carries each dtype's data (shared with golden cases: @edgeloop/protocol). */
export type { TensorDataMap } from '@edgeloop/protocol';

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
