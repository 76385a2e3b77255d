import { ReferenceProfile, TelemetryError } from '@edgeloop/telemetry';
import { recordAudit } from '../audit/audit-log.js';
import type { Database } from '../db/database.js';
import { ServerError } from '../errors.js';

/** A stored reference profile and the exact bytes devices download. */
export interface StoredProfile {
  profile: ReferenceProfile;
  /** The JSON served to devices. */
  body: string;
  /** Strong ETag of `body`. */
  etag: string;
  updatedAt: Date;
}

export interface ProfileStoreOptions {
  /** How long a profile (or its absence) is served from memory, ms. Default 60 s. */
  cacheTtlMs?: number;
  /** Profiles kept in memory at most. Default 1024. */
  maxCached?: number;
  now?: () => number;
}

interface ProfileRow {
  profile_id: string;
  body: string;
  etag: string;
  updated_at: Date;
}

/**
 * Reference profiles per model version, in the registry's database. Ingest asks for one per report
 * that carries summaries, so lookups (hits and misses) are cached briefly in a bounded map; an
 * upload on this instance invalidates its entry at once, others within `cacheTtlMs` (reports cut
 * on the previous profile name its id, so a stale cache never mixes counts of two profiles).
 */
export class ProfileStore {
  readonly #db: Database;
  readonly #ttl: number;
  readonly #max: number;
  readonly #now: () => number;
  #cache = new Map<string, { value: StoredProfile | null; expires: number }>();

  constructor(db: Database, options: ProfileStoreOptions = {}) {
    this.#db = db;
    this.#ttl = options.cacheTtlMs ?? 60_000;
    this.#max = options.maxCached ?? 1024;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Stores `profile` for a model version that exists. Replacing a profile needs a new id: reports
   * name the profile they were cut on, and two profiles under one id would mix their counts.
   */
  async put(target: { app: string; model: string; version: string }, profile: ReferenceProfile, audit: { actor: string; requestId: string | null }): Promise<StoredProfile> {
    const body = JSON.stringify(profile.toJSON());
    const etag = `"${await sha256Hex(body)}"`;
    const stored = await this.#db.transaction(async (tx) => {
      const [version] = await tx.query('select 1 from model_versions where app = $1 and model = $2 and version = $3', [target.app, target.model, target.version]);
      if (!version) throw new ServerError('not_found', `model "${target.app}/${target.model}" has no version "${target.version}"; publish it before its reference profile`);
      const [before] = await tx.query<ProfileRow>(
        'select * from reference_profiles where app = $1 and model = $2 and version = $3 for update',
        [target.app, target.model, target.version],
      );
      if (before && before.profile_id === profile.id && before.etag !== etag) {
        throw new ServerError('conflict', `version ${target.version} already has a different profile with id "${profile.id}"; give the new profile a new id`);
      }
      const [row] = await tx.query<ProfileRow>(
        `insert into reference_profiles (app, model, version, profile_id, body, etag) values ($1, $2, $3, $4, $5, $6)
         on conflict (app, model, version) do update set profile_id = $4, body = $5, etag = $6, updated_at = now()
         returning *`,
        [target.app, target.model, target.version, profile.id, body, etag],
      );
      await recordAudit(tx, {
        app: target.app,
        actor: audit.actor,
        action: 'profile.put',
        target: `${target.model}@${target.version}`,
        before: before ? { profile: before.profile_id, etag: before.etag } : null,
        after: { profile: profile.id, etag },
        requestId: audit.requestId,
      });
      return row!;
    });
    const value = { profile, body, etag, updatedAt: stored.updated_at };
    this.#remember(key(target), value);
    return value;
  }

  /** The profile of a model version, or null if none was uploaded. */
  async get(target: { app: string; model: string; version: string }): Promise<StoredProfile | null> {
    const k = key(target);
    const cached = this.#cache.get(k);
    if (cached && cached.expires > this.#now()) return cached.value;
    const [row] = await this.#db.query<ProfileRow>(
      'select profile_id, body, etag, updated_at from reference_profiles where app = $1 and model = $2 and version = $3',
      [target.app, target.model, target.version],
    );
    let value: StoredProfile | null = null;
    if (row) {
      try {
        value = { profile: ReferenceProfile.fromJSON(JSON.parse(row.body)), body: row.body, etag: row.etag, updatedAt: row.updated_at };
      } catch (error) {
        // Only this code writes the table, after validating: a bad row is corruption, not input.
        throw new ServerError('internal', `stored reference profile of ${k} is invalid: ${TelemetryError.fromUnknown(error).message}`);
      }
    }
    this.#remember(k, value);
    return value;
  }

  #remember(k: string, value: StoredProfile | null): void {
    this.#cache.delete(k);
    if (this.#cache.size >= this.#max) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(k, { value, expires: this.#now() + this.#ttl });
  }
}

const key = (t: { app: string; model: string; version: string }) => `${t.app}/${t.model}@${t.version}`;

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
