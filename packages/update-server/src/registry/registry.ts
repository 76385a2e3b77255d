import type { ModelFormat, ModelSignature } from '@edgeloop/protocol';
import type { BlobStore } from '../blobs/blob-store.js';
import type { Database } from '../db/database.js';
import { ServerError } from '../errors.js';
import { inspectOnnx } from './onnx.js';

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

interface VersionRow {
  app: string;
  model: string;
  version: string;
  seq: number;
  format: ModelFormat;
  sha256: string;
  size: number;
  signature: ModelSignature;
  created_at: Date;
}

const toRecord = (row: VersionRow): ModelVersionRecord => ({
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

export interface PublishInput {
  app: string;
  model: string;
  version: string;
  format: ModelFormat;
  body: ReadableStream<Uint8Array>;
}

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

  /**
   * Streams a model to the blob store while hashing it, validates it, then records the version in
   * one transaction. On any failure nothing is recorded and the staged bytes are removed.
   */
  async publish(input: PublishInput): Promise<ModelVersionRecord> {
    const existing = await this.#db.query('select 1 from model_versions where app = $1 and model = $2 and version = $3', [
      input.app,
      input.model,
      input.version,
    ]);
    if (existing.length > 0) throw duplicateVersion(input);
    const staged = await this.#blobs.stage(input.body, { maxBytes: this.#maxUploadBytes });
    try {
      if (staged.size === 0) throw new ServerError('invalid_model', 'the upload is empty: send the model file as the request body');
      const info = inspectOnnx(await staged.bytes());
      await staged.commit();
      const record = await this.#db.transaction(async (tx) => {
        await tx.query('insert into apps (name) values ($1) on conflict do nothing', [input.app]);
        await tx.query('insert into models (app, name) values ($1, $2) on conflict do nothing', [input.app, input.model]);
        const clash = await tx.query('select 1 from model_versions where app = $1 and model = $2 and version = $3 for update', [
          input.app,
          input.model,
          input.version,
        ]);
        if (clash.length > 0) throw duplicateVersion(input);
        const [row] = await tx.query<VersionRow>(
          `insert into model_versions (app, model, version, seq, format, sha256, size, signature)
           values ($1, $2, $3,
             (select coalesce(max(seq), 0) + 1 from model_versions where app = $1 and model = $2),
             $4, $5, $6, $7)
           returning *`,
          [input.app, input.model, input.version, input.format, staged.sha256, staged.size, JSON.stringify(info.signature)],
        );
        await tx.query('update apps set manifest_version = manifest_version + 1 where name = $1', [input.app]);
        return toRecord(row!);
      });
      this.#onChange(input.app);
      return record;
    } catch (error) {
      await staged.discard();
      throw error;
    }
  }

  async appExists(app: string): Promise<boolean> {
    return (await this.#db.query('select 1 from apps where name = $1', [app])).length > 0;
  }

  async listApps(): Promise<Array<{ name: string; manifestVersion: number }>> {
    const rows = await this.#db.query<{ name: string; manifest_version: number }>('select name, manifest_version from apps order by name');
    return rows.map((row) => ({ name: row.name, manifestVersion: Number(row.manifest_version) }));
  }

  async manifestVersion(app: string): Promise<number> {
    const [row] = await this.#db.query<{ manifest_version: number }>('select manifest_version from apps where name = $1', [app]);
    if (!row) throw unknownApp(app);
    return Number(row.manifest_version);
  }

  async listModels(app: string): Promise<Array<{ name: string; latest: ModelVersionRecord }>> {
    if (!(await this.appExists(app))) throw unknownApp(app);
    return (await this.latestVersions(app)).map((latest) => ({ name: latest.model, latest }));
  }

  async listVersions(app: string, model: string): Promise<ModelVersionRecord[]> {
    if (!(await this.appExists(app))) throw unknownApp(app);
    const rows = await this.#db.query<VersionRow>('select * from model_versions where app = $1 and model = $2 order by seq desc', [app, model]);
    if (rows.length === 0) {
      throw new ServerError('not_found', `app "${app}" has no model "${model}"; publish a version of it first`);
    }
    return rows.map(toRecord);
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

  /** The newest version of every model of `app`: what its manifest serves. */
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

function duplicateVersion(input: { app: string; model: string; version: string }): ServerError {
  return new ServerError(
    'conflict',
    `model "${input.app}/${input.model}" already has a version "${input.version}"; versions are immutable, publish under a new label`,
  );
}
