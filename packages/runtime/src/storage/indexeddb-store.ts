import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';
import type { ModelRelease } from '@edgeloop/protocol';
import { RuntimeError } from '../errors.js';
import { activateRelease, normalizeHealth, type ModelHealthState, type ModelRecord } from '../health/health-state.js';
import { KEEP_PARTIAL_MS, type AppState, type ModelPointers, type ModelStore, type StoredFile, type TrialLease } from './model-store.js';
import { storageError } from './storage-error.js';

/** The whole IndexedDB schema of the runtime. Add a version and an `oldVersion < N` step to change it. */
export interface EdgeloopDB extends DBSchema {
  /**
   * File bytes in pieces, keyed by [sha256, offset]: downloads append as bytes arrive. Pieces are
   * Blobs (browsers keep large ones as files and read them back faster than ArrayBuffers);
   * version 1 migrated ArrayBuffers, which are read the same way.
   */
  chunks: { key: [string, number]; value: { sha256: string; offset: number; bytes: Blob | ArrayBuffer } };
  /** One record per file: progress, resume state, completeness, last use (for LRU eviction). */
  files: { key: string; value: StoredFile };
  /** Per `app/model`: active, previous and staged release, and the health gate's state (absent before version 3: empty). */
  models: { key: string; value: ModelPointers & { app: string; model: string; updatedAt: number; health?: ModelHealthState } };
  /** Per app: trust state and the last verified manifest. */
  apps: { key: string; value: AppState & { app: string } };
  /** Runtimes holding a release on trial open (version 3), by lease id: one record each, so a page going away deletes its own with one request. */
  leases: { key: string; value: TrialLease; indexes: { byModel: [string, string] } };
}

export const DB_VERSION = 3;

export interface IndexedDbStoreOptions {
  /** Database name; default `edgeloop`. */
  name?: string;
}

const modelKey = (app: string, model: string) => `${app}/${model}`;
const chunkRange = (sha256: string) => IDBKeyRange.bound([sha256, 0], [sha256, Number.MAX_SAFE_INTEGER]);
const EMPTY: ModelPointers = { active: null, previous: null, staged: null };

/** A stored `models` value as a full record (records from before version 3 have no health). */
function recordOf(entry: (ModelPointers & { health?: ModelHealthState }) | undefined): ModelRecord {
  if (!entry) return { ...EMPTY, health: normalizeHealth(undefined) };
  return { active: entry.active, previous: entry.previous, staged: entry.staged, health: normalizeHealth(entry.health) };
}

