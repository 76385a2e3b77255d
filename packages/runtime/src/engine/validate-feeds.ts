import type { TensorDtype, TensorSpec } from '@edgeloop/protocol';
import { RuntimeError } from '../errors.js';
import { formatShape, formatSpec } from './signature.js';
import type { Feeds, TensorDataMap } from './tensor.js';

const ARRAY_OF: { [D in TensorDtype]: string } = {
  float32: 'Float32Array',
  float64: 'Float64Array',
  int8: 'Int8Array',
  uint8: 'Uint8Array',
  int16: 'Int16Array',
  uint16: 'Uint16Array',
  int32: 'Int32Array',
  uint32: 'Uint32Array',
  int64: 'BigInt64Array',
  uint64: 'BigUint64Array',
  bool: 'Uint8Array',
  float16: 'Uint16Array',
  bfloat16: 'Uint16Array',
  string: 'Array',
};

/**
 * Checks feeds against a model's input signature before anything reaches the engine, so a wrong
 * call fails with what was expected and what was given instead of an engine's internal error.
 * Named symbolic axes (e.g. `batch`) must agree across inputs.
 */
export function validateFeeds(model: string, inputs: readonly TensorSpec[], feeds: Feeds): void {
  const fail = (message: string) => {
    throw new RuntimeError('invalid_argument', `model "${model}" ${message}`);
  };
  if (typeof feeds !== 'object' || feeds === null) fail(`takes an object of named tensors; got ${feeds === null ? 'null' : typeof feeds}`);
  const expected = inputs.map((spec) => spec.name);
  const missing = expected.filter((name) => feeds[name] === undefined);
  const unknown = Object.keys(feeds).filter((name) => !expected.includes(name) && feeds[name] !== undefined);
  if (missing.length > 0 || unknown.length > 0) {
    const parts = [];
    if (missing.length > 0) parts.push(`missing ${missing.map((n) => `'${n}'`).join(', ')}`);
    if (unknown.length > 0) parts.push(`unknown ${unknown.map((n) => `'${n}'`).join(', ')}`);
    fail(`takes inputs ${inputs.map((s) => `'${s.name}': ${formatSpec(s)}`).join(', ')}; ${parts.join('; ')}`);
  }
  const symbols = new Map<string, { size: number; input: string }>();
  for (const spec of inputs) {
    const t = feeds[spec.name]!;
    if (typeof t !== 'object' || t === null || !Array.isArray(t.dims) || t.data === undefined) {
      fail(`input '${spec.name}' must be a tensor { dtype, dims, data } (see tensor()); got ${t === null ? 'null' : typeof t}`);
    }
    const given = formatShape(t.dtype, t.dims);
    const shapeOk =
      spec.dims === null ||
      (spec.dims.length === t.dims.length && spec.dims.every((d, i) => d === null || typeof d === 'string' || d === t.dims[i]));
    if (t.dtype !== spec.dtype || !shapeOk) fail(`input '${spec.name}' must be ${formatSpec(spec)}, got ${given}`);
    spec.dims?.forEach((d, i) => {
      if (typeof d !== 'string') return;
      const seen = symbols.get(d);
      if (!seen) symbols.set(d, { size: t.dims[i]!, input: spec.name });
      else if (seen.size !== t.dims[i]) fail(`input '${spec.name}' has ${d}=${t.dims[i]} but input '${seen.input}' has ${d}=${seen.size}; axes named "${d}" must agree`);
    });
    const arrayName = Array.isArray(t.data) ? 'Array' : (t.data as TensorDataMap[TensorDtype]).constructor?.name;
    if (arrayName !== ARRAY_OF[spec.dtype]) fail(`input '${spec.name}' is ${spec.dtype}, so its data must be a ${ARRAY_OF[spec.dtype]}; got ${arrayName}`);
    const elements = t.dims.reduce((product, dim) => product * dim, 1);
    if (t.data.length !== elements) fail(`input '${spec.name}' is ${given}, which is ${elements} elements, but its data has ${t.data.length}`);
  }
}
