import { RuntimeError } from '../errors.js';
import type { BackendOptions } from './backends.js';

const applied = new Map<string, string>();

/**
 * Applies WebAssembly settings for one library, once per thread: onnxruntime-web and TF.js keep
 * them in module globals read at their first initialisation. A later model asking for different
 * settings fails loudly instead of silently running with the first model's.
 */
export function applyWasmSettings(
  library: string,
  options: BackendOptions,
  apply: (numThreads: number | undefined, wasmPaths: string | Record<string, string> | undefined) => void,
  paths: string | Record<string, string> | undefined = options.wasm?.wasmPaths,
): void {
  const threads = options.wasm?.numThreads;
  if (threads !== undefined) {
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RuntimeError('invalid_argument', `wasm.numThreads must be a positive integer; got ${threads}`);
    }
    const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
    const node = typeof process !== 'undefined' && process.versions?.node !== undefined && typeof window === 'undefined';
    if (threads > 1 && !isolated && !node) {
      throw new RuntimeError(
        'invalid_argument',
        `wasm.numThreads is ${threads} but this page is not cross-origin isolated, so WebAssembly threads cannot start; serve it with "Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp", or set numThreads: 1`,
      );
    }
  }
  const key = JSON.stringify({ threads, paths });
  const previous = applied.get(library);
  if (previous === undefined) {
    applied.set(library, key);
    apply(threads, paths);
    return;
  }
  if (previous !== key) {
    throw new RuntimeError(
      'invalid_argument',
      `${library} is already set up in this engine host with wasm options ${previous}; a model asked for ${key}. Use the same wasm options for every model, or load this one with { worker: 'own' }`,
    );
  }
}
