import {
  ProtocolError,
  deviceRoutes,
  TrustError,
  parseManifest,
  repinKeys,
  type Selection,
  verifyManifestEnvelope,
  type Manifest,
  type ModelRelease,
  type TrustState,
} from '@edgeloop/protocol';
import { RuntimeError } from '../errors.js';
import type { ModelRecord, ModelStore, NamedLocks, StoredFile } from '../storage/model-store.js';
import { DEFAULT_WHOLE_FILE_MAX_BYTES, downloadFile, type EarlyRequest, type FileProgress } from './download.js';
import { fetchManifest } from './manifest-client.js';
import { initialTrust, trustFirstSigner, type TrustOptions } from './trust-options.js';

/**
 * How fresh the manifest behind a load was:
 * - `current`: verified now (or confirmed by a 304);
 * - `offline`: the server could not be reached; the cached release runs;
 * - `stale`: the newest manifest has expired (freeze protection); the cached release runs;
 * - `rejected`: the server's manifest failed verification; the cached release runs.
 */
export type ManifestStatus = 'current' | 'offline' | 'stale' | 'rejected';

/**
 * When a new release goes live: `on-load` downloads it during `load()`; `next-load` never makes
 * `load()` wait for a download when a release is cached — the new one is prefetched and used the
 * next time the model is loaded.
 */
export type ActivationPolicy = 'on-load' | 'next-load';

export interface LoadProgress {
  model: string;
  /** Bytes of the release stored so far, all files together. */
  loaded: number;
  total: number;
  /** Of `loaded`, bytes that were already on the device. */
  fromCache: number;
  files: FileProgress[];
}

/** Opens verified release files in an engine; delivery activates a release only once this succeeds. */
export type OpenRelease<T> = (release: ModelRelease, files: ReadonlyMap<string, ArrayBuffer>, source: 'network' | 'cache', meta: AcquireMeta) => Promise<T>;

export interface AcquireMeta {
  manifest: ManifestStatus;
  /** Why the newest release is not the one running (offline, rejected manifest, failed download). */
  problem?: RuntimeError;
  /** A newer release exists and is being prefetched for the next load. */
  updatePending: boolean;
  /** Milliseconds spent downloading in this load (0 from cache). */
  downloadMs: number;
  /** The device's rollout cohort for this model, when a rollout is in progress (report it with telemetry). */
  cohort: Selection['cohort'];
  /** The release will be activated once it opens (it was just downloaded or staged), rather than being active already. */
  activating: boolean;
  /** The model's pointers and health-gate state this load decided on. */
  record: ModelRecord;
  /** Reads another stored release's verified files (the health gate opens the release a trial falls back to); null when any is missing. */
  readRelease: (release: ModelRelease) => Promise<Map<string, ArrayBuffer> | null>;
}

export interface DeliveryOptions {
  app: string;
  baseUrl: URL;
  store: () => ModelStore;
  fetch: typeof fetch;
  trust: TrustOptions;
  now: () => number;
  maxManifestBytes: number;
  events: EventTarget;
  /** `navigator.storage` where it exists: quota estimate and persistence. */
  storageManager: StorageManager | null;
  /**
   * `navigator.locks` where it exists: one tab downloads a file, the others wait and reuse it. A
   * store's own locks (the filesystem store's, which span processes) take precedence.
   */
  locks: NamedLocks | null;
  /** Tells other tabs of this app about activations. */
  broadcast: BroadcastChannel | null;
  /** The channel this device follows (`stable` by default). */
  channel: string;
  /** Evaluates a manifest entry's rollout plan and targeting on this device (@edgeloop/protocol's selectRelease). */
  choose: (entry: ModelRelease) => Promise<Selection>;
  /** Files up to this size are downloaded whole by the browser (see `RuntimeOptions.wholeFileMaxBytes`); default by store. */
  wholeFileMaxBytes?: number;
  /** Told of every manifest verified now (or confirmed current by a 304): telemetry takes its config from it. */
  onManifest?: (manifest: Manifest) => void;
  /**
   * Called with the model's stored record before anything is chosen or opened (the health gate
   * counts crashes of trials and reverts crash loops here); resolves with the record to decide on.
   */
  settle?: (model: string, record: ModelRecord) => Promise<ModelRecord>;
}

