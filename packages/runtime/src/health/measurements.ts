import { LatencyHistogram } from '@edgeloop/telemetry';
import type { ModelStore } from '../storage/model-store.js';
import { addMeasurements, type ReleaseMeasurement } from './health-state.js';
import type { ModelBinding, RunObserver } from './run-observer.js';

/** Real inferences of one release on one backend: attempts, errors, latency of the successful ones. */
export interface BackendStats {
  attempts: number;
  errors: number;
  latency: LatencyHistogram;
}

export const emptyStats = (): BackendStats => ({ attempts: 0, errors: 0, latency: new LatencyHistogram() });

export function statsOf(measurement: ReleaseMeasurement | undefined): BackendStats {
  if (!measurement) return emptyStats();
  return { attempts: measurement.attempts, errors: measurement.errors, latency: LatencyHistogram.fromJSON(measurement.latency) };
}

/** How often this runtime writes what it measured, at most (and on page hide, dispose and trial decisions). */
export const MEASUREMENT_FLUSH_MS = 10_000;

/**
 * Measures every real inference of every release per backend and keeps the figures in the model's
 * record, so that when a new release is tried, the one before it has figures on this device to be
 * compared with. Counts are added to storage in batches (every {@link MEASUREMENT_FLUSH_MS}, on
 * page hide and dispose); what fails to be written is kept for the next batch.
 */
export class MeasurementRecorder implements RunObserver {
  readonly #store: () => ModelStore;
  readonly #app: string;
  #pending = new Map<string, { model: string; delta: ReleaseMeasurement; latency: LatencyHistogram }>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(store: () => ModelStore, app: string) {
    this.#store = store;
    this.#app = app;
  }

  succeeded(binding: ModelBinding, latencyMs: number): void {
    const entry = this.#entry(binding);
    entry.delta.attempts += 1;
    entry.latency.record(latencyMs < 0 ? 0 : latencyMs);
    this.#schedule();
  }

  failed(binding: ModelBinding): void {
    const entry = this.#entry(binding);
    entry.delta.attempts += 1;
    entry.delta.errors += 1;
    this.#schedule();
  }

  /** Writes what was measured since the last write; never rejects (what fails stays for the next one). */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const run = this.#flushing.then(async () => {
      const batch = this.#pending;
      if (batch.size === 0) return;
      this.#pending = new Map();
      const byModel = new Map<string, ReleaseMeasurement[]>();
      for (const { model, delta, latency } of batch.values()) {
        byModel.set(model, [...(byModel.get(model) ?? []), { ...delta, latency: latency.toJSON() }]);
      }
      for (const [model, deltas] of byModel) {
        try {
          await this.#store().updateModel(this.#app, model, (record) => addMeasurements(record, deltas), { durability: 'relaxed' });
        } catch {
          // Kept for the next write: measurements are advisory, a trial decides on what it has.
          for (const [key, entry] of batch) if (entry.model === model) this.#merge(key, entry);
        }
      }
    });
    this.#flushing = run;
    return run;
  }

  dispose(): Promise<void> {
    return this.flush();
  }

  #entry(binding: ModelBinding) {
    const key = `${binding.release.model}\u0001${binding.release.releaseId}\u0001${binding.backend}`;
    let entry = this.#pending.get(key);
    if (!entry) {
      entry = { model: binding.release.model, delta: { releaseId: binding.release.releaseId, backend: binding.backend, attempts: 0, errors: 0, latency: new LatencyHistogram().toJSON() }, latency: new LatencyHistogram() };
      this.#pending.set(key, entry);
    }
    return entry;
  }

  #merge(key: string, entry: { model: string; delta: ReleaseMeasurement; latency: LatencyHistogram }): void {
    const current = this.#pending.get(key);
    if (!current) {
      this.#pending.set(key, entry);
      return;
    }
    current.delta.attempts += entry.delta.attempts;
    current.delta.errors += entry.delta.errors;
    current.latency.merge(entry.latency);
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => void this.flush(), MEASUREMENT_FLUSH_MS);
    (this.#timer as { unref?: () => void }).unref?.();
  }
}
