import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-web';
import { RuntimeError } from '../errors.js';
import type { BackendName } from './engine-host.js';
import type { Feeds, Outputs, Tensor, TensorData } from './tensor.js';

type Ort = typeof import('onnxruntime-web');

let ortPromise: Promise<Ort> | undefined;

/**
 * Loads onnxruntime-web on first use only (its Node build under Node, the WebGPU+WASM bundle in browsers), so an app that never runs an ONNX model
 * never downloads it.
 */
function loadOrt(wasmPaths: string | undefined): Promise<Ort> {
  ortPromise ??= import('onnxruntime-web').then((ort) => {
    // onnxruntime-web keeps its settings in a global `env`; this host owns the module instance, so
    // it sets them once, before the first session, and never again.
    if (wasmPaths !== undefined) ort.env.wasm.wasmPaths = wasmPaths;
    return ort;
  });
  return ortPromise;
}

export interface OnnxSession {
  backend: BackendName;
  inputNames: string[];
  outputNames: string[];
  run(feeds: Feeds): Promise<Outputs>;
  release(): Promise<void>;
}

export async function createOnnxSession(
  bytes: ArrayBuffer,
  backends: readonly BackendName[],
  wasmPaths: string | undefined,
): Promise<OnnxSession> {
  const ort = await loadOrt(wasmPaths);
  const failures: string[] = [];
  for (const backend of backends) {
    let session: InferenceSession;
    try {
      session = await ort.InferenceSession.create(new Uint8Array(bytes), {
        executionProviders: [backend],
        graphOptimizationLevel: 'all',
      });
    } catch (error) {
      failures.push(`[${backend}] ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    return {
      backend,
      inputNames: [...session.inputNames],
      outputNames: [...session.outputNames],
      async run(feeds) {
        const ortFeeds: Record<string, OrtTensor> = {};
        for (const [name, t] of Object.entries(feeds)) {
          ortFeeds[name] = new ort.Tensor(t.dtype as OrtTensor.Type, t.data as OrtTensor.DataType, t.dims);
        }
        const results = await session.run(ortFeeds);
        const outputs: Outputs = {};
        for (const [name, value] of Object.entries(results)) {
          outputs[name] = { dtype: value.type as Tensor['dtype'], dims: [...value.dims], data: value.data as TensorData } as Tensor;
          value.dispose();
        }
        return outputs;
      },
      release: () => session.release(),
    };
  }
  throw new RuntimeError('engine', `no backend could create an ONNX session: ${failures.join(', ')}`, { details: failures });
}
