import { z } from '@hono/zod-openapi';
import { conditionSchema, nameSchema, variantRuleSchema, versionLabelSchema } from '@edgeloop/protocol';

export const stepSchema = z.strictObject({
  percentage: z.number().min(0.01).max(100),
  /** Minutes to hold this step before the scheduler advances; absent: wait for a manual advance. */
  holdMinutes: z.number().int().min(0).max(525_600).optional(),
});
export type Step = z.infer<typeof stepSchema>;

export const startRolloutSchema = z
  .strictObject({
    model: nameSchema,
    channel: nameSchema.default('stable'),
    toVersion: versionLabelSchema,
    steps: z.array(stepSchema).min(1).max(20),
    audience: z.array(conditionSchema).min(1).max(32).optional(),
    /**
     * The gate policy (docs/rollouts.md#the-rollout-gate): omitted, the default policy; `false`, no
     * gate (steps advance on their `holdMinutes` or by hand). Checked in full when the rollout starts.
     */
    gate: z
      .union([z.record(z.string(), z.unknown()), z.literal(false)])
      .optional()
      .openapi({ description: 'Gate policy: metrics, tolerances, alpha, minReportsPerArm, minHoldWindows, maxStepHours, sampleRatioAlpha, marginReferencePercent; false for no gate' }),
  })
  .refine((body) => body.steps.every((step, i) => i === 0 || step.percentage > body.steps[i - 1]!.percentage), {
    message: 'percentages must increase from step to step, e.g. 1, 5, 25, 50, 100',
    path: ['steps'],
  });
export type StartRollout = z.infer<typeof startRolloutSchema>;

export const setChannelSchema = z.strictObject({
  version: versionLabelSchema,
  rules: z.array(variantRuleSchema).max(32).optional(),
});

export const pinSchema = z.strictObject({ version: versionLabelSchema });

export const rolloutStateSchema = z.enum(['running', 'paused', 'completed', 'aborted', 'rolled_back']);
export type RolloutState = z.infer<typeof rolloutStateSchema>;

export const rolloutSchema = z.object({
  id: z.string(),
  app: z.string(),
  model: z.string(),
  channel: z.string(),
  fromVersion: z.string(),
  toVersion: z.string(),
  salt: z.string(),
  steps: z.array(stepSchema),
  stepIndex: z.number(),
  percentage: z.number(),
  state: rolloutStateSchema,
  audience: z.array(conditionSchema).nullable(),
  /** The gate policy with its defaults filled in; null when the rollout has no gate. */
  gate: z.record(z.string(), z.unknown()).nullable(),
  stepStartedAt: z.string(),
  nextStepAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Rollout = z.infer<typeof rolloutSchema>;

export const channelSchema = z.object({
  model: z.string(),
  name: z.string(),
  version: z.string(),
  rules: z.array(variantRuleSchema),
  pinned: z.boolean(),
  updatedAt: z.string(),
});
export type Channel = z.infer<typeof channelSchema>;
