import { isName, NAME_RULE, type DeviceContext } from '@edgeloop/protocol';
import { localStorageIds, memoryIds, rolloutChooser, type InstallIdStorage, type RolloutChooser } from './rollout/index.js';
import { Delivery, type ActivationPolicy, type LoadProgress } from './delivery/delivery.js';
import { DEFAULT_MAX_MANIFEST_BYTES } from './delivery/manifest-client.js';
import type { TrustOptions } from './delivery/trust-options.js';
import { UpdatePoller, type UpdatePolicy } from './delivery/update-poller.js';
import type { Capabilities } from './capabilities/capabilities.js';
import { checkBackendList, DEFAULT_BACKENDS, type BackendName, type BackendOptions } from './engine/backends.js';
import type { EngineHost } from './engine/engine-host.js';
import { RuntimeError } from './errors.js';
import { HealthGate } from './health/health-gate.js';
import { webLocksLiveness, type Liveness } from './health/liveness.js';
import type { HealthCheck } from './health/model-health.js';
import { inlineHost } from './host/inline-host.js';
import { workerHost } from './host/worker-host.js';
import type { Model, ModelEvent } from './model.js';
import { indexedDbStore } from './storage/indexeddb-store.js';
import type { ModelStore } from './storage/model-store.js';
import { privateFetch } from './private-fetch.js';
import { TelemetryCollector, type FlushResult, type TelemetryOptions } from './telemetry/collector.js';
import { telemetryConfigSource } from './telemetry/config-source.js';
import { checkReportable, type ModelTelemetryOptions } from './telemetry/reportable-features.js';

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
  /** Backends to try, in order; each model may override. Default `['webgpu', 'wasm']`. */
  backends?: readonly BackendName[];
  /** Settings per backend, e.g. `{ wasm: { numThreads: 1 } }`; each model may override. */
  backendOptions?: BackendOptions;
  /** URL prefix for onnxruntime-web's .wasm files; shorthand for `backendOptions.wasm.wasmPaths`. */
  wasmPaths?: string;
  /** Told when a model changes backend after a device loss, or its worker was restarted. */
  onEvent?: (event: ModelEvent) => void;
  /**
   * The fetch to use; default the global one. Every request is made with `credentials: 'omit'` and
   * `referrerPolicy: 'no-referrer'` whatever fetch is given.
   */
  fetch?: typeof fetch;
  /**
   * Whom to trust to sign manifests: `{ publicKeys: [...] }` pins the server's Ed25519 key(s)
   * (base64, printed by `edgeloop serve`); `{ trustOnFirstUse: true }` pins the first signer seen.
   */
  trust: TrustOptions;
  /** The channel this device follows (e.g. `beta`); default `stable`. */
  channel?: string;
  /** When a new release goes live: during `load()` (`on-load`, default) or on the next load (`next-load`). */
  activation?: ActivationPolicy;
  /** Background update checks after the first load; off unless `intervalMs` is set. */
  updates?: UpdatePolicy;
  /** Manifests larger than this are refused unread. Default 1 MiB. */
  maxManifestBytes?: number;
  /**
   * Model files up to this many bytes are downloaded whole by the browser (`response.blob()`): the
   * bytes are not copied through the page on their way to IndexedDB, a dropped connection is resumed
   * by the browser's HTTP cache, and progress is reported when the download starts and ends. Larger
   * files stream through the page with byte-level progress and resume from what IndexedDB holds.
   * Default 16 MiB in a browser with a store that keeps Blobs by reference (IndexedDB), else 0
   * (always stream). See docs/delivery.md.
   */
  wholeFileMaxBytes?: number;
  /** The clock (ms since epoch) used for manifest expiry; for tests. */
  now?: () => number;
  /**
   * Staged rollouts are evaluated on the device: `ids` keeps the random install id (default: the
   * store's — a file in `fileSystemStore`'s directory — else localStorage, else memory), `device`
   * is what targeting rules may test (see detectDeviceContext).
   */
  rollout?: { ids?: InstallIdStorage; device?: DeviceContext };
  /** Telemetry storage, the device's ε cap, offline queue and sending (docs/telemetry.md). */
  telemetry?: TelemetryOptions;
  /**
   * The app's own check before a release on trial commits (after the signed policy's early-life
   * checks pass): `true` commits, `false` or a reason reverts with reason `app_check`. Each model may
   * override it. See docs/runtime.md#health-gate.
   */
  healthCheck?: HealthCheck;
}

export interface LoadOptions {
  signal?: AbortSignal;
  /** Backends to try for this model, in order; default the runtime's. */
  backends?: readonly BackendName[];
  /** Settings per backend for this model; default the runtime's. */
  backendOptions?: BackendOptions;
  /** `shared` (default): the runtime's shared worker. `own`: a worker for this model alone, so it never waits for another. */
  worker?: 'shared' | 'own';
  /** Overrides the runtime's activation policy for this load. */
  activation?: ActivationPolicy;
  /** Download progress: bytes loaded and total, overall and per file, and how many came from the cache. */
  onProgress?: (progress: LoadProgress) => void;
  /** The features this model's telemetry may report, with their ranges (docs/telemetry.md). */
  telemetry?: ModelTelemetryOptions;
  /** This model's own check before a trial commits; default the runtime's `healthCheck`. */
  healthCheck?: HealthCheck;
}

