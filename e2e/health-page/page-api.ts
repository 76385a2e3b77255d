/** What e2e/health-page/main.ts exposes on `window.edgeloopHealth`; shared with the tests and e2e/support/revert-timing.ts. */
export interface HealthLoadRequest {
  serverUrl: string;
  publicKey: string;
  model: string;
  /** IndexedDB database: one per simulated device. */
  dbName: string;
  backends: Array<'webgpu' | 'wasm'>;
  /** Run one frame right after the load, in the page (as an app answering its first call would). */
  runAfterLoad?: boolean;
}

export interface HealthView {
  state: 'trial' | 'committed' | 'reverted';
  version: string;
  reason?: string;
  detail?: string;
  revertMs?: number;
  refusedBackends?: string[];
  inferences?: number;
}

export type HealthLoadResult =
  | { ok: true; version: string; backend: string; health: HealthView; problem: { code: string; message: string } | null }
  | { ok: false; error: { code: string; message: string } };

export interface SileroOutputs {
  output: number[];
  stateN: number[];
}

export interface HealthPage {
  /** A runtime over `dbName` (engines in the page's one shared worker) loads `model`. */
  load(request: HealthLoadRequest): Promise<HealthLoadResult>;
  /** Runs the loaded model on `times` Silero frames; says which version answered each and the health after. */
  run(times: number): Promise<{ versions: string[]; health: HealthView }>;
  /** The health gate's events so far (`trial-start`, `trial-commit`, `trial-revert`). */
  events(): Array<{ type: string; detail: Record<string, unknown> }>;
  /** Labels of the engine sessions created so far, e.g. `model "vad" 6.0.0`, with their backend. */
  sessions(): Array<{ label: string; backend: string }>;
  /** Silero's outputs for the golden frame, from a model file run directly on one backend (no gate). */
  outputs(modelUrl: string, backend: 'webgpu' | 'wasm'): Promise<SileroOutputs>;
  /** Disposes the current runtime (its leases are given back). */
  dispose(): Promise<void>;
}

/** The golden frame: 576 samples of a tone, zero state, 16 kHz. */
export function goldenFrame(): { input: Float32Array; state: Float32Array; sr: BigInt64Array } {
  const input = new Float32Array(576);
  for (let i = 0; i < input.length; i++) input[i] = 0.5 * Math.sin(i / 7);
  return { input, state: new Float32Array(256), sr: BigInt64Array.of(16000n) };
}

declare global {
  interface Window {
    edgeloopHealth: HealthPage;
  }
}
