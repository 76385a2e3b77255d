import type { ModelRelease } from '@edgeloop/protocol';
import type { BackendName, SessionInfo } from '../engine/engine-host.js';
import type { Feeds, Outputs } from '../engine/tensor.js';
import type { RuntimeErrorCode } from '../errors.js';
import type { TelemetryCollector } from '../telemetry/collector.js';
import type { ModelHealth } from './model-health.js';

/** One opened release: its engine session and the backend it runs on now (it changes after a `backend-lost` event). */
export interface ModelBinding {
  release: ModelRelease;
  session: SessionInfo;
  backend: BackendName;
}

/** Told of every real inference a {@link Model} answers (golden checks are not real inferences). */
export interface RunObserver {
  succeeded(binding: ModelBinding, latencyMs: number, feeds: Feeds, outputs: Outputs): void;
  failed(binding: ModelBinding, code: RuntimeErrorCode, feeds: Feeds): void;
}

/**
 * What a Model runs and whom it tells: the binding that answers now (the health gate switches it to
 * the previous release on a revert), the observers of each run, and the model's health.
 */
export interface ModelSlot {
  binding: ModelBinding;
  readonly observers: readonly RunObserver[];
  health(): ModelHealth;
  /** Frees every session the slot holds (a trial holds two: the release on trial and its fallback). */
  release(): Promise<void>;
}

/** Each run counted by telemetry, under the release that answered it. */
export function telemetryObserver(telemetry: TelemetryCollector): RunObserver {
  return {
    succeeded: (b, latencyMs, feeds, outputs) => telemetry.observe(b.release.model, b.release.version, b.backend, latencyMs, feeds, outputs),
    failed: (b, code, feeds) => telemetry.fail(b.release.model, b.release.version, b.backend, code, feeds),
  };
}
