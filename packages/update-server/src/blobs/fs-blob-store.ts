import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { ServerError } from '../errors.js';
import type { BlobStore, StagedBlob } from './blob-store.js';

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
      const tmpPath = join(tmpDir, `upload-${randomUUID()}`);
      const hash = createHash('sha256');
      const out = createWriteStream(tmpPath);
      // Without a listener, a failed write (disk full), or one cut short by destroy() below when the
      // body fails midway, is an uncaught exception: keep it and fail the upload with it.
      let writeError: Error | undefined;
      out.on('error', (error) => {
        writeError ??= error;
      });
      let size = 0;
      try {
        const reader = body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          size += value.byteLength;
          if (size > maxBytes) {
            await reader.cancel();
            throw new ServerError(
              'payload_too_large',
              `upload exceeds the limit of ${maxBytes} bytes; raise maxUploadBytes in the server config to accept it`,
            );
          }
          hash.update(value);
          if (writeError) throw writeError;
          if (!out.write(value)) await once(out, 'drain');
        }
        await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
        const handle = await open(tmpPath, 'r');
        await handle.sync();
        await handle.close();
      } catch (error) {
        out.destroy();
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
