import { deviceRoutes, type Cohort } from '@edgeloop/protocol';
import {
  DEFAULT_PRIVACY,
  LatencyHistogram,
  PrivacyBudget,
  privatizeSummaries,
  REPORT_SCHEMA_VERSION,
  ReferenceProfile,
  type ModelSummary,
  type PrivacyOptions,
  type TelemetryReportV2,
} from '@edgeloop/telemetry';
import type { Feeds, Outputs } from '../engine/tensor.js';
import { FeatureTrack, type ModelTelemetryOptions } from './feature-track.js';
import { indexedDbTelemetryStorage } from './indexeddb-telemetry-storage.js';
import { backoffDelay, postReports, type RetryOptions } from './send.js';
import { memoryTelemetryStorage, type QueuedReport, type TelemetryStorage } from './telemetry-storage.js';

/** Runtime-wide telemetry settings (`RuntimeOptions.telemetry`); every field has a default. */
export interface TelemetryOptions {
  /** Where reports wait while offline and the privacy budget lives. Default IndexedDB where it exists, else memory. */
  storage?: TelemetryStorage;
  /** Length of a report window, ms. Default 1 hour (the server aggregates hourly). */
  windowMs?: number;
  /** Privacy of feature summaries; `false` sends raw counts (trusted, opted-in fleets only). Default ε = 4, clip 100. */
  privacy?: PrivacyOptions | false;
  /** ε the device may spend per period (default 96 per day). */
  budget?: { epsilonPerPeriod?: number; periodMs?: number };
  /** Reports kept while offline at most; the oldest are dropped first. Default 64. */
  maxQueuedReports?: number;
  /** Reports per request at most. Default 16. */
  maxBatchReports?: number;
  /** Bytes per request at most (the server refuses more than 64 KiB; keepalive allows 64 KiB). Default 60,000. */
  maxBatchBytes?: number;
  /** Reports older than this are dropped unsent: the server refuses them. Default 23 h. */
  maxReportAgeMs?: number;
  /** Backoff after a failed send. */
  retry?: RetryOptions;
  /** Send at the end of every window and retry failures on a timer. Default true. */
  autoFlush?: boolean;
  /**
   * Flush when the page is hidden (`visibilitychange` → hidden, `pagehide`), with `keepalive` so the
   * request outlives the page. Default: on where `document` exists.
   */
  flushOnPageHide?: boolean;
  /** Clock and randomness, for tests. */
  now?: () => number;
  random?: () => number;
}

export interface FlushResult {
  /** Model summaries delivered (0 when there was nothing to send). */
  sent: number;
  /** Set when reports could not be delivered; they stay queued for the next flush. */
  error?: string;
  /** Reports dropped: refused by the server (4xx other than 429), too old, or pushed out of a full queue. */
  dropped?: number;
}

interface Bucket {
  model: string;
  version: string;
  backend: string;
  inferences: number;
  errors: number;
  latency: LatencyHistogram;
  load: LatencyHistogram | null;
  first: LatencyHistogram | null;
  errorKinds: Record<string, number>;
  events: Record<string, number>;
}

interface Track {
  model: string;
  version: string;
  cohort: Cohort | null;
  features: FeatureTrack | null;
  /** Loads whose first inference has not run yet: that one is the warm-up latency. */
  awaitingFirst: number;
  lastBackend: string;
  profile: 'pending' | 'fetched' | 'none';
}

type PendingModel = QueuedReport['models'][number];

const KIND = /^[a-z][a-z0-9_-]{0,31}$/;

/**
 * Records, per model version and backend, inference counts and latencies (load, first, all),
 * errors by kind, runtime events (backend fallbacks) and — against the reference profile the
 * server publishes — feature and output summaries. At the end of each window (or on flush) it
 * seals one report: summaries privatized on the device and charged to the privacy budget (at most
 * one report per model version and window), queued in storage, and sent in batches with
 * exponential backoff; 429 + Retry-After is honoured, other 4xx drop the batch, 5xx and network
 * failures keep it. Only summaries leave the device: no inputs, no outputs, no device identity.
 */