/** A request started ahead of the download that may use it; `cancel` aborts it unless it was taken. */
function earlyRequest(fetchImpl: typeof fetch, url: string, signal: AbortSignal | undefined): EarlyRequest {
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  let taken = false;
  const response = fetchImpl(url, { signal: controller.signal });
  response.catch(() => undefined);
  return {
    take() {
      taken = true;
      return response;
    },
    cancel() {
      signal?.removeEventListener('abort', onAbort);
      if (!taken) controller.abort();
    },
  };
}

function sameKeys(a: TrustState['keys'], b: TrustState['keys']): boolean {
  return a.length === b.length && a.every((key) => b.some((other) => other.keyId === key.keyId));
}

/** A page or a worker: a browser, whose HTTP cache resumes an interrupted whole-file download. */
const IN_BROWSER = 'document' in globalThis || 'WorkerGlobalScope' in globalThis;

/** Manifest verification, downloads, storage and activation: everything between the server and the engine. */
export class Delivery {
  readonly #o: DeliveryOptions;
  #persistRequested = false;
  readonly #prefetching = new Map<string, Promise<ModelRelease | null>>();
  #swept = false;

  constructor(options: DeliveryOptions) {
    this.#o = options;
    options.broadcast?.addEventListener('message', (event: MessageEvent) => {
      const data = event.data as { type?: string; model?: string; releaseId?: string } | null;
      if (data?.type === 'activated') options.events.dispatchEvent(new CustomEvent('activated', { detail: { ...data, remote: true } }));
    });
  }

  /** Stops listening to other tabs. */
  close(): void {
    this.#o.broadcast?.close();
  }

