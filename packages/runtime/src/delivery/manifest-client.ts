import { deviceRoutes, parseManifest, ProtocolError, type Manifest } from '@edgeloop/protocol';
import { RuntimeError } from '../errors.js';
import type { ModelStore } from '../storage/model-store.js';

export interface ManifestResult {
  manifest: Manifest;
  /** `network`: fetched now; `not-modified`: the stored copy is current (304). */
  source: 'network' | 'not-modified';
}

/** Fetches the app's manifest, conditionally on the stored copy's ETag, and stores what is new. */
export async function fetchManifest(
  baseUrl: URL,
  app: string,
  store: ModelStore,
  fetchImpl: typeof fetch,
  signal?: AbortSignal,
): Promise<ManifestResult> {
  const url = new URL(deviceRoutes.manifest(app), baseUrl).href;
  const stored = await store.getManifest(app);
  const headers: Record<string, string> = {};
  if (stored?.etag) headers['If-None-Match'] = stored.etag;
  let response: Response;
  try {
    response = await fetchImpl(url, { headers, cache: 'no-cache', ...(signal && { signal }) });
  } catch (error) {
    throw new RuntimeError('network', `could not reach the update server at ${url}: ${(error as Error).message}`, { cause: error });
  }
  if (response.status === 304 && stored) return { manifest: stored.manifest, source: 'not-modified' };
  if (response.status === 404) {
    throw new RuntimeError('not_found', `the update server has no app "${app}" (${url} answered 404); check the app name`);
  }
  if (!response.ok) throw new RuntimeError('server', `GET ${url} answered ${response.status}`);
  let manifest: Manifest;
  try {
    manifest = parseManifest(await response.json());
  } catch (error) {
    const message = error instanceof ProtocolError ? error.message : `the manifest is not JSON (${(error as Error).message})`;
    throw new RuntimeError('server', `${url}: ${message}`, { cause: error });
  }
  if (manifest.app !== app) throw new RuntimeError('server', `${url} returned the manifest of app "${manifest.app}", not "${app}"`);
  await store.putManifest(app, manifest, response.headers.get('etag'));
  return { manifest, source: 'network' };
}
