import { isName, modelFile, NAME_RULE, type Manifest, type ModelRelease } from '@edgeloop/protocol';
import { downloadFile } from './delivery/download.js';
import { fetchManifest } from './delivery/manifest-client.js';
import type { BackendName, EngineHost } from './engine/engine-host.js';
import { RuntimeError } from './errors.js';
import { inlineHost } from './host/inline-host.js';
import { workerHost, type WorkerEngineHost } from './host/worker-host.js';
import { Model, type ModelSource } from './model.js';
import { indexedDbStore } from './storage/indexeddb-store.js';
import type { CachedRelease, ModelStore } from './storage/model-store.js';
import { TelemetryCollector, type FlushResult } from './telemetry/collector.js';

export interface RuntimeOptions {
  /** Base URL of the update server, e.g. `https://models.example.com/`. */
  serverUrl: string | URL;
  /** The app whose manifest this runtime follows. */
  app: string;
  /** Where models are cached. Default: IndexedDB (`indexedDbStore()`). */
  storage?: ModelStore;
  /**
   * Where inference runs: `worker` (default where `Worker` exists) keeps the page responsive;
   * `main-thread` runs on the calling thread; or pass an {@link EngineHost}.
   */
  host?: 'worker' | 'main-thread' | EngineHost;
  /** Backends to try, in order. Default `['wasm']`. */
  backends?: readonly BackendName[];
  /** URL prefix for onnxruntime-web's .wasm files when they are not served next to its module. */
  wasmPaths?: string;
  /** The fetch to use; default the global one. */
  fetch?: typeof fetch;
}

export interface LoadOptions {
  signal?: AbortSignal;
}

export interface Runtime {
  /**
   * Loads the current release of `model` from the app's manifest: from the cache when it is
   * current, downloaded and verified otherwise, or the cached release when the server is unreachable.
   */
  load(model: string, options?: LoadOptions): Promise<Model>;
  /** Sends the telemetry recorded so far. Never throws; failures are kept for the next flush. */
  flush(): Promise<FlushResult>;
  /** The telemetry collector, to inspect what is pending. */
  readonly telemetry: TelemetryCollector;
  /** Stops the worker and closes storage; loaded models stop working. */
  dispose(): void;
}

/**
 * Creates a runtime for one app on one update server.
 * @example
 * const runtime = createRuntime({ serverUrl: 'http://127.0.0.1:8787/', app: 'demo' });
 * const vad = await runtime.load('vad');
 * const out = await vad.run(feeds);
 */
export function createRuntime(options: RuntimeOptions): Runtime {
  const baseUrl = parseBaseUrl(options.serverUrl);
  if (!isName(options.app)) throw new RuntimeError('invalid_argument', `app must be ${NAME_RULE}; got ${JSON.stringify(options.app)}`);
  const app = options.app;
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const backends = options.backends ?? ['wasm'];
  if (backends.length === 0) throw new RuntimeError('invalid_argument', 'backends must name at least one backend, e.g. ["wasm"]');
  const telemetry = new TelemetryCollector({ app, baseUrl, fetch: fetchImpl });
  let store: ModelStore | undefined = options.storage;
  let host: EngineHost | undefined = typeof options.host === 'object' ? options.host : undefined;

  // Storage and the worker are created on first load, not at construction: nothing is touched
  // (or detected) until the app asks for a model.
  const getStore = () => (store ??= indexedDbStore());
  const getHost = () => {
    if (host) return host;
    const mode = options.host ?? (typeof Worker === 'undefined' ? 'main-thread' : 'worker');
    host = mode === 'worker' ? workerHost() : inlineHost();
    return host;
  };

  async function resolveRelease(name: string, signal?: AbortSignal): Promise<{ release: ModelRelease; cached: CachedRelease | null; offline: RuntimeError | null }> {
    const cachedPromise = getStore().getActive(app, name);
    let manifest: Manifest;
    try {
      manifest = (await fetchManifest(baseUrl, app, getStore(), fetchImpl, signal)).manifest;
    } catch (error) {
      const cached = await cachedPromise;
      // Unreachable server: run what is cached. Any other failure is the app's to see.
      if (error instanceof RuntimeError && error.code === 'network' && cached) {
        return { release: cached.release, cached, offline: error };
      }
      if (error instanceof RuntimeError && error.code === 'network') {
        throw new RuntimeError('network', `${error.message}; model "${name}" is not cached yet, so it cannot run offline`, { cause: error });
      }
      throw error;
    }
    const release = manifest.models[name];
    if (!release) {
      const available = Object.keys(manifest.models);
      throw new RuntimeError(
        'not_found',
        `app "${app}" has no model "${name}"; its manifest lists ${available.length > 0 ? available.map((m) => `"${m}"`).join(', ') : 'no models'}`,
      );
    }
    const cached = await cachedPromise;
    return { release, cached: cached?.release.releaseId === release.releaseId ? cached : null, offline: null };
  }

  return {
    telemetry,

    async load(name, loadOptions = {}) {
      if (!isName(name)) throw new RuntimeError('invalid_argument', `model name must be ${NAME_RULE}; got ${JSON.stringify(name)}`);
      const started = performance.now();
      const { release, cached } = await resolveRelease(name, loadOptions.signal);
      const main = modelFile(release);
      let bytes: ArrayBuffer;
      let source: ModelSource;
      let downloadMs = 0;
      if (cached) {
        bytes = cached.files.get(main.sha256)!;
        source = 'cache';
      } else {
        const downloadStarted = performance.now();
        const files = new Map<string, ArrayBuffer>();
        for (const file of release.files) {
          const url = new URL(file.url, baseUrl).href;
          files.set(file.sha256, await downloadFile(url, file, { fetch: fetchImpl, ...(loadOptions.signal && { signal: loadOptions.signal }) }));
        }
        downloadMs = performance.now() - downloadStarted;
        await getStore().activate(app, release, files);
        bytes = files.get(main.sha256)!;
        source = 'network';
      }
      // The engine takes ownership of the buffer it is given; keep the stored copy intact.
      const session = await getHost().createSession({
        format: release.format,
        bytes: bytes.slice(0),
        backends,
        ...(options.wasmPaths !== undefined && { wasmPaths: options.wasmPaths }),
      });
      return new Model({
        name,
        version: release.version,
        releaseId: release.releaseId,
        format: release.format,
        source,
        timings: { loadMs: performance.now() - started, downloadMs, sessionMs: session.createMs },
        host: getHost(),
        session,
        telemetry,
      });
    },

    flush: () => telemetry.flush(),

    dispose() {
      if (host && 'terminate' in host) (host as WorkerEngineHost).terminate();
      store?.close();
    },
  };
}

function parseBaseUrl(serverUrl: string | URL): URL {
  let url: URL;
  try {
    url = new URL(serverUrl);
  } catch {
    throw new RuntimeError('invalid_argument', `serverUrl must be an absolute URL such as "https://models.example.com/"; got ${JSON.stringify(String(serverUrl))}`);
  }
  // Relative artifact URLs resolve against the base, so it must end in "/".
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}
