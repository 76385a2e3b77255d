import { z } from 'zod';

/**
 * Names of apps and models: they appear in URLs and database keys, so they are kept to a
 * lowercase, URL-safe alphabet rather than escaped everywhere.
 */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const NAME_RULE = '1–64 characters: lowercase letters, digits, ".", "_" or "-", starting with a letter or digit';

export const nameSchema = z.string().regex(NAME_PATTERN, `must be ${NAME_RULE}`);

/** A version label as the operator writes it, e.g. `5.0.0` or `2024-06-rc1`. */
export const VERSION_LABEL_PATTERN = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/;
export const versionLabelSchema = z
  .string()
  .regex(VERSION_LABEL_PATTERN, 'must be 1–64 characters of letters, digits, ".", "+", "_" or "-"');

export const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');

export function isName(value: string): boolean {
  return NAME_PATTERN.test(value);
}
