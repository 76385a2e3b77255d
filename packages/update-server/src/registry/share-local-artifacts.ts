import type { CachedBlobStore } from '../blobs/cached-blob-store.js';
import type { Database } from '../db/database.js';

/**
 * Copies every published file that the shared blob store lacks from this instance's disk into it.
 * A deployment that ran several instances with artifacts on local disk (or one that switches
 * stores) keeps serving what it published; a file no store holds is named in the log, since
 * devices would get a 404 for it until it is published again.
 */
export async function shareLocalArtifacts(db: Database, store: CachedBlobStore, log: (message: string) => void): Promise<{ copied: string[]; missing: string[] }> {
  const referenced = await db.query<{ sha256: string; size: string | number }>('select distinct sha256, size from variant_files order by sha256');
  if (referenced.length === 0) return { copied: [], missing: [] };
  const present = new Set<string>();
  for await (const blob of store.shared.list()) present.add(blob.sha256);
  const copied: string[] = [];
  const missing: string[] = [];
  for (const { sha256, size } of referenced) {
    if (present.has(sha256)) continue;
    if ((await store.local.stat(sha256)) === null) {
      missing.push(sha256);
      continue;
    }
    try {
      await store.shared.put(sha256, Number(size), store.local.read(sha256));
      copied.push(sha256);
    } catch (error) {
      // One unreadable or corrupt file must not keep the server from starting: say which.
      log(`could not copy artifact ${sha256} from this instance's disk to ${store.shared.description}: ${(error as Error).message}`);
      missing.push(sha256);
    }
  }
  if (copied.length > 0) log(`copied ${copied.length} published artifact(s) from this instance's disk to ${store.shared.description}`);
  if (missing.length > 0) {
    log(
      `${missing.length} published artifact(s) are neither in ${store.shared.description} nor on this instance's disk; ` +
        `devices get 404 for them until an instance that has them starts, or they are published again: ${missing.join(', ')}`,
    );
  }
  return { copied, missing };
}
