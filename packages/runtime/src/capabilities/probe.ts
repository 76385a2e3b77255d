import type { Capabilities, WebGpuCapabilities } from './capabilities.js';

/** The parts of WebGPU the probe reads; DOM's lib in this TypeScript has no WebGPU types. */
interface GpuAdapterLike {
  features: Iterable<string>;
  limits: Record<string, number>;
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<GpuAdapterLike | null>;
}

// The smallest module that uses a SIMD instruction (v128.const + drop), from wasm-feature-detect.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

/**
 * Probes the current thread once. Reads globals only when called, never at import time, so the
 * same code serves a worker, a page and Node (where `navigator.gpu` is simply absent).
 * @example
 * const caps = await probeCapabilities();
 * if (caps.webgpu?.features.includes('shader-f16')) { ... }
 */
export async function probeCapabilities(): Promise<Capabilities> {
  const nav = (globalThis as { navigator?: { gpu?: GpuLike; hardwareConcurrency?: number } }).navigator;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const isNode = typeof process !== 'undefined' && process.versions?.node !== undefined && typeof window === 'undefined' && nav?.gpu === undefined;
  const sharedArrayBuffer = typeof SharedArrayBuffer !== 'undefined';
  const { webgpu, reason } = await probeWebGpu(nav?.gpu);
  // Node has no COOP/COEP: SharedArrayBuffer is always usable there, so threads are allowed.
  const threadsAllowed = sharedArrayBuffer && (isolated || isNode);
  const hardwareConcurrency = nav?.hardwareConcurrency ?? 1;
  return {
    webgpu,
    webgpuUnavailableReason: reason,
    hardwareConcurrency,
    crossOriginIsolated: isolated,
    sharedArrayBuffer,
    wasmSimd: typeof WebAssembly !== 'undefined' && WebAssembly.validate(SIMD_PROBE),
    maxWasmThreads: threadsAllowed ? Math.max(1, hardwareConcurrency) : 1,
    environment: isNode ? 'node' : typeof window === 'undefined' ? 'worker' : 'main-thread',
  };
}

async function probeWebGpu(gpu: GpuLike | undefined): Promise<{ webgpu: WebGpuCapabilities | null; reason: string | null }> {
  if (!gpu) return { webgpu: null, reason: 'navigator.gpu is not defined (no WebGPU in this browser, context or runtime)' };
  let adapter: GpuAdapterLike | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (error) {
    return { webgpu: null, reason: `requestAdapter() failed: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (!adapter) return { webgpu: null, reason: 'requestAdapter() returned null (WebGPU disabled or no usable GPU)' };
  const info = adapter.info ?? {};
  const limit = (name: string) => Number(adapter.limits[name] ?? 0);
  return {
    reason: null,
    webgpu: {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      isFallbackAdapter: info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false,
      features: [...adapter.features].sort(),
      limits: {
        maxBufferSize: limit('maxBufferSize'),
        maxStorageBufferBindingSize: limit('maxStorageBufferBindingSize'),
        maxComputeWorkgroupStorageSize: limit('maxComputeWorkgroupStorageSize'),
        maxComputeInvocationsPerWorkgroup: limit('maxComputeInvocationsPerWorkgroup'),
      },
    },
  };
}
