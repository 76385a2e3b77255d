import { createRuntime, indexedDbStore, tensor, workerHost, type EngineHost, type Model, type Runtime } from '@edgeloop/runtime';
import { goldenFrame, type HealthPage, type HealthView } from './page-api.js';

const worker = workerHost();
const sessions: Array<{ label: string; backend: string }> = [];
/** The shared worker, recording which release each session was created for. */
const host: EngineHost = {
  async createSession(request) {
    const info = await worker.createSession(request);
    sessions.push({ label: request.label ?? '?', backend: info.backend });
    return info;
  },
  run: (id, feeds) => worker.run(id, feeds),
  release: (id) => worker.release(id),
  capabilities: () => worker.capabilities(),
};
const events: Array<{ type: string; detail: Record<string, unknown> }> = [];
let runtime: Runtime | undefined;
let model: Model | undefined;

const view = (m: Model): HealthView => {
  const { state, version, reason, detail, revertMs, refusedBackends, inferences } = m.health;
  return { state, version, ...(reason && { reason }), ...(detail && { detail }), ...(revertMs !== undefined && { revertMs }), ...(refusedBackends && { refusedBackends }), ...(inferences !== undefined && { inferences }) };
};

const frame = (seed: number) => {
  const { input, state, sr } = goldenFrame();
  for (let i = 0; i < input.length; i++) input[i] = input[i]! * Math.cos(seed);
  return { input: tensor('float32', input, [1, 576]), state: tensor('float32', state, [2, 1, 128]), sr: tensor('int64', sr, []) };
};

const page: HealthPage = {
  async load(request) {
    await runtime?.dispose();
    runtime = createRuntime({ serverUrl: request.serverUrl, app: 'demo', trust: { publicKeys: [request.publicKey] }, storage: indexedDbStore({ name: request.dbName }), host, backends: request.backends });
    for (const type of ['trial-start', 'trial-commit', 'trial-revert'] as const) runtime.addEventListener(type, (event) => events.push({ type, detail: event.detail as Record<string, unknown> }));
    try {
      model = await runtime.load(request.model);
      if (request.runAfterLoad) await model.run(frame(0));
      const problem = model.delivery.problem;
      return { ok: true, version: model.version, backend: model.backend, health: view(model), problem: problem ? { code: problem.code, message: problem.message } : null };
    } catch (error) {
      const e = error as { code?: string; message?: string };
      return { ok: false, error: { code: e.code ?? 'error', message: e.message ?? String(error) } };
    }
  },
  async run(times) {
    const versions: string[] = [];
    for (let i = 0; i < times; i++) {
      await model!.run(frame(i));
      versions.push(model!.version);
    }
    return { versions, health: view(model!) };
  },
  events: () => events,
  sessions: () => sessions,
  async outputs(modelUrl, backend) {
    const bytes = await (await fetch(modelUrl)).arrayBuffer();
    const info = await worker.createSession({ format: 'onnx', bytes, backends: [backend] });
    if (info.backend !== backend) throw new Error(`asked for ${backend}, got ${info.backend}`);
    const { input, state, sr } = goldenFrame();
    const { outputs } = await worker.run(info.id, { input: tensor('float32', input, [1, 576]), state: tensor('float32', state, [2, 1, 128]), sr: tensor('int64', sr, []) });
    await worker.release(info.id);
    return { output: Array.from(outputs.output!.data as Float32Array), stateN: Array.from(outputs.stateN!.data as Float32Array) };
  },
  async dispose() {
    await runtime?.dispose();
    runtime = undefined;
  },
};

window.edgeloopHealth = page;
document.body.dataset.ready = '1';
