import { parseBlobStore, type BlobStoreConfig } from '../blobs/open-blob-store.js';
import { ServerError } from '../errors.js';
import { CliError, EXIT } from './client.js';

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `10G`, `512M`, `1073741824`: binary units, as disk sizes are usually given. */
export function parseByteSize(text: string, name: string): number {
  const match = /^(\d+)\s*([KMGT]?)(i?B)?$/i.exec(text.trim());
  const bytes = match ? Number(match[1]) * UNITS[match[2]!.toUpperCase()]! : Number.NaN;
  if (!Number.isSafeInteger(bytes)) throw new CliError(`${name} must be a size like 10G, 512M or a number of bytes, got "${text}"`, EXIT.usage);
  return bytes;
}

/**
 * The blob store `serve` opens: `--blob-store` / `EDGELOOP_BLOB_STORE`, else `postgres` with a
 * database URL and `fs` without; `--blob-cache-max-bytes` / `EDGELOOP_BLOB_CACHE_MAX_BYTES` sizes
 * the local cache of the shared stores.
 */
export function blobStoreFromFlags(flags: Record<string, unknown>, env: Record<string, string | undefined>, databaseUrl: string | undefined): BlobStoreConfig {
  const text = (flags['blob-store'] as string | undefined) ?? env.EDGELOOP_BLOB_STORE;
  let config: BlobStoreConfig;
  try {
    config = text ? parseBlobStore(text) : { kind: databaseUrl ? 'postgres' : 'fs' };
  } catch (error) {
    if (error instanceof ServerError) throw new CliError(`--blob-store: ${error.message}`, EXIT.usage);
    throw error;
  }
  const cacheText = (flags['blob-cache-max-bytes'] as string | undefined) ?? env.EDGELOOP_BLOB_CACHE_MAX_BYTES;
  if (cacheText === undefined) return config;
  if (config.kind === 'fs') {
    throw new CliError('--blob-cache-max-bytes sizes the local cache of the postgres and s3 blob stores; the fs store keeps every artifact on disk', EXIT.usage);
  }
  return { ...config, cacheMaxBytes: parseByteSize(cacheText, '--blob-cache-max-bytes') };
}
