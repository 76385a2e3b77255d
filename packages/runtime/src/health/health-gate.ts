import type { ModelRelease } from '@edgeloop/protocol';
import type { AcquireMeta } from '../delivery/delivery.js';
import type { BackendName, BackendOptions, EngineHost, SessionInfo } from '../engine/engine-host.js';
import { sessionRequest } from '../engine/open-model.js';
import { Model, type ModelEvent, type ModelSource } from '../model.js';
import type { ModelStore, TrialLease } from '../storage/model-store.js';
import type { TelemetryCollector } from '../telemetry/collector.js';
import type { ModelTelemetryOptions } from '../telemetry/reportable-features.js';
import { countCrash, denyRelease, revertTrial, type ModelRecord, type RevertReason } from './health-state.js';
import type { Liveness } from './liveness.js';
import { MeasurementRecorder } from './measurements.js';
import type { HealthCheck } from './model-health.js';
import { telemetryObserver, type ModelBinding } from './run-observer.js';
import { CRASH_LOOP_CRASHES, TrialController, type TrialMode } from './trial.js';

export interface HealthGateOptions {
  app: string;
  store: () => ModelStore;
  events: EventTarget;
  telemetry: TelemetryCollector;
  /** Who vouches that a lease's runtime still runs (the store's, else Web Locks); null: page and process crashes are not counted. */
  liveness: () => Liveness | null;
  now: () => number;
  healthCheck?: HealthCheck;
}

export interface GateOpenInput {
  release: ModelRelease;
  files: ReadonlyMap<string, ArrayBuffer>;
  source: ModelSource;
  meta: AcquireMeta;
  host: EngineHost;
  backends: readonly BackendName[];
  backendOptions: BackendOptions;
  worker?: 'shared' | 'own';
  startedAt: number;
  onEvent?: (event: ModelEvent) => void;
  telemetry?: ModelTelemetryOptions;
  healthCheck?: HealthCheck;
}

/**
 * The device's health gate (one per runtime): trial activation around delivery. Before a load
 * decides, it counts the crashes of trials (leases whose runtime died) and reverts a crash loop
 * before anything runs ({@link settle}); it opens a release on trial beside the release it falls
 * back to ({@link open}); it runs the golden checks before the first real call and then watches the
 * trial ({@link begin}); and it measures every release on this device, so the next trial has figures
 * to be compared with.
 */
export class HealthGate {
  readonly #o: HealthGateOptions;
  readonly #controllers = new WeakMap<Model, TrialController>();
  /** Reverts decided at start (crash loops), reported once the model of this load exists. */
  readonly #atStart = new Map<string, { release: Pick<ModelRelease, 'releaseId' | 'version'>; reason: RevertReason; detail: string }>();
  /** This runtime's leases, by model: deleted when the trial ends here, on dispose, on page hide. */
  readonly #leases = new Map<string, string>();
  readonly recorder: MeasurementRecorder;
  /** Store steps that follow a switch (reverts), per model: the next load of the model waits for them. */
  readonly #pending = new Map<string, Promise<unknown>>();
  #holder: Promise<string | null> | undefined;
  readonly #onPageHide = () => this.#pageHide();

