import { z } from 'zod';
import { DEFAULT_GOLDEN_TOLERANCE, goldenToleranceSchema, type GoldenTolerance } from '../golden/tolerance.js';

/**
 * When a device commits a release it is trying (its trial), signed with the release: the trial
 * commits after `inferences` successful real inferences if, on the backend it runs on, its p95
 * latency is at most `p95Ratio` × and its error rate at most `errorRateDelta` above what the
 * previous release measured on this device. `golden` is the default tolerance of the release's
 * golden cases (an output's own tolerance in the golden file wins). Fields left out take the
 * defaults in {@link DEFAULT_HEALTH_POLICY}.
 */
export const healthPolicySchema = z.object({
  inferences: z.number().int().min(1).max(1_000_000).optional(),
  p95Ratio: z.number().min(1).max(1000).optional(),
  errorRateDelta: z.number().min(0).max(1).optional(),
  golden: goldenToleranceSchema.optional(),
});

export type HealthPolicy = z.infer<typeof healthPolicySchema>;

export interface ResolvedHealthPolicy {
  inferences: number;
  p95Ratio: number;
  errorRateDelta: number;
  golden: GoldenTolerance;
}

/** 50 inferences; p95 ≤ 1.5× the previous release's; error rate ≤ the previous release's + 2 points; golden cosine ≥ 0.99. */
export const DEFAULT_HEALTH_POLICY: Readonly<ResolvedHealthPolicy> = Object.freeze({
  inferences: 50,
  p95Ratio: 1.5,
  errorRateDelta: 0.02,
  golden: DEFAULT_GOLDEN_TOLERANCE,
});

/** The policy a device applies: the signed one, with the defaults for what it leaves out. */
export function resolveHealthPolicy(policy: HealthPolicy | undefined): ResolvedHealthPolicy {
  return {
    inferences: policy?.inferences ?? DEFAULT_HEALTH_POLICY.inferences,
    p95Ratio: policy?.p95Ratio ?? DEFAULT_HEALTH_POLICY.p95Ratio,
    errorRateDelta: policy?.errorRateDelta ?? DEFAULT_HEALTH_POLICY.errorRateDelta,
    golden: policy?.golden ?? DEFAULT_HEALTH_POLICY.golden,
  };
}