export interface Runtime {
  /**
   * Loads the current release of `model` from the app's manifest: from the cache when it is
   * current, downloaded and verified otherwise, or the cached release when the server is unreachable.
   */
  load(model: string, options?: LoadOptions): Promise<Model>;
  /** Sends the telemetry recorded so far. Never throws; failures are kept for the next flush. */
  flush(): Promise<FlushResult>;
  /** The telemetry collector: `pending()` tells what is recorded and not yet delivered. */
  readonly telemetry: TelemetryCollector;
  /** What the engines' thread can do (WebGPU adapter and features, threads, isolation), probed once. */
  capabilities(): Promise<Capabilities>;
  /**
   * Checks the manifest now and prefetches new releases of the models loaded so far (staged, not
   * activated: the next `load()` uses them). Resolves with the models that have an update ready;
   * rejects when the server cannot be reached (`network`) or its manifest is not trusted or has
   * expired (`untrusted`) — background checks (`updates`) back off while that lasts.
   */
  checkForUpdates(options?: { signal?: AbortSignal }): Promise<string[]>;
  /**
   * Events: `activated` (a release went live here or in another tab), `update-ready`,
   * `update-failed`, `manifest-stale`, `manifest-rejected`, `storage-cleaned`, `profile-rejected`
   * (a release's reference profile did not match its signed length and sha256, or was invalid),
   * and the health gate's `trial-start`, `trial-commit`, `trial-revert` (with `detail.reason`);
   * each a CustomEvent with `detail`.
   */
  addEventListener(type: RuntimeEventType, listener: (event: CustomEvent) => void): void;
  removeEventListener(type: RuntimeEventType, listener: (event: CustomEvent) => void): void;
  /**
   * Stops the worker and closes storage; loaded models stop working. Resolves once what the health
   * gate measured is stored and this runtime's trial leases are given back (a Node process should
   * await it before exiting: a process that ends holding a lease counts as a crash of the trial).
   */
  dispose(): Promise<void>;
}

export type RuntimeEventType =
  | 'activated'
  | 'update-ready'
  | 'update-failed'
  | 'manifest-stale'
  | 'manifest-rejected'
  | 'storage-cleaned'
  | 'profile-rejected'
  | 'trial-start'
  | 'trial-commit'
  | 'trial-revert';

/**
 * Creates a runtime for one app on one update server.
 * @example
 * const runtime = createRuntime({ serverUrl: 'http://127.0.0.1:8787/', app: 'demo', trust: { publicKeys: [SERVER_KEY] } });
 * const vad = await runtime.load('vad');
 * const out = await vad.run(feeds);
 */
