import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Database } from '../db/database.js';
import { openBlobStore, parseBlobStore } from './open-blob-store.js';

describe('parseBlobStore', () => {
  it('reads fs, postgres and s3 URLs with a prefix and path style', () => {
    expect(parseBlobStore('fs')).toEqual({ kind: 'fs' });
    expect(parseBlobStore(' postgres ')).toEqual({ kind: 'postgres' });
    expect(parseBlobStore('s3://models')).toEqual({ kind: 's3', bucket: 'models', prefix: '' });
    expect(parseBlobStore('s3://models/edgeloop/prod')).toEqual({ kind: 's3', bucket: 'models', prefix: 'edgeloop/prod/' });
    expect(parseBlobStore('s3://models/edgeloop/?forcePathStyle=true')).toEqual({ kind: 's3', bucket: 'models', prefix: 'edgeloop/', forcePathStyle: true });
  });

  it('refuses anything else and says what it accepts', () => {
    expect(() => parseBlobStore('gcs://x')).toThrow(/must be fs, postgres or s3:\/\/BUCKET\/PREFIX, got "gcs:\/\/x"/);
    expect(() => parseBlobStore('s3://UPPER/x')).toThrow(/not an S3 bucket name/);
    expect(() => parseBlobStore('s3://models?forcePathStyle=yes')).toThrow(/forcePathStyle must be true or false, got "yes"/);
    expect(() => parseBlobStore('s3://models?region=eu-west-1')).toThrow(/unknown parameter region; the only one is forcePathStyle/);
  });
});

describe('openBlobStore', () => {
  it('refuses the postgres store without a shared PostgreSQL, naming the fix', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgeloop-open-'));
    // The check comes before any use of the database: a stand-in that fails if touched.
    const untouched = async (): Promise<never> => {
      throw new Error('the database was used before the blob store setting was checked');
    };
    const db: Database = { query: untouched, transaction: untouched, listen: untouched, close: untouched };
    try {
      await expect(openBlobStore({ kind: 'postgres' }, { dataDir: dir, db, sharedDatabase: false, log: () => {} })).rejects.toThrow(
        /set --database-url \/ DATABASE_URL, or use --blob-store fs/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
