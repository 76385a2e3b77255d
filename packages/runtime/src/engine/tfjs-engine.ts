import type { ModelFormat } from '@edgeloop/protocol';
import { RuntimeError } from '../errors.js';
import type { BackendName } from './backends.js';
import { watchDeviceLost, type GpuDeviceLike } from './device-lost.js';
import type { Engine, EngineSession, ModelFiles } from './engine.js';
import { initTfjsBackend } from './tfjs-backends.js';
import { applyWasmSettings } from './wasm-settings.js';
import { loadTfjsModel, type TfjsModel } from './tfjs-model.js';
import type { Feeds, Outputs, Tensor, TensorData } from './tensor.js';

type Tf = typeof import('@tensorflow/tfjs-core');

/**
 * TF.js (graph and layers models) behind the {@link Engine} interface. TF.js has one active backend
 * per thread; sessions on different backends in one engine host switch it before each call (and
 * TF.js moves weights between backends), so give such models their own worker.
 */
export async function tfjsEngine(): Promise<Engine> {
  const tf: Tf = await import('@tensorflow/tfjs-core');
  // TF.js runs are serialised per thread: switching the global backend and executing must not interleave.
  let lock: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const next = lock.then(work, work);
    lock = next.catch(() => undefined);
    return next;
  };

  return {
    name: 'tfjs',
    backends: ['webgpu', 'webgl', 'wasm', 'cpu'],
    // Applied for real in initTfjsBackend; checking here makes a conflicting later model fail loudly.
    configure: (options) => applyWasmSettings('tfjs', options, () => {}, options.wasm?.tfjsWasmPaths),
    initBackend: (backend, options) => serial(() => initTfjsBackend(tf, backend, options)),

    createSession: (files, backend) =>
      serial(async () => {
        if (tf.getBackend() !== backend) await tf.setBackend(backend);
        const format = formatOf(files);
        const model = await loadTfjsModel(tf, format, files);
        const device = backend === 'webgpu' ? ((tf.findBackend('webgpu') as unknown as { device?: GpuDeviceLike }).device ?? null) : null;
        return tfjsSession(tf, model, backend, device, serial);
      }),
  };
}

/** Graph or layers, as model.json itself says: the manifest's format picked the engine, the file picks the loader. */
function formatOf(files: ModelFiles): ModelFormat {
  let json: { format?: unknown };
  try {
    json = JSON.parse(new TextDecoder().decode(files.model)) as { format?: unknown };
  } catch (error) {
    throw new RuntimeError('invalid_model', `the TF.js model.json is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (json.format === 'layers-model') return 'tfjs-layers';
  if (json.format === 'graph-model' || json.format === undefined) return 'tfjs-graph';
  throw new RuntimeError('invalid_model', `the TF.js model.json has format "${String(json.format)}"; expected "graph-model" or "layers-model"`);
}

function tfjsSession(
  tf: Tf,
  model: TfjsModel,
  backend: BackendName,
  device: GpuDeviceLike | null,
  serial: <T>(work: () => Promise<T>) => Promise<T>,
): EngineSession {
  return {
    backend,
    signature: model.signature,
    async run(feeds: Feeds): Promise<Outputs> {
      const results = await serial(async () => {
        if (tf.getBackend() !== backend) await tf.setBackend(backend);
        const inputs: Record<string, import('@tensorflow/tfjs-core').Tensor> = {};
        try {
          for (const [name, t] of Object.entries(feeds)) {
            inputs[name] = tf.tensor(t.data as Parameters<Tf['tensor']>[0], [...t.dims], t.dtype as 'float32');
          }
          return await model.execute(inputs);
        } finally {
          for (const t of Object.values(inputs)) t.dispose();
        }
      });
      // Reading back happens outside the lock: GPU readback is asynchronous and other calls may run meanwhile.
      const outputs: Outputs = {};
      try {
        for (const [name, t] of Object.entries(results)) {
          const data = await t.data();
          // TF.js's CPU backend hands out its own storage (shared with aliased tensors such as
          // weights behind an Identity); the worker transfers outputs, so give it a copy to own.
          outputs[name] = { dtype: t.dtype, dims: [...t.shape], data: (backend === 'cpu' ? data.slice() : data) as TensorData } as Tensor;
        }
      } finally {
        for (const t of Object.values(results)) t.dispose();
      }
      return outputs;
    },
    release: async () => model.dispose(),
    onLost(listener) {
      if (device) watchDeviceLost(device, listener);
    },
  };
}
