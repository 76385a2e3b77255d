import { createHash, randomBytes } from 'node:crypto';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { BlobStore } from '../blobs/blob-store.js';

export const sha256Of = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Random bytes: incompressible, like model weights, and a fresh hash for every test. */
export const randomBlob = (size: number) => new Uint8Array(randomBytes(size));

/** A stream of `bytes` cut into `piece`-byte chunks (the cuts a network would make). */
export function streamOf(bytes: Uint8Array, piece = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(offset, offset + piece));
      offset += piece;
    },
  });
}

/** A stream that sends the first `failAfter` bytes of `bytes`, then fails: a connection cut mid-upload. */
export function failingStream(bytes: Uint8Array, failAfter: number, piece = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= failAfter) {
        controller.error(new Error('connection reset by peer (test)'));
        return;
      }
      const end = Math.min(offset + piece, failAfter);
      controller.enqueue(bytes.slice(offset, end));
      offset = end;
    },
  });
}

/**
 * `size` pseudo-random bytes generated one chunk at a time, never held whole; `sha256()` is their
 * hash once the stream has ended.
 */
export function generatedStream(size: number, options: { piece?: number; onChunk?: () => void } = {}): { stream: ReadableStream<Uint8Array>; sha256: () => string } {
  const piece = options.piece ?? 1024 * 1024;
  const hash = createHash('sha256');
  let sent = 0;
  let digest: string | undefined;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (sent >= size) {
          digest = hash.digest('hex');
          controller.close();
          return;
        }
        options.onChunk?.();
        const chunk = new Uint8Array(randomBytes(Math.min(piece, size - sent)));
        hash.update(chunk);
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    },
    { highWaterMark: 0 },
  );
  return {
    stream,
    sha256: () => {
      if (digest === undefined) throw new Error('the generated stream has not ended yet');
      return digest;
    },
  };
}

export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Reads a stream to its end, keeping only its hash and length. */
export async function hashStream(
  stream: ReadableStream<Uint8Array>,
  onChunk?: () => void,
): Promise<{ sha256: string; size: number; chunks: number; largestChunk: number }> {
  const hash = createHash('sha256');
  let size = 0;
  let chunks = 0;
  let largestChunk = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    hash.update(value);
    size += value.byteLength;
    chunks += 1;
    onChunk?.();
    largestChunk = Math.max(largestChunk, value.byteLength);
  }
  return { sha256: hash.digest('hex'), size, chunks, largestChunk };
}

/** Stages and commits `bytes`, as a publish does; returns their hash. */
export async function putBlob(store: BlobStore, bytes: Uint8Array): Promise<string> {
  const staged = await store.stage(streamOf(bytes), { maxBytes: Number.MAX_SAFE_INTEGER });
  await staged.commit();
  return staged.sha256;
}

export async function listed(store: { list(): AsyncIterable<{ sha256: string; writtenAt: Date }> }): Promise<Map<string, Date>> {
  const found = new Map<string, Date>();
  for await (const blob of store.list()) {
    if (found.has(blob.sha256)) throw new Error(`list() returned ${blob.sha256} twice`);
    found.set(blob.sha256, blob.writtenAt);
  }
  return found;
}

/**
 * V8's collector, without starting node with --expose-gc: the flag can be set at run time, and a
 * fresh context then has `gc` as a global.
 */
function collector(): (options?: { type: 'minor' | 'major' }) => void {
  v8.setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;
}

/**
 * Runs `work` while sampling this process's resident memory; returns the highest growth over the
 * baseline taken just before. `work` gets the sampler to call as data flows (once per chunk), and
 * a timer samples every 10 ms too. Garbage is collected before the baseline and at each sample
 * (young objects, ~2 ms; everything every 10th), so the figure is what the work holds rather than
 * what the collector has yet to free: left alone, the collector let the filesystem store's 64 MiB
 * upload grow it by 35 MiB.
 */
export async function peakRssGrowth(work: (sample: () => void) => Promise<void>): Promise<number> {
  const gc = collector();
  // V8 frees dead buffers on a background thread; a second full collection waits for the first's.
  gc();
  gc();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  let samples = 0;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage.rss());
    if (++samples % 10 === 0) {
      gc();
      gc();
    } else {
      gc({ type: 'minor' });
    }
  };
  const sampler = setInterval(sample, 10);
  try {
    await work(sample);
  } finally {
    clearInterval(sampler);
  }
  sample();
  return peak - baseline;
}
