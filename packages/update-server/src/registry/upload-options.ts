import { z } from 'zod';
import { nameSchema } from '@edgeloop/protocol';

/** Roles a file can have within a variant; `model` is the graph the engine loads, `weights` a TF.js model's weights. */
export const fileRoleSchema = z.enum(['model', 'weights', 'external-data', 'config']);
export type FileRole = z.infer<typeof fileRoleSchema>;

/** Idempotency-Key: what clients put there is opaque; bounded so it fits a key column. */
export const idempotencyKeySchema = z.string().regex(/^[\x21-\x7e]{1,255}$/, 'must be 1–255 visible ASCII characters');

export const variantNameSchema = nameSchema;
