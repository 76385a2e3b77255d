import { indexedDbStore, inlineHost, TelemetryCollector, workerHost, type BackendName, type EngineHost, type Model, type ModelEvent, type Outputs } from '@edgeloop/runtime';
import { openModel } from '../../packages/runtime/src/engine/open-model.js';
import { feedsFor, formats, modelBytes, tfjsWasmPaths, type ModelKey } from './models.js';

const cache = indexedDbStore({ name: 'edgeloop-bench-cache' });
const telemetry = new TelemetryCollector({ app: 'bench', baseUrl: new URL('http://127.0.0.1:9/'), fetch: globalThis.fetch.bind(globalThis) });
const models = new Map<string, Model>();
const events: ModelEvent[] = [];
let sharedHost: EngineHost | undefined;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const digest = (outputs: Outputs) => Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, { dims: [...t.dims], data: Array.from(t.data as Float32Array) }]));

/** Opens a model through the runtime's real path (host + engine + Model), bytes already verified. */
async function open(id: string, key: ModelKey, options: { host?: 'worker' | 'main' | 'crash'; backends?: BackendName[]; worker?: 'shared' | 'own'; bytes?: { model: ArrayBuffer; weights: ArrayBuffer[] } } = {}) {
  const host =
    options.host === 'main' ? inlineHost()
    : options.host === 'crash' ? workerHost({ createWorker: () => new Worker(new URL('./crash-worker.ts', import.meta.url), { type: 'module' }) })
    : (sharedHost ??= workerHost());
  const bytes = options.bytes ?? (await modelBytes(key));
  const files = new Map<string, ArrayBuffer>([['m'.repeat(64), bytes.model], ...bytes.weights.map((w, i) => [String(i).repeat(64), w] as [string, ArrayBuffer])]);
  const started = performance.now();
  const model = await openModel({
    release: { model: key, version: '1.0.0', releaseId: `${key}@1`, format: options.host === 'crash' ? 'onnx' : formats[key], files: [...files.entries()].map(([sha256, b], i) => ({ role: i === 0 ? 'model' : 'weights', sha256, length: b.byteLength, url: 'x' })) } as never,
    files, source: 'network', host, telemetry, startedAt: started, downloadMs: 0,
    backends: options.backends ?? ['webgpu', 'wasm'],
    backendOptions: { wasm: { tfjsWasmPaths } },
    ...(options.worker && { worker: options.worker }),
    onEvent: (e) => events.push(e),
  });
  models.set(id, model);
  return { backend: model.backend, signature: model.signature, skipped: model.skippedBackends, ms: performance.now() - started };
}

async function run(id: string, key: ModelKey, times = 1) {
  const model = models.get(id)!;
  const latencies: number[] = [];
  let last: Outputs = {};
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    last = await model.run(feedsFor(key));
    latencies.push(performance.now() - started);
  }
  return { medianMs: median(latencies), outputs: digest(last), backend: model.backend };
}

/** The baseline: a plain worker calling the engine directly. */
async function openRaw(key: ModelKey) {
  const worker = new Worker(new URL('./raw-worker.ts', import.meta.url), { type: 'module' });
  const call = (msg: unknown, transfer: Transferable[] = []) =>
    new Promise<{ ok: boolean; error?: string; outputs?: Record<string, { dims: number[]; data: Float32Array }> }>((resolve) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.postMessage(msg, transfer);
    });
  const bytes = await modelBytes(key);
  const opened = await call({ type: 'open', format: formats[key], ...bytes, tfjsWasmPaths }, [bytes.model, ...bytes.weights]);
  if (!opened.ok) throw new Error(opened.error);
  return {
    async run() {
      const result = await call({ type: 'run', feeds: feedsFor(key) });
      if (!result.ok) throw new Error(result.error);
      return result.outputs!;
    },
    terminate: () => worker.terminate(),
  };
}

declare global {
  interface Window {
    edgeloopBench: typeof api & typeof timing;
  }
}
const api = {
  open,
  run,
  openRaw,
  modelBytes,
  events: () => events,
  capabilities: () => (sharedHost ??= workerHost()).capabilities(),
  dispose: (id: string) => models.get(id)!.dispose(),
  runModel: (id: string, feeds: Parameters<Model['run']>[0]) => models.get(id)!.run(feeds),
  /** Runtime vs raw, alternating so drift hits both alike; returns both medians. */
  async compare(key: ModelKey, runs: number) {
    await open(`cmp-${key}`, key, { backends: ['wasm'], worker: 'own' });
    const raw = await openRaw(key);
    const model = models.get(`cmp-${key}`)!;
    for (let i = 0; i < 3; i++) await model.run(feedsFor(key)), await raw.run();
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < runs; i++) {
      const feedsA = feedsFor(key);
      let t = performance.now();
      await model.run(feedsA);
      a.push(performance.now() - t);
      t = performance.now();
      await raw.run();
      b.push(performance.now() - t);
    }
    raw.terminate();
    await model.dispose();
    return { runtimeMs: median(a), rawMs: median(b) };
  },
};
const timing = {
  /**
   * Time to first inference in the shared worker, its engine already started by an earlier model
   * (a fresh worker's WASM compile would drown the difference): bytes from IndexedDB vs in memory.
   */
  async ttfi(key: ModelKey, source: 'memory' | 'cache') {
    if (!models.has('ttfi-warm')) await open('ttfi-warm', key, { backends: ['wasm'] });
    const inMemory = await modelBytes(key);
    // The runtime's own store (chunked IndexedDB), as a cached model is read on a warm start.
    const files = [inMemory.model, ...inMemory.weights].map((bytes, i) => ({ sha256: `${key}-${i}`.padEnd(64, '0'), bytes }));
    if (source === 'cache') {
      for (const file of files) {
        if ((await cache.getFile(file.sha256))?.complete) continue;
        await cache.appendFile({ sha256: file.sha256, length: file.bytes.byteLength, etag: null }, 0, new Uint8Array(file.bytes), { complete: true });
      }
    }
    const started = performance.now();
    const read = async () => {
      const [model, ...weights] = await Promise.all(files.map(async (file) => (await cache.readFile(file.sha256))!));
      return { model: model!, weights };
    };
    const bytes = source === 'cache' ? await read() : inMemory;
    const id = `ttfi-${key}-${source}-${started}`;
    await open(id, key, { backends: ['wasm'], bytes });
    await models.get(id)!.run(feedsFor(key));
    const ms = performance.now() - started;
    await models.get(id)!.dispose();
    return ms;
  },
  /** The longest main-thread task (Long Tasks API) while a model loads and runs `runs` times in the worker. */
  async longestTask(key: ModelKey, runs: number) {
    const durations: number[] = [];
    const observer = new PerformanceObserver((list) => list.getEntries().forEach((entry) => durations.push(entry.duration)));
    observer.observe({ type: 'longtask' });
    const id = `lt-${key}-${performance.now()}`;
    await open(id, key, { backends: ['wasm'], worker: 'own' });
    for (let i = 0; i < runs; i++) await models.get(id)!.run(feedsFor(key));
    await new Promise((resolve) => setTimeout(resolve, 100));
    observer.disconnect();
    await models.get(id)!.dispose();
    return { longestMs: Math.max(0, ...durations), longTasks: durations.length };
  },
};
window.edgeloopBench = { ...api, ...timing } as typeof api & typeof timing;
document.body.dataset.ready = '1';
