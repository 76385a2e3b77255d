import type { ModelRelease } from '@edgeloop/protocol';
import { LatencyHistogram, type LatencyHistogramJSON } from '@edgeloop/telemetry';

/**
 * Why a device reverted a release it was trying: its golden cases did not match (`golden_mismatch`)
 * or gave NaN/Infinity (`nan`) on every backend it may use; its error rate (`error_rate`) or p95
 * latency (`latency`) was out of policy against the previous release on this device; it killed the
 * worker or the page twice (`crash_loop`); or the app's own check said no (`app_check`).
 */
export type RevertReason = 'golden_mismatch' | 'nan' | 'error_rate' | 'latency' | 'crash_loop' | 'app_check';

/** The active release is on trial since `startedAt`: `previous` is what a revert goes back to. */
export interface TrialState {
  releaseId: string;
  version: string;
  startedAt: number;
}

/** A release this device refused; it is not run again until the manifest offers another release. */
export interface DeniedRelease {
  releaseId: string;
  version: string;
  reason: RevertReason;
  detail: string;
  at: number;
}

/**
 * What one release measured on this device on one backend: real inferences (golden checks are not
 * counted), errors, and the latency of successful ones. Exact; it never leaves the device.
 */
export interface ReleaseMeasurement {
  releaseId: string;
  backend: string;
  attempts: number;
  errors: number;
  latency: LatencyHistogramJSON;
}

/** The health gate's part of a model's record, changed in the same atomic step as its pointers. */
export interface ModelHealthState {
  trial: TrialState | null;
  denied: DeniedRelease[];
  /**
   * Per release not yet committed: the crashes counted during its trial — ids of runtimes that died
   * with it open (their leases) and of worker crashes. A set, so two tabs counting one death agree.
   */
  crashes: Record<string, string[]>;
  /** Per release: backends on which its golden checks failed; it runs on the others. */
  refusedBackends: Record<string, string[]>;
  measurements: ReleaseMeasurement[];
}

export const emptyHealth = (): ModelHealthState => ({ trial: null, denied: [], crashes: {}, refusedBackends: {}, measurements: [] });

/** A record stored before the health gate existed has no `health`: it starts empty. */
export function normalizeHealth(health: Partial<ModelHealthState> | undefined): ModelHealthState {
  return { ...emptyHealth(), ...health };
}

/** The pointers and health of one model, as {@link ModelStore.updateModel} hands them to a change. */
export interface ModelRecord {
  active: ModelRelease | null;
  previous: ModelRelease | null;
  staged: ModelRelease | null;
  health: ModelHealthState;
}

/**
 * Makes `release` active. Replacing another release starts a trial: `previous` becomes the release
 * to fall back to — the one replaced, or, when that was itself on trial, the fallback it had (a
 * release never falls back to one that was not proven). A first install, or the release a trial
 * falls back to coming back, is not a trial.
 */
export function activateRelease(record: ModelRecord, release: ModelRelease, now: number): void {
  const current = record.active;
  if (record.staged?.releaseId === release.releaseId) record.staged = null;
  if (current?.releaseId === release.releaseId) {
    record.active = release;
    return;
  }
  const fallback = record.health.trial ? record.previous : current;
  record.active = release;
  if (fallback === null || fallback.releaseId === release.releaseId) {
    record.previous = fallback === null ? record.previous : null;
    record.health.trial = null;
  } else {
    record.previous = fallback;
    record.health.trial = { releaseId: release.releaseId, version: release.version, startedAt: now };
    // An earlier try of this release (denied, then offered again) does not count for this one.
    record.health.measurements = record.health.measurements.filter((m) => m.releaseId !== release.releaseId);
    delete record.health.crashes[release.releaseId];
  }
  prune(record);
}

/** The trial of `releaseId` passed: it stays active and nothing falls back any more. */
export function commitTrial(record: ModelRecord, releaseId: string): 'committed' | 'not-on-trial' {
  if (record.health.trial?.releaseId !== releaseId) return 'not-on-trial';
  record.health.trial = null;
  delete record.health.crashes[releaseId];
  return 'committed';
}

/**
 * Reverts the trial of `release` in one step: `previous` becomes active again, the release is
 * deny-listed. When the release is no longer active (another tab reverted it, or it never became
 * active), it is only deny-listed.
 */
export function revertTrial(record: ModelRecord, release: Pick<ModelRelease, 'releaseId' | 'version'>, reason: RevertReason, detail: string, now: number): 'reverted' | 'denied' {
  denyRelease(record, release, reason, detail, now);
  if (record.active?.releaseId !== release.releaseId) return 'denied';
  // With nothing to go back to (a first install that failed its golden checks), nothing is active.
  record.active = record.previous;
  record.previous = null;
  record.health.trial = null;
  prune(record);
  return record.active ? 'reverted' : 'denied';
}

export function denyRelease(record: ModelRecord, release: Pick<ModelRelease, 'releaseId' | 'version'>, reason: RevertReason, detail: string, now: number): void {
  record.health.denied = [...record.health.denied.filter((d) => d.releaseId !== release.releaseId), { releaseId: release.releaseId, version: release.version, reason, detail, at: now }];
  delete record.health.crashes[release.releaseId];
}

/** Counts crash `id` against `releaseId` (once, however often it is counted); returns how many it has. */
export function countCrash(record: ModelRecord, releaseId: string, id: string): number {
  const seen = record.health.crashes[releaseId] ?? [];
  if (!seen.includes(id)) record.health.crashes[releaseId] = [...seen, id];
  return record.health.crashes[releaseId]!.length;
}

/** Adds measured deltas (counts add, histograms merge) for releases the record still knows. */
export function addMeasurements(record: ModelRecord, deltas: readonly ReleaseMeasurement[]): void {
  const known = releaseIds(record);
  for (const delta of deltas) {
    if (!known.has(delta.releaseId)) continue;
    const stored = record.health.measurements.find((m) => m.releaseId === delta.releaseId && m.backend === delta.backend);
    if (!stored) {
      record.health.measurements.push({ ...delta, latency: structuredClone(delta.latency) });
      continue;
    }
    stored.attempts += delta.attempts;
    stored.errors += delta.errors;
    stored.latency = LatencyHistogram.fromJSON(stored.latency).mergeJSON(delta.latency).toJSON();
  }
}

function releaseIds(record: ModelRecord): Set<string> {
  return new Set([record.active, record.previous, record.staged].flatMap((release) => (release ? [release.releaseId] : [])));
}

/** Forgets what is kept for releases the record no longer points at (denied ones are kept by id alone). */
function prune(record: ModelRecord): void {
  const known = releaseIds(record);
  record.health.measurements = record.health.measurements.filter((m) => known.has(m.releaseId));
  for (const id of Object.keys(record.health.refusedBackends)) if (!known.has(id)) delete record.health.refusedBackends[id];
}
