import type { ModelFormat } from '@edgeloop/protocol';
import type { BackendName, EngineHost, SessionInfo } from './engine/engine-host.js';
import type { Feeds, Outputs } from './engine/tensor.js';
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

/** A loaded model version, ready to run. */
export class Model {
  readonly name: string;
  readonly version: string;
  readonly releaseId: string;
  readonly format: ModelFormat;
  readonly backend: BackendName;
  readonly source: ModelSource;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly timings: ModelTimings;
  readonly #host: EngineHost;
  readonly #session: SessionInfo;
  readonly #telemetry: TelemetryCollector;
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
  }) {
    this.name = init.name;
    this.version = init.version;
    this.releaseId = init.releaseId;
    this.format = init.format;
    this.source = init.source;
    this.timings = init.timings;
    this.backend = init.session.backend;
    this.inputNames = init.session.inputNames;
    this.outputNames = init.session.outputNames;
    this.#host = init.host;
    this.#session = init.session;
    this.#telemetry = init.telemetry;
  }

  /**
   * Runs the model. Calls on one model run in order; the inputs are checked against the model's
   * input names before anything reaches the engine.
   * @example
   * const out = await model.run({ input: tensor('float32', frame, [1, 512]), state, sr });
   */
  async run(feeds: Feeds): Promise<Outputs> {
    if (this.#disposed) throw new RuntimeError('disposed', `model "${this.name}" was disposed; load it again to run it`);
    this.#checkNames(feeds);
    const started = performance.now();
    try {
      const outputs = await this.#host.run(this.#session.id, feeds);
      this.#telemetry.record(this.name, this.version, this.backend, performance.now() - started);
      return outputs;
    } catch (error) {
      this.#telemetry.record(this.name, this.version, this.backend, null);
      throw RuntimeError.fromUnknown(error);
    }
  }

  /** Frees the engine session. Later calls to `run` fail with code `disposed`. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#host.release(this.#session.id);
  }

  #checkNames(feeds: Feeds): void {
    const given = Object.keys(feeds);
    const missing = this.inputNames.filter((name) => !(name in feeds));
    const unknown = given.filter((name) => !this.inputNames.includes(name));
    if (missing.length > 0 || unknown.length > 0) {
      const parts = [];
      if (missing.length > 0) parts.push(`missing ${missing.map((n) => `'${n}'`).join(', ')}`);
      if (unknown.length > 0) parts.push(`unknown ${unknown.map((n) => `'${n}'`).join(', ')}`);
      throw new RuntimeError(
        'invalid_argument',
        `model "${this.name}" takes inputs ${this.inputNames.map((n) => `'${n}'`).join(', ')}; ${parts.join('; ')}`,
      );
    }
  }
}
