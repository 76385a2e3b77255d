import { resolveHealthPolicy, type ModelRelease, type ResolvedHealthPolicy } from '@edgeloop/protocol';
import type { BackendName, BackendOptions, EngineHost } from '../engine/engine-host.js';
import { sessionRequest } from '../engine/open-model.js';
import { RuntimeError, type RuntimeErrorCode } from '../errors.js';
import type { Model } from '../model.js';
import type { ModelStore } from '../storage/model-store.js';
import { evaluateTrial, type TrialDecision } from './early-life.js';
import { goldenFilesOf, runGolden } from './golden-runner.js';
import { commitTrial, countCrash, revertTrial, type RevertReason } from './health-state.js';
import { emptyStats, statsOf, type BackendStats } from './measurements.js';
import type { HealthCheck, ModelHealth } from './model-health.js';
import type { ModelBinding, ModelSlot, RunObserver } from './run-observer.js';

/** Crashes of a release during its trial (worker or page) that make it a crash loop. */
export const CRASH_LOOP_CRASHES = 2;

/** What a trial needs from the runtime around it. */
export interface TrialContext {
  app: string;
  store: () => ModelStore;
  events: EventTarget;
  host: EngineHost;
  now: () => number;
  healthCheck: HealthCheck | undefined;
  /** Backends this model may use, in order, and their settings (a failed golden check moves to the next). */
  backends: readonly BackendName[];
  backendOptions: BackendOptions;
  worker: 'shared' | 'own' | undefined;
  /** Observers of every real run besides the trial itself (telemetry, the measurement recorder). */
  observers: readonly RunObserver[];
  /** Telemetry counts the fallback from now on and flags the revert; resolves when the fallback may answer (see HealthGate). */
  reportRevert(fallback: ModelBinding, reverted: Pick<ModelRelease, 'version'>): Promise<void>;
  /** This runtime's lease on the release ends: the trial ended here, or the model was disposed. */
  endLease(): void;
  /** Writes measurements now (before a decision is stored). */
  flushMeasurements(): Promise<void>;
  /** A store step that follows a switch: awaited by the next load of the model and by dispose, never by the answer. */
  track(step: Promise<unknown>): void;
}

/**
 * How the release of one load stands with the gate:
 * - `committed`: proven (or nothing to check);
 * - `first`: nothing to fall back to (a first install): its golden checks must pass or the load fails;
 * - `trial`: on trial with the previous release loaded beside it.
 */
export type TrialMode = 'committed' | 'first' | 'trial';

type State = 'checking' | 'trial' | 'committed' | 'reverted';

/**
 * The health gate around one loaded model (the {@link ModelSlot} its Model runs through): golden
 * checks on the backend actually used, with a move to the next backend when they fail there; the
 * early-life checks of every real run against the previous release's figures; the app's check;
 * and the revert — a switch of the slot to the previous release's session, loaded beside the trial
 * all along, then one atomic store step that reverts and deny-lists.
 */
export class TrialController implements ModelSlot, RunObserver {
  binding: ModelBinding;
  readonly observers: readonly RunObserver[];
  readonly #c: TrialContext;
  readonly #mode: TrialMode;
  readonly #newTrial: boolean;
  readonly #policy: ResolvedHealthPolicy;
  #trial: ModelBinding;
  #fallback: ModelBinding | null;
  #files: ReadonlyMap<string, ArrayBuffer> | null;
  #state: State = 'checking';
  #refused: string[];
  readonly #stats = new Map<string, BackendStats>();
  readonly #baseline = new Map<string, BackendStats>();
  #reverted: { release: Pick<ModelRelease, 'releaseId' | 'version'>; reason: RevertReason; detail: string; decidedAt: number | null; revertMs?: number } | null = null;
  #deciding = false;
  /** A revert was decided: trial runs no longer count, the switch follows. */
  #reverting = false;
  #model: Model | null = null;
  #released = new Set<number>();

