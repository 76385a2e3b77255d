import { toBase64 } from '../signing/base64.js';
import type { TensorDtype } from '../signature.js';
import { BYTES_PER_ELEMENT, tensorNumbers, type TensorValue } from '../tensor-data.js';
import { GOLDEN_FORMAT, GOLDEN_FORMAT_VERSION } from './golden-format.js';
import type { GoldenTolerance } from './tolerance.js';

export interface GoldenCaseInput {
  name: string;
  inputs: Readonly<Record<string, TensorValue>>;
  outputs: Readonly<Record<string, TensorValue & { tolerance?: GoldenTolerance }>>;
}

/**
 * Writes golden cases as an `edgeloop-golden` version 1 object (JSON.stringify it to save). Tensors
 * of more than `base64Above` elements (default 64) are written as little-endian base64, the rest as
 * JSON values (int64 as decimal strings). What a quality gate (`edgeloop gate --golden N`) writes
 * and {@link parseGolden} reads back unchanged.
 * @example
 * writeFile('silence.json', JSON.stringify(encodeGolden([{ name: 'silence', inputs: feeds, outputs }])));
 */
export function encodeGolden(cases: readonly GoldenCaseInput[], options: { model?: string; base64Above?: number } = {}): Record<string, unknown> {
  const limit = options.base64Above ?? 64;
  const wire = (tensor: TensorValue) => {
    const base = { dtype: tensor.dtype, shape: [...tensor.dims] };
    if (tensor.dtype === 'string' || tensor.data.length <= limit) {
      if (tensor.dtype === 'int64' || tensor.dtype === 'uint64') return { ...base, data: Array.from(tensor.data as ArrayLike<bigint>, (v) => v.toString()) };
      if (tensor.dtype === 'string') return { ...base, data: [...(tensor.data as string[])] };
      if (tensor.dtype === 'bool') return { ...base, data: Array.from(tensor.data as Uint8Array, (v) => v !== 0) };
      // float16/bfloat16 → number → float16/bfloat16 is exact, so their values can be written as numbers.
      return { ...base, data: tensorNumbers(tensor.dtype, tensor.data) };
    }
    const size = BYTES_PER_ELEMENT[tensor.dtype];
    const bytes = new Uint8Array(tensor.data.length * size);
    const view = new DataView(bytes.buffer);
    const data = tensor.data as ArrayLike<number | bigint>;
    for (let i = 0; i < data.length; i++) writeElement(view, tensor.dtype, i * size, data[i]!);
    return { ...base, base64: toBase64(bytes) };
  };
  return {
    format: GOLDEN_FORMAT,
    version: GOLDEN_FORMAT_VERSION,
    ...(options.model !== undefined && { model: options.model }),
    cases: cases.map((c) => ({
      name: c.name,
      inputs: Object.fromEntries(Object.entries(c.inputs).map(([name, t]) => [name, wire(t)])),
      outputs: Object.fromEntries(
        Object.entries(c.outputs).map(([name, t]) => [name, { ...wire(t), ...(t.tolerance && { tolerance: t.tolerance }) }]),
      ),
    })),
  };
}

/** One element, little-endian, at `offset`. */
function writeElement(view: DataView, dtype: TensorDtype, offset: number, value: number | bigint): void {
  switch (dtype) {
    case 'float32':
      return view.setFloat32(offset, value as number, true);
    case 'float64':
      return view.setFloat64(offset, value as number, true);
    case 'int8':
      return view.setInt8(offset, value as number);
    case 'uint8':
    case 'bool':
      return view.setUint8(offset, value as number);
    case 'int16':
      return view.setInt16(offset, value as number, true);
    case 'uint16':
    case 'float16':
    case 'bfloat16':
      return view.setUint16(offset, value as number, true);
    case 'int32':
      return view.setInt32(offset, value as number, true);
    case 'uint32':
      return view.setUint32(offset, value as number, true);
    case 'int64':
      return view.setBigInt64(offset, value as bigint, true);
    case 'uint64':
      return view.setBigUint64(offset, value as bigint, true);
    case 'string':
      throw new TypeError('string tensors are written as JSON');
  }
}