  /** Fetches and verifies the app's manifest; never throws for offline, stale or rejected — it says so. */
  async manifest(signal?: AbortSignal): Promise<{ manifest: Manifest | null; status: ManifestStatus; problem?: RuntimeError; saved?: Promise<void> }> {
    const { app, baseUrl } = this.#o;
    const store = this.#o.store();
    const state = await store.getAppState(app);
    // The app's pins apply to the stored state at once: an unpinned key stops signing for this device,
    // and a manifest it signed is not confirmed by a 304 either (no validator is sent).
    const pins = await initialTrust(this.#o.trust);
    let trust: TrustState | null = state?.trust ? (pins ? repinKeys(state.trust, pins) : state.trust) : pins;
    const repinned = state?.trust !== undefined && trust !== null && !sameKeys(state.trust.keys, trust.keys);
    let fetched;
    try {
      fetched = await fetchManifest(baseUrl, app, {
        fetch: this.#o.fetch,
        etag: state?.envelope && !repinned ? state.etag : null,
        maxBytes: this.#o.maxManifestBytes,
        channel: this.#o.channel,
        ...(signal && { signal }),
      });
    } catch (error) {
      const runtimeError = RuntimeError.fromUnknown(error, 'network');
      if (runtimeError.code === 'network') return { manifest: null, status: 'offline', problem: runtimeError };
      if (runtimeError.code === 'untrusted') return this.#rejected(runtimeError);
      throw runtimeError;
    }
    if (fetched.status === 'not-modified') {
      const stored = state?.envelope ? parseManifest((state.envelope as { signed: unknown }).signed) : null;
      if (!stored) throw new RuntimeError('server', 'the server answered 304 to a poll without a validator');
      if (Date.parse(stored.expires) <= this.#o.now()) return this.#stale(stored);
      this.#o.onManifest?.(stored);
      return { manifest: stored, status: 'current' };
    }
    if (!trust) {
      try {
        trust = await trustFirstSigner(fetched.envelope, new URL(deviceRoutes.keys(app), baseUrl).href, this.#o.fetch);
      } catch (error) {
        const runtimeError = RuntimeError.fromUnknown(error, 'untrusted');
        if (runtimeError.code === 'network') return { manifest: null, status: 'offline', problem: runtimeError };
        return this.#rejected(runtimeError);
      }
    }
    let verified;
    try {
      verified = await verifyManifestEnvelope(fetched.envelope, trust, new Date(this.#o.now()), { app, channel: this.#o.channel });
    } catch (error) {
      // Whatever is wrong with the server's answer, the cached release keeps running.
      if (error instanceof ProtocolError) {
        const reason = error instanceof TrustError ? error.reason : 'malformed';
        return this.#rejected(new RuntimeError('untrusted', `the manifest was rejected: ${error.message}`, { cause: error, details: { reason } }));
      }
      throw error;
    }
    if (verified.expired) return this.#stale(verified.manifest);
    // Saved while the download runs; awaited before anything is activated from this manifest.
    const saved = store.putAppState(app, { trust: verified.state, envelope: fetched.envelope, etag: fetched.etag, verifiedAt: this.#o.now() });
    saved.catch(() => undefined);
    this.#o.onManifest?.(verified.manifest);
    return { manifest: verified.manifest, status: 'current', saved };
  }

  #rejected(problem: RuntimeError) {
    this.#o.events.dispatchEvent(new CustomEvent('manifest-rejected', { detail: { error: problem } }));
    return { manifest: null, status: 'rejected' as const, problem };
  }

  #stale(manifest: Manifest) {
    const problem = new RuntimeError('untrusted', `the manifest (version ${manifest.version}) expired at ${manifest.expires}; running the cached release until a fresh one arrives`);
    this.#o.events.dispatchEvent(new CustomEvent('manifest-stale', { detail: { version: manifest.version, expires: manifest.expires } }));
    return { manifest: null, status: 'stale' as const, problem };
  }

  /**
   * Resolves which release of `name` to run, makes sure its verified files are stored, and opens
   * them with `open`. A downloaded release becomes active only after `open` succeeds, so bytes that
   * pass sha256 but no engine can read never replace the release that works. When the newest
   * release cannot be had, the active cached one runs and `meta.problem` says why.
   */
  async acquire<T>(
    name: string,
    options: { signal?: AbortSignal; activation: ActivationPolicy; onProgress?: (progress: LoadProgress) => void },
    open: OpenRelease<T>,
  ): Promise<T> {
    try {
      return await this.#acquire(name, options, open);
    } finally {
      this.#sweepOnce();
    }
  }

  /**
   * Once per runtime, after its first load (off that load's path): removes what nothing can use
   * any more — bytes of downloads abandoned longer than the resume window (`KEEP_PARTIAL_MS`), bytes a
   * crash left without a record — and announces it with `storage-cleaned`. Complete files stay: a
   * later load may reuse them, and the quota check collects them least recently used first when
   * room is needed. Downloads in flight are safe: their records are younger than the window.
   */
  #sweepOnce(): void {
    if (this.#swept) return;
    this.#swept = true;
    this.#o
      .store()
      .collect({ keepComplete: true })
      .then(
        (result) => this.#o.events.dispatchEvent(new CustomEvent('storage-cleaned', { detail: result })),
        (error: unknown) => this.#o.events.dispatchEvent(new CustomEvent('storage-cleaned', { detail: { error: RuntimeError.fromUnknown(error, 'storage') } })),
      );
  }

  async #acquire<T>(
    name: string,
    options: { signal?: AbortSignal; activation: ActivationPolicy; onProgress?: (progress: LoadProgress) => void },
    open: OpenRelease<T>,
  ): Promise<T> {
    const store = this.#o.store();
    // Read the active release from storage while the manifest is fetched: on a warm start (the
    // manifest confirms what is cached) storage latency hides behind the network round trip.
    const pointersRead = store.getModel(this.#o.app, name);
    const speculative = pointersRead.then(async (p) => (p.active ? { releaseId: p.active.releaseId, files: await this.#readAll(p.active) } : null));
    speculative.catch(() => undefined);
    // The health gate settles crashed trials meanwhile too (a crash loop reverts before anything runs).
    const settled = this.#o.settle ? pointersRead.then((p) => this.#o.settle!(name, p)) : pointersRead;
    settled.catch(() => undefined);
    // Nothing installed yet: a download is likely, so the quota estimate is asked for meanwhile too.
    const estimate = pointersRead.then((p) => (p.active || !this.#o.storageManager?.estimate ? null : this.#o.storageManager.estimate()));
    estimate.catch(() => undefined);
    const { manifest, status, problem, saved } = await this.manifest(options.signal);
    const pointers = await settled;
    const cachedActive = async () => {
      const early = await speculative.catch(() => null);
      // Read before the gate settled: only usable if the gate left the same release active.
      if (early?.files && early.releaseId === pointers.active?.releaseId) return early.files;
      return pointers.active ? await this.#readAll(pointers.active) : null;
    };
    let cohort: Selection['cohort'] = null;
    const readRelease = (release: ModelRelease) => this.#readAll(release);
    const meta = (extra: Partial<AcquireMeta> = {}): AcquireMeta => ({
      manifest: status,
      updatePending: false,
      downloadMs: 0,
      cohort,
      activating: false,
      record: pointers,
      readRelease,
      ...(problem && { problem }),
      ...extra,
    });

    if (!manifest) {
      const files = pointers.active ? await cachedActive() : null;
      if (pointers.active && files) return this.#openCached(pointers.active, files, open, meta());
      if (status === 'offline') {
        throw new RuntimeError('network', `${problem?.message ?? 'the update server is unreachable'}; model "${name}" is not cached yet, so it cannot run offline`, { cause: problem });
      }
      throw new RuntimeError('untrusted', `${problem?.message ?? 'no trusted manifest'}; model "${name}" is not cached, so nothing can run`, { cause: problem });
    }

    const entry = manifest.models[name];
    if (!entry) {
      const available = Object.keys(manifest.models);
      throw new RuntimeError(
        'not_found',
        `app "${this.#o.app}" has no model "${name}"; its manifest lists ${available.length > 0 ? available.map((m) => `"${m}"`).join(', ') : 'no models'}`,
      );
    }
    // A rollout in the manifest is evaluated here, on the device: which release, which cohort.
    const selection = await this.#o.choose(entry);
    const target = selection.release;
    cohort = selection.cohort;
    const denied = pointers.health.denied.find((d) => d.releaseId === target.releaseId);
    if (denied) {
      // This device refused the release (its health gate reverted it): it runs what it has until the
      // manifest offers another release.
      const refusal = new RuntimeError(
        'health',
        `release ${target.releaseId} (${target.version}) was refused on this device by its health gate (${denied.reason}: ${denied.detail}); it is not run again until the manifest offers another release`,
        { details: { reason: denied.reason, releaseId: denied.releaseId } },
      );
      const files = pointers.active ? await cachedActive() : null;
      if (pointers.active && files) return this.#openCached(pointers.active, files, open, meta({ problem: refusal }));
      throw new RuntimeError('health', `${refusal.message}, and nothing else of model "${name}" is cached`, { cause: refusal, details: refusal.details });
    }
    if (pointers.health.denied.length > 0) {
      // The manifest offers another release: releases refused before may be tried again when offered again.
      await store.updateModel(this.#o.app, name, (record) => {
        record.health.denied = record.health.denied.filter((d) => d.releaseId === target.releaseId);
      });
    }
    if (pointers.active?.releaseId === target.releaseId) {
      const files = await cachedActive();
      if (files) {
        try {
          return await open(target, files, 'cache', meta());
        } catch (error) {
          // Bytes that passed sha256 once but no engine can read (storage bit rot): drop the cache
          // entry and fetch the release again below. Any other failure is the app's to see.
          if (!(error instanceof RuntimeError && error.code === 'invalid_model')) throw error;
          await this.#drop(target);
        }
      }
      // Otherwise the pointer survived but the bytes did not (storage partly cleared): fetch them again.
    } else if (options.activation === 'next-load' && pointers.active && pointers.staged?.releaseId !== target.releaseId) {
      const files = await cachedActive();
      if (files) {
        void this.prefetch(name, options.signal).catch(() => undefined);
        return this.#openCached(pointers.active, files, open, meta({ updatePending: true }));
      }
    }

    const started = performance.now();
    let value: T;
    try {
      let { networkBytes, received } = await this.#downloadAll(target, { ...options, estimate });
      let files = await this.#readAll(target, received);
      if (!files) {
        // A file that was already stored could not be read back and was forgotten: fetch it once more.
        ({ networkBytes, received } = await this.#downloadAll(target, options));
        files = await this.#readAll(target, received);
      }
      if (!files) throw new RuntimeError('storage', `release ${target.releaseId} was stored but cannot be read back`);
      try {
        value = await open(target, files, networkBytes > 0 ? 'network' : 'cache', meta({ downloadMs: performance.now() - started, activating: true }));
      } catch (error) {
        if (error instanceof RuntimeError && error.code === 'invalid_model') await this.#drop(target);
        throw error;
      }
    } catch (error) {
      const failure = RuntimeError.fromUnknown(error, 'storage');
      const files = failure.code !== 'aborted' && pointers.active && pointers.active.releaseId !== target.releaseId ? await cachedActive() : null;
      if (pointers.active && files) {
        this.#o.events.dispatchEvent(new CustomEvent('update-failed', { detail: { model: name, releaseId: target.releaseId, error: failure } }));
        return this.#openCached(pointers.active, files, open, meta({ problem: failure }));
      }
      throw failure;
    }
    await saved; // the trusted manifest version is durable before a release from it goes live
    await store.activate(this.#o.app, target);
    const message = { type: 'activated', app: this.#o.app, model: target.model, releaseId: target.releaseId, version: target.version };
    this.#o.broadcast?.postMessage(message);
    this.#o.events.dispatchEvent(new CustomEvent('activated', { detail: { ...message, remote: false } }));
    return value;
  }

  async #openCached<T>(release: ModelRelease, files: ReadonlyMap<string, ArrayBuffer>, open: OpenRelease<T>, meta: AcquireMeta): Promise<T> {
    try {
      return await open(release, files, 'cache', meta);
    } catch (error) {
      if (error instanceof RuntimeError && error.code === 'invalid_model') {
        await this.#drop(release);
        throw new RuntimeError('invalid_model', `${error.message}; the cached copy was dropped and will be downloaded again`, { cause: error });
      }
      throw error;
    }
  }

  async #drop(release: ModelRelease): Promise<void> {
    for (const file of release.files) await this.#o.store().deleteFile(file.sha256);
  }

  /**
   * Downloads the manifest's current release of `name` and stages it without activating it.
   * Resolves with the staged release, or null when the active one is current. Rejects when no
   * trusted, fresh manifest could be had (offline, rejected, stale): a check that learnt nothing
   * failed, and background checks back off.
   */
  prefetch(name: string, signal?: AbortSignal): Promise<ModelRelease | null> {
    let running = this.#prefetching.get(name);
    if (!running) {
      running = (async () => {
        const { manifest, saved, problem, status } = await this.manifest(signal);
        if (!manifest) throw problem ?? new RuntimeError('untrusted', `no usable manifest (${status})`);
        await saved;
        const entry = manifest?.models[name];
        if (!entry) return null;
        const target = (await this.#o.choose(entry)).release;
        const store = this.#o.store();
        const pointers = await store.getModel(this.#o.app, name);
        if (pointers.active?.releaseId === target.releaseId) return null;
        // Refused here by the health gate: not fetched again until the manifest offers another release.
        if (pointers.health.denied.some((d) => d.releaseId === target.releaseId)) return null;
        if (pointers.staged?.releaseId !== target.releaseId) {
          await this.#downloadAll(target, { ...(signal && { signal }) }); // staged: read back when activated
          await store.stage(this.#o.app, target);
        }
        this.#o.events.dispatchEvent(new CustomEvent('update-ready', { detail: { model: name, version: target.version, releaseId: target.releaseId } }));
        return target;
      })().finally(() => this.#prefetching.delete(name));
      this.#prefetching.set(name, running);
    }
    return running;
  }

  async #downloadAll(
    release: ModelRelease,
    options: { signal?: AbortSignal; onProgress?: (progress: LoadProgress) => void; estimate?: Promise<StorageEstimate | null> },
  ): Promise<{ networkBytes: number; received: Map<string, ArrayBuffer> }> {
    const stored = await this.#ensureSpace(release, options.estimate);
    const store = this.#o.store();
    const wholeFileMaxBytes = this.#o.wholeFileMaxBytes ?? (store.keepsBlobs && IN_BROWSER ? DEFAULT_WHOLE_FILE_MAX_BYTES : 0);
    const total = release.files.reduce((sum, file) => sum + file.length, 0);
    const progress = new Map<string, FileProgress>();
    let networkBytes = 0;
    const received = new Map<string, ArrayBuffer>();
    for (const file of release.files) {
      const url = new URL(file.url, this.#o.baseUrl).href;
      // `early`: a file to be fetched whole is requested at once, while the store is read again
      // (the round trip hides it). Only when this tab got the lock without waiting: a tab that
      // waited finds the file downloaded by another one, and must not have fetched it as well.
      const onProgress = (fileProgress: FileProgress) => {
        progress.set(file.sha256, fileProgress);
        const files = [...progress.values()];
        options.onProgress?.({
          model: release.model,
          loaded: files.reduce((sum, f) => sum + f.loaded, 0),
          total,
          fromCache: files.reduce((sum, f) => sum + f.fromCache, 0),
          files,
        });
      };
      const download = async (mayStartEarly: boolean) => {
        const early = mayStartEarly && !stored.get(file.sha256) && file.length <= wholeFileMaxBytes ? earlyRequest(this.#o.fetch, url, options.signal) : undefined;
        try {
          return await downloadFile(url, file, store, { fetch: this.#o.fetch, wholeFileMaxBytes, onProgress, ...(early && { early }), ...(options.signal && { signal: options.signal }) });
        } finally {
          early?.cancel(); // no-op once downloadFile took the response
        }
      };
      try {
        // One tab downloads a given file; the others wait here and then find it complete.
        const locks = store.locks ?? this.#o.locks;
        const lockName = `edgeloop:file:${file.sha256}`;
        const uncontended = locks ? await locks.request(lockName, { ifAvailable: true }, async (lock) => (lock ? download(true) : null)) : await download(true);
        const result = uncontended ?? (await locks!.request(lockName, options.signal ? { signal: options.signal } : {}, () => download(false)));
        networkBytes += result.networkBytes;
        if (result.bytes) received.set(file.sha256, result.bytes);
      } catch (error) {
        const failure = RuntimeError.fromUnknown(error, 'storage');
        // Out of space: give the partial bytes back; the previous release stays active.
        if (failure.code === 'quota') await store.deleteFile(file.sha256).catch(() => undefined);
        throw failure;
      }
    }
    return { networkBytes, received };
  }

  /**
   * Checks the quota before anything is downloaded (collecting old releases if that makes room) and
   * answers what is stored of each file. `early` is an estimate already asked for (on a cold install
   * it is taken while the manifest is fetched); it is asked again after a collection.
   */
  async #ensureSpace(release: ModelRelease, early?: Promise<StorageEstimate | null>): Promise<Map<string, StoredFile | null>> {
    const store = this.#o.store();
    const stored = new Map<string, StoredFile | null>();
    let needed = 0;
    for (const file of release.files) {
      const record = await store.getFile(file.sha256);
      stored.set(file.sha256, record);
      needed += file.length - (record?.complete ? file.length : (record?.received ?? 0));
    }
    const storage = this.#o.storageManager;
    if (!storage?.estimate || needed === 0) return stored;
    if (!this.#persistRequested && storage.persist) {
      this.#persistRequested = true;
      // Persistent storage is exempt from eviction under pressure; browsers may grant it silently or not at all.
      void storage.persist().catch(() => false);
    }
    const free = async (estimate?: StorageEstimate | null) => {
      const { quota = Number.POSITIVE_INFINITY, usage = 0 } = estimate ?? (await storage.estimate());
      return quota - usage;
    };
    let available = await free(await early?.catch(() => null));
    if (available >= needed) return stored;
    await store.collect({ bytesNeeded: needed - available });
    available = await free();
    if (available < needed) {
      throw new RuntimeError('quota', `release ${release.releaseId} needs ${needed} bytes but only ${Math.max(0, Math.floor(available))} are available to this app; the previous release stays active`);
    }
    return stored;
  }

  /**
   * Every file of `release` from storage (or from `inMemory`), or null when any is missing or
   * incomplete. A file recorded complete whose bytes are gone or cannot be read (storage partly
   * evicted, a crash mid-write) is forgotten, so the next download fetches it again instead of
   * trusting the record.
   */
  async #readAll(release: ModelRelease, inMemory?: ReadonlyMap<string, ArrayBuffer>): Promise<Map<string, ArrayBuffer> | null> {
    const store = this.#o.store();
    const files = new Map<string, ArrayBuffer>();
    for (const file of release.files) {
      const held = inMemory?.get(file.sha256);
      if (held) {
        files.set(file.sha256, held);
        continue;
      }
      const stored = await store.getFile(file.sha256);
      if (!stored?.complete) return null;
      let bytes: ArrayBuffer | null;
      try {
        bytes = await store.readFile(file.sha256);
      } catch (error) {
        if (RuntimeError.fromUnknown(error, 'storage').code === 'quota') throw error;
        bytes = null;
      }
      if (!bytes || bytes.byteLength !== file.length) {
        await store.deleteFile(file.sha256);
        return null;
      }
      files.set(file.sha256, bytes);
    }
    return files;
  }
}