export function createRuntime(options: RuntimeOptions): Runtime {
  const baseUrl = parseBaseUrl(options.serverUrl);
  if (!isName(options.app)) throw new RuntimeError('invalid_argument', `app must be ${NAME_RULE}; got ${JSON.stringify(options.app)}`);
  const app = options.app;
  const fetchImpl = privateFetch(options.fetch ?? globalThis.fetch.bind(globalThis));
  const backends = options.backends ?? DEFAULT_BACKENDS;
  checkBackendList(backends);
  const backendOptions: BackendOptions = options.wasmPaths === undefined
    ? (options.backendOptions ?? {})
    : { ...options.backendOptions, wasm: { wasmPaths: options.wasmPaths, ...options.backendOptions?.wasm } };
  const events = new EventTarget();
  // The telemetry config comes only from manifests Delivery verified (signature, freshness, channel).
  const telemetryConfig = telemetryConfigSource();
  const telemetry = new TelemetryCollector({
    app,
    baseUrl,
    fetch: fetchImpl,
    config: telemetryConfig.current,
    events,
    ...(options.telemetry && { settings: options.telemetry }),
  });
  let store: ModelStore | undefined = options.storage;
  let host: EngineHost | undefined = typeof options.host === 'object' ? options.host : undefined;

  // Storage and the worker are created on first load, not at construction: nothing is touched
  // (or detected) until the app asks for a model.
  const getStore = () => (store ??= indexedDbStore());
  if (options.channel !== undefined && !isName(options.channel)) {
    throw new RuntimeError('invalid_argument', `channel must be ${NAME_RULE}; got ${JSON.stringify(options.channel)}`);
  }
  if (!options.trust || (!('publicKeys' in options.trust) && !('trustOnFirstUse' in options.trust))) {
    throw new RuntimeError('invalid_argument', 'trust must be { publicKeys: [...] } (the server\'s Ed25519 public keys, base64) or { trustOnFirstUse: true }');
  }
  const loaded = new Set<string>();
  let gate: HealthGate | undefined;
  let liveness: Liveness | null | undefined;
  const getGate = () =>
    (gate ??= new HealthGate({
      app,
      store: getStore,
      events,
      telemetry,
      now: options.now ?? Date.now,
      // Who vouches a trial's runtime still runs: the store (filesystem: by process), else Web Locks.
      liveness: () => (liveness ??= getStore().liveness ?? (globalThis.navigator?.locks ? webLocksLiveness(globalThis.navigator.locks) : null)),
      ...(options.healthCheck && { healthCheck: options.healthCheck }),
    }));
  let delivery: Delivery | undefined;
  const getDelivery = () =>
    (delivery ??= new Delivery({
      app,
      baseUrl,
      store: getStore,
      fetch: fetchImpl,
      trust: options.trust,
      now: options.now ?? Date.now,
      maxManifestBytes: options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES,
      events,
      storageManager: globalThis.navigator?.storage ?? null,
      locks: globalThis.navigator?.locks ?? null,
      broadcast: typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel(`edgeloop:${app}`),
      choose: (entry) => getChooser().choose(entry),
      channel: options.channel ?? 'stable',
      onManifest: telemetryConfig.update,
      settle: (model, record) => getGate().settle(model, record),
      ...(options.wholeFileMaxBytes !== undefined && { wholeFileMaxBytes: options.wholeFileMaxBytes }),
    }));
  let chooser: RolloutChooser | undefined;
  // The install id stays on the device: where the store keeps it (the filesystem store: a file in
  // its directory), else localStorage, else memory (a new bucket per start; pass `rollout.ids`).
  const getChooser = () =>
    (chooser ??= rolloutChooser({
      ids: options.rollout?.ids ?? getStore().installIds ?? (typeof localStorage === 'undefined' ? memoryIds() : localStorageIds()),
      ...(options.rollout?.device && { device: options.rollout.device }),
    }));
  const checkForUpdates = async (checkOptions: { signal?: AbortSignal } = {}) => {
    const ready: string[] = [];
    for (const name of loaded) {
      if (await getDelivery().prefetch(name, checkOptions.signal)) ready.push(name);
    }
    return ready;
  };
  const poller = options.updates?.intervalMs ? new UpdatePoller(options.updates, checkForUpdates) : undefined;
  const getHost = () => {
    if (host) return host;
    const mode = options.host ?? (typeof Worker === 'undefined' ? 'main-thread' : 'worker');
    host = mode === 'worker' ? workerHost() : inlineHost();
    return host;
  };

  return {
    telemetry,

    async load(name, loadOptions = {}) {
      if (!isName(name)) throw new RuntimeError('invalid_argument', `model name must be ${NAME_RULE}; got ${JSON.stringify(name)}`);
      if (loadOptions.backends) checkBackendList(loadOptions.backends);
      checkReportable(name, loadOptions.telemetry?.report);
      const started = performance.now();
      const model = await getDelivery().acquire(
        name,
        {
          activation: loadOptions.activation ?? options.activation ?? 'on-load',
          ...(loadOptions.signal && { signal: loadOptions.signal }),
          ...(loadOptions.onProgress && { onProgress: loadOptions.onProgress }),
        },
        (release, files, source, meta) =>
          getGate()
            .open({
              release,
              files,
              source,
              meta,
              startedAt: started,
              host: getHost(),
              onEvent: (event) => {
                if (event.type === 'backend-lost') telemetry.backendLost(event.model, event.version, event.from);
                options.onEvent?.(event);
              },
              backends: loadOptions.backends ?? backends,
              backendOptions: loadOptions.backendOptions ?? backendOptions,
              ...(loadOptions.worker !== undefined && { worker: loadOptions.worker }),
              ...(loadOptions.telemetry && { telemetry: loadOptions.telemetry }),
              ...(loadOptions.healthCheck && { healthCheck: loadOptions.healthCheck }),
            })
            .then((opened) => {
              telemetry.loaded(opened, { cohort: meta.cohort, profile: release.profile }, loadOptions.telemetry);
              return opened;
            }),
      );
      // Golden checks run here, before the model answers its first real call (docs/runtime.md#health-gate).
      await getGate().begin(model);
      loaded.add(name);
      poller?.start();
      return model;
    },

    checkForUpdates,

    addEventListener: (type, listener) => events.addEventListener(type, listener as EventListener),
    removeEventListener: (type, listener) => events.removeEventListener(type, listener as EventListener),

    capabilities: () => getHost().capabilities(),

    flush: () => telemetry.flush(),

    dispose() {
      poller?.stop();
      delivery?.close();
      telemetry.dispose();
      host?.terminate?.();
      // The health gate stores what it measured and gives its leases back before storage closes.
      const stored = gate?.dispose() ?? Promise.resolve();
      return stored.finally(() => store?.close());
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
