import { createRuntime, tensor, type EngineHost, type Model, type Runtime } from '@edgeloop/runtime';
import type { WirePage } from './page-api.js';

/** An engine that echoes its input, or fails when told: the runtime around it is the real one. */
let failing = false;
const echo: EngineHost = {
  async createSession() {
    const spec = { dtype: 'float32' as const, dims: [null] };
    return { id: 1, backend: 'wasm', signature: { inputs: [{ name: 'x', ...spec }], outputs: [{ name: 'y', ...spec }] }, skipped: [], createMs: 0 };
  },
  async run(_id, feeds) {
    if (failing) throw new Error('the echo engine was told to fail');
    return { outputs: { y: feeds.x! }, backend: 'wasm', events: [] };
  },
  async release() {},
  async capabilities() {
    throw new Error('not probed here');
  },
};

let runtime: Runtime | undefined;
let model: Model | undefined;
/** A raw input whose element 300 stands out: a profile naming `x[300]` must learn nothing of it. */
const input = Float32Array.from({ length: 512 }, (_, i) => (i === 300 ? 0.987654 : Math.sin(i) / 4));

const page: WirePage = {
  async start(publicKey, declared) {
    runtime = createRuntime({ serverUrl: new URL('/', location.href).href, app: 'demo', trust: { publicKeys: [publicKey] }, host: echo });
    model = await runtime.load('vad', { telemetry: { report: declared.map((name) => ({ name, range: [-1, 1] as [number, number] })) } });
    return { version: model.version };
  },
  async run(times, fail) {
    failing = fail;
    for (let i = 0; i < times; i++) {
      try {
        await model!.run({ x: tensor('float32', input, [input.length]) });
      } catch (error) {
        if (!fail) throw error;
      }
    }
    failing = false;
  },
  flush: () => runtime!.flush(),
  pending: () => runtime!.telemetry.pending(),
};

window.edgeloopWire = page;
document.body.dataset.ready = '1';
