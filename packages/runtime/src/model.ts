import type { ManifestStatus } from './delivery/delivery.js';
import type { Cohort, ModelFormat, ModelSignature } from '@edgeloop/protocol';
import type { BackendName, EngineHost, HostEvent, SessionInfo } from './engine/engine-host.js';
import type { Feeds, Outputs } from './engine/tensor.js';
import { validateFeeds } from './engine/validate-feeds.js';
import { RuntimeError } from './errors.js';
import type { TelemetryCollector } from './telemetry/collector.js';

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

/** A loaded model version, ready to run. */
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

export class Model {
  readonly name: string;
  readonly version: string;
  readonly releaseId: string;
  readonly format: ModelFormat;
  readonly source: ModelSource;
  /** Names, dtypes and shapes of inputs and outputs, as the engine reports them (`null` axes: any size). */
  readonly signature: ModelSignature;
  /** Backends tried before the one that runs, each with its reason (empty when the first choice runs). */
  readonly skippedBackends: readonly string[];
  readonly timings: ModelTimings;
  /** How fresh the release is: the manifest status behind this load and why a newer one is not running, if so. */
  readonly delivery: ModelDelivery;
  readonly #host: EngineHost;
  readonly #session: SessionInfo;
  readonly #telemetry: TelemetryCollector;
  readonly #onEvent: (event: ModelEvent) => void;
  #backend: BackendName;
  #disposed = false;

  /** @internal Created by `Runtime.load`. */
  constructor(init: {
    name: string;
    version: string;
    releaseId: string;
    format: ModelFormat;
    source: ModelSource;
    timings: ModelTimings;
    host: EngineHost;
    session: SessionInfo;
    telemetry: TelemetryCollector;
    onEvent?: (event: ModelEvent) => void;
    delivery?: ModelDelivery;
  }) {
    this.name = init.name;
    this.version = init.version;
    this.releaseId = init.releaseId;
    this.format = init.format;
    this.source = init.source;
    this.timings = init.timings;
    this.delivery = init.delivery ?? { manifest: 'current', updatePending: false };
    this.signature = init.session.signature;
    this.skippedBackends = init.session.skipped;
    this.#backend = init.session.backend;
    this.#host = init.host;
    this.#session = init.session;
    this.#telemetry = init.telemetry;
    this.#onEvent = init.onEvent ?? (() => {});
  }

  /** The backend that runs this model now, verified with the engine; it changes only after a `backend-lost` event. */
  get backend(): BackendName {
    return this.#backend;
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
    validateFeeds(this.name, this.signature.inputs, feeds);
    const started = performance.now();
    try {
      const result = await this.#host.run(this.#session.id, feeds);
      this.#backend = result.backend;
      for (const event of result.events) this.#onEvent({ ...event, model: this.name, version: this.version });
      this.#telemetry.observe(this.name, this.version, this.#backend, performance.now() - started, feeds, result.outputs);
      return result.outputs;
    } catch (error) {
      const failure = RuntimeError.fromUnknown(error);
      this.#telemetry.fail(this.name, this.version, this.#backend, failure.code, feeds);
      throw failure;
    }
  }

  /** Frees the engine session (WASM memory, GPU buffers). Later calls to `run` fail with code `disposed`. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#host.release(this.#session.id);
  }
}
