import { deviceRoutes, type ReferenceProfileRef } from '@edgeloop/protocol';
import { ReferenceProfile, TelemetryError } from '@edgeloop/telemetry';
import { recordAudit } from '../audit/audit-log.js';
import type { BlobStore } from '../blobs/blob-store.js';
import type { Database, Sql } from '../db/database.js';
import { ServerError } from '../errors.js';
import { bumpManifest } from '../registry/changes.js';

/** The profile a model version records its drift summaries against, as the manifest lists it. */
export interface ResolvedProfile extends ReferenceProfileRef {
  /** The JSON bytes (also stored content-addressed in the blob store, where devices fetch them). */
  body: string;
  /** The version the profile was uploaded for: this one, or the predecessor it inherits from. */
  owner: string;
}

interface ProfileRow {
  model: string;
  version: string;
  profile_id: string;
  body: string;
  sha256: string;
  length: number | string;
}

/** Profile ids are echoed in reports and shown in views: printable text only. */
const PROFILE_ID = /^[^\u0000-\u001f\u007f]{1,256}$/;

/** `model\0version`: the key of per-version maps. */
export const versionKey = (model: string, version: string) => `${model}\u0000${version}`;

/**
 * Reference profiles, signed with the manifest. An upload stores the profile's JSON bytes in the
 * blob store under their sha256 (like artifacts) and records (id, sha256, length) for the version;
 * the manifest lists them on the release that version serves, so a device uses a profile only if
 * its bytes hash to what the server signed. A version without a profile of its own inherits the
 * profile of its nearest predecessor (by publish order) that has one, same id: the two arms of a
 * rollout then record against one profile and their summaries compare like with like.
 */
export class ProfileStore {
  readonly #db: Database;
  readonly #blobs: BlobStore;
  readonly #onChange: (app: string) => void;

  constructor(options: { db: Database; blobs: BlobStore; onChange: (app: string) => void }) {
    this.#db = options.db;
    this.#blobs = options.blobs;
    this.#onChange = options.onChange;
  }