  constructor(options: HealthGateOptions) {
    this.#o = options;
    this.recorder = new MeasurementRecorder(options.store, options.app);
    globalThis.addEventListener?.('pagehide', this.#onPageHide);
  }

  /**
   * Before delivery decides what to run: leases of this model whose runtime is gone count as
   * crashes of their release (a page or process that died with it open), and a release with
   * {@link CRASH_LOOP_CRASHES} of them is reverted — or, when it never became active, refused —
   * without being run.
   */
  async settle(model: string, stored: ModelRecord): Promise<ModelRecord> {
    // A revert decided in this runtime and still being written: decide on what it writes.
    const pending = this.#pending.get(model);
    const record = pending ? await pending.then(() => this.#o.store().getModel(this.#o.app, model)) : stored;
    const liveness = this.#o.liveness();
    if (!liveness) return record;
    const store = this.#o.store();
    const leases = await store.listLeases(this.#o.app, model);
    if (leases.length === 0) return record;
    const own = await this.#holderId();
    const dead: TrialLease[] = [];
    for (const lease of leases) {
      if (lease.holder !== own && !(await liveness.isAlive(lease.holder))) dead.push(lease);
    }
    if (dead.length === 0) return record;
    let reverted: { release: Pick<ModelRelease, 'releaseId' | 'version'>; detail: string } | null = null;
    const settled = await store.updateModel(this.#o.app, model, (r) => {
      for (const lease of dead) {
        // A release that committed meanwhile is proven: its old leases say nothing any more.
        const unproven = r.health.trial?.releaseId === lease.releaseId || r.active?.releaseId !== lease.releaseId;
        if (!unproven || r.health.denied.some((d) => d.releaseId === lease.releaseId)) continue;
        const crashes = countCrash(r, lease.releaseId, lease.id);
        if (crashes < CRASH_LOOP_CRASHES) continue;
        const detail = `the page or process running it ended ${crashes} times during its trial`;
        const release = { releaseId: lease.releaseId, version: lease.version };
        if (r.health.trial?.releaseId === lease.releaseId) {
          if (revertTrial(r, release, 'crash_loop', detail, this.#o.now()) === 'reverted') reverted = { release, detail };
        } else denyRelease(r, release, 'crash_loop', detail, this.#o.now());
      }
    });
    for (const lease of dead) await store.deleteLease(lease.id);
    const done = reverted as { release: Pick<ModelRelease, 'releaseId' | 'version'>; detail: string } | null;
    if (done) this.#atStart.set(model, { release: done.release, reason: 'crash_loop', detail: done.detail });
    return settled;
  }

  /**
   * Opens the release delivery hands over. A release about to replace another (or on trial since an
   * earlier start) opens beside the release it falls back to, so a revert is a switch; this runtime
   * takes a lease on it first, so a crash while it is open is counted at the next start.
   */
  async open(input: GateOpenInput): Promise<Model> {
    const { release, meta } = input;
    const record = meta.record;
    let mode: TrialMode = 'committed';
    let fallbackRelease: ModelRelease | null = null;
    let newTrial = false;
    if (meta.activating && record.active?.releaseId !== release.releaseId) {
      const fallback = record.health.trial ? record.previous : record.active;
      if (fallback && fallback.releaseId !== release.releaseId) {
        [mode, fallbackRelease, newTrial] = ['trial', fallback, true];
      } else if (!record.active) mode = 'first';
    } else if (record.health.trial?.releaseId === release.releaseId && record.previous) {
      [mode, fallbackRelease] = ['trial', record.previous];
    }
    const hasGolden = release.files.some((file) => file.role === 'golden');
    if (mode === 'first' && !hasGolden) mode = 'committed';
    if (mode !== 'committed') await this.#takeLease(release);

    const refused = record.health.refusedBackends[release.releaseId] ?? [];
    const allowed = input.backends.filter((b) => !refused.includes(b));
    const backends = allowed.length > 0 ? allowed : input.backends;
    const request = (r: ModelRelease, files: ReadonlyMap<string, ArrayBuffer>, list: readonly BackendName[]) =>
      sessionRequest(r, files, { backends: list, backendOptions: input.backendOptions, ...(input.worker !== undefined && { worker: input.worker }) });
    // The fallback first, so it is created while the trial's session is (same worker, in order).
    const fallbackFiles = fallbackRelease ? await meta.readRelease(fallbackRelease).catch(() => null) : null;
    const fallbackSession: Promise<SessionInfo | null> =
      fallbackRelease && fallbackFiles ? input.host.createSession(request(fallbackRelease, fallbackFiles, input.backends)).catch(() => null) : Promise.resolve(null);
    let session: SessionInfo;
    try {
      session = await input.host.createSession(request(release, input.files, backends));
    } catch (error) {
      const unused = await fallbackSession;
      if (unused) await input.host.release(unused.id).catch(() => undefined);
      this.endLease(release.model);
      throw error;
    }
    const fallback = await fallbackSession;
    if (mode === 'trial' && !fallback) mode = hasGolden ? 'first' : 'committed';
    const controller = new TrialController(
      {
        app: this.#o.app,
        store: this.#o.store,
        events: this.#o.events,
        host: input.host,
        now: this.#o.now,
        healthCheck: input.healthCheck ?? this.#o.healthCheck,
        backends: input.backends,
        backendOptions: input.backendOptions,
        worker: input.worker,
        observers: [telemetryObserver(this.#o.telemetry), this.recorder],
        reportRevert: (to, from) => this.#reportRevert(to, from.version, meta, input.telemetry),
        endLease: () => this.endLease(release.model),
        flushMeasurements: () => this.recorder.flush(),
        track: (step) => this.#track(release.model, step),
      },
      {
        mode,
        newTrial,
        trial: { release, session, backend: session.backend },
        fallback: fallback && fallbackRelease ? { release: fallbackRelease, session: fallback, backend: fallback.backend } : null,
        files: input.files,
        refusedBackends: refused,
      },
    );
    if (mode === 'committed') this.endLease(release.model);
    const model = new Model({
      slot: controller,
      source: input.source,
      timings: { loadMs: performance.now() - input.startedAt, downloadMs: meta.downloadMs, sessionMs: session.createMs },
      host: input.host,
      ...(input.onEvent && { onEvent: input.onEvent }),
      delivery: { manifest: meta.manifest, updatePending: meta.updatePending, cohort: meta.cohort, ...(meta.problem && { problem: meta.problem }) },
    });
    this.#controllers.set(model, controller);
    return model;
  }

  /**
   * After delivery (the release is active, on trial when it replaced one): the golden checks run
   * before the model answers anything; a revert found at start is reported. Rejects (and frees the
   * model) only when a release with nothing to fall back to fails its golden checks.
   */
  async begin(model: Model): Promise<void> {
    const controller = this.#controllers.get(model);
    if (!controller) return;
    const atStart = this.#atStart.get(model.name);
    if (atStart) {
      this.#atStart.delete(model.name);
      controller.revertedAtStart(atStart.release, atStart.reason, atStart.detail);
      this.#o.events.dispatchEvent(
        new CustomEvent('trial-revert', {
          detail: { model: model.name, version: atStart.release.version, releaseId: atStart.release.releaseId, reason: atStart.reason, detail: atStart.detail, to: { version: model.version, releaseId: model.releaseId }, atStart: true },
        }),
      );
      await this.#reportReverted(model.name, atStart.release.version);
    }
    try {
      await controller.begin(model);
    } catch (error) {
      await model.dispose();
      throw error;
    }
  }

  /** This runtime's lease on `model` ends (the trial ended here, the model was disposed). */
  endLease(model: string): void {
    const id = this.#leases.get(model);
    if (id === undefined) return;
    this.#leases.delete(model);
    void this.#o.store().deleteLease(id).catch(() => undefined);
  }

  /** Gives back this runtime's leases and liveness; resolves once what was measured is stored (never rejects). */
  dispose(): Promise<void> {
    globalThis.removeEventListener?.('pagehide', this.#onPageHide);
    const store = this.#o.store();
    const leases = [...this.#leases.values()].map((id) => store.deleteLease(id).catch(() => undefined));
    this.#leases.clear();
    void this.#holder?.then((id) => id !== null && this.#o.liveness()?.release(id));
    return Promise.all([this.recorder.dispose(), ...leases, ...this.#pending.values()]).then(() => undefined);
  }

  #track(model: string, step: Promise<unknown>): void {
    const all = Promise.all([this.#pending.get(model), step.catch(() => undefined)]);
    this.#pending.set(model, all);
    void all.then(() => {
      if (this.#pending.get(model) === all) this.#pending.delete(model);
    });
  }

  async #takeLease(release: ModelRelease): Promise<void> {
    const holder = await this.#holderId();
    if (holder === null) return;
    const id = `${holder}/${this.#o.app}/${release.model}`;
    this.#leases.set(release.model, id);
    await this.#o.store().putLease({ id, holder, app: this.#o.app, model: release.model, releaseId: release.releaseId, version: release.version, at: this.#o.now() });
  }

  #holderId(): Promise<string | null> {
    return (this.#holder ??= this.#o.liveness()?.hold() ?? Promise.resolve(null));
  }

  /**
   * The page is going away on purpose: its leases are given back at once (a request started now
   * commits as the page goes), so a reload during a trial is not counted as a crash.
   */
  #pageHide(): void {
    const store = this.#o.store();
    for (const id of this.#leases.values()) store.deleteLeaseNow?.(id);
    this.#leases.clear();
    void this.recorder.flush();
  }

  /**
   * Telemetry learns of a revert after the fallback is its model's assignment: loading it restarts
   * the unfinished period (collector `loaded`), which would drop a flag set before. `pending()` reads
   * storage after that assignment is applied, so the flag is set in the new period.
   */
  #reportRevert(to: ModelBinding, revertedVersion: string, meta: AcquireMeta, telemetry: ModelTelemetryOptions | undefined): Promise<void> {
    void this.#o.telemetry.loaded({ name: to.release.model, version: to.release.version, backend: to.backend }, { cohort: meta.cohort, profile: to.release.profile }, telemetry);
    return this.#reportReverted(to.release.model, revertedVersion);
  }

  /** Resolves once the flag is set (`pending()` never rejects). */
  async #reportReverted(model: string, version: string): Promise<void> {
    await this.#o.telemetry.pending();
    this.#o.telemetry.reverted(model, version);
  }
}
