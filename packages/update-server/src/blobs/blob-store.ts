/**
 * Content-addressed storage for artifact bytes, named by their sha256. The filesystem store is the
 * default; an object store can implement the same contract because nothing is ever overwritten.
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
  /** Every stored blob with when it was written, for garbage collection. */
  list(): AsyncIterable<{ sha256: string; writtenAt: Date }>;
  /** Removes a blob; removing a missing one is not an error. */
  delete(sha256: string): Promise<void>;
}

export interface StagedBlob {
  readonly sha256: string;
  readonly size: number;
  /** The staged bytes, for validation before commit. */
  bytes(): Promise<Uint8Array>;
  /** Makes the blob readable under its hash (atomic; identical bytes are stored once). */
  commit(): Promise<void>;
  discard(): Promise<void>;
}
