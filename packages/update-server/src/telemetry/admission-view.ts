import type { AdmissionContext, TelemetryConfig } from '@edgeloop/telemetry';
import type { Database } from '../db/database.js';
import { parseStoredProfile, resolveProfiles, versionKey } from '../profiles/profile-store.js';
import { TelemetryConfigStore, type IssuedConfig } from './config/config-store.js';

/** What admission needs to know about one app, held in memory between changes. */
export class AppView {
  readonly #published: ReadonlySet<string>;
  readonly #profiles: ReadonlyMap<string, { id: string; cellCounts: readonly number[] }>;
  readonly #rollouts: ReadonlyMap<string, { model: string; steps: number }>;
  readonly #configs: readonly IssuedConfig[];

  constructor(parts: {
    published: ReadonlySet<string>;
    profiles: ReadonlyMap<string, { id: string; cellCounts: readonly number[] }>;
    rollouts: ReadonlyMap<string, { model: string; steps: number }>;
    configs: readonly IssuedConfig[];
  }) {
    this.#published = parts.published;
    this.#profiles = parts.profiles;
    this.#rollouts = parts.rollouts;
    this.#configs = parts.configs;
  }

  /** The config `id` of this app whose reports are admitted at `now`, if any. */
  config(id: string, now: number): TelemetryConfig | undefined {
    return TelemetryConfigStore.admissible(this.#configs, now).get(id);
  }

  /** The context `admitReport` checks a report of this app against. */
  context(configId: string, now: number): AdmissionContext {
    return {
      config: this.config(configId, now),
      now,
      isPublished: (model, version) => this.#published.has(versionKey(model, version)),
      profileOf: (model, version) => this.#profiles.get(versionKey(model, version)) ?? null,
      rolloutOf: (id) => this.#rollouts.get(id) ?? null,
    };
  }

  /** Cells per feature of the version's current profile when `profile` is its id (the summary then counts). */
  summaryCells(model: string, version: string, profile: string): readonly number[] | undefined {
    const current = this.#profiles.get(versionKey(model, version));
    return current?.id === profile ? current.cellCounts : undefined;
  }
}

/**
 * Admission answers from memory: per app the published versions, the current profile of each
 * version with its cell counts, every rollout with its step count, and the configs issued. Loaded
 * on first use and dropped on every change of the app (the manifest bump that every registry,
 * rollout, profile and config change commits reaches each instance through LISTEN/NOTIFY).
 */
export class AdmissionViews {
  readonly #db: Database;
  readonly #configs: TelemetryConfigStore;
  readonly #cache = new Map<string, Promise<AppView>>();

  constructor(options: { db: Database; configs: TelemetryConfigStore }) {
    this.#db = options.db;
    this.#configs = options.configs;
  }

  /** The view of `app` (which must exist: ingest checks that first, from memory). */
  get(app: string): Promise<AppView> {
    let view = this.#cache.get(app);
    if (!view) {
      view = this.#load(app);
      this.#cache.set(app, view);
      view.catch(() => {
        if (this.#cache.get(app) === view) this.#cache.delete(app);
      });
    }
    return view;
  }

  invalidate(app: string): void {
    this.#cache.delete(app);
  }

  invalidateAll(): void {
    this.#cache.clear();
  }

  async #load(app: string): Promise<AppView> {
    const versions = await this.#db.query<{ model: string; version: string }>('select model, version from model_versions where app = $1', [app]);
    const rollouts = await this.#db.query<{ id: string; model: string; steps: unknown[] }>('select id, model, steps from rollouts where app = $1', [app]);
    const profiles = new Map<string, { id: string; cellCounts: readonly number[] }>();
    const parsed = new Map<string, readonly number[]>();
    for (const [key, resolved] of await resolveProfiles(this.#db, app)) {
      let cells = parsed.get(resolved.sha256);
      if (!cells) parsed.set(resolved.sha256, (cells = parseStoredProfile(resolved).cellCounts()));
      profiles.set(key, { id: resolved.id, cellCounts: cells });
    }
    return new AppView({
      published: new Set(versions.map((v) => versionKey(v.model, v.version))),
      profiles,
      rollouts: new Map(rollouts.map((r) => [r.id, { model: r.model, steps: r.steps.length }])),
      configs: await this.#configs.history(app),
    });
  }
}
