import { z } from 'zod';
import { manifestFileSchema, nameSchema, type ManifestFile } from '@edgeloop/protocol';
import { ServerError } from '../errors.js';

/**
 * Roles a file can have within a variant: exactly the protocol's (`model`: the graph the engine
 * loads; `weights`: a TF.js model's weights), so every stored file can be listed in a manifest
 * devices accept.
 */
export const fileRoleSchema = manifestFileSchema.shape.role;
export type FileRole = ManifestFile['role'];

/** Parses the `{role}` of an upload URL; roles devices cannot use are refused with what to do instead. */
export function parseFileRole(value: string): FileRole {
  const parsed = fileRoleSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  if (value === 'external-data') {
    throw new ServerError(
      'bad_request',
      'ONNX external data is not served: devices load a release from its model and weights files only. Save the model with its tensors inside the .onnx (onnx.save_model(model, path, save_as_external_data=False)) and publish that file',
    );
  }
  if (value === 'config') {
    throw new ServerError('bad_request', 'files with role "config" are not part of what devices load; ship configuration with the app, and publish only "model" and "weights" files');
  }
  throw new ServerError('bad_request', `path parameter "role" must be one of ${fileRoleSchema.options.map((role) => `"${role}"`).join(', ')}; got ${JSON.stringify(value)}`);
}

/** Idempotency-Key: what clients put there is opaque; bounded so it fits a key column. */
export const idempotencyKeySchema = z.string().regex(/^[\x21-\x7e]{1,255}$/, 'must be 1–255 visible ASCII characters');

export const variantNameSchema = nameSchema;
