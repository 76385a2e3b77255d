import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelRelease } from '@edgeloop/protocol';
import { RuntimeError } from '../errors.js';
import { KEEP_PARTIAL_MS, type AppState, type ModelPointers, type ModelStore, type StoredFile } from './model-store.js';
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
  models: Record<string, ModelPointers>;
  /** lastUsed per complete file, for LRU collection. */
  used: Record<string, number>;
}

export interface FileSystemStoreOptions {
  /** Directory that holds the cache; created when missing. */
  directory: string;
}

/**
 * The model store for Node (Electron's main process, kiosk scripts): the same contract as the
 * IndexedDB store on the filesystem. Complete files live in `files/<sha256>`; a download appends to
 * `partial/<sha256>` and records its progress beside it; pointers and trust live in `state.json`.
 * Every metadata write goes to a temporary file, is fsynced, then renamed over the old one, so a
 * crash leaves the old or the new state, never a torn one.
 */
export function fileSystemStore(options: FileSystemStoreOptions): ModelStore {
  const root = options.directory;
  const filesDir = join(root, 'files');
  const partialDir = join(root, 'partial');
  const statePath = join(root, 'state.json');
  let statePromise: Promise<State> | undefined;
  let writing: Promise<void> = Promise.resolve();

  const load = () =>
    (statePromise ??= (async () => {
      await mkdir(filesDir, { recursive: true });
      await mkdir(partialDir, { recursive: true });
      try {
        return JSON.parse(await readFile(statePath, 'utf8')) as State;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, apps: {}, models: {}, used: {} } satisfies State;
        throw error;
      }
    })());

  /** Applies `change` to the state and persists it; writes are serialised in call order. */
  const update = (change: (state: State) => void): Promise<void> => {
    const next = writing.then(async () => {
      const state = await load();
      change(state);
      await writeAtomic(statePath, JSON.stringify(state));
    });
    writing = next.catch(() => undefined);
    return next;
  };

  async function run<T>(what: string, operation: () => Promise<T>): Promise<T> {
    try {
      await load(); // creates the directories on first use
      return await operation();
    } catch (error) {
      throw storageError(error, what);
    }
  }

  const progressPath = (sha256: string) => join(partialDir, `${sha256}.json`);

  async function readProgress(sha256: string): Promise<Progress | null> {
    try {
      return JSON.parse(await readFile(progressPath(sha256), 'utf8')) as Progress;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  /** Moves a fully received partial file into `files/`, durably, and forgets its progress. */
  async function complete(sha256: string): Promise<void> {
    const progress = await readProgress(sha256);
    if (!progress || progress.received !== progress.length) throw new RuntimeError('storage', `file ${sha256.slice(0, 12)}… is not fully stored`);
    await rename(join(partialDir, sha256), join(filesDir, sha256));
    await syncDirectory(filesDir);
    await rm(progressPath(sha256), { force: true });
    await update((s) => {
      s.used[sha256] = Date.now();
    });
  }

  async function completeSize(sha256: string): Promise<number | null> {
    try {
      return (await stat(join(filesDir, sha256))).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  return {
    getAppState: (app) => run('reading app state', async () => (await load()).apps[app] ?? null),
    putAppState: (app, state) =>
      run('saving app state', () =>
        update((s) => {
          s.apps[app] = state;
        }),
      ),

    getFile: (sha256) =>
      run('reading a file record', async () => {
        const size = await completeSize(sha256);
        const state = await load();
        if (size !== null) {
          const file: StoredFile = { sha256, length: size, received: size, complete: true, etag: null, lastUsed: state.used[sha256] ?? 0 };
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
        if (received !== offset || (await completeSize(file.sha256)) !== null) {
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
        await update((s) => {
          delete s.used[sha256];
        });
      }),

    readFile: (sha256) =>
      run('reading a model file', async () => {
        try {
          const bytes = await readFile(join(filesDir, sha256));
          void update((s) => {
            s.used[sha256] = Date.now();
          }).catch(() => undefined);
          return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
          throw error;
        }
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

    getModel: (app, model) =>
      run('reading model pointers', async () => ({ active: null, previous: null, staged: null, ...(await load()).models[`${app}/${model}`] })),

    activate: (app, release) =>
      run('activating a release', async () => {
        for (const file of release.files) {
          if ((await completeSize(file.sha256)) !== file.length) {
            throw new RuntimeError('storage', `release ${release.releaseId} cannot be activated: file ${file.sha256.slice(0, 12)}… is not stored complete`);
          }
        }
        await update((s) => {
          const key = `${app}/${release.model}`;
          const current: ModelPointers = { active: null, previous: null, staged: null, ...s.models[key] };
          const replacing = current.active !== null && current.active.releaseId !== release.releaseId;
          s.models[key] = {
            active: release,
            previous: replacing ? current.active : current.previous,
            staged: current.staged?.releaseId === release.releaseId ? null : current.staged,
          };
        });
      }),

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
          await mkdir(dir, { recursive: true });
          for (const name of await readdir(dir)) if (!name.endsWith('.json')) total += (await stat(join(dir, name))).size;
        }
        return total;
      }),

    collect: (collectOptions = {}) =>
      run('freeing storage', async () => {
        const state = await load();
        const keep = new Set<string>();
        for (const pointers of Object.values(state.models)) {
          for (const release of [pointers.active, pointers.previous, pointers.staged]) for (const file of release?.files ?? []) keep.add(file.sha256);
        }
        const now = Date.now();
        const keepPartialMs = collectOptions.keepPartialMs ?? KEEP_PARTIAL_MS;
        const candidates: Array<{ sha256: string; size: number; lastUsed: number }> = [];
        if (!collectOptions.keepComplete) {
          for (const name of await readdir(filesDir)) {
            if (!keep.has(name)) candidates.push({ sha256: name, size: (await stat(join(filesDir, name))).size, lastUsed: state.used[name] ?? 0 });
          }
        }
        const partialNames = new Set(await readdir(partialDir));
        for (const name of partialNames) {
          if (name.endsWith('.tmp')) {
            // A progress record whose write a crash cut short (the rename never happened).
            if (now - (await stat(join(partialDir, name))).mtimeMs > keepPartialMs) await rm(join(partialDir, name), { force: true });
            continue;
          }
          if (name.endsWith('.json')) {
            // Progress of bytes that are gone: nothing to resume.
            if (!partialNames.has(name.slice(0, -'.json'.length))) await rm(join(partialDir, name), { force: true });
            continue;
          }
          if (keep.has(name)) continue;
          const progress = await readProgress(name);
          const info = await stat(join(partialDir, name));
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
        await update((s) => {
          for (const candidate of candidates.slice(0, removedFiles)) delete s.used[candidate.sha256];
        });
        return { freedBytes, removedFiles };
      }),

    close() {},
  };
}