/** The browser's model store: IndexedDB through idb. */
export function indexedDbStore(options: IndexedDbStoreOptions = {}): ModelStore {
  if (typeof indexedDB === 'undefined') {
    throw new RuntimeError('storage', 'IndexedDB is not available here; pass a model store to createRuntime({ storage })');
  }
  let dbPromise: Promise<IDBPDatabase<EdgeloopDB>> | undefined;
  const db = () =>
    (dbPromise ??= openDB<EdgeloopDB>(options.name ?? 'edgeloop', DB_VERSION, {
      async upgrade(database, oldVersion, _newVersion, transaction) {
        if (oldVersion < 2) await upgradeToV2(database, oldVersion, transaction);
        if (oldVersion < 3) database.createObjectStore('leases', { keyPath: 'id' }).createIndex('byModel', ['app', 'model']);
      },
      blocked() {
        // Another tab holds the old version open; it is asked to close (versionchange below).
      },
    }).then((database) => {
      // A newer version of the runtime in another tab needs the database: step aside.
      database.addEventListener('versionchange', () => {
        opened = undefined;
        database.close();
      });
      opened = database;
      return database;
    }));
  /** The database once open, for writes that must start synchronously (page hide). */
  let opened: IDBPDatabase<EdgeloopDB> | undefined;

  async function run<T>(what: string, operation: (database: IDBPDatabase<EdgeloopDB>) => Promise<T>): Promise<T> {
    try {
      return await operation(await db());
    } catch (error) {
      throw storageError(error, what);
    }
  }

  return {
    keepsBlobs: true,

    getAppState: (app) =>
      run('reading app state', async (database) => {
        const entry = await database.get('apps', app);
        if (!entry) return null;
        const { app: _app, ...state } = entry;
        return state;
      }),

    putAppState: (app, state) => run('saving app state', async (database) => void (await database.put('apps', { app, ...state }))),

    getFile: (sha256) => run('reading a file record', async (database) => (await database.get('files', sha256)) ?? null),

    appendFile: (file, offset, bytes, appendOptions = {}) =>
      run('storing downloaded bytes', async (database) => {
        const end = offset + byteLength(bytes);
        if (appendOptions.complete && end !== file.length) {
          throw new RuntimeError('storage', `file ${file.sha256.slice(0, 12)}… would end at ${end} of ${file.length} bytes; it cannot be marked complete`);
        }
        // Relaxed: a chunk lost to a crash is downloaded again; only activation needs to be durable
        // (it commits with strict durability later, and IndexedDB commits in order).
        const tx = database.transaction(['files', 'chunks'], 'readwrite', { durability: 'relaxed' });
        const existing = await tx.objectStore('files').get(file.sha256);
        const received = existing?.received ?? 0;
        if (received !== offset || existing?.complete) {
          abort(tx);
          throw new RuntimeError('storage', `file ${file.sha256.slice(0, 12)}… has ${received} bytes stored; cannot append at ${offset}`);
        }
        // A Blob (a whole downloaded file) is stored as it is: its bytes never enter this page.
        // new Blob copies a view: the caller's bytes are part of a larger buffer it keeps using.
        const chunk = bytes instanceof Blob ? bytes : new Blob([bytes as Uint8Array<ArrayBuffer>]);
        void tx.objectStore('chunks').put({ sha256: file.sha256, offset, bytes: chunk });
        void tx.objectStore('files').put({
          sha256: file.sha256,
          length: file.length,
          received: end,
          complete: appendOptions.complete === true,
          etag: file.etag,
          lastUsed: Date.now(),
        });
        await tx.done;
      }),

    completeFile: (sha256) =>
      run('completing a file', async (database) => {
        // Relaxed is enough: activation commits with strict durability after this, and IndexedDB
        // commits transactions in order, so an active pointer is never durable without this flag.
        const tx = database.transaction('files', 'readwrite', { durability: 'relaxed' });
        const record = await tx.store.get(sha256);
        if (!record || record.received !== record.length) {
          abort(tx);
          throw new RuntimeError('storage', `file ${sha256.slice(0, 12)}… is not fully stored`);
        }
        await tx.store.put({ ...record, complete: true, lastUsed: Date.now() });
        await tx.done;
      }),

    deleteFile: (sha256) =>
      run('deleting a file', async (database) => {
        const tx = database.transaction(['files', 'chunks'], 'readwrite');
        void tx.objectStore('chunks').delete(chunkRange(sha256));
        void tx.objectStore('files').delete(sha256);
        await tx.done;
      }),

    readFile: (sha256) =>
      run('reading a model file', async (database) => {
        const record = await database.get('files', sha256);
        if (!record?.complete) return null;
        const bytes = await readChunks(database, sha256, record.length);
        if (!bytes) return null; // chunks lost (storage partly wiped): download again
        // Recency for LRU collection, written after the caller has its bytes (not on the hot path),
        // on the record as it is then: the file may have been replaced or deleted meanwhile.
        setTimeout(() => void touch(database, sha256).catch(() => undefined), 0);
        return bytes;
      }),

    readPartial: (sha256) =>
      run('reading a partial file', async (database) => {
        const record = await database.get('files', sha256);
        if (!record || record.complete || record.received === 0) return null;
        return readChunks(database, sha256, record.received);
      }),

    getModel: (app, model) =>
      run('reading model pointers', async (database) => recordOf(await database.get('models', modelKey(app, model)))),

    activate: (app, release) =>
      run('activating a release', async (database) => {
        // Strict durability: the pointer is on disk before success is reported.
        const tx = database.transaction(['files', 'models'], 'readwrite', { durability: 'strict' });
        for (const file of release.files) {
          const record = await tx.objectStore('files').get(file.sha256);
          if (!record?.complete || record.length !== file.length) {
            abort(tx);
            throw new RuntimeError('storage', `release ${release.releaseId} cannot be activated: file ${file.sha256.slice(0, 12)}… is not stored complete`);
          }
        }
        const key = modelKey(app, release.model);
        const record = recordOf(await tx.objectStore('models').get(key));
        activateRelease(record, release, Date.now());
        await tx.objectStore('models').put({ app, model: release.model, ...record, updatedAt: Date.now() }, key);
        await tx.done;
      }),

    updateModel: (app, model, change, updateOptions = {}) =>
      run('updating a model record', async (database) => {
        const tx = database.transaction('models', 'readwrite', { durability: updateOptions.durability ?? 'strict' });
        const key = modelKey(app, model);
        const record = recordOf(await tx.store.get(key));
        change(record);
        await tx.store.put({ app, model, ...record, updatedAt: Date.now() }, key);
        await tx.done;
        return record;
      }),

    putLease: (lease) => run('recording a trial lease', async (database) => void (await database.put('leases', lease))),
    listLeases: (app, model) => run('reading trial leases', (database) => database.getAllFromIndex('leases', 'byModel', [app, model])),
    deleteLease: (id) => run('deleting a trial lease', async (database) => void (await database.delete('leases', id))),
    deleteLeaseNow(id) {
      if (!opened) return false;
      try {
        // Created, sent and committed now, in this task (nothing waits for a result): the write is in
        // the browser's hands even if the page is gone a moment later.
        const tx = opened.transaction('leases', 'readwrite');
        tx.done.catch(() => undefined);
        void tx.store.delete(id).catch(() => undefined);
        tx.commit();
        return true;
      } catch (error) {
        // The database is closing (another tab upgrades it): the lease is judged by liveness later.
        if (error instanceof DOMException) return false;
        throw error;
      }
    },

    stage: (app, release) =>
      run('staging a release', async (database) => {
        const tx = database.transaction('models', 'readwrite', { durability: 'strict' });
        const key = modelKey(app, release.model);
        const current = (await tx.store.get(key)) ?? { app, model: release.model, ...EMPTY, updatedAt: 0 };
        await tx.store.put({ ...current, staged: release, updatedAt: Date.now() }, key);
        await tx.done;
      }),

    usage: () =>
      run('measuring storage', async (database) => (await database.getAll('files')).reduce((total, file) => total + file.received, 0)),

    collect: (collectOptions = {}) =>
      run('freeing storage', async (database) => {
        const tx = database.transaction(['files', 'chunks', 'models'], 'readwrite');
        const keep = new Set<string>();
        for (const pointers of await tx.objectStore('models').getAll()) {
          for (const release of [pointers.active, pointers.previous, pointers.staged]) {
            for (const file of release?.files ?? []) keep.add(file.sha256);
          }
        }
        const now = Date.now();
        const keepPartialMs = collectOptions.keepPartialMs ?? KEEP_PARTIAL_MS;
        const files = await tx.objectStore('files').getAll();
        let freedBytes = 0;
        let removedFiles = 0;
        // Chunks of a file with no record: a chunk and its record are written in one transaction,
        // so only storage damaged outside this store (or an older bug) leaves them. Nothing can read them.
        const recorded = new Set(files.map((file) => file.sha256));
        // Keys only: values are read just for the orphans, to count their bytes.
        const orphans = new Set((await tx.objectStore('chunks').getAllKeys()).map(([sha256]) => sha256).filter((sha256) => !recorded.has(sha256)));
        for (const sha256 of orphans) {
          for (const { bytes } of await tx.objectStore('chunks').getAll(chunkRange(sha256))) freedBytes += bytes instanceof Blob ? bytes.size : bytes.byteLength;
          void tx.objectStore('chunks').delete(chunkRange(sha256));
          removedFiles += 1;
        }
        const candidates = files
          .filter((file) => !keep.has(file.sha256) && (file.complete ? !collectOptions.keepComplete : now - file.lastUsed > keepPartialMs))
          .sort((a, b) => a.lastUsed - b.lastUsed);
        for (const file of candidates) {
          if (collectOptions.bytesNeeded !== undefined && freedBytes >= collectOptions.bytesNeeded) break;
          void tx.objectStore('chunks').delete(chunkRange(file.sha256));
          void tx.objectStore('files').delete(file.sha256);
          freedBytes += file.received;
          removedFiles += 1;
        }
        await tx.done;
        return { freedBytes, removedFiles };
      }),

    close() {
      void dbPromise?.then((database) => database.close());
    },
  };
}

