import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readFile, readdir, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelRelease } from '@edgeloop/protocol';
import { RuntimeError } from '../errors.js';
import type { InstallIdStorage } from '../rollout/install-id.js';
import { directoryLocks } from './fs-locks.js';
import { activateRelease, normalizeHealth, type ModelHealthState, type ModelRecord } from '../health/health-state.js';
import { KEEP_PARTIAL_MS, type AppState, type ModelPointers, type ModelStore, type StoredFile, type TrialLease } from './model-store.js';
import { processLiveness } from './process-liveness.js';
import { storageError } from './storage-error.js';
import { syncDirectory, writeAtomic } from './atomic-file.js';

interface Progress {
  length: number;
  received: number;
  etag: string | null;
  lastUsed: number;
}

interface State {
  version: 1;
  apps: Record<string, AppState>;
  /** Pointers and, since the health gate, its state (absent in older files: empty). */
  models: Record<string, ModelPointers & { health?: ModelHealthState }>;
}

function recordOf(entry: (ModelPointers & { health?: ModelHealthState }) | undefined): ModelRecord {
  return { active: entry?.active ?? null, previous: entry?.previous ?? null, staged: entry?.staged ?? null, health: normalizeHealth(entry?.health) };
}

export interface FileSystemStoreOptions {
  /** Directory that holds the cache; created when missing. */
  directory: string;
}

const emptyState = (): State => ({ version: 1, apps: {}, models: {} });

/**
 * The model store for Node (Electron's main process, kiosk scripts): the same contract as the
 * IndexedDB store on the filesystem. Complete files live in `files/<sha256>` (their mtime is their
 * last use); a download appends to `partial/<sha256>` and records its progress beside it; pointers,
 * trust and the health gate's state live in `state.json`; trial leases in `leases/`; the install id
 * in `install-id`.
 *
 * Several runtimes and processes may share one directory: every write goes to a temporary file of
 * its own, is fsynced, then renamed over the old one (a crash leaves the old or the new file, never
 * a torn one); `state.json` is read fresh and changed only under a lock held across processes
 * (`locks/`), so no writer loses another's change; and delivery downloads each file under such a
 * lock too ({@link ModelStore.locks}), so one process fetches it while the others wait.
 */
