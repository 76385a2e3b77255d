import { z } from 'zod';

/** Element types a model input or output can have, named as onnxruntime-web names them. */
export const tensorDtypeSchema = z.enum([
  'float32',
  'float16',
  'float64',
  'int8',
  'uint8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
  'bool',
  'string',
  'bfloat16',
]);
export type TensorDtype = z.infer<typeof tensorDtypeSchema>;

/** One named input or output: a fixed size, a symbolic size (`"batch"`) or unknown (`null`) per axis. */
export const tensorSpecSchema = z.object({
  name: z.string().min(1).max(256),
  dtype: tensorDtypeSchema,
  dims: z.array(z.union([z.number().int().nonnegative(), z.string().max(64), z.null()])).max(16).nullable(),
});
export type TensorSpec = z.infer<typeof tensorSpecSchema>;

export const modelSignatureSchema = z.object({
  inputs: z.array(tensorSpecSchema).max(256),
  outputs: z.array(tensorSpecSchema).max(256),
});
export type ModelSignature = z.infer<typeof modelSignatureSchema>;

/** Formats a signature for messages, e.g. `input: float32[1,512], sr: int64[]`. */
export function formatTensorSpecs(specs: readonly TensorSpec[]): string {
  return specs
    .map((spec) => `${spec.name}: ${spec.dtype}${spec.dims === null ? '[?]' : `[${spec.dims.map((d) => d ?? '?').join(',')}]`}`)
    .join(', ');
}
