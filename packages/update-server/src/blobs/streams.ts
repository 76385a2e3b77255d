import { createHash } from 'node:crypto';
import { ServerError } from '../errors.js';

/**
 * A stream whose source is opened on the first read: `read()` has to return a stream at once,
 * while a remote store first has to ask for the bytes. Cancelling it cancels the source.
 */
export function lazyStream(open: () => Promise<ReadableStream<Uint8Array>>): ReadableStream<Uint8Array> {
  let reader: Promise<ReadableStreamDefaultReader<Uint8Array>> | undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        reader ??= open().then((source) => source.getReader());
        const { done, value } = await (await reader).read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel(reason) {
        if (reader) await (await reader).cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Passes `body` through and errors at its end unless it counted `size` bytes hashing to `sha256`,
 * before the end is signalled: a store that commits on end never commits wrong bytes.
 */
export function verifiedStream(body: ReadableStream<Uint8Array>, sha256: string, size: number): ReadableStream<Uint8Array> {
  const hash = createHash('sha256');
  let seen = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > size) throw mismatch(sha256, `more than the ${size} bytes announced`);
        hash.update(chunk);
        controller.enqueue(chunk);
      },
      flush() {
        if (seen !== size) throw mismatch(sha256, `${seen} bytes, not the ${size} announced`);
        const actual = hash.digest('hex');
        if (actual !== sha256) throw mismatch(sha256, `bytes hashing to ${actual}`);
      },
    }),
  );
}

function mismatch(sha256: string, got: string): ServerError {
  return new ServerError('internal', `refused to store blob ${sha256}: got ${got}; the source changed while it was copied, upload it again`);
}

/** Re-cuts a stream into `size`-byte pieces (the last one shorter), copying at most one piece at a time. */
export async function* fixedChunks(body: ReadableStream<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  let piece = new Uint8Array(size);
  let filled = 0;
  let ended = false; // the source finished or failed by itself
  try {
    for (;;) {
      const next = await reader.read().catch((error: unknown) => {
        ended = true;
        throw error;
      });
      if (next.done) {
        ended = true;
        break;
      }
      const value = next.value;
      let offset = 0;
      while (offset < value.byteLength) {
        const take = Math.min(size - filled, value.byteLength - offset);
        piece.set(value.subarray(offset, offset + take), filled);
        filled += take;
        offset += take;
        if (filled === size) {
          yield piece;
          piece = new Uint8Array(size);
          filled = 0;
        }
      }
    }
    if (filled > 0) yield piece.subarray(0, filled);
  } finally {
    // The consumer stopped early (a failed insert): stop the source too, closing its file.
    if (!ended) await reader.cancel();
  }
}