/**
 * Version 1 kept whole files in `artifacts`, one `active` release per model and unsigned
 * manifests. Files and active releases carry over; unsigned manifests are dropped, since a
 * signed one must be fetched before anything new is trusted.
 */
async function upgradeToV2(
  database: IDBPDatabase<EdgeloopDB>,
  oldVersion: number,
  transaction: IDBPTransaction<EdgeloopDB, StoreNames<EdgeloopDB>[], 'versionchange'>,
): Promise<void> {
  database.createObjectStore('chunks', { keyPath: ['sha256', 'offset'] });
  database.createObjectStore('files', { keyPath: 'sha256' });
  database.createObjectStore('models');
  database.createObjectStore('apps', { keyPath: 'app' });
  if (oldVersion < 1) return;
  // The v1 stores are not in the v2 schema type: reach them untyped, once, here.
  const legacy = transaction as unknown as IDBPTransaction<LegacyV1, Array<StoreNames<LegacyV1>>, 'versionchange'>;
  const legacyDb = database as unknown as IDBPDatabase<LegacyV1>;
  const artifacts = await legacy.objectStore('artifacts').getAll();
  const actives = await legacy.objectStore('active').getAll();
  for (const artifact of artifacts) {
    void transaction.objectStore('chunks').put({ sha256: artifact.sha256, offset: 0, bytes: artifact.bytes });
    void transaction.objectStore('files').put({
      sha256: artifact.sha256,
      length: artifact.length,
      received: artifact.length,
      complete: true,
      etag: `"${artifact.sha256}"`,
      lastUsed: artifact.storedAt,
    });
  }
  for (const entry of actives) {
    void transaction
      .objectStore('models')
      .put({ app: entry.app, model: entry.model, active: entry.release, previous: null, staged: null, updatedAt: entry.activatedAt }, modelKey(entry.app, entry.model));
  }
  for (const name of ['artifacts', 'active', 'manifests'] as const) legacyDb.deleteObjectStore(name);
}

