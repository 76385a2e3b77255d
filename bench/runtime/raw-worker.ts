/// <reference lib="webworker" />
// The benchmark's baseline: the same onnxruntime-web / TF.js calls the runtime's engines make, in a
// plain worker with a hand-written postMessage protocol, no validation, no queue, no comlink.
import type * as OrtTypes from 'onnxruntime-web';

type Msg =
  | { type: 'open'; format: 'onnx' | 'tfjs-graph'; model: ArrayBuffer; weights: ArrayBuffer[]; tfjsWasmPaths: Record<string, string> }
  | { type: 'run'; feeds: Record<string, { dtype: string; dims: number[]; data: ArrayLike<number | bigint> }> };

let run: ((feeds: Extract<Msg, { type: 'run' }>['feeds']) => Promise<Record<string, { dims: number[]; data: ArrayBufferView }>>) | undefined;

self.onmessage = async (event: MessageEvent<Msg>) => {
  const msg = event.data;
  try {
    if (msg.type === 'open') {
      if (msg.format === 'onnx') {
        const ort = await import('onnxruntime-web');
        const session = await ort.InferenceSession.create(new Uint8Array(msg.model), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
        run = async (feeds) => {
          const input: Record<string, OrtTypes.Tensor> = {};
          for (const [name, t] of Object.entries(feeds)) input[name] = new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, t.dims);
          const out = await session.run(input);
          return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, { dims: [...t.dims], data: t.data as Float32Array }]));
        };
      } else {
        const tf = await import('@tensorflow/tfjs-core');
        const wasm = await import('@tensorflow/tfjs-backend-wasm');
        wasm.setWasmPaths(msg.tfjsWasmPaths);
        tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
        await tf.setBackend('wasm');
        const { loadGraphModel } = await import('@tensorflow/tfjs-converter');
        const json = JSON.parse(new TextDecoder().decode(msg.model));
        const model = await loadGraphModel(tf.io.fromMemory({ ...json, weightSpecs: json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights), weightData: msg.weights[0] }));
        run = async (feeds) => {
          const inputs = Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, tf.tensor(t.data as Int32Array, t.dims, t.dtype as 'int32')]));
          const outputs = model.execute(inputs, model.outputNodes) as import('@tensorflow/tfjs-core').Tensor;
          const data = (await outputs.data()) as Float32Array;
          const result = { [model.outputNodes[0]!]: { dims: outputs.shape, data } };
          outputs.dispose();
          Object.values(inputs).forEach((t) => t.dispose());
          return result;
        };
      }
      self.postMessage({ ok: true });
    } else {
      const outputs = await run!(msg.feeds);
      self.postMessage({ ok: true, outputs }, Object.values(outputs).map((o) => o.data.buffer as ArrayBuffer));
    }
  } catch (error) {
    self.postMessage({ ok: false, error: String(error) });
  }
};
