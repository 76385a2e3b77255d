import type { Cohort, ReferenceProfileRef } from '@edgeloop/protocol';
import { cryptoRng, maxReportEpsilon, type ReportCohort, type Rng, type TelemetryConfig } from '@edgeloop/telemetry';
import type { Feeds, Outputs } from '../engine/tensor.js';
import { indexedDbTelemetryStorage } from './indexeddb-telemetry-storage.js';
import { LiveCounts } from './live-counts.js';
import { modelFeatures } from './model-features.js';
import { attachPageHide } from './page-hide.js';
import { pendingView, type PendingTelemetry } from './pending.js';
import type { ModelTelemetryOptions } from './reportable-features.js';
import { sendQueued, type SendState } from './send-queue.js';
import { ProfileCache } from './signed-profile.js';
import { assignModel, mergeDeltas } from './state/merge-deltas.js';
import { sealPeriods } from './state/seal-periods.js';
import { memoryTelemetryStorage, type TelemetryState, type TelemetryStorage } from './telemetry-storage.js';
import { DEFAULT_PERIOD_MS, resolveTelemetryOptions, type FlushResult, type TelemetryOptions } from './telemetry-options.js';

export { DEFAULT_EPSILON_PER_DAY, DEFAULT_PERIOD_MS, type FlushResult, type TelemetryOptions } from './telemetry-options.js';

export interface TelemetryCollectorInit {
  app: string;
  baseUrl: URL;
  fetch: typeof fetch;
  /** The telemetry config of the latest verified manifest; null until one with a valid config arrived. */
  config?: () => TelemetryConfig | null;
  /** Where `profile-rejected` events go (the runtime's event target). */
  events?: EventTarget;
  settings?: TelemetryOptions;
}

/**
 * The device side of telemetry. On every inference it counts, in memory and without allocating,
 * per entry (model, version, backend, rollout cohort) of the current accounting period: attempts,
 * successes, errors by code, latency, and the app-declared features of the release's signed
 * reference profile. Every few seconds, when the page is hidden and before sealing, those counts
 * are merged into storage, so a period spans reloads and tabs. Once a period has ended (at start,
 * on `flush()`, on a timer at the boundary, at the first inference after it) it is sealed — in ONE
 * storage transaction: budget charged, one noised schema-3 report queued, raw counts deleted —
 * under the config of the latest verified manifest, and queued reports are sent in batches with
 * backoff. `flush()` never seals the current period. Exact counts never leave the device.
 */
