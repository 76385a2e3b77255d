import { RuntimeError } from '../errors.js';

/**
 * Backends a session can run on, in the runtime's vocabulary. Not every engine has every backend:
 * onnxruntime-web runs `webgpu` and `wasm`; TF.js runs `webgpu`, `webgl`, `wasm` and `cpu` (plain
 * JS); `native` is onnxruntime-node's CPU execution provider, which only the ONNX engine of
 * `@edgeloop/runtime/node` has.
 */
export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu' | 'native';

export const BACKEND_NAMES: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu', 'native'];

/** The default preference: a GPU when there is one, else WebAssembly on the CPU. */
export const DEFAULT_BACKENDS: readonly BackendName[] = ['webgpu', 'wasm'];

/** Settings per backend (cf. onnxruntime's `ExecutionProviderOptionMap`): each key configures one backend only. */
export interface BackendOptionMap {
  webgpu: {
    /** Passed to `navigator.gpu.requestAdapter()`. */
    powerPreference?: 'low-power' | 'high-performance';
  };
  wasm: {
    /**
     * WebAssembly threads. More than 1 needs `crossOriginIsolated` (COOP + COEP headers); asking for
     * more without it is an error, not a silent downgrade. Default: the engine's own choice
     * (onnxruntime-web: up to 4 when isolated, else 1).
     */
    numThreads?: number;
    /** URL prefix for onnxruntime-web's `.wasm` files when they are not served next to its module. */
    wasmPaths?: string;
    /** URL prefix, or file name → URL map, for TF.js's `tfjs-backend-wasm*.wasm` files. */
    tfjsWasmPaths?: string | Record<string, string>;
  };
  webgl: Record<string, never>;
  cpu: Record<string, never>;
  native: {
    /**
     * Threads onnxruntime-node uses inside one operator (its `intraOpNumThreads`). Default:
     * onnxruntime's choice, one per physical core.
     */
    intraOpNumThreads?: number;
  };
}

/** One explicit options object, keyed by backend name. */
export type BackendOptions = { [B in BackendName]?: BackendOptionMap[B] };

/** Throws unless every entry is a known backend and none repeats. */
export function checkBackendList(backends: readonly string[]): asserts backends is readonly BackendName[] {
  if (backends.length === 0) throw new RuntimeError('invalid_argument', 'backends must name at least one backend, e.g. ["webgpu", "wasm"]');
  for (const name of backends) {
    if (!BACKEND_NAMES.includes(name as BackendName)) {
      throw new RuntimeError('invalid_argument', `unknown backend "${name}"; choose from ${BACKEND_NAMES.map((b) => `"${b}"`).join(', ')}`);
    }
  }
  if (new Set(backends).size !== backends.length) throw new RuntimeError('invalid_argument', `backends lists a backend twice: ${JSON.stringify(backends)}`);
}
