import { mergeEntry, type ReportCohort } from '@edgeloop/telemetry';
import type { FeatureTrack } from './feature-track.js';
import type { ReportableFeature } from './reportable-features.js';
import { LiveEntry } from './live-entry.js';
import { accumulatorKey } from './state/merge-deltas.js';
import { periodStartOf, type StoredAccumulator } from './telemetry-storage.js';

/** What the collector knows about one model version in this tab. */
export interface Track {
  model: string;
  version: string;
  cohort: ReportCohort | null;
  features: FeatureTrack | null;
  /** The declarations `features` was built from. */
  report: readonly ReportableFeature[] | null;
  lastBackend: string;
  /** Loads of this version so far: a profile arriving for an older load is not used. */
  loads: number;
  /** This tab's counts per backend since the last take, all in the current period. */
  entries: Map<string, LiveEntry>;
}

/**
 * This tab's counts not yet in storage: the live entries of the current period (mutated on every
 * inference) and the deltas taken from them, waiting to be merged. The hot path reads no clock —
 * on V8 every `Date.now()` allocates a heap number — so the period moves on when the collector
 * says so ({@link advance}: a timer at the boundary, every merge, flush and load).
 */
export class LiveCounts {
  periodMs: number;
  /** Where periods start (shared through storage); null until known: the first count then starts one. */
  anchor: number | null = null;
  periodStart = 0;
  /** 0: no period yet (the first count reads the clock). */
  periodEnd = 0;
  readonly #tracks = new Map<string, Map<string, Track>>();
  #unmerged = new Map<string, StoredAccumulator>();

  constructor(periodMs: number) {
    this.periodMs = periodMs;
  }

  track(model: string, version: string): Track {
    let versions = this.#tracks.get(model);
    if (versions === undefined) this.#tracks.set(model, (versions = new Map()));
    let track = versions.get(version);
    if (track === undefined) {
      track = { model, version, cohort: null, features: null, report: null, lastBackend: 'unknown', loads: 0, entries: new Map() };
      versions.set(version, track);
    }
    return track;
  }

  /** The live entry of `track` on `backend` in the current period. */
  entry(track: Track, backend: string): LiveEntry {
    let entry = track.entries.get(backend);
    if (entry === undefined) {
      entry = new LiveEntry({ model: track.model, version: track.version, backend, cohort: track.cohort });
      track.entries.set(backend, entry);
    }
    return entry;
  }

  /**
   * Moves to the period that holds `now` if the clock left the current one (it ended, or the clock
   * was moved back); counts so far keep their period. Says whether a period was left behind ended.
   */
  advance(now: number): { moved: boolean; ended: boolean } {
    if (now < this.periodEnd && now >= this.periodStart) return { moved: false, ended: false };
    const ended = this.periodEnd > 0 && now >= this.periodEnd;
    this.takeAll();
    if (this.anchor === null) this.anchor = now;
    this.periodStart = periodStartOf(this.anchor, this.periodMs, now);
    this.periodEnd = this.periodStart + this.periodMs;
    return { moved: true, ended };
  }

  /** Periods start where storage says (another tab may have started them): counts so far keep theirs. */
  setAnchor(anchor: number): void {
    if (anchor === this.anchor) return;
    this.takeAll();
    this.anchor = anchor;
    this.periodStart = 0;
    this.periodEnd = 0;
  }

  /**
   * A new release or rollout step on this device: the unfinished period is dropped — this tab's
   * counts of it included, merged or not — and a new one starts at `anchor`.
   */
  restart(anchor: number): void {
    for (const versions of this.#tracks.values()) for (const track of versions.values()) track.entries.clear();
    for (const [key, delta] of this.#unmerged) if (delta.end > anchor) this.#unmerged.delete(key);
    this.anchor = anchor;
    this.periodStart = 0;
    this.periodEnd = 0;
  }

  /** A config with another period length: counts so far keep theirs; the next {@link advance} starts the new one. */
  setPeriodMs(periodMs: number): void {
    if (periodMs === this.periodMs) return;
    this.takeAll();
    this.periodMs = periodMs;
    this.periodStart = 0;
    this.periodEnd = 0;
  }

  /** Changes what a track's next counts are filed under (cohort, features): its counts so far are taken first. */
  retarget(track: Track, change: { cohort?: ReportCohort | null; features?: FeatureTrack | null }): void {
    this.take(track);
    if (change.cohort !== undefined) track.cohort = change.cohort;
    if (change.features !== undefined) track.features = change.features;
  }

  takeAll(): void {
    for (const versions of this.#tracks.values()) for (const track of versions.values()) this.take(track);
  }

  take(track: Track): void {
    // Taking happens at merges, never per inference: reading the clock here costs nothing.
    const now = Date.now();
    for (const entry of track.entries.values()) {
      if (!entry.empty) keep(this.#unmerged, { start: this.periodStart, end: this.periodEnd, entry: entry.toJSON(now) });
    }
    track.entries.clear();
  }

  /** Everything waiting to be merged; {@link restore} it if the merge fails. */
  drain(): Map<string, StoredAccumulator> {
    this.takeAll();
    const batch = this.#unmerged;
    this.#unmerged = new Map();
    return batch;
  }

  restore(batch: Map<string, StoredAccumulator>): void {
    for (const delta of this.#unmerged.values()) keep(batch, delta);
    this.#unmerged = batch;
  }

  /** A copy of every count here, for `pending()`. */
  snapshot(): StoredAccumulator[] {
    const out = [...this.#unmerged.values()].map((delta) => structuredClone(delta));
    for (const versions of this.#tracks.values()) {
      for (const track of versions.values()) {
        for (const entry of track.entries.values()) if (!entry.empty) out.push({ start: this.periodStart, end: this.periodEnd, entry: entry.toJSON(Date.now()) });
      }
    }
    return out;
  }
}

function keep(into: Map<string, StoredAccumulator>, delta: StoredAccumulator): void {
  const key = accumulatorKey(delta);
  const existing = into.get(key);
  if (existing) mergeEntry(existing.entry, delta.entry);
  else into.set(key, delta);
}
