import type { BlobStore } from './blob-store.js';

interface Entry {
  size: number;
  readers: number;
}

/**
 * Which blobs the local disk cache holds, in least-recently-used order, and how many bytes. Over
 * `maxBytes`, the least recently used blobs that nobody is reading are deleted. The index lives in
 * this process and is rebuilt from the directory on first use: one instance per cache directory.
 */
export class BlobCache {
  readonly #local: BlobStore;
  readonly #maxBytes: number;
  /** Map order is use order: a hit moves its entry to the end. */
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;
  #loaded: Promise<void> | undefined;

  constructor(local: BlobStore, maxBytes: number) {
    this.#local = local;
    this.#maxBytes = maxBytes;
  }

  /** Bytes the cache holds now. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * When the blob is cached, marks it in use and returns the function that ends the use: until
   * then eviction leaves the file alone. Null when it is not cached.
   */
  async acquire(sha256: string): Promise<(() => void) | null> {
    await this.#load();
    const entry = this.#entries.get(sha256);
    if (!entry) return null;
    this.#entries.delete(sha256);
    this.#entries.set(sha256, entry);
    entry.readers += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      entry.readers -= 1;
    };
  }

  /** Records a blob just written into the cache directory, then evicts down to the limit. */
  async added(sha256: string, size: number): Promise<void> {
    await this.#load();
    if (!this.#entries.has(sha256)) {
      this.#entries.set(sha256, { size, readers: 0 });
      this.#bytes += size;
    }
    await this.#evict();
  }

  /** Forgets a blob and removes its file (a delete in the shared store). */
  async removed(sha256: string): Promise<void> {
    await this.#load();
    const entry = this.#entries.get(sha256);
    if (entry) {
      this.#entries.delete(sha256);
      this.#bytes -= entry.size;
    }
    // Removing a file someone reads is safe on POSIX: the open descriptor keeps its bytes.
    await this.#local.delete(sha256);
  }

  async #evict(): Promise<void> {
    for (const [sha256, entry] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) return;
      if (entry.readers > 0) continue;
      this.#entries.delete(sha256);
      this.#bytes -= entry.size;
      await this.#local.delete(sha256);
    }
  }

  #load(): Promise<void> {
    this.#loaded ??= (async () => {
      // Oldest first, so what was written longest ago is evicted first after a restart.
      const found: Array<{ sha256: string; writtenAt: Date; size: number }> = [];
      for await (const blob of this.#local.list()) {
        const info = await this.#local.stat(blob.sha256);
        if (info) found.push({ ...blob, size: info.size });
      }
      found.sort((a, b) => a.writtenAt.getTime() - b.writtenAt.getTime());
      for (const blob of found) {
        this.#entries.set(blob.sha256, { size: blob.size, readers: 0 });
        this.#bytes += blob.size;
      }
      await this.#evict(); // the limit may have been lowered since the last run
    })();
    return this.#loaded;
  }
}
