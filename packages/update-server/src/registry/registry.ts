import type { HealthPolicy, ModelFormat, ModelRelease, ModelSignature } from '@edgeloop/protocol';
import { recordAudit } from '../audit/audit-log.js';
import type { BlobStore } from '../blobs/blob-store.js';
import type { Database } from '../db/database.js';
import { ServerError } from '../errors.js';
import { bumpManifest } from './changes.js';
import { describeVersion, type VersionDetails } from './describe.js';
import { manifestModels } from './manifest-models.js';
import { uploadFile, type UploadInput, type UploadResult } from './publish.js';

export interface ModelVersionRecord {
  app: string;
  model: string;
  version: string;
  /** Monotonic per model: the order versions were published in. */
  seq: number;
  format: ModelFormat;
  sha256: string;
  size: number;
  signature: ModelSignature;
  createdAt: string;
}

/** A `model_versions` row as the drivers return it (bigints may come back as strings). */
export interface VersionRow {
  app: string;
  model: string;
  version: string;
  seq: number | string;
  format: ModelFormat;
  sha256: string;
  size: number | string;
  signature: ModelSignature;
  created_at: Date;
}

export const toRecord = (row: VersionRow): ModelVersionRecord => ({
  app: row.app,
  model: row.model,
  version: row.version,
  seq: Number(row.seq),
  format: row.format,
  sha256: row.sha256,
  size: Number(row.size),
  signature: row.signature,
  createdAt: row.created_at.toISOString(),
});

export type PublishInput = UploadInput;

/** Apps, models and their published versions; the bytes live in the blob store. */
export class Registry {
  readonly #db: Database;
  readonly #blobs: BlobStore;
  readonly #maxUploadBytes: number;
  readonly #onChange: (app: string) => void;

  constructor(options: { db: Database; blobs: BlobStore; maxUploadBytes: number; onChange: (app: string) => void }) {
    this.#db = options.db;
    this.#blobs = options.blobs;
    this.#maxUploadBytes = options.maxUploadBytes;
    this.#onChange = options.onChange;
  }

  /** Publishes a new version (its default variant's model file); see {@link Registry.upload}. */
  async publish(input: PublishInput): Promise<ModelVersionRecord> {
    await this.upload(input);
    return this.getVersion(input.app, input.model, input.version);
  }

  /**
   * Streams one file to the blob store while hashing it and records it (registry/publish.ts): a new
   * version, or a variant or file of an existing one. Idempotent with `idempotencyKey`.
   */
  async upload(input: UploadInput): Promise<UploadResult> {
    const result = await uploadFile(
      { db: this.#db, blobs: this.#blobs, maxUploadBytes: this.#maxUploadBytes, describe: async (tx, app, model, version) => ({ ...(await describeVersion(tx, app, model, version)) }) },
      input,
    );
    if (!result.replayed) this.#onChange(input.app);
    return result;
  }

  /**
   * Sets the health policy devices apply to `version`'s releases (null: the protocol's defaults),
   * with its audit entry; the manifest changes with it wherever the version is served.
   */
  async setHealth(app: string, model: string, version: string, policy: HealthPolicy | null, who: { actor: string; requestId?: string | null }): Promise<VersionDetails> {
    const details = await this.#db.transaction(async (tx) => {
      const [row] = await tx.query<{ health: HealthPolicy | null }>('select health from model_versions where app = $1 and model = $2 and version = $3 for update', [app, model, version]);
      if (!row) throw new ServerError('not_found', `model "${app}/${model}" has no version "${version}"; publish it first`);
      await tx.query('update model_versions set health = $4 where app = $1 and model = $2 and version = $3', [app, model, version, policy === null ? null : JSON.stringify(policy)]);
      await recordAudit(tx, { app, actor: who.actor, action: 'version.health', target: `${model}@${version}`, before: row.health, after: policy, requestId: who.requestId ?? null });
      await bumpManifest(tx, app);
      return describeVersion(tx, app, model, version);
    });
    this.#onChange(app);
    return details;
  }

  /** The models of `app` as its manifest on `channel` lists them (control, variants, rollout). */
  async manifestModels(app: string, channel = 'stable'): Promise<Record<string, ModelRelease>> {
    if (!(await this.appExists(app))) throw unknownApp(app);
    return manifestModels(this.#db, app, channel);
  }

  /** The names of the channels of `app` (any model); 404 for an unknown app. */
  async manifestChannels(app: string): Promise<string[]> {
    // One round trip: the app's row, joined with its channels (a null name when it has none).
    const rows = await this.#db.query<{ name: string | null }>(
      'select distinct c.name from apps a left join channels c on c.app = a.name where a.name = $1',
      [app],
    );
    if (rows.length === 0) throw unknownApp(app);
    return rows.flatMap((row) => (row.name === null ? [] : [row.name]));
  }

  async appExists(app: string): Promise<boolean> {
    return (await this.#db.query('select 1 from apps where name = $1', [app])).length > 0;
  }

  async listApps(): Promise<Array<{ name: string; manifestVersion: number }>> {
    const rows = await this.#db.query<{ name: string; manifest_version: number }>('select name, manifest_version from apps order by name');
    return rows.map((row) => ({ name: row.name, manifestVersion: Number(row.manifest_version) }));
  }

  /** The app's manifest version and when it was issued; both come from the database so every instance agrees. */
  async manifestState(app: string): Promise<{ version: number; issuedAt: Date }> {
    const [row] = await this.#db.query<{ manifest_version: number; manifest_issued_at: Date }>(
      'select manifest_version, manifest_issued_at from apps where name = $1',
      [app],
    );
    if (!row) throw unknownApp(app);
    return { version: Number(row.manifest_version), issuedAt: row.manifest_issued_at };
  }

  /**
   * Raises the manifest version and issue time without any other change: a signed manifest must be
   * re-issued before it expires, and new content under an old version would look like an attack.
   */
  async reissueManifest(app: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      if ((await tx.query('select 1 from apps where name = $1 for update', [app])).length === 0) throw unknownApp(app);
      await bumpManifest(tx, app); // every instance hears of it and rebuilds
    });
    this.#onChange(app);
  }

  async listModels(app: string): Promise<Array<{ name: string; latest: ModelVersionRecord }>> {
    if (!(await this.appExists(app))) throw unknownApp(app);
    return (await this.latestVersions(app)).map((latest) => ({ name: latest.model, latest }));
  }

  async getVersion(app: string, model: string, version: string): Promise<ModelVersionRecord> {
    const [row] = await this.#db.query<VersionRow>('select * from model_versions where app = $1 and model = $2 and version = $3', [
      app,
      model,
      version,
    ]);
    if (!row) throw new ServerError('not_found', `model "${app}/${model}" has no version "${version}"`);
    return toRecord(row);
  }

  /** The newest version of every model of `app` (devices get what its channels point at, not this). */
  async latestVersions(app: string): Promise<ModelVersionRecord[]> {
    const rows = await this.#db.query<VersionRow>(
      `select distinct on (model) * from model_versions where app = $1 order by model, seq desc`,
      [app],
    );
    return rows.map(toRecord);
  }
}

export function unknownApp(app: string): ServerError {
  return new ServerError('not_found', `unknown app "${app}"; publish a model to it first`);
}
