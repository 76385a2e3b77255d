import type { ManifestFile } from '@edgeloop/protocol';
import { RuntimeError } from '../errors.js';
import type { ModelStore } from '../storage/model-store.js';

/** Files up to this size are fetched whole by default where the store keeps Blobs (see {@link downloadWhole}). */
export const DEFAULT_WHOLE_FILE_MAX_BYTES = 16 * 1024 * 1024;

/** The least a storage write takes (the last excepted): large enough to keep transactions few. */
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
  /**
   * Files up to this many bytes are fetched whole into a Blob (see {@link downloadWhole}); larger
   * ones stream through the page. Default 0: always stream.
   */
  wholeFileMaxBytes?: number;
  /** The whole-file request, already started by the caller (its first attempt takes it). */
  early?: EarlyRequest;
}

/** A request started before the download that may use it; whatever does not take it cancels it. */
export interface EarlyRequest {
  take(): Promise<Response>;
  cancel(): void;
}

export interface DownloadResult {
  /** Bytes received from the network for this file (0 when it was already stored). */
  networkBytes: number;
  /** The verified file, assembled while it streamed to storage; null when it was already stored. */
  bytes: ArrayBuffer | null;
}

/**
 * Downloads one file of a release into `store` and proves it is the file the manifest names:
 * never more than `file.length` bytes, exactly that many, and the same sha256. A file up to
 * `wholeFileMaxBytes` that nothing is stored of yet is fetched whole ({@link downloadWhole});
 * otherwise, or when that path cannot be taken, it streams. Streaming, bytes are received
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
  let cache: RequestCache | undefined;
  if (!stored && file.length <= (options.wholeFileMaxBytes ?? 0)) {
    try {
      const whole = await downloadWhole(url, file, store, options);
      if (whole) return whole;
    } catch (error) {
      if (!(error instanceof RuntimeError && error.code === 'integrity')) throw error;
      // The browser's HTTP cache may hold bad bytes under this immutable URL (a poisoned or
      // misconfigured cache would then fail every load): try once more around it, streaming.
      cache = 'reload';
    }
  }
  const target = new Uint8Array(file.length);
  let offset = 0;
  let etag: string | null = null;
  const prefix = stored && !stored.complete && stored.length === file.length && stored.etag ? await readPrefix(store, file.sha256) : null;
  if (prefix && prefix.byteLength <= file.length) {
    target.set(new Uint8Array(prefix), 0);
    offset = prefix.byteLength;
    etag = stored!.etag;
  } else if (stored) {
    await store.deleteFile(file.sha256);
  }
  const fromCache = offset;
  let networkBytes = 0;
  const retryAfter = retryPolicy(url, options);
  let settled: Promise<number> = Promise.resolve(offset);
  for (;;) {
    throwIfAborted(options.signal);
    try {
      const result = await fetchInto(url, file, store, offset, etag, { ...options, ...(cache && { cache }) }, fromCache, target);
      networkBytes += result.networkBytes;
      offset = result.offset;
      etag = result.etag;
      settled = result.settled;
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
      await retryAfter(cause);
    }
  }

  // Hashing (native, often off the main thread) overlaps the last write.
  const [hash, storedAt] = await Promise.all([crypto.subtle.digest('SHA-256', target), settled]);
  await rejectUnlessDigest(url, file, toHex(hash), store);
  if (storedAt < file.length) {
    await store.appendFile({ sha256: file.sha256, length: file.length, etag }, storedAt, target.subarray(storedAt), { complete: true });
  } else {
    await store.completeFile(file.sha256);
  }
  return { networkBytes, bytes: target.buffer };
}

/**
 * The browser's fast path for a file fetched in one piece: `response.blob()` lets the browser keep
 * the body in its own blob storage, and IndexedDB stores that Blob by reference, so the bytes cross
 * into the page once — to be hashed and handed to the engine — instead of being copied out again
 * chunk by chunk. The request may use the HTTP cache (artifacts are immutable and content-addressed):
 * a Chromium cache entry cut short by a dropped connection is completed with a Range request on the
 * next attempt, so a resume still fetches only the missing bytes. Taken only when the response is a
 * 200 whose Content-Length is the manifest's length (the network stack then stops at it); otherwise
 * it answers null and the caller streams. Progress is reported when the headers and when the bytes
 * arrived; for finer progress, lower `wholeFileMaxBytes`.
 */
