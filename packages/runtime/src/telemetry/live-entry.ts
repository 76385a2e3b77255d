import { LatencyHistogram, type EntryAccumulatorJSON, type EntryKey, type FeatureRecorder } from '@edgeloop/telemetry';

const KIND = /^[a-z][a-z0-9_-]{0,31}$/;
const MAX_KINDS = 31;

/**
 * What this tab recorded for one entry (model, version, backend, cohort) since the last merge into
 * storage. Mutated in place on every inference: counting allocates nothing (a latency bin or an
 * error code seen for the first time adds one map entry).
 */
export class LiveEntry {
  readonly key: EntryKey;
  attempts = 0;
  successes = 0;
  readonly errors: Record<string, number> = {};
  fellBack = false;
  reverted = false;
  readonly latency = new LatencyHistogram();
  readonly counters: Record<string, number> = {};
  /** Created when the release's profile and the app's declarations give features to count. */
  features: FeatureRecorder | null = null;

  constructor(key: EntryKey) {
    this.key = key;
  }

  /** Counts a failed inference under its error code (anything that is not a short lowercase code is `other`). */
  fail(code: string): void {
    this.attempts += 1;
    const key = !KIND.test(code) ? 'other' : code in this.errors || Object.keys(this.errors).length < MAX_KINDS ? code : 'other';
    this.errors[key] = (this.errors[key] ?? 0) + 1;
  }

  get empty(): boolean {
    return this.attempts === 0 && !this.fellBack && !this.reverted;
  }

  /** The counts as the storage keeps them; `lastUsed` is when they were taken (sealing keeps each model's latest entry). */
  toJSON(lastUsed: number): EntryAccumulatorJSON {
    const features = this.features;
    return {
      model: this.key.model,
      version: this.key.version,
      backend: this.key.backend,
      cohort: this.key.cohort === null ? null : { ...this.key.cohort },
      lastUsed,
      attempts: this.attempts,
      successes: this.successes,
      errors: { ...this.errors },
      fellBack: this.fellBack,
      reverted: this.reverted,
      latency: this.latency.toJSON(),
      counters: { ...this.counters },
      features: features === null ? null : { profile: features.profile.id, declared: features.declaredEntries(), cells: features.snapshot().cells },
    };
  }
}