export class TelemetryCollector {
  readonly #app: string;
  readonly #config: () => TelemetryConfig | null;
  readonly #events: EventTarget | undefined;
  readonly #send: SendState;
  readonly #profiles: ProfileCache;
  readonly #storageOption: TelemetryStorage | undefined;
  readonly #o: ReturnType<typeof resolveTelemetryOptions>;
  #storage: TelemetryStorage | undefined;
  #rng: Rng | undefined;
  readonly #live = new LiveCounts(DEFAULT_PERIOD_MS);
  #storageChain: Promise<unknown> = Promise.resolve();
  #flushChain: Promise<unknown> = Promise.resolve();
  #started = false;
  #warnedConfig: string | undefined;
  #lastProblem: string | undefined;
  #mergeTimer: ReturnType<typeof setTimeout> | undefined;
  #periodTimer: ReturnType<typeof setTimeout> | undefined;
  #sendTimer: ReturnType<typeof setTimeout> | undefined;
  #detachPageHide: (() => void) | undefined;
  #disposed = false;
  /** Bound once, so arming the merge timer on the hot path allocates no closure. */
  readonly #onMergeTimer = () => {
    this.#mergeTimer = undefined;
    this.#advance();
    void this.#merge().catch((error: unknown) => this.#problem(error));
  };

  constructor(init: TelemetryCollectorInit) {
    const o = resolveTelemetryOptions(init.settings ?? {});
    this.#o = o;
    this.#app = init.app;
    this.#config = init.config ?? (() => null);
    this.#events = init.events;
    this.#storageOption = init.settings?.storage;
    this.#send = {
      app: init.app,
      baseUrl: init.baseUrl,
      fetch: init.fetch,
      maxBatchReports: o.maxBatchReports,
      maxBatchBytes: o.maxBatchBytes,
      retry: o.retry,
      now: o.now,
      random: o.random,
      attempt: 0,
      notBefore: 0,
      retryTimer: undefined,
      read: () => this.#read(),
      transact: (change) => this.#transact(change),
      scheduleRetry: (delay) => this.#scheduleRetry(delay),
    };
    this.#profiles = new ProfileCache(init.baseUrl, init.fetch);
    if (o.flushOnPageHide) this.#detachPageHide = attachPageHide(() => this.#onHide());
  }

  /** Records one successful inference: latency, and the declared features of its inputs and outputs. */
  observe(model: string, version: string, backend: string, latencyMs: number, feeds?: Feeds, outputs?: Outputs): void {
    const live = this.#live;
    if (live.periodEnd === 0) this.#advance();
    const track = live.track(model, version);
    const entry = live.entry(track, backend);
    entry.attempts += 1;
    entry.successes += 1;
    entry.latency.record(latencyMs < 0 ? 0 : latencyMs);
    const features = track.features;
    if (features !== null && feeds !== undefined) features.record((entry.features ??= features.newRecorder()), feeds, outputs ?? null);
    this.#touched();
  }

  /** Records one failed inference with its error code (e.g. `engine`, `backend_lost`); input features still count. */
  fail(model: string, version: string, backend: string, code: string, feeds?: Feeds): void {
    const live = this.#live;
    if (live.periodEnd === 0) this.#advance();
    const track = live.track(model, version);
    const entry = live.entry(track, backend);
    entry.fail(code);
    const features = track.features;
    if (features !== null && feeds !== undefined) features.record((entry.features ??= features.newRecorder()), feeds, null);
    this.#touched();
  }

  /** A backend was lost (e.g. a WebGPU device) and the model fell back: flagged on the lost backend's entry. */
  backendLost(model: string, version: string, backend: string): void {
    this.#advance();
    this.#live.entry(this.#live.track(model, version), backend).fellBack = true;
    this.#touched();
  }

  /** A trial of this model version was reverted on this device (the health gate calls this). */
  reverted(model: string, version: string): void {
    this.#advance();
    const track = this.#live.track(model, version);
    this.#live.entry(track, track.lastBackend).reverted = true;
    this.#touched();
  }

  /**
   * A model version was loaded: remembers its rollout cohort (reported only for `candidate` and
   * `control`), and starts counting the features the app declared that the release's signed
   * profile lists. The first load starts the collector: ended periods are sealed (and sent, with
   * `autoFlush`). Resolves when feature counting is set up (the profile fetched and checked, or
   * not used); never rejects.
   */
  loaded(model: { name: string; version: string; backend: string }, release: { cohort: Cohort | null; profile?: ReferenceProfileRef | undefined }, options: ModelTelemetryOptions = {}): Promise<void> {
    this.#refreshConfig();
    this.#advance();
    const track = this.#live.track(model.name, model.version);
    const generation = ++track.loads;
    track.lastBackend = model.backend;
    const cohort = reportCohort(release.cohort);
    // Counts so far belong to the old cohort's entries.
    if (!sameCohort(track.cohort, cohort)) this.#live.retarget(track, { cohort });
    this.#assign(model.name, `${model.version}\u0001${cohort === null ? '' : `${cohort.rollout}:${cohort.arm}:${cohort.step}`}`);
    if (!this.#started) {
      this.#started = true;
      void this.#cycle(this.#o.autoFlush);
    }
    const report = options.report ?? [];
    const ref = release.profile;
    if (ref === undefined || report.length === 0) {
      if (track.features !== null) this.#live.retarget(track, { features: null });
      return Promise.resolve();
    }
    if (track.features?.profile.id === ref.id && track.report === report) return Promise.resolve();
    track.report = report;
    if (track.features !== null) this.#live.retarget(track, { features: null });
    return modelFeatures(this.#profiles, ref, report, { model: model.name, version: model.version, events: this.#events }).then((features) => {
      // Loaded again meanwhile: that load decides. Counts cut on one profile never mix with another's.
      if (track.loads === generation && features !== null) this.#live.retarget(track, { features });
    });
  }

  /**
   * Stores what was recorded, seals every period that has ended (never the current one) and sends
   * what is sealed. Never throws; what fails stays for the next flush. `keepalive` (used on page
   * hide) lets the request outlive the page.
   */
  flush(options: { keepalive?: boolean } = {}): Promise<FlushResult> {
    return this.#serialFlush(async () => {
      let dropped = 0;
      let blocked: string | undefined;
      try {
        this.#refreshConfig();
        this.#advance();
        dropped += await this.#merge();
        const sealed = await this.#seal();
        dropped += sealed.dropped;
        blocked = sealed.blocked;
      } catch (error) {
        this.#problem(error);
        return { sent: 0, error: `telemetry could not be stored: ${(error as Error)?.message ?? String(error)}` };
      }
      if (blocked !== undefined && this.#config() !== null) return { sent: 0, error: blocked, ...(dropped > 0 && { dropped }) };
      let result;
      try {
        result = await this.#sendOnce(options.keepalive ?? false);
      } catch (error) {
        this.#problem(error);
        return { sent: 0, error: `telemetry could not be sent: ${(error as Error)?.message ?? String(error)}`, ...(dropped > 0 && { dropped }) };
      }
      dropped += result.dropped;
      return { sent: result.sent, ...(result.error !== undefined && { error: result.error }), ...(dropped > 0 && { dropped }) };
    });
  }

  /**
   * What was recorded and not yet delivered, in exact local counts (they never leave the device):
   * per entry and period, whether it is still being recorded, waiting to be sealed, or sealed and
   * queued; and why nothing is sealed or sent, when something stops it. Never rejects.
   */
  async pending(): Promise<PendingTelemetry> {
    // This tab's counts are copied before storage is read: a merge started later queues its
    // transaction after this read, so nothing is counted twice.
    this.#advance();
    const local = this.#live.snapshot();
    let state: Pick<TelemetryState, 'accumulators' | 'queue'> = { accumulators: [], queue: [] };
    let unreadable: string | undefined;
    try {
      state = await this.#read();
    } catch (error) {
      unreadable = `telemetry storage cannot be read (only this tab's counts are listed): ${(error as Error)?.message ?? String(error)}`;
    }
    const blocked = this.#blockedBy(this.#config()) ?? unreadable ?? this.#lastProblem;
    return pendingView({ now: this.#o.now(), accumulators: [...local, ...state.accumulators], queue: state.queue, ...(blocked !== undefined && { blocked }) });
  }

  /** Stops timers and page-hide listeners; what was recorded is stored first, and stays for the next session. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    clearTimeout(this.#mergeTimer);
    clearTimeout(this.#periodTimer);
    clearTimeout(this.#sendTimer);
    clearTimeout(this.#send.retryTimer);
    this.#detachPageHide?.();
    void this.#merge()
      .catch((error: unknown) => this.#problem(error))
      .finally(() => this.#storage?.close?.());
  }

  /**
   * The page is hidden or going away: this tab's counts are written at once, without waiting for
   * anything (a read-modify-write would not finish once the page is gone), then queued reports are
   * sent with `keepalive`.
   */
  #onHide(): void {
    this.#advance();
    const storage = this.#getStorage();
    const batch = this.#live.drain();
    if (batch.size > 0) {
      const deltas = [...batch.values()];
      const started = storage.appendNow?.(this.#app, deltas, () => this.#live.restore(batch)) ?? false;
      if (!started) this.#live.restore(batch);
    }
    void this.flush({ keepalive: true });
  }

  /**
   * The device runs `model` under `assignment` (release and rollout step). A new one starts a new
   * period, in storage (for every tab) and here; the unfinished period is dropped.
   */
  #assign(model: string, assignment: string): void {
    const now = this.#o.now();
    const periodMs = this.#config()?.periodMs ?? DEFAULT_PERIOD_MS;
    // Inferences may be counted before this transaction runs, in the period this tab started.
    const counting = this.#live.anchor ?? now;
    this.#transact((state) => assignModel(state, model, assignment, now, periodMs, counting)).then(
      ({ restarted, anchor }) => {
        if (restarted) this.#live.restart(anchor);
        else this.#live.setAnchor(anchor);
        this.#advance();
      },
      (error: unknown) => this.#problem(error),
    );
  }

  /** Reads the clock: the current period moves on if it ended (sealed at once) or the clock went back. */
  #advance(): void {
    const now = this.#o.now();
    const { moved, ended } = this.#live.advance(now);
    if (!moved) return;
    this.#schedulePeriodTimer(now);
    if (!ended || !this.#started) return;
    // The first activity after a period ended seals it; the send is spread over the next minute
    // (a tenth of the period at most), so a fleet whose periods all end at once does not send at once.
    void this.#cycle(false);
    if (this.#o.autoFlush && !this.#disposed) {
      clearTimeout(this.#sendTimer);
      this.#sendTimer = setTimeout(() => void this.flush(), this.#o.random() * Math.min(60_000, this.#live.periodMs / 10));
      unref(this.#sendTimer);
    }
  }

  /** A verified manifest may have brought a config with another period length. */
  #refreshConfig(): void {
    this.#live.setPeriodMs(this.#config()?.periodMs ?? DEFAULT_PERIOD_MS);
  }

  #touched(): void {
    if (this.#mergeTimer !== undefined || this.#disposed) return;
    this.#mergeTimer = setTimeout(this.#onMergeTimer, this.#o.mergeIntervalMs);
    unref(this.#mergeTimer);
  }

  /** Merges this tab's counts into storage; a failed merge keeps them for the next one. Resolves with deltas dropped (periods already sealed). */
  async #merge(): Promise<number> {
    const batch = this.#live.drain();
    if (batch.size === 0) return 0;
    const deltas = [...batch.values()];
    try {
      const { dropped, anchor } = await this.#transact((state) => mergeDeltas(state, deltas));
      if (anchor !== null) this.#live.setAnchor(anchor);
      return dropped;
    } catch (error) {
      this.#live.restore(batch);
      throw error;
    }
  }

  /** Seals every ended period under the current config, unless none is known or it asks for more ε than this device allows. */
  async #seal(): Promise<{ dropped: number; blocked?: string }> {
    const config = this.#config();
    const blocked = this.#blockedBy(config);
    if (blocked !== undefined || config === null) return { dropped: 0, ...(blocked !== undefined && { blocked }) };
    const rng = (this.#rng ??= cryptoRng());
    const outcome = await this.#transact((state) =>
      sealPeriods(state, {
        app: this.#app,
        now: this.#o.now(),
        config,
        epsilonPerDay: this.#o.epsilonPerDay,
        maxQueuedReports: this.#o.maxQueuedReports,
        rng,
        reportId: () => crypto.randomUUID(),
      }),
    );
    this.#lastProblem = undefined;
    return { dropped: outcome.dropped.length + outcome.droppedReports.length };
  }

  #blockedBy(config: TelemetryConfig | null): string | undefined {
    if (config === null) return 'no telemetry config yet: nothing is sealed until a verified manifest brings one (the app loads a model while online)';
    const most = maxReportEpsilon(config);
    if (most <= this.#o.epsilonPerDay) return undefined;
    const why = `telemetry config ${config.id} lets one report spend ε = ${most}, over this device's cap telemetry.privacy.epsilonPerDay = ${this.#o.epsilonPerDay}: nothing is sealed or sent under it`;
    if (this.#warnedConfig !== config.id) {
      this.#warnedConfig = config.id;
      console.warn(`edgeloop telemetry: ${why}`);
    }
    return why;
  }

  /** Background: store, seal, and (with `send`) send; failures are kept for `pending()` and retried later. */
  #cycle(send: boolean): Promise<unknown> {
    return this.#serialFlush(async () => {
      try {
        this.#refreshConfig();
        this.#advance();
        await this.#merge();
        const { blocked } = await this.#seal();
        if (send && blocked === undefined) await this.#sendOnce(false);
      } catch (error) {
        this.#problem(error);
      }
    });
  }

  /**
   * Sends the queue, unless another tab of this origin is sending it right now (Web Locks, where
   * they exist): two tabs would post the same reports (harmless, the server drops replays, but wasted).
   */
  async #sendOnce(keepalive: boolean): ReturnType<typeof sendQueued> {
    const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
    if (!locks) return sendQueued(this.#send, keepalive);
    return await locks.request(`edgeloop:telemetry-send:${this.#app}`, { ifAvailable: true }, async (lock) =>
      lock === null ? { sent: 0, dropped: 0 } : await sendQueued(this.#send, keepalive),
    );
  }

  #serialFlush<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.#flushChain.then(operation);
    this.#flushChain = run.catch(() => undefined);
    return run;
  }

  /** Storage operations of this collector run one at a time, so pending() never sees a merge half done. */
  #serialStorage<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.#storageChain.then(operation);
    this.#storageChain = run.catch(() => undefined);
    return run;
  }

  #transact<T>(change: (state: TelemetryState) => T): Promise<T> {
    return this.#serialStorage(() => this.#getStorage().transact(this.#app, change));
  }

  #read(): Promise<TelemetryState> {
    return this.#serialStorage(() => this.#getStorage().read(this.#app));
  }

  #getStorage(): TelemetryStorage {
    return (this.#storage ??= this.#storageOption ?? (typeof indexedDB === 'undefined' ? memoryTelemetryStorage() : indexedDbTelemetryStorage()));
  }

  /** At the period's end: move on (which seals the ended period). Not spread: the seal itself is local. */
  #schedulePeriodTimer(now: number): void {
    if (this.#disposed) return;
    clearTimeout(this.#periodTimer);
    this.#periodTimer = setTimeout(() => this.#advance(), Math.max(0, this.#live.periodEnd - now));
    unref(this.#periodTimer);
  }

  #scheduleRetry(delay: number): void {
    if (!this.#o.autoFlush || this.#disposed) return;
    clearTimeout(this.#send.retryTimer);
    this.#send.retryTimer = setTimeout(() => void this.flush(), delay);
    unref(this.#send.retryTimer);
  }

  #problem(error: unknown): void {
    this.#lastProblem = `telemetry storage failed, counts kept in memory and tried again: ${(error as Error)?.message ?? String(error)}`;
  }
}

/** The cohort a report carries: only inside a rollout's audience. */
function reportCohort(cohort: Cohort | null): ReportCohort | null {
  if (cohort === null || (cohort.arm !== 'candidate' && cohort.arm !== 'control')) return null;
  return { rollout: cohort.rollout, arm: cohort.arm, step: cohort.step };
}

function sameCohort(a: ReportCohort | null, b: ReportCohort | null): boolean {
  return a === b || (a !== null && b !== null && a.rollout === b.rollout && a.arm === b.arm && a.step === b.step);
}

/** Node timers keep the process alive; telemetry must not. */
function unref(timer: ReturnType<typeof setTimeout>): void {
  (timer as { unref?: () => void }).unref?.();
}
