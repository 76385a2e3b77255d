import { z } from 'zod';
import { conditionSchema } from './targeting.js';

/**
 * The part of a rollout plan that is not a release: what the device needs to compute its own
 * bucket. The manifest adds the candidate release (see manifest.ts), keeping this file free of
 * manifest imports so the two modules never import each other.
 */
export const rolloutPlanFields = {
  /** Stable id of the rollout; devices report it with their cohort. */
  id: z.string().min(1).max(64),
  /** Mixed into the bucket hash; fixed for the life of the rollout so buckets stay sticky. */
  salt: z.string().min(1).max(128),
  /** Share of eligible devices served the candidate, 0–100 in steps of 0.01. */
  percentage: z.number().min(0).max(100),
  /** Who is eligible at all; absent means every device. Others stay on the control release. */
  audience: z.array(conditionSchema).max(32).optional(),
  /**
   * Index of the rollout's current step (absent in manifests from before steps were signed: 0).
   * Devices report it with their arm, so the server can check each step's candidate share.
   */
  step: z.number().int().min(0).max(63).optional(),
};

/** Which side of a rollout a device is on: `excluded` devices are outside the audience. */
export type RolloutArm = 'candidate' | 'control' | 'excluded';

export interface Cohort {
  rollout: string;
  arm: RolloutArm;
  /** The rollout step the device acted under. */
  step: number;
}
