import { deviceRoutes } from '@edgeloop/protocol';
import { RuntimeError } from '../errors.js';

/** A client never reads more of a manifest than this, whatever the server sends. Default 1 MiB. */
export const DEFAULT_MAX_MANIFEST_BYTES = 1024 * 1024;

export type ManifestFetch =
  | { status: 'not-modified' }
  | { status: 'ok'; envelope: unknown; etag: string | null; bytes: number };

/**
 * GETs the app's signed manifest, conditionally on `etag`. Refuses bodies over `maxBytes` while
 * reading them, so a hostile or broken server cannot make the device buffer without bound.
 * Throws RuntimeError `network` when the server cannot be reached.
 */
export async function fetchManifest(
  baseUrl: URL,
  app: string,
  options: { fetch: typeof fetch; etag: string | null; maxBytes: number; channel: string; signal?: AbortSignal },
): Promise<ManifestFetch> {
  const url = new URL(deviceRoutes.manifest(app, options.channel), baseUrl).href;
  const headers: Record<string, string> = {};
  if (options.etag) headers['If-None-Match'] = options.etag;
  let response: Response;
  try {
    response = await options.fetch(url, { headers, cache: 'no-cache', ...(options.signal && { signal: options.signal }) });
  } catch (error) {
    if (options.signal?.aborted) throw new RuntimeError('aborted', 'the manifest request was cancelled', { cause: error });
    throw new RuntimeError('network', `could not reach the update server at ${url}: ${(error as Error).message}`, { cause: error });
  }
  if (response.status === 304) return { status: 'not-modified' };
  if (response.status === 404) {
    await response.body?.cancel();
    throw new RuntimeError('not_found', `the update server has no app "${app}" (${url} answered 404); check the app name`);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new RuntimeError(response.status >= 500 ? 'network' : 'server', `GET ${url} answered ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > options.maxBytes) {
    await response.body.cancel();
    throw new RuntimeError('untrusted', `the manifest is ${declared} bytes, over the ${options.maxBytes}-byte cap; it was not read`);
  }
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > options.maxBytes) {
      await reader.cancel();
      throw new RuntimeError('untrusted', `the manifest exceeds the ${options.maxBytes}-byte cap; it was not read further`);
    }
    parts.push(value);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.byteLength;
  }
  let envelope: unknown;
  try {
    envelope = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new RuntimeError('untrusted', `${url} did not return JSON (${(error as Error).message})`, { cause: error });
  }
  return { status: 'ok', envelope, etag: response.headers.get('etag'), bytes: total };
}
