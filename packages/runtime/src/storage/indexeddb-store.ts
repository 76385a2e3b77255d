import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { Manifest, ModelRelease } from '@edgeloop/protocol';
import { RuntimeError } from '../errors.js';
import type { CachedRelease, ModelStore } from './model-store.js';

/** The whole IndexedDB schema of the runtime. Add a version and an `oldVersion < N` step to change it. */
export interface EdgeloopDB extends DBSchema {
  /** Verified file bytes by sha256: identical files are stored once. */
  artifacts: { key: string; value: { sha256: string; length: number; bytes: ArrayBuffer; storedAt: number } };
  /** The active release per `app/model`. */
  active: { key: string; value: { app: string; model: string; release: ModelRelease; activatedAt: number } };
  /** The last manifest seen per app, for offline starts and conditional polls. */
  manifests: { key: string; value: { app: string; manifest: Manifest; etag: string | null; fetchedAt: number } };
}

export const DB_VERSION = 1;

export interface IndexedDbStoreOptions {
  /** Database name; default `edgeloop`. */
  name?: string;
}

const activeKey = (app: string, model: string) => `${app}/${model}`;

/** The browser's model store: IndexedDB through idb. */
export function indexedDbStore(options: IndexedDbStoreOptions = {}): ModelStore {
  if (typeof indexedDB === 'undefined') {
    throw new RuntimeError('storage', 'IndexedDB is not available here; pass a model store to createRuntime({ storage })');
  }
  let dbPromise: Promise<IDBPDatabase<EdgeloopDB>> | undefined;
  const db = () =>
    (dbPromise ??= openDB<EdgeloopDB>(options.name ?? 'edgeloop', DB_VERSION, {
      upgrade(database, oldVersion) {
        if (oldVersion < 1) {
          database.createObjectStore('artifacts', { keyPath: 'sha256' });
          database.createObjectStore('active');
          database.createObjectStore('manifests', { keyPath: 'app' });
        }
      },
    }));

  return {
    async getActive(app, model) {
      const database = await storage(db);
      const tx = database.transaction(['active', 'artifacts'], 'readonly');
      const pointer = await tx.objectStore('active').get(activeKey(app, model));
      if (!pointer) return null;
      const files = new Map<string, ArrayBuffer>();
      for (const file of pointer.release.files) {
        const artifact = await tx.objectStore('artifacts').get(file.sha256);
        // A pointer without its bytes means storage was partly wiped: treat as not cached.
        if (!artifact || artifact.length !== file.length) return null;
        files.set(file.sha256, artifact.bytes);
      }
      await tx.done;
      const cached: CachedRelease = { release: pointer.release, files };
      return cached;
    },

    async activate(app, release, files) {
      const database = await storage(db);
      // Strict durability: the pointer is on disk before we report success.
      const tx = database.transaction(['active', 'artifacts'], 'readwrite', { durability: 'strict' });
      const now = Date.now();
      for (const file of release.files) {
        const bytes = files.get(file.sha256);
        if (!bytes) throw new RuntimeError('storage', `release ${release.releaseId} is missing file ${file.sha256}`);
        void tx.objectStore('artifacts').put({ sha256: file.sha256, length: file.length, bytes, storedAt: now });
      }
      void tx.objectStore('active').put({ app, model: release.model, release, activatedAt: now }, activeKey(app, release.model));
      await storage(() => tx.done);
    },

    async getManifest(app) {
      const entry = await (await storage(db)).get('manifests', app);
      return entry ? { manifest: entry.manifest, etag: entry.etag } : null;
    },

    async putManifest(app, manifest, etag) {
      await (await storage(db)).put('manifests', { app, manifest, etag, fetchedAt: Date.now() });
    },

    close() {
      void dbPromise?.then((database) => database.close());
    },
  };
}

async function storage<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof RuntimeError) throw error;
    const name = error instanceof Error ? error.name : '';
    const hint = name === 'QuotaExceededError' ? ': the device is out of storage quota for this site' : '';
    throw new RuntimeError('storage', `IndexedDB failed (${name || String(error)})${hint}`, { cause: error });
  }
}
