import { describe, expect, it } from 'vitest';
import { blobStoreFromFlags, parseByteSize } from './blob-store-flags.js';

describe('serve: blob store flags', () => {
  it('defaults to postgres with a database URL and to fs without', () => {
    expect(blobStoreFromFlags({}, {}, 'postgres://db/edgeloop')).toEqual({ kind: 'postgres' });
    expect(blobStoreFromFlags({}, {}, undefined)).toEqual({ kind: 'fs' });
  });

  it('takes the flag over EDGELOOP_BLOB_STORE, and sizes the cache', () => {
    const env = { EDGELOOP_BLOB_STORE: 'fs', EDGELOOP_BLOB_CACHE_MAX_BYTES: '2G' };
    expect(blobStoreFromFlags({ 'blob-store': 's3://models/prod' }, env, undefined)).toEqual({ kind: 's3', bucket: 'models', prefix: 'prod/', cacheMaxBytes: 2 * 1024 ** 3 });
    expect(blobStoreFromFlags({ 'blob-cache-max-bytes': '512MiB' }, {}, 'postgres://db/x')).toEqual({ kind: 'postgres', cacheMaxBytes: 512 * 1024 ** 2 });
  });

  it('refuses a bad store, a bad size and a cache size for the fs store, with exit code 2', () => {
    expect(() => blobStoreFromFlags({ 'blob-store': 'ftp://x' }, {}, undefined)).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringMatching(/^--blob-store: blob store must be fs, postgres or s3/) }));
    expect(() => blobStoreFromFlags({ 'blob-cache-max-bytes': 'lots' }, {}, 'postgres://db/x')).toThrow(/--blob-cache-max-bytes must be a size like 10G/);
    expect(() => blobStoreFromFlags({ 'blob-cache-max-bytes': '1G' }, {}, undefined)).toThrow(/the fs store keeps every artifact on disk/);
  });

  it('reads binary sizes', () => {
    expect(parseByteSize('1073741824', 'x')).toBe(1024 ** 3);
    expect(parseByteSize('10g', 'x')).toBe(10 * 1024 ** 3);
    expect(parseByteSize('1 TiB', 'x')).toBe(1024 ** 4);
    expect(() => parseByteSize('-1', 'x')).toThrow();
    expect(() => parseByteSize('1.5G', 'x')).toThrow();
  });
});
