import type { ManifestFile } from '@edgeloop/protocol';
import { RuntimeError } from '../errors.js';
import type { ModelStore } from '../storage/model-store.js';

/** Bytes are written to storage in pieces of this size: large enough to keep transactions few. */
export const CHUNK_BYTES = 1024 * 1024;

export interface FileProgress {
  sha256: string;
  /** Bytes of this file stored so far. */
  loaded: number;
  total: number;
  /** Of `loaded`, how many were already stored before this download started (cache or an earlier attempt). */
  fromCache: number;
}

export interface DownloadOptions {
  fetch: typeof fetch;
  signal?: AbortSignal;
  onProgress?: (progress: FileProgress) => void;
  /** Resume attempts after a dropped connection. Default 4. */
  retries?: number;
  /** First delay between attempts, doubled each time. Default 250 ms. */
  retryDelayMs?: number;
}

export interface DownloadResult {
  /** Bytes received from the network for this file (0 when it was already stored). */
  networkBytes: number;
  /** The verified file, assembled while it streamed to storage; null when it was already stored. */
  bytes: ArrayBuffer | null;
}

/**
 * Downloads one file of a release into `store` and proves it is the file the manifest names:
 * never more than `file.length` bytes, exactly that many, and the same sha256. Bytes are received
 * straight into the buffer the engine will get and stream to storage in chunks (views of that
 * buffer), so the file is held once; the sha256 is computed once over it with WebCrypto, natively
 * and off the main thread where the browser can. A dropped connection resumes with `Range` +
 * `If-Range` after the stored prefix (also across page loads); a changed ETag restarts from zero.
 * On a failed check the file is deleted: nothing unverified is ever marked complete.
 */
export async function downloadFile(url: string, file: ManifestFile, store: ModelStore, options: DownloadOptions): Promise<DownloadResult> {
  const stored = await store.getFile(file.sha256);
  if (stored?.complete && stored.length === file.length) {
    options.onProgress?.({ sha256: file.sha256, loaded: file.length, total: file.length, fromCache: file.length });
    return { networkBytes: 0, bytes: null };
  }
  const target = new Uint8Array(file.length);
  let offset = 0;
  let etag: string | null = null;
  const prefix = stored && !stored.complete && stored.length === file.length && stored.etag ? await store.readPartial(file.sha256) : null;
  if (prefix && prefix.byteLength <= file.length) {
    target.set(new Uint8Array(prefix), 0);
    offset = prefix.byteLength;
    etag = stored!.etag;
  } else if (stored) {
    await store.deleteFile(file.sha256);
  }
  const fromCache = offset;
  let networkBytes = 0;
  const retries = options.retries ?? 4;
  let delay = options.retryDelayMs ?? 250;

  for (let attempt = 0; ; attempt++) {
    throwIfAborted(options.signal);
    try {
      const result = await fetchInto(url, file, store, offset, etag, options, fromCache, target);
      networkBytes += result.networkBytes;
      offset = result.offset;
      etag = result.etag;
      if (offset === file.length) break;
      throw new RuntimeError('network', `${url} ended after ${offset} of ${file.length} bytes`);
    } catch (error) {
      if (error instanceof PartialDownload) {
        networkBytes += error.networkBytes;
        offset = error.offset;
        etag = error.etag;
      }
      const cause = error instanceof PartialDownload ? error.cause : error;
      if (options.signal?.aborted) throw new RuntimeError('aborted', `download of ${url} was cancelled; the ${offset} bytes stored so far are kept for a resume`, { cause });
      const retriable = !(cause instanceof RuntimeError) || cause.code === 'network';
      if (!retriable || attempt >= retries) {
        if (cause instanceof RuntimeError) throw cause;
        throw new RuntimeError('network', `could not download ${url}: ${(cause as Error).message}`, { cause });
      }
      await sleep(delay, options.signal);
      delay *= 2;
    }
  }

  const digest = toHex(await crypto.subtle.digest('SHA-256', target));
  if (digest !== file.sha256) {
    await store.deleteFile(file.sha256);
    throw new RuntimeError(
      'integrity',
      `sha256 mismatch for ${url}: the manifest says ${file.sha256}, the bytes hash to ${digest}; the file was rejected and nothing was stored`,
      { details: { expected: file.sha256, actual: digest } },
    );
  }
  await store.completeFile(file.sha256);
  return { networkBytes, bytes: target.buffer };
}