  /**
   * Stores `profile` for a published version and bumps the manifest. A profile id names one set of
   * bytes in an app: reports name the profile they were cut on, and two profiles under one id would
   * mix their counts, so a different profile needs a new id (409 otherwise).
   */
  async put(target: { app: string; model: string; version: string }, profile: ReferenceProfile, audit: { actor: string; requestId: string | null }): Promise<ResolvedProfile> {
    if (!PROFILE_ID.test(profile.id)) throw new ServerError('bad_request', `profile id must be 1–256 printable characters (no control characters); got ${JSON.stringify(profile.id)}`);
    const body = JSON.stringify(profile.toJSON());
    const bytes = new TextEncoder().encode(body);
    const staged = await this.#blobs.stage(new Blob([bytes]).stream(), { maxBytes: bytes.byteLength });
    await staged.commit();
    const { app, model, version } = target;
    await this.#db.transaction(async (tx) => {
      const [exists] = await tx.query('select 1 from model_versions where app = $1 and model = $2 and version = $3', [app, model, version]);
      if (!exists) throw new ServerError('not_found', `model "${app}/${model}" has no version "${version}"; publish it before its reference profile`);
      const clash = await tx.query<{ model: string; version: string }>('select model, version from reference_profiles where app = $1 and profile_id = $2 and sha256 <> $3', [
        app,
        profile.id,
        staged.sha256,
      ]);
      if (clash.length > 0) {
        throw new ServerError('conflict', `profile id "${profile.id}" already names a different profile (${clash[0]!.model}@${clash[0]!.version}); give the new profile a new id`);
      }
      const [before] = await tx.query<ProfileRow>('select * from reference_profiles where app = $1 and model = $2 and version = $3 for update', [app, model, version]);
      await tx.query('insert into blobs (sha256, size) values ($1, $2) on conflict do nothing', [staged.sha256, staged.size]);
      await tx.query(
        `insert into reference_profiles (app, model, version, profile_id, body, etag, sha256, length) values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (app, model, version) do update set profile_id = $4, body = $5, etag = $6, sha256 = $7, length = $8, updated_at = now()`,
        [app, model, version, profile.id, body, `"${staged.sha256}"`, staged.sha256, staged.size],
      );
      await recordAudit(tx, {
        app,
        actor: audit.actor,
        action: 'profile.put',
        target: `${model}@${version}`,
        before: before ? { profile: before.profile_id, sha256: before.sha256 } : null,
        after: { profile: profile.id, sha256: staged.sha256 },
        requestId: audit.requestId,
      });
      await bumpManifest(tx, app);
    });
    this.#onChange(app);
    return { id: profile.id, sha256: staged.sha256, length: staged.size, url: deviceRoutes.artifact(staged.sha256), body, owner: version };
  }

  /** The profile every published version of `app` records against (own or inherited), by {@link versionKey}. */
  async resolve(app: string, sql: Sql = this.#db): Promise<Map<string, ResolvedProfile>> {
    return resolveProfiles(sql, app);
  }

  /**
   * Writes the bytes of profiles stored before profiles lived in the blob store (migration 5 kept
   * them in the database); idempotent, run at start.
   */
  async backfillBlobs(): Promise<number> {
    const rows = await this.#db.query<{ sha256: string; body: string }>('select distinct sha256, body from reference_profiles');
    let written = 0;
    for (const row of rows) {
      if (await this.#blobs.stat(row.sha256)) continue;
      const bytes = new TextEncoder().encode(row.body);
      const staged = await this.#blobs.stage(new Blob([bytes]).stream(), { maxBytes: bytes.byteLength });
      if (staged.sha256 !== row.sha256) {
        await staged.discard();
        throw new ServerError('internal', `stored reference profile bytes do not hash to ${row.sha256}`);
      }
      await staged.commit();
      await this.#db.query('insert into blobs (sha256, size) values ($1, $2) on conflict do nothing', [staged.sha256, staged.size]);
      written += 1;
    }
    return written;
  }
}

/** See {@link ProfileStore.resolve}: inheritance follows publish order (`seq`) within each model. */
export async function resolveProfiles(sql: Sql, app: string): Promise<Map<string, ResolvedProfile>> {
  const versions = await sql.query<{ model: string; version: string }>('select model, version from model_versions where app = $1 order by model, seq', [app]);
  const rows = await sql.query<ProfileRow>('select model, version, profile_id, body, sha256, length from reference_profiles where app = $1', [app]);
  const own = new Map(rows.map((row) => [versionKey(row.model, row.version), row]));
  const out = new Map<string, ResolvedProfile>();
  let model: string | null = null;
  let inherited: ResolvedProfile | null = null;
  for (const v of versions) {
    if (v.model !== model) {
      model = v.model;
      inherited = null;
    }
    const row = own.get(versionKey(v.model, v.version));
    if (row) {
      inherited = { id: row.profile_id, sha256: row.sha256, length: Number(row.length), url: deviceRoutes.artifact(row.sha256), body: row.body, owner: v.version };
    }
    if (inherited) out.set(versionKey(v.model, v.version), inherited);
  }
  return out;
}

/** A stored profile's JSON as a {@link ReferenceProfile}; a bad row is corruption, not input. */
export function parseStoredProfile(resolved: ResolvedProfile): ReferenceProfile {
  try {
    return ReferenceProfile.fromJSON(JSON.parse(resolved.body));
  } catch (error) {
    throw new ServerError('internal', `stored reference profile "${resolved.id}" is invalid: ${TelemetryError.fromUnknown(error).message}`);
  }
}

/** The manifest's view of a resolved profile. */
export function profileRef(resolved: ResolvedProfile): ReferenceProfileRef {
  return { id: resolved.id, sha256: resolved.sha256, length: resolved.length, url: resolved.url };
}
