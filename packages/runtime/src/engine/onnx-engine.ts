import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-web';
import type { TensorDtype, TensorSpec } from '@edgeloop/protocol';
import { RuntimeError } from '../errors.js';
import type { BackendName, BackendOptions } from './backends.js';
import type { Engine, EngineSession, ModelFiles } from './engine.js';
import { watchDeviceLost, type GpuDeviceLike } from './device-lost.js';
import { normalizeDim } from './signature.js';
import { applyWasmSettings } from './wasm-settings.js';
import type { Outputs, Tensor, TensorData } from './tensor.js';

type Ort = typeof import('onnxruntime-web');

/**
 * onnxruntime-web behind the {@link Engine} interface. Under Node the package resolves to its Node
 * build (WASM only); in browsers to the WebGPU + WASM bundle. Each call creates an independent
 * engine, but the module (and its global `env`) is one per thread: settings are applied once.
 */
export async function onnxEngine(): Promise<Engine> {
  const ort: Ort = await import('onnxruntime-web');
  return {
    name: 'onnxruntime-web',
    backends: ['webgpu', 'wasm'],

    configure(options) {
      // The WebGPU build runs on top of the WASM runtime, so WASM settings apply to every backend.
      applyWasmSettings('onnxruntime-web', options, (threads, paths) => {
        if (threads !== undefined) ort.env.wasm.numThreads = threads;
        if (typeof paths === 'string') ort.env.wasm.wasmPaths = paths;
      });
    },

    async initBackend(backend, options) {
      if (backend === 'webgpu') {
        const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(o?: object): Promise<unknown> } } }).navigator?.gpu;
        if (!gpu) throw new Error('navigator.gpu is not defined here');
        const adapter = await gpu.requestAdapter(options.webgpu?.powerPreference ? { powerPreference: options.webgpu.powerPreference } : {});
        if (!adapter) throw new Error('navigator.gpu.requestAdapter() returned null');
        if (options.webgpu?.powerPreference) ort.env.webgpu.powerPreference = options.webgpu.powerPreference;
      }
    },

    async createSession(files, backend) {
      let session: InferenceSession;
      try {
        // One execution provider per attempt: given a list, onnxruntime-web falls back silently.
        session = await ort.InferenceSession.create(new Uint8Array(files.model), { executionProviders: [backend], graphOptimizationLevel: 'all' });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (message.includes('no available backend found')) throw new RuntimeError('backend_unavailable', message, { cause: error });
        throw error;
      }
      const device = backend === 'webgpu' ? verifiedWebGpuDevice(ort) : null;
      if (backend === 'webgpu' && !device) {
        await session.release();
        throw new RuntimeError('backend_unavailable', 'onnxruntime-web created the session without a WebGPU device; it would not run on the GPU');
      }
      return onnxSession(ort, session, backend, device);
    },
  };
}

/** After the WebGPU backend initialises, onnxruntime-web pins `env.webgpu.device` to the device it uses. */
function verifiedWebGpuDevice(ort: Ort): GpuDeviceLike | null {
  const value = Object.getOwnPropertyDescriptor(ort.env.webgpu, 'device')?.value as GpuDeviceLike | undefined;
  return value && typeof value === 'object' && 'lost' in value ? value : null;
}

/**
 * Wraps an onnxruntime session (web or node: both are onnxruntime-common's API) as an
 * {@link EngineSession}. `ort` must be the module that created the session: tensors are built with its own class.
 */
export function onnxSession(ort: Pick<Ort, 'Tensor'>, session: InferenceSession, backend: BackendName, device: GpuDeviceLike | null): EngineSession {
  const specs = (metadata: readonly InferenceSession.ValueMetadata[]): TensorSpec[] =>
    // Sequence and map values (non-tensors) are rare in edge models and have no tensor spec; they are left out.
    metadata.flatMap((value) => (value.isTensor ? [{ name: value.name, dtype: value.type as TensorDtype, dims: value.shape.map(normalizeDim) }] : []));
  return {
    backend,
    signature: { inputs: specs(session.inputMetadata), outputs: specs(session.outputMetadata) },
    async run(feeds) {
      const ortFeeds: Record<string, OrtTensor> = {};
      for (const [name, t] of Object.entries(feeds)) {
        ortFeeds[name] = new ort.Tensor(t.dtype as OrtTensor.Type, t.data as OrtTensor.DataType, t.dims);
      }
      const results = await session.run(ortFeeds);
      const outputs: Outputs = {};
      for (const [name, value] of Object.entries(results)) {
        outputs[name] = { dtype: value.type as Tensor['dtype'], dims: [...value.dims], data: value.data as TensorData } as Tensor;
      }
      return outputs;
    },
    release: () => session.release(),
    onLost(listener) {
      if (device) watchDeviceLost(device, listener);
    },
  };
}
