/** What the thread that runs the engines can do, probed once per engine host. */
export interface Capabilities {
  /** null when `navigator.gpu` is missing or `requestAdapter()` returned no adapter. */
  webgpu: WebGpuCapabilities | null;
  /** Why `webgpu` is null, e.g. "navigator.gpu is not defined"; null when an adapter was found. */
  webgpuUnavailableReason: string | null;
  /** Logical cores (`navigator.hardwareConcurrency`, or `os.availableParallelism()` in Node). */
  hardwareConcurrency: number;
  /** Whether the page is cross-origin isolated: multi-threaded WebAssembly needs it. */
  crossOriginIsolated: boolean;
  /** Whether `SharedArrayBuffer` exists here (the other half of WebAssembly threads). */
  sharedArrayBuffer: boolean;
  /** Whether this WebAssembly engine validates a SIMD instruction. */
  wasmSimd: boolean;
  /** The most WebAssembly threads an engine may use here: 1 unless isolated. */
  maxWasmThreads: number;
  /** Where the probe ran: a browser worker, a page's main thread, or Node. */
  environment: 'worker' | 'main-thread' | 'node';
}

export interface WebGpuCapabilities {
  /** From `GPUAdapterInfo`; empty strings where the browser withholds them. */
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for a software adapter such as SwiftShader: correct, but not fast. */
  isFallbackAdapter: boolean;
  /** Adapter features, sorted, e.g. `shader-f16`, `timestamp-query`. */
  features: string[];
  /** The adapter limits that decide whether a model fits. */
  limits: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
  };
}
