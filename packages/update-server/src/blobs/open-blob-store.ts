import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { join } from 'node:path';
import type { Database } from '../db/database.js';
import { ServerError } from '../errors.js';
import type { BlobStore } from './blob-store.js';
import { cachedBlobStore, DEFAULT_MAX_CACHE_BYTES, type CachedBlobStore } from './cached-blob-store.js';
import { fsBlobStore } from './fs-blob-store.js';
import { postgresBlobs } from './postgres-blob-store.js';

/** Where artifact bytes live, by store name; the options of each apply to it alone. */
export type BlobStoreConfig =
  | { kind: 'fs' }
  | {
      kind: 'postgres';
      /** Bytes per stored chunk; default 1 MiB. */
      chunkBytes?: number;
      /** Largest size of the local read-through cache; default 10 GiB. */
      cacheMaxBytes?: number;
    }
  | {
      kind: 's3';
      bucket: string;
      /** Key prefix ending in `/`, or empty. */
      prefix?: string;
      /** Path-style URLs (`endpoint/bucket/key`), which most S3-compatible stores need. */
      forcePathStyle?: boolean;
      /** Passed to the SDK's S3Client; endpoint, region and credentials otherwise come from the standard AWS environment. */
      client?: S3ClientConfig;
      cacheMaxBytes?: number;
    };

export interface OpenedBlobStore {
  store: BlobStore;
  /** For the start-up log, e.g. `postgres, cached in /data/artifacts (up to 10 GiB)`. */
  description: string;
  /** Set for the shared stores: the local cache in front of the shared one. */
  cached?: CachedBlobStore;
  close(): Promise<void>;
}

/**
 * Reads `fs`, `postgres` or `s3://BUCKET[/PREFIX][?forcePathStyle=true]` (the `--blob-store` flag
 * and `EDGELOOP_BLOB_STORE`).
 */
export function parseBlobStore(text: string): BlobStoreConfig {
  const value = text.trim();
  if (value === 'fs' || value === 'postgres') return { kind: value };
  if (value.startsWith('s3://')) {
    const url = new URL(value);
    const bucket = url.hostname;
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new ServerError('bad_request', `blob store "${text}": "${bucket}" is not an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)`);
    }
    const path = decodeURIComponent(url.pathname).replace(/^\/+/, '');
    const prefix = path === '' || path.endsWith('/') ? path : `${path}/`;
    const pathStyle = url.searchParams.get('forcePathStyle');
    if (pathStyle !== null && pathStyle !== 'true' && pathStyle !== 'false') {
      throw new ServerError('bad_request', `blob store "${text}": forcePathStyle must be true or false, got "${pathStyle}"`);
    }
    const unknown = [...url.searchParams.keys()].filter((key) => key !== 'forcePathStyle');
    if (unknown.length > 0) throw new ServerError('bad_request', `blob store "${text}": unknown parameter ${unknown.join(', ')}; the only one is forcePathStyle`);
    return { kind: 's3', bucket, prefix, ...(pathStyle !== null && { forcePathStyle: pathStyle === 'true' }) };
  }
  throw new ServerError('bad_request', `blob store must be fs, postgres or s3://BUCKET/PREFIX, got "${text}"`);
}

/**
 * Opens the configured store. Shared stores put the local disk (`<dataDir>/artifacts`, the
 * filesystem store's own directory) in front as upload staging and read-through cache.
 */
export async function openBlobStore(
  config: BlobStoreConfig,
  context: { dataDir: string; db: Database; sharedDatabase: boolean; log: (message: string, error?: unknown) => void },
): Promise<OpenedBlobStore> {
  const dir = join(context.dataDir, 'artifacts');
  if (config.kind === 'fs') {
    return { store: fsBlobStore(dir), description: `fs, in ${dir}`, close: async () => {} };
  }
  const cacheMaxBytes = config.cacheMaxBytes ?? DEFAULT_MAX_CACHE_BYTES;
  const cacheNote = `cached in ${dir} (up to ${formatBytes(cacheMaxBytes)})`;
  if (config.kind === 'postgres') {
    if (!context.sharedDatabase) {
      throw new ServerError('bad_request', 'the postgres blob store keeps artifacts in the shared PostgreSQL: set --database-url / DATABASE_URL, or use --blob-store fs');
    }
    const shared = postgresBlobs(context.db, { ...(config.chunkBytes !== undefined && { chunkBytes: config.chunkBytes }) });
    const cached = cachedBlobStore(shared, { cacheDir: dir, maxCacheBytes: cacheMaxBytes, log: context.log });
    return { store: cached, cached, description: `postgres, ${cacheNote}`, close: async () => {} };
  }
  // Loaded only when chosen: the AWS SDK is large.
  const { S3Client } = await import('@aws-sdk/client-s3');
  const { checkBucket, s3Blobs } = await import('./s3-blob-store.js');
  const client = new S3Client({ ...(config.forcePathStyle !== undefined && { forcePathStyle: config.forcePathStyle }), ...config.client });
  try {
    await checkBucket(client, config.bucket);
  } catch (error) {
    client.destroy();
    throw error;
  }
  const shared = s3Blobs({ client, bucket: config.bucket, ...(config.prefix !== undefined && { prefix: config.prefix }) });
  const cached = cachedBlobStore(shared, { cacheDir: dir, maxCacheBytes: cacheMaxBytes, log: context.log });
  return { store: cached, cached, description: `${shared.description}, ${cacheNote}`, close: async () => client.destroy() };
}

function formatBytes(bytes: number): string {
  for (const [unit, size] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}