interface LegacyV1 extends DBSchema {
  artifacts: { key: string; value: { sha256: string; length: number; bytes: ArrayBuffer; storedAt: number } };
  active: { key: string; value: { app: string; model: string; release: ModelRelease; activatedAt: number } };
  manifests: { key: string; value: unknown };
}

/**
 * Concatenates the chunks of a file into one buffer of `length` bytes, or null when a chunk is
 * missing. The pieces are read in parallel, so for a moment both they and the output are held.
 */
async function readChunks(database: IDBPDatabase<EdgeloopDB>, sha256: string, length: number): Promise<ArrayBuffer | null> {
  // Collect the pieces first: awaiting a Blob read inside the cursor loop would end the transaction.
  const pieces = await database.getAll('chunks', chunkRange(sha256));
  let filled = 0;
  for (const { offset, bytes } of pieces) {
    if (offset !== filled) return null;
    filled += bytes instanceof Blob ? bytes.size : bytes.byteLength;
  }
  if (filled !== length) return null;
  // One Blob read per piece, all in flight at once: the browser reads them in parallel.
  const buffers = await Promise.all(pieces.map(({ bytes }) => (bytes instanceof Blob ? bytes.arrayBuffer() : bytes)));
  if (buffers.length === 1 && buffers[0]!.byteLength === length) return buffers[0]!;
  const out = new Uint8Array(length);
  pieces.forEach(({ offset }, i) => out.set(new Uint8Array(buffers[i]!), offset));
  return out.buffer;
}

/** Sets a file's last-use time, if the file still exists, in one read-modify-write transaction. */
async function touch(database: IDBPDatabase<EdgeloopDB>, sha256: string): Promise<void> {
  const tx = database.transaction('files', 'readwrite', { durability: 'relaxed' });
  const current = await tx.store.get(sha256);
  if (current) await tx.store.put({ ...current, lastUsed: Date.now() });
  await tx.done;
}

/** Aborts a transaction whose `done` nobody will await, without an unhandled rejection. */
function abort(tx: { abort(): void; done: Promise<void> }): void {
  tx.done.catch(() => undefined);
  tx.abort();
}

function byteLength(bytes: Uint8Array | Blob): number {
  return bytes instanceof Blob ? bytes.size : bytes.byteLength;
}
