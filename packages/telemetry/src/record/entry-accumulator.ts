import { TelemetryError } from '../errors.js';
import { LatencyHistogram, type LatencyHistogramJSON } from '../latency/latency-histogram.js';

/** A device's rollout assignment for a model, as reports carry it (absent outside a rollout's audience). */
export interface ReportCohort {
  rollout: string;
  arm: 'candidate' | 'control';
  /** Index of the rollout step the device acted under: the sample-ratio check compares arms per step. */
  step: number;
}

/**
 * One entry of a period: what the device ran (model, version, backend) and the rollout assignment it
 * ran it under. The key is (model, version, backend): the cohort is the latest assignment seen in the
 * period, so a step change or the start of a rollout does not split a device's day into two entries
 * (each entry of a report gets 1/E of its ε). A device that moves to the candidate has two entries
 * that day anyway: the versions differ.
 */
export interface EntryKey {
  model: string;
  version: string;
  backend: string;
  cohort: ReportCohort | null;
}

/**
 * Raw counts of one entry over one period, exactly as the device saw them. This never leaves the
 * device: sealing turns it into noised fields (device/seal.ts). JSON-serialisable so the runtime can
 * keep a period's counts in storage across reloads, and mergeable (two tabs add into one).
 */
export interface EntryAccumulatorJSON extends EntryKey {
  /** When the entry last recorded anything (ms since epoch): sealing keeps each model's latest entry. */
  lastUsed: number;
  /** Inference calls that reached the engine. */
  attempts: number;
  /** Of those, the ones that returned outputs. */
  successes: number;
  /** Failed inferences by error code. */
  errors: Record<string, number>;
  /** A backend-lost event happened on this entry's backend. */
  fellBack: boolean;
  /** A trial of this model was reverted (sealing applies it to every entry of the model). */
  reverted: boolean;
  /** Latency of successful inferences. */
  latency: LatencyHistogramJSON;
  /** App-defined counters. */
  counters: Record<string, number>;
  /** Feature values counted into the cells of the release's reference profile (app-declared features only). */
  features: FeatureCounts | null;
}

export interface FeatureCounts {
  /** Profile id the cells were cut on. */
  profile: string;
  /** Profile entry indexes the app declared reportable (the only ones a summary may report). */
  declared: number[];
  /** Raw counts per profile entry (undeclared entries stay all zero). */
  cells: number[][];
}

/** A stable string for an entry's key (model, version, backend), for maps and storage keys. */
export function entryKeyString(key: Pick<EntryKey, 'model' | 'version' | 'backend'>): string {
  return `${key.model}\u0000${key.version}\u0000${key.backend}`;
}

/** An entry with nothing recorded yet. */
export function emptyEntry(key: EntryKey): EntryAccumulatorJSON {
  return {
    model: key.model,
    version: key.version,
    backend: key.backend,
    cohort: key.cohort === null ? null : { ...key.cohort },
    lastUsed: 0,
    attempts: 0,
    successes: 0,
    errors: {},
    fellBack: false,
    reverted: false,
    latency: new LatencyHistogram().toJSON(),
    counters: {},
    features: null,
  };
}

/**
 * Adds `delta` (newer) into `target` (same key), in place, and returns `target`. Counts add, flags
 * OR, the latency histograms merge exactly, the cohort becomes delta's when it has one (the latest
 * assignment). Feature counts cut on different profiles cannot be added: the newer profile's counts
 * (delta's) replace the older ones.
 */
export function mergeEntry(target: EntryAccumulatorJSON, delta: EntryAccumulatorJSON): EntryAccumulatorJSON {
  if (entryKeyString(target) !== entryKeyString(delta)) {
    throw new TelemetryError('incompatible_merge', 'cannot merge counts of two different entries');
  }
  if (delta.cohort !== null) target.cohort = { ...delta.cohort };
  target.lastUsed = Math.max(target.lastUsed, delta.lastUsed);
  target.attempts += delta.attempts;
  target.successes += delta.successes;
  addCounts(target.errors, delta.errors);
  target.fellBack ||= delta.fellBack;
  target.reverted ||= delta.reverted;
  target.latency = LatencyHistogram.fromJSON(target.latency).mergeJSON(delta.latency).toJSON();
  addCounts(target.counters, delta.counters);
  if (delta.features !== null) {
    const same = target.features !== null && target.features.profile === delta.features.profile && sameShape(target.features.cells, delta.features.cells);
    if (same) {
      const cells = target.features!.cells;
      delta.features.cells.forEach((row, e) => row.forEach((c, i) => (cells[e]![i]! += c)));
      target.features!.declared = union(target.features!.declared, delta.features.declared);
    } else {
      target.features = { profile: delta.features.profile, declared: [...delta.features.declared], cells: delta.features.cells.map((r) => [...r]) };
    }
  }
  return target;
}

/** Checks a stored accumulator (storage may hold anything after a bug or a manual edit). */
export function checkEntry(value: EntryAccumulatorJSON): EntryAccumulatorJSON {
  const bad = (why: string) => new TelemetryError('storage_failed', `stored telemetry counts are corrupted (${why}); they were not sent`);
  const isCount = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (!isCount(value.attempts) || !isCount(value.successes) || value.successes > value.attempts) throw bad('attempts/successes');
  if (!isCount(value.lastUsed)) throw bad('lastUsed');
  for (const counts of [value.errors, value.counters]) {
    if (typeof counts !== 'object' || counts === null || !Object.values(counts).every(isCount)) throw bad('counts');
  }
  LatencyHistogram.fromJSON(value.latency);
  if (value.features !== null) {
    const { cells, declared } = value.features;
    if (!Array.isArray(cells) || !cells.every((row) => Array.isArray(row) && row.length >= 2 && row.every(isCount))) throw bad('feature cells');
    if (!Array.isArray(declared) || !declared.every((d) => Number.isInteger(d) && d >= 0 && d < cells.length)) throw bad('declared features');
  }
  return value;
}

function addCounts(target: Record<string, number>, source: Record<string, number>): void {
  for (const [k, n] of Object.entries(source)) target[k] = (target[k] ?? 0) + n;
}

function sameShape(a: number[][], b: number[][]): boolean {
  return a.length === b.length && a.every((row, i) => row.length === b[i]!.length);
}

function union(a: readonly number[], b: readonly number[]): number[] {
  return [...new Set([...a, ...b])].sort((x, y) => x - y);
}
