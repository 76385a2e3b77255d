import { murmur3 } from './hash.js';

/** 10,000 buckets: percentages have a resolution of 0.01 %. */
export const BUCKETS = 10_000;

/**
 * The device's bucket for one rollout, 0 ≤ bucket < {@link BUCKETS}. It depends only on the
 * rollout's salt and the install id, so it is sticky: the same device lands in the same bucket on
 * every poll, and a new salt (a new rollout) reshuffles devices independently of the last one.
 * @example bucketOf('vad-6.0.0-4f1c', installId) // e.g. 4821
 */
export function bucketOf(salt: string, installId: string): number {
  return murmur3(`${salt}:${installId}`) % BUCKETS;
}

/** Buckets below this threshold are in the rollout; a higher percentage only adds buckets. */
export function thresholdOf(percentage: number): number {
  return Math.round(Math.min(100, Math.max(0, percentage)) * (BUCKETS / 100));
}

export function inRollout(salt: string, installId: string, percentage: number): boolean {
  return bucketOf(salt, installId) < thresholdOf(percentage);
}