export class TelemetryCollector {
  readonly #app: string;
  readonly #url: string;
  readonly #profileBase: URL;
  readonly #fetch: typeof fetch;
  readonly #o: Required<Omit<TelemetryOptions, 'storage' | 'budget' | 'retry' | 'privacy' | 'flushOnPageHide'>> & {
    retry: RetryOptions;
    privacy: PrivacyOptions | false;
  };
  readonly #storageOption: TelemetryStorage | undefined;
  #storage: TelemetryStorage | undefined;
  #budget: PrivacyBudget | undefined;
  readonly #budgetOptions: TelemetryOptions['budget'];
  /** model → version → backend → bucket of the current window; nested so lookups allocate nothing. */
  #buckets = new Map<string, Map<string, Map<string, Bucket>>>();
  #bucketCount = 0;
  #tracks = new Map<string, Map<string, Track>>();
  #windowStart = -1;
  #windowEnd = -1;
  /** What this session queued and has not delivered, for {@link pending}. */
  #queued = new Map<string, PendingModel[]>();
  #chain: Promise<unknown> = Promise.resolve();
  #attempt = 0;
  #notBefore = 0;
  #windowTimer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #detachPageHide: (() => void) | undefined;
  #disposed = false;

  constructor(options: { app: string; baseUrl: URL; fetch: typeof fetch; settings?: TelemetryOptions }) {
    const s = options.settings ?? {};
    this.#app = options.app;
    this.#url = new URL(deviceRoutes.telemetry(options.app), options.baseUrl).href;
    this.#profileBase = options.baseUrl;
    this.#fetch = options.fetch;
    this.#storageOption = s.storage;
    this.#budgetOptions = s.budget;
    this.#o = {
      windowMs: s.windowMs ?? 3_600_000,
      privacy: s.privacy ?? DEFAULT_PRIVACY,
      maxQueuedReports: s.maxQueuedReports ?? 64,
      maxBatchReports: s.maxBatchReports ?? 16,
      maxBatchBytes: s.maxBatchBytes ?? 60_000,
      maxReportAgeMs: s.maxReportAgeMs ?? 23 * 3_600_000,
      retry: s.retry ?? {},
      autoFlush: s.autoFlush ?? true,
      now: s.now ?? Date.now,
      random: s.random ?? Math.random,
    };
    if (!(this.#o.windowMs >= 1000)) throw new RangeError(`telemetry windowMs must be at least 1000, got ${this.#o.windowMs}`);
    if (s.flushOnPageHide ?? typeof document !== 'undefined') this.#attachPageHide();
  }

  /** Records one inference; `latencyMs` is null for a failed one. Kept for callers without feeds. */
  record(model: string, version: string, backend: string, latencyMs: number | null): void {
    if (latencyMs === null) this.fail(model, version, backend, 'engine');
    else this.observe(model, version, backend, latencyMs);
  }

  /** Records one successful inference: latency, and features and outputs when a profile is known. */
  observe(model: string, version: string, backend: string, latencyMs: number, feeds?: Feeds, outputs?: Outputs): void {
    const bucket = this.#bucket(model, version, backend);
    bucket.inferences += 1;
    bucket.latency.record(latencyMs);
    const track = this.#track(model, version);
    track.lastBackend = backend;
    if (track.awaitingFirst > 0) {
      track.awaitingFirst -= 1;
      (bucket.first ??= new LatencyHistogram()).record(latencyMs);
    }
    if (track.features !== null && feeds !== undefined && outputs !== undefined) {
      try {
        track.features.record(feeds, outputs);
      } catch (error) {
        // A broken extractor must not break inference: stop recording summaries for this version
        // and count it, so the operator sees `feature-extractor-failed` in the version's events.
        track.features = null;
        bucket.events['feature-extractor-failed'] = (bucket.events['feature-extractor-failed'] ?? 0) + 1;
        console.warn(`edgeloop telemetry: feature extraction for ${model}@${version} failed and is off until the next load:`, error);
      }
    }
  }

  /** Records one failed inference with its error code (e.g. `engine`, `backend_lost`). */
  fail(model: string, version: string, backend: string, kind: string): void {
    const bucket = this.#bucket(model, version, backend);
    bucket.errors += 1;
    const key = kindKey(bucket.errorKinds, kind);
    bucket.errorKinds[key] = (bucket.errorKinds[key] ?? 0) + 1;
  }

  /** Counts a runtime event of a model (`backend-lost` is a backend fallback; `worker-restarted`). */
  event(model: string, version: string, type: string, backend?: string): void {
    const track = this.#track(model, version);
    const bucket = this.#bucket(model, version, backend ?? track.lastBackend);
    const key = kindKey(bucket.events, type);
    bucket.events[key] = (bucket.events[key] ?? 0) + 1;
  }

  /**
   * A model version was loaded: records its load time, remembers its rollout cohort, and starts
   * recording summaries against its reference profile (fetched from the server unless given).
   */
  loaded(model: { name: string; version: string; backend: string; timings: { loadMs: number } }, cohort: Cohort | null, options: ModelTelemetryOptions = {}): void {
    const track = this.#track(model.name, model.version);
    track.cohort = cohort;
    track.lastBackend = model.backend;
    track.awaitingFirst += 1;
    const bucket = this.#bucket(model.name, model.version, model.backend);
    (bucket.load ??= new LatencyHistogram()).record(Math.max(0, model.timings.loadMs));
    const profile = options.profile ?? 'server';
    if (profile === false) {
      track.features = null;
      track.profile = 'none';
    } else if (profile instanceof ReferenceProfile) {
      track.features = new FeatureTrack(profile, options);
      track.profile = 'fetched';
    } else if (track.profile !== 'fetched' || track.features === null) {
      void this.#fetchProfile(track, options);
    }
  }

  /** Counts recorded and not yet delivered by this session, per model version and backend. */
  pending(): PendingModel[] {
    const merged = new Map<string, PendingModel>();
    const add = (m: PendingModel) => {
      const key = `${m.model}\u0000${m.version}\u0000${m.backend}`;
      const entry = merged.get(key);
      if (entry) {
        entry.inferences += m.inferences;
        entry.errors += m.errors;
      } else merged.set(key, { model: m.model, version: m.version, backend: m.backend, inferences: m.inferences, errors: m.errors });
    };
    for (const models of this.#queued.values()) models.forEach(add);
    for (const bucket of this.#allBuckets()) add(bucket);
    return [...merged.values()].filter((m) => m.inferences > 0 || m.errors > 0);
  }

  /**
   * Seals what was recorded so far into a report (spending this window's privacy budget for
   * summaries) and sends everything queued. Never throws; what fails stays queued.
   * `keepalive` (used on page hide) lets the request outlive the page.
   */
  flush(options: { keepalive?: boolean } = {}): Promise<FlushResult> {
    const run = this.#chain.then(async (): Promise<FlushResult> => {
      let dropped = 0;
      try {
        dropped += await this.#seal();
      } catch (error) {
        return { sent: 0, error: `telemetry could not be queued: ${(error as Error)?.message ?? String(error)}` };
      }
      const result = await this.#send(options.keepalive ?? false);
      dropped += result.dropped ?? 0;
      return { sent: result.sent, ...(result.error !== undefined && { error: result.error }), ...(dropped > 0 && { dropped }) };
    });
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** Stops timers and page-hide listeners; what is queued stays in storage for the next session. */
  dispose(): void {
    this.#disposed = true;
    clearTimeout(this.#windowTimer);
    clearTimeout(this.#retryTimer);
    this.#detachPageHide?.();
    this.#storage?.close?.();
  }

  #bucket(model: string, version: string, backend: string): Bucket {
    if (this.#o.now() >= this.#windowEnd) this.#startWindow();
    let versions = this.#buckets.get(model);
    if (versions === undefined) this.#buckets.set(model, (versions = new Map()));
    let backends = versions.get(version);
    if (backends === undefined) versions.set(version, (backends = new Map()));
    let bucket = backends.get(backend);
    if (bucket === undefined) {
      bucket = { model, version, backend, inferences: 0, errors: 0, latency: new LatencyHistogram(), load: null, first: null, errorKinds: {}, events: {} };
      backends.set(backend, bucket);
      this.#bucketCount += 1;
    }
    return bucket;
  }

  #track(model: string, version: string): Track {
    let versions = this.#tracks.get(model);
    if (versions === undefined) this.#tracks.set(model, (versions = new Map()));
    let track = versions.get(version);
    if (track === undefined) {
      track = { model, version, cohort: null, features: null, awaitingFirst: 0, lastBackend: 'unknown', profile: 'none' };
      versions.set(version, track);
    }
    return track;
  }

  *#allBuckets(): Iterable<Bucket> {
    for (const versions of this.#buckets.values()) for (const backends of versions.values()) yield* backends.values();
  }

  /** A new window begins: the previous one (if any) is sealed and sent in the background. */
  #startWindow(): void {
    const now = this.#o.now();
    const hadData = this.#bucketCount > 0;
    if (hadData && this.#windowStart >= 0) {
      // Seal the window that ended and (with autoFlush) send it; the new window is not sealed yet.
      const { buckets, windowStart } = this.#takeBuckets();
      const autoFlush = this.#o.autoFlush;
      this.#chain = this.#chain
        .then(() => this.#sealBuckets(buckets, windowStart))
        .then(() => (autoFlush ? this.#send(false) : undefined))
        .catch(() => undefined);
    }
    this.#windowStart = Math.floor(now / this.#o.windowMs) * this.#o.windowMs;
    this.#windowEnd = this.#windowStart + this.#o.windowMs;
    if (this.#o.autoFlush && !this.#disposed) {
      clearTimeout(this.#windowTimer);
      // Spread the end-of-window sends over the first minute of the next one, so a fleet does not
      // hit the server in the same second.
      const delay = this.#windowEnd - now + this.#o.random() * Math.min(60_000, this.#o.windowMs / 10);
      this.#windowTimer = setTimeout(() => void this.flush(), delay);
      unref(this.#windowTimer);
    }
  }

  #takeBuckets(): { buckets: Bucket[]; windowStart: number } {
    const buckets = [...this.#allBuckets()];
    this.#buckets = new Map();
    this.#bucketCount = 0;
    return { buckets, windowStart: this.#windowStart };
  }

  async #seal(): Promise<number> {
    if (this.#bucketCount === 0) return 0;
    const { buckets, windowStart } = this.#takeBuckets();
    return this.#sealBuckets(buckets, windowStart);
  }

  /** Builds the window's report, charges the budget for its summaries and queues it. Resolves with reports dropped from a full queue. */
  async #sealBuckets(buckets: Bucket[], windowStart: number): Promise<number> {
    const models: ModelSummary[] = buckets.map((b) => {
      const cohort = this.#track(b.model, b.version).cohort;
      return {
        model: b.model,
        version: b.version,
        backend: b.backend,
        inferences: b.inferences,
        errors: b.errors,
        latencyMs: b.latency.toJSON(),
        ...(cohort !== null && { cohort }),
        ...(b.load !== null && { loadMs: b.load.toJSON() }),
        ...(b.first !== null && { firstInferenceMs: b.first.toJSON() }),
        ...(b.errors > 0 && { errorKinds: b.errorKinds }),
        ...(Object.keys(b.events).length > 0 && { events: b.events }),
      };
    });
    await this.#attachSummaries(models, windowStart);
    const report: TelemetryReportV2 = {
      schema: REPORT_SCHEMA_VERSION,
      reportId: crypto.randomUUID(),
      app: this.#app,
      sentAt: new Date(this.#o.now()).toISOString(),
      models,
    };
    const pending = models.map(({ model, version, backend, inferences, errors }) => ({ model, version, backend, inferences, errors }));
    const queued: QueuedReport = { reportId: report.reportId, body: JSON.stringify(report), sealedAt: this.#o.now(), models: pending };
    this.#queued.set(report.reportId, pending);
    const dropped = await this.#getStorage().enqueue(queued, this.#o.maxQueuedReports);
    for (const id of dropped) this.#queued.delete(id);
    return dropped.length;
  }

  /**
   * One summary set per model version and window, on the entry (backend) that ran it most. The
   * budget decides: granted → privatized and sent; already reported this window → the counts
   * wait for the next window; exhausted → they are dropped.
   */
  async #attachSummaries(models: ModelSummary[], windowStart: number): Promise<void> {
    for (const versions of this.#tracks.values()) {
      for (const track of versions.values()) {
        const recorder = track.features?.recorder;
        if (!recorder) continue;
        const entries = models.filter((m) => m.model === track.model && m.version === track.version);
        if (entries.length === 0) continue;
        const snapshot = recorder.snapshot();
        if (!snapshot.totals.some((t) => t > 0)) continue;
        const privacy = this.#o.privacy;
        if (privacy !== false) {
          const decision = await this.#getBudget().charge(`${track.model}@${track.version}/${windowStart}`, privacy.epsilon);
          if (!decision.granted) {
            if (decision.reason === 'exhausted') recorder.drain();
            continue;
          }
        }
        const target = entries.reduce((best, m) => (m.inferences > best.inferences ? m : best));
        target.summaries = privatizeSummaries(recorder.drain(), { privacy });
      }
    }
  }

  async #send(keepalive: boolean): Promise<{ sent: number; error?: string; dropped?: number }> {
    const now = this.#o.now();
    if (now < this.#notBefore) {
      return { sent: 0, error: `telemetry kept for the next flush: the server asked to wait until ${new Date(this.#notBefore).toISOString()}` };
    }
    const storage = this.#getStorage();
    let sent = 0;
    let dropped = 0;
    let error: string | undefined;
    // Bounded: at most this many requests per flush, whatever the queue holds.
    for (let round = 0; round < 32; round++) {
      const queued = await storage.peek(this.#o.maxBatchReports);
      const expired = queued.filter((r) => now - r.sealedAt > this.#o.maxReportAgeMs);
      if (expired.length > 0) {
        await this.#remove(expired.map((r) => r.reportId));
        dropped += expired.length;
        continue;
      }
      if (queued.length === 0) break;
      const batch: QueuedReport[] = [];
      let bytes = 2;
      for (const report of queued) {
        if (batch.length > 0 && bytes + report.body.length + 1 > this.#o.maxBatchBytes) break;
        batch.push(report);
        bytes += report.body.length + 1;
      }
      const outcome = await postReports(this.#fetch, this.#url, batch.map((r) => r.body), keepalive, this.#o.now);
      if (outcome.kind === 'sent') {
        await this.#remove(batch.map((r) => r.reportId));
        sent += batch.reduce((n, r) => n + r.models.length, 0);
        this.#attempt = 0;
        continue;
      }
      if (outcome.kind === 'drop') {
        await this.#remove(batch.map((r) => r.reportId));
        dropped += batch.length;
        error = `telemetry refused and dropped: ${outcome.reason}`;
        continue;
      }
      const delay = Math.max(backoffDelay(this.#attempt, this.#o.retry, this.#o.random), outcome.retryAfterMs ?? 0);
      this.#attempt += 1;
      if (outcome.retryAfterMs !== undefined) this.#notBefore = this.#o.now() + outcome.retryAfterMs;
      this.#scheduleRetry(delay);
      return { sent, dropped, error: `telemetry not delivered, kept for the next flush: ${outcome.reason}` };
    }
    return { sent, dropped, ...(error !== undefined && { error }) };
  }

  async #remove(ids: string[]): Promise<void> {
    await this.#getStorage().remove(ids);
    for (const id of ids) this.#queued.delete(id);
  }

  #scheduleRetry(delay: number): void {
    if (!this.#o.autoFlush || this.#disposed) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => void this.flush(), delay);
    unref(this.#retryTimer);
  }

  async #fetchProfile(track: Track, options: ModelTelemetryOptions): Promise<void> {
    track.profile = 'pending';
    const path = `v1/apps/${encodeURIComponent(this.#app)}/models/${encodeURIComponent(track.model)}/versions/${encodeURIComponent(track.version)}/profile`;
    let response: Response;
    try {
      response = await this.#fetch(new URL(path, this.#profileBase).href);
    } catch {
      track.profile = 'none'; // offline: asked again on the next load
      return;
    }
    if (!response.ok) {
      void response.body?.cancel().catch(() => undefined);
      track.profile = 'none'; // none published (404): asked again on the next load
      return;
    }
    try {
      track.features = new FeatureTrack(ReferenceProfile.fromJSON(await response.json()), options);
      track.profile = 'fetched';
    } catch (error) {
      track.profile = 'none';
      console.warn(`edgeloop telemetry: the reference profile of ${track.model}@${track.version} could not be used; no feature summaries until the next load:`, error);
    }
  }

  #getStorage(): TelemetryStorage {
    return (this.#storage ??=
      this.#storageOption ?? (typeof indexedDB === 'undefined' ? memoryTelemetryStorage() : indexedDbTelemetryStorage({ app: this.#app })));
  }

  #getBudget(): PrivacyBudget {
    return (this.#budget ??= new PrivacyBudget({ store: this.#getStorage().budget, now: this.#o.now, ...this.#budgetOptions }));
  }

  #attachPageHide(): void {
    const onHide = () => void this.flush({ keepalive: true });
    const onVisibility = () => {
      if (document.visibilityState === 'hidden') onHide();
    };
    document.addEventListener('visibilitychange', onVisibility);
    globalThis.addEventListener?.('pagehide', onHide);
    this.#detachPageHide = () => {
      document.removeEventListener('visibilitychange', onVisibility);
      globalThis.removeEventListener?.('pagehide', onHide);
    };
  }
}

/** The server accepts at most 32 short lowercase kinds: anything else is counted as `other`. */
function kindKey(counts: Record<string, number>, kind: string): string {
  if (!KIND.test(kind)) return 'other';
  return kind in counts || Object.keys(counts).length < 31 ? kind : 'other';
}

/** Node timers keep the process alive; telemetry must not. */
function unref(timer: ReturnType<typeof setTimeout>): void {
  (timer as { unref?: () => void }).unref?.();
}