function toHex(buffer: ArrayBuffer): string {
  let hex = '';
  for (const byte of new Uint8Array(buffer)) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

/** Thrown when bytes were stored before a failure, so the caller resumes after them. */
class PartialDownload extends Error {
  constructor(
    readonly offset: number,
    readonly etag: string | null,
    readonly networkBytes: number,
    override readonly cause: unknown,
  ) {
    super('partial download');
  }
}

async function fetchInto(
  url: string,
  file: ManifestFile,
  store: ModelStore,
  startOffset: number,
  startEtag: string | null,
  options: DownloadOptions,
  fromCache: number,
  target: Uint8Array<ArrayBuffer>,
): Promise<{ offset: number; etag: string | null; networkBytes: number }> {
  let offset = startOffset;
  const headers: Record<string, string> = {};
  if (offset > 0 && startEtag) {
    headers.Range = `bytes=${offset}-`;
    headers['If-Range'] = startEtag;
  }
  const response = await options.fetch(url, { headers, ...(options.signal && { signal: options.signal }) });
  let etag = response.headers.get('etag');
  if (etag?.startsWith('W/')) etag = null; // a weak validator cannot guarantee byte-identical ranges
  if (response.status === 206 && offset > 0) {
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get('content-range') ?? '');
    if (!range || Number(range[1]) !== offset || (range[3] !== '*' && Number(range[3]) !== file.length)) {
      await response.body?.cancel();
      throw new RuntimeError('server', `${url} answered a resume with the wrong range (${response.headers.get('content-range')}); expected bytes ${offset}-`);
    }
  } else if (response.status === 200) {
    if (offset > 0) {
      // The server ignored the range or the ETag changed: the stored prefix may be of other bytes.
      await store.deleteFile(file.sha256);
      offset = 0;
    }
  } else {
    await response.body?.cancel();
    const code = response.status >= 500 || response.status === 429 ? 'network' : 'server';
    throw new RuntimeError(code, `GET ${url} answered ${response.status}; expected the model bytes`);
  }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && offset + declared > file.length) {
    await response.body?.cancel();
    throw new RuntimeError('integrity', `${url} announces ${offset + declared} bytes but the manifest states ${file.length}; nothing was stored`);
  }
  if (!response.body) throw new RuntimeError('server', `GET ${url} answered ${response.status} without a body`);

  const reader = response.body.getReader();
  const chunkAt = (at: number) => target.subarray(at, at + CHUNK_BYTES);
  let pending = chunkAt(offset);
  let pendingLength = 0;
  let networkBytes = 0;
  let writing: Promise<void> = Promise.resolve();
  const flush = () => {
    if (pendingLength === 0) return;
    const bytes = pending.subarray(0, pendingLength);
    const at = offset;
    offset += pendingLength;
    // Writes are chained so they land in order; the next chunk is read from the network meanwhile.
    writing = writing.then(() => store.appendFile({ sha256: file.sha256, length: file.length, etag }, at, bytes));
    pending = chunkAt(offset);
    pendingLength = 0;
    options.onProgress?.({ sha256: file.sha256, loaded: offset, total: file.length, fromCache });
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      networkBytes += value.byteLength;
      if (offset + pendingLength + value.byteLength > file.length) {
        await reader.cancel();
        await writing.catch(() => undefined);
        await store.deleteFile(file.sha256);
        throw new RuntimeError('integrity', `${url} sent more than the ${file.length} bytes the manifest states; the download was dropped and nothing was stored`);
      }
      let consumed = 0;
      while (consumed < value.byteLength) {
        const take = Math.min(CHUNK_BYTES - pendingLength, value.byteLength - consumed);
        pending.set(value.subarray(consumed, consumed + take), pendingLength);
        pendingLength += take;
        consumed += take;
        if (pendingLength === CHUNK_BYTES) flush();
      }
    }
    flush();
    await writing;
  } catch (error) {
    if (error instanceof RuntimeError && error.code === 'integrity') throw error;
    // Keep what arrived intact: it is a verified-by-position prefix the next attempt resumes after.
    try {
      flush();
      await writing;
    } catch (writeError) {
      throw writeError instanceof RuntimeError ? writeError : error;
    }
    if (error instanceof RuntimeError && error.code !== 'network') throw error;
    throw new PartialDownload(offset, etag, networkBytes, error);
  }
  return { offset, etag, networkBytes };
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new RuntimeError('aborted', 'the download was cancelled', { cause: signal.reason });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new RuntimeError('aborted', 'the download was cancelled', { cause: signal.reason }));
      },
      { once: true },
    );
  });
}
