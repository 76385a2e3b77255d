/// <reference lib="webworker" />
// An engine worker that dies mid-call when asked to double 666 (an uncaught error, as an engine
// abort would raise), for the browser fault test.
import { serveEngineHost, tensor, type Engine } from '@edgeloop/runtime';

const engine: Engine = {
  name: 'crashing-engine',
  backends: ['wasm'],
  configure() {},
  async initBackend() {},
  async createSession(_files, backend) {
    return {
      backend,
      signature: { inputs: [{ name: 'x', dtype: 'float32', dims: [1] }], outputs: [{ name: 'y', dtype: 'float32', dims: [1] }] },
      async run(feeds) {
        const v = (feeds.x!.data as Float32Array)[0]!;
        if (v === 666) {
          setTimeout(() => {
            throw new Error('simulated engine abort');
          });
          return new Promise(() => {});
        }
        return { y: tensor('float32', Float32Array.of(v * 2), [1]) };
      },
      release: async () => {},
      onLost() {},
    };
  },
};
serveEngineHost(undefined, { engines: { onnx: { library: 'crash', load: async () => engine } } });
