import { goldenSignatureProblems, parseGolden, ProtocolError, type ModelSignature } from '@edgeloop/protocol';
import type { StagedBlob } from '../blobs/blob-store.js';
import type { Sql } from '../db/database.js';
import { ServerError } from '../errors.js';

/** Golden files are a few cases: larger uploads are refused before they are parsed. */
export const GOLDEN_MAX_BYTES = 16 * 1024 * 1024;
/** Golden files per variant, at most (a manifest lists at most 64 files per release). */
export const GOLDEN_MAX_FILES = 16;

/**
 * Checks an uploaded golden file before anything is recorded: it parses as `edgeloop-golden`
 * version 1, and its cases fit the signature of the variant's model file (input names, dtypes and
 * shapes, dynamic axes allowed; expected outputs the model has). Each failure is a 400 that names
 * the field or the mismatch.
 */
export async function checkGoldenUpload(sql: Sql, target: { app: string; model: string; version: string; variant: string }, staged: StagedBlob): Promise<void> {
  const label = `${target.model}@${target.version}${target.variant === 'default' ? '' : ` variant "${target.variant}"`}`;
  if (staged.size > GOLDEN_MAX_BYTES) {
    throw new ServerError('payload_too_large', `golden files are at most ${GOLDEN_MAX_BYTES} bytes (a few cases, large tensors as base64); this one is ${staged.size}`);
  }
  const [main] = await sql.query<{ signature: ModelSignature | null }>(
    `select signature from variant_files where app = $1 and model = $2 and version = $3 and variant = $4 and role = 'model'`,
    [target.app, target.model, target.version, target.variant],
  );
  if (!main?.signature) {
    throw new ServerError('conflict', `${label} has no model file yet; publish the model file of variant "${target.variant}" before its golden files`);
  }
  let golden;
  try {
    golden = parseGolden(await staged.bytes());
  } catch (error) {
    if (error instanceof ProtocolError) throw new ServerError('bad_request', `${error.message.replace(/^invalid golden file/, 'the golden file is invalid')}`, error.details);
    throw error;
  }
  const problems = goldenSignatureProblems(golden, main.signature);
  if (problems.length > 0) {
    throw new ServerError('bad_request', `the golden file does not fit the signature of ${label}: ${problems.join('; ')}`, problems);
  }
}

/** 409 when this variant already holds these golden bytes or as many golden files as it may. Run in the transaction. */
export async function checkGoldenSlot(tx: Sql, target: { app: string; model: string; version: string; variant: string }, sha256: string): Promise<void> {
  const rows = await tx.query<{ sha256: string }>(
    `select sha256 from variant_files where app = $1 and model = $2 and version = $3 and variant = $4 and role = 'golden'`,
    [target.app, target.model, target.version, target.variant],
  );
  if (rows.some((row) => row.sha256 === sha256)) {
    throw new ServerError('conflict', `${target.model}@${target.version} variant "${target.variant}" already has this golden file (sha256 ${sha256.slice(0, 12)}…); files are immutable`);
  }
  if (rows.length >= GOLDEN_MAX_FILES) {
    throw new ServerError('conflict', `${target.model}@${target.version} variant "${target.variant}" already has ${rows.length} golden files, the most a release may list; put more cases into one file`);
  }
}
