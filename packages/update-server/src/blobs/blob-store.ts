/**
 * Content-addressed storage for artifact bytes, named by their sha256. The filesystem store is the
 * default; an object store can implement the same contract because nothing is ever overwritten.
 * Every store passes the one contract suite in `blob-store-contract.ts`.
 */
export interface BlobStore {
  /**
   * Streams `body` to a temporary place while hashing it, refusing more than `maxBytes`. Nothing is
   * visible under the hash until {@link StagedBlob.commit}; {@link StagedBlob.discard} leaves no trace.
   */
  stage(body: ReadableStream<Uint8Array>, options: { maxBytes: number }): Promise<StagedBlob>;
  /** Size of a stored blob, or null when there is none. */
  stat(sha256: string): Promise<{ size: number } | null>;
  /** Bytes `start`..`end` inclusive (the whole blob by default) as a stream. */
  read(sha256: string, range?: { start: number; end: number }): ReadableStream<Uint8Array>;
  /**
   * Every stored blob with when it was last written, for garbage collection. Storing bytes that
   * are already there counts as a write, so an upload in flight is always young.
   */
  list(): AsyncIterable<{ sha256: string; writtenAt: Date }>;
  /** Removes a blob; removing a missing one is not an error. */
  delete(sha256: string): Promise<void>;
}

export interface StagedBlob {
  readonly sha256: string;
  readonly size: number;
  /** The staged bytes, for validation before commit. */
  bytes(): Promise<Uint8Array>;
  /** The staged bytes as a stream, for copying them elsewhere without holding them in memory. */
  stream(): ReadableStream<Uint8Array>;
  /** Makes the blob readable under its hash (atomic; identical bytes are stored once). */
  commit(): Promise<void>;
  discard(): Promise<void>;
}

/**
 * Where instances that share a database keep artifact bytes, so any instance serves any published
 * file: PostgreSQL itself or an S3-compatible bucket. `cachedBlobStore` turns one into a
 * {@link BlobStore}, staging uploads and caching hot files on the local disk.
 */
export interface SharedBlobStore {
  /** Names the store in logs and error messages, e.g. `postgres` or `s3://bucket/prefix/`. */
  readonly description: string;
  /**
   * Stores `body` (`size` bytes) under `sha256`. The bytes become visible all at once and only
   * when they hash to `sha256` and count `size`; on any failure nothing is visible. Storing a
   * blob that exists leaves it as it is (identical bytes) and refreshes its `writtenAt`.
   */
  put(sha256: string, size: number, body: ReadableStream<Uint8Array>): Promise<void>;
  stat(sha256: string): Promise<{ size: number } | null>;
  /** Bytes `start`..`end` inclusive; reads only what the range needs. Errors for a missing blob. */
  read(sha256: string, range?: { start: number; end: number }): ReadableStream<Uint8Array>;
  list(): AsyncIterable<{ sha256: string; writtenAt: Date }>;
  delete(sha256: string): Promise<void>;
}
