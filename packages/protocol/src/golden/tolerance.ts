import { z } from 'zod';

/**
 * How close an output must be to its expected value. Every bound that is given must hold:
 * - `cosine`: cosine similarity of the two tensors (as flat vectors) at least this;
 * - `maxAbs` alone: every |actual − expected| ≤ maxAbs;
 * - `maxRel` alone: every |actual − expected| ≤ maxRel·|expected|;
 * - `maxAbs` and `maxRel` together: every |actual − expected| ≤ maxAbs + maxRel·|expected|
 *   (numpy's `allclose`).
 * Any NaN or Infinity in an actual float output fails whatever the tolerance.
 */
export const goldenToleranceSchema = z
  .strictObject({
    cosine: z.number().min(-1).max(1).optional(),
    maxAbs: z.number().nonnegative().max(1e12).optional(),
    maxRel: z.number().nonnegative().max(1e6).optional(),
  })
  .refine((t) => t.cosine !== undefined || t.maxAbs !== undefined || t.maxRel !== undefined, 'give at least one of cosine, maxAbs, maxRel');

export type GoldenTolerance = z.infer<typeof goldenToleranceSchema>;

/** The default for float outputs without a tolerance of their own: cosine similarity ≥ 0.99. */
export const DEFAULT_GOLDEN_TOLERANCE: GoldenTolerance = { cosine: 0.99 };
