import type { ModelFormat, ModelSignature } from '@edgeloop/protocol';
import type { Capabilities } from '../capabilities/capabilities.js';
import type { BackendName, BackendOptions } from './backends.js';
import type { Feeds, Outputs } from './tensor.js';

export type { BackendName, BackendOptions } from './backends.js';

export interface SessionRequest {
  format: ModelFormat;
  /** The model file (`.onnx` or TF.js `model.json`); transferred into the host, so the caller must not reuse it. */
  bytes: ArrayBuffer;
  /** TF.js weight shards in weightsManifest order; transferred like `bytes`. */
  weights?: ArrayBuffer[];
  /** Tried in order; the first that creates a session wins. */
  backends: readonly BackendName[];
  /** Settings per backend. */
  backendOptions?: BackendOptions;
  /** Names the model in messages, e.g. `vad@5.0.0`. */
  label?: string;
  /** `shared` (default): the host's shared worker. `own`: a worker for this session alone. Ignored by in-thread hosts. */
  worker?: 'shared' | 'own';
}

export interface SessionInfo {
  id: number;
  /** The backend that runs this session, as verified with the engine — not the one that was asked for. */
  backend: BackendName;
  /** Input and output names, dtypes and shapes, as the engine reports them. */
  signature: ModelSignature;
  /** Backends tried before `backend`, each with the reason it could not run this model. */
  skipped: string[];
  /** Milliseconds spent creating the session (engine load included). */
  createMs: number;
}

/** Something the host did on its own that the app should know about. */
export type HostEvent =
  | { type: 'backend-lost'; from: BackendName; to: BackendName; reason: string }
  | { type: 'worker-restarted'; reason: string };

export interface RunResult {
  outputs: Outputs;
  /** The backend that ran this call (it changes only after a `backend-lost` event). */
  backend: BackendName;
  /** Events that happened on the way to this call's result, oldest first. */
  events: HostEvent[];
}

/**
 * Where inference runs. The same implementation runs inside a worker (behind comlink), a Node
 * worker thread, or on the calling thread; the runtime talks only to this interface.
 */
export interface EngineHost {
  createSession(request: SessionRequest): Promise<SessionInfo>;
  run(sessionId: number, feeds: Feeds): Promise<RunResult>;
  release(sessionId: number): Promise<void>;
  /** What the engines' thread can do; probed once. */
  capabilities(): Promise<Capabilities>;
  /** Stops the host's threads, if it has any; its sessions stop working. */
  terminate?(): void;
}
