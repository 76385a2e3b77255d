import { formatTensorSpecs, type ModelSignature, type TensorSpec } from '../signature.js';
import type { GoldenFile, GoldenTensor } from './golden-format.js';

const spec = (s: TensorSpec) => formatTensorSpecs([s]).slice(s.name.length + 2);
const shape = (t: GoldenTensor) => `${t.dtype}[${t.dims.join(',')}]`;

/** Whether `tensor` fits `s`: same dtype, and when the rank is known, same rank and every fixed axis equal. */
function fits(s: TensorSpec, tensor: GoldenTensor): boolean {
  if (s.dtype !== tensor.dtype) return false;
  if (s.dims === null) return true;
  return s.dims.length === tensor.dims.length && s.dims.every((d, i) => d === null || typeof d === 'string' || d === tensor.dims[i]);
}

/**
 * Checks golden cases against a model's signature: every case gives exactly the model's inputs, each
 * of the input's dtype and shape (dynamic axes — `null` or a name — take any size, and an axis name
 * takes one size across a case's inputs), and expects only outputs the model has, of their dtype
 * and shape. Returns one message per problem (empty when the file fits), e.g.
 * `case "silence": input 'state' must be float32[2,1,128], got float32[2,1,64]`.
 */
export function goldenSignatureProblems(golden: GoldenFile, signature: ModelSignature): string[] {
  const problems: string[] = [];
  const inputNames = signature.inputs.map((s) => s.name);
  for (const c of golden.cases) {
    const where = `case "${c.name}"`;
    const given = Object.keys(c.inputs);
    const missing = inputNames.filter((name) => !(name in c.inputs));
    const unknown = given.filter((name) => !inputNames.includes(name));
    if (missing.length > 0) problems.push(`${where}: missing input${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')} (the model takes ${formatTensorSpecs(signature.inputs)})`);
    if (unknown.length > 0) problems.push(`${where}: the model has no input${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')} (it takes ${formatTensorSpecs(signature.inputs)})`);
    const axes = new Map<string, { size: number; input: string }>();
    for (const s of signature.inputs) {
      const tensor = c.inputs[s.name];
      if (!tensor) continue;
      if (!fits(s, tensor)) {
        problems.push(`${where}: input '${s.name}' must be ${spec(s)}, got ${shape(tensor)}`);
        continue;
      }
      s.dims?.forEach((d, i) => {
        if (typeof d !== 'string') return;
        const seen = axes.get(d);
        if (!seen) axes.set(d, { size: tensor.dims[i]!, input: s.name });
        else if (seen.size !== tensor.dims[i]) problems.push(`${where}: input '${s.name}' has ${d}=${tensor.dims[i]} but input '${seen.input}' has ${d}=${seen.size}`);
      });
    }
    for (const [name, tensor] of Object.entries(c.outputs)) {
      const s = signature.outputs.find((o) => o.name === name);
      if (!s) problems.push(`${where}: the model has no output '${name}' (it returns ${formatTensorSpecs(signature.outputs)})`);
      else if (!fits(s, tensor)) problems.push(`${where}: output '${name}' is ${spec(s)}, but the file expects ${shape(tensor)}`);
    }
  }
  return problems;
}
