import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import fs, { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { ServerError } from '../errors.js';
import type { BlobStore, StagedBlob } from './blob-store.js';
import { stagingName } from './fs-staging.js';

/**
 * Stores blobs as `<root>/sha256/<first two hex>/<hash>`; uploads are written to `<root>/tmp`,
 * fsynced, then renamed into place, so a killed server never leaves a partial file under a hash.
 */
export function fsBlobStore(root: string): BlobStore {
  const pathOf = (sha256: string) => join(root, 'sha256', sha256.slice(0, 2), sha256);

  return {
    async stage(body, { maxBytes }) {
      const tmpDir = join(root, 'tmp');
      await mkdir(tmpDir, { recursive: true });
      const tmpPath = join(tmpDir, stagingName());
      const hash = createHash('sha256');
      // Looked up per call (not a named import) so a test can make the disk fail on purpose.
      const out = fs.createWriteStream(tmpPath);
      // A write stream that fails (ENOSPC, EIO) emits 'error': always listened to, so it becomes
      // this upload's answer (507/503) instead of an uncaught exception that ends the process.
      let failure: Error | undefined;
      out.on('error', (error) => {
        failure ??= error;
      });
      const reader = body.getReader();
      let size = 0;
      try {
        for (;;) {
          const { done, value } = await readChunk(reader);
          if (done) break;
          size += value.byteLength;
          if (size > maxBytes) {
            throw new ServerError(
              'payload_too_large',
              `upload exceeds the limit of ${maxBytes} bytes; raise maxUploadBytes in the server config to accept it`,
            );
          }
          hash.update(value);
          if (failure) throw failure;
          if (!out.write(value)) await drained(out, () => failure);
        }
        await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
        if (failure) throw failure;
        const handle = await open(tmpPath, 'r');
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
      } catch (error) {
        // Stop reading what the client still sends (an over-limit or failed upload), then remove
        // every byte written; the error is answered by the central handler (413, 400, 507, 503).
        await reader.cancel().catch(() => undefined); // a body that already failed cannot be cancelled
        await closed(out); // the file may still be opening: removed only once its descriptor is closed
        await rm(tmpPath, { force: true });
        throw error;
      }
      const sha256 = hash.digest('hex');
      const staged: StagedBlob = {
        sha256,
        size,
        bytes: async () => new Uint8Array(await readFile(tmpPath)),
        stream: () => Readable.toWeb(createReadStream(tmpPath)) as ReadableStream<Uint8Array>,
        async commit() {
          const finalPath = pathOf(sha256);
          await mkdir(dirname(finalPath), { recursive: true });
          // rename() atomically replaces; identical content makes replacing an existing blob harmless.
          await rename(tmpPath, finalPath);
        },
        async discard() {
          await rm(tmpPath, { force: true });
        },
      };
      return staged;
    },

    async stat(sha256) {
      try {
        const info = await stat(pathOf(sha256));
        return { size: info.size };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
    },

    async *list() {
      for (const dir of await readdir(join(root, 'sha256')).catch(() => [] as string[])) {
        for (const name of await readdir(join(root, 'sha256', dir))) {
          if (/^[0-9a-f]{64}$/.test(name)) yield { sha256: name, writtenAt: (await stat(pathOf(name))).mtime };
        }
      }
    },

    async delete(sha256) {
      await rm(pathOf(sha256), { force: true });
    },

    read(sha256, range) {
      const stream = createReadStream(pathOf(sha256), range ? { start: range.start, end: range.end } : {});
      return Readable.toWeb(stream) as ReadableStream<Uint8Array>;
    },
  };
}

/**
 * The next chunk of an upload's body. Failing to read it means the client went away or broke
 * the request (a dropped connection, a body shorter than its Content-Length): a 400, not a fault
 * of this server, and nobody is left to read the answer.
 */
async function readChunk(reader: ReadableStreamDefaultReader<Uint8Array>): ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]> {
  try {
    return await reader.read();
  } catch (error) {
    throw new ServerError('bad_request', 'the upload ended before its body was complete (the client closed the connection); send it again', undefined, { cause: error });
  }
}

/** Resolves when `out` can take more; rejects if it fails or closes first. */
function drained(out: Writable, failure: () => Error | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const settle = () => {
      out.off('drain', settle);
      out.off('error', settle);
      out.off('close', settle);
      const error = failure();
      if (error) reject(error);
      else if (out.destroyed) reject(new Error('the staging file was closed while writing'));
      else resolve();
    };
    if (failure() || out.destroyed) return settle();
    out.on('drain', settle);
    out.on('error', settle);
    out.on('close', settle);
  });
}

/** Destroys `out` and resolves once its file descriptor is closed. */
function closed(out: Writable): Promise<void> {
  return new Promise<void>((resolve) => {
    if (out.closed) return resolve();
    out.once('close', () => resolve());
    out.destroy();
  });
}