async function downloadWhole(url: string, file: ManifestFile, store: ModelStore, options: DownloadOptions): Promise<DownloadResult | null> {
  const retryAfter = retryPolicy(url, options);
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(options.signal);
    let blob: Blob;
    let etag: string | null = null;
    try {
      const response = await (attempt === 0 && options.early ? options.early.take() : options.fetch(url, options.signal ? { signal: options.signal } : {}));
      if (response.status !== 200 || Number(response.headers.get('content-length')) !== file.length) {
        await response.body?.cancel();
        if (response.status === 200 || response.status === 206) return null; // let the streaming path check it
        const code = response.status >= 500 || response.status === 429 ? 'network' : 'server';
        throw new RuntimeError(code, `GET ${url} answered ${response.status}; expected the model bytes`);
      }
      etag = response.headers.get('etag');
      if (etag?.startsWith('W/')) etag = null;
      options.onProgress?.({ sha256: file.sha256, loaded: 0, total: file.length, fromCache: 0 });
      blob = await response.blob();
    } catch (error) {
      if (options.signal?.aborted) throw new RuntimeError('aborted', `download of ${url} was cancelled`, { cause: error });
      await retryAfter(error);
      continue;
    }
    if (blob.size !== file.length) {
      throw new RuntimeError('integrity', `${url} sent ${blob.size} bytes but the manifest states ${file.length}; nothing was stored`);
    }
    // Storing (by reference) overlaps reading the bytes into the page and hashing them.
    const storing = store.appendFile({ sha256: file.sha256, length: file.length, etag }, 0, blob);
    storing.catch(() => undefined);
    const bytes = await blob.arrayBuffer();
    const digest = toHex(await crypto.subtle.digest('SHA-256', bytes));
    await storing;
    await rejectUnlessDigest(url, file, digest, store);
    await store.completeFile(file.sha256);
    options.onProgress?.({ sha256: file.sha256, loaded: file.length, total: file.length, fromCache: 0 });
    return { networkBytes: file.length, bytes };
  }
}

/**
 * The retry policy both download paths share: a network failure is retried after a backoff that
 * doubles each time, `retries` times at most; anything else, or one failure too many, is thrown.
 */
function retryPolicy(url: string, options: DownloadOptions): (cause: unknown) => Promise<void> {
  let left = options.retries ?? 4;
  let delay = options.retryDelayMs ?? 250;
  return async (cause) => {
    const retriable = !(cause instanceof RuntimeError) || cause.code === 'network';
    if (!retriable || left-- <= 0) {
      if (cause instanceof RuntimeError) throw cause;
      throw new RuntimeError('network', `could not download ${url}: ${(cause as Error).message}`, { cause });
    }
    await sleep(delay, options.signal);
    delay *= 2;
  };
}

/**
 * The stored prefix of a partial download, or null when there is none to resume from. Bytes that
 * cannot be read back (a crash mid-write can leave a record whose data never reached the disk, and
 * IndexedDB then raises on reading it) are dropped, so the download restarts instead of failing
 * every later load. A full disk is still an error: restarting would not help.
 */
async function readPrefix(store: ModelStore, sha256: string): Promise<ArrayBuffer | null> {
  try {
    return await store.readPartial(sha256);
  } catch (error) {
    if (error instanceof RuntimeError && error.code === 'quota') throw error;
    await store.deleteFile(sha256);
    return null;
  }
}

