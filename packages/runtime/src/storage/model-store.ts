import type { ModelRelease, TrustState } from '@edgeloop/protocol';
import type { ModelRecord } from '../health/health-state.js';
import type { Liveness } from '../health/liveness.js';
import type { InstallIdStorage } from '../rollout/install-id.js';

export type { ModelRecord } from '../health/health-state.js';

/** What the device remembers per app: whom it trusts and the last manifest it verified. */
export interface AppState {
  trust: TrustState;
  /** The last verified signed envelope (as received), for offline starts. */
  envelope: unknown;
  etag: string | null;
  verifiedAt: number;
}

/** A file as stored: complete, or partly downloaded with what is needed to resume. */
export interface StoredFile {
  sha256: string;
  length: number;
  /** Bytes stored so far (== length when complete). */
  received: number;
  complete: boolean;
  /** The server's validator for the partial bytes; a resume sends it as If-Range. */
  etag: string | null;
  lastUsed: number;
}

/** Per model: the release that runs, the one before it (rollback target), and one downloaded for later. */
export interface ModelPointers {
  active: ModelRelease | null;
  /** While the active release is on trial: the release a revert goes back to. */
  previous: ModelRelease | null;
  /** Downloaded and verified, waiting for the app to activate it (e.g. on next load). */
  staged: ModelRelease | null;
}

/**
 * A runtime that has a release open that is not yet proven (on trial, or about to be): held until
 * it closes cleanly. A lease whose runtime is gone without closing it is a crash during the trial.
 */
export interface TrialLease {
  id: string;
  /** The runtime holding it: an id its liveness (Web Locks, or the process) vouches for while it runs. */
  holder: string;
  app: string;
  model: string;
  releaseId: string;
  version: string;
  at: number;
}

export interface CollectOptions {
  /** Stop once this many bytes are freed; all candidates go when omitted. */
  bytesNeeded?: number;
  /** Partial files last written within this many milliseconds are kept for a resume. Default 24 h. */
  keepPartialMs?: number;
  /** Keep complete files even when no release points at them (only partial and orphaned bytes go). */
  keepComplete?: boolean;
}

/** How long an interrupted download's bytes are kept for a resume before a collection removes them. */
export const KEEP_PARTIAL_MS = 24 * 60 * 60 * 1000;

/**
 * Exclusive named locks: the part of the Web Locks API (`navigator.locks`) delivery uses, so one
 * runtime downloads a given file while the others wait and then find it complete. With
 * `ifAvailable`, `task` gets null at once when the lock is held elsewhere.
 */
export interface NamedLocks {
  request<T>(name: string, options: { ifAvailable?: boolean; signal?: AbortSignal }, task: (lock: object | null) => Promise<T>): Promise<T>;
}

/**
 * Where a device keeps models between visits: IndexedDB in browsers ({@link indexedDbStore}),
 * the filesystem in Node ({@link fileSystemStore}). Every implementation guarantees:
 * - {@link ModelStore.activate} is atomic: after a crash the old or the new release is active, never
 *   a partial one; it refuses a release whose files are not all complete.
 * - file bytes are appended in order and only at `received`, so a partial file is a prefix.
 */
export interface ModelStore {
  getAppState(app: string): Promise<AppState | null>;
  putAppState(app: string, state: AppState): Promise<void>;

  getFile(sha256: string): Promise<StoredFile | null>;
  /**
   * True when {@link appendFile} keeps a Blob by reference (IndexedDB): the delivery then lets the
   * browser download small files whole, without copying their bytes through the page.
   */
  readonly keepsBlobs?: boolean;
  /**
   * Locks that hold across every runtime and process sharing this store (the filesystem store's lock
   * files). Delivery prefers them to `navigator.locks`, which only spans one browser profile.
   */
  readonly locks?: NamedLocks;
  /** Where this store keeps the device's install id (the filesystem store: a file in its directory). */
  readonly installIds?: InstallIdStorage;
  /**
   * Appends `bytes` at `offset`, which must equal the bytes stored so far, and records the new
   * progress. With `complete`, the append must reach `length` and also marks the file complete,
   * in the same step (the caller has verified the whole file).
   */
  appendFile(file: { sha256: string; length: number; etag: string | null }, offset: number, bytes: Uint8Array | Blob, options?: { complete?: boolean }): Promise<void>;
  /** The bytes stored so far of an incomplete file (for a resume), or null when there are none. */
  readPartial(sha256: string): Promise<ArrayBuffer | null>;
  /** Marks a fully received and verified file complete. */
  completeFile(sha256: string): Promise<void>;
  /** Drops a file's bytes and progress (failed verification, changed ETag). */
  deleteFile(sha256: string): Promise<void>;
  /** The bytes of a complete file, or null when they are missing (e.g. storage was wiped). */
  readFile(sha256: string): Promise<ArrayBuffer | null>;

  /** The model's pointers and health-gate state (empty for a model never stored). */
  getModel(app: string, model: string): Promise<ModelRecord>;
  /**
   * Makes `release` active in one durable step. Replacing another release puts it on trial with
   * the release to fall back to as `previous` (see health/health-state.ts `activateRelease`).
   */
  activate(app: string, release: ModelRelease): Promise<void>;
  /**
   * Applies `change` (synchronous, no I/O) to the model's record — pointers and health together —
   * in one atomic step that no other writer, in this runtime or another tab or process, interleaves
   * with; strict durability unless `relaxed`. Resolves with the record as stored.
   */
  updateModel(app: string, model: string, change: (record: ModelRecord) => void, options?: { durability?: 'strict' | 'relaxed' }): Promise<ModelRecord>;
  putLease(lease: TrialLease): Promise<void>;
  listLeases(app: string, model: string): Promise<TrialLease[]>;
  deleteLease(id: string): Promise<void>;
  /**
   * Starts deleting a lease synchronously, without awaiting anything (page hide: a write that first
   * waits for a read does not finish once the page is gone). False when it could not start.
   */
  deleteLeaseNow?(id: string): boolean;
  /** Tells whether the runtime that holds a lease is still alive (the filesystem store: by process id). */
  readonly liveness?: Liveness;
  /** Records a verified release to activate later. */
  stage(app: string, release: ModelRelease): Promise<void>;

  /** Bytes held by complete and partial files. */
  usage(): Promise<number>;
  /**
   * Removes files no release pointer refers to — orphans of interrupted downloads, old releases —
   * least recently used first, until `bytesNeeded` are freed (all of them when omitted). Files of
   * active, previous and staged releases, and partial files younger than `keepPartialMs` (default
   * 24 h: a later load resumes them), are kept. Stored bytes that no file record accounts for are
   * removed too: at once where bytes and record are written together (IndexedDB), once older than
   * `keepPartialMs` where a crash can fall between the two writes (filesystem: it may be a write in
   * progress). With `keepComplete`, complete files
   * stay even when no release points at them (they are a cache a later load reuses): the sweep a
   * runtime makes once after it starts removes only what nothing can use any more.
   */
  collect(options?: CollectOptions): Promise<{ freedBytes: number; removedFiles: number }>;
  close(): void;
}
