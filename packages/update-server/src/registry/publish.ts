import type { ModelFormat, ModelSignature } from '@edgeloop/protocol';
import { recordAudit } from '../audit/audit-log.js';
import type { BlobStore, StagedBlob } from '../blobs/blob-store.js';
import type { Database, Sql } from '../db/database.js';
import { ServerError } from '../errors.js';
import { bumpManifest } from './changes.js';
import { checkGoldenSlot, checkGoldenUpload } from './golden.js';
import { inspectOnnx } from './onnx.js';
import { checkTfjsWeights, inspectTfjs, type TfjsInfo } from './tfjs.js';
import type { FileRole } from './upload-options.js';

export interface UploadInput {
  app: string;
  model: string;
  version: string;
  format: ModelFormat;
  body: ReadableStream<Uint8Array>;
  /** Default `default`: the variant a device loads when no rule picks another. */
  variant?: string;
  /** Default `model`. */
  role?: FileRole;
  backend?: string | null;
  precision?: string | null;
  notes?: string;
  /** Who published: the token id, or `bootstrap`/`seed`. */
  publisher?: string;
  /** Point this channel at the new version in the same transaction. */
  channel?: string;
  idempotencyKey?: string;
  requestId?: string | null;
}

export interface UploadResult {
  /** The stored response of a replayed request, or the fresh one. */
  body: Record<string, unknown>;
  replayed: boolean;
}

interface Deps {
  db: Database;
  blobs: BlobStore;
  maxUploadBytes: number;
  /** Builds the version record returned to the client, inside the transaction. */
  describe: (tx: Sql, app: string, model: string, version: string) => Promise<Record<string, unknown>>;
}

/**
 * Streams one file to the blob store while hashing it, validates it, then records it in one
 * transaction with its audit entry. The first file of a new version label creates the version;
 * later ones add variants or files to it. On any failure nothing is recorded and the staged bytes
 * are removed. With an Idempotency-Key, a retry of the same request (same target, same bytes)
 * gets the first answer back instead of a 409.
 */
export async function uploadFile(deps: Deps, input: UploadInput): Promise<UploadResult> {
  const variant = input.variant ?? 'default';
  const role = input.role ?? 'model';
  const target = `${input.model}@${input.version}/${variant}/${role}`;
  const isNewVersion = input.variant === undefined && input.role === undefined;
  const prior = input.idempotencyKey ? await findKey(deps.db, input.app, input.idempotencyKey) : null;

  if (!prior) await checkTarget(deps.db, input, variant, role, isNewVersion);
  const staged = await deps.blobs.stage(input.body, { maxBytes: deps.maxUploadBytes });
  try {
    const fingerprint = `${target}:${staged.sha256}`;
    if (prior) {
      if (prior.fingerprint !== fingerprint) {
        throw new ServerError('conflict', `Idempotency-Key "${input.idempotencyKey}" was used for a different upload; use a new key for a new request`);
      }
      await staged.discard();
      return { body: prior.response, replayed: true };
    }
    if (staged.size === 0) throw new ServerError('invalid_model', 'the upload is empty: send the model file as the request body');
    const tfjs = role === 'model' && input.format !== 'onnx' ? inspectTfjs(await staged.bytes(), input.format) : null;
    const signature = role !== 'model' ? null : tfjs ? tfjs.signature : inspectOnnx(await staged.bytes()).signature;
    await checkWeightsSize(deps, input, variant, role, staged, tfjs);
    if (role === 'golden') await checkGoldenUpload(deps.db, { ...input, variant }, staged);
    await staged.commit();
    const body = await deps.db.transaction(async (tx) => {
      await checkTarget(tx, input, variant, role, isNewVersion, true);
      if (role === 'golden') await checkGoldenSlot(tx, { ...input, variant }, staged.sha256);
      await record(tx, input, staged, { variant, role, signature, isNewVersion });
      const response = await deps.describe(tx, input.app, input.model, input.version);
      if (input.idempotencyKey) {
        await tx.query('insert into idempotency_keys (app, key, fingerprint, status, response) values ($1, $2, $3, 201, $4)', [
          input.app,
          input.idempotencyKey,
          fingerprint,
          JSON.stringify(response),
        ]);
      }
      await recordAudit(tx, {
        app: input.app,
        actor: input.publisher ?? 'unknown',
        action: isNewVersion ? 'version.publish' : 'file.add',
        target,
        after: { sha256: staged.sha256, size: staged.size, notes: input.notes ?? '' },
        requestId: input.requestId ?? null,
      });
      return response;
    });
    return { body, replayed: false };
  } catch (error) {
    // A committed blob stays: it may be shared with another version, and GC removes it if not.
    await staged.discard();
    // Two instances publishing the same label at once: the loser hits the primary key (SQLSTATE
    // 23505, unique_violation) after its pre-check passed. That is the same 409 as a known duplicate.
    if ((error as { code?: unknown } | null)?.code === '23505') {
      throw new ServerError('conflict', `model "${input.app}/${input.model}" already has a version "${input.version}" (published concurrently); publish under a new label`);
    }
    throw error;
  }
}

/**
 * A TF.js variant's weights must be exactly the bytes its model.json's weightsManifest describes.
 * Checked by whichever of the two files arrives second (a new variant may add them in any order).
 */
