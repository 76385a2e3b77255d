import type { TensorDtype, TensorSpec } from '@edgeloop/protocol';

/**
 * onnxruntime-web reports a symbolic or unknown axis as a name, a negative number or, from its
 * WASM build, -1 read as uint32 (4294967295); onnxruntime-node reports an unnamed one as "". All of
 * these but a real name mean "any size" to the runtime.
 */
export function normalizeDim(dim: unknown): number | string | null {
  if (typeof dim === 'string') return dim === '' ? null : dim;
  if (typeof dim === 'number' && Number.isInteger(dim) && dim >= 0 && dim < 2 ** 31) return dim;
  return null;
}

/** Formats one spec as in messages: `float32[2,?,128]`, `int64[]` (a scalar), `float32[?]` (rank unknown). */
export function formatSpec(spec: Pick<TensorSpec, 'dtype' | 'dims'>): string {
  if (spec.dims === null) return `${spec.dtype}[?]`;
  return `${spec.dtype}[${spec.dims.map((d) => (d === null ? '?' : d)).join(',')}]`;
}

export function formatShape(dtype: TensorDtype | string, dims: readonly number[]): string {
  return `${dtype}[${dims.join(',')}]`;
}
