import type { BlobStore } from '../blobs/blob-store.js';
import type { Database } from '../db/database.js';

/** Every blob something points at: model files, and reference profiles (listed in manifests by hash). */
const REFERENCED = 'select sha256 from variant_files union select sha256 from reference_profiles';

export interface GcResult {
  deleted: string[];
  bytesFreed: number;
}

/**
 * Deletes blobs no variant file and no reference profile references. `graceMs` protects uploads
 * in flight: their bytes are renamed into place before the transaction that references them
 * commits, so a young unreferenced blob may be about to become referenced.
 */
export async function collectGarbage(db: Database, blobs: BlobStore, options: { graceMs: number; now?: Date }): Promise<GcResult> {
  const cutoff = new Date((options.now ?? new Date()).getTime() - options.graceMs);
  const referenced = new Set((await db.query<{ sha256: string }>(REFERENCED)).map((r) => r.sha256));
  const deleted: string[] = [];
  let bytesFreed = 0;
  for await (const blob of blobs.list()) {
    if (referenced.has(blob.sha256) || blob.writtenAt > cutoff) continue;
    // Re-check in the database right before deleting: a publish may have referenced it since.
    const removed = await db.transaction(async (tx) => {
      const still = await tx.query(`select 1 from (${REFERENCED}) referenced where sha256 = $1 limit 1`, [blob.sha256]);
      if (still.length > 0) return false;
      await tx.query('delete from blobs where sha256 = $1', [blob.sha256]);
      return true;
    });
    if (!removed) continue;
    bytesFreed += (await blobs.stat(blob.sha256))?.size ?? 0;
    await blobs.delete(blob.sha256);
    deleted.push(blob.sha256);
  }
  return { deleted, bytesFreed };
}
