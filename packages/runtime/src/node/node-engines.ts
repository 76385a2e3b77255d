import type { LocalEngineHostOptions } from '../engine/local-engine-host.js';

/**
 * Engine loaders for Node hosts: ONNX through {@link nodeOnnxEngine} (adds the `native` backend,
 * onnxruntime-node), TF.js as in browsers. The worker_threads host uses them by default; pass them
 * to `inlineHost` for the calling thread.
 * @example
 * import { inlineHost } from '@edgeloop/runtime';
 * import { nodeEngineLoaders } from '@edgeloop/runtime/node';
 * const runtime = createRuntime({ serverUrl, app: 'kiosk', host: inlineHost({ engines: nodeEngineLoaders }), backends: ['native', 'wasm'], storage });
 */
export const nodeEngineLoaders: NonNullable<LocalEngineHostOptions['engines']> = {
  // A dynamic import like the browser loaders: a TF.js-only kiosk never loads onnxruntime at all.
  onnx: { library: 'onnxruntime-node+web', load: () => import('./onnx-node-engine.js').then((m) => m.nodeOnnxEngine()) },
};