async function checkWeightsSize(deps: Deps, input: UploadInput, variant: string, role: FileRole, staged: StagedBlob, tfjs: TfjsInfo | null): Promise<void> {
  const { app, model, version } = input;
  if (role === 'model') {
    if (!tfjs) return;
    const [weights] = await deps.db.query<{ size: number | string }>(
      `select size from variant_files where app = $1 and model = $2 and version = $3 and variant = $4 and role = 'weights'`,
      [app, model, version, variant],
    );
    if (weights) checkTfjsWeights(tfjs, Number(weights.size));
    return;
  }
  const [graph] = await deps.db.query<{ sha256: string; format: ModelFormat }>(
    `select f.sha256, v.format from variant_files f join variants v using (app, model, version, variant)
     where f.app = $1 and f.model = $2 and f.version = $3 and f.variant = $4 and f.role = 'model'`,
    [app, model, version, variant],
  );
  if (!graph || graph.format === 'onnx') return;
  const json = new Uint8Array(await new Response(deps.blobs.read(graph.sha256)).arrayBuffer());
  checkTfjsWeights(inspectTfjs(json, graph.format), staged.size);
}

async function findKey(db: Sql, app: string, key: string): Promise<{ fingerprint: string; response: Record<string, unknown> } | null> {
  const [row] = await db.query<{ fingerprint: string; response: Record<string, unknown> }>(
    'select fingerprint, response from idempotency_keys where app = $1 and key = $2',
    [app, key],
  );
  return row ?? null;
}

/** 409 for a label or file that exists, 404 for a variant added to a missing version. Re-run under lock in the transaction. */
async function checkTarget(db: Sql, input: UploadInput, variant: string, role: FileRole, isNewVersion: boolean, lock = false): Promise<void> {
  const forUpdate = lock ? ' for update' : '';
  const version = await db.query(`select 1 from model_versions where app = $1 and model = $2 and version = $3${forUpdate}`, [
    input.app,
    input.model,
    input.version,
  ]);
  if (isNewVersion) {
    if (version.length > 0) {
      throw new ServerError(
        'conflict',
        `model "${input.app}/${input.model}" already has a version "${input.version}"; versions are immutable, publish under a new label`,
      );
    }
    return;
  }
  if (version.length === 0) {
    throw new ServerError('not_found', `model "${input.app}/${input.model}" has no version "${input.version}"; publish the version first`);
  }
  // A variant holds several golden files, told apart by their bytes (checked once they are staged).
  if (role === 'golden') return;
  const file = await db.query('select 1 from variant_files where app = $1 and model = $2 and version = $3 and variant = $4 and role = $5', [
    input.app,
    input.model,
    input.version,
    variant,
    role,
  ]);
  if (file.length > 0) {
    throw new ServerError('conflict', `${input.model}@${input.version} variant "${variant}" already has a "${role}" file; files are immutable`);
  }
}

async function record(
  tx: Sql,
  input: UploadInput,
  staged: StagedBlob,
  meta: { variant: string; role: FileRole; signature: ModelSignature | null; isNewVersion: boolean },
): Promise<void> {
  const { app, model, version } = input;
  await tx.query('insert into blobs (sha256, size) values ($1, $2) on conflict do nothing', [staged.sha256, staged.size]);
  if (meta.isNewVersion) {
    if (meta.role !== 'model') throw new ServerError('bad_request', 'a new version starts with its model file');
    await tx.query('insert into apps (name) values ($1) on conflict do nothing', [app]);
    await tx.query('insert into models (app, name) values ($1, $2) on conflict do nothing', [app, model]);
    await tx.query(
      `insert into model_versions (app, model, version, seq, format, sha256, size, signature, notes, publisher)
       values ($1, $2, $3, (select coalesce(max(seq), 0) + 1 from model_versions where app = $1 and model = $2), $4, $5, $6, $7, $8, $9)`,
      [app, model, version, input.format, staged.sha256, staged.size, JSON.stringify(meta.signature), input.notes ?? '', input.publisher ?? ''],
    );
  }
  await tx.query(
    `insert into variants (app, model, version, variant, format, backend, precision) values ($1, $2, $3, $4, $5, $6, $7)
     on conflict do nothing`,
    [app, model, version, meta.variant, input.format, input.backend ?? null, input.precision ?? null],
  );
  await tx.query(
    'insert into variant_files (app, model, version, variant, role, sha256, size, signature) values ($1, $2, $3, $4, $5, $6, $7, $8)',
    [app, model, version, meta.variant, meta.role, staged.sha256, staged.size, meta.signature && JSON.stringify(meta.signature)],
  );
  // The first version of a model starts its `stable` channel, so a fresh model is served at once;
  // later versions reach devices only through a channel change or a rollout.
  if (meta.isNewVersion) await placeInChannel(tx, input);
  await bumpManifest(tx, app);
}

async function placeInChannel(tx: Sql, input: UploadInput): Promise<void> {
  const { app, model, version } = input;
  const channel = input.channel ?? 'stable';
  const existing = await tx.query<{ pinned: boolean }>('select pinned from channels where app = $1 and model = $2 and name = $3 for update', [
    app,
    model,
    channel,
  ]);
  if (existing.length === 0) {
    await tx.query('insert into channels (app, model, name, version) values ($1, $2, $3, $4)', [app, model, channel, version]);
  } else if (input.channel !== undefined) {
    const active = await tx.query(`select id from rollouts where app = $1 and model = $2 and channel = $3 and state in ('running', 'paused')`, [
      app,
      model,
      channel,
    ]);
    if (active.length > 0 || existing[0]!.pinned) {
      throw new ServerError('conflict', `channel "${channel}" of ${model} has a rollout in progress or is pinned; publish without ?channel= and use a rollout`);
    }
    await tx.query('update channels set version = $4, updated_at = now() where app = $1 and model = $2 and name = $3', [app, model, channel, version]);
  }
}
