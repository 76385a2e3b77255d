import type { ManifestFile } from '@edgeloop/protocol';
import { RuntimeError } from '../errors.js';

export interface DownloadOptions {
  fetch: typeof fetch;
  signal?: AbortSignal;
}

/**
 * Fetches one file of a release and proves it is the file the manifest names: never more bytes than
 * `file.length`, exactly that many, and the same sha256. Nothing is returned (so nothing can be
 * stored) unless all three hold.
 */
export async function downloadFile(url: string, file: ManifestFile, options: DownloadOptions): Promise<ArrayBuffer> {
  let response: Response;
  try {
    response = await options.fetch(url, options.signal ? { signal: options.signal } : {});
  } catch (error) {
    throw new RuntimeError('network', `could not download ${url}: ${(error as Error).message}`, { cause: error });
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new RuntimeError('server', `GET ${url} answered ${response.status}; expected 200 with the model bytes`);
  }
  const bytes = new Uint8Array(file.length);
  let received = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (received + value.byteLength > file.length) {
      await reader.cancel();
      throw new RuntimeError(
        'integrity',
        `${url} sent more than the ${file.length} bytes the manifest states; the download was dropped and nothing was stored`,
      );
    }
    bytes.set(value, received);
    received += value.byteLength;
  }
  if (received !== file.length) {
    throw new RuntimeError('integrity', `${url} sent ${received} bytes but the manifest states ${file.length}; nothing was stored`);
  }
  const digest = toHex(await crypto.subtle.digest('SHA-256', bytes));
  if (digest !== file.sha256) {
    throw new RuntimeError(
      'integrity',
      `sha256 mismatch for ${url}: the manifest says ${file.sha256}, the bytes hash to ${digest}; the file was rejected and nothing was stored`,
      { details: { expected: file.sha256, actual: digest } },
    );
  }
  return bytes.buffer;
}

function toHex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, '0')).join('');
}
