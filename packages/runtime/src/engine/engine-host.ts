import type { ModelFormat } from '@edgeloop/protocol';
import type { Feeds, Outputs } from './tensor.js';

/** Backends a session can run on, in the runtime's vocabulary. */
export type BackendName = 'wasm';

export interface SessionRequest {
  format: ModelFormat;
  /** The model file; transferred into the host, so the caller must not reuse it. */
  bytes: ArrayBuffer;
  /** Tried in order; the first that creates a session wins. */
  backends: readonly BackendName[];
  /** URL prefix for onnxruntime-web's .wasm files; default: next to the onnxruntime-web module. */
  wasmPaths?: string;
}

export interface SessionInfo {
  id: number;
  /** The backend that runs this session, as the engine reports it — not the one that was asked for. */
  backend: BackendName;
  inputNames: string[];
  outputNames: string[];
  /** Milliseconds spent creating the session (engine load included). */
  createMs: number;
}

/**
 * Where inference runs. The same implementation runs inside a worker (behind comlink) or on the
 * calling thread; the runtime talks only to this interface.
 */
export interface EngineHost {
  createSession(request: SessionRequest): Promise<SessionInfo>;
  run(sessionId: number, feeds: Feeds): Promise<Outputs>;
  release(sessionId: number): Promise<void>;
}
