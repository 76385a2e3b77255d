import { createRuntime, indexedDbStore, workerHost, type EngineHost, type LoadProgress, type RuntimeOptions } from '@edgeloop/runtime';
import type { DeliveryPage, LoadRequest } from './page-api.js';

/**
 * An engine host that creates no session: the delivery benchmark times download + verify + store
 * alone, without engine start-up in the way.
 */
const noEngine: EngineHost = {
  async createSession() {
    const spec = { dtype: 'float32' as const, dims: [null] };
    return { id: 1, backend: 'wasm', signature: { inputs: [{ name: 'x', ...spec }], outputs: [{ name: 'y', ...spec }] }, skipped: [], createMs: 0 };
  },
  async run() {
    throw new Error('the delivery page runs no inference');
  },
  async release() {},
  async capabilities() {
    throw new Error('not probed here');
  },
};

let sharedWorker: EngineHost | undefined;
const runtimes = new Map<string, ReturnType<typeof createRuntime>>();
const activations: unknown[] = [];

function runtimeFor(request: LoadRequest) {
  const key = JSON.stringify([request.serverUrl, request.dbName, request.engine, request.activation, request.wholeFileMaxBytes]);
  let runtime = runtimes.get(key);
  if (!runtime) {
    const options: RuntimeOptions = {
      serverUrl: request.serverUrl,
      app: request.app ?? 'demo',
      trust: { publicKeys: [request.publicKey] },
      storage: indexedDbStore({ name: request.dbName ?? 'edgeloop' }),
      host: request.engine === 'none' ? noEngine : (sharedWorker ??= workerHost()),
      backends: ['wasm'],
      ...(request.activation && { activation: request.activation }),
      ...(request.wholeFileMaxBytes !== undefined && { wholeFileMaxBytes: request.wholeFileMaxBytes }),
    };
    runtime = createRuntime(options);
    runtime.addEventListener('activated', (event) => activations.push(event.detail));
    runtimes.set(key, runtime);
  }
  return runtime;
}

const page: DeliveryPage = {
  async load(request) {
    const progress: LoadProgress[] = [];
    const started = performance.now();
    try {
      const model = await runtimeFor(request).load(request.model, { onProgress: (p) => progress.push(p) });
      const loadedMs = performance.now() - started;
      let firstRunMs: number | null = null;
      if (request.feeds) {
        const feeds = Object.fromEntries(Object.entries(request.feeds).map(([name, t]) => [name, { dtype: 'float32' as const, dims: t.dims, data: new Float32Array(t.dims.reduce((a, b) => a * b, 1)).fill(t.fill) }]));
        await model.run(feeds);
        firstRunMs = performance.now() - started;
      }
      return {
        ok: true,
        version: model.version,
        source: model.source,
        manifest: model.delivery.manifest,
        problem: model.delivery.problem ? { code: model.delivery.problem.code, message: model.delivery.problem.message } : null,
        loadedMs,
        downloadMs: model.timings.downloadMs,
        firstRunMs,
        progress: progress.map((p) => ({ loaded: p.loaded, total: p.total, fromCache: p.fromCache })),
      };
    } catch (error) {
      const e = error as { code?: string; message?: string };
      return { ok: false, error: { code: e.code ?? 'error', message: e.message ?? String(error) }, progress: progress.map((p) => ({ loaded: p.loaded, total: p.total, fromCache: p.fromCache })) };
    }
  },

  async plainFetch(url, cache) {
    // Same footing as the runtime, whose manifest request opens the connection first.
    await (await fetch(new URL('/v1/keys', url), { cache: 'no-store' })).arrayBuffer();
    const started = performance.now();
    // A plain fetch(url) uses the HTTP cache like the runtime does (the context's cache is empty);
    // `cache: 'no-store'` skips writing it, for comparison.
    const bytes = await (await fetch(url, cache ? { cache } : undefined)).arrayBuffer();
    return { ms: performance.now() - started, bytes: bytes.byteLength };
  },

  async firstRunFromMemory(url, feeds) {
    const bytes = await (await fetch(url, { cache: 'no-store' })).arrayBuffer();
    const host = (sharedWorker ??= workerHost());
    const started = performance.now();
    const session = await host.createSession({ format: 'onnx', bytes, backends: ['wasm'] });
    const input = Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, { dtype: 'float32' as const, dims: t.dims, data: new Float32Array(t.dims.reduce((a, b) => a * b, 1)).fill(t.fill) }]));
    await host.run(session.id, input);
    const ms = performance.now() - started;
    await host.release(session.id);
    return ms;
  },

  async storedState(dbName = 'edgeloop') {
    const store = indexedDbStore({ name: dbName });
    const pointers = await store.getModel('demo', 'vad');
    const usage = await store.usage();
    store.close();
    return { active: pointers.active?.version ?? null, previous: pointers.previous?.version ?? null, usage };
  },

  async partialFiles(dbName = 'edgeloop') {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(dbName);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const getAll = <T>(store: 'files' | 'chunks') =>
      new Promise<T[]>((resolve) => {
        const request = db.transaction(store).objectStore(store).getAll();
        request.onsuccess = () => resolve(request.result as T[]);
      });
    const files = await getAll<{ sha256: string; received: number; complete: boolean }>('files');
    const chunks = await getAll<{ sha256: string }>('chunks');
    db.close();
    return files.map((f) => ({ received: f.received, complete: f.complete, chunks: chunks.filter((c) => c.sha256 === f.sha256).length }));
  },

  activations: () => activations,

  /** Starts the engine worker and its onnxruntime-web module, so timings compare sessions, not worker start-up. */
  async warmWorker() {
    const host = (sharedWorker ??= workerHost());
    await host.capabilities();
  },

  /** Makes navigator.storage.estimate() report `free` bytes of room (plenty, when estimates are fuzzed; little, when quota is low). */
  estimateFree(free) {
    const real = StorageManager.prototype.estimate.bind(navigator.storage);
    Object.defineProperty(navigator.storage, 'estimate', {
      value: async () => {
        const { usage = 0 } = await real();
        return { quota: usage + free, usage };
      },
      configurable: true,
    });
  },

  /**
   * Makes IndexedDB refuse chunk writes past `bytes` more with the error a full quota raises
   * (DOMException QuotaExceededError) — a fault injection for builds where the DevTools quota
   * override has no effect.
   */
  limitIndexedDbWrites(bytes) {
    let left = bytes;
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function limitedPut(this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
      const bytes = (value as { bytes?: ArrayBuffer | Blob } | null)?.bytes;
      const size = bytes instanceof Blob ? bytes.size : (bytes?.byteLength ?? 0);
      if (this.name === 'chunks' && size > left) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      left -= size;
      return put.call(this, value, key);
    } as typeof put;
  },
};

window.edgeloopDelivery = page;
document.body.dataset.ready = '1';

declare global {
  interface Window {
    edgeloopDelivery: DeliveryPage;
  }
}