export function fileSystemStore(options: FileSystemStoreOptions): ModelStore {
  const root = options.directory;
  const filesDir = join(root, 'files');
  const partialDir = join(root, 'partial');
  const leasesDir = join(root, 'leases');
  const statePath = join(root, 'state.json');
  const locks = directoryLocks(join(root, 'locks'));
  let ready: Promise<void> | undefined;
  const prepare = () =>
    (ready ??= (async () => {
      await mkdir(filesDir, { recursive: true });
      await mkdir(partialDir, { recursive: true });
      await mkdir(leasesDir, { recursive: true });
    })());

  /**
   * The state as it is on disk now. A file that is not JSON (written by something else, or by a
   * version of this store that could tear it) is moved aside as `state.json.corrupt-<time>`, under
   * the lock, and the cache starts afresh: its releases are downloaded again, as after wiped
   * storage, instead of every load failing.
   */
  async function readState(locked = false): Promise<State> {
    let text: string;
    try {
      text = await readFile(statePath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
      throw error;
    }
    try {
      const state = JSON.parse(text) as State;
      return { version: 1, apps: state.apps ?? {}, models: state.models ?? {} };
    } catch {
      if (!locked) return locks.request('state', {}, () => readState(true));
      await rename(statePath, `${statePath}.corrupt-${Date.now()}`);
      return emptyState();
    }
  }

  /** Applies `change` to the state as it is on disk now, under the cross-process state lock. */
  const update = (change: (state: State) => void): Promise<void> =>
    locks.request('state', {}, async () => {
      const state = await readState(true);
      change(state);
      await writeAtomic(statePath, JSON.stringify(state));
    });

  async function run<T>(what: string, operation: () => Promise<T>): Promise<T> {
    try {
      await prepare();
      return await operation();
    } catch (error) {
      throw storageError(error, what);
    }
  }

  const progressPath = (sha256: string) => join(partialDir, `${sha256}.json`);

  async function readProgress(sha256: string): Promise<Progress | null> {
    let text: string;
    try {
      text = await readFile(progressPath(sha256), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    try {
      return JSON.parse(text) as Progress;
    } catch {
      // Not ours (progress records are replaced atomically): the partial bytes cannot be trusted either.
      await rm(join(partialDir, sha256), { force: true });
      await rm(progressPath(sha256), { force: true });
      return null;
    }
  }

  /** Moves a fully received partial file into `files/`, durably, and forgets its progress. */
  async function complete(sha256: string): Promise<void> {
    const progress = await readProgress(sha256);
    if (!progress || progress.received !== progress.length) throw new RuntimeError('storage', `file ${sha256.slice(0, 12)}… is not fully stored`);
    await rename(join(partialDir, sha256), join(filesDir, sha256));
    await syncDirectory(filesDir);
    await rm(progressPath(sha256), { force: true });
  }

  async function completeStat(sha256: string): Promise<{ size: number; mtimeMs: number } | null> {
    try {
      return await stat(join(filesDir, sha256));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  const installIds: InstallIdStorage = {
    async get() {
      try {
        return (await readFile(join(root, 'install-id'), 'utf8')).trim() || null;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
    },
    async set(_key, value) {
      await mkdir(root, { recursive: true });
      // Created once, whole: the first process to link its id in place wins; the others read it.
      await createOnce(join(root, 'install-id'), `${value}\n`);
    },
  };

  /** Lease ids become file names: anything outside a safe alphabet is replaced. */
  const leasePath = (id: string) => join(leasesDir, `${id.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);

  return {
    locks,
    installIds,
    liveness: processLiveness(),

    getAppState: (app) => run('reading app state', async () => (await readState()).apps[app] ?? null),
    putAppState: (app, state) =>
      run('saving app state', () =>
        update((s) => {
          s.apps[app] = state;
        }),
      ),

    getFile: (sha256) =>
      run('reading a file record', async () => {
        const done = await completeStat(sha256);
        if (done !== null) {
          const file: StoredFile = { sha256, length: done.size, received: done.size, complete: true, etag: null, lastUsed: done.mtimeMs };
          return file;
        }
        const progress = await readProgress(sha256);
        if (!progress) return null;
        return {
          sha256,
          length: progress.length,
          received: progress.received,
          complete: false,
          etag: progress.etag,
          lastUsed: progress.lastUsed,
        };
      }),

    appendFile: (file, offset, bytes, appendOptions = {}) =>
      run('storing downloaded bytes', async () => {
        if (bytes instanceof Blob) bytes = new Uint8Array(await bytes.arrayBuffer());
        const end = offset + bytes.byteLength;
        if (appendOptions.complete && end !== file.length) {
          throw new RuntimeError('storage', `file ${file.sha256.slice(0, 12)}… would end at ${end} of ${file.length} bytes; it cannot be marked complete`);
        }
        const received = (await readProgress(file.sha256))?.received ?? 0;
        if (received !== offset || (await completeStat(file.sha256)) !== null) {
          throw new RuntimeError('storage', `file ${file.sha256.slice(0, 12)}… has ${received} bytes stored; cannot append at ${offset}`);
        }
        const handle = await open(join(partialDir, file.sha256), offset === 0 ? 'w' : 'r+');
        try {
          await handle.write(bytes, 0, bytes.byteLength, offset);
          // The bytes are on disk before the progress (or the completion) that counts them.
          await handle.sync();
        } finally {
          await handle.close();
        }
        const progress: Progress = { length: file.length, received: end, etag: file.etag, lastUsed: Date.now() };
        await writeAtomic(progressPath(file.sha256), JSON.stringify(progress));
        if (appendOptions.complete) await complete(file.sha256);
      }),

    completeFile: (sha256) => run('completing a file', () => complete(sha256)),

    deleteFile: (sha256) =>
      run('deleting a file', async () => {
        await rm(join(filesDir, sha256), { force: true });
        await rm(join(partialDir, sha256), { force: true });
        await rm(progressPath(sha256), { force: true });
      }),

    readFile: (sha256) =>
      run('reading a model file', async () => {
        const path = join(filesDir, sha256);
        let bytes: Buffer;
        try {
          bytes = await readFile(path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
          throw error;
        }
        // Recency for LRU collection: the file's mtime, set after the caller has its bytes. The file
        // may have been collected meanwhile; then there is nothing to mark.
        const now = new Date();
        void utimes(path, now, now).catch(() => undefined);
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      }),

    readPartial: (sha256) =>
      run('reading a partial file', async () => {
        const progress = await readProgress(sha256);
        if (!progress || progress.received === 0) return null;
        try {
          const bytes = await readFile(join(partialDir, sha256));
          if (bytes.byteLength < progress.received) return null;
          return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + progress.received) as ArrayBuffer;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
          throw error;
        }
      }),

    getModel: (app, model) => run('reading model pointers', async () => recordOf((await readState()).models[`${app}/${model}`])),

    activate: (app, release) =>
      run('activating a release', async () => {
        for (const file of release.files) {
          if ((await completeStat(file.sha256))?.size !== file.length) {
            throw new RuntimeError('storage', `release ${release.releaseId} cannot be activated: file ${file.sha256.slice(0, 12)}… is not stored complete`);
          }
        }
        await update((s) => {
          const key = `${app}/${release.model}`;
          const record = recordOf(s.models[key]);
          activateRelease(record, release, Date.now());
          s.models[key] = record;
        });
      }),

    // Every write of state.json is fsynced and renamed into place: `durability` changes nothing here.
    updateModel: (app, model, change) =>
      run('updating a model record', async () => {
        let stored: ModelRecord | undefined;
        await update((s) => {
          const key = `${app}/${model}`;
          const record = recordOf(s.models[key]);
          change(record);
          s.models[key] = record;
          stored = record;
        });
        return stored!;
      }),

    putLease: (lease) => run('recording a trial lease', () => writeAtomic(leasePath(lease.id), JSON.stringify(lease))),

    listLeases: (app, model) =>
      run('reading trial leases', async () => {
        const leases: TrialLease[] = [];
        for (const name of await readdir(leasesDir)) {
          if (!name.endsWith('.json')) continue;
          let text: string;
          try {
            text = await readFile(join(leasesDir, name), 'utf8');
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // deleted meanwhile
            throw error;
          }
          let lease: TrialLease;
          try {
            lease = JSON.parse(text) as TrialLease;
          } catch {
            // Leases are written whole (temporary file + rename): this one is not ours.
            await rm(join(leasesDir, name), { force: true });
            continue;
          }
          if (lease.app === app && lease.model === model) leases.push(lease);
        }
        return leases;
      }),

    deleteLease: (id) => run('deleting a trial lease', () => rm(leasePath(id), { force: true })),

    stage: (app, release: ModelRelease) =>
      run('staging a release', () =>
        update((s) => {
          const key = `${app}/${release.model}`;
          s.models[key] = { active: null, previous: null, ...s.models[key], staged: release };
        }),
      ),

    usage: () =>
      run('measuring storage', async () => {
        let total = 0;
        for (const dir of [filesDir, partialDir]) {
          for (const name of await readdir(dir)) {
            if (name.endsWith('.json') || name.endsWith('.tmp')) continue;
            total += (await statOrNull(join(dir, name)))?.size ?? 0;
          }
        }
        return total;
      }),

    collect: (collectOptions = {}) =>
      run('freeing storage', async () => {
        const state = await readState();
        const keep = new Set<string>();
        for (const pointers of Object.values(state.models)) {
          for (const release of [pointers.active, pointers.previous, pointers.staged]) for (const file of release?.files ?? []) keep.add(file.sha256);
        }
        const now = Date.now();
        const keepPartialMs = collectOptions.keepPartialMs ?? KEEP_PARTIAL_MS;
        const candidates: Array<{ sha256: string; size: number; lastUsed: number }> = [];
        if (!collectOptions.keepComplete) {
          for (const name of await readdir(filesDir)) {
            const info = keep.has(name) ? null : await statOrNull(join(filesDir, name));
            if (info) candidates.push({ sha256: name, size: info.size, lastUsed: info.mtimeMs });
          }
        }
        // State writes cut short by a crash leave their temporary file next to state.json.
        for (const name of await readdir(root)) {
          if (name.startsWith('state.json.') && name.endsWith('.tmp')) await removeIfOlder(join(root, name), now - keepPartialMs);
        }
        for (const name of await readdir(leasesDir)) {
          if (name.endsWith('.tmp')) await removeIfOlder(join(leasesDir, name), now - keepPartialMs);
        }
        const partialNames = new Set(await readdir(partialDir));
        for (const name of partialNames) {
          if (name.endsWith('.tmp')) {
            // A progress record whose write a crash cut short (the rename never happened).
            await removeIfOlder(join(partialDir, name), now - keepPartialMs);
            continue;
          }
          if (name.endsWith('.json')) {
            // Progress of bytes that are gone: nothing to resume.
            if (!partialNames.has(name.slice(0, -'.json'.length))) await rm(join(partialDir, name), { force: true });
            continue;
          }
          if (keep.has(name)) continue;
          const progress = await readProgress(name);
          const info = await statOrNull(join(partialDir, name));
          if (!info) continue; // completed or removed by another process meanwhile
          // Bytes without a progress record (a crash between the write and its record) count from their mtime.
          const lastUsed = progress?.lastUsed ?? info.mtimeMs;
          if (now - lastUsed <= keepPartialMs) continue;
          candidates.push({ sha256: name, size: info.size, lastUsed });
        }
        candidates.sort((a, b) => a.lastUsed - b.lastUsed);
        let freedBytes = 0;
        let removedFiles = 0;
        for (const candidate of candidates) {
          if (collectOptions.bytesNeeded !== undefined && freedBytes >= collectOptions.bytesNeeded) break;
          await rm(join(filesDir, candidate.sha256), { force: true });
          await rm(join(partialDir, candidate.sha256), { force: true });
          await rm(progressPath(candidate.sha256), { force: true });
          freedBytes += candidate.size;
          removedFiles += 1;
        }
        return { freedBytes, removedFiles };
      }),

    close() {},
  };
}

/** A temporary name no other writer (thread, runtime or process) uses at the same time. */
const temporaryName = (path: string) => `${path}.${process.pid}-${randomUUID().slice(0, 8)}.tmp`;

/** Writes `path` whole unless it exists: link() of a finished temporary file never replaces one. */
async function createOnce(path: string, contents: string): Promise<void> {
  const tmp = temporaryName(path);
  const handle = await open(tmp, 'wx');
  try {
    await handle.writeFile(contents);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(tmp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await unlink(tmp);
  }
}

async function statOrNull(path: string): Promise<{ size: number; mtimeMs: number } | null> {
  try {
    return await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function removeIfOlder(path: string, before: number): Promise<void> {
  const info = await statOrNull(path);
  if (info && info.mtimeMs < before) await rm(path, { force: true });
}

