import { createRuntime, indexedDbTelemetryStorage, tensor, type EngineHost, type Model, type Runtime } from '@edgeloop/runtime';
import type { TelemetryPage } from './page-api.js';

/** An engine host that echoes its input: the test is about telemetry, not inference. */
const echo: EngineHost = {
  async createSession() {
    const spec = { dtype: 'float32' as const, dims: [null] };
    return { id: 1, backend: 'wasm', signature: { inputs: [{ name: 'x', ...spec }], outputs: [{ name: 'y', ...spec }] }, skipped: [], createMs: 0 };
  },
  async run(_id, feeds) {
    return { outputs: { y: feeds.x! }, backend: 'wasm', events: [] };
  },
  async release() {},
  async capabilities() {
    throw new Error('not probed here');
  },
};

let offset = 0;
let runtime: Runtime | undefined;
let model: Model | undefined;

const page: TelemetryPage = {
  async start(publicKey) {
    runtime = createRuntime({
      serverUrl: new URL('/', location.href).href,
      app: 'demo',
      trust: { publicKeys: [publicKey] },
      host: echo,
      telemetry: { now: () => Date.now() + offset },
    });
    model = await runtime.load('vad', { telemetry: { report: [{ name: 'x.mean', range: [0, 1] }] } });
    return { version: model.version };
  },
  setClockOffset(offsetMs) {
    offset = offsetMs;
  },
  async run(times) {
    for (let i = 0; i < times; i++) await model!.run({ x: tensor('float32', Float32Array.of(0.25, 0.75), [2]) });
  },
  flush: () => runtime!.flush(),
  pending: () => runtime!.telemetry.pending(),
  async budget() {
    const storage = indexedDbTelemetryStorage();
    const { budget } = await storage.read('demo');
    storage.close?.();
    return budget;
  },
};

window.edgeloopTelemetry = page;
document.body.dataset.ready = '1';
