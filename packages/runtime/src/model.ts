import type { ManifestStatus } from './delivery/delivery.js';
import type { Cohort, ModelFormat, ModelSignature } from '@edgeloop/protocol';
import type { BackendName, EngineHost, HostEvent } from './engine/engine-host.js';
import type { Feeds, Outputs } from './engine/tensor.js';
import { validateFeeds } from './engine/validate-feeds.js';
import { RuntimeError } from './errors.js';
import type { ModelHealth } from './health/model-health.js';
import type { ModelSlot } from './health/run-observer.js';

/** Where a model's bytes came from on this load. */
export type ModelSource = 'network' | 'cache';

export interface ModelTimings {
  /** From `load()` to a ready session, milliseconds. */
  loadMs: number;
  /** Time spent downloading and verifying; 0 when served from the cache. */
  downloadMs: number;
  /** Time the engine took to create the session. */
  sessionMs: number;
}

/** Something that happened to a loaded model without a call failing: the app may want to log or report it. */
export type ModelEvent = HostEvent & { model: string; version: string };

/** What delivery found when the model was loaded. */
export interface ModelDelivery {
  manifest: ManifestStatus;
  /** Set when the newest release is not the one running: offline, a rejected or stale manifest, a failed download. */
  problem?: RuntimeError;
  /** A newer release is being prefetched; it runs from the next load (activation `next-load`). */
  updatePending: boolean;
  /** This device's cohort in the model's rollout (null when none is in progress); telemetry reports it. */
  cohort?: Cohort | null;
}

/** A loaded model version, ready to run. */
export class Model {
  readonly name: string;
  readonly source: ModelSource;
  readonly timings: ModelTimings;
  /** How fresh the release is: the manifest status behind this load and why a newer one is not running, if so. */
  readonly delivery: ModelDelivery;
  readonly #host: EngineHost;
  readonly #slot: ModelSlot;
  readonly #onEvent: (event: ModelEvent) => void;
  #disposed = false;

  /** @internal Created by `Runtime.load`. */
  constructor(init: {
    slot: ModelSlot;
    source: ModelSource;
    timings: ModelTimings;
    host: EngineHost;
    onEvent?: (event: ModelEvent) => void;
    delivery?: ModelDelivery;
  }) {
    this.#slot = init.slot;
    this.name = init.slot.binding.release.model;
    this.source = init.source;
    this.timings = init.timings;
    this.delivery = init.delivery ?? { manifest: 'current', updatePending: false };
    this.#host = init.host;
    this.#onEvent = init.onEvent ?? (() => {});
  }

  /** The version that answers `run()`: after a revert, the previous release's. */
  get version(): string {
    return this.#slot.binding.release.version;
  }

  get releaseId(): string {
    return this.#slot.binding.release.releaseId;
  }

  get format(): ModelFormat {
    return this.#slot.binding.release.format;
  }

  /** Names, dtypes and shapes of inputs and outputs, as the engine reports them (`null` axes: any size). */
  get signature(): ModelSignature {
    return this.#slot.binding.session.signature;
  }

  /** Backends tried before the one that runs, each with its reason (empty when the first choice runs). */
  get skippedBackends(): readonly string[] {
    return this.#slot.binding.session.skipped;
  }

  /** The backend that runs this model now, verified with the engine; it changes only after a `backend-lost` event (or a revert). */
  get backend(): BackendName {
    return this.#slot.binding.backend;
  }

  /** Where the release stands with the device's health gate: on trial, committed, or reverted (docs/runtime.md). */
  get health(): ModelHealth {
    return this.#slot.health();
  }

  get inputNames(): string[] {
    return this.signature.inputs.map((spec) => spec.name);
  }

  get outputNames(): string[] {
    return this.signature.outputs.map((spec) => spec.name);
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Runs the model. Calls on one model run in order. Inputs are checked against the signature
   * (names, dtypes, shapes) before anything reaches the engine.
   * @example
   * const out = await model.run({ input: tensor('float32', frame, [1, 576]), state, sr });
   */
  async run(feeds: Feeds): Promise<Outputs> {
    if (this.#disposed) throw new RuntimeError('disposed', `model "${this.name}" was disposed; load it again to run it`);
    const binding = this.#slot.binding;
    validateFeeds(this.name, binding.session.signature.inputs, feeds);
    const started = performance.now();
    try {
      const result = await this.#host.run(binding.session.id, feeds);
      binding.backend = result.backend;
      for (const event of result.events) this.#onEvent({ ...event, model: this.name, version: binding.release.version });
      const latency = performance.now() - started;
      for (const observer of this.#slot.observers) observer.succeeded(binding, latency, feeds, result.outputs);
      return result.outputs;
    } catch (error) {
      const failure = RuntimeError.fromUnknown(error);
      for (const observer of this.#slot.observers) observer.failed(binding, failure.code, feeds);
      throw failure;
    }
  }

  /** Frees the engine sessions (WASM memory, GPU buffers). Later calls to `run` fail with code `disposed`. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#slot.release();
  }
}
