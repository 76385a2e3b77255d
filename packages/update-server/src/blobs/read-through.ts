import type { BlobStore, StagedBlob } from './blob-store.js';

type Settled = { staged: StagedBlob } | { error: unknown };

/**
 * Streams `source` (a whole blob from the shared store) to the reader and, at the reader's pace,
 * into a staged file of `local`; at the end the copy is committed when it hashes to `sha256`, then
 * `onCached` runs. Memory holds a chunk or two, never the file. A failing cache never fails the
 * reader: it is logged and the reader gets every byte from the source.
 */
export function readThrough(
  source: ReadableStream<Uint8Array>,
  options: { local: BlobStore; sha256: string; onCached: (size: number) => Promise<void>; log: (message: string, error?: unknown) => void },
): ReadableStream<Uint8Array> {
  const { local, sha256, log } = options;
  const reader = source.getReader();
  const copy = new TransformStream<Uint8Array, Uint8Array>();
  const writer = copy.writable.getWriter();
  let cacheFailed = false;
  const staging: Promise<Settled> = local.stage(copy.readable, { maxBytes: Number.MAX_SAFE_INTEGER }).then(
    (staged) => ({ staged }),
    (error: unknown) => {
      cacheFailed = true;
      return { error };
    },
  );
  const abortCopy = async (reason: unknown) => {
    cacheFailed = true;
    // The staging side reports its own end through `staging`; this only stops it.
    await writer.abort(reason).catch((error: unknown) => log(`stopping the cache copy of ${sha256} failed`, error));
  };

  const finish = async () => {
    if (!cacheFailed) await writer.close();
    const settled = await staging;
    if ('error' in settled) {
      log(`caching blob ${sha256} on local disk failed; it is still served from the shared store`, settled.error);
      return;
    }
    if (settled.staged.sha256 !== sha256) {
      await settled.staged.discard();
      log(`the shared store returned bytes hashing to ${settled.staged.sha256} for blob ${sha256}; not cached (is the store corrupt?)`);
      return;
    }
    await settled.staged.commit();
    await options.onCached(settled.staged.size);
  };

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let next: Awaited<ReturnType<typeof reader.read>>;
        try {
          next = await reader.read();
        } catch (error) {
          await abortCopy(error);
          throw error;
        }
        if (next.done) {
          // Cached before the reader sees the end, so the next request is a hit.
          await finish().catch((error: unknown) => log(`caching blob ${sha256} on local disk failed`, error));
          controller.close();
          return;
        }
        controller.enqueue(next.value);
        if (cacheFailed) return;
        // Wait while the disk is behind; stop waiting if the copy failed (it reads no more).
        const ready = writer.ready.then(
          () => undefined,
          () => {
            cacheFailed = true; // the copy was stopped; `staging` says why
          },
        );
        await Promise.race([ready, staging]);
        if (!cacheFailed) {
          writer.write(next.value).catch(() => {
            cacheFailed = true; // the staging side failed and reports why through `staging`
          });
        }
      },
      async cancel(reason) {
        await abortCopy(reason);
        await reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
