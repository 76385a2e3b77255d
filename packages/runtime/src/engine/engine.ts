import type { ModelSignature } from '@edgeloop/protocol';
import type { BackendName, BackendOptions } from './backends.js';
import type { Feeds, Outputs } from './tensor.js';

/** The files of one model version, as the engine needs them. */
export interface ModelFiles {
  /** The `.onnx` file, or the TF.js `model.json`. */
  model: ArrayBuffer;
  /** TF.js weight shards in weightsManifest order; empty for ONNX. */
  weights: readonly ArrayBuffer[];
}

/**
 * One inference library behind the runtime (onnxruntime-web, TF.js). Engines are adapters: the
 * session manager picks backends, queues calls and recovers; the engine only does what its
 * library does.
 */
export interface Engine {
  readonly name: string;
  /** Backends this engine can run at all; others fail without being tried. */
  readonly backends: readonly BackendName[];
  /**
   * Checks (and on first use applies) settings the library keeps globally per thread, such as
   * WebAssembly threads. Called before every session; throws `invalid_argument` on a conflict.
   */
  configure(options: BackendOptions): void;
  /**
   * Makes `backend` ready, once per engine instance: the session manager caches the promise, so a
   * failure here is remembered and never retried. Throws the reason the backend cannot run.
   */
  initBackend(backend: BackendName, options: BackendOptions): Promise<void>;
  /**
   * Creates a session on `backend` (already initialised) and verifies that the library really runs
   * it there. Throws RuntimeError `invalid_model` when it can tell the files themselves are unreadable.
   */
  createSession(files: ModelFiles, backend: BackendName, options: BackendOptions): Promise<EngineSession>;
}

export interface EngineSession {
  readonly backend: BackendName;
  readonly signature: ModelSignature;
  run(feeds: Feeds): Promise<Outputs>;
  /** Frees the session's memory (WASM heap, GPU buffers). */
  release(): Promise<void>;
  /**
   * Calls `listener` once if the session's device goes away (WebGPU device lost). Sessions on
   * backends that cannot be lost never call it.
   */
  onLost(listener: (reason: string) => void): void;
}
