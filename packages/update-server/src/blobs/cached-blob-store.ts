import type { BlobStore, SharedBlobStore, StagedBlob } from './blob-store.js';
import { BlobCache } from './blob-cache.js';
import { fsBlobStore } from './fs-blob-store.js';
import { readThrough } from './read-through.js';
import { lazyStream } from './streams.js';

export interface CachedBlobStoreOptions {
  /** Local directory for uploads in flight and the read-through cache (the fs store's layout). */
  cacheDir: string;
  /** Largest total size of cached files; least recently used ones go first. Default 10 GiB. */
  maxCacheBytes?: number;
  log?: (message: string, error?: unknown) => void;
}

export interface CachedBlobStore extends BlobStore {
  /** Where the bytes live for every instance. */
  readonly shared: SharedBlobStore;
  /** This instance's disk: uploads in flight and cached copies. */
  readonly local: BlobStore;
  readonly cache: BlobCache;
}

export const DEFAULT_MAX_CACHE_BYTES = 10 * 1024 ** 3;

/**
 * A {@link BlobStore} over a {@link SharedBlobStore}, with the local disk in front of it:
 * - an upload is staged on disk while hashed (as the filesystem store does), copied to the shared
 *   store on commit, and kept in the cache;
 * - the shared store answers whether a blob exists, so a blob deleted by any instance is gone for all;
 * - a cached blob is served from disk; a whole-file read that misses streams from the shared store
 *   to the client and into the cache at the client's pace; a Range that misses reads only its
 *   bytes from the shared store.
 */
export function cachedBlobStore(shared: SharedBlobStore, options: CachedBlobStoreOptions): CachedBlobStore {
  const local = fsBlobStore(options.cacheDir);
  const cache = new BlobCache(local, options.maxCacheBytes ?? DEFAULT_MAX_CACHE_BYTES);
  const log = options.log ?? ((message: string, error?: unknown) => console.error(message, error ?? ''));

  return {
    shared,
    local,
    cache,

    async stage(body, limits) {
      const staged = await local.stage(body, limits);
      const wrapped: StagedBlob = {
        sha256: staged.sha256,
        size: staged.size,
        bytes: () => staged.bytes(),
        stream: () => staged.stream(),
        async commit() {
          await shared.put(staged.sha256, staged.size, staged.stream());
          await staged.commit();
          await cache.added(staged.sha256, staged.size);
        },
        discard: () => staged.discard(),
      };
      return wrapped;
    },

    stat: (sha256) => shared.stat(sha256),

    read(sha256, range) {
      return lazyStream(async () => {
        const release = await cache.acquire(sha256);
        if (release) return releasing(local.read(sha256, range), release);
        if (range) return shared.read(sha256, range);
        return readThrough(shared.read(sha256), {
          local,
          sha256,
          onCached: (size) => cache.added(sha256, size),
          log,
        });
      });
    },

    list: () => shared.list(),

    async delete(sha256) {
      await shared.delete(sha256);
      await cache.removed(sha256);
    },
  };
}

/** Passes `source` through and calls `release` once it ends, fails or is cancelled. */
function releasing(source: ReadableStream<Uint8Array>, release: () => void): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            release();
            controller.close();
          } else {
            controller.enqueue(value);
          }
        } catch (error) {
          release();
          throw error;
        }
      },
      async cancel(reason) {
        release();
        await reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