  constructor(
    context: TrialContext,
    init: { mode: TrialMode; newTrial: boolean; trial: ModelBinding; fallback: ModelBinding | null; files: ReadonlyMap<string, ArrayBuffer>; refusedBackends: readonly string[] },
  ) {
    this.#c = context;
    this.#mode = init.mode;
    this.#newTrial = init.newTrial;
    this.#trial = init.trial;
    this.#fallback = init.fallback;
    this.#files = init.mode === 'committed' ? null : init.files;
    this.#refused = [...init.refusedBackends];
    this.#policy = resolveHealthPolicy(init.trial.release.health);
    this.binding = init.trial;
    this.observers = [...context.observers, this];
    if (init.mode === 'committed') this.#state = 'committed';
  }

  /**
   * Before the model answers its first real call: golden checks (moving to the next backend when
   * they fail on one), then the trial's figures so far. Rejects only when a release with nothing
   * to fall back to fails (it is refused, and nothing of it runs).
   */
  async begin(model: Model): Promise<void> {
    this.#model = model;
    if (this.#mode === 'committed') return;
    const release = this.#trial.release;
    if (this.#newTrial && this.#fallback) {
      this.#dispatch('trial-start', { model: release.model, version: release.version, releaseId: release.releaseId, previous: { version: this.#fallback.release.version, releaseId: this.#fallback.release.releaseId } });
    }
    const golden = goldenFilesOf(release, this.#files!);
    while (golden.length > 0) {
      const outcome = await runGolden(this.#c.host, this.#trial.session, golden, this.#policy.golden, `model "${release.model}" ${release.version}`);
      if (outcome.ok) break;
      if (outcome.crashed && (await this.#countCrash('worker'))) return;
      // A failure tied to this backend: the release gets the next one before anything is reverted.
      if (await this.#moveToNextBackend()) continue;
      await this.#fail(outcome.reason, outcome.detail);
      return;
    }
    this.#files = null;
    if (this.#mode === 'first' || this.#fallback === null) {
      // Nothing to fall back to: the golden checks were the whole gate.
      this.#state = 'committed';
      await this.#c.store().updateModel(this.#c.app, release.model, (record) => void commitTrial(record, release.releaseId));
      this.#c.endLease();
      return;
    }
    const record = await this.#c.store().getModel(this.#c.app, release.model);
    for (const m of record.health.measurements) {
      if (m.releaseId === release.releaseId) this.#stats.set(m.backend, statsOf(m));
      if (m.releaseId === this.#fallback.release.releaseId) this.#baseline.set(m.backend, statsOf(m));
    }
    this.#state = 'trial';
  }

  /** The release was reverted before anything ran (a crash loop found at start): the model runs its fallback. */
  revertedAtStart(release: Pick<ModelRelease, 'releaseId' | 'version'>, reason: RevertReason, detail: string): void {
    this.#reverted = { release, reason, detail, decidedAt: null };
    this.#state = 'reverted';
  }

  health(): ModelHealth {
    const release = this.#reverted?.release ?? this.#trial.release;
    const base = { releaseId: release.releaseId, version: release.version, ...(this.#refused.length > 0 && { refusedBackends: [...this.#refused] }) };
    if (this.#state === 'reverted' && this.#reverted) {
      const { reason, detail, revertMs } = this.#reverted;
      return { state: 'reverted', ...base, reason, detail, ...(revertMs !== undefined && { revertMs }) };
    }
    if (this.#state === 'committed') return { state: 'committed', ...base };
    const stats = this.#stats.get(this.#trial.backend);
    return { state: 'trial', ...base, inferences: stats ? stats.attempts - stats.errors : 0, needed: this.#policy.inferences };
  }

  succeeded(binding: ModelBinding, latencyMs: number): void {
    if (this.#state === 'reverted' && binding === this.#fallback && this.#reverted?.decidedAt != null && this.#reverted.revertMs === undefined) {
      this.#reverted.revertMs = performance.now() - this.#reverted.decidedAt;
      return;
    }
    if (this.#state !== 'trial' || this.#reverting || binding !== this.#trial) return;
    const stats = this.#statsFor(binding.backend);
    stats.attempts += 1;
    stats.latency.record(latencyMs < 0 ? 0 : latencyMs);
    this.#evaluate();
  }

  failed(binding: ModelBinding, code: RuntimeErrorCode): void {
    if (this.#state !== 'trial' || this.#reverting || binding !== this.#trial) return;
    const stats = this.#statsFor(binding.backend);
    stats.attempts += 1;
    stats.errors += 1;
    if (code === 'worker') {
      void this.#countCrash('worker').then((looped) => looped || this.#evaluate());
      return;
    }
    this.#evaluate();
  }

  async release(): Promise<void> {
    this.#c.endLease();
    await Promise.all([this.#trial, this.#fallback].map((b) => (b ? this.#releaseSession(b) : undefined)));
  }

  #statsFor(backend: string): BackendStats {
    let stats = this.#stats.get(backend);
    if (!stats) this.#stats.set(backend, (stats = emptyStats()));
    return stats;
  }

  #evaluate(): void {
    if (this.#deciding || this.#reverting || this.#state !== 'trial') return;
    const backend = this.#trial.backend;
    const decision = evaluateTrial(this.#statsFor(backend), this.#baseline.get(backend) ?? null, this.#policy);
    if (decision.decision === 'wait') return;
    this.#deciding = true;
    void this.#decide(decision)
      .catch((error: unknown) => this.#note(error))
      .finally(() => {
        this.#deciding = false;
      });
  }

  async #decide(decision: Exclude<TrialDecision, { decision: 'wait' }>): Promise<void> {
    if (decision.decision === 'revert') {
      await this.#revert(decision.reason, decision.detail);
      return;
    }
    const check = this.#c.healthCheck;
    if (check && this.#model) {
      let verdict: boolean | string;
      try {
        verdict = await check(this.#model);
      } catch (error) {
        verdict = `the app's healthCheck threw: ${(error as Error)?.message ?? String(error)}`;
      }
      if (this.#state !== 'trial') return;
      if (verdict !== true) {
        const detail = typeof verdict === 'string' ? verdict : "the app's healthCheck returned false";
        await this.#revert('app_check', detail);
        return;
      }
    }
    await this.#commit();
  }

  async #commit(): Promise<void> {
    const release = this.#trial.release;
    await this.#c.flushMeasurements();
    const record = await this.#c.store().updateModel(this.#c.app, release.model, (r) => void commitTrial(r, release.releaseId));
    if (record.active?.releaseId !== release.releaseId) {
      // Another tab of this app reverted the release meanwhile: follow the stored outcome.
      const denied = record.health.denied.find((d) => d.releaseId === release.releaseId);
      if (denied) {
        await this.#revert(denied.reason, denied.detail);
        return;
      }
    }
    this.#state = 'committed';
    const stats = this.#statsFor(this.#trial.backend);
    if (this.#fallback) await this.#releaseSession(this.#fallback);
    this.#fallback = null;
    this.#c.endLease();
    this.#dispatch('trial-commit', { model: release.model, version: release.version, releaseId: release.releaseId, backend: this.#trial.backend, inferences: stats.attempts - stats.errors });
  }

  /**
   * The revert: telemetry moves to the previous release (its counts start a new period, and the
   * revert is flagged in it), the slot switches to the previous release's session — loaded beside
   * the trial all along, so the next run() is answered by it at once, without waiting for storage —
   * and one store step then reverts the pointers and deny-lists the release. Resolves once the
   * previous release answers, with that store step.
   */
  async #revert(reason: RevertReason, detail: string): Promise<{ stored: Promise<void> }> {
    const fallback = this.#fallback;
    if (!fallback || this.#state === 'reverted' || this.#reverting) return { stored: Promise.resolve() };
    const trial = this.#trial;
    const decidedAt = performance.now();
    // No trial run counts any more; calls keep reaching the trial until the switch below.
    this.#reverting = true;
    await this.#c.reportRevert(fallback, trial.release);
    this.#reverted = { release: trial.release, reason, detail, decidedAt };
    this.#state = 'reverted';
    this.binding = fallback;
    this.#dispatch('trial-revert', {
      model: trial.release.model,
      version: trial.release.version,
      releaseId: trial.release.releaseId,
      reason,
      detail,
      backend: trial.backend,
      to: { version: fallback.release.version, releaseId: fallback.release.releaseId },
      decidedAt,
    });
    const stored = this.#c
      .store()
      .updateModel(this.#c.app, trial.release.model, (record) => void revertTrial(record, trial.release, reason, detail, this.#c.now()))
      .then(() => undefined)
      .finally(() => {
        this.#c.endLease();
        void this.#releaseSession(trial);
      });
    this.#c.track(stored);
    stored.catch((error: unknown) => this.#note(error));
    return { stored };
  }

  /** A failure of the golden checks on every backend this model may use. */
  async #fail(reason: 'golden_mismatch' | 'nan', detail: string): Promise<void> {
    if (this.#fallback) {
      // Returns once the previous release answers; the store step follows (see #revert).
      await this.#revert(reason, detail);
      return;
    }
    const release = this.#trial.release;
    await this.#c.store().updateModel(this.#c.app, release.model, (record) => void revertTrial(record, release, reason, detail, this.#c.now()));
    this.#c.endLease();
    await this.#releaseSession(this.#trial);
    throw new RuntimeError('health', `release ${release.releaseId} (${release.version}) failed its golden checks (${reason}: ${detail}); nothing else of model "${release.model}" is stored to run instead, so it was refused`, {
      details: { reason, releaseId: release.releaseId },
    });
  }

  /** Reopens the release on the backends after the one its golden checks failed on; false when there are none left (or none opens). */
  async #moveToNextBackend(): Promise<boolean> {
    const failed = this.#trial.backend;
    const rest = this.#c.backends.slice(this.#c.backends.indexOf(failed) + 1).filter((b) => !this.#refused.includes(b));
    if (rest.length === 0 || !this.#files) return false;
    const release = this.#trial.release;
    this.#refused.push(failed);
    await this.#c.store().updateModel(this.#c.app, release.model, (record) => {
      const known = record.health.refusedBackends[release.releaseId] ?? [];
      if (!known.includes(failed)) record.health.refusedBackends[release.releaseId] = [...known, failed];
    });
    let session;
    try {
      session = await this.#c.host.createSession(sessionRequest(release, this.#files, { backends: rest, backendOptions: this.#c.backendOptions, ...(this.#c.worker !== undefined && { worker: this.#c.worker }) }));
    } catch {
      return false;
    }
    await this.#releaseSession(this.#trial);
    const next: ModelBinding = { release, session, backend: session.backend };
    this.#trial = next;
    if (this.binding !== this.#fallback) this.binding = next;
    return true;
  }

  /** Counts a crash of the release on trial; reverts it when that makes a crash loop (true). */
  async #countCrash(kind: string): Promise<boolean> {
    const release = this.#trial.release;
    const record = await this.#c.store().updateModel(this.#c.app, release.model, (r) => void countCrash(r, release.releaseId, `${kind}:${crypto.randomUUID()}`));
    const crashes = record.health.crashes[release.releaseId]?.length ?? 0;
    if (crashes < CRASH_LOOP_CRASHES || !this.#fallback) return false;
    await this.#revert('crash_loop', `the ${kind} crashed ${crashes} times during the trial`);
    return true;
  }

  async #releaseSession(binding: ModelBinding): Promise<void> {
    if (this.#released.has(binding.session.id)) return;
    this.#released.add(binding.session.id);
    await this.#c.host.release(binding.session.id).catch(() => undefined);
  }

  #dispatch(type: 'trial-start' | 'trial-commit' | 'trial-revert', detail: Record<string, unknown>): void {
    this.#c.events.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** A decision that could not be stored: the model keeps what it switched to; the next start decides again. */
  #note(error: unknown): void {
    if (this.#reverted) this.#reverted.detail += `; the revert could not be stored (${(error as Error)?.message ?? String(error)}), so the next start checks the release again`;
  }
}
