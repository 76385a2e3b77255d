import type { ReportCohort, ReportEntry } from '@edgeloop/telemetry';

/**
 * What one aggregate row is about: (app, model, version, backend, cohort). One cell family carries
 * every field (health, counters, summaries), so every view is a sum of the same released cells and
 * no two routes can be differenced against each other.
 */
export interface CellKey {
  app: string;
  model: string;
  version: string;
  backend: string;
  /** `rollout:arm:step`, or `none` outside a rollout's audience. */
  cohort: string;
}

export const NO_COHORT = 'none';

/** Rollout ids are names (no `:`), so the three parts split back unambiguously. */
export function cohortKey(cohort: ReportCohort | undefined): string {
  return cohort === undefined ? NO_COHORT : `${cohort.rollout}:${cohort.arm}:${cohort.step}`;
}

export function parseCohortKey(key: string): ReportCohort | null {
  if (key === NO_COHORT) return null;
  const [rollout, arm, step] = key.split(':');
  return { rollout: rollout!, arm: arm as ReportCohort['arm'], step: Number(step) };
}

export function cellKeyOf(app: string, entry: ReportEntry): CellKey {
  return { app, model: entry.model, version: entry.version, backend: entry.backend, cohort: cohortKey(entry.cohort) };
}

/** A string for maps; ordering by it is the lock order of window rows (telemetry/window-store.ts). */
export function cellKeyString(key: CellKey): string {
  return [key.app, key.model, key.version, key.backend, key.cohort].join('\u0000');
}
