import type { ModelSummary } from '@edgeloop/telemetry';

/** A rollout cohort as reports carry it. */
export type Cohort = NonNullable<ModelSummary['cohort']>;

/**
 * The cohort part of an aggregate's key: `rollout/arm`, or `''` for devices outside any rollout
 * (and for every row from before cohorts existed, which the migration gave that default).
 */
export function cohortKey(cohort: Cohort | undefined): string {
  return cohort === undefined ? '' : `${cohort.rollout}/${cohort.arm}`;
}

/** Inverse of {@link cohortKey}: `null` for no rollout. */
export function parseCohortKey(key: string): Cohort | null {
  if (key === '') return null;
  const slash = key.lastIndexOf('/');
  return { rollout: key.slice(0, slash), arm: key.slice(slash + 1) as Cohort['arm'] };
}
