import type { ModelFormat } from '@edgeloop/protocol';
import type { Engine } from './engine.js';

/** Creates an engine; called at most once per engine host and library. */
export type EngineLoader = () => Promise<Engine>;

/**
 * Which library runs which format. Each entry is a dynamic import, so a bundler splits every
 * library into its own chunk and an ONNX-only app never fetches TF.js (and the reverse).
 * `tfjs-graph` and `tfjs-layers` share one loader: one TF.js instance per engine host.
 */
export const defaultEngineLoaders: Record<ModelFormat, { library: string; load: EngineLoader }> = {
  onnx: { library: 'onnxruntime-web', load: () => import('./onnx-engine.js').then((m) => m.onnxEngine()) },
  'tfjs-graph': { library: 'tfjs', load: () => import('./tfjs-engine.js').then((m) => m.tfjsEngine()) },
  'tfjs-layers': { library: 'tfjs', load: () => import('./tfjs-engine.js').then((m) => m.tfjsEngine()) },
};