/** Deletes a file whose bytes do not hash to the manifest's sha256, and fails with `integrity`. */
async function rejectUnlessDigest(url: string, file: ManifestFile, digest: string, store: ModelStore): Promise<void> {
  if (digest === file.sha256) return;
  await store.deleteFile(file.sha256);
  throw new RuntimeError(
    'integrity',
    `sha256 mismatch for ${url}: the manifest says ${file.sha256}, the bytes hash to ${digest}; the file was rejected and nothing was stored`,
    { details: { expected: file.sha256, actual: digest } },
  );
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
  options: DownloadOptions & { cache?: RequestCache },
  fromCache: number,
  target: Uint8Array<ArrayBuffer>,
): Promise<{ offset: number; etag: string | null; networkBytes: number; settled: Promise<number> }> {
  let offset = startOffset;
  const headers: Record<string, string> = {};
  if (offset > 0 && startEtag) {
    headers.Range = `bytes=${offset}-`;
    headers['If-Range'] = startEtag;
  }
  const response = await options.fetch(url, { headers, ...(options.signal && { signal: options.signal }), ...(options.cache && { cache: options.cache }) });
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
  const meta = { sha256: file.sha256, length: file.length, etag };
  let received = offset; // bytes in `target`
  let stored = offset; // bytes handed to storage (written, or being written)
  let networkBytes = 0;
  let writing: Promise<void> | null = null;
  let writeError: unknown = null;
  let ending = false;
  // One write at a time, each taking everything received since the previous one (at least a chunk):
  // when the network outruns storage, the writes grow instead of queueing up, so there are fewer
  // transactions to commit. Each write is a view of `target`; the store copies what it keeps.
  const pump = (): void => {
    if (writing || writeError || ending || received - stored < CHUNK_BYTES) return;
    const at = stored;
    stored = received;
    writing = store.appendFile(meta, at, target.subarray(at, stored)).then(
      () => {
        writing = null;
        pump();
      },
      (error: unknown) => {
        writeError = error;
        writing = null;
      },
    );
  };
  /** Stops scheduling writes and waits for the one in flight; resolves with the bytes stored. */
  const settle = async (): Promise<number> => {
    ending = true;
    while (writing) await writing;
    if (writeError) throw writeError;
    return stored;
  };
  /** Stores whatever was received but not yet written (never marking the file complete). */
  const storeRest = async (): Promise<void> => {
    const at = await settle();
    if (received > at) {
      stored = received;
      await store.appendFile(meta, at, target.subarray(at, received));
    }
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      networkBytes += value.byteLength;
      if (received + value.byteLength > file.length) {
        await reader.cancel();
        await settle().catch(() => undefined);
        await store.deleteFile(file.sha256);
        throw new RuntimeError('integrity', `${url} sent more than the ${file.length} bytes the manifest states; the download was dropped and nothing was stored`);
      }
      target.set(value, received);
      received += value.byteLength;
      if (writeError) throw writeError;
      pump();
      options.onProgress?.({ sha256: file.sha256, loaded: received, total: file.length, fromCache });
    }
  } catch (error) {
    if (error instanceof RuntimeError && error.code === 'integrity') throw error;
    // Keep what arrived intact: it is a prefix the next attempt resumes after.
    try {
      await storeRest();
    } catch (failure) {
      throw failure instanceof RuntimeError || failure === writeError ? failure : error;
    }
    if (error instanceof RuntimeError && error.code !== 'network') throw error;
    throw new PartialDownload(received, etag, networkBytes, error);
  }
  if (received < file.length) {
    await storeRest(); // a short body without an error: resume after it
    return { offset: received, etag, networkBytes, settled: Promise.resolve(received) };
  }
  // Complete: the caller hashes while the last write lands, then writes the rest and the
  // "complete" mark together.
  const settled = settle();
  settled.catch(() => undefined);
  return { offset: received, etag, networkBytes, settled };
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
